//! The REST API under `/api/v1`, for the business's own systems. Bearer tokens; every error in
//! one JSON shape (`code`, `detail`, and where useful `next_step`), including bad queries and ids.

mod bots;
mod contacts;
mod conversations;
mod costs;
mod media;
mod messages;
mod templates;
mod views;

pub(crate) use messages::graph_error;

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::ApiError;

pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/conversations", get(conversations::list))
        .route("/conversations/{id}", get(conversations::show))
        .route("/conversations/{id}/messages", get(conversations::messages))
        .route("/contacts/{id}", get(contacts::show))
        .route("/messages", post(messages::send))
        .route("/messages/preflight", post(messages::preflight))
        .route("/messages/{id}", get(messages::show))
        .route("/media", post(messages::upload))
        .route("/media/{id}/content", get(media::content))
        .route("/consents", post(messages::consent))
        .route("/templates", get(templates::list).post(templates::create))
        .route("/templates/sync", post(templates::sync))
        .route("/costs", get(costs::report))
        .route("/bots/summary", get(bots::summary))
        .route("/bots/decisions", get(bots::decisions))
        .layer(middleware::from_fn_with_state(state, require_token))
}

/// Checks `Authorization: Bearer <token>` against the configured tokens, in constant time.
async fn require_token(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(presented) = presented else {
        return Err(ApiError::unauthorized(
            "send `Authorization: Bearer <token>` with one of the tokens in `api.tokens`",
        ));
    };
    let ok = state.settings.api.tokens.iter().fold(false, |ok, t| {
        ok | bool::from(t.as_bytes().ct_eq(presented.as_bytes()))
    });
    if !ok {
        return Err(ApiError::unauthorized(
            "this bearer token is not one of `api.tokens`",
        ));
    }
    Ok(next.run(request).await)
}

/// `Query` whose rejection is a 422 in the API's error shape.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(rejection) => Err(query_error(&rejection)),
        }
    }
}

fn query_error(rejection: &QueryRejection) -> ApiError {
    ApiError::invalid(format!("bad query string: {}", rejection.body_text()))
}

/// An id in the path; anything but a positive integer is simply not found.
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::not_found("resource"))?;
        raw.parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(Self)
            .ok_or_else(|| ApiError::not_found("resource"))
    }
}

/// Page sizes: 50 unless asked, at most 200.
pub fn limit(asked: Option<i64>) -> Result<i64, ApiError> {
    match asked {
        None => Ok(50),
        Some(n) if (1..=200).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::invalid(format!("limit = {n}: expected 1 to 200"))),
    }
}

/// Keyset cursors are opaque to clients: `base64url("<time>.<id>")`.
pub fn encode_cursor(at: i64, id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{at}.{id}"))
}

pub fn decode_cursor(cursor: Option<&str>) -> Result<Option<(i64, i64)>, ApiError> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let bad =
        || ApiError::invalid("cursor is not one this API returned: pass `next_cursor` unchanged");
    let text = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(text).map_err(|_| bad())?;
    let (at, id) = text.split_once('.').ok_or_else(bad)?;
    Ok(Some((
        at.parse().map_err(|_| bad())?,
        id.parse().map_err(|_| bad())?,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_roundtrip_and_garbage_is_refused() {
        let c = encode_cursor(1_750_000_000, 42);
        assert_eq!(
            decode_cursor(Some(&c)).expect("valid"),
            Some((1_750_000_000, 42))
        );
        assert_eq!(decode_cursor(None).expect("none"), None);
        for bad in ["", "!!!", "bm9wZQ", &URL_SAFE_NO_PAD.encode("1.x")] {
            assert!(decode_cursor(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits() {
        assert_eq!(limit(None).expect("default"), 50);
        assert_eq!(limit(Some(200)).expect("max"), 200);
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(201)).is_err());
    }
}
