//! `GET /api/v1/contacts/{id}`: who a customer is, and their consent history.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use super::{Id, views};
use crate::AppState;
use crate::error::ApiError;

pub async fn show(State(state): State<Arc<AppState>>, Id(id): Id) -> Result<Json<Value>, ApiError> {
    let contact = state
        .store
        .contact(id)
        .await?
        .ok_or_else(|| ApiError::not_found("contact"))?;
    let consents = state.store.consents(id).await?;
    Ok(Json(views::contact(&contact, &consents)))
}
