//! Portfolio messaging limits (cloud-api.md §5.4): how many unique customers a business portfolio
//! may reach outside a customer service window in a moving 24 hours, shared by all its numbers.
//! Levels 250 → 2,000 → 10,000 → 100,000 → unlimited; a portfolio that used at least half of its
//! limit in the last 7 days goes up one level 6 hours later (the sandbox's numbers are always of
//! high quality).
//!
//! Meta does not document the code of a send refused by the limit; the sandbox fails it, after
//! accepting it, with 131048 ("restrictions on how many messages can be sent from this phone
//! number").

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

const DAY_MS: i64 = 24 * 3600 * 1000;
const WEEK_MS: i64 = 7 * DAY_MS;
/// How long an earned upgrade takes.
pub const UPGRADE_DELAY_MS: i64 = 6 * 3600 * 1000;

/// A messaging limit level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Tier {
    #[serde(rename = "TIER_250")]
    T250,
    #[serde(rename = "TIER_2K")]
    T2K,
    #[serde(rename = "TIER_10K")]
    T10K,
    #[serde(rename = "TIER_100K")]
    T100K,
    #[serde(rename = "TIER_UNLIMITED")]
    Unlimited,
}

impl Tier {
    const ALL: [Self; 5] = [
        Self::T250,
        Self::T2K,
        Self::T10K,
        Self::T100K,
        Self::Unlimited,
    ];

    /// Unique customers per moving 24 h; `None` for unlimited.
    pub fn limit(self) -> Option<usize> {
        match self {
            Self::T250 => Some(250),
            Self::T2K => Some(2_000),
            Self::T10K => Some(10_000),
            Self::T100K => Some(100_000),
            Self::Unlimited => None,
        }
    }

    /// Meta's name for it, as `GET /{phone-number-id}?fields=whatsapp_business_manager_messaging_limit`
    /// gives it.
    pub fn name(self) -> &'static str {
        match self {
            Self::T250 => "TIER_250",
            Self::T2K => "TIER_2K",
            Self::T10K => "TIER_10K",
            Self::T100K => "TIER_100K",
            Self::Unlimited => "TIER_UNLIMITED",
        }
    }

    pub fn next(self) -> Option<Self> {
        Self::ALL
            .iter()
            .position(|t| *t == self)
            .and_then(|i| Self::ALL.get(i + 1).copied())
    }
}

impl Default for Tier {
    /// 2,000: the level a portfolio has once the business is verified.
    fn default() -> Self {
        Self::T2K
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Tier {
    type Err = String;

    /// `250`, `2000` (or `2k`), `10000`, `100000`, `unlimited`, or Meta's `TIER_…` names.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key = s.trim().to_ascii_uppercase();
        let key = key
            .strip_prefix("TIER_")
            .unwrap_or(&key)
            .replace(['_', ','], "");
        match key.as_str() {
            "250" => Ok(Self::T250),
            "2000" | "2K" => Ok(Self::T2K),
            "10000" | "10K" => Ok(Self::T10K),
            "100000" | "100K" => Ok(Self::T100K),
            "UNLIMITED" => Ok(Self::Unlimited),
            _ => Err(format!(
                "`{s}` is not a messaging limit: use 250, 2000, 10000, 100000 or unlimited"
            )),
        }
    }
}

/// The business portfolio's use of its messaging limit. Every reach is queued by time, so that
/// counting the customers of the last 24 h and of the last 7 days costs nothing per send.
#[derive(Debug, Clone, Default)]
pub struct Portfolio {
    tier: Tier,
    /// Customer → when last reached outside a window (forgotten after 7 days).
    last: HashMap<usize, i64>,
    /// Reaches by time, for the moving day and the moving week; an entry whose time is not the
    /// customer's last reach is stale and skipped.
    day: VecDeque<(i64, usize)>,
    week: VecDeque<(i64, usize)>,
    /// Customers whose last reach is within the moving day.
    in_day: usize,
    upgrade_at: Option<i64>,
}

impl Portfolio {
    pub fn new(tier: Tier) -> Self {
        Self {
            tier,
            ..Self::default()
        }
    }

    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// Forgets what has left the moving day and the moving week.
    fn expire(&mut self, now_ms: i64) {
        while let Some(&(at, customer)) = self.day.front() {
            if now_ms - at < DAY_MS {
                break;
            }
            self.day.pop_front();
            if self.last.get(&customer) == Some(&at) {
                self.in_day -= 1;
            }
        }
        while let Some(&(at, customer)) = self.week.front() {
            if now_ms - at < WEEK_MS {
                break;
            }
            self.week.pop_front();
            if self.last.get(&customer) == Some(&at) {
                self.last.remove(&customer);
            }
        }
    }

