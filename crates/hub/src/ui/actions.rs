//! What an agent does to a conversation: take it, assign it, hand it to the bot or back, label,
//! resolve and reopen it, write a private note, read it. Each change is written with its event
//! in one transaction, so that every open inbox (on any node) shows it at once, and the thread
//! keeps its history.

use std::sync::Arc;

use askama::Template;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use store::{InboxItem, NewEvent};

use super::inbox::{ThreadPart, conversation_id};
use super::{Agent, Layout, UiError, page};
use crate::AppState;

/// Commits a change with its event (when something changed), then wakes the live feed.
async fn commit(
    state: &AppState,
    mut tx: Box<dyn store::Tx>,
    id: i64,
    kind: &str,
    payload: serde_json::Value,
    changed: bool,
    now_ms: i64,
) -> Result<bool, UiError> {
    if changed {
        tx.insert_event(&NewEvent {
            kind: kind.to_owned(),
            conversation_id: Some(id),
            message_id: None,
            payload: payload.to_string(),
            created_at_ms: now_ms,
        })
        .await?;
    }
    tx.commit().await?;
    if changed {
        state.live.poke();
    }
    Ok(changed)
}

/// The conversation, or the same 404 as one that does not exist.
async fn existing(state: &AppState, agent: &Agent, id: &str) -> Result<InboxItem, UiError> {
    let id = conversation_id(id)?;
    state
        .store
        .inbox_item(id, agent.user_id)
        .await?
        .ok_or_else(|| UiError::not_found("conversation"))
}

fn done(headers: &HeaderMap, id: i64) -> Response {
    if super::wants_json(headers) {
        Json(json!({ "ok": true })).into_response()
    } else {
        Redirect::to(&format!("/inbox/{id}")).into_response()
    }
}

async fn assign(
    state: &AppState,
    agent: &Agent,
    id: i64,
    to: Option<i64>,
) -> Result<bool, UiError> {
    let now = state.clock.now_ms();
    let mut tx = state.store.begin().await?;
    let changed = tx.set_assignee(id, to, now).await?;
    let payload = json!({ "assignee_id": to, "by": agent.user_id });
    commit(
        state,
        tx,
        id,
        "conversation.assigned",
        payload,
        changed,
        now,
    )
    .await
}

async fn set_handler(
    state: &AppState,
    agent: &Agent,
    id: i64,
    handler: &str,
) -> Result<bool, UiError> {
    let now = state.clock.now_ms();
    let mut tx = state.store.begin().await?;
    let changed = tx.set_handler(id, handler, now).await?;
    if changed && handler == "bot" {
        // Handed back: the bot starts over with this customer.
        tx.end_bot_session(id).await?;
    }
    let payload = json!({ "handler": handler, "by": agent.user_id });
    commit(state, tx, id, "conversation.handler", payload, changed, now).await
}

async fn set_status(
    state: &AppState,
    agent: &Agent,
    id: i64,
    status: &str,
) -> Result<bool, UiError> {
    let now = state.clock.now_ms();
    let mut tx = state.store.begin().await?;
    let changed = tx.set_status(id, status, now).await?;
    let payload = json!({ "status": status, "by": agent.user_id });
    commit(state, tx, id, "conversation.status", payload, changed, now).await
}

#[derive(Debug, Deserialize)]
pub struct AssignForm {
    /// A user id, `me`, or empty for nobody.
    #[serde(default)]
    assignee: String,
}

/// `POST /inbox/{id}/assign`
pub async fn assign_to(
    State(state): State<Arc<AppState>>,
    agent: Agent,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<AssignForm>,
) -> Result<Response, UiError> {
    let item = existing(&state, &agent, &id).await?;
    let id = item.view.conversation.id;
    let to = match form.assignee.trim() {
        "" => None,
        "me" => Some(agent.user_id),
        other => {
            let wanted: i64 = other.parse().map_err(|_| {
                UiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Choose someone from the list.",
                )
            })?;
            let known = super::auth::directory(&state)
                .await?
                .iter()
                .any(|p| p.id == wanted && p.active);
            if !known {
                return Err(UiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "This person cannot take conversations (unknown or disabled).",
                ));
            }
            Some(wanted)
        }
    };
    assign(&state, &agent, id, to).await?;
    Ok(done(&headers, id))
}

