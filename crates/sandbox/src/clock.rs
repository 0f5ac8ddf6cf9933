//! The emulated clock: the machine's time plus an offset that the control API moves forward, so
//! that 24-hour and 72-hour rules and seven days of webhook retries are tested in seconds.

use std::sync::atomic::{AtomicI64, Ordering};

/// Unix milliseconds, emulated.
#[derive(Debug)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// A clock that starts at the machine's time, or at `start_ms` when given.
    pub fn new(start_ms: Option<i64>) -> Self {
        let offset_ms = start_ms.map_or(0, |start| start - wall_ms());
        Self {
            offset_ms: AtomicI64::new(offset_ms),
        }
    }

    pub fn now_ms(&self) -> i64 {
        wall_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Unix seconds, the unit of Meta's timestamps.
    pub fn now_s(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Moves the clock forward; it never goes back.
    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms.max(0), Ordering::Relaxed);
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "the one place the sandbox reads the machine's clock"
)]
fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_where_told_and_only_moves_forward() {
        let clock = Clock::new(Some(1_000_000));
        let start = clock.now_ms();
        assert!((1_000_000..1_060_000).contains(&start));
        clock.advance(3_600_000);
        assert!(clock.now_ms() >= start + 3_600_000);
        let before = clock.now_ms();
        clock.advance(-5_000_000);
        assert!(clock.now_ms() >= before);
    }
}
