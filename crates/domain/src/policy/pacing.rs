//! Pacing as pure state machines, so that guichet's own sending never triggers Meta's rate
//! errors: the pair rate per business number × customer (131056, cloud-api.md §5.2) and the
//! throughput per business number (130429, §5.1). Each answers "may I send now?" ([`check`])
//! and "when is the earliest I may?" ([`earliest`]); the sender records what actually left.
//!
//! Time here is [`Millis`]: Meta's timestamps are whole seconds, but 80 messages a second need
//! finer steps. The clock is still passed in.
//!
//! [`check`]: PairLimiter::check
//! [`earliest`]: PairLimiter::earliest

use crate::Timestamp;

/// A point in time, in milliseconds since the Unix epoch; for pacing only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Millis(pub i64);

impl Millis {
    pub const fn from_timestamp(t: Timestamp) -> Self {
        Self(t.unix().saturating_mul(1000))
    }

    /// The first whole second at or after this instant.
    pub const fn to_timestamp_ceil(self) -> Timestamp {
        let s = self.0.div_euclid(1000);
        let s = if self.0.rem_euclid(1000) > 0 {
            s.saturating_add(1)
        } else {
            s
        };
        Timestamp::from_unix(s)
    }

    #[must_use]
    pub const fn plus(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }
}

/// Meta's pair rate (cloud-api.md §5.2): one message every 6 s to the same customer from one
/// business number, with bursts of up to 45 messages in 6 s that "borrow" future quota — "a
/// burst of 20 ⇒ ~2 min wait".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairRate {
    /// The steady pace: one message per interval. Meta: 6 s.
    pub interval_ms: i64,
    /// The most messages in one burst. Meta: 45.
    pub burst: u32,
    /// How long a burst lasts from its first message. Meta: 6 s.
    pub burst_window_ms: i64,
}

impl PairRate {
    pub const META: Self = Self {
        interval_ms: 6_000,
        burst: 45,
        burst_window_ms: 6_000,
    };
}

impl Default for PairRate {
    fn default() -> Self {
        Self::META
    }
}

/// The pair-rate state of one business number × customer.
///
/// Meta's wording is read as a debt: every message adds one interval of debt; a burst may only
/// start when the debt is paid (the steady one-per-interval pace is then always allowed), and
/// within `burst_window_ms` of its start it may go on borrowing, up to `burst` messages. After
/// a burst of 20 the next message waits until 20 × 6 s = 2 min after the burst began, as Meta
/// describes. This is stricter than a plain token bucket of 45 (which would allow 25 more right
/// after a burst of 20), because Meta's exact accounting is unpublished and the point is never
/// to see 131056.
///
/// Guarantee (property-tested): in any span of `d` ms, at most `burst + d / interval_ms`
/// messages are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PairLimiter {
    state: Option<PairState>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PairState {
    /// When the debt is paid: the theoretical arrival time of the generic cell rate algorithm.
    paid_at: i64,
    burst_started: i64,
    burst_len: u32,
}

impl PairLimiter {
    /// The earliest instant, at or after `now`, at which a message is allowed.
    pub fn earliest(&self, rate: &PairRate, now: Millis) -> Millis {
        let Some(s) = self.state else { return now };
        // The limiter's time never runs backwards: an instant before the last burst began (a
        // queue booked ahead) is looked at from that burst's start.
        let now = now.max(Millis(s.burst_started));
        let in_burst = now.0.saturating_sub(s.burst_started) < rate.burst_window_ms
            && s.burst_len < rate.burst.max(1);
        if now.0 >= s.paid_at || in_burst {
            now
        } else {
            Millis(s.paid_at)
        }
    }

    /// `Ok` if a message may leave at `now`, else the earliest instant it may.
    pub fn check(&self, rate: &PairRate, now: Millis) -> Result<(), Millis> {
        let at = self.earliest(rate, now);
        if at == now { Ok(()) } else { Err(at) }
    }

    /// Records a message that left at `at` — also one that was not allowed, such as a reply
    /// the business typed on its phone (coexistence), which Meta counts just the same.
    pub fn record(&mut self, rate: &PairRate, at: Millis) {
        let interval = rate.interval_ms.max(1);
        self.state = Some(match self.state {
            Some(s) if at.0 < s.paid_at => PairState {
                paid_at: s.paid_at.saturating_add(interval),
                burst_started: s.burst_started,
                burst_len: s.burst_len.saturating_add(1),
            },
            _ => PairState {
                paid_at: at.0.saturating_add(interval),
                burst_started: at.0,
                burst_len: 1,
            },
        });
    }

    /// Books the earliest slot at or after `now` and returns it: how an outbox schedules a
    /// queue of messages to one customer.
    pub fn reserve(&mut self, rate: &PairRate, now: Millis) -> Millis {
        let at = self.earliest(rate, now);
        self.record(rate, at);
        at
    }
}

