//! Status updates of messages the business sent (`value.statuses[]`, cloud-api.md §1.4).
//!
//! Meta sends them at least once and in no particular order: `read` may come before `delivered`,
//! or without it when the customer was looking at the chat. Merging them is a domain rule; this
//! module only reads them.

use serde::{Deserialize, Serialize};

use super::WebhookError;
use crate::de;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Status {
    /// The wamid of the business's message.
    pub id: String,
    pub status: StatusKind,
    #[serde(deserialize_with = "de::timestamp")]
    pub timestamp: i64,
    pub recipient_id: Option<String>,
    /// The recipient's business-scoped id; omitted when the send used a phone number.
    pub recipient_user_id: Option<String>,
    pub recipient_parent_user_id: Option<String>,
    /// `group` for group sends.
    pub recipient_type: Option<String>,
    pub recipient_participant_id: Option<String>,
    pub recipient_participant_user_id: Option<String>,
    pub recipient_participant_parent_user_id: Option<String>,
    pub recipient_identity_key_hash: Option<String>,
    /// Present only on `sent` and one of delivered/read, and since v24 only inside a free entry
    /// point window.
    pub conversation: Option<ConversationInfo>,
    /// Present only on `sent` and one of delivered/read. The source of truth for what Meta bills.
    pub pricing: Option<Pricing>,
    #[serde(default)]
    pub errors: Vec<WebhookError>,
    /// Echo of the value set on send: guichet puts its own message id there, to reconcile sends
    /// whose answer never came (the Graph API has no idempotency key).
    pub biz_opaque_callback_data: Option<String>,
}

/// A message's delivery step. Unknown values are kept, not rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusKind {
    Sent,
    Delivered,
    Read,
    /// First play of a voice message.
    Played,
    Failed,
    /// Meta's webhooks also show `deleted` and `warning` in older versions; any value we do not
    /// know is kept as written.
    #[serde(untagged)]
    Other(String),
}

impl StatusKind {
    pub fn parse(s: &str) -> Self {
        match s {
            "sent" => Self::Sent,
            "delivered" => Self::Delivered,
            "read" => Self::Read,
            "played" => Self::Played,
            "failed" => Self::Failed,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Played => "played",
            Self::Failed => "failed",
            Self::Other(s) => s,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationInfo {
    pub id: Option<String>,
    #[serde(default, deserialize_with = "de::opt_timestamp")]
    pub expiration_timestamp: Option<i64>,
    pub origin: Option<ConversationOrigin>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationOrigin {
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// `pricing` of a status: what Meta charges for this message (cloud-api.md §1.4, §7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pricing {
    /// To be deprecated by Meta in favour of `type` + `category`.
    pub billable: Option<bool>,
    /// `CBP` before 2025-07-01, `PMP` after.
    pub pricing_model: Option<String>,
    /// `regular`, `free_customer_service` or `free_entry_point`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `marketing`, `utility`, `authentication`, `authentication-international`, `service`,
    /// `marketing_lite`, `referral_conversion`, `general_purpose_ai`.
    pub category: Option<String>,
}
