//! `GET /api/v1/conversations`, `/conversations/{id}` and `/conversations/{id}/messages`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use domain::conversation::ConversationStatus;
use serde::Deserialize;
use serde_json::{Value, json};
use store::{ConversationQuery, MessageQuery};

use super::{ApiQuery, Id, decode_cursor, encode_cursor, limit, views};
use crate::AppState;
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    phone_number_id: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// Conversations, newest activity first.
pub async fn list(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    if let Some(status) = &q.status
        && ConversationStatus::parse(status).is_none()
    {
        return Err(ApiError::invalid(format!(
            "status = {status:?}: expected one of open, pending, resolved"
        )));
    }
    let limit = limit(q.limit)?;
    let rows = state
        .store
        .conversations(&ConversationQuery {
            status: q.status,
            phone_number_id: q.phone_number_id,
            after: decode_cursor(q.cursor.as_deref())?,
            limit: limit + 1,
        })
        .await?;
    let now = state.clock.now();
    let more = rows.len() as i64 > limit;
    let page = &rows[..rows.len().min(limit as usize)];
    let next = more
        .then(|| {
            page.last()
                .map(|c| encode_cursor(c.conversation.last_message_at, c.conversation.id))
        })
        .flatten();
    Ok(Json(json!({
        "data": page.iter().map(|c| views::conversation(c, now)).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}

pub async fn show(State(state): State<Arc<AppState>>, Id(id): Id) -> Result<Json<Value>, ApiError> {
    let c = state
        .store
        .conversation(id)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    Ok(Json(views::conversation(&c, state.clock.now())))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    /// `asc` (default): oldest first, in Meta's order. `desc`: newest first.
    order: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// A conversation's messages, in Meta's order (by Meta's timestamp, then arrival).
pub async fn messages(
    State(state): State<Arc<AppState>>,
    Id(id): Id,
    ApiQuery(q): ApiQuery<MessagesQuery>,
) -> Result<Json<Value>, ApiError> {
    if state.store.conversation(id).await?.is_none() {
        return Err(ApiError::not_found("conversation"));
    }
    let limit = limit(q.limit)?;
    let at = decode_cursor(q.cursor.as_deref())?;
    let query = match q.order.as_deref() {
        None | Some("asc") => MessageQuery::Forward {
            after: at,
            limit: limit + 1,
        },
        Some("desc") => MessageQuery::Backward {
            before: at,
            limit: limit + 1,
        },
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "order = {other:?}: expected asc or desc"
            )));
        }
    };
    let rows = state.store.messages(id, &query).await?;
    let more = rows.len() as i64 > limit;
    let page = &rows[..rows.len().min(limit as usize)];
    let next = more
        .then(|| page.last().map(|m| encode_cursor(m.meta_at, m.id)))
        .flatten();
    Ok(Json(json!({
        "data": page.iter().map(views::message).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}
