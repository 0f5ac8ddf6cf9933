//! What the agent inbox reads and writes: the conversation list with its filters, counts and
//! per-agent unread markers; assignment, status and handler changes; labels, private notes, read
//! positions and canned replies.

use async_trait::async_trait;
use serde::Serialize;

use crate::{ConversationView, EventRow, Result};

/// Which conversations, by who holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignment {
    /// Held by the agent asking.
    Mine,
    /// Held by nobody.
    Unassigned,
}

impl Assignment {
    fn as_str(self) -> &'static str {
        match self {
            Self::Mine => "mine",
            Self::Unassigned => "unassigned",
        }
    }
}

/// A page of the inbox, as one agent sees it.
#[derive(Debug, Clone, Default)]
pub struct InboxQuery {
    /// The agent asking: whose unread markers, and who "mine" is.
    pub user_id: i64,
    pub status: Option<String>,
    pub assignment: Option<Assignment>,
    pub phone_number_id: Option<String>,
    pub label_id: Option<i64>,
    /// Free text, matched case-insensitively in the contact's name, phone, WhatsApp id and
    /// username and in the messages' text. Taken literally: `%` and `_` are not wildcards.
    pub search: Option<String>,
    /// Continue after this (last_message_at, id).
    pub after: Option<(i64, i64)>,
    pub limit: i64,
}

impl InboxQuery {
    /// The statement's parameters, `$1` to `$9`, in order.
    pub(crate) fn params(&self) -> InboxParams {
        InboxParams {
            status: self.status.clone(),
            phone_number_id: self.phone_number_id.clone(),
            assignment: self.assignment.map(|a| a.as_str().to_owned()),
            user_id: self.user_id,
            label_id: self.label_id,
            pattern: self
                .search
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(like_pattern),
            after_at: self.after.map(|a| a.0),
            after_id: self.after.map(|a| a.1),
            limit: self.limit,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct InboxParams {
    pub status: Option<String>,
    pub phone_number_id: Option<String>,
    pub assignment: Option<String>,
    pub user_id: i64,
    pub label_id: Option<i64>,
    pub pattern: Option<String>,
    pub after_at: Option<i64>,
    pub after_id: Option<i64>,
    pub limit: i64,
}

/// `%text%` for `LIKE … ESCAPE '\'`, lower-cased, with the wildcards of the text escaped.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for ch in text.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

/// A conversation as the inbox lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct InboxItem {
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub view: ConversationView,
    pub assignee_id: Option<i64>,
    /// bot | queued_for_human | human
    pub handler: String,
    /// Customer messages this agent has not read.
    pub unread: i64,
    pub last_preview: Option<String>,
    pub last_direction: Option<String>,
    pub last_kind: Option<String>,
    /// The labels' names, joined by U+001F (see [`InboxItem::labels`]).
    pub label_names: Option<String>,
}

impl InboxItem {
    pub fn labels(&self) -> Vec<&str> {
        self.label_names
            .as_deref()
            .map(|s| s.split('\u{1f}').filter(|l| !l.is_empty()).collect())
            .unwrap_or_default()
    }
}

/// How many conversations each tab of the inbox holds, under the other filters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct InboxCounts {
    pub open: i64,
    pub pending: i64,
    pub resolved: i64,
    pub mine: i64,
    pub unassigned: i64,
    pub all: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct LabelRow {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct NoteRow {
    pub id: i64,
    pub conversation_id: i64,
    pub author_id: i64,
    pub body: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct CannedReply {
    pub id: i64,
    pub shortcut: String,
    pub title: String,
    pub body: String,
    pub updated_at_ms: i64,
}

/// What a conversation's messages cost so far, in one currency: Meta's bill where it came,
/// guichet's prediction otherwise. Failed messages are left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ConversationCost {
    pub currency: Option<String>,
    pub micros: i64,
    pub messages: i64,
}

/// A message as the overview counts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct StatRow {
    pub conversation_id: i64,
    pub phone_number_id: String,
    pub direction: String,
    pub meta_at: i64,
    pub author_kind: Option<String>,
    pub author_id: Option<i64>,
}

/// Who wrote an outbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    Agent(i64),
    Bot,
    Api,
}

impl Author {
    pub fn kind(self) -> &'static str {
        match self {
            Self::Agent(_) => "agent",
            Self::Bot => "bot",
            Self::Api => "api",
        }
    }

    pub fn user_id(self) -> Option<i64> {
        match self {
            Self::Agent(id) => Some(id),
            Self::Bot | Self::Api => None,
        }
    }
}

