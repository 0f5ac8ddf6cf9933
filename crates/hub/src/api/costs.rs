//! `GET /api/v1/costs?from=2026-09&to=2026-10` (or `month=`): what WhatsApp traffic cost, by
//! month, category, market and number, predicted beside billed.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;

use super::ApiQuery;
use crate::AppState;
use crate::error::ApiError;
use crate::outbound::costs;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostsQuery {
    month: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

pub async fn report(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<CostsQuery>,
) -> Result<Json<Value>, ApiError> {
    let (from, to) = costs::months(
        &state.settings,
        state.clock.now_ms().div_euclid(1000),
        q.month.as_deref(),
        q.from.as_deref(),
        q.to.as_deref(),
    )
    .map_err(ApiError::invalid)?;
    let (report, notes) = costs::report(state.store.as_ref(), &state.settings, from, to).await?;
    Ok(Json(costs::report_json(&report, &notes, &state.settings)))
}
