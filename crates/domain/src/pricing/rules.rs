//! Which pricing rules hold on a given day: a small table of versions, each in force from the
//! first of a month until the next one starts. A future change of Meta's rules is one more row.
//!
//! Each version starts at midnight on the WABA's wall clock: Meta's page on the switch to
//! per-message pricing says it "applies to businesses for whom it is July 1, 2025 or later, based
//! on their WABA timezone". The same reading is applied to the other dates, which Meta announced
//! without a time zone. For a WABA on UTC the switch is at 2025-07-01T00:00:00Z.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::calendar::{WabaOffset, YearMonth};
use crate::Timestamp;

/// How Meta charges: per 24 h conversation, or per delivered message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PricingModel {
    /// Conversation-based pricing, until 2025-06-30 (cloud-api.md §7.1).
    #[serde(rename = "CBP")]
    Cbp,
    /// Per-message pricing, from 2025-07-01 (cloud-api.md §7.2).
    #[serde(rename = "PMP")]
    Pmp,
}

impl PricingModel {
    /// As status webhooks write it in `pricing.pricing_model`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Cbp => "CBP",
            Self::Pmp => "PMP",
        }
    }
}

impl fmt::Display for PricingModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PricingModel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "CBP" => Ok(Self::Cbp),
            "PMP" => Ok(Self::Pmp),
            _ => Err(format!("`{s}` is not a pricing model: expected CBP or PMP")),
        }
    }
}

/// What service (non-template) traffic costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "charge", rename_all = "snake_case")]
pub enum ServiceCharge {
    /// CBP: the first `free_per_month` service conversations of a WABA each month (in the WABA
    /// time zone) are free, the rest are charged (cloud-api.md §7.1).
    FreeTier { free_per_month: u32 },
    /// Never charged.
    Free,
    /// Charged per delivered message at the market's service rate.
    Charged,
}

/// One version of Meta's pricing rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PricingRules {
    /// In force from midnight on the 1st of this month, WABA time, until the next version.
    pub effective_from: YearMonth,
    pub model: PricingModel,
    pub service: ServiceCharge,
    /// Whether a utility template delivered inside an open customer-service window is free.
    pub utility_free_in_service_window: bool,
    /// Where the rule is written down.
    pub reference: &'static str,
}

const fn month(year: i32, month: u8) -> YearMonth {
    match YearMonth::new(year, month) {
        Some(m) => m,
        None => panic!("a month in the rule table is not 1 to 12"),
    }
}

/// Meta's rule versions, oldest first. The first row also answers for any earlier time: guichet
/// does not model pricing before conversation categories (June 2023).
pub const RULES: &[PricingRules] = &[
    PricingRules {
        effective_from: month(2023, 6),
        model: PricingModel::Cbp,
        service: ServiceCharge::FreeTier {
            free_per_month: 1000,
        },
        utility_free_in_service_window: false,
        reference: "cloud-api.md §7.1: 24 h conversations per category, 1,000 free service \
                    conversations a month per WABA",
    },
    PricingRules {
        effective_from: month(2024, 11),
        model: PricingModel::Cbp,
        service: ServiceCharge::Free,
        utility_free_in_service_window: false,
        reference: "cloud-api.md §7.1: service conversations free for everyone from 1 Nov 2024",
    },
    PricingRules {
        effective_from: month(2025, 7),
        model: PricingModel::Pmp,
        service: ServiceCharge::Free,
        utility_free_in_service_window: true,
        reference: "cloud-api.md §7.2: per-message pricing; non-template messages and utility \
                    templates inside an open customer-service window are free",
    },
    PricingRules {
        effective_from: month(2026, 10),
        model: PricingModel::Pmp,
        service: ServiceCharge::Charged,
        utility_free_in_service_window: false,
        reference: "cloud-api.md §7.4: service messages and utility templates inside an open \
                    customer-service window are charged from 1 Oct 2026",
    },
];

/// The rules in force at `at` for a WABA at `offset`.
pub fn rules_at(at: Timestamp, offset: WabaOffset) -> &'static PricingRules {
    RULES
        .iter()
        .rev()
        .find(|rules| rules.effective_from.start(offset) <= at)
        .unwrap_or(&RULES[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2025-07-01T00:00:00Z and 2026-10-01T00:00:00Z.
    const PMP_STARTS: i64 = 1_751_328_000;
    const SERVICE_CHARGED: i64 = 1_790_812_800;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_unix(s)
    }

    #[test]
    fn the_table_is_in_order_and_every_row_starts_a_month() {
        assert!(
            RULES
                .windows(2)
                .all(|w| w[0].effective_from < w[1].effective_from)
        );
    }

    #[test]
    fn per_message_pricing_starts_on_1_july_2025_utc() {
        assert_eq!(
            rules_at(at(PMP_STARTS - 1), WabaOffset::UTC).model,
            PricingModel::Cbp
        );
        assert_eq!(
            rules_at(at(PMP_STARTS), WabaOffset::UTC).model,
            PricingModel::Pmp
        );
    }

    #[test]
    fn service_and_in_window_utility_are_charged_from_1_october_2026() {
        let before = rules_at(at(SERVICE_CHARGED - 1), WabaOffset::UTC);
        let after = rules_at(at(SERVICE_CHARGED), WabaOffset::UTC);
        assert_eq!(
            (before.service, before.utility_free_in_service_window),
            (ServiceCharge::Free, true)
        );
        assert_eq!(
            (after.service, after.utility_free_in_service_window),
            (ServiceCharge::Charged, false)
        );
    }

    #[test]
    fn cbp_service_conversations_are_free_from_november_2024() {
        let nov_2024 = month(2024, 11).start(WabaOffset::UTC);
        assert_eq!(
            rules_at(nov_2024 - crate::time::Seconds(1), WabaOffset::UTC).service,
            ServiceCharge::FreeTier {
                free_per_month: 1000
            }
        );
        assert_eq!(
            rules_at(nov_2024, WabaOffset::UTC).service,
            ServiceCharge::Free
        );
        assert_eq!(rules_at(at(i64::MIN), WabaOffset::UTC), &RULES[0]);
    }

    #[test]
    fn a_waba_east_of_utc_switches_earlier_on_its_own_midnight() {
        let ist = WabaOffset::from_seconds(19_800).unwrap();
        let one_utc_hour_before = at(PMP_STARTS - 3600);
        assert_eq!(rules_at(one_utc_hour_before, ist).model, PricingModel::Pmp);
        assert_eq!(
            rules_at(one_utc_hour_before, WabaOffset::UTC).model,
            PricingModel::Cbp
        );
    }

    #[test]
    fn models_read_as_webhooks_write_them() {
        assert_eq!("PMP".parse(), Ok(PricingModel::Pmp));
        assert_eq!("cbp".parse(), Ok(PricingModel::Cbp));
        assert!("per_message".parse::<PricingModel>().is_err());
        assert_eq!(
            serde_json::to_string(&PricingModel::Pmp).unwrap(),
            "\"PMP\""
        );
    }
}