/// The inbox's reads.
#[async_trait]
pub trait Inbox {
    /// Conversations matching the query, newest activity first.
    async fn inbox(&self, query: &InboxQuery) -> Result<Vec<InboxItem>>;
    /// The tab counts: by status under the query's other filters (assignment included), and by
    /// assignment under its other filters (status included). Paging is ignored.
    async fn inbox_counts(&self, query: &InboxQuery) -> Result<InboxCounts>;
    /// One conversation as the inbox lists it, for this agent.
    async fn inbox_item(&self, conversation_id: i64, user_id: i64) -> Result<Option<InboxItem>>;
    /// Every label, by name.
    async fn labels(&self) -> Result<Vec<LabelRow>>;
    async fn labels_of(&self, conversation_id: i64) -> Result<Vec<LabelRow>>;
    async fn notes(&self, conversation_id: i64) -> Result<Vec<NoteRow>>;
    async fn canned_replies(&self) -> Result<Vec<CannedReply>>;
    /// A conversation's events, oldest first (the inbox shows its changes in the thread).
    async fn conversation_events(&self, conversation_id: i64, limit: i64) -> Result<Vec<EventRow>>;
    async fn conversation_cost(&self, conversation_id: i64) -> Result<Vec<ConversationCost>>;
    /// Every message of `[from_at, to_at)` (Meta time, seconds), for the overview.
    async fn stat_messages(&self, from_at: i64, to_at: i64) -> Result<Vec<StatRow>>;
    /// The events of a kind written in `[from_ms, to_ms)`, oldest first.
    async fn events_of_kind(&self, kind: &str, from_ms: i64, to_ms: i64) -> Result<Vec<EventRow>>;
    /// The newest event's id (0 when there is none): where a live feed starts.
    async fn last_event_id(&self) -> Result<i64>;
    /// Who wrote these messages (kind, user id), for the ones guichet sent.
    async fn authors(&self, message_ids: &[i64]) -> Result<Vec<(i64, String, Option<i64>)>>;
}

/// The inbox's writes, inside a transaction (each with its event, by the caller).
#[async_trait]
pub trait InboxTx {
    /// Sets who holds a conversation; `false` if that was already so.
    async fn set_assignee(
        &mut self,
        conversation_id: i64,
        assignee: Option<i64>,
        at_ms: i64,
    ) -> Result<bool>;
    /// Sets open / pending / resolved; `false` if that was already so.
    async fn set_status(&mut self, conversation_id: i64, status: &str, at_ms: i64) -> Result<bool>;
    /// Sets bot / queued_for_human / human; `false` if that was already so.
    async fn set_handler(
        &mut self,
        conversation_id: i64,
        handler: &str,
        at_ms: i64,
    ) -> Result<bool>;
    /// Replaces a conversation's labels, creating the ones that do not exist (names compared
    /// case-insensitively).
    async fn set_labels(
        &mut self,
        conversation_id: i64,
        names: &[String],
        at_ms: i64,
    ) -> Result<()>;
    async fn insert_note(
        &mut self,
        conversation_id: i64,
        author_id: i64,
        body: &str,
        at_ms: i64,
    ) -> Result<i64>;
    async fn set_author(&mut self, message_id: i64, author: Author) -> Result<()>;
    /// Moves an agent's read position forward (never back).
    async fn mark_read(
        &mut self,
        user_id: i64,
        conversation_id: i64,
        message_id: i64,
        at_ms: i64,
    ) -> Result<()>;
    /// Creates or replaces the canned reply with this shortcut.
    async fn save_canned(
        &mut self,
        shortcut: &str,
        title: &str,
        body: &str,
        at_ms: i64,
    ) -> Result<i64>;
    async fn delete_canned(&mut self, id: i64) -> Result<bool>;
}

// --- The SQL both backends share (see `sql.rs` for the conventions). ---

/// The list's columns; `$agg` joins label names (`group_concat` / `string_agg`).
macro_rules! inbox_select {
    ($agg:literal) => {
        concat!(
            "SELECT c.id, c.phone_number_id, c.contact_id, c.status, \
             c.last_message_at, c.last_inbound_at, c.last_referral_at, c.unread_count, \
             c.message_count, c.created_at_ms, c.updated_at_ms, \
             k.user_id AS contact_user_id, k.wa_id AS contact_wa_id, k.phone AS contact_phone, \
             k.username AS contact_username, k.profile_name AS contact_profile_name, \
             c.assignee_id, c.handler, \
             (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id \
                AND m.direction = 'inbound' AND m.id > COALESCE((SELECT r.last_read_message_id \
                FROM conversation_reads r WHERE r.user_id = $4 AND r.conversation_id = c.id), 0)) \
                AS unread, \
             lm.preview AS last_preview, lm.direction AS last_direction, lm.kind AS last_kind, \
             (SELECT ",
            $agg,
            " FROM conversation_labels cl JOIN labels l ON l.id = cl.label_id \
                WHERE cl.conversation_id = c.id) AS label_names \
             FROM conversations c JOIN contacts k ON k.id = c.contact_id \
             LEFT JOIN messages lm ON lm.id = (SELECT m2.id FROM messages m2 \
                WHERE m2.conversation_id = c.id ORDER BY m2.meta_at DESC, m2.id DESC LIMIT 1)"
        )
    };
}

