//! A user's own settings: the sessions they are signed in with, and their password.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use domain::accounts::{Gate, throttle_key};
use serde::Deserialize;

use super::accounts::{self, AccountError};
use super::form::Form;
use super::{Agent, device, login, password, session};
use crate::AppState;
use crate::ui::{Layout, UiError};

/// Times as the pages show them: UTC, to the minute.
pub(super) fn when(ms: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "unknown".into())
}

/// `?done=…` after a change: a fixed message per code, never text from the request.
#[derive(Debug, Deserialize)]
pub struct Done {
    #[serde(default)]
    pub(super) done: Option<String>,
}

pub(super) fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "ended" => "That session was signed out.",
        "ended-others" => "Every other session was signed out.",
        "password" => "Your password was changed; your other sessions were signed out.",
        "added" => "The user was added. Give them their password in person or by a safe channel.",
        "disabled" => "The user was disabled and signed out everywhere.",
        "enabled" => "The user can sign in again.",
        "reset" => {
            "The password was reset and the user signed out everywhere. Give them the new password by a safe channel."
        }
        _ => return None,
    })
}

pub(super) fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => UiError::internal(&e).into_response(),
    }
}

pub(super) fn done(path: &str, code: &str) -> Response {
    Redirect::to(&format!("{path}?done={code}")).into_response()
}

#[derive(Debug)]
struct SessionView {
    id: i64,
    device: String,
    address: String,
    created: String,
    last_seen: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "settings/sessions.html")]
struct SessionsPage {
    layout: Layout,
    sessions: Vec<SessionView>,
    notice: Option<&'static str>,
}

/// GET /settings/sessions: the signed-in user's own sessions.
pub async fn sessions(
    State(state): State<Arc<AppState>>,
    agent: Agent,
    Query(q): Query<Done>,
) -> Result<Response, UiError> {
    let now = state.clock.now_ms();
    let rows = state.store.open_sessions(agent.user_id).await?;
    let sessions = rows
        .iter()
        .filter(|r| session::is_active(&state.settings.ui.timeouts, r, now))
        .map(|r| SessionView {
            id: r.id,
            device: device::describe(r.user_agent.as_deref()),
            address: r.client_addr.clone().unwrap_or_else(|| "unknown".into()),
            created: when(r.created_at_ms),
            last_seen: when(r.last_seen_at_ms),
            current: r.id == agent.session_id,
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &SessionsPage {
            layout: Layout::new("Sessions", "sessions", Some(agent)),
            sessions,
            notice: notice(q.done.as_deref()),
        },
    ))
}

/// POST /settings/sessions/{id}/end: signs one of the user's sessions out. Another user's
/// session is "not found", like one that does not exist.
pub async fn end_session(
    State(state): State<Arc<AppState>>,
    agent: Agent,
    Path(id): Path<i64>,
) -> Result<Response, UiError> {
    let now = state.clock.now_ms();
    if !state
        .store
        .end_session(id, agent.user_id, now, "ended")
        .await?
    {
        return Err(UiError::not_found("session"));
    }
    if id == agent.session_id {
        return Ok(Redirect::to("/login?signed_out=1").into_response());
    }
    Ok(done("/settings/sessions", "ended"))
}

/// POST /settings/sessions/end-others.
pub async fn end_others(
    State(state): State<Arc<AppState>>,
    agent: Agent,
) -> Result<Response, UiError> {
    let now = state.clock.now_ms();
    state
        .store
        .end_other_sessions(agent.user_id, agent.session_id, now, "ended")
        .await?;
    Ok(done("/settings/sessions", "ended-others"))
}

#[derive(Template)]
#[template(path = "settings/password.html")]
struct PasswordPage<'a> {
    layout: Layout,
    notice: Option<&'static str>,
    error: Option<&'a str>,
}

/// GET /settings/password.
pub async fn password_form(agent: Agent, Query(q): Query<Done>) -> Response {
    render(
        StatusCode::OK,
        &PasswordPage {
            layout: Layout::new("Password", "password", Some(agent)),
            notice: notice(q.done.as_deref()),
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
}

impl std::fmt::Debug for PasswordForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordForm")
    }
}

/// POST /settings/password: the current password, then the new one; the other sessions end.
/// Wrong current passwords are throttled like sign-ins, so that a stolen session cannot be used
/// to guess the password.
pub async fn change_password(
    State(state): State<Arc<AppState>>,
    agent: Agent,
    Form(form): Form<PasswordForm>,
) -> Result<Response, UiError> {
    let now = state.clock.now_ms();
    let refuse = |status: StatusCode, error: &str, agent: Agent| {
        render(
            status,
            &PasswordPage {
                layout: Layout::new("Password", "password", Some(agent)),
                notice: None,
                error: Some(error),
            },
        )
    };
    let key = throttle_key(&agent.username);
    if let Gate::Wait { .. } = login::throttle(&state, &key, now).await? {
        return Ok(refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many wrong passwords. Wait a few minutes, then try again.",
            agent,
        ));
    }
    let user = state
        .store
        .user(agent.user_id)
        .await?
        .ok_or_else(|| UiError::not_found("user"))?;
    let verified = password::verify(&form.current, Some(&user.password_hash))
        .await
        .map_err(|e| UiError::internal(&e))?;
    if !verified {
        tracing::info!(
            user = agent.user_id,
            "password change refused: wrong current password"
        );
        return Ok(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The current password is wrong: type the password you signed in with.",
            agent,
        ));
    }
    state.store.clear_login_throttle(&key).await?;
    match accounts::set_password(
        state.store.as_ref(),
        &user,
        &form.new,
        now,
        Some(agent.session_id),
    )
    .await
    {
        Ok(()) => {
            tracing::info!(
                user = agent.user_id,
                "password changed; other sessions ended"
            );
            Ok(done("/settings/password", "password"))
        }
        Err(AccountError::Password(refusal)) => {
            let text = format!("The new password was refused: {refusal}.");
            Ok(refuse(StatusCode::UNPROCESSABLE_ENTITY, &text, agent))
        }
        Err(AccountError::Store(e)) => Err(e.into()),
        Err(e) => Err(UiError::internal(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_show_in_utc_to_the_minute() {
        assert_eq!(when(1_795_219_200_000), "2026-11-21 00:00 UTC");
        assert_eq!(when(1_795_219_259_999), "2026-11-21 00:00 UTC");
    }

    #[test]
    fn notices_come_from_a_fixed_list() {
        assert!(notice(Some("ended")).is_some());
        assert_eq!(notice(Some("<script>")), None);
        assert_eq!(notice(None), None);
    }
}
