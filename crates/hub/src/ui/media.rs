//! `GET /media/{id}`: a customer's file, for a signed-in agent (an `<img>` in the conversation, or
//! a download). The answer is `crate::media::answer`'s, shared with the API: its own
//! `Content-Security-Policy: sandbox` replaces the UI's page policy.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{Agent, UiError};
use crate::AppState;
use crate::media::{NotServed, answer};

pub async fn show(
    _agent: Agent,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Response {
    // Anything but a positive id is simply not found, like a missing one.
    let Some(id) = id.parse::<i64>().ok().filter(|id| *id > 0) else {
        return UiError::not_found("file").into_response();
    };
    match answer(&state, id).await {
        Ok(response) => response,
        Err(not) => ui_error(not).into_response(),
    }
}

fn ui_error(not: NotServed) -> UiError {
    let (message, next) = not.explain();
    let error = match not {
        NotServed::Unknown => UiError::not_found("file"),
        NotServed::Pending { .. } | NotServed::Failed { .. } => {
            UiError::new(StatusCode::NOT_FOUND, capitalised(&message))
        }
        NotServed::Store(e) => UiError::from(e),
        NotServed::Internal(why) => UiError::internal(&why),
    };
    match next {
        Some(next) => error.next_step(capitalised(&next)),
        None => error,
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect::<String>() + "."
    })
}
