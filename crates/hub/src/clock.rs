//! The hub's clock. Rules use Meta's timestamps; the hub's own time (when a webhook arrived, how
//! long ago a window closed) comes from here, so that tests and the sandbox's emulated clock can
//! move it.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Unix time in milliseconds.
    fn now_ms(&self) -> i64;

    /// Unix time in seconds, the unit of Meta's timestamps.
    fn now(&self) -> domain::Timestamp {
        domain::Timestamp::from_unix(self.now_ms().div_euclid(1000))
    }
}

/// The machine's clock, shifted by an offset that an emulated clock can advance.
#[derive(Debug, Default)]
pub struct SystemClock {
    offset_ms: AtomicI64,
}

impl SystemClock {
    /// Moves this clock forward (or back) by `ms`.
    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that reads the machine's clock"
    )]
    fn now_ms(&self) -> i64 {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        since + self.offset_ms.load(Ordering::Relaxed)
    }
}

/// A clock that only moves when told to, for tests.
#[derive(Debug)]
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl ManualClock {
    pub fn at_ms(now_ms: i64) -> Self {
        Self {
            now_ms: AtomicI64::new(now_ms),
        }
    }

    pub fn advance(&self, ms: i64) {
        self.now_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::Relaxed)
    }
}
