//! The delivery state of a message the business sent, merged from Meta's status webhooks.
//!
//! Meta delivers statuses at least once and in no order (cloud-api.md §1.4, §10.3): `read` can
//! come before `delivered`, or without it when the customer had the chat open. The merge below is
//! order-independent: each step's time is the earliest time of any status at or above that step,
//! so `read` without `delivered` fills `delivered_at`, a late `delivered` can only make it earlier,
//! and the state a message shows can never move backwards.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// What an agent sees of a sent message, in the order it can only move forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Accepted by guichet or by Meta; no status webhook yet.
    Pending,
    Sent,
    /// Meta could not deliver it (see the failure). A later `delivered` or `read` wins: the
    /// customer has the message.
    Failed,
    Delivered,
    Read,
    /// A voice message was played.
    Played,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Played => "played",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "sent" => Self::Sent,
            "failed" => Self::Failed,
            "delivered" => Self::Delivered,
            "read" => Self::Read,
            "played" => Self::Played,
            _ => return None,
        })
    }
}

/// One step Meta reports for a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    Sent,
    Delivered,
    Read,
    Played,
    Failed,
}

impl Step {
    /// The step of a status webhook; `None` for values Meta may add that carry no delivery step.
    pub fn from_status(status: &wa::webhook::StatusKind) -> Option<Self> {
        use wa::webhook::StatusKind as K;
        Some(match status {
            K::Sent => Self::Sent,
            K::Delivered => Self::Delivered,
            K::Read => Self::Read,
            K::Played => Self::Played,
            K::Failed => Self::Failed,
            K::Other(_) => return None,
        })
    }
}

/// Why Meta failed a message: its error code (classified by `wa::error_codes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub code: i64,
    pub details: Option<String>,
}

/// The merged timestamps of a message's delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub sent_at: Option<Timestamp>,
    pub delivered_at: Option<Timestamp>,
    pub read_at: Option<Timestamp>,
    pub played_at: Option<Timestamp>,
    pub failed_at: Option<Timestamp>,
    pub failure: Option<Failure>,
}

/// What applying one status did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Some timestamp changed: the record must be saved.
    pub changed: bool,
    /// The status moved forward to this one: tell the inbox and the back-end.
    pub advanced_to: Option<DeliveryStatus>,
}

impl Delivery {
    pub fn status(&self) -> DeliveryStatus {
        if self.played_at.is_some() {
            DeliveryStatus::Played
        } else if self.read_at.is_some() {
            DeliveryStatus::Read
        } else if self.delivered_at.is_some() {
            DeliveryStatus::Delivered
        } else if self.failed_at.is_some() {
            DeliveryStatus::Failed
        } else if self.sent_at.is_some() {
            DeliveryStatus::Sent
        } else {
            DeliveryStatus::Pending
        }
    }

