//! The business's own policy: the knobs of the rules that are guichet's choice rather than
//! Meta's (opt-in strictness, caps, budgets, how long pacing may hold a message).

use std::collections::BTreeMap;

use super::pacing::PairRate;
use crate::category::Category;
use crate::time::Seconds;

/// A cap on messages of one kind to one customer: at most `max` in any `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrequencyCap {
    pub max: u32,
    pub per: Seconds,
}

/// What the business configured. `Default` is what guichet ships with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Refuse business-initiated templates to customers without a recorded opt-in. Meta requires
    /// opt-in before templates (cloud-api.md §6.3) but cannot check it; guichet can. Default on.
    pub require_opt_in: bool,
    /// Refuse a business-initiated template once this many have gone unanswered since the
    /// customer last wrote. Authentication templates (which the customer asked for) are exempt.
    /// WhatsApp tests such a cap with an undisclosed threshold (cloud-api.md §5.7), so guichet
    /// sets none by default.
    pub unanswered_cap: Option<u32>,
    /// The business's own cap on business-initiated marketing templates to one customer.
    /// Meta's per-user marketing limit is adaptive and unpublished (cloud-api.md §5.7); this one
    /// is explicit. Default none.
    pub marketing_frequency: Option<FrequencyCap>,
    /// After Meta held back a marketing template to a customer (131049), how long before
    /// another is tried. Meta: at least 24 h; resending sooner "only produces another error"
    /// and can block delivery for up to 24 h (cloud-api.md §4, §5.7).
    pub marketing_hold: Seconds,
    /// Monthly budgets per priced category, in micro-units of the business's currency
    /// (1 000 000 = one unit). A category without a budget is not limited.
    pub monthly_budgets: BTreeMap<Category, u64>,
    /// The pair rate to pace by (Meta's, by default).
    pub pair_rate: PairRate,
    /// How long the pair rate may hold a message in the queue before preflight refuses it
    /// instead: a customer waiting minutes for a reply is better told than kept waiting.
    /// Default 2 min (the wait after a burst of 20, cloud-api.md §5.2).
    pub max_pacing_delay: Seconds,
    /// Warn when the customer-service window closes within this span. Default 1 h.
    pub window_warning: Seconds,
    /// Warn when a category's spend reaches this share of its budget, in percent. Default 90.
    pub budget_warning_percent: u8,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            require_opt_in: true,
            unanswered_cap: None,
            marketing_frequency: None,
            marketing_hold: Seconds::DAY,
            monthly_budgets: BTreeMap::new(),
            pair_rate: PairRate::META,
            max_pacing_delay: Seconds(120),
            window_warning: Seconds::HOUR,
            budget_warning_percent: 90,
        }
    }
}
