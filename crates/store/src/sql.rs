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
         played_at, failed_at, error_code, error_class, error_details, biz_opaque, category"
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
      context_wamid, referral, errors, delivery, category, business_initiated, biz_opaque) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
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

macro_rules! template_columns {
    () => {
        "id, waba_id, meta_id, name, language, status, category, previous_category, quality, \
         reason, components, parameter_format, synced_at_ms"
    };
}

pub(crate) const TEMPLATE_BY_NAME: &str = concat!(
    "SELECT ",
    template_columns!(),
    " FROM templates WHERE waba_id = $1 AND name = $2 AND language = $3"
);

pub(crate) const INSERT_CONSENT: &str = "INSERT INTO consent_events \
     (contact_id, phone_number_id, category, value, source, detail, meta_at, received_at_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
     ON CONFLICT (contact_id, category, value, meta_at) DO NOTHING";

pub(crate) const CONSENTS_OF: &str = "SELECT id, contact_id, phone_number_id, category, value, \
     source, detail, meta_at, received_at_ms FROM consent_events WHERE contact_id = $1 \
     ORDER BY meta_at, id";

// ---- Outbound ----------------------------------------------------------------------------------

pub(crate) const TEMPLATES_OF: &str = concat!(
    "SELECT ",
    template_columns!(),
    " FROM templates WHERE waba_id = $1 ORDER BY name, language"
);

pub(crate) const TEMPLATES_NAMED: &str = concat!(
    "SELECT ",
    template_columns!(),
    " FROM templates WHERE waba_id = $1 AND name = $2 ORDER BY language"
);

/// A sync is Meta's word at `$12` (ms): it wins over webhooks of earlier seconds. A webhook of
/// the same second or later, whenever it arrives, wins over it (a webhook is news; a sync may
/// have read Meta a moment before the change it reports).
pub(crate) const SYNC_TEMPLATE: &str = "INSERT INTO templates \
     (waba_id, meta_id, name, language, status, category, previous_category, quality, reason, \
      components, parameter_format, synced_at_ms, updated_at_ms, status_at, category_at, quality_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $13, $13) \
     ON CONFLICT (waba_id, name, language) DO UPDATE SET meta_id = excluded.meta_id, \
       components = excluded.components, parameter_format = excluded.parameter_format, \
       synced_at_ms = excluded.synced_at_ms, updated_at_ms = excluded.updated_at_ms, \
       status = CASE WHEN templates.status_at <= excluded.status_at \
         THEN excluded.status ELSE templates.status END, \
       reason = CASE WHEN templates.status_at <= excluded.status_at \
         THEN excluded.reason ELSE templates.reason END, \
       status_at = CASE WHEN templates.status_at <= excluded.status_at \
         THEN excluded.status_at ELSE templates.status_at END, \
       previous_category = CASE WHEN templates.category_at <= excluded.category_at \
         AND templates.category IS NOT NULL AND templates.category <> excluded.category \
         THEN templates.category \
         ELSE COALESCE(excluded.previous_category, templates.previous_category) END, \
       category = CASE WHEN templates.category_at <= excluded.category_at \
         THEN excluded.category ELSE templates.category END, \
       category_at = CASE WHEN templates.category_at <= excluded.category_at \
         THEN excluded.category_at ELSE templates.category_at END, \
       quality = CASE WHEN templates.quality_at <= excluded.quality_at \
         THEN COALESCE(excluded.quality, templates.quality) ELSE templates.quality END, \
       quality_at = CASE WHEN templates.quality_at <= excluded.quality_at \
         THEN excluded.quality_at ELSE templates.quality_at END";

pub(crate) const MESSAGE_BY_ID: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages WHERE id = $1"
);

macro_rules! outbox_columns {
    () => {
        "message_id, phone_number_id, recipient, request, state, not_before_ms, attempts, resent, \
         sent_ms, last_error, created_at_ms, updated_at_ms"
    };
}