/// The filters: $1 status, $2 number, $3 assignment (mine | unassigned), $4 the agent, $5
/// label, $6 search pattern. Each is skipped when NULL.
macro_rules! inbox_filters {
    (status) => {
        "(CAST($1 AS TEXT) IS NULL OR c.status = $1)"
    };
    (assignment) => {
        "(CAST($3 AS TEXT) IS NULL OR ($3 = 'mine' AND c.assignee_id = $4) \
           OR ($3 = 'unassigned' AND c.assignee_id IS NULL))"
    };
    (rest) => {
        "(CAST($2 AS TEXT) IS NULL OR c.phone_number_id = $2) \
         AND (CAST($5 AS BIGINT) IS NULL OR EXISTS (SELECT 1 FROM conversation_labels fl \
              WHERE fl.conversation_id = c.id AND fl.label_id = $5)) \
         AND (CAST($6 AS TEXT) IS NULL OR LOWER(COALESCE(k.profile_name, '')) LIKE $6 ESCAPE '\\' \
              OR LOWER(COALESCE(k.phone, '')) LIKE $6 ESCAPE '\\' \
              OR LOWER(COALESCE(k.wa_id, '')) LIKE $6 ESCAPE '\\' \
              OR LOWER(COALESCE(k.username, '')) LIKE $6 ESCAPE '\\' \
              OR EXISTS (SELECT 1 FROM messages fm WHERE fm.conversation_id = c.id \
                 AND LOWER(fm.preview) LIKE $6 ESCAPE '\\'))"
    };
}

macro_rules! inbox_list {
    ($agg:literal) => {
        concat!(
            inbox_select!($agg),
            " WHERE ",
            inbox_filters!(status),
            " AND ",
            inbox_filters!(assignment),
            " AND ",
            inbox_filters!(rest),
            " AND (CAST($7 AS BIGINT) IS NULL OR (c.last_message_at, c.id) < \
               (CAST($7 AS BIGINT), CAST($8 AS BIGINT))) \
             ORDER BY c.last_message_at DESC, c.id DESC LIMIT $9"
        )
    };
}
/// One conversation: $1 its id, $4 the agent ($2 and $3 are NULL, bound so that both backends
/// see the same parameters).
macro_rules! inbox_item {
    ($agg:literal) => {
        concat!(
            inbox_select!($agg),
            " WHERE c.id = $1 AND CAST($2 AS TEXT) IS NULL AND CAST($3 AS TEXT) IS NULL"
        )
    };
}
pub(crate) use {inbox_filters, inbox_item, inbox_list, inbox_select};

/// Counts by status ($1 unused but bound, so that every statement takes the same parameters).
pub(crate) const INBOX_COUNT_STATUS: &str = concat!(
    "SELECT \
       SUM(CASE WHEN c.status = 'open' THEN 1 ELSE 0 END) AS open, \
       SUM(CASE WHEN c.status = 'pending' THEN 1 ELSE 0 END) AS pending, \
       SUM(CASE WHEN c.status = 'resolved' THEN 1 ELSE 0 END) AS resolved \
     FROM conversations c JOIN contacts k ON k.id = c.contact_id \
     WHERE (CAST($1 AS TEXT) IS NULL OR TRUE) AND ",
    inbox_filters!(assignment),
    " AND ",
    inbox_filters!(rest)
);

pub(crate) const INBOX_COUNT_ASSIGNMENT: &str = concat!(
    "SELECT \
       SUM(CASE WHEN c.assignee_id = $4 THEN 1 ELSE 0 END) AS mine, \
       SUM(CASE WHEN c.assignee_id IS NULL THEN 1 ELSE 0 END) AS unassigned, \
       COUNT(*) AS total \
     FROM conversations c JOIN contacts k ON k.id = c.contact_id \
     WHERE (CAST($3 AS TEXT) IS NULL OR TRUE) AND ",
    inbox_filters!(status),
    " AND ",
    inbox_filters!(rest)
);

pub(crate) const LABELS: &str = "SELECT id, name FROM labels ORDER BY name_key";
pub(crate) const LABELS_OF: &str = "SELECT l.id, l.name FROM conversation_labels cl \
     JOIN labels l ON l.id = cl.label_id WHERE cl.conversation_id = $1 ORDER BY l.name_key";
