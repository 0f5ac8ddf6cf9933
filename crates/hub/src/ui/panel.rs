//! The contact panel beside a conversation: who the customer is (business-scoped id, phone,
//! username), their consent and its history, the ad that brought them, what the conversation
//! has cost so far, and the controls of the conversation (assignee, labels, status, bot).

use domain::pricing::{Currency, Money};
use serde_json::Value;

use super::inbox::Names;
use super::thread::{ReferralView, safe_url};
use super::{Agent, UiError};
use crate::AppState;

#[derive(Debug, Clone)]
pub struct Fact {
    pub label: &'static str,
    pub value: String,
    pub mono: bool,
}

#[derive(Debug, Clone)]
pub struct ConsentLine {
    pub what: String,
    pub source: String,
    pub at: super::Stamp,
}

#[derive(Debug, Clone)]
pub struct Person {
    pub id: i64,
    pub name: String,
    pub selected: bool,
}

#[derive(Debug, Clone)]
pub struct PanelPart {
    pub id: i64,
    pub identity: Vec<Fact>,
    pub consent: String,
    pub consent_class: &'static str,
    pub history: Vec<ConsentLine>,
    pub referral: Option<ReferralView>,
    pub messages: i64,
    pub cost: String,
    pub people: Vec<Person>,
    pub labels: String,
    pub status: String,
    pub csrf: String,
}

pub async fn part(
    state: &AppState,
    agent: &Agent,
    id: i64,
    names: &Names,
) -> Result<PanelPart, UiError> {
    let item = state
        .store
        .inbox_item(id, agent.user_id)
        .await?
        .ok_or_else(|| UiError::not_found("conversation"))?;
    let v = &item.view;
    let c = &v.conversation;
    let mut identity = Vec::new();
    let mut fact = |label, value: Option<&String>, mono| {
        if let Some(value) = value {
            identity.push(Fact {
                label,
                value: value.clone(),
                mono,
            });
        }
    };
    fact("Name", v.contact_profile_name.as_ref(), false);
    fact("Phone", v.contact_phone.as_ref(), true);
    fact("WhatsApp id", v.contact_wa_id.as_ref(), true);
    fact("Username", v.contact_username.as_ref(), false);
    fact("Business-scoped id", v.contact_user_id.as_ref(), true);
    fact("Business number", Some(&c.phone_number_id), true);

    let consents = state.store.consents(c.contact_id).await?;
    let consent = crate::outbound::consent_of(&consents);
    let (consent_text, consent_class) = match (consent.marketing_stop(), consent.has_opt_in()) {
        (Some(_), _) => ("Marketing stopped by the customer", "bad"),
        (None, true) => ("Opted in to business-initiated messages", "accent"),
        (None, false) => (
            "No opt-in recorded: templates that start a conversation are refused",
            "warn",
        ),
    };
    let history = consents
        .iter()
        .rev()
        .map(|r| ConsentLine {
            what: format!("{} {}", r.category, r.value.replace('_', " ")),
            source: match &r.detail {
                Some(d) if !d.is_empty() => format!("{} ({d})", r.source.replace('_', " ")),
                _ => r.source.replace('_', " "),
            },
            at: super::stamp(r.meta_at),
        })
        .collect();

    let referral = if c.last_referral_at.is_some() {
        latest_referral(state, id).await?
    } else {
        None
    };
    let cost = state
        .store
        .conversation_cost(id)
        .await?
        .iter()
        .map(|k| match k.currency.as_deref().map(Currency::parse) {
            Some(Ok(cur)) => Money::from_micros(k.micros, cur).to_string(),
            _ => format!("{} free message(s)", k.messages),
        })
        .collect::<Vec<_>>()
        .join(" + ");
    let mut people: Vec<Person> = names
        .iter()
        .map(|(pid, name)| Person {
            id: *pid,
            name: name.clone(),
            selected: item.assignee_id == Some(*pid),
        })
        .collect();
    people.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(PanelPart {
        id,
        identity,
        consent: consent_text.to_owned(),
        consent_class,
        history,
        referral,
        messages: c.message_count,
        cost: if cost.is_empty() {
            "nothing yet".into()
        } else {
            cost
        },
        people,
        labels: item.labels().join(", "),
        status: c.status.clone(),
        csrf: agent.csrf.clone(),
    })
}

/// The newest Click-to-WhatsApp entry among the conversation's recent messages.
async fn latest_referral(state: &AppState, id: i64) -> Result<Option<ReferralView>, UiError> {
    let rows = state
        .store
        .messages(
            id,
            &store::MessageQuery::Backward {
                before: None,
                limit: 500,
            },
        )
        .await?;
    Ok(rows
        .iter()
        .find_map(|m| m.referral.as_deref())
        .and_then(|r| serde_json::from_str::<Value>(r).ok())
        .map(|r| {
            let text = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
            ReferralView {
                headline: text("headline"),
                body: text("body"),
                source: text("source_type").unwrap_or_else(|| "ad".into()),
                url: text("source_url").as_deref().and_then(safe_url),
            }
        }))
}

#[derive(askama::Template)]
#[template(path = "inbox_panel.html")]
struct PanelFragment {
    panel: PanelPart,
}

/// `GET /inbox/{id}/panel`: the panel fragment, for live updates.
pub async fn fragment(
    axum::extract::State(state): axum::extract::State<std::sync::Arc<AppState>>,
    agent: Agent,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<axum::response::Response, UiError> {
    let id = super::inbox::conversation_id(&id)?;
    let names = super::inbox::names(&state).await?;
    let panel = part(&state, &agent, id, &names).await?;
    Ok(super::page(&PanelFragment { panel }))
}
