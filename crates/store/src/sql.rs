//! The SQL both backends share.
//!
//! SQLite and Postgres accept the same statements here: `$n` placeholders (rewritten to `?n` for
//! SQLite), `ON CONFLICT … DO NOTHING`, `RETURNING`, row-value comparisons, `CASE` and
//! `CAST(… AS BIGINT)`. Where they differ (claiming rows, appending a batch, locking a row,
//! connection settings) each backend has its own statement.
//!
//! No SQL here is assembled from user input: every statement is a constant, values are bound.

pub(crate) const RECORD_OUTCOME: &str = "INSERT INTO inbound_outcomes \
     (event_id, state, note, processed_at_ms) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (event_id) DO UPDATE SET state = excluded.state, note = excluded.note, \
     processed_at_ms = excluded.processed_at_ms";

pub(crate) const COUNT_FAILED: &str =
    "SELECT COUNT(*) FROM inbound_outcomes WHERE state = 'failed'";
pub(crate) const COUNT_INBOUND: &str = "SELECT COUNT(*) FROM inbound_events";

macro_rules! contact_columns {
    () => {
        "id, portfolio, user_id, parent_user_id, wa_id, phone, username, profile_name, seen_at, \
         marketing, marketing_at, created_at_ms, updated_at_ms"
    };
}

/// The contacts an identity may name: by its BSUID and by its WhatsApp id (NULLs match nothing).
pub(crate) const CONTACT_MATCHES: &str = concat!(
    "SELECT ",
    contact_columns!(),
    " FROM contacts WHERE portfolio = $1 AND (user_id = $2 OR wa_id = $3)"
);
pub(crate) const CONTACT_BY_ID: &str = concat!(
    "SELECT ",
    contact_columns!(),
    " FROM contacts WHERE id = $1"
);

pub(crate) const INSERT_CONTACT: &str = "INSERT INTO contacts \
     (portfolio, user_id, parent_user_id, wa_id, phone, username, profile_name, seen_at, \
      created_at_ms, updated_at_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id";

pub(crate) const UPDATE_CONTACT: &str = "UPDATE contacts SET user_id = $2, parent_user_id = $3, \
     wa_id = $4, phone = $5, username = $6, profile_name = $7, seen_at = $8, updated_at_ms = $9 \
     WHERE id = $1";

pub(crate) const SET_MARKETING: &str = "UPDATE contacts SET marketing = $2, marketing_at = $3 \
     WHERE id = $1 AND (marketing_at IS NULL OR marketing_at <= $3)";

pub(crate) const CREATE_CONVERSATION: &str = "INSERT INTO conversations \
     (phone_number_id, contact_id, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $3) \
     ON CONFLICT (phone_number_id, contact_id) DO NOTHING";

macro_rules! conversation_columns {
    () => {
        "id, phone_number_id, contact_id, status, last_message_at, last_inbound_at, \
         last_referral_at, unread_count, message_count, created_at_ms, updated_at_ms"
    };
}

pub(crate) const CONVERSATION_FOR: &str = concat!(
    "SELECT ",
    conversation_columns!(),
    " FROM conversations WHERE phone_number_id = $1 AND contact_id = $2"
);

/// Times only move forward, even when two nodes update one conversation at once; counters add.
pub(crate) const UPDATE_CONVERSATION: &str = "UPDATE conversations SET status = $2, \
     last_message_at = CASE WHEN $3 > last_message_at THEN $3 ELSE last_message_at END, \
     last_inbound_at = CASE WHEN last_inbound_at IS NULL OR $4 > last_inbound_at \
       THEN COALESCE($4, last_inbound_at) ELSE last_inbound_at END, \
     last_referral_at = CASE WHEN last_referral_at IS NULL OR $5 > last_referral_at \
       THEN COALESCE($5, last_referral_at) ELSE last_referral_at END, \
     unread_count = unread_count + $6, message_count = message_count + $7, updated_at_ms = $8 \
     WHERE id = $1";

macro_rules! conversation_view {
    () => {
        "SELECT c.id, c.phone_number_id, c.contact_id, c.status, \
     c.last_message_at, c.last_inbound_at, c.last_referral_at, c.unread_count, c.message_count, \
     c.created_at_ms, c.updated_at_ms, k.user_id AS contact_user_id, k.wa_id AS contact_wa_id, \
     k.phone AS contact_phone, k.username AS contact_username, \
     k.profile_name AS contact_profile_name \
     FROM conversations c JOIN contacts k ON k.id = c.contact_id"
    };
}

pub(crate) const LIST_CONVERSATIONS: &str = concat!(
    conversation_view!(),
    " WHERE (CAST($1 AS TEXT) IS NULL OR c.status = $1) \
      AND (CAST($2 AS TEXT) IS NULL OR c.phone_number_id = $2) \
      AND (CAST($3 AS BIGINT) IS NULL OR (c.last_message_at, c.id) < (CAST($3 AS BIGINT), CAST($4 AS BIGINT))) \
      ORDER BY c.last_message_at DESC, c.id DESC LIMIT $5"
);

pub(crate) const CONVERSATION_BY_ID: &str = concat!(conversation_view!(), " WHERE c.id = $1");

