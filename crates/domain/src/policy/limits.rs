//! Counters behind the volume rules, as small pure state types: the portfolio's messaging limit
//! (cloud-api.md §5.4) and the messages a customer has left unanswered (§5.7).

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

use crate::Timestamp;
use crate::time::Seconds;

/// How long a customer reached outside a window counts against the messaging limit: a moving
/// 24 h (cloud-api.md §5.4).
pub const MESSAGING_LIMIT_SPAN: Seconds = Seconds::DAY;

/// A business portfolio's messaging limit: how many unique customers it may reach outside a
/// customer-service window in a moving 24 h, shared by all its numbers (cloud-api.md §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessagingLimit {
    Limited(u32),
    Unlimited,
}

impl MessagingLimit {
    /// New portfolios.
    pub const TIER_250: Self = Self::Limited(250);
    pub const TIER_2K: Self = Self::Limited(2_000);
    pub const TIER_10K: Self = Self::Limited(10_000);
    pub const TIER_100K: Self = Self::Limited(100_000);

    /// Meta's name, as `whatsapp_business_manager_messaging_limit` gives it: `TIER_250`,
    /// `TIER_2K`, `TIER_10K`, `TIER_100K`, `TIER_UNLIMITED`; also the obsolete `TIER_1K` and any
    /// `TIER_<n>` / `TIER_<n>K`, should Meta add levels.
    pub fn parse(name: &str) -> Option<Self> {
        let upper = name.trim().to_ascii_uppercase();
        let rest = upper.strip_prefix("TIER_")?;
        if rest == "UNLIMITED" {
            return Some(Self::Unlimited);
        }
        let (digits, factor) = match rest.strip_suffix('K') {
            Some(d) => (d, 1_000),
            None => (rest, 1),
        };
        let n: u32 = digits.parse().ok()?;
        n.checked_mul(factor).map(Self::Limited)
    }

    pub fn limit(self) -> Option<u32> {
        match self {
            Self::Limited(n) => Some(n),
            Self::Unlimited => None,
        }
    }
}

impl Default for MessagingLimit {
    /// A new portfolio's, the safe assumption until Meta says otherwise.
    fn default() -> Self {
        Self::TIER_250
    }
}

impl fmt::Display for MessagingLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Limited(n) => write!(f, "{n}"),
            Self::Unlimited => f.write_str("unlimited"),
        }
    }
}

/// Where the portfolio stands against its messaging limit, as preflight needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PortfolioUsage {
    pub limit: MessagingLimit,
    /// Unique customers reached outside a window in the moving 24 h, by all the portfolio's
    /// numbers, counting messages already queued.
    pub reached: u32,
    /// Whether this customer is among them: reaching them again costs nothing more.
    pub recipient_counted: bool,
    /// When the first of them stops counting, freeing a place.
    pub next_release_at: Option<Timestamp>,
}

/// The customers a portfolio reached outside a window, each with the last time: a reference
/// implementation of the moving-24-h count (a store may compute the same in SQL). `K` is the
/// contact key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortfolioReach<K> {
    last_reached: BTreeMap<K, Timestamp>,
}

impl<K: Ord> Default for PortfolioReach<K> {
    fn default() -> Self {
        Self {
            last_reached: BTreeMap::new(),
        }
    }
}

impl<K: Ord> PortfolioReach<K> {
    /// A business-initiated message reached `customer` at `at`. Out-of-order records keep the
    /// latest time.
    pub fn record(&mut self, customer: K, at: Timestamp) {
        let entry = self.last_reached.entry(customer).or_insert(at);
        *entry = (*entry).max(at);
    }

    fn counts_at(at: Timestamp, now: Timestamp) -> bool {
        now < at + MESSAGING_LIMIT_SPAN
    }

    /// Customers counted at `now`: reached in the 24 h before it (exactly 24 h later, no more).
    pub fn reached(&self, now: Timestamp) -> u32 {
        let n = self
            .last_reached
            .values()
            .filter(|&&at| Self::counts_at(at, now))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    pub fn usage(&self, limit: MessagingLimit, customer: &K, now: Timestamp) -> PortfolioUsage {
        PortfolioUsage {
            limit,
            reached: self.reached(now),
            recipient_counted: self
                .last_reached
                .get(customer)
                .is_some_and(|&at| Self::counts_at(at, now)),
            next_release_at: self
                .last_reached
                .values()
                .filter(|&&at| Self::counts_at(at, now))
                .min()
                .map(|&at| at + MESSAGING_LIMIT_SPAN),
        }
    }

    /// Forgets customers who no longer count at `now`.
    pub fn prune(&mut self, now: Timestamp) {
        self.last_reached.retain(|_, at| Self::counts_at(*at, now));
    }
}

/// Business-initiated messages a customer has received since they last wrote: what the
/// unanswered cap counts (cloud-api.md §5.7, WhatsApp's 2025 test of a cap on messages to
/// people who do not reply). Safe against out-of-order records: a message counts only if it
/// left after the latest reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Unanswered {
    last_reply_at: Option<Timestamp>,
    sent: Vec<Timestamp>,
}