pub(crate) const OUTBOX_OF: &str = concat!(
    "SELECT ",
    outbox_columns!(),
    " FROM outbox WHERE message_id = $1"
);

pub(crate) const INSERT_OUTBOX: &str = "INSERT INTO outbox \
     (message_id, phone_number_id, recipient, request, state, not_before_ms, created_at_ms, \
      updated_at_ms) VALUES ($1, $2, $3, $4, 'queued', $5, $6, $6)";

pub(crate) const INSERT_COST: &str = "INSERT INTO costs \
     (message_id, phone_number_id, market, sent_at, pricing_model, category, pricing_type, \
      currency, predicted_micros) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// Taken when free, expired or already ours; no row back when another node holds it.
pub(crate) const TAKE_LEASE: &str = "INSERT INTO send_leases (phone_number_id, holder, until_ms) \
     VALUES ($1, $2, $4) ON CONFLICT (phone_number_id) DO UPDATE \
     SET holder = excluded.holder, until_ms = excluded.until_ms \
     WHERE send_leases.holder = excluded.holder OR send_leases.until_ms < $3 \
     RETURNING holder";

pub(crate) const RELEASE_LEASE: &str =
    "DELETE FROM send_leases WHERE phone_number_id = $1 AND holder = $2";

/// Rows a previous holder of the number's lease handed to the Graph API without recording the
/// answer: they may have left.
pub(crate) const ORPHANS_UNKNOWN: &str = "UPDATE outbox SET state = 'unknown', \
     not_before_ms = $2, updated_at_ms = $3, \
     last_error = 'the sender stopped before Meta answered; reconciling from status webhooks' \
     WHERE phone_number_id = $1 AND state = 'sending'";

pub(crate) const CLAIM_OUTBOX: &str = concat!(
    "UPDATE outbox SET state = 'sending', attempts = attempts + 1, \
       resent = resent + CASE WHEN state = 'unknown' THEN 1 ELSE 0 END, \
       sent_ms = $3, updated_at_ms = $3 \
     WHERE message_id IN (SELECT message_id FROM outbox \
       WHERE phone_number_id = $1 AND state IN ('queued', 'unknown') AND not_before_ms <= $2 \
       ORDER BY not_before_ms, message_id LIMIT $4) \
     RETURNING ",
    outbox_columns!()
);

pub(crate) const OUTBOX_SENT: &str = "UPDATE outbox SET state = 'sent', last_error = NULL, \
     updated_at_ms = $2 WHERE message_id = $1 AND state IN ('queued', 'sending', 'unknown')";

/// A status naming the message proves it left, whatever the sender concluded.
pub(crate) const OUTBOX_SETTLED: &str = "UPDATE outbox SET state = 'sent', last_error = NULL, \
     updated_at_ms = $2 WHERE message_id = $1 AND state <> 'sent'";

/// The wamid of an outbound message (NULL until known); no row for other messages.
pub(crate) const OUTBOUND_WAMID: &str =
    "SELECT wamid FROM messages WHERE id = $1 AND direction = 'outbound'";

pub(crate) const MESSAGE_WAMID: &str = "UPDATE messages SET wamid = $2 \
     WHERE id = $1 AND wamid IS NULL AND direction = 'outbound'";

pub(crate) const OUTBOX_AGAIN: &str = "UPDATE outbox SET state = $2, not_before_ms = $3, \
     last_error = $4, updated_at_ms = $5 WHERE message_id = $1 AND state = 'sending'";

pub(crate) const OUTBOX_FAILED: &str = "UPDATE outbox SET state = 'failed', last_error = $2, \
     updated_at_ms = $3 WHERE message_id = $1 AND state IN ('queued', 'sending', 'unknown')";

pub(crate) const MESSAGE_FAILED: &str = "UPDATE messages SET delivery = 'failed', \
     failed_at = $2, error_code = $3, error_class = $4, error_details = $5 \
     WHERE id = $1 AND (delivery IS NULL OR delivery = 'pending')";

