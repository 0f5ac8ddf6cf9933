//! The free entry point window (cloud-api.md §6.2): a customer who writes through a
//! Click-to-WhatsApp ad or a Facebook Page button (from the phone app) opens the usual 24 h
//! window; if the business replies within those 24 h, that reply is free and opens a 72 h window
//! from the reply in which every message, templates included, is free (category
//! `referral_conversion`).
//!
//! It changes the price, never what may be sent: once the 24 h customer-service window lapses,
//! only templates may go, free or not.

use serde::Serialize;

use crate::Timestamp;
use crate::time::Seconds;

/// How long the business has to reply to an ad entry for the reply to open the window.
pub const REPLY_SPAN: Seconds = Seconds::DAY;
/// How long the free entry point window lasts from the business's reply.
pub const FREE_SPAN: Seconds = Seconds::hours(72);

/// A customer's free-entry-point state with one business number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum FreeEntryPoint {
    #[default]
    None,
    /// The customer wrote through an ad or Page button at `at` (Meta's timestamp); the business
    /// has not replied yet.
    Entered { at: Timestamp },
    /// The business replied at `opened_at`, opening the window.
    Open { opened_at: Timestamp },
}

/// What the free entry point means for a message sent at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreeEntryPointAt {
    /// No free window: the usual prices.
    None,
    /// This message is the business's first reply and opens a free window until `until`.
    Opens { until: Timestamp },
    /// A free window is open until `until`.
    Open { until: Timestamp },
}

impl FreeEntryPoint {
    /// The state at `now` for a message about to leave.
    pub fn at(self, now: Timestamp) -> FreeEntryPointAt {
        match self {
            Self::None => FreeEntryPointAt::None,
            Self::Entered { at } if at <= now && now < at + REPLY_SPAN => FreeEntryPointAt::Opens {
                until: now + FREE_SPAN,
            },
            Self::Entered { .. } => FreeEntryPointAt::None,
            Self::Open { opened_at } if opened_at <= now && now < opened_at + FREE_SPAN => {
                FreeEntryPointAt::Open {
                    until: opened_at + FREE_SPAN,
                }
            }
            Self::Open { .. } => FreeEntryPointAt::None,
        }
    }

    /// The state after the business sends a message at `at`.
    #[must_use]
    pub fn on_business_message(self, at: Timestamp) -> Self {
        match self.at(at) {
            FreeEntryPointAt::Opens { .. } => Self::Open { opened_at: at },
            _ => self,
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
    fn a_reply_within_24_hours_opens_72_free_hours() {
        let entered = FreeEntryPoint::Entered { at: ts(0) };
        assert_eq!(
            entered.at(ts(3_600)),
            FreeEntryPointAt::Opens {
                until: ts(3_600 + 72 * 3_600)
            }
        );
        assert_eq!(entered.at(ts(86_400)), FreeEntryPointAt::None);
        let open = entered.on_business_message(ts(3_600));
        assert_eq!(
            open,
            FreeEntryPoint::Open {
                opened_at: ts(3_600)
            }
        );
        assert_eq!(
            open.at(ts(3_600 + 72 * 3_600 - 1)),
            FreeEntryPointAt::Open {
                until: ts(3_600 + 72 * 3_600)
            }
        );
        assert_eq!(open.at(ts(3_600 + 72 * 3_600)), FreeEntryPointAt::None);
        assert_eq!(open.on_business_message(ts(9_000)), open);
    }

    #[test]
    fn a_late_reply_opens_nothing() {
        let entered = FreeEntryPoint::Entered { at: ts(0) };
        assert_eq!(entered.on_business_message(ts(90_000)), entered);
        assert_eq!(FreeEntryPoint::None.at(ts(1)), FreeEntryPointAt::None);
    }
}
