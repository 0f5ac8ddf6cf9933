//! How the API shows guichet's records: times as RFC 3339, JSON columns as JSON, failures with
//! their meaning and the next step.

use domain::Timestamp;
use domain::window::ServiceWindow;
use serde_json::{Value, json};
use store::{ConsentRow, ContactRow, ConversationView, MessageRow};

/// Unix seconds as RFC 3339 (UTC).
pub fn time(seconds: i64) -> Value {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .map_or(Value::Null, Value::String)
}

pub fn time_ms(ms: i64) -> Value {
    time(ms.div_euclid(1000))
}

fn opt_time(seconds: Option<i64>) -> Value {
    seconds.map_or(Value::Null, time)
}

fn json_column(text: Option<&str>) -> Value {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

pub fn window(last_inbound_at: Option<i64>, now: Timestamp) -> Value {
    match ServiceWindow::at(last_inbound_at.map(Timestamp::from_unix), now) {
        ServiceWindow::Never => json!({
            "state": "never",
            "next_step": "the customer has not written yet: only an approved template can reach them",
        }),
        ServiceWindow::Open {
            closes_at,
            remaining,
        } => json!({
            "state": "open",
            "closes_at": time(closes_at.unix()),
            "remaining_seconds": remaining.0,
        }),
        ServiceWindow::Closed { closed_at, ago } => json!({
            "state": "closed",
            "closed_at": time(closed_at.unix()),
            "next_step": format!("the 24 h window closed {ago} ago: send an approved template"),
        }),
    }
}

pub fn conversation(c: &ConversationView, now: Timestamp) -> Value {
    let conv = &c.conversation;
    json!({
        "id": conv.id,
        "phone_number_id": conv.phone_number_id,
        "status": conv.status,
        "contact": {
            "id": conv.contact_id,
            "user_id": c.contact_user_id,
            "wa_id": c.contact_wa_id,
            "phone": c.contact_phone,
            "username": c.contact_username,
            "name": c.contact_profile_name,
        },
        "last_message_at": if conv.last_message_at > 0 { time(conv.last_message_at) } else { Value::Null },
        "last_inbound_at": opt_time(conv.last_inbound_at),
        "last_referral_at": opt_time(conv.last_referral_at),
        "unread_count": conv.unread_count,
        "message_count": conv.message_count,
        "window": window(conv.last_inbound_at, now),
        "created_at": time_ms(conv.created_at_ms),
        "updated_at": time_ms(conv.updated_at_ms),
    })
}

pub fn message(m: &MessageRow) -> Value {
    let error = m.error_code.map(|code| {
        let known = wa::error_codes::lookup(code);
        let class = wa::error_codes::class_of(code);
        json!({
            "code": code,
            "class": class.as_str(),
            "title": known.map(|k| k.title),
            "meaning": known.map(|k| k.meaning),
            "details": m.error_details,
            "next_step": known.map_or(class.next_step(), |k| k.next_step),
        })
    });
    let delivery = m.delivery.as_ref().map(|status| {
        json!({
            "status": status,
            "sent_at": opt_time(m.sent_at),
            "delivered_at": opt_time(m.delivered_at),
            "read_at": opt_time(m.read_at),
            "played_at": opt_time(m.played_at),
            "failed_at": opt_time(m.failed_at),
            "error": error,
        })
    });
    json!({
        "id": m.id,
        "conversation_id": m.conversation_id,
        "wamid": m.wamid,
        "direction": m.direction,
        "kind": m.kind,
        "timestamp": time(m.meta_at),
        "received_at": time_ms(m.received_at_ms),
        "preview": m.preview,
        "content": json_column(Some(&m.content)),
        "context": m.context_wamid.as_ref().map(|w| json!({ "wamid": w })),
        "referral": json_column(m.referral.as_deref()),
        "errors": json_column(m.errors.as_deref()),
        "delivery": delivery,
    })
}

pub fn contact(c: &ContactRow, consents: &[ConsentRow]) -> Value {
    json!({
        "id": c.id,
        "portfolio": c.portfolio,
        "user_id": c.user_id,
        "parent_user_id": c.parent_user_id,
        "wa_id": c.wa_id,
        "phone": c.phone,
        "username": c.username,
        "name": c.profile_name,
        "marketing": c.marketing.as_ref().map(|v| json!({ "value": v, "at": opt_time(c.marketing_at) })),
        "consents": consents.iter().map(|k| json!({
            "category": k.category,
            "value": k.value,
            "source": k.source,
            "detail": k.detail,
            "phone_number_id": k.phone_number_id,
            "at": time(k.meta_at),
        })).collect::<Vec<_>>(),
        "created_at": time_ms(c.created_at_ms),
        "updated_at": time_ms(c.updated_at_ms),
    })
}
