//! Accounts and sessions of the agent UI.
//!
//! INTERFACE (the rest of the UI relies on exactly this):
//! - [`Agent`]: the signed-in user of a request, as an axum extractor. A request without a
//!   valid session is answered with a redirect to `/login?next=<path>` (GET of a page) or 401.
//! - [`Admin`]: the same, for admins only; anyone else gets the same 404 as a missing page.
//! - [`csrf`]: middleware over every UI route; refuses any non-GET/HEAD request whose token,
//!   `Origin` or `Sec-Fetch-Site` is wrong (403).
//! - [`routes`]: `/login`, `/logout`, and the pages of users and sessions.
//!
//! Inside: passwords are Argon2id hashes ([`password`]); a session is a random 256-bit secret in
//! a `__Host-` cookie whose SHA-256 is stored ([`session`]); sign-ins are throttled per submitted
//! username (`login.rs`); the account operations the admin pages and `guichet user` share are in
//! [`accounts`].

pub mod accounts;
mod csrf;
mod device;
mod form;
mod login;
pub mod password;
pub mod session;
mod settings;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::AppState;
use session::SignedIn;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Agent,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Agent => "agent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Some(Self::Admin),
            "agent" => Some(Self::Agent),
            _ => None,
        }
    }
}

/// The user a request comes from.
#[derive(Debug, Clone)]
pub struct Agent {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// This session's CSRF token, for the page's forms (`_csrf`) and scripts (`X-CSRF-Token`).
    pub csrf: String,
    /// This session, to tell "this device" among the user's sessions.
    pub session_id: i64,
}

impl FromRequestParts<Arc<AppState>> for Agent {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        // The CSRF check already found the session of a state-changing request.
        if let Some(s) = parts.extensions.get::<SignedIn>() {
            return Ok(s.agent.clone());
        }
        match session::authenticate(state, &parts.headers).await {
            Ok(Some(s)) => {
                let agent = s.agent.clone();
                parts.extensions.insert(s);
                Ok(agent)
            }
            Ok(None) => Err(unauthorized_for(&parts.method, &parts.uri, &parts.headers)),
            Err(e) => Err(super::UiError::from(e).into_response()),
        }
    }
}

/// An admin.
#[derive(Debug, Clone)]
pub struct Admin(pub Agent);

impl FromRequestParts<Arc<AppState>> for Admin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let agent = Agent::from_request_parts(parts, state).await?;
        if agent.role == Role::Admin {
            Ok(Self(agent))
        } else {
            Err(super::UiError::not_found("page").into_response())
        }
    }
}

/// Refuses forged state-changing requests (the checks are described in `csrf.rs`).
pub async fn csrf(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    csrf::check(State(state), request, next).await
}

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/settings/sessions", get(settings::sessions))
        .route("/settings/sessions/{id}/end", post(settings::end_session))
        .route("/settings/sessions/end-others", post(settings::end_others))
        .route(
            "/settings/password",
            get(settings::password_form).post(settings::change_password),
        )
        .route("/settings/users", get(users::list).post(users::add))
        .route("/settings/users/{id}/disable", post(users::disable))
        .route("/settings/users/{id}/enable", post(users::enable))
        .route("/settings/users/{id}/password", post(users::reset_password))
}

/// What a request without a valid session gets: a page is sent to the sign-in form (and back
/// afterwards); anything else gets 401.
fn unauthorized_for(method: &Method, uri: &Uri, headers: &HeaderMap) -> Response {
    let wants_page = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if matches!(*method, Method::GET | Method::HEAD) && wants_page {
        let next = uri.path_and_query().map_or("/", |p| p.as_str());
        let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
        return Redirect::to(&format!("/login?{query}")).into_response();
    }
    unauthorized()
}

/// 401: no session, or it has ended.
fn unauthorized() -> Response {
    super::UiError::new(
        StatusCode::UNAUTHORIZED,
        "You are not signed in, or your session has ended.",
    )
    .next_step("Sign in again at /login.")
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_back_as_written() {
        for r in [Role::Admin, Role::Agent] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse(" Admin "), Some(Role::Admin));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn pages_are_sent_to_sign_in_and_everything_else_gets_401() {
        let mut html = HeaderMap::new();
        html.insert(header::ACCEPT, "text/html,*/*".parse().expect("header"));
        let uri: Uri = "/settings/sessions?x=1".parse().expect("uri");
        let r = unauthorized_for(&Method::GET, &uri, &html);
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            r.headers()
                .get(header::LOCATION)
                .and_then(|l| l.to_str().ok()),
            Some("/login?next=%2Fsettings%2Fsessions%3Fx%3D1")
        );
        let r = unauthorized_for(&Method::GET, &uri, &HeaderMap::new());
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let r = unauthorized_for(&Method::POST, &uri, &html);
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
}

/// Someone who can hold conversations.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: i64,
    pub name: String,
    /// Not disabled.
    pub active: bool,
}

/// The business's users, for assignment and names in the inbox.
pub async fn directory(state: &AppState) -> Result<Vec<Person>, super::UiError> {
    Ok(state
        .store
        .users()
        .await?
        .into_iter()
        .map(|u| Person {
            id: u.id,
            name: u.display_name,
            active: u.disabled_at_ms.is_none(),
        })
        .collect())
}

/// Whether the session a request came with still holds (not signed out, expired or disabled):
/// long-lived responses such as the live feed check it as they go.
pub async fn still_signed_in(state: &AppState, agent: &Agent) -> bool {
    match state.store.session(agent.session_id).await {
        Ok(Some(row)) => {
            session::is_active(&state.settings.ui.timeouts, &row, state.clock.now_ms())
        }
        Ok(None) => false,
        // The database is down for a moment: the feed goes on; the next check decides.
        Err(_) => true,
    }
}
