//! The admins' page of users: list them, add one with a role and an initial password, disable
//! or enable one (a disabled user's sessions end at once), reset a password (their sessions end
//! too).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::accounts::{self, AccountError};
use super::form::Form;
use super::settings::{Done, done, render, when};
use super::{Admin, Role};
use crate::AppState;
use crate::ui::{Layout, UiError};

#[derive(Debug)]
struct UserView {
    id: i64,
    username: String,
    display_name: String,
    role: &'static str,
    disabled: bool,
    created: String,
    is_self: bool,
}

#[derive(Template)]
#[template(path = "settings/users.html")]
struct UsersPage<'a> {
    layout: Layout,
    users: Vec<UserView>,
    notice: Option<&'static str>,
    error: Option<&'a str>,
    /// What the add form held when it was refused.
    username: &'a str,
    display_name: &'a str,
    role: &'a str,
}

async fn page(
    state: &AppState,
    admin: Admin,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<&str>,
    form: Option<&AddForm>,
) -> Result<Response, UiError> {
    let me = admin.0.user_id;
    let users = state
        .store
        .users()
        .await?
        .into_iter()
        .map(|u| UserView {
            id: u.id,
            is_self: u.id == me,
            role: Role::parse(&u.role).map_or("unknown", Role::as_str),
            disabled: u.disabled_at_ms.is_some(),
            created: when(u.created_at_ms),
            username: u.username,
            display_name: u.display_name,
        })
        .collect();
    Ok(render(
        status,
        &UsersPage {
            layout: Layout::new("Users", "users", Some(admin.0)),
            users,
            notice,
            error,
            username: form.map_or("", |f| f.username.as_str()),
            display_name: form.map_or("", |f| f.display_name.as_str()),
            role: form.map_or("agent", |f| f.role.as_str()),
        },
    ))
}

/// GET /settings/users.
pub async fn list(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    Query(q): Query<Done>,
) -> Result<Response, UiError> {
    let notice = super::settings::notice(q.done.as_deref());
    page(&state, admin, StatusCode::OK, notice, None, None).await
}

#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

impl std::fmt::Debug for AddForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddForm")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What a refused account operation shows: 409 for a taken name, 422 for a bad value.
fn refusal(e: &AccountError) -> Result<(StatusCode, String), UiError> {
    match e {
        AccountError::Taken(_) => Ok((StatusCode::CONFLICT, capitalise(&e.to_string()))),
        AccountError::Username(_) | AccountError::DisplayName(_) | AccountError::Password(_) => {
            Ok((StatusCode::UNPROCESSABLE_ENTITY, capitalise(&e.to_string())))
        }
        AccountError::NoSuchUser(_) => Err(UiError::not_found("user")),
        AccountError::Store(s) if s.is_transient() => Err(UiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The database is unavailable right now.",
        )
        .next_step("Try again in a few seconds.")),
        other => Err(UiError::internal(other)),
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| {
        format!("{}{}.", c.to_uppercase(), chars.as_str())
    })
}

/// POST /settings/users: adds a user.
pub async fn add(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    Form(form): Form<AddForm>,
) -> Result<Response, UiError> {
    let Some(role) = Role::parse(&form.role) else {
        let error = "Choose a role: admin or agent.";
        return page(
            &state,
            admin,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(error),
            Some(&form),
        )
        .await;
    };
    let now = state.clock.now_ms();
    match accounts::add_user(
        state.store.as_ref(),
        &form.username,
        &form.display_name,
        role,
        &form.password,
        now,
    )
    .await
    {
        Ok(id) => {
            tracing::info!(
                by = admin.0.user_id,
                user = id,
                role = role.as_str(),
                "user added"
            );
            Ok(done("/settings/users", "added"))
        }
        Err(e) => {
            let (status, text) = refusal(&e)?;
            page(&state, admin, status, None, Some(&text), Some(&form)).await
        }
    }
}

async fn target(state: &AppState, id: i64) -> Result<store::UserRow, UiError> {
    state
        .store
        .user(id)
        .await?
        .ok_or_else(|| UiError::not_found("user"))
}

/// POST /settings/users/{id}/disable: the user's sessions end in the same write. An admin cannot
/// disable themselves (so that one admin always remains).
pub async fn disable(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    Path(id): Path<i64>,
) -> Result<Response, UiError> {
    let user = target(&state, id).await?;
    if user.id == admin.0.user_id {
        let error = "You cannot disable your own account: ask another admin to.";
        return page(
            &state,
            admin,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(error),
            None,
        )
        .await;
    }
    state
        .store
        .disable_user(user.id, state.clock.now_ms())
        .await?;
    tracing::info!(
        by = admin.0.user_id,
        user = user.id,
        "user disabled; their sessions ended"
    );
    Ok(done("/settings/users", "disabled"))
}

/// POST /settings/users/{id}/enable.
pub async fn enable(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    Path(id): Path<i64>,
) -> Result<Response, UiError> {
    let user = target(&state, id).await?;
    state.store.enable_user(user.id).await?;
    tracing::info!(by = admin.0.user_id, user = user.id, "user enabled");
    Ok(done("/settings/users", "enabled"))
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password: String,
}

impl std::fmt::Debug for ResetForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResetForm")
    }
}

/// POST /settings/users/{id}/password: sets a new password; all the user's sessions end.
pub async fn reset_password(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    Path(id): Path<i64>,
    Form(form): Form<ResetForm>,
) -> Result<Response, UiError> {
    let user = target(&state, id).await?;
    let now = state.clock.now_ms();
    // Resetting one's own password here keeps this session, as a change does.
    let keep = (user.id == admin.0.user_id).then_some(admin.0.session_id);
    match accounts::set_password(state.store.as_ref(), &user, &form.password, now, keep).await {
        Ok(()) => {
            tracing::info!(
                by = admin.0.user_id,
                user = user.id,
                "password reset; sessions ended"
            );
            Ok(done("/settings/users", "reset"))
        }
        Err(e) => {
            let (status, text) = refusal(&e)?;
            let text = format!("The password of {} was not reset: {text}", user.username);
            page(&state, admin, status, None, Some(&text), None).await
        }
    }
}
