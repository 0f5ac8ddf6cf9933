//! Calendar months in a WABA's time zone.
//!
//! Meta counts pricing by the WABA's time zone: the CBP free tier "reset monthly in the WABA
//! timezone" (cloud-api.md §7.1), PMP is "billed per WABA timezone day" and volume tiers reset "at
//! 12 am WABA timezone" (§7.2). The zone is given as a fixed offset from UTC; the calendar
//! arithmetic is the `time` crate's (years −9999 to 9999; instants beyond fall in the first or
//! last month it knows).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Timestamp;
use crate::time::Seconds;

/// A WABA's time zone as a fixed offset from UTC, in seconds east of Greenwich.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WabaOffset(i32);

impl WabaOffset {
    pub const UTC: Self = Self(0);

    /// An offset strictly within ±24 h (real ones run from −12 h to +14 h).
    pub const fn from_seconds(seconds: i32) -> Option<Self> {
        if seconds > -86_400 && seconds < 86_400 {
            Some(Self(seconds))
        } else {
            None
        }
    }

    pub const fn seconds(self) -> i32 {
        self.0
    }
}

/// A calendar month, such as `2026-10`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    year: i32,
    month: u8,
}

impl YearMonth {
    /// `None` unless `month` is 1 to 12.
    pub const fn new(year: i32, month: u8) -> Option<Self> {
        if matches!(month, 1..=12) {
            Some(Self { year, month })
        } else {
            None
        }
    }

    pub const fn year(self) -> i32 {
        self.year
    }

    /// 1 (January) to 12.
    pub const fn month(self) -> u8 {
        self.month
    }

    /// The month `at` falls in, on the wall clock of a WABA at `offset`.
    pub fn of(at: Timestamp, offset: WabaOffset) -> Self {
        let local = at.unix().saturating_add(i64::from(offset.seconds()));
        let date = time::OffsetDateTime::from_unix_timestamp(local).map_or(
            if local < 0 {
                time::Date::MIN
            } else {
                time::Date::MAX
            },
            time::OffsetDateTime::date,
        );
        Self {
            year: date.year(),
            month: u8::from(date.month()),
        }
    }

    /// Midnight starting the 1st of the month on the wall clock of a WABA at `offset`
    /// (saturating beyond the years the calendar knows).
    pub fn start(self, offset: WabaOffset) -> Timestamp {
        let first = time::Month::try_from(self.month)
            .ok()
            .and_then(|month| time::Date::from_calendar_date(self.year, month, 1).ok());
        let unix = first.map_or(if self.year < 0 { i64::MIN } else { i64::MAX }, |day| {
            day.midnight().assume_utc().unix_timestamp()
        });
        Timestamp::from_unix(unix.saturating_sub(i64::from(offset.seconds())))
    }

    /// The month after this one (December is followed by January of the next year).
    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year.saturating_add(1),
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// Whether the month starts a calendar quarter: Meta changes rates only on 1 January,
    /// 1 April, 1 July and 1 October (cloud-api.md §7.2, "Pricing calendar").
    pub const fn is_quarter_start(self) -> bool {
        matches!(self.month, 1 | 4 | 7 | 10)
    }

    /// How long the month lasts (28 to 31 days).
    pub fn length(self) -> Seconds {
        self.next().start(WabaOffset::UTC) - self.start(WabaOffset::UTC)
    }
}

impl fmt::Display for YearMonth {
    /// `2026-10`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// A month that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a month: write it as 2026-10 (or 2026-10-01, the first day)")]
pub struct YearMonthError {
    pub text: String,
}

impl FromStr for YearMonth {
    type Err = YearMonthError;

    /// `2026-10`, or `2026-10-01`: a rate card or a rule takes effect on the first of a month.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || YearMonthError { text: s.to_owned() };
        let t = s.trim();
        let t = t.strip_suffix("-01").filter(|m| m.len() == 7).unwrap_or(t);
        let (year, month) = t.split_once('-').ok_or_else(err)?;
        if year.len() != 4 || month.len() != 2 {
            return Err(err());
        }
        let year = year.parse::<u16>().map_err(|_| err())?;
        let month = month.parse::<u8>().map_err(|_| err())?;
        Self::new(i32::from(year), month).ok_or_else(err)
    }
}