/// A business number's throughput (cloud-api.md §5.1): 80 messages a second by default, 20 for
/// coexistence numbers, up to 1,000 after Meta's automatic upgrade. Meta counts inbound and
/// outbound messages of every type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throughput {
    pub per_second: u32,
    /// Messages allowed back to back before the steady pace applies. 1 spaces every message
    /// evenly (12.5 ms apart at 80/s), the safe reading of "messages per second".
    pub burst: u32,
}

impl Throughput {
    pub const DEFAULT: Self = Self::per_second(80);
    pub const COEXISTENCE: Self = Self::per_second(20);
    pub const UPGRADED: Self = Self::per_second(1_000);

    pub const fn per_second(per_second: u32) -> Self {
        Self {
            per_second,
            burst: 1,
        }
    }

    /// The spacing of messages in microseconds, rounded up: never faster than the rate.
    fn interval_us(self) -> i64 {
        let n = i64::from(self.per_second.max(1));
        (1_000_000 + n - 1) / n
    }
}

impl Default for Throughput {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The throughput state of one business number: the generic cell rate algorithm (equivalent to
/// a token bucket of `burst` tokens refilled at `per_second`), in microseconds so that 80/s is
/// exact. The rate is passed to every call, so a throughput upgrade applies from the next call.
///
/// Guarantee (property-tested): in any span of `d` µs, at most `burst + d / interval` messages
/// are allowed, where `interval` is `1 s / per_second` rounded up to the microsecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThroughputBucket {
    /// Theoretical arrival time of the next message, µs.
    tat_us: Option<i64>,
}

impl ThroughputBucket {
    fn earliest_us(&self, rate: Throughput, now_us: i64) -> i64 {
        let Some(tat) = self.tat_us else {
            return now_us;
        };
        let tolerance = i64::from(rate.burst.max(1) - 1).saturating_mul(rate.interval_us());
        now_us.max(tat.saturating_sub(tolerance))
    }

    /// The earliest instant, at or after `now`, at which a message may leave.
    pub fn earliest(&self, rate: Throughput, now: Millis) -> Millis {
        ceil_ms(self.earliest_us(rate, now.0.saturating_mul(1000)))
    }

    /// `Ok` if a message may leave at `now`, else the earliest instant it may.
    pub fn check(&self, rate: Throughput, now: Millis) -> Result<(), Millis> {
        let at = self.earliest(rate, now);
        if at == now { Ok(()) } else { Err(at) }
    }

    /// Records a message at `at`, allowed or not: an inbound message counts too.
    pub fn record(&mut self, rate: Throughput, at: Millis) {
        self.record_us(rate, at.0.saturating_mul(1000));
    }

    fn record_us(&mut self, rate: Throughput, now_us: i64) {
        let base = self.tat_us.map_or(now_us, |tat| tat.max(now_us));
        self.tat_us = Some(base.saturating_add(rate.interval_us()));
    }

