//! `GET /api/v1/costs?from=2026-09&to=2026-10` (or `month=`): what WhatsApp traffic cost, by
//! month, category, market and number, predicted beside billed.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use domain::pricing::YearMonth;
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

fn month(name: &str, text: &str) -> Result<YearMonth, ApiError> {
    text.parse().map_err(|_| {
        ApiError::invalid(format!(
            "`{name}` = {text:?}: expected a month such as 2026-10"
        ))
    })
}

pub async fn report(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<CostsQuery>,
) -> Result<Json<Value>, ApiError> {
    let this = YearMonth::of(state.clock.now(), state.settings.pricing.offset);
    let (from, to) = match (q.month, q.from, q.to) {
        (Some(m), None, None) => {
            let m = month("month", &m)?;
            (m, m)
        }
        (None, from, to) => (
            from.as_deref()
                .map(|f| month("from", f))
                .transpose()?
                .unwrap_or(this),
            to.as_deref()
                .map(|t| month("to", t))
                .transpose()?
                .unwrap_or(this),
        ),
        _ => {
            return Err(ApiError::invalid(
                "give `month`, or `from` and `to`, not both",
            ));
        }
    };
    if from > to {
        return Err(ApiError::invalid("`from` is after `to`"));
    }
    let (report, notes) = costs::report(state.store.as_ref(), &state.settings, from, to).await?;
    Ok(Json(costs::report_json(&report, &notes, &state.settings)))
}
