//! The conversation controller's rules (`domain::controller`) applied to stored conversations:
//! each transition sets the handler (or the status), starts the bot over when it takes a
//! conversation back, records handoffs, and writes the event the inbox shows — all in the
//! caller's transaction.

use domain::controller::{Happening, Holder, Transition, holder_of, next};
use serde_json::json;
use store::{NewEvent, NewHandoff, Tx};

use crate::config::Settings;

/// Applies `happening` to conversation `id`; `by` is the agent who caused it, if one did.
/// Returns the transition made, if any.
pub async fn apply(
    tx: &mut dyn Tx,
    settings: &Settings,
    id: i64,
    happening: Happening,
    by: Option<i64>,
    now_ms: i64,
) -> store::Result<Option<Transition>> {
    let Some(row) = tx.holder(id).await? else {
        return Ok(None);
    };
    let from = holder_of(&row.status, &row.handler);
    apply_from(
        tx,
        settings,
        id,
        &row.phone_number_id,
        from,
        happening,
        by,
        now_ms,
    )
    .await
}

/// [`apply`] from a holder the caller already knows (ingest knows the status before the message
/// it records reopened the conversation).
#[expect(clippy::too_many_arguments, reason = "the transition's whole context")]
pub async fn apply_from(
    tx: &mut dyn Tx,
    settings: &Settings,
    id: i64,
    phone_number_id: &str,
    from: Holder,
    happening: Happening,
    by: Option<i64>,
    now_ms: i64,
) -> store::Result<Option<Transition>> {
    let flow = settings.bots.flow(phone_number_id);
    let Some(t) = next(from, happening, settings.bots.hand_back, flow.is_some()) else {
        return Ok(None);
    };
    match t.to {
        Holder::Resolved => {
            tx.set_status(id, "resolved", now_ms).await?;
        }
        to => {
            tx.set_handler(id, to.as_str(), now_ms).await?;
        }
    }
    if t.bot_starts() {
        tx.end_bot_session(id).await?;
    }
    if let Some(flow) = flow
        && t.to == Holder::QueuedForHuman
        && matches!(
            happening,
            Happening::CustomerAsksHuman | Happening::BotHandsOver
        )
    {
        tx.record_handoff(&NewHandoff {
            conversation_id: id,
            phone_number_id: phone_number_id.to_owned(),
            flow: flow.name.clone(),
            cause: happening.as_str().to_owned(),
            at_ms: now_ms,
        })
        .await?;
    }
    let (kind, payload) = match t.to {
        Holder::Resolved => (
            "conversation.status",
            json!({ "status": "resolved", "by": by, "cause": happening.as_str() }),
        ),
        to => (
            "conversation.handler",
            json!({
                "handler": to.as_str(),
                "from": t.from.as_str(),
                "cause": happening.as_str(),
                "by": by,
            }),
        ),
    };
    tx.insert_event(&NewEvent {
        kind: kind.to_owned(),
        conversation_id: Some(id),
        message_id: None,
        payload: payload.to_string(),
        created_at_ms: now_ms,
    })
    .await?;
    Ok(Some(t))
}