pub(crate) const BILL_COST: &str = "UPDATE costs SET billed_model = $2, billed_category = $3, \
     billed_type = $4, billable = $5, billed_micros = $6, billed_at = $7 \
     WHERE message_id = $1 AND billed_at IS NULL";

pub(crate) const FACT_UNANSWERED: &str = "SELECT COUNT(*) FROM messages \
     WHERE conversation_id = $1 AND direction = 'outbound' AND business_initiated = 1 \
     AND meta_at > $2 AND (delivery IS NULL OR delivery <> 'failed')";

pub(crate) const FACT_MARKETING_SENT: &str = "SELECT m.meta_at FROM messages m \
     JOIN conversations c ON c.id = m.conversation_id \
     WHERE c.contact_id = $1 AND m.direction = 'outbound' AND m.business_initiated = 1 \
     AND m.category = 'marketing' AND m.meta_at >= $2 \
     AND (m.delivery IS NULL OR m.delivery <> 'failed') ORDER BY m.meta_at";

pub(crate) const FACT_MARKETING_HELD: &str = "SELECT MAX(m.failed_at) FROM messages m \
     JOIN conversations c ON c.id = m.conversation_id \
     WHERE c.contact_id = $1 AND m.direction = 'outbound' AND m.error_code = 131049";

/// A customer counts for 24 h after their latest business-initiated message: the first place
/// frees when the earliest of those latest times is 24 h old.
pub(crate) const FACT_REACH: &str = "SELECT COUNT(*), MIN(last_at), \
     CAST(COALESCE(MAX(CASE WHEN contact_id = $3 THEN 1 ELSE 0 END), 0) AS BIGINT) \
     FROM (SELECT c.contact_id AS contact_id, MAX(m.meta_at) AS last_at \
       FROM messages m JOIN conversations c ON c.id = m.conversation_id \
       JOIN contacts k ON k.id = c.contact_id \
       WHERE k.portfolio = $1 AND m.direction = 'outbound' AND m.business_initiated = 1 \
       AND m.meta_at > $2 AND (m.delivery IS NULL OR m.delivery <> 'failed') \
       GROUP BY c.contact_id) AS reached";

pub(crate) const FACT_SPEND: &str = "SELECT k.category, CAST(SUM(k.predicted_micros) AS BIGINT) \
     FROM costs k JOIN messages m ON m.id = k.message_id \
     WHERE k.sent_at >= $1 AND k.sent_at < $2 AND k.predicted_micros IS NOT NULL \
     AND (m.delivery IS NULL OR m.delivery <> 'failed') GROUP BY k.category";

pub(crate) const FACT_PAIR: &str = "SELECT COALESCE(sent_ms, not_before_ms) AS t FROM outbox \
     WHERE phone_number_id = $1 AND recipient = $2 AND state <> 'failed' \
     AND COALESCE(sent_ms, not_before_ms) >= $3 ORDER BY t";

pub(crate) const FACT_FIRST_REPLY: &str = "SELECT MIN(meta_at) FROM messages \
     WHERE conversation_id = $1 AND direction IN ('outbound', 'echo') AND meta_at >= $2 \
     AND (delivery IS NULL OR delivery <> 'failed')";

pub(crate) const RECENT_SENDS: &str = "SELECT recipient, sent_ms FROM outbox \
     WHERE phone_number_id = $1 AND sent_ms >= $2 AND state IN ('sending', 'unknown', 'sent') \
     ORDER BY sent_ms";

pub(crate) const COSTS_BETWEEN: &str = "SELECT k.message_id, k.phone_number_id, k.market, \
     k.sent_at, k.pricing_model, k.category, k.pricing_type, k.currency, k.predicted_micros, \
     k.billed_model, k.billed_category, k.billed_type, k.billable, k.billed_micros, k.billed_at, \
     m.wamid FROM costs k JOIN messages m ON m.id = k.message_id \
     WHERE k.sent_at >= $1 AND k.sent_at < $2 AND (m.delivery IS NULL OR m.delivery <> 'failed') \
     ORDER BY k.sent_at, k.message_id";
