//! `/healthz` (the process answers), `/readyz` (it can store webhooks), `/metrics` (Prometheus).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    match state.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({ "status": "ready" })),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: database unavailable");
            let body = serde_json::json!({
                "status": "unavailable",
                "code": "storage_unavailable",
                "detail": "the database does not answer",
            });
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
        }
    }
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    // Queue depths are read at scrape time so that they are true on every node.
    if let Ok(counts) = state.store.inbound_counts().await {
        state.metrics.ingest_backlog.set(counts.pending);
        state.metrics.ingest_failed.set(counts.failed);
    }
    let mut response = state.metrics.encode().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}