impl Serialize for YearMonth {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for YearMonth {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ym(year: i32, month: u8) -> YearMonth {
        YearMonth::new(year, month).unwrap()
    }

    /// 2025-07-01T00:00:00Z.
    const JULY_2025: i64 = 1_751_328_000;

    #[test]
    fn known_month_starts() {
        assert_eq!(ym(1970, 1).start(WabaOffset::UTC), Timestamp::from_unix(0));
        assert_eq!(
            ym(2025, 7).start(WabaOffset::UTC),
            Timestamp::from_unix(JULY_2025)
        );
        assert_eq!(
            ym(2026, 10).start(WabaOffset::UTC),
            Timestamp::from_unix(1_790_812_800)
        );
        assert_eq!(ym(2024, 2).length(), Seconds(29 * 86_400));
        assert_eq!(ym(2100, 2).length(), Seconds(28 * 86_400));
    }

    #[test]
    fn the_month_is_read_on_the_wabas_wall_clock() {
        let ist = WabaOffset::from_seconds(5 * 3600 + 1800).unwrap();
        let pdt = WabaOffset::from_seconds(-7 * 3600).unwrap();
        let late_june_utc = Timestamp::from_unix(JULY_2025 - 3600);
        assert_eq!(YearMonth::of(late_june_utc, WabaOffset::UTC), ym(2025, 6));
        assert_eq!(YearMonth::of(late_june_utc, ist), ym(2025, 7));
        assert_eq!(
            YearMonth::of(Timestamp::from_unix(JULY_2025), pdt),
            ym(2025, 6)
        );
        assert_eq!(
            ym(2025, 7).start(ist),
            Timestamp::from_unix(JULY_2025 - 19_800)
        );
        assert_eq!(WabaOffset::from_seconds(86_400), None);
    }

    #[test]
    fn months_read_and_print_as_iso_dates() {
        assert_eq!("2026-10".parse(), Ok(ym(2026, 10)));
        assert_eq!("2026-10-01".parse(), Ok(ym(2026, 10)));
        for bad in ["2026-13", "2026-10-02", "26-10", "2026/10", "", "2026-1"] {
            assert!(bad.parse::<YearMonth>().is_err(), "{bad}");
        }
        assert_eq!(ym(2026, 1).to_string(), "2026-01");
        assert_eq!(ym(2026, 12).next(), ym(2027, 1));
        assert!(ym(2026, 10).is_quarter_start() && !ym(2026, 11).is_quarter_start());
    }

    #[test]
    fn extreme_timestamps_do_not_panic() {
        for s in [i64::MIN, i64::MAX] {
            let m = YearMonth::of(Timestamp::from_unix(s), WabaOffset::UTC);
            let _ = m.start(WabaOffset::UTC);
            let _ = m.next().length();
        }
    }

    proptest! {
        /// Cross-check against the `time` crate over its whole range.
        #[test]
        fn agrees_with_the_time_crate(
            unix in -377_705_116_800i64..253_402_300_799,
            offset in -86_399i32..86_399,
        ) {
            let offset = WabaOffset::from_seconds(offset).unwrap();
            let local = time::OffsetDateTime::from_unix_timestamp(unix + i64::from(offset.seconds()));
            prop_assume!(local.is_ok());
            let local = local.unwrap();
            let m = YearMonth::of(Timestamp::from_unix(unix), offset);
            prop_assert_eq!((m.year(), m.month()), (local.year(), u8::from(local.month())));
            let first = local.replace_day(1).unwrap().replace_time(time::Time::MIDNIGHT);
            prop_assert_eq!(
                m.start(offset).unix(),
                first.unix_timestamp() - i64::from(offset.seconds())
            );
            prop_assert!(m.start(offset) <= Timestamp::from_unix(unix));
            prop_assert!(Timestamp::from_unix(unix) < m.next().start(offset));
        }
    }
}
