//! The 24 h customer-service window (cloud-api.md §6.1): it opens when the customer writes, each
//! new customer message resets it to 24 h, and outside it only approved templates may be sent.
//! Computed from Meta's timestamp of the customer's last message, never from processing time.

use serde::Serialize;

use crate::Timestamp;
use crate::time::Seconds;

/// How long a customer message keeps the window open.
pub const SERVICE_WINDOW: Seconds = Seconds::DAY;

/// The customer-service window at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ServiceWindow {
    /// The customer never wrote: only templates can reach them.
    Never,
    /// Free-form messages are allowed until `closes_at`.
    Open {
        closes_at: Timestamp,
        remaining: Seconds,
    },
    /// The window closed at `closed_at`, `ago` before now: send an approved template.
    Closed { closed_at: Timestamp, ago: Seconds },
}

impl ServiceWindow {
    pub fn at(last_inbound: Option<Timestamp>, now: Timestamp) -> Self {
        let Some(last) = last_inbound else {
            return Self::Never;
        };
        let closes_at = last + SERVICE_WINDOW;
        if now < closes_at {
            Self::Open {
                closes_at,
                remaining: closes_at - now,
            }
        } else {
            Self::Closed {
                closed_at: closes_at,
                ago: now - closes_at,
            }
        }
    }

    pub fn is_open(self) -> bool {
        matches!(self, Self::Open { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_unix(s)
    }

    #[test]
    fn open_for_24_hours_after_the_customer_writes() {
        let w = ServiceWindow::at(Some(ts(1000)), ts(1000 + 3600));
        assert_eq!(
            w,
            ServiceWindow::Open {
                closes_at: ts(1000 + 86_400),
                remaining: Seconds(82_800)
            }
        );
        assert!(w.is_open());
    }

    #[test]
    fn closed_exactly_at_24_hours_and_says_how_long_ago() {
        assert!(!ServiceWindow::at(Some(ts(0)), ts(86_400)).is_open());
        let w = ServiceWindow::at(Some(ts(0)), ts(86_400 + 3 * 3600));
        assert_eq!(
            w,
            ServiceWindow::Closed {
                closed_at: ts(86_400),
                ago: Seconds::hours(3)
            }
        );
    }

    #[test]
    fn never_opened_without_a_customer_message() {
        assert_eq!(ServiceWindow::at(None, ts(5)), ServiceWindow::Never);
    }
}
