//! Accounts and sessions of the agent UI.
//!
//! INTERFACE (the rest of the UI relies on exactly this):
//! - [`Agent`]: the signed-in user of a request, as an axum extractor. A request without a
//!   valid session is answered with a redirect to `/login?next=<path>` (GET of a page) or 401.
//! - [`Admin`]: the same, for admins only; anyone else gets the same 404 as a missing page.
//! - [`csrf`]: middleware over every UI route; refuses any non-GET/HEAD request whose token,
//!   `Origin` or `Sec-Fetch-Site` is wrong (403).
//! - [`routes`]: `/login`, `/logout`, and the pages of users and sessions.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Agent,
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
}

impl FromRequestParts<Arc<AppState>> for Agent {
    type Rejection = Response;

    async fn from_request_parts(
        _parts: &mut Parts,
        _state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        Err(Redirect::to("/login").into_response())
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

pub async fn csrf(State(_state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    next.run(request).await
}

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
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
pub async fn directory(_state: &AppState) -> Result<Vec<Person>, super::UiError> {
    Ok(Vec::new())
}

/// Whether the session a request came with still holds (not signed out, expired or disabled):
/// long-lived responses such as the live feed check it as they go.
pub async fn still_signed_in(_state: &AppState, _agent: &Agent) -> bool {
    false
}