    /// Unique customers reached outside a window in the 24 h before `now_ms`.
    pub fn used(&mut self, now_ms: i64) -> usize {
        self.expire(now_ms);
        self.in_day
    }

    /// A send that reaches `customer` outside a customer service window: `false` when the
    /// limit refuses it. A customer already reached in the last 24 h does not count again.
    pub fn reach(&mut self, customer: usize, now_ms: i64) -> bool {
        self.expire(now_ms);
        let counted = self
            .last
            .get(&customer)
            .is_some_and(|at| now_ms - at < DAY_MS);
        if !counted {
            if let Some(limit) = self.tier.limit()
                && self.in_day >= limit
            {
                return false;
            }
            self.in_day += 1;
        }
        // Two reaches at the same instant are queued once: the entry stands for the last one.
        if self.last.insert(customer, now_ms) != Some(now_ms) {
            self.day.push_back((now_ms, customer));
            self.week.push_back((now_ms, customer));
        }
        if self.upgrade_at.is_none()
            && let (Some(limit), Some(_)) = (self.tier.limit(), self.tier.next())
            && self.last.len() * 2 >= limit
        {
            self.upgrade_at = Some(now_ms + UPGRADE_DELAY_MS);
        }
        true
    }

    /// The new tier, once an earned upgrade has fallen due.
    pub fn upgrade_due(&mut self, now_ms: i64) -> Option<Tier> {
        let at = self.upgrade_at?;
        if at > now_ms {
            return None;
        }
        self.upgrade_at = None;
        self.tier = self.tier.next()?;
        Some(self.tier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_both_ways() {
        for tier in Tier::ALL {
            assert_eq!(tier.name().parse::<Tier>(), Ok(tier));
        }
        assert_eq!("2000".parse::<Tier>(), Ok(Tier::T2K));
        assert_eq!("unlimited".parse::<Tier>(), Ok(Tier::Unlimited));
        assert_eq!("100,000".parse::<Tier>(), Ok(Tier::T100K));
        assert!("1000".parse::<Tier>().unwrap_err().contains("250, 2000"));
        assert_eq!(Tier::T100K.next(), Some(Tier::Unlimited));
        assert_eq!(Tier::Unlimited.next(), None);
    }

    #[test]
    fn unique_customers_are_counted_over_a_moving_day() {
        let mut p = Portfolio::new(Tier::T250);
        for c in 0..250 {
            assert!(p.reach(c, 0));
        }
        assert!(!p.reach(250, 1_000), "the 251st customer is refused");
        assert!(
            p.reach(3, 2_000),
            "a customer already reached is not counted again"
        );
        assert_eq!(p.used(2_000), 250);
        assert!(!p.reach(250, DAY_MS - 1));
        // A day after the first 250 were reached, only customer 3 (reached at 2 s) still counts.
        assert!(p.reach(250, DAY_MS + 1));
        assert_eq!(p.used(DAY_MS + 1), 2);
    }

    #[test]
    fn half_the_limit_in_a_week_earns_the_next_level_six_hours_later() {
        let mut p = Portfolio::new(Tier::T250);
        for c in 0..124 {
            assert!(p.reach(c, i64::from(u16::try_from(c).unwrap()) * 60_000));
        }
        assert_eq!(p.upgrade_due(WEEK_MS), None, "124 is less than half");
        let at = 2 * DAY_MS;
        assert!(p.reach(124, at));
        assert_eq!(p.upgrade_due(at + UPGRADE_DELAY_MS - 1), None);
        assert_eq!(p.upgrade_due(at + UPGRADE_DELAY_MS), Some(Tier::T2K));
        assert_eq!(p.tier(), Tier::T2K);
        assert_eq!(p.upgrade_due(at + 2 * UPGRADE_DELAY_MS), None);

        let mut top = Portfolio::new(Tier::Unlimited);
        assert!((0..300_000).all(|c| top.reach(c, 0)));
        assert_eq!(top.upgrade_due(WEEK_MS), None);
    }

    proptest::proptest! {
        /// The queued count agrees with counting by hand: customers whose last reach is less
        /// than 24 h old.
        #[test]
        fn the_moving_day_is_counted_exactly(
            steps in proptest::collection::vec((0_usize..12, 0_i64..30), 1..200)
        ) {
            let mut p = Portfolio::new(Tier::Unlimited);
            let mut last: HashMap<usize, i64> = HashMap::new();
            let mut now = 0;
            for (customer, dt) in steps {
                // Whole hours, often none: same-instant reaches and exact 24 h edges happen.
                now += dt * 3600 * 1000 / 4;
                proptest::prop_assert!(p.reach(customer, now));
                last.insert(customer, now);
                let expected = last.values().filter(|at| now - **at < DAY_MS).count();
                proptest::prop_assert_eq!(p.used(now), expected);
            }
        }
    }
}
