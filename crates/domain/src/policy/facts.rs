//! What guichet knows at the instant of a send, gathered by the caller from its store. Every
//! time in here is Meta's (webhook timestamps) or the caller's clock, never read by the rules.

use std::collections::BTreeMap;

use super::consent::Consent;
use super::entry_point::FreeEntryPoint;
use super::limits::PortfolioUsage;
use super::pacing::PairLimiter;
use super::templates::SyncedTemplate;
use crate::Timestamp;
use crate::category::Category;

/// Everything preflight looks at besides the message itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Meta's timestamp of the customer's latest message (or call) to this business number:
    /// it opens the 24 h customer-service window (cloud-api.md §6.1).
    pub last_inbound_at: Option<Timestamp>,
    pub free_entry_point: FreeEntryPoint,
    /// Every synced language of the template the message names (empty for other messages):
    /// knowing the other languages lets a refusal say which codes exist.
    pub templates: Vec<SyncedTemplate>,
    pub consent: Consent,
    /// Business-initiated messages sent since the customer last wrote (see
    /// [`super::limits::Unanswered`]).
    pub unanswered: u32,
    /// When business-initiated marketing templates were sent to this customer, at least over the
    /// span of [`super::FrequencyCap::per`].
    pub marketing_sent: Vec<Timestamp>,
    /// When Meta last failed a marketing template to this customer with 131049.
    pub marketing_held_at: Option<Timestamp>,
    pub portfolio: PortfolioUsage,
    pub spend: Spend,
    /// The pair-rate state of this business number × customer, including messages already
    /// queued for them, so that a new message is paced behind them.
    pub pair: PairLimiter,
}

/// Spend this month, for budgets. Money is in micro-units of the business's currency.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spend {
    /// Per priced category, this calendar month (in the business's time zone), queued messages
    /// included.
    pub month_to_date: BTreeMap<Category, u64>,
    /// When the month ends: when a spent budget frees again.
    pub month_ends_at: Option<Timestamp>,
    /// What this message is expected to cost, from the rate card; `None` if unknown, in which
    /// case only an already spent budget refuses.
    pub estimated_cost: Option<u64>,
}