/// `POST /inbox/{id}/take`: the agent takes the conversation from whoever (or whatever) holds it.
pub async fn take(
    State(state): State<Arc<AppState>>,
    agent: Agent,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    let item = existing(&state, &agent, &id).await?;
    let id = item.view.conversation.id;
    assign(&state, &agent, id, Some(agent.user_id)).await?;
    set_handler(&state, &agent, id, "human").await?;
    Ok(done(&headers, id))
}

#[derive(Debug, Deserialize)]
pub struct StatusForm {
    status: String,
}

/// `POST /inbox/{id}/status`: resolve, reopen, or set pending.
pub async fn status(
    State(state): State<Arc<AppState>>,
    agent: Agent,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<StatusForm>,
) -> Result<Response, UiError> {
    let item = existing(&state, &agent, &id).await?;
    let id = item.view.conversation.id;
    let Some(status) = domain::conversation::ConversationStatus::parse(&form.status) else {
        return Err(UiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The status is open, pending or resolved.",
        ));
    };
    set_status(&state, &agent, id, status.as_str()).await?;
    Ok(done(&headers, id))
}

#[derive(Debug, Deserialize)]
pub struct HandlerForm {
    handler: String,
}

/// `POST /inbox/{id}/handler`: hand the conversation to the bot, or take it from it.
pub async fn handler(
    State(state): State<Arc<AppState>>,
    agent: Agent,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HandlerForm>,
) -> Result<Response, UiError> {
    let item = existing(&state, &agent, &id).await?;
    let id = item.view.conversation.id;
    match form.handler.as_str() {
        "bot" => {
            // The bot answers alone: nobody holds the conversation any more.
            set_handler(&state, &agent, id, "bot").await?;
            assign(&state, &agent, id, None).await?;
        }
        "human" => {
            set_handler(&state, &agent, id, "human").await?;
        }
        _ => {
            return Err(UiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Hand the conversation to the bot or to a human.",
            ));
        }
    }
    Ok(done(&headers, id))
}

#[derive(Debug, Deserialize)]
pub struct LabelsForm {
    /// Comma-separated names.
    #[serde(default)]
    labels: String,
}

/// `POST /inbox/{id}/labels`: replaces the conversation's labels.
pub async fn labels(
    State(state): State<Arc<AppState>>,
    agent: Agent,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LabelsForm>,
) -> Result<Response, UiError> {
    let item = existing(&state, &agent, &id).await?;
    let id = item.view.conversation.id;
    let mut names: Vec<String> = form
        .labels
        .split(',')
        .map(|l| l.trim().chars().take(40).collect::<String>())
        .filter(|l| !l.is_empty())
        .collect();
    names.dedup_by_key(|l| l.to_lowercase());
    if names.len() > 20 {
        return Err(UiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "At most 20 labels per conversation.",
        ));
    }
    let before = item.labels().join(",").to_lowercase();
    let after = names.join(",").to_lowercase();
    let now = state.clock.now_ms();
    let mut tx = state.store.begin().await?;
    tx.set_labels(id, &names, now).await?;
    let payload = json!({ "labels": names, "by": agent.user_id });
    commit(
        &state,
        tx,
        id,
        "conversation.labels",
        payload,
        before != after,
        now,
    )
    .await?;
    Ok(done(&headers, id))
}

#[derive(Debug, Deserialize)]
pub struct ConsentForm {
    /// `opt_in` or `opt_out`.
    value: String,
    /// How the customer gave it: `chat`, `phone_call`, `in_store`, `web_form`…
    source: String,
}

/// `POST /inbox/{id}/consent`: the agent records the customer's opt-in or opt-out (said in the
/// chat, on the phone, in a shop), as evidence: who recorded it, how, when.
pub async fn consent(
    State(state): State<Arc<AppState>>,
    agent: Agent,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ConsentForm>,
) -> Result<Response, UiError> {
    let item = existing(&state, &agent, &id).await?;
    let c = &item.view.conversation;
    let value = form.value.as_str();
    if !matches!(value, "opt_in" | "opt_out") {
        return Err(UiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Record an opt-in or an opt-out.",
        ));
    }
    let source = form.source.as_str();
    if !matches!(
        source,
        "chat" | "phone_call" | "in_store" | "web_form" | "paper_form"
    ) {
        return Err(UiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Say how the customer gave it: chat, phone call, in store, web form or paper form.",
        ));
    }
    let now = state.clock.now_ms();
    let mut tx = state.store.begin().await?;
    tx.insert_consent(&store::NewConsent {
        contact_id: c.contact_id,
        phone_number_id: Some(c.phone_number_id.clone()),
        category: "marketing".into(),
        value: value.to_owned(),
        source: source.to_owned(),
        detail: Some(format!("recorded by {}", agent.display_name)),
        meta_at: now.div_euclid(1000),
        received_at_ms: now,
    })
    .await?;
    let payload = json!({ "value": value, "source": source, "by": agent.user_id });
    commit(&state, tx, c.id, "consent.changed", payload, true, now).await?;
    Ok(done(&headers, c.id))
}

