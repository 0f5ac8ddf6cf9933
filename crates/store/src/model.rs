//! What the store reads and writes. Plain data: the rules that decide it live in `domain`, and
//! the hub maps between the two.

use serde::Serialize;

/// A webhook body to append, already signature-checked.
#[derive(Debug, Clone)]
pub struct NewInboundEvent {
    pub body_sha256: [u8; 32],
    /// Shared with the HTTP layer without copying.
    pub body: bytes::Bytes,
    /// The configured app whose secret matched.
    pub app: String,
    pub received_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboundEvent {
    pub id: i64,
    pub body: Vec<u8>,
    pub app: String,
    pub received_at_ms: i64,
    pub attempts: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundState {
    Done,
    Failed,
}

impl InboundState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ContactRow {
    pub id: i64,
    pub portfolio: String,
    pub user_id: Option<String>,
    pub parent_user_id: Option<String>,
    pub wa_id: Option<String>,
    pub phone: Option<String>,
    pub username: Option<String>,
    pub profile_name: Option<String>,
    pub seen_at: Option<i64>,
    pub marketing: Option<String>,
    pub marketing_at: Option<i64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// The contacts found by an identity's BSUID and by its WhatsApp id (maybe the same one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactMatches {
    pub by_user_id: Option<ContactRow>,
    pub by_wa_id: Option<ContactRow>,
}

impl ContactMatches {
    pub(crate) fn sort(rows: Vec<ContactRow>, user_id: Option<&str>, wa_id: Option<&str>) -> Self {
        let mut m = Self::default();
        for row in rows {
            if user_id.is_some() && row.user_id.as_deref() == user_id {
                m.by_user_id = Some(row.clone());
            }
            if wa_id.is_some() && row.wa_id.as_deref() == wa_id {
                m.by_wa_id = Some(row);
            }
        }
        m
    }
}

/// What recording a status did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusRecorded {
    /// Seen before: nothing changed.
    Duplicate,
    /// Stored; the message it is about, if guichet has it yet.
    New(Option<MessageDelivery>),
}

/// The identity fields of a contact, as the hub decided them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactFields {
    pub portfolio: String,
    pub user_id: Option<String>,
    pub parent_user_id: Option<String>,
    pub wa_id: Option<String>,
    pub phone: Option<String>,
    pub username: Option<String>,
    pub profile_name: Option<String>,
    /// Meta time of the newest webhook item these fields came from.
    pub seen_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ConversationRow {
    pub id: i64,
    pub phone_number_id: String,
    pub contact_id: i64,
    pub status: String,
    /// 0 until the first message.
    pub last_message_at: i64,
    pub last_inbound_at: Option<i64>,
    pub last_referral_at: Option<i64>,
    pub unread_count: i64,
    pub message_count: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A conversation with the contact it is with, as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ConversationView {
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub conversation: ConversationRow,
    pub contact_user_id: Option<String>,
    pub contact_wa_id: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_username: Option<String>,
    pub contact_profile_name: Option<String>,
}

/// The mutable part of a conversation, written back after the rules ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationUpdate {
    pub status: String,
    pub last_message_at: i64,
    pub last_inbound_at: Option<i64>,
    pub last_referral_at: Option<i64>,
    /// Added to the counters.
    pub new_unread: i64,
    pub new_messages: i64,
    pub updated_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub conversation_id: i64,
    pub wamid: Option<String>,
    pub direction: Direction,
    pub kind: String,
    pub meta_at: i64,
    pub received_at_ms: i64,
    pub preview: Option<String>,
    pub content: String,
    pub raw: Option<String>,
    pub context_wamid: Option<String>,
    pub referral: Option<String>,
    pub errors: Option<String>,
    pub delivery: Option<String>,
    /// Outbound: the priced category preflight settled on.
    pub category: Option<String>,
    /// Outbound: a template sent outside the customer-service window.
    pub business_initiated: bool,
    /// Outbound: sent as `biz_opaque_callback_data`, echoed by Meta on the statuses.
    pub biz_opaque: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
    /// Sent by the business from the WhatsApp Business app (coexistence).
    Echo,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
            Self::Echo => "echo",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct MessageRow {
    pub id: i64,
    pub conversation_id: i64,
    pub wamid: Option<String>,
    pub direction: String,
    pub kind: String,
    pub meta_at: i64,
    pub received_at_ms: i64,
    pub preview: Option<String>,
    pub content: String,
    pub raw: Option<String>,
    pub context_wamid: Option<String>,
    pub referral: Option<String>,
    pub errors: Option<String>,
    pub delivery: Option<String>,
    pub sent_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub read_at: Option<i64>,
    pub played_at: Option<i64>,
    pub failed_at: Option<i64>,
    pub error_code: Option<i64>,
    pub error_class: Option<String>,
    pub error_details: Option<String>,
    pub biz_opaque: Option<String>,
    /// Outbound: the priced category preflight settled on.
    pub category: Option<String>,
}

/// A message's merged delivery, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryColumns {
    pub delivery: Option<String>,
    pub sent_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub read_at: Option<i64>,
    pub played_at: Option<i64>,
    pub failed_at: Option<i64>,
    pub error_code: Option<i64>,
    pub error_class: Option<String>,
    pub error_details: Option<String>,
}

/// The message a status is about, with its delivery so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageDelivery {
    pub message_id: i64,
    pub conversation_id: i64,
    pub columns: DeliveryColumns,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStatus {
    pub wamid: String,
    pub status: String,
    pub meta_at: i64,
    pub phone_number_id: String,
    pub recipient_id: Option<String>,
    pub recipient_user_id: Option<String>,
    pub error_code: Option<i64>,
    pub errors: Option<String>,
    pub pricing_model: Option<String>,
    pub pricing_type: Option<String>,
    pub pricing_category: Option<String>,
    pub billable: Option<bool>,
    pub conversation: Option<String>,
    pub biz_opaque: Option<String>,
    pub received_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct StatusRow {
    pub wamid: String,
    pub status: String,
    pub meta_at: i64,
    pub error_code: Option<i64>,
    pub errors: Option<String>,
    pub pricing_model: Option<String>,
    pub pricing_type: Option<String>,
    pub pricing_category: Option<String>,
    pub billable: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub kind: String,
    pub conversation_id: Option<i64>,
    pub message_id: Option<i64>,
    pub payload: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub kind: String,
    pub conversation_id: Option<i64>,
    pub message_id: Option<i64>,
    pub payload: String,
    pub created_at_ms: i64,
}

/// One template webhook (status, quality or category), applied if newer than what is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateEvent {
    pub waba_id: String,
    pub meta_id: String,
    pub name: String,
    pub language: String,
    pub field: TemplateField,
    pub value: String,
    /// For a status: the category Meta gave with it. For a category change: the previous one.
    pub category: Option<String>,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub meta_at: i64,
    pub received_at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateField {
    Status,
    Quality,
    Category,
}

impl TemplateField {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Quality => "quality",
            Self::Category => "category",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct TemplateRow {
    pub id: i64,
    pub waba_id: String,
    pub meta_id: Option<String>,
    pub name: String,
    pub language: String,
    pub status: Option<String>,
    pub category: Option<String>,
    pub previous_category: Option<String>,
    pub quality: Option<String>,
    pub reason: Option<String>,
    /// Meta's `components`, JSON, as the last sync saw them.
    pub components: Option<String>,
    pub parameter_format: Option<String>,
    pub synced_at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConsent {
    pub contact_id: i64,
    pub phone_number_id: Option<String>,
    pub category: String,
    pub value: String,
    pub source: String,
    pub detail: Option<String>,
    pub meta_at: i64,
    pub received_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ConsentRow {
    pub id: i64,
    pub contact_id: i64,
    pub phone_number_id: Option<String>,
    pub category: String,
    pub value: String,
    pub source: String,
    pub detail: Option<String>,
    pub meta_at: i64,
    pub received_at_ms: i64,
}

/// Filters and keyset position for the conversation list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationQuery {
    pub status: Option<String>,
    pub phone_number_id: Option<String>,
    /// Continue after this (last_message_at, id), as returned by the previous page.
    pub after: Option<(i64, i64)>,
    pub limit: i64,
}

/// A page of a conversation's messages, in Meta's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageQuery {
    /// The oldest first, after this (meta_at, id) position if given.
    Forward {
        after: Option<(i64, i64)>,
        limit: i64,
    },
    /// The newest first, before this (meta_at, id) position if given: how an inbox opens a
    /// conversation at its end.
    Backward {
        before: Option<(i64, i64)>,
        limit: i64,
    },
}

impl MessageQuery {
    /// The statement, the keyset position and the limit.
    pub(crate) fn statement(&self) -> (&'static str, Option<(i64, i64)>, i64) {
        match *self {
            Self::Forward { after, limit } => (crate::sql::MESSAGES_FORWARD, after, limit),
            Self::Backward { before, limit } => (crate::sql::MESSAGES_BACKWARD, before, limit),
        }
    }
}

/// Counts for readiness and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboundCounts {
    pub pending: i64,
    pub failed: i64,
}