pub(crate) const NOTES: &str = "SELECT id, conversation_id, author_id, body, created_at_ms \
     FROM notes WHERE conversation_id = $1 ORDER BY id";
pub(crate) const CANNED: &str =
    "SELECT id, shortcut, title, body, updated_at_ms FROM canned_replies ORDER BY shortcut";
pub(crate) const CONVERSATION_EVENTS: &str = "SELECT id, kind, conversation_id, message_id, \
     payload, created_at_ms FROM events WHERE conversation_id = $1 ORDER BY id LIMIT $2";
pub(crate) const CONVERSATION_COST: &str = "SELECT k.currency, \
     CAST(COALESCE(SUM(COALESCE(k.billed_micros, k.predicted_micros, 0)), 0) AS BIGINT) AS micros, \
     COUNT(*) AS messages FROM costs k JOIN messages m ON m.id = k.message_id \
     WHERE m.conversation_id = $1 AND (m.delivery IS NULL OR m.delivery <> 'failed') \
     GROUP BY k.currency ORDER BY k.currency";
pub(crate) const STAT_MESSAGES: &str = "SELECT m.conversation_id, c.phone_number_id, \
     m.direction, m.meta_at, m.author_kind, m.author_id FROM messages m \
     JOIN conversations c ON c.id = m.conversation_id \
     WHERE m.meta_at >= $1 AND m.meta_at < $2 ORDER BY m.meta_at, m.id";
pub(crate) const EVENTS_OF_KIND: &str = "SELECT id, kind, conversation_id, message_id, payload, \
     created_at_ms FROM events WHERE kind = $1 AND created_at_ms >= $2 AND created_at_ms < $3 \
     ORDER BY id";
pub(crate) const LAST_EVENT_ID: &str = "SELECT COALESCE(MAX(id), 0) FROM events";
pub(crate) const AUTHOR_OF: &str = "SELECT id, author_kind, author_id FROM messages \
     WHERE id = $1 AND author_kind IS NOT NULL";

pub(crate) const SET_ASSIGNEE: &str = "UPDATE conversations SET assignee_id = $2, \
     updated_at_ms = $3 WHERE id = $1 AND assignee_id IS DISTINCT FROM $2";
pub(crate) const SET_STATUS: &str = "UPDATE conversations SET status = $2, updated_at_ms = $3 \
     WHERE id = $1 AND status <> $2";
pub(crate) const SET_HANDLER: &str = "UPDATE conversations SET handler = $2, \
     handler_at_ms = $3, updated_at_ms = $3 WHERE id = $1 AND handler <> $2";
pub(crate) const CLEAR_LABELS: &str = "DELETE FROM conversation_labels WHERE conversation_id = $1";
pub(crate) const UPSERT_LABEL: &str = "INSERT INTO labels (name, name_key, created_at_ms) \
     VALUES ($1, $2, $3) ON CONFLICT (name_key) DO NOTHING";
pub(crate) const LABEL_ID: &str = "SELECT id FROM labels WHERE name_key = $1";
pub(crate) const ATTACH_LABEL: &str = "INSERT INTO conversation_labels (conversation_id, label_id) \
     VALUES ($1, $2) ON CONFLICT DO NOTHING";
pub(crate) const INSERT_NOTE: &str = "INSERT INTO notes (conversation_id, author_id, body, \
     created_at_ms) VALUES ($1, $2, $3, $4) RETURNING id";
pub(crate) const SET_AUTHOR: &str =
    "UPDATE messages SET author_kind = $2, author_id = $3 WHERE id = $1";
pub(crate) const MARK_READ: &str = "INSERT INTO conversation_reads \
     (user_id, conversation_id, last_read_message_id, read_at_ms) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (user_id, conversation_id) DO UPDATE SET \
     last_read_message_id = CASE WHEN excluded.last_read_message_id > \
       conversation_reads.last_read_message_id THEN excluded.last_read_message_id \
       ELSE conversation_reads.last_read_message_id END, read_at_ms = excluded.read_at_ms";
pub(crate) const SAVE_CANNED: &str = "INSERT INTO canned_replies (shortcut, title, body, \
     updated_at_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (shortcut) DO UPDATE SET \
     title = excluded.title, body = excluded.body, updated_at_ms = excluded.updated_at_ms \
     RETURNING id";
pub(crate) const DELETE_CANNED: &str = "DELETE FROM canned_replies WHERE id = $1";

/// A label's key: its name, trimmed and lower-cased.
pub(crate) fn label_key(name: &str) -> String {
    name.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_is_literal() {
        assert_eq!(like_pattern("Ana"), "%ana%");
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
