//! Templates: `GET /api/v1/templates` lists them as last synced (with a flag on those Meta
//! recategorised, and the markets where that changes the price); `POST /api/v1/templates/sync`
//! fetches them from Meta now; `POST /api/v1/templates` creates one and submits it for review.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiQuery;
use super::messages::graph_error;
use crate::AppState;
use crate::error::ApiError;
use crate::outbound::templates;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    waba_id: Option<String>,
}

fn waba_of(state: &AppState, waba_id: Option<String>) -> Result<(String, String), ApiError> {
    let numbers = &state.settings.numbers;
    let number = match &waba_id {
        Some(w) => numbers.iter().find(|n| &n.waba_id == w),
        None => numbers.first(),
    };
    number
        .map(|n| (n.waba_id.clone(), n.access_token.clone()))
        .ok_or_else(|| match waba_id {
            Some(w) => ApiError::invalid(format!(
                "`waba_id` = {w:?} is not the account of a configured number"
            )),
            None => ApiError::invalid("no business number is configured"),
        })
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let (waba_id, _) = waba_of(&state, q.waba_id)?;
    let now_s = state.clock.now_ms().div_euclid(1000);
    let rows = state.store.templates(&waba_id).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|t| {
            let changed = match (&t.previous_category, &t.category) {
                (Some(from), Some(to)) if !from.eq_ignore_ascii_case(to) => {
                    let markets = templates::price_change(
                        &state.settings,
                        &from.to_ascii_lowercase(),
                        &to.to_ascii_lowercase(),
                        now_s,
                    );
                    json!({
                        "from": from,
                        "to": to,
                        "price_changes": !markets.is_empty(),
                        "markets": markets,
                    })
                }
                _ => Value::Null,
            };
            json!({
                "id": t.meta_id,
                "name": t.name,
                "language": t.language,
                "status": t.status,
                "category": t.category,
                "quality": t.quality,
                "reason": t.reason,
                "parameter_format": t.parameter_format,
                "components": t.components.as_deref().and_then(|c| serde_json::from_str::<Value>(c).ok()),
                "synced": t.synced_at_ms.is_some(),
                "category_changed": changed,
            })
        })
        .collect();
    Ok(Json(json!({ "waba_id": waba_id, "data": items })))
}

pub async fn sync(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let report = templates::sync(&state.store, &state.graph, &state.settings, &state.clock).await?;
    Ok(Json(json!(report)))
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid(format!("the body is not JSON: {e}")))?;
    let waba_id = value
        .as_object_mut()
        .and_then(|o| o.remove("waba_id"))
        .and_then(|v| v.as_str().map(str::to_owned));
    let request: wa::send::CreateTemplateRequest = serde_json::from_value(value).map_err(|e| {
        ApiError::invalid(format!("not a template: {e}"))
            .next_step("send Meta's message_templates body: name, language, category, components")
    })?;
    if !matches!(
        request.category.to_ascii_uppercase().as_str(),
        "MARKETING" | "UTILITY" | "AUTHENTICATION"
    ) {
        return Err(ApiError::invalid(format!(
            "`category` = {:?}: expected MARKETING, UTILITY or AUTHENTICATION",
            request.category
        )));
    }
    let (waba_id, token) = waba_of(&state, waba_id)?;
    let created = templates::create(
        &state.store,
        &state.graph,
        &waba_id,
        &token,
        &request,
        state.clock.now_ms(),
    )
    .await
    .map_err(|e| match e {
        templates::CreateError::Graph(g) => graph_error(&g),
        templates::CreateError::Store(s) => s.into(),
    })?;
    Ok((StatusCode::CREATED, Json(json!(created))))
}
