//! Pricing: what a message costs (cloud-api.md §7), predicted when it is sent and settled by
//! Meta's bill.
//!
//! The way a message's price goes:
//! 1. At send, [`predict`] (or [`CbpConversations::predict`] for sends before 2025-07-01) prices
//!    it by the rules in force that day ([`rules_at`]: a table of dated versions) and the rate
//!    card in force ([`RateCards::in_force`]), for the recipient's [`Market`].
//! 2. When a status webhook carries `pricing`, [`reconcile`] turns it into the bill: Meta wins
//!    field by field and every disagreement is named; [`bill_once`] keeps one bill per message
//!    although `sent` and `delivered`/`read` both carry `pricing`.
//! 3. [`cost_report`] sums the ledger by month, category, market and number, predicted beside
//!    billed, each currency apart.
//!
//! Everything is pure: time comes in as [`Timestamp`](crate::Timestamp)s, and dates are read on
//! the WABA's clock ([`WabaOffset`]) as Meta bills. Money is exact ([`Money`], millionths).

mod calendar;
mod cbp;
mod csv;
mod market;
mod money;
mod predict;
mod rate_card;
mod reconcile;
mod report;
mod rules;

#[cfg(test)]
mod rule_tests;
#[cfg(test)]
mod scripted_month;

pub use calendar::{WabaOffset, YearMonth, YearMonthError};
pub use cbp::{CONVERSATION, CbpCharge, CbpConversation, CbpConversations};
pub use market::Market;
pub use money::{Currency, MICROS_PER_UNIT, Money, MoneyError};
pub use predict::{MessageKind, Prediction, PricingType, SendFacts, predict, pricing_category};
pub use rate_card::{MarketRates, RateCard, RateCardError, RateCards, SAMPLE_CARD_CSV};
pub use reconcile::{BillUpdate, Billed, BilledCategory, Disagreement, bill_once, reconcile};
pub use report::{CostReport, LedgerRow, ReportError, ReportKey, ReportLine, cost_report};
pub use rules::{PricingModel, PricingRules, RULES, ServiceCharge, rules_at};
