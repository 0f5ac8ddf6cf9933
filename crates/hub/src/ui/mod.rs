//! The agent UI: server-rendered HTML (askama templates in `crates/hub/templates`), a little
//! vanilla JavaScript, live updates over SSE, every asset embedded in the binary.
//!
//! Every UI response carries a strict Content-Security-Policy (no inline script or style, no
//! `unsafe-inline`): customer text is escaped by the templates, and even a slip there cannot
//! run. Every state-changing request is a POST checked for its CSRF token and origin
//! ([`auth::csrf`]); no GET changes anything.

mod actions;
mod assets;
pub mod auth;
mod charts;
mod composer;
mod inbox;
mod media;
mod overview;
mod panel;
mod thread;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::AppState;

pub use auth::{Agent, Role};

/// The UI's routes, at the root of the server (the API lives under `/api/v1`).
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/inbox") }))
        .route("/assets/{version}/{name}", get(assets::serve))
        .route("/csp-report", post(csp_report))
        .route("/inbox", get(inbox::index))
        .route("/inbox/list", get(inbox::list_fragment))
        .route("/inbox/events", get(inbox::events))
        .route("/inbox/{id}", get(inbox::show))
        .route("/inbox/{id}/thread", get(inbox::thread_fragment))
        .route("/inbox/{id}/transcript", get(inbox::transcript))
        .route("/inbox/{id}/panel", get(panel::fragment))
        .route("/inbox/{id}/preflight", post(composer::preflight))
        .route("/inbox/{id}/send", post(composer::send))
        .route("/inbox/{id}/attach", post(composer::attach))
        .route("/inbox/{id}/assign", post(actions::assign_to))
        .route("/inbox/{id}/take", post(actions::take))
        .route("/inbox/{id}/status", post(actions::status))
        .route("/inbox/{id}/handler", post(actions::handler))
        .route("/inbox/{id}/labels", post(actions::labels))
        .route("/inbox/{id}/consent", post(actions::consent))
        .route("/overview", get(overview::show))
        .route(
            "/settings/canned",
            get(actions::canned).post(actions::save_canned),
        )
        .route("/settings/canned/{id}/delete", post(actions::delete_canned))
        .route("/media/{id}", get(media::show))
        .merge(auth::routes())
        .layer(middleware::from_fn_with_state(state, auth::csrf))
        .layer(middleware::from_fn(security_headers))
}

/// Content-Security-Policy of every UI page: scripts, styles and images from guichet itself
/// only; no inline code of any kind; no framing; forms post only back to guichet.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; media-src 'self'; connect-src 'self'; font-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'; report-uri /csp-report";

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set(headers, header::CONTENT_SECURITY_POLICY, CSP);
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "same-origin");
    set(
        headers,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    // Pages hold customers' data: never kept by a shared cache or the browser's history cache.
    set(headers, header::CACHE_CONTROL, "no-store");
    response
}

/// Browsers report what the policy blocked here; each report is logged and counted, so that a
/// test (or an operator) sees any attempt to run injected code.
async fn csp_report(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    body: axum::body::Bytes,
) -> StatusCode {
    state.metrics.csp_reports.inc();
    let text = String::from_utf8_lossy(&body[..body.len().min(2048)]);
    tracing::warn!(report = %text, "content security policy violation");
    StatusCode::NO_CONTENT
}

/// Whether the page's script asked (it wants JSON back, not a page or a redirect).
pub fn wants_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"))
}

/// A time as pages show it: `iso` for the `<time datetime>` (the script shows it in the agent's
/// own time zone), `short` as written without script (UTC).
#[derive(Debug, Clone, Default)]
pub struct Stamp {
    pub iso: String,
    pub short: String,
}

pub fn stamp(seconds: i64) -> Stamp {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(seconds) else {
        return Stamp::default();
    };
    Stamp {
        iso: t
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        short: format!(
            "{} {} {:02}:{:02} UTC",
            t.day(),
            &t.month().to_string()[..3],
            t.hour(),
            t.minute()
        ),
    }
}

/// What every page's frame shows: its title, the section highlighted in the navigation, and who
/// is signed in (with the CSRF token the page's forms and scripts send back).
#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    pub section: &'static str,
    pub agent: Option<Agent>,
    pub css: &'static str,
    pub js: &'static str,
    pub icon: &'static str,
}

impl Layout {
    pub fn new(title: impl Into<String>, section: &'static str, agent: Option<Agent>) -> Self {
        Self {
            title: title.into(),
            section,
            agent,
            css: assets::path("app.css"),
            js: assets::path("app.js"),
            icon: assets::path("icon.svg"),
        }
    }

    pub fn csrf(&self) -> &str {
        self.agent.as_ref().map_or("", |a| a.csrf.as_str())
    }

    pub fn is_admin(&self) -> bool {
        self.agent.as_ref().is_some_and(|a| a.role == Role::Admin)
    }
}

/// Renders a template as an HTML response; a template that fails to render is logged and
/// answered with the error page.
pub fn page(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => UiError::internal(&e).into_response(),
    }
}

/// An error shown as a page: what is wrong and what to do.
#[derive(Debug)]
pub struct UiError {
    pub status: StatusCode,
    pub message: String,
    pub next_step: Option<String>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    message: &'a str,
    next_step: Option<&'a str>,
}

impl UiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            next_step: None,
        }
    }

    #[must_use]
    pub fn next_step(mut self, next: impl Into<String>) -> Self {
        self.next_step = Some(next.into());
        self
    }

    /// What a missing record, or one this user may not see, looks like: the same 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("There is no such {what}."))
    }

    /// Logs the cause with the caller's location (as the API does); the page says only that it
    /// failed.
    #[track_caller]
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        crate::ApiError::internal(cause).into()
    }
}

/// The API's errors as pages: the same classification, status and next step, written as
/// sentences.
impl From<crate::ApiError> for UiError {
    fn from(e: crate::ApiError) -> Self {
        Self {
            status: e.status,
            message: sentence(&e.detail),
            next_step: e.next_step.as_deref().map(sentence),
        }
    }
}

/// `the database is unavailable right now` → `The database is unavailable right now.`
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !out.is_empty() && !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

impl From<store::StoreError> for UiError {
    #[track_caller]
    fn from(e: store::StoreError) -> Self {
        crate::ApiError::from(e).into()
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            layout: Layout::new("Error", "", None),
            status: self.status.as_u16(),
            message: &self.message,
            next_step: self.next_step.as_deref(),
        };
        let html = page
            .render()
            .unwrap_or_else(|_| "<!doctype html><title>Error</title>Error".to_owned());
        (self.status, Html(html)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_read_as_sentences_on_pages() {
        let e: UiError = crate::ApiError::invalid("the body is empty")
            .next_step("send the file's bytes")
            .into();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.message, "The body is empty.");
        assert_eq!(e.next_step.as_deref(), Some("Send the file's bytes."));
        assert_eq!(sentence("Done."), "Done.");
        assert_eq!(sentence(""), "");
    }
}
