//! Cross-site request forgery: every UI request but GET and HEAD must come from one of guichet's
//! own pages. Three checks, any of which refuses it (403):
//!
//! - `Sec-Fetch-Site` (sent by every current browser) must not say `cross-site` or `same-site`;
//! - `Origin`, when present, must be this server's own (its host and port, as the `Host` header
//!   names them);
//! - the request must carry the session's anti-forgery token, in `X-CSRF-Token` (scripts) or in
//!   the `_csrf` field of a URL-encoded form. The sign-in form has no session yet: it carries the
//!   value of a cookie set with the form (double submit), which another site can neither read
//!   nor set (`__Host-`, `HttpOnly`, `SameSite=Strict`).
//!
//! A request without a valid session gets 401 here already (no token can be right); GET routes
//! never change anything, so they need none of this.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq as _;

use super::session;
use crate::AppState;
use crate::ui::UiError;

/// Largest form body read to find its token.
pub const MAX_FORM_BYTES: usize = 256 * 1024;

/// Routes that take no token: browsers post CSP violation reports without one, and the route
/// only counts and logs them.
const EXEMPT: &[&str] = &["/csp-report"];

pub async fn check(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD)
        || EXEMPT.contains(&request.uri().path())
    {
        return next.run(request).await;
    }
    if let Err(refusal) = same_origin(request.headers(), request.uri()) {
        return refused(&refusal);
    }
    let login = request.uri().path() == "/login";
    let ui = &state.settings.ui;
    let (expected, signed_in) = if login {
        let cookie = session::cookie_value(request.headers(), session::login_cookie_name(ui));
        match cookie {
            Some(c) => (c.to_owned(), None),
            None => {
                return refused("the sign-in form has expired (its security cookie is missing)");
            }
        }
    } else {
        match session::authenticate(&state, request.headers()).await {
            Ok(Some(s)) => (s.agent.csrf.clone(), Some(s)),
            Ok(None) => return super::unauthorized(),
            Err(e) => return UiError::from(e).into_response(),
        }
    };

    let (mut request, submitted) = match submitted_token(request).await {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    let matches = submitted
        .as_deref()
        .is_some_and(|t| bool::from(t.as_bytes().ct_eq(expected.as_bytes())));
    if !matches {
        let what = if submitted.is_some() {
            "its security token is wrong"
        } else {
            "it carries no security token"
        };
        tracing::warn!(path = %request.uri().path(), "refused a request without a valid anti-forgery token");
        return refused(&format!("{what}, so it did not come from a guichet page"));
    }
    if let Some(s) = signed_in {
        request.extensions_mut().insert(s);
    }
    next.run(request).await
}

fn refused(why: &str) -> Response {
    UiError::new(
        StatusCode::FORBIDDEN,
        format!("This request was refused: {why}."),
    )
    .next_step("Go back to the page, reload it, and submit it again.")
    .into_response()
}

/// The `Sec-Fetch-Site` and `Origin` checks.
pub fn same_origin(headers: &HeaderMap, uri: &axum::http::Uri) -> Result<(), String> {
    // Every value counts: a request that says it twice is judged by the worst.
    for site in headers.get_all("sec-fetch-site") {
        let site = site.to_str().unwrap_or("cross-site");
        if site.eq_ignore_ascii_case("cross-site") || site.eq_ignore_ascii_case("same-site") {
            return Err(format!(
                "the browser says this request was sent by another site's page (Sec-Fetch-Site: {site})"
            ));
        }
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(axum::http::uri::Authority::as_str));
    for origin in headers.get_all(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("null");
        let authority = origin
            .split_once("://")
            .map(|(_, rest)| rest.trim_end_matches('/'));
        match (authority, host) {
            (Some(a), Some(h)) if a.eq_ignore_ascii_case(h) => {}
            _ => {
                return Err(format!(
                    "it was sent by a page of {origin:?}, not of this server ({})",
                    host.unwrap_or("unknown host")
                ));
            }
        }
    }
    Ok(())
}

/// The token in `X-CSRF-Token`, else in the `_csrf` field of a URL-encoded form body (read and
/// handed on unchanged).
async fn submitted_token(request: Request) -> Result<(Request, Option<String>), UiError> {
    if let Some(t) = request.headers().get("x-csrf-token") {
        let token = t.to_str().ok().map(str::to_owned);
        return Ok((request, token));
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Ok((request, None));
    }
    let (parts, body) = request.into_parts();
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return Err(UiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The form is larger than {} KiB.", MAX_FORM_BYTES / 1024),
            )
            .next_step("Shorten what you typed and submit it again."));
        }
    };
    let token = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .ok()
        .and_then(|fields| {
            fields
                .into_iter()
                .find(|(k, _)| k == "_csrf")
                .map(|(_, v)| v)
        });
    Ok((Request::from_parts(parts, Body::from(bytes)), token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn requests_from_this_server_pages_pass() {
        let uri = axum::http::Uri::from_static("/logout");
        for h in [
            headers(&[("host", "127.0.0.1:8080")]),
            headers(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080"),
            ]),
            headers(&[
                ("host", "Guichet.example"),
                ("origin", "https://guichet.example"),
            ]),
            headers(&[("host", "h:1"), ("sec-fetch-site", "same-origin")]),
            headers(&[("host", "h:1"), ("sec-fetch-site", "none")]),
        ] {
            assert_eq!(same_origin(&h, &uri), Ok(()), "{h:?}");
        }
    }

    #[test]
    fn requests_from_other_sites_are_refused() {
        let uri = axum::http::Uri::from_static("/logout");
        for h in [
            headers(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://evil.example"),
            ]),
            headers(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8081"),
            ]),
            headers(&[("host", "127.0.0.1:8080"), ("origin", "null")]),
            headers(&[("origin", "http://127.0.0.1:8080")]),
            headers(&[("host", "h:1"), ("sec-fetch-site", "cross-site")]),
            headers(&[("host", "h:1"), ("sec-fetch-site", "same-site")]),
        ] {
            assert!(same_origin(&h, &uri).is_err(), "{h:?}");
        }
        let mut twice = headers(&[("host", "h:1"), ("sec-fetch-site", "same-origin")]);
        twice.append("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(same_origin(&twice, &uri).is_err());
        let mut twice = headers(&[("host", "h:1"), ("origin", "http://h:1")]);
        twice.append("origin", HeaderValue::from_static("http://evil.example"));
        assert!(same_origin(&twice, &uri).is_err());
    }
}
