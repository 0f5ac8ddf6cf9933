//! `/webhooks/whatsapp`: where Meta calls (cloud-api.md §1.1, §1.2, §2).
//!
//! POST: the signature is checked over the raw bytes before anything is parsed; a body that
//! fails gets 401 and nothing is written. A verified body is appended durably (group commit,
//! fsync) before Meta gets its 200; if that cannot happen in time guichet answers 503 and Meta
//! retries, for up to 7 days. A body seen before is answered 200 and changes nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use store::NewInboundEvent;
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::appender::{AppendError, Appended};
use crate::error::ApiError;

/// The verification handshake: `hub.mode=subscribe` and the right `hub.verify_token` get the
/// `hub.challenge` back as plain text; anything else gets 403, and the challenge is never
/// reflected in a form a browser would render.
pub async fn verify(
    State(state): State<Arc<AppState>>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let Ok(Query(params)) = query else {
        return forbidden("the query string could not be read");
    };
    let mode = params.get("hub.mode").map(String::as_str);
    let token = params
        .get("hub.verify_token")
        .map(String::as_str)
        .unwrap_or_default();
    let challenge = params
        .get("hub.challenge")
        .map(String::as_str)
        .unwrap_or_default();
    if mode != Some("subscribe") {
        return forbidden("hub.mode must be `subscribe`");
    }
    let known = state.settings.verify_tokens().fold(false, |ok, t| {
        ok | bool::from(t.as_bytes().ct_eq(token.as_bytes()))
    });
    if !known {
        tracing::warn!("webhook verification refused: wrong or missing hub.verify_token");
        return forbidden(
            "hub.verify_token does not match: enter the same verify token in Meta's App Dashboard \
             as in guichet's `webhook.verify_token`",
        );
    }
    let printable = challenge.bytes().all(|b| b.is_ascii_graphic());
    if challenge.is_empty() || challenge.len() > 256 || !printable {
        return forbidden("hub.challenge must be 1 to 256 printable ASCII characters");
    }
    tracing::info!("webhook verification accepted");
    let mut response = (StatusCode::OK, challenge.to_owned()).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    response
}

fn forbidden(detail: &str) -> Response {
    ApiError::new(StatusCode::FORBIDDEN, "verification_refused", detail).into_response()
}

/// A webhook notification from Meta.
pub async fn receive(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let (outcome, response) = accept(&state, &headers, body).await;
    state.metrics.webhook(outcome);
    state
        .metrics
        .webhook_seconds
        .observe(started.elapsed().as_secs_f64());
    response
}

async fn accept(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> (&'static str, Response) {
    let max = state.settings.webhook.max_body_bytes;
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            tracing::warn!(max_bytes = max, "webhook refused: body too large");
            let e = ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body is larger than {max} bytes (Meta's webhooks are at most 3 MB)"),
            )
            .next_step("raise `webhook.max_body_bytes` if this sender is legitimate");
            return ("too_large", e.into_response());
        }
        Err(rejection) => {
            let e = ApiError::new(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                rejection.body_text(),
            );
            return ("malformed", e.into_response());
        }
    };

    let signature = headers
        .get(wa::signature::HEADER)
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    let secrets = state.settings.apps.iter().map(|a| a.secret.as_bytes());
    let app = match wa::signature::verify_any(secrets, &body, signature) {
        Ok(index) => state.settings.apps[index].name.clone(),
        Err(e) => {
            tracing::warn!(reason = %e, "webhook refused: bad signature");
            let e = ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", e.to_string());
            return ("bad_signature", e.into_response());
        }
    };

    if let Err(e) = wa::webhook::check_envelope(&body) {
        tracing::warn!(error = e.summary(), "webhook refused: not a notification");
        let e = ApiError::new(StatusCode::BAD_REQUEST, "not_a_notification", e.to_string());
        return ("malformed", e.into_response());
    }

    let event = NewInboundEvent {
        body_sha256: Sha256::digest(&body).into(),
        body,
        app,
        received_at_ms: state.clock.now_ms(),
    };
    let ack_timeout = state.settings.webhook.ack_timeout;
    match tokio::time::timeout(ack_timeout, state.appender.append(event)).await {
        Ok(Ok(Appended::New)) => ("accepted", received("accepted")),
        Ok(Ok(Appended::Duplicate)) => ("duplicate", received("duplicate")),
        Ok(Err(e)) => ("unavailable", unavailable(&e)),
        Err(_) => {
            tracing::warn!(timeout = ?ack_timeout, "webhook not stored in time; answering 503 so that Meta retries");
            (
                "unavailable",
                unavailable(&AppendError::Storage("timed out".into())),
            )
        }
    }
}

fn received(status: &'static str) -> Response {
    (
        StatusCode::OK,
        axum::Json(serde_json::json!({ "status": status })),
    )
        .into_response()
}

fn unavailable(e: &AppendError) -> Response {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "storage_unavailable",
        format!("the webhook was not stored ({e}); nothing was lost: Meta retries it"),
    )
    .into_response()
}
