//! Time as the rules see it: Unix seconds, as Meta writes them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, Sub};

/// A point in time, Unix seconds. Meta's webhook timestamps are in this unit, and every rule is
/// computed from them, never from when guichet happened to process an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

/// A span of time in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seconds(pub i64);

impl Seconds {
    pub const MINUTE: Self = Self(60);
    pub const HOUR: Self = Self(3600);
    pub const DAY: Self = Self(86_400);

    pub const fn hours(h: i64) -> Self {
        Self(h * 3600)
    }
}

impl Timestamp {
    pub const fn from_unix(seconds: i64) -> Self {
        Self(seconds)
    }

    pub const fn unix(self) -> i64 {
        self.0
    }
}

impl Add<Seconds> for Timestamp {
    type Output = Self;
    fn add(self, rhs: Seconds) -> Self {
        Self(self.0.saturating_add(rhs.0))
    }
}

impl Sub<Seconds> for Timestamp {
    type Output = Self;
    fn sub(self, rhs: Seconds) -> Self {
        Self(self.0.saturating_sub(rhs.0))
    }
}

impl Sub for Timestamp {
    type Output = Seconds;
    fn sub(self, rhs: Self) -> Seconds {
        Seconds(self.0.saturating_sub(rhs.0))
    }
}

impl fmt::Display for Seconds {
    /// A duration as a person says it: "3 h 5 min", "45 s", "2 d 1 h".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.unsigned_abs();
        let sign = if self.0 < 0 { "-" } else { "" };
        let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
        match (d, h, m) {
            (0, 0, 0) => write!(f, "{sign}{s} s"),
            (0, 0, m) => write!(f, "{sign}{m} min"),
            (0, h, 0) => write!(f, "{sign}{h} h"),
            (0, h, m) => write!(f, "{sign}{h} h {m} min"),
            (d, 0, _) => write!(f, "{sign}{d} d"),
            (d, h, _) => write!(f, "{sign}{d} d {h} h"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_overflowing() {
        assert_eq!(
            Timestamp::from_unix(i64::MAX) + Seconds::DAY,
            Timestamp::from_unix(i64::MAX)
        );
        assert_eq!(
            Timestamp::from_unix(10) - Timestamp::from_unix(4),
            Seconds(6)
        );
    }

    #[test]
    fn durations_read_like_people_say_them() {
        assert_eq!(Seconds(45).to_string(), "45 s");
        assert_eq!(Seconds(300).to_string(), "5 min");
        assert_eq!(Seconds::hours(3).to_string(), "3 h");
        assert_eq!(Seconds(3 * 3600 + 5 * 60).to_string(), "3 h 5 min");
        assert_eq!(Seconds(2 * 86_400 + 3600).to_string(), "2 d 1 h");
        assert_eq!(Seconds(-7200).to_string(), "-2 h");
    }
}
