//! Meta's rate limits, in emulated time (cloud-api.md §5): throughput per business number
//! (130429), the pair rate per number and customer (131056), and the per-user marketing cap
//! (131049).

use std::collections::VecDeque;

/// The limits the sandbox enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Messages per second a business number may send: 80 by default, as Meta's.
    pub throughput_mps: u32,
    /// Messages a number may send one customer in a burst (Meta: 45 in 6 s)…
    pub pair_burst: u32,
    /// …each one earned back after this long (Meta: one message every 6 s).
    pub pair_interval_ms: i64,
    /// Marketing templates one customer receives in a moving 24 h before Meta holds the rest back
    /// (131049). Meta does not publish its number; the sandbox's is explicit.
    pub marketing_per_user_per_day: u32,
    /// The business portfolio's messaging limit at start (see [`crate::tiers`]).
    pub messaging_tier: crate::tiers::Tier,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            throughput_mps: 80,
            pair_burst: 45,
            pair_interval_ms: 6_000,
            marketing_per_user_per_day: 2,
            messaging_tier: crate::tiers::Tier::default(),
        }
    }
}

/// Events in a moving window.
#[derive(Debug, Clone, Default)]
pub struct Recent {
    at_ms: VecDeque<i64>,
}

impl Recent {
    /// Records an event at `now_ms` if fewer than `max` happened in the `window_ms` before it.
    pub fn try_record(&mut self, now_ms: i64, window_ms: i64, max: u32) -> bool {
        while self.at_ms.front().is_some_and(|&t| t <= now_ms - window_ms) {
            self.at_ms.pop_front();
        }
        if self.at_ms.len() >= max as usize {
            return false;
        }
        self.at_ms.push_back(now_ms);
        true
    }
}

/// A burst of `burst` messages, then one every `interval_ms`: the generic cell rate algorithm,
/// exact in integers. `tat_ms` is when the next message would be on time.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    tat_ms: i64,
}

impl Bucket {
    pub fn full(now_ms: i64) -> Self {
        Self { tat_ms: now_ms }
    }

    pub fn try_take(&mut self, now_ms: i64, burst: u32, interval_ms: i64) -> bool {
        let tat = self.tat_ms.max(now_ms);
        let tolerance = i64::from(burst.saturating_sub(1)) * interval_ms;
        if tat - now_ms > tolerance {
            return false;
        }
        self.tat_ms = tat + interval_ms;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moving_window_lets_max_events_through() {
        let mut r = Recent::default();
        assert!((0..80).all(|i| r.try_record(1_000 + i, 1_000, 80)));
        assert!(!r.try_record(1_500, 1_000, 80));
        // A second later the first ones have left the window.
        assert!(r.try_record(2_000, 1_000, 80));
    }

    #[test]
    fn the_pair_rate_allows_a_burst_then_one_message_every_six_seconds() {
        let limits = Limits::default();
        let take = |b: &mut Bucket, at| b.try_take(at, limits.pair_burst, limits.pair_interval_ms);
        let mut b = Bucket::full(0);
        assert!((0..45).all(|_| take(&mut b, 0)));
        assert!(!take(&mut b, 0));
        assert!(!take(&mut b, 5_999));
        assert!(take(&mut b, 6_000));
        assert!(!take(&mut b, 6_000));
        // Two minutes after emptying it, 20 messages have been earned back, no more.
        let mut b = Bucket::full(0);
        assert!((0..45).all(|_| take(&mut b, 0)));
        assert!((0..20).all(|_| take(&mut b, 120_000)));
        assert!(!take(&mut b, 120_000));
    }
}
