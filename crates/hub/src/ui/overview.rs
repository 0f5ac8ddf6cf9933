//! The overview: how much comes in and goes out, how long customers wait for a person and for a
//! resolution (per agent and per number), and what the messages cost by category — drawn as
//! charts by guichet itself.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use domain::pricing::{Currency, Money};
use domain::stats::{self, StatMessage, StatResolution};
use serde::Deserialize;

use super::charts::{self, Chart};
use super::{Agent, Layout, UiError, page};
use crate::AppState;

#[derive(Debug, Deserialize)]
pub struct Period {
    days: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Kpi {
    pub label: &'static str,
    pub value: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    layout: Layout,
    periods: Vec<(i64, bool)>,
    kpis: Vec<Kpi>,
    charts: Vec<Chart>,
}

/// `GET /overview?days=30`
pub async fn show(
    State(state): State<Arc<AppState>>,
    agent: Agent,
    Query(period): Query<Period>,
) -> Result<Response, UiError> {
    let days = period
        .days
        .filter(|d| [1, 7, 30, 90].contains(d))
        .unwrap_or(30);
    let names = super::inbox::names(&state).await?;
    let now = state.clock.now().unix();
    let today = now.div_euclid(86_400);
    let from = (today - days + 1) * 86_400;
    let rows = state.store.stat_messages(from, now + 1).await?;
    let messages: Vec<StatMessage> = rows
        .iter()
        .map(|r| StatMessage {
            conversation_id: r.conversation_id,
            phone_number_id: r.phone_number_id.clone(),
            inbound: r.direction == "inbound",
            at: r.meta_at,
            agent: (r.author_kind.as_deref() == Some("agent"))
                .then_some(r.author_id)
                .flatten(),
        })
        .collect();
    let changes: Vec<StatResolution> = state
        .store
        .events_of_kind("conversation.status", from * 1000, (now + 1) * 1000)
        .await?
        .iter()
        .filter_map(|e| {
            let p: serde_json::Value = serde_json::from_str(&e.payload).ok()?;
            Some(StatResolution {
                conversation_id: e.conversation_id?,
                at: e.created_at_ms.div_euclid(1000),
                resolved: p.get("status")?.as_str()? == "resolved",
                by: p.get("by").and_then(serde_json::Value::as_i64),
            })
        })
        .collect();

    // Volume by day.
    let mut per_day: BTreeMap<i64, (f64, f64)> = (0..days)
        .map(|d| (today - days + 1 + d, (0.0, 0.0)))
        .collect();
    for m in &messages {
        let e = per_day.entry(m.at.div_euclid(86_400)).or_default();
        if m.inbound {
            e.0 += 1.0;
        } else {
            e.1 += 1.0;
        }
    }
    let volume: Vec<(String, Vec<f64>)> = per_day
        .iter()
        .map(|(day, (i, o))| (day_label(*day), vec![*i, *o]))
        .collect();

    let who = |id: Option<i64>| match id {
        Some(id) => names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("user {id}")),
        None => "guichet".to_owned(),
    };
    let responses = stats::first_responses(&messages);
    let resolutions = stats::resolutions(&messages, &changes);
    let medians = |measures: &[stats::Measure], key: &dyn Fn(&stats::Measure) -> String| {
        let mut groups: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for m in measures {
            groups.entry(key(m)).or_default().push(m.seconds);
        }
        groups
            .into_iter()
            .filter_map(|(k, mut v)| stats::median(&mut v).map(|m| (k, m as f64)))
            .collect::<Vec<_>>()
    };
    let by_agent = |m: &stats::Measure| who(m.by);
    let by_number = |m: &stats::Measure| m.phone_number_id.clone();

    // Cost by category, in each currency.
    let mut cost: BTreeMap<(String, String), i64> = BTreeMap::new();
    for c in state.store.costs(from, now + 1).await? {
        let micros = c.billed_micros.or(c.predicted_micros).unwrap_or(0);
        let Some(currency) = c.currency.clone() else {
            continue;
        };
        let category = c.billed_category.clone().unwrap_or(c.category.clone());
        *cost.entry((currency, category.to_lowercase())).or_default() += micros;
    }
    let currencies: HashSet<&String> = cost.keys().map(|(c, _)| c).collect();
    let cost_rows: Vec<(String, f64)> = cost
        .iter()
        .map(|((cur, cat), micros)| {
            let label = if currencies.len() > 1 {
                format!("{cat} ({cur})")
            } else {
                cat.clone()
            };
            (label, *micros as f64 / 1e6)
        })
        .collect();
    let total_cost = {
        let mut by_cur: BTreeMap<&String, i64> = BTreeMap::new();
        for ((cur, _), m) in &cost {
            *by_cur.entry(cur).or_default() += m;
        }
        let parts: Vec<String> = by_cur
            .into_iter()
            .filter_map(|(cur, m)| {
                Currency::parse(cur)
                    .ok()
                    .map(|c| Money::from_micros(m, c).to_string())
            })
            .collect();
        if parts.is_empty() {
            "0".to_owned()
        } else {
            parts.join(" + ")
        }
    };
    let cost_unit = if currencies.len() == 1 {
        currencies
            .iter()
            .next()
            .map(|c| (*c).clone())
            .unwrap_or_default()
    } else {
        String::new()
    };

    let mut all_fr: Vec<i64> = responses.iter().map(|m| m.seconds).collect();
    let mut all_res: Vec<i64> = resolutions.iter().map(|m| m.seconds).collect();
    let conversations: HashSet<i64> = messages.iter().map(|m| m.conversation_id).collect();
    let kpis = vec![
        Kpi {
            label: "Conversations with messages",
            value: conversations.len().to_string(),
        },
        Kpi {
            label: "Messages in",
            value: messages.iter().filter(|m| m.inbound).count().to_string(),
        },
        Kpi {
            label: "Messages out",
            value: messages.iter().filter(|m| !m.inbound).count().to_string(),
        },
        Kpi {
            label: "Median first response",
            value: stats::median(&mut all_fr).map_or("—".into(), |s| charts::duration(s as f64)),
        },
        Kpi {
            label: "Median resolution",
            value: stats::median(&mut all_res).map_or("—".into(), |s| charts::duration(s as f64)),
        },
        Kpi {
            label: "Cost",
            value: total_cost,
        },
    ];
    let money = move |v: f64| format!("{v:.4} {cost_unit}").trim().to_owned();
    let charts = vec![
        charts::columns(
            "Messages per day",
            &["from customers", "to customers"],
            &volume,
            |v| format!("{v:.0}"),
        ),
        charts::rows(
            "Median first response, by agent",
            &medians(&responses, &by_agent),
            charts::duration,
        ),
        charts::rows(
            "Median first response, by number",
            &medians(&responses, &by_number),
            charts::duration,
        ),
        charts::rows(
            "Median resolution, by agent",
            &medians(&resolutions, &by_agent),
            charts::duration,
        ),
        charts::rows(
            "Median resolution, by number",
            &medians(&resolutions, &by_number),
            charts::duration,
        ),
        charts::rows("Cost by category", &cost_rows, money),
    ];
    Ok(page(&OverviewPage {
        layout: Layout::new("Overview", "overview", Some(agent)),
        periods: [1, 7, 30, 90].into_iter().map(|d| (d, d == days)).collect(),
        kpis,
        charts,
    }))
}

fn day_label(day: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(day * 86_400)
        .map(|t| format!("{} {}", t.day(), &t.month().to_string()[..3]))
        .unwrap_or_default()
}
