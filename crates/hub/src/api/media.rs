//! `GET /api/v1/media/{id}/content`: a customer's file, for the business's back-end, with the
//! same headers the agent UI gets (see `crate::media::answer`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::Id;
use crate::AppState;
use crate::error::ApiError;
use crate::media::{NotServed, answer};

pub async fn content(State(state): State<Arc<AppState>>, Id(id): Id) -> Result<Response, ApiError> {
    answer(&state, id).await.map_err(api_error)
}

/// Unknown, not yet stored and failed media are all 404s, each saying which it is.
fn api_error(not: NotServed) -> ApiError {
    let (detail, next) = not.explain();
    let error = match not {
        NotServed::Unknown => ApiError::not_found("media"),
        NotServed::Pending { .. } => {
            ApiError::new(StatusCode::NOT_FOUND, "media_not_ready", detail)
        }
        NotServed::Failed { .. } => ApiError::new(StatusCode::NOT_FOUND, "media_failed", detail),
        NotServed::Store(e) => ApiError::from(e),
        NotServed::Internal(why) => ApiError::internal(&why),
    };
    match next {
        Some(next) => error.next_step(next),
        None => error,
    }
}