macro_rules! message_columns {
    () => {
        "id, conversation_id, wamid, direction, kind, meta_at, received_at_ms, preview, content, \
         raw, context_wamid, referral, errors, delivery, sent_at, delivered_at, read_at, \
         played_at, failed_at, error_code, error_class, error_details, biz_opaque"
    };
}

pub(crate) const MESSAGES_FORWARD: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages WHERE conversation_id = $1 \
      AND (CAST($2 AS BIGINT) IS NULL OR (meta_at, id) > (CAST($2 AS BIGINT), CAST($3 AS BIGINT))) \
      ORDER BY meta_at, id LIMIT $4"
);

pub(crate) const MESSAGES_BACKWARD: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages WHERE conversation_id = $1 \
      AND (CAST($2 AS BIGINT) IS NULL OR (meta_at, id) < (CAST($2 AS BIGINT), CAST($3 AS BIGINT))) \
      ORDER BY meta_at DESC, id DESC LIMIT $4"
);

pub(crate) const MESSAGE_BY_WAMID: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages WHERE wamid = $1"
);

pub(crate) const MESSAGE_EXISTS: &str = "SELECT id FROM messages WHERE wamid = $1";

pub(crate) const INSERT_MESSAGE: &str = "INSERT INTO messages \
     (conversation_id, wamid, direction, kind, meta_at, received_at_ms, preview, content, raw, \
      context_wamid, referral, errors, delivery) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
     ON CONFLICT (wamid) DO NOTHING RETURNING id";

pub(crate) const INSERT_STATUS: &str = "INSERT INTO message_statuses \
     (wamid, status, meta_at, phone_number_id, recipient_id, recipient_user_id, error_code, errors, \
      pricing_model, pricing_type, pricing_category, billable, conversation, biz_opaque, received_at_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
     ON CONFLICT (wamid, status) DO NOTHING";

pub(crate) const STATUSES_OF: &str = "SELECT wamid, status, meta_at, error_code, errors, \
     pricing_model, pricing_type, pricing_category, billable FROM message_statuses \
     WHERE wamid = $1 ORDER BY meta_at, id";

macro_rules! delivery_of {
    () => {
        "SELECT id, conversation_id, delivery, sent_at, delivered_at, read_at, played_at, \
         failed_at, error_code, error_class, error_details FROM messages WHERE wamid = $1"
    };
}
pub(crate) use delivery_of;

pub(crate) const SET_DELIVERY: &str = "UPDATE messages SET delivery = $2, sent_at = $3, \
     delivered_at = $4, read_at = $5, played_at = $6, failed_at = $7, error_code = $8, \
     error_class = $9, error_details = $10 WHERE id = $1";

pub(crate) const INSERT_EVENT: &str = "INSERT INTO events \
     (kind, conversation_id, message_id, payload, created_at_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id";

pub(crate) const EVENTS_AFTER: &str = "SELECT id, kind, conversation_id, message_id, payload, \
     created_at_ms FROM events WHERE id > $1 ORDER BY id LIMIT $2";

pub(crate) const INSERT_TEMPLATE_EVENT: &str = "INSERT INTO template_events \
     (waba_id, meta_id, name, language, field, value, detail, meta_at, received_at_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     ON CONFLICT (waba_id, meta_id, language, field, value, meta_at) DO NOTHING";

pub(crate) const ENSURE_TEMPLATE: &str = "INSERT INTO templates \
     (waba_id, meta_id, name, language, updated_at_ms) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (waba_id, name, language) DO UPDATE SET meta_id = excluded.meta_id";

/// Each aspect of a template moves only to a newer event (Meta's `entry.time`).
pub(crate) const TEMPLATE_STATUS: &str = "UPDATE templates SET status = $4, reason = $5, \
     category = COALESCE($6, category), status_at = $7, updated_at_ms = $8 \
     WHERE waba_id = $1 AND name = $2 AND language = $3 AND status_at <= $7";

pub(crate) const TEMPLATE_QUALITY: &str = "UPDATE templates SET quality = $4, quality_at = $5, \
     updated_at_ms = $6 WHERE waba_id = $1 AND name = $2 AND language = $3 AND quality_at <= $5";

pub(crate) const TEMPLATE_CATEGORY: &str = "UPDATE templates \
     SET previous_category = COALESCE($5, category), category = $4, category_at = $6, \
     updated_at_ms = $7 \
     WHERE waba_id = $1 AND name = $2 AND language = $3 AND category_at <= $6";

pub(crate) const TEMPLATE_BY_NAME: &str = "SELECT id, waba_id, meta_id, name, language, status, \
     category, previous_category, quality, reason FROM templates \
     WHERE waba_id = $1 AND name = $2 AND language = $3";

pub(crate) const INSERT_CONSENT: &str = "INSERT INTO consent_events \
     (contact_id, phone_number_id, category, value, source, detail, meta_at, received_at_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
     ON CONFLICT (contact_id, category, value, meta_at) DO NOTHING";

pub(crate) const CONSENTS_OF: &str = "SELECT id, contact_id, phone_number_id, category, value, \
     source, detail, meta_at, received_at_ms FROM consent_events WHERE contact_id = $1 \
     ORDER BY meta_at, id";
