//! Reading the UI's forms: URL-encoded bodies into a struct, and where a request came from.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::csrf::MAX_FORM_BYTES;
use crate::ui::UiError;

/// A URL-encoded form; a body that is not one is answered with an error page that says so.
#[derive(Debug)]
pub struct Form<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Form<T> {
    type Rejection = Response;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::to_bytes(request.into_body(), MAX_FORM_BYTES)
            .await
            .map_err(|_| {
                UiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("The form is larger than {} KiB.", MAX_FORM_BYTES / 1024),
                )
                .into_response()
            })?;
        parse(&bytes).map(Form).map_err(IntoResponse::into_response)
    }
}

fn parse<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, UiError> {
    serde_urlencoded::from_bytes(bytes).map_err(|e| {
        UiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("The form could not be read: {e}."),
        )
        .next_step("Go back, reload the page and submit it again.")
    })
}

/// The browser's address and `User-Agent`, as recorded with a session and a sign-in attempt.
/// The address is the peer's: behind a reverse proxy, the proxy's.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub addr: Option<String>,
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(512).collect());
        Ok(Self { addr, user_agent })
    }
}
