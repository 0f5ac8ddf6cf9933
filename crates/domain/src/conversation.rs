//! A conversation: one business number and one customer, and where the business's follow-up
//! stands.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// Where the business's work on a conversation stands, as the inbox filters it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    /// Waiting for the business.
    Open,
    /// Waiting for the customer (or a third party); back to open when the customer writes.
    Pending,
    /// Done; reopened by the customer's next message.
    Resolved,
}

impl ConversationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Pending => "pending",
            Self::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => Self::Open,
            "pending" => Self::Pending,
            "resolved" => Self::Resolved,
            _ => return None,
        })
    }

    /// A new message from the customer always puts the conversation back in front of the
    /// business: a resolved or pending conversation reopens.
    pub fn on_customer_message(self) -> Self {
        Self::Open
    }
}

/// The activity fields of a conversation, kept in Meta's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// The newest message either way, by Meta's timestamp: what "newest first" sorts on.
    pub last_message_at: Option<Timestamp>,
    /// The newest customer message: opens the 24 h customer-service window.
    pub last_inbound_at: Option<Timestamp>,
}

impl Activity {
    /// Records a message at `at`. Messages may arrive out of order: an older one never makes
    /// the conversation look older than it is.
    #[must_use]
    pub fn with_message(self, at: Timestamp, from_customer: bool) -> Self {
        let later = |current: Option<Timestamp>| Some(current.map_or(at, |c| c.max(at)));
        Self {
            last_message_at: later(self.last_message_at),
            last_inbound_at: if from_customer {
                later(self.last_inbound_at)
            } else {
                self.last_inbound_at
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_unix(s)
    }

    #[test]
    fn a_customer_message_reopens_the_conversation() {
        for s in [
            ConversationStatus::Open,
            ConversationStatus::Pending,
            ConversationStatus::Resolved,
        ] {
            assert_eq!(s.on_customer_message(), ConversationStatus::Open);
        }
    }

    #[test]
    fn status_names_roundtrip() {
        for s in [
            ConversationStatus::Open,
            ConversationStatus::Pending,
            ConversationStatus::Resolved,
        ] {
            assert_eq!(ConversationStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(ConversationStatus::parse("closed"), None);
    }

    #[test]
    fn an_older_message_arriving_late_does_not_make_the_conversation_older() {
        let a = Activity {
            last_message_at: None,
            last_inbound_at: None,
        }
        .with_message(ts(100), true)
        .with_message(ts(50), true);
        assert_eq!(a.last_message_at, Some(ts(100)));
        assert_eq!(a.last_inbound_at, Some(ts(100)));
    }

    #[test]
    fn only_customer_messages_move_the_inbound_time() {
        let a = Activity {
            last_message_at: None,
            last_inbound_at: Some(ts(10)),
        }
        .with_message(ts(20), false);
        assert_eq!(a.last_inbound_at, Some(ts(10)));
        assert_eq!(a.last_message_at, Some(ts(20)));
    }
}
