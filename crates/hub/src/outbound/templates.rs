//! Templates: synced from Meta (`GET message_templates`, at start, hourly and on demand; the
//! template webhooks keep them current in between), created and submitted through the API, and
//! read back as the preflight's `SyncedTemplate`s. A recategorisation that changes the price is
//! flagged with an event naming the markets where it does.

use std::collections::HashMap;
use std::sync::Arc;

use domain::policy::SyncedTemplate;
use serde_json::json;
use store::{NewEvent, Store, TemplateRow, TemplateSync};
use wa::send::{GraphTemplate, QualityScore, TemplateComponent};

use crate::Clock;
use crate::config::Settings;
use crate::graph::{Graph, GraphFailure};

/// A stored template as the preflight checks sends against it; `None` until a sync brought its
/// components.
pub fn synced_of(row: &TemplateRow) -> Option<SyncedTemplate> {
    let components: Vec<TemplateComponent> =
        serde_json::from_str(row.components.as_deref()?).ok()?;
    let t = GraphTemplate {
        id: row.meta_id.clone().unwrap_or_default(),
        name: row.name.clone(),
        language: row.language.clone(),
        status: row.status.clone().unwrap_or_default(),
        category: row.category.clone().unwrap_or_default(),
        previous_category: row.previous_category.clone(),
        sub_category: None,
        quality_score: row
            .quality
            .clone()
            .map(|score| QualityScore { score, date: None }),
        parameter_format: row.parameter_format.clone(),
        components,
        rejected_reason: row.reason.clone(),
    };
    Some(domain::policy::synced_template(&t))
}

/// What a sync did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct SyncReport {
    pub templates: usize,
    pub recategorised: usize,
    /// Accounts whose templates could not be fetched, with why.
    pub failures: Vec<String>,
}

/// The markets where a move from `from` to `to` changes the price, on the card in force now.
pub fn price_change(settings: &Settings, from: &str, to: &str, now_s: i64) -> Vec<String> {
    let (Ok(from), Ok(to)) = (from.parse(), to.parse()) else {
        return Vec::new();
    };
    settings
        .pricing
        .cards
        .in_force(domain::Timestamp::from_unix(now_s), settings.pricing.offset)
        .map(|card| {
            card.markets_where_price_changes(from, to)
                .iter()
                .map(|m| m.as_str().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Fetches every template of every configured account and records them.
pub async fn sync(
    store: &Arc<dyn Store>,
    graph: &Graph,
    settings: &Settings,
    clock: &Arc<dyn Clock>,
) -> store::Result<SyncReport> {
    let mut report = SyncReport::default();
    let mut accounts: Vec<(&str, &str)> = settings
        .numbers
        .iter()
        .map(|n| (n.waba_id.as_str(), n.access_token.as_str()))
        .collect();
    accounts.sort_unstable();
    accounts.dedup_by_key(|(waba, _)| *waba);
    for (waba_id, token) in accounts {
        let items = match graph.templates(waba_id, token).await {
            Ok(items) => items,
            Err(e) => {
                tracing::warn!(waba_id, error = %e, "template sync failed");
                report.failures.push(format!("{waba_id}: {e}"));
                continue;
            }
        };
        let before: HashMap<(String, String), Option<String>> = store
            .templates(waba_id)
            .await?
            .into_iter()
            .map(|t| ((t.name, t.language), t.category))
            .collect();
        let now_ms = clock.now_ms();
        let mut tx = store.begin().await?;
        for item in items {
            let t: GraphTemplate = match serde_json::from_value(item) {
                Ok(t) => t,
                Err(e) => {
                    report.failures.push(format!("{waba_id}: a template: {e}"));
                    continue;
                }
            };
            let previous = before
                .get(&(t.name.clone(), t.language.clone()))
                .cloned()
                .flatten();
            tx.sync_template(&TemplateSync {
                waba_id: waba_id.to_owned(),
                meta_id: t.id.clone(),
                name: t.name.clone(),
                language: t.language.clone(),
                status: t.status.clone(),
                category: t.category.clone(),
                previous_category: t.previous_category.clone(),
                quality: t.quality_score.as_ref().map(|q| q.score.clone()),
                reason: t.rejected_reason.clone().filter(|r| r != "NONE"),
                components: serde_json::to_string(&t.components).unwrap_or_else(|_| "[]".into()),
                parameter_format: t.parameter_format.clone(),
                synced_at_ms: now_ms,
            })
            .await?;
            report.templates += 1;
            if let Some(from) = previous.filter(|p| !p.eq_ignore_ascii_case(&t.category)) {
                report.recategorised += 1;
                let markets = price_change(
                    settings,
                    &from.to_ascii_lowercase(),
                    &t.category.to_ascii_lowercase(),
                    now_ms.div_euclid(1000),
                );
                tx.insert_event(&NewEvent {
                    kind: "template.category_changed".into(),
                    conversation_id: None,
                    message_id: None,
                    payload: json!({
                        "waba_id": waba_id,
                        "name": t.name,
                        "language": t.language,
                        "from": from,
                        "to": t.category,
                        "price_changes": !markets.is_empty(),
                        "markets": markets,
                    })
                    .to_string(),
                    created_at_ms: now_ms,
                })
                .await?;
            }
        }
        tx.commit().await?;
    }
    Ok(report)
}

/// Submits a template for review and records it as Meta answered.
pub async fn create(
    store: &Arc<dyn Store>,
    graph: &Graph,
    waba_id: &str,
    token: &str,
    request: &wa::send::CreateTemplateRequest,
    now_ms: i64,
) -> Result<wa::send::CreatedTemplate, CreateError> {
    let body = serde_json::to_value(request)
        .map_err(|e| CreateError::Graph(GraphFailure::Unreadable(e.to_string())))?;
    let answer = graph
        .create_template(waba_id, token, &body)
        .await
        .map_err(CreateError::Graph)?;
    let created: wa::send::CreatedTemplate = serde_json::from_value(answer)
        .map_err(|e| CreateError::Graph(GraphFailure::Unreadable(e.to_string())))?;
    let mut tx = store.begin().await.map_err(CreateError::Store)?;
    tx.sync_template(&TemplateSync {
        waba_id: waba_id.to_owned(),
        meta_id: created.id.clone(),
        name: request.name.clone(),
        language: request.language.clone(),
        status: created.status.clone().unwrap_or_else(|| "PENDING".into()),
        category: created
            .category
            .clone()
            .unwrap_or_else(|| request.category.clone()),
        previous_category: None,
        quality: None,
        reason: None,
        components: serde_json::to_string(&request.components).unwrap_or_else(|_| "[]".into()),
        parameter_format: request.parameter_format.clone(),
        synced_at_ms: now_ms,
    })
    .await
    .map_err(CreateError::Store)?;
    tx.commit().await.map_err(CreateError::Store)?;
    Ok(created)
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error(transparent)]
    Graph(GraphFailure),
    #[error(transparent)]
    Store(store::StoreError),
}
