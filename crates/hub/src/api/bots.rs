//! What the bots did, for the business to show: `GET /api/v1/bots/summary?days=30` (per number:
//! messages classified, the share in scope, deflections, handoffs) and
//! `GET /api/v1/bots/decisions?days=30&phone_number_id=…&before=ID&limit=100` (every scope-guard
//! decision: intent or out of scope, score, threshold, tier, the flow's version).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use store::DecisionQuery;

use super::ApiQuery;
use crate::AppState;
use crate::error::ApiError;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    /// The period: the last `days` days (default 30, at most 3660).
    days: Option<i64>,
}

fn period(state: &AppState, days: Option<i64>) -> Result<(i64, i64), ApiError> {
    let days = days.unwrap_or(30);
    if !(1..=3660).contains(&days) {
        return Err(ApiError::invalid(format!(
            "`days` = {days}: give a number of days from 1 to 3660"
        )));
    }
    let to = state.clock.now_ms() + 1;
    Ok((to - days * DAY_MS, to))
}

pub async fn summary(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<SummaryQuery>,
) -> Result<Json<Value>, ApiError> {
    let (from, to) = period(&state, q.days)?;
    let (decisions, handoffs) = state.store.bot_summary(from, to).await?;
    #[derive(Default)]
    struct Acc {
        flow: String,
        versions: Vec<String>,
        tier: String,
        decisions: i64,
        in_scope: i64,
        deflected: i64,
        handed_over: i64,
        handoffs: BTreeMap<String, i64>,
    }
    let mut by: BTreeMap<String, Acc> = BTreeMap::new();
    for d in decisions {
        let a = by.entry(d.phone_number_id.clone()).or_default();
        a.flow.clone_from(&d.flow);
        a.tier.clone_from(&d.tier);
        if !a.versions.contains(&d.flow_version) {
            a.versions.push(d.flow_version.clone());
        }
        a.decisions += d.count;
        if d.decision == "in_scope" {
            a.in_scope += d.count;
        }
        match d.outcome.as_str() {
            "deflected" => a.deflected += d.count,
            "handed_over" => a.handed_over += d.count,
            _ => {}
        }
    }
    for h in handoffs {
        let a = by.entry(h.phone_number_id.clone()).or_default();
        if a.flow.is_empty() {
            a.flow.clone_from(&h.flow);
        }
        *a.handoffs.entry(h.cause).or_default() += h.count;
    }
    #[expect(clippy::cast_precision_loss, reason = "counts of messages")]
    let numbers: Vec<Value> = by
        .into_iter()
        .map(|(number, a)| {
            json!({
                "phone_number_id": number,
                "flow": a.flow,
                "flow_versions": a.versions,
                "tier": a.tier,
                "decisions": a.decisions,
                "in_scope": a.in_scope,
                "in_scope_share": (a.decisions > 0).then(|| a.in_scope as f64 / a.decisions as f64),
                "deflected": a.deflected,
                "handed_over_on_request": a.handed_over,
                "handoffs": a.handoffs.values().sum::<i64>(),
                "handoffs_by_cause": a.handoffs,
            })
        })
        .collect();
    Ok(Json(
        json!({ "from_ms": from, "to_ms": to, "numbers": numbers }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionsQuery {
    days: Option<i64>,
    phone_number_id: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

pub async fn decisions(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<DecisionsQuery>,
) -> Result<Json<Value>, ApiError> {
    let (from, to) = period(&state, q.days)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "`limit` = {limit}: give 1 to 1000"
        )));
    }
    let rows = state
        .store
        .guard_decisions(&DecisionQuery {
            from_ms: from,
            to_ms: to,
            phone_number_id: q.phone_number_id,
            before_id: q.before,
            limit,
        })
        .await?;
    let next = (rows.len() == usize::try_from(limit).unwrap_or(usize::MAX))
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    Ok(Json(json!({ "data": rows, "next_before": next })))
}
