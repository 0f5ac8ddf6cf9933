//! Reading rows of the SQLite backend into the model's structs, by column name.

use rusqlite::Row;

use crate::*;

/// A model struct read from a row that has its columns.
pub(super) trait FromSqliteRow: Sized {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self>;
}

macro_rules! from_row {
    ($ty:ident { $($field:ident),* $(,)? }) => {
        impl FromSqliteRow for $ty {
            fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
                Ok(Self { $($field: row.get(stringify!($field))?),* })
            }
        }
    };
}

from_row!(ContactRow {
    id,
    portfolio,
    user_id,
    parent_user_id,
    wa_id,
    phone,
    username,
    profile_name,
    seen_at,
    marketing,
    marketing_at,
    created_at_ms,
    updated_at_ms,
});
from_row!(ConversationRow {
    id,
    phone_number_id,
    contact_id,
    status,
    last_message_at,
    last_inbound_at,
    last_referral_at,
    unread_count,
    message_count,
    created_at_ms,
    updated_at_ms,
});
from_row!(MessageRow {
    id,
    conversation_id,
    wamid,
    direction,
    kind,
    meta_at,
    received_at_ms,
    preview,
    content,
    raw,
    context_wamid,
    referral,
    errors,
    delivery,
    sent_at,
    delivered_at,
    read_at,
    played_at,
    failed_at,
    error_code,
    error_class,
    error_details,
    biz_opaque,
    category,
});
from_row!(DeliveryColumns {
    delivery,
    sent_at,
    delivered_at,
    read_at,
    played_at,
    failed_at,
    error_code,
    error_class,
    error_details,
});
from_row!(StatusRow {
    wamid,
    status,
    meta_at,
    error_code,
    errors,
    pricing_model,
    pricing_type,
    pricing_category,
    billable,
});
from_row!(EventRow {
    id,
    kind,
    conversation_id,
    message_id,
    payload,
    created_at_ms
});
from_row!(TemplateRow {
    id,
    waba_id,
    meta_id,
    name,
    language,
    status,
    category,
    previous_category,
    quality,
    reason,
    components,
    parameter_format,
    synced_at_ms,
});
from_row!(OutboxRow {
    message_id,
    phone_number_id,
    recipient,
    request,
    state,
    not_before_ms,
    attempts,
    resent,
    sent_ms,
    last_error,
    created_at_ms,
    updated_at_ms,
});
from_row!(CostRow {
    message_id,
    phone_number_id,
    market,
    sent_at,
    pricing_model,
    category,
    pricing_type,
    currency,
    predicted_micros,
    billed_model,
    billed_category,
    billed_type,
    billable,
    billed_micros,
    billed_at,
    wamid,
});
from_row!(RecentSend { recipient, sent_ms });
from_row!(ConsentRow {
    id,
    contact_id,
    phone_number_id,
    category,
    value,
    source,
    detail,
    meta_at,
    received_at_ms,
});
from_row!(InboundEvent {
    id,
    body,
    app,
    received_at_ms,
    attempts
});

impl FromSqliteRow for ConversationView {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            conversation: ConversationRow::from_row(row)?,
            contact_user_id: row.get("contact_user_id")?,
            contact_wa_id: row.get("contact_wa_id")?,
            contact_phone: row.get("contact_phone")?,
            contact_username: row.get("contact_username")?,
            contact_profile_name: row.get("contact_profile_name")?,
        })
    }
}

impl FromSqliteRow for MessageDelivery {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            message_id: row.get("id")?,
            conversation_id: row.get("conversation_id")?,
            columns: DeliveryColumns::from_row(row)?,
        })
    }
}