impl Unanswered {
    /// The customer wrote at `at` (Meta's timestamp).
    pub fn record_reply(&mut self, at: Timestamp) {
        let latest = self.last_reply_at.map_or(at, |r| r.max(at));
        self.last_reply_at = Some(latest);
        self.sent.retain(|&s| s > latest);
    }

    /// A business-initiated message left at `at`.
    pub fn record_sent(&mut self, at: Timestamp) {
        if self.last_reply_at.is_none_or(|r| at > r) {
            self.sent.push(at);
        }
    }

    pub fn count(&self) -> u32 {
        u32::try_from(self.sent.len()).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_unix(s)
    }

    #[test]
    fn tiers_parse_from_meta_names() {
        assert_eq!(
            MessagingLimit::parse("TIER_250"),
            Some(MessagingLimit::TIER_250)
        );
        assert_eq!(
            MessagingLimit::parse("tier_2k"),
            Some(MessagingLimit::TIER_2K)
        );
        assert_eq!(
            MessagingLimit::parse("TIER_100K"),
            Some(MessagingLimit::TIER_100K)
        );
        assert_eq!(
            MessagingLimit::parse("TIER_1K"),
            Some(MessagingLimit::Limited(1_000))
        );
        assert_eq!(
            MessagingLimit::parse("TIER_UNLIMITED"),
            Some(MessagingLimit::Unlimited)
        );
        assert_eq!(MessagingLimit::parse("TIER_"), None);
        assert_eq!(MessagingLimit::parse("250"), None);
        assert_eq!(MessagingLimit::parse("TIER_9999999K"), None);
        assert_eq!(MessagingLimit::default().limit(), Some(250));
    }

    #[test]
    fn a_customer_counts_for_a_moving_24_hours() {
        let mut r = PortfolioReach::default();
        r.record("ana", ts(100));
        r.record("bo", ts(200));
        r.record("ana", ts(50));
        let u = r.usage(MessagingLimit::TIER_250, &"ana", ts(1_000));
        assert_eq!(u.reached, 2);
        assert!(u.recipient_counted);
        assert_eq!(u.next_release_at, Some(ts(100 + 86_400)));
        assert_eq!(r.reached(ts(100 + 86_399)), 2);
        assert_eq!(r.reached(ts(100 + 86_400)), 1);
        r.prune(ts(200 + 86_400));
        assert_eq!(r, PortfolioReach::default());
        assert!(
            !r.usage(MessagingLimit::Unlimited, &"ana", ts(0))
                .recipient_counted
        );
    }

    #[test]
    fn a_reply_resets_the_unanswered_count() {
        let mut u = Unanswered::default();
        u.record_sent(ts(10));
        u.record_sent(ts(20));
        assert_eq!(u.count(), 2);
        u.record_reply(ts(15));
        assert_eq!(u.count(), 1);
        // A message recorded late, from before the reply, does not count.
        u.record_sent(ts(12));
        assert_eq!(u.count(), 1);
        u.record_reply(ts(5));
        assert_eq!(u.count(), 1);
    }

    proptest! {
        /// The count equals the number of distinct customers whose latest reach is less than
        /// 24 h old, whatever the order of the records.
        #[test]
        fn the_reach_count_matches_a_direct_count(
            records in prop::collection::vec((0_u8..20, 0_i64..200_000), 0..100),
            now in 0_i64..300_000,
        ) {
            let mut r = PortfolioReach::default();
            for &(c, at) in &records {
                r.record(c, ts(at));
            }
            let mut latest: BTreeMap<u8, i64> = BTreeMap::new();
            for &(c, at) in &records {
                let e = latest.entry(c).or_insert(at);
                *e = (*e).max(at);
            }
            let expected = latest.values().filter(|&&at| now < at + 86_400).count();
            prop_assert_eq!(r.reached(ts(now)) as usize, expected);
        }
    }
}