/// Records a private note.
pub async fn add_note(state: &AppState, agent: &Agent, id: i64, body: &str) -> Result<(), UiError> {
    let body: String = body.chars().take(10_000).collect();
    let now = state.clock.now_ms();
    let mut tx = state.store.begin().await?;
    let note = tx.insert_note(id, agent.user_id, &body, now).await?;
    let payload = json!({ "note_id": note, "by": agent.user_id });
    commit(state, tx, id, "note.added", payload, true, now).await?;
    Ok(())
}

/// An agent replied: the bot is paused (a human holds the conversation), and an unassigned
/// conversation becomes the agent's.
pub async fn after_reply(state: &AppState, agent: &Agent, item: &InboxItem) -> Result<(), UiError> {
    let id = item.view.conversation.id;
    if item.handler != "human" {
        set_handler(state, agent, id, "human").await?;
    }
    if item.assignee_id.is_none() {
        assign(state, agent, id, Some(agent.user_id)).await?;
    }
    Ok(())
}

/// Moves the agent's read position to the newest message the thread showed, when it showed
/// something unread (the thread read both; nothing is read again here).
pub async fn mark_read(
    state: &AppState,
    agent: &Agent,
    thread: &ThreadPart,
) -> Result<(), UiError> {
    let Some(message_id) = thread.read_up_to else {
        return Ok(());
    };
    let mut tx = state.store.begin().await?;
    tx.mark_read(agent.user_id, thread.id, message_id, state.clock.now_ms())
        .await?;
    tx.commit().await?;
    Ok(())
}

// --- Canned replies ---------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "canned.html")]
struct CannedPage {
    layout: Layout,
    replies: Vec<store::CannedReply>,
    error: Option<String>,
}

/// `GET /settings/canned`
pub async fn canned(State(state): State<Arc<AppState>>, agent: Agent) -> Result<Response, UiError> {
    Ok(page(&CannedPage {
        replies: state.store.canned_replies().await?,
        layout: Layout::new("Canned replies", "canned", Some(agent)),
        error: None,
    }))
}

#[derive(Debug, Deserialize)]
pub struct CannedForm {
    shortcut: String,
    title: String,
    body: String,
}

/// `POST /settings/canned`: creates or replaces the reply with this shortcut.
pub async fn save_canned(
    State(state): State<Arc<AppState>>,
    agent: Agent,
    axum::Form(form): axum::Form<CannedForm>,
) -> Result<Response, UiError> {
    let shortcut = form.shortcut.trim().trim_start_matches('/').to_lowercase();
    let ok_shortcut = !shortcut.is_empty()
        && shortcut.len() <= 32
        && shortcut
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let error = if !ok_shortcut {
        Some("The shortcut is 1 to 32 letters, digits, - or _.")
    } else if form.title.trim().is_empty() || form.body.trim().is_empty() {
        Some("Give the reply a title and a text.")
    } else {
        None
    };
    if let Some(error) = error {
        let page = page(&CannedPage {
            replies: state.store.canned_replies().await?,
            layout: Layout::new("Canned replies", "canned", Some(agent)),
            error: Some(error.to_owned()),
        });
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let mut tx = state.store.begin().await?;
    tx.save_canned(
        &shortcut,
        form.title.trim(),
        form.body.trim(),
        state.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/settings/canned").into_response())
}

/// `POST /settings/canned/{id}/delete`
pub async fn delete_canned(
    State(state): State<Arc<AppState>>,
    _agent: Agent,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let id: i64 = id.parse().map_err(|_| UiError::not_found("canned reply"))?;
    let mut tx = state.store.begin().await?;
    let gone = tx.delete_canned(id).await?;
    tx.commit().await?;
    if !gone {
        return Err(UiError::not_found("canned reply"));
    }
    Ok(Redirect::to("/settings/canned").into_response())
}