    /// Books the earliest slot at or after `now` and returns it (rounded up to the
    /// millisecond; the booking itself is exact, so a queue does not drift slower).
    pub fn reserve(&mut self, rate: Throughput, now: Millis) -> Millis {
        let us = self.earliest_us(rate, now.0.saturating_mul(1000));
        self.record_us(rate, us);
        ceil_ms(us)
    }
}

fn ceil_ms(us: i64) -> Millis {
    Millis(us.div_euclid(1000) + i64::from(us.rem_euclid(1000) > 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const META: PairRate = PairRate::META;

    #[test]
    fn one_message_every_six_seconds_is_always_allowed() {
        let mut p = PairLimiter::default();
        for i in 0..100 {
            let t = Millis(i * 6_000);
            assert_eq!(p.check(&META, t), Ok(()), "message {i}");
            p.record(&META, t);
        }
    }

    #[test]
    fn a_burst_of_twenty_waits_two_minutes() {
        let mut p = PairLimiter::default();
        for i in 0..20 {
            assert_eq!(p.reserve(&META, Millis(i * 100)), Millis(i * 100));
        }
        assert_eq!(p.earliest(&META, Millis(7_000)), Millis(120_000));
        assert_eq!(p.check(&META, Millis(119_999)), Err(Millis(120_000)));
        assert_eq!(p.check(&META, Millis(120_000)), Ok(()));
    }

    #[test]
    fn a_burst_stops_at_forty_five() {
        let mut p = PairLimiter::default();
        for _ in 0..45 {
            assert_eq!(p.reserve(&META, Millis(0)), Millis(0));
        }
        assert_eq!(p.earliest(&META, Millis(1)), Millis(45 * 6_000));
    }

    #[test]
    fn a_booked_queue_waits_for_the_debt_of_each_burst() {
        let mut p = PairLimiter::default();
        let slots: Vec<i64> = (0..91).map(|_| p.reserve(&META, Millis(0)).0).collect();
        assert_eq!(slots[44], 0);
        // The debt of 45 × 6 s is paid at 270 s; then a new burst may begin.
        assert_eq!(slots[45], 270_000);
        assert_eq!(slots[89], 270_000);
        assert_eq!(slots[90], 540_000);
    }

    #[test]
    fn a_reply_typed_on_the_phone_still_counts() {
        let mut p = PairLimiter::default();
        p.record(&META, Millis(0));
        p.record(&META, Millis(10_000));
        p.record(&META, Millis(10_001));
        // Two messages since 10 s: the debt runs to 22 s, and that burst began at 10 s.
        assert_eq!(p.earliest(&META, Millis(16_500)), Millis(22_000));
    }

    #[test]
    fn throughput_spaces_messages_evenly() {
        let mut b = ThroughputBucket::default();
        let rate = Throughput::DEFAULT;
        let slots: Vec<i64> = (0..5).map(|_| b.reserve(rate, Millis(0)).0).collect();
        // 12.5 ms apart, rounded up to the millisecond.
        assert_eq!(slots, vec![0, 13, 25, 38, 50]);
        let mut burst = ThroughputBucket::default();
        let rate = Throughput {
            per_second: 20,
            burst: 3,
        };
        let slots: Vec<i64> = (0..5).map(|_| burst.reserve(rate, Millis(0)).0).collect();
        assert_eq!(slots, vec![0, 0, 0, 50, 100]);
    }

    #[test]
    fn millis_round_up_to_seconds() {
        assert_eq!(Millis(1_000).to_timestamp_ceil(), Timestamp::from_unix(1));
        assert_eq!(Millis(1_001).to_timestamp_ceil(), Timestamp::from_unix(2));
        assert_eq!(Millis(-1).to_timestamp_ceil(), Timestamp::from_unix(0));
        assert_eq!(
            Millis::from_timestamp(Timestamp::from_unix(3)),
            Millis(3_000)
        );
    }

    fn arb_rate() -> impl Strategy<Value = PairRate> {
        (1_i64..10_000, 1_u32..50, 0_i64..10_000).prop_map(|(interval_ms, burst, window)| {
            PairRate {
                interval_ms,
                burst,
                burst_window_ms: window,
            }
        })
    }

    proptest! {
        /// Whatever the attempts, the messages allowed never exceed `burst + d / interval` in
        /// any span of `d` ms; every refusal names a later instant, and that instant is allowed
        /// while any instant before it is not.
        #[test]
        fn the_pair_limiter_never_allows_more_than_burst_plus_the_steady_pace(
            rate in arb_rate(),
            gaps in prop::collection::vec(0_i64..8_000, 1..200),
        ) {
            let mut p = PairLimiter::default();
            let mut now = 0_i64;
            let mut sent = Vec::new();
            for gap in gaps {
                now += gap;
                let t = Millis(now);
                let earliest = p.earliest(&rate, t);
                prop_assert!(earliest >= t);
                prop_assert_eq!(p.check(&rate, earliest), Ok(()));
                if earliest > t {
                    prop_assert_eq!(p.check(&rate, Millis(earliest.0 - 1)), Err(earliest));
                    prop_assert_eq!(p.check(&rate, t), Err(earliest));
                } else {
                    p.record(&rate, t);
                    sent.push(now);
                }
            }
            for (i, &a) in sent.iter().enumerate() {
                for (j, &b) in sent.iter().enumerate().skip(i) {
                    let count = (j - i + 1) as i64;
                    let bound = i64::from(rate.burst) + (b - a) / rate.interval_ms;
                    prop_assert!(count <= bound, "{count} messages in [{a}, {b}] > {bound}");
                }
            }
        }

        #[test]
        fn throughput_never_exceeds_burst_plus_the_rate(
            per_second in 1_u32..2_000,
            burst in 1_u32..20,
            gaps in prop::collection::vec(0_i64..30, 1..300),
        ) {
            let rate = Throughput { per_second, burst };
            let mut b = ThroughputBucket::default();
            let mut now = 0_i64;
            let mut sent = Vec::new();
            for gap in gaps {
                now += gap;
                let t = Millis(now);
                let earliest = b.earliest(rate, t);
                prop_assert!(earliest >= t);
                prop_assert_eq!(b.check(rate, earliest), Ok(()));
                if earliest == t {
                    b.record(rate, t);
                    sent.push(now);
                }
            }
            let interval_us = rate.interval_us();
            for (i, &a) in sent.iter().enumerate() {
                for (j, &c) in sent.iter().enumerate().skip(i) {
                    let count = (j - i + 1) as i64;
                    let bound = i64::from(burst) + (c - a) * 1000 / interval_us;
                    prop_assert!(count <= bound, "{count} in [{a}, {c}] ms > {bound}");
                }
            }
        }
    }
}
