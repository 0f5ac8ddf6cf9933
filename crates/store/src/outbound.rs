//! The rows of the outbound side: the outbox, the send leases, the cost ledger, template syncs,
//! and the facts preflight reads.

use serde::Serialize;

/// Where an outbound message is on its way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting for its turn (pacing, backoff).
    Queued,
    /// Handed to the Graph API: it may have left.
    Sending,
    /// No answer came: reconciled from status webhooks before at most one resend.
    Unknown,
    /// Meta accepted it.
    Sent,
    /// Meta refused it, or it could not be sent.
    Failed,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Unknown => "unknown",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Queued,
            Self::Sending,
            Self::Unknown,
            Self::Sent,
            Self::Failed,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// The outbox row of a message, written in the transaction that records the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutbox {
    pub message_id: i64,
    pub phone_number_id: String,
    /// The pair-rate key: the customer's wa_id or business-scoped user id.
    pub recipient: String,
    /// The Graph API body, JSON.
    pub request: String,
    pub not_before_ms: i64,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct OutboxRow {
    pub message_id: i64,
    pub phone_number_id: String,
    pub recipient: String,
    pub request: String,
    pub state: String,
    pub not_before_ms: i64,
    pub attempts: i64,
    pub resent: i64,
    pub sent_ms: Option<i64>,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// What became of one claimed outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxOutcome {
    /// Meta accepted it with this wamid.
    Sent { wamid: String },
    /// Try again after `not_before_ms`.
    Retry { not_before_ms: i64, error: String },
    /// No answer: it may have left. Reconciled from statuses, or resent once after
    /// `not_before_ms`.
    Unknown { not_before_ms: i64, error: String },
    /// Given up: the message failed with this error.
    Failed {
        code: Option<i64>,
        class: String,
        details: String,
        /// Meta's time of the failure (seconds).
        at: i64,
    },
}

/// A template as Meta's `GET message_templates` returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSync {
    pub waba_id: String,
    pub meta_id: String,
    pub name: String,
    pub language: String,
    pub status: String,
    pub category: String,
    pub previous_category: Option<String>,
    pub quality: Option<String>,
    pub reason: Option<String>,
    /// Meta's `components`, JSON.
    pub components: String,
    pub parameter_format: Option<String>,
    pub synced_at_ms: i64,
}

/// The predicted price of an outbound message, recorded when it is queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCost {
    pub message_id: i64,
    pub phone_number_id: String,
    /// `Market` code of the recipient.
    pub market: String,
    /// Meta time (seconds) the price was predicted for.
    pub sent_at: i64,
    pub pricing_model: String,
    pub category: String,
    pub pricing_type: String,
    pub currency: Option<String>,
    pub predicted_micros: Option<i64>,
}

/// Meta's bill of a message, from the `pricing` of a status webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostBill {
    pub message_id: i64,
    pub model: Option<String>,
    pub category: Option<String>,
    pub pricing_type: Option<String>,
    pub billable: Option<bool>,
    /// From the rate card for the billed category, when known.
    pub billed_micros: Option<i64>,
    pub billed_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct CostRow {
    pub message_id: i64,
    pub phone_number_id: String,
    pub market: String,
    pub sent_at: i64,
    pub pricing_model: String,
    pub category: String,
    pub pricing_type: String,
    pub currency: Option<String>,
    pub predicted_micros: Option<i64>,
    pub billed_model: Option<String>,
    pub billed_category: Option<String>,
    pub billed_type: Option<String>,
    pub billable: Option<i64>,
    pub billed_micros: Option<i64>,
    pub billed_at: Option<i64>,
    pub wamid: Option<String>,
}

/// What preflight needs to know about one business number and customer, read at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactsQuery {
    pub portfolio: String,
    pub phone_number_id: String,
    pub contact_id: i64,
    /// The customer's pair-rate key (see [`NewOutbox::recipient`]).
    pub recipient: String,
    /// The conversation, if there is one yet.
    pub conversation_id: Option<i64>,
    /// Meta time of the customer's last message: business-initiated messages after it are
    /// unanswered.
    pub last_inbound_at: Option<i64>,
    /// Marketing templates sent since (Meta time, seconds).
    pub marketing_since: i64,
    /// Business-initiated conversations counted since (Meta time, seconds): now − 24 h.
    pub reach_since: i64,
    /// Outbox rows of this pair since (ms), for the pair rate.
    pub pair_since_ms: i64,
    /// Spend summed over `[from, to)` (Meta time), when a budget needs it.
    pub spend_between: Option<(i64, i64)>,
    /// The customer's latest Click-to-WhatsApp entry (Meta time), if any.
    pub last_referral_at: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FactsRow {
    pub unanswered: i64,
    /// Meta times of business-initiated marketing templates.
    pub marketing_sent: Vec<i64>,
    /// Latest 131049 failure of a marketing template to this customer.
    pub marketing_held_at: Option<i64>,
    /// Distinct customers reached outside a window since `reach_since`.
    pub reached: i64,
    pub recipient_counted: bool,
    /// The earliest business-initiated message of the span.
    pub first_reach_at: Option<i64>,
    /// Predicted spend by category (micros).
    pub spend: Vec<(String, i64)>,
    /// When the queued and recent messages of the pair go (ms): sent, or due.
    pub pair_times_ms: Vec<i64>,
    /// The business's first message after `last_referral_at`: it opened the free entry point
    /// window.
    pub first_reply_after_referral: Option<i64>,
}

/// A message guichet sent recently, for rebuilding a number's pair limiters after a restart.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RecentSend {
    pub recipient: String,
    pub sent_ms: i64,
}