    /// Merges one status. Applying the same set of statuses in any order, any number of times,
    /// gives the same record.
    pub fn apply(&mut self, step: Step, at: Timestamp, failure: Option<Failure>) -> Applied {
        let before = self.clone();
        let status_before = self.status();
        // A step implies every step below it; its time bounds theirs from above.
        let implied: &[fn(&mut Self) -> &mut Option<Timestamp>] = match step {
            Step::Sent => &[|d| &mut d.sent_at],
            Step::Delivered => &[|d| &mut d.sent_at, |d| &mut d.delivered_at],
            Step::Read => &[
                |d| &mut d.sent_at,
                |d| &mut d.delivered_at,
                |d| &mut d.read_at,
            ],
            Step::Played => &[
                |d| &mut d.sent_at,
                |d| &mut d.delivered_at,
                |d| &mut d.read_at,
                |d| &mut d.played_at,
            ],
            Step::Failed => &[|d| &mut d.failed_at],
        };
        for field in implied {
            let slot = field(self);
            *slot = Some(slot.map_or(at, |t| t.min(at)));
        }
        if step == Step::Failed {
            let candidate = failure.unwrap_or(Failure {
                code: 0,
                details: None,
            });
            // Deterministic whatever the order: the failure reported first in Meta's time wins,
            // ties broken by code.
            let keep_old = match &self.failure {
                Some(old) => (before.failed_at, old.code) <= (Some(at), candidate.code),
                None => false,
            };
            if !keep_old {
                self.failure = Some(candidate);
            }
        }
        let status_after = self.status();
        Applied {
            changed: *self != before,
            advanced_to: (status_after > status_before).then_some(status_after),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_unix(s)
    }

    #[test]
    fn read_before_delivered_fills_delivered() {
        let mut d = Delivery::default();
        let a = d.apply(Step::Read, ts(30), None);
        assert_eq!(a.advanced_to, Some(DeliveryStatus::Read));
        assert_eq!(d.delivered_at, Some(ts(30)));
        assert_eq!(d.sent_at, Some(ts(30)));
        let a = d.apply(Step::Delivered, ts(20), None);
        assert_eq!(
            a,
            Applied {
                changed: true,
                advanced_to: None
            },
            "earlier time, no step back"
        );
        assert_eq!(d.delivered_at, Some(ts(20)));
        assert_eq!(d.status(), DeliveryStatus::Read);
    }

    #[test]
    fn a_late_sent_never_moves_the_status_back() {
        let mut d = Delivery::default();
        d.apply(Step::Delivered, ts(20), None);
        let a = d.apply(Step::Sent, ts(10), None);
        assert_eq!(a.advanced_to, None);
        assert_eq!(d.status(), DeliveryStatus::Delivered);
        assert_eq!(d.sent_at, Some(ts(10)));
    }

    #[test]
    fn a_repeated_status_changes_nothing() {
        let mut d = Delivery::default();
        d.apply(Step::Sent, ts(10), None);
        assert_eq!(
            d.apply(Step::Sent, ts(10), None),
            Applied {
                changed: false,
                advanced_to: None
            }
        );
    }

    #[test]
    fn failure_carries_its_code_and_delivery_wins_over_it() {
        let mut d = Delivery::default();
        d.apply(Step::Sent, ts(10), None);
        let failure = Failure {
            code: 131_049,
            details: Some("ecosystem".into()),
        };
        let a = d.apply(Step::Failed, ts(11), Some(failure.clone()));
        assert_eq!(a.advanced_to, Some(DeliveryStatus::Failed));
        assert_eq!(d.failure, Some(failure));
        assert_eq!(
            d.apply(Step::Delivered, ts(12), None).advanced_to,
            Some(DeliveryStatus::Delivered)
        );
    }

    #[test]
    fn status_names_roundtrip() {
        for s in [
            DeliveryStatus::Pending,
            DeliveryStatus::Sent,
            DeliveryStatus::Failed,
            DeliveryStatus::Delivered,
            DeliveryStatus::Read,
            DeliveryStatus::Played,
        ] {
            assert_eq!(DeliveryStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(DeliveryStatus::parse("seen"), None);
    }

    fn arb_status() -> impl Strategy<Value = (Step, i64, Option<i64>)> {
        (
            prop_oneof![
                Just(Step::Sent),
                Just(Step::Delivered),
                Just(Step::Read),
                Just(Step::Played),
                Just(Step::Failed)
            ],
            0i64..100,
            prop::option::of(prop_oneof![Just(131_026i64), Just(131_049), Just(131_047)]),
        )
    }

    proptest! {
        /// T-05: every permutation (with repeats) of a message's statuses gives the same record,
        /// and the status shown never moves backwards along the way.
        #[test]
        fn merge_is_order_independent_and_monotonic(
            statuses in prop::collection::vec(arb_status(), 1..8).prop_shuffle(),
            seed in any::<u64>(),
        ) {
            let run = |order: &[(Step, i64, Option<i64>)]| {
                let mut d = Delivery::default();
                let mut shown = d.status();
                for &(step, at, code) in order {
                    let failure = code.map(|code| Failure { code, details: None });
                    let applied = d.apply(step, ts(at), failure);
                    let now = d.status();
                    prop_assert!(now >= shown, "moved back from {shown:?} to {now:?}");
                    prop_assert_eq!(applied.advanced_to.is_some(), now > shown);
                    shown = now;
                }
                Ok(d)
            };
            let a = run(&statuses)?;
            let mut reordered = statuses.clone();
            // A second, different permutation, plus every status repeated (at-least-once delivery).
            let n = reordered.len();
            reordered.rotate_left((seed as usize) % n);
            reordered.reverse();
            reordered.extend(statuses.iter().copied());
            let b = run(&reordered)?;
            prop_assert_eq!(a, b);
        }
    }
}
