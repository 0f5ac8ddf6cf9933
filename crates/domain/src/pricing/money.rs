//! Money as a bill counts it: whole millionths of a currency unit, never a float.
//!
//! Meta's rate cards give rates with up to four decimals (`0.0250` USD, `0.7846` INR; cloud-api.md
//! §7.3), so a millionth leaves room and every rate is held exactly. Amounts in different
//! currencies are never added: Meta bills a business in one currency (§7.2 lists the rate-card
//! currencies), and a report sums each currency apart.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How many micro-units make one unit of a currency.
pub const MICROS_PER_UNIT: i64 = 1_000_000;

/// Decimals a [`Money`] holds.
const DECIMALS: usize = 6;

/// An ISO 4217 currency code: three ASCII capital letters such as `USD`, `INR`, `EUR`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Self = Self(*b"USD");
    pub const EUR: Self = Self(*b"EUR");
    pub const INR: Self = Self(*b"INR");

    /// Three ASCII letters, in any case (`usd` is `USD`).
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        let code = code.trim();
        match code.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_alphabetic) => Ok(Self([
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
                c.to_ascii_uppercase(),
            ])),
            _ => Err(MoneyError::Currency {
                text: code.to_owned(),
            }),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored, so this never falls back.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// An exact amount of one currency, in micro-units (millionths).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    micros: i64,
    currency: Currency,
}

/// Why an amount or a sum was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("the amount is empty: expected a decimal number such as 0.0250")]
    Empty,
    #[error(
        "`{text}` is not a decimal amount: write digits with an optional `.` and no currency \
         sign, thousands separator or exponent, such as 0.0250"
    )]
    NotADecimal { text: String },
    #[error("`{text}` has more than 6 decimals: amounts are counted in millionths")]
    TooPrecise { text: String },
    #[error("`{text}` is too large an amount")]
    OutOfRange { text: String },
    #[error("`{text}` is not an ISO 4217 currency code: expected three letters such as USD")]
    Currency { text: String },
    #[error("`{text}` has no currency: write the amount, a space and the code, as in 0.025 USD")]
    MissingCurrency { text: String },
    #[error("{left} and {right} cannot be added: amounts in different currencies are summed apart")]
    CurrencyMismatch { left: Currency, right: Currency },
    #[error("the sum overflows: it is beyond ±9.2 trillion units")]
    Overflow,
}

impl Money {
    pub const fn from_micros(micros: i64, currency: Currency) -> Self {
        Self { micros, currency }
    }

    pub const fn zero(currency: Currency) -> Self {
        Self::from_micros(0, currency)
    }

    pub const fn micros(&self) -> i64 {
        self.micros
    }

    pub const fn currency(&self) -> Currency {
        self.currency
    }

    pub const fn is_zero(&self) -> bool {
        self.micros == 0
    }

    pub const fn is_negative(&self) -> bool {
        self.micros < 0
    }

    /// Parses a decimal as rate cards write it (`0.0250`, `12`, `.5`, `-1.25`), exactly: no
    /// rounding ever happens, so more than six significant decimals is an error, while trailing
    /// zeros beyond the sixth are accepted. The text is trimmed of surrounding spaces.
    pub fn parse_decimal(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let t = text.trim();
        let bad = || MoneyError::NotADecimal { text: t.to_owned() };
        if t.is_empty() {
            return Err(MoneyError::Empty);
        }
        let (negative, digits) = match t.as_bytes().first() {
            Some(b'-') => (true, &t[1..]),
            Some(b'+') => (false, &t[1..]),
            _ => (false, t),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() && fraction.is_empty() || !all_digits(whole) || !all_digits(fraction) {
            return Err(bad());
        }
        let significant = fraction.trim_end_matches('0');
        if significant.len() > DECIMALS {
            return Err(MoneyError::TooPrecise { text: t.to_owned() });
        }
        let out_of_range = || MoneyError::OutOfRange { text: t.to_owned() };
        // Counted in i128 so that the most negative amount, whose magnitude is one more than the
        // largest positive one, still reads back; leading zeros never count towards overflow.
        let mut micros: i128 = 0;
        for b in whole.trim_start_matches('0').bytes() {
            micros = micros
                .checked_mul(10)
                .and_then(|m| m.checked_add(i128::from(b - b'0')))
                .filter(|m| *m <= i128::from(i64::MAX))
                .ok_or_else(out_of_range)?;
        }
        micros *= i128::from(MICROS_PER_UNIT);
        let mut scale = i128::from(MICROS_PER_UNIT / 10);
        for b in significant.bytes() {
            micros += i128::from(b - b'0') * scale;
            scale /= 10;
        }
        let micros = if negative { -micros } else { micros };
        let micros = i64::try_from(micros).map_err(|_| out_of_range())?;
        Ok(Self::from_micros(micros, currency))
    }

    /// The amount without its currency, with at least two decimals and no trailing zeros
    /// beyond them: `0.025`, `1.00`, `-3.50`. [`Money::parse_decimal`] reads it back exactly.
    pub fn decimal(&self) -> String {
        let sign = if self.micros < 0 { "-" } else { "" };
        let abs = self.micros.unsigned_abs();
        let per_unit = MICROS_PER_UNIT.unsigned_abs();
        let (whole, fraction) = (abs / per_unit, abs % per_unit);
        let fraction = format!("{fraction:06}");
        let kept = fraction.trim_end_matches('0').len().max(2);
        format!("{sign}{whole}.{}", &fraction[..kept])
    }

    /// The sum, if both amounts are in one currency and it fits.
    pub fn checked_add(self, other: Self) -> Result<Self, MoneyError> {
        self.same_currency(other)?;
        self.micros
            .checked_add(other.micros)
            .map(|micros| Self::from_micros(micros, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    /// The difference `self - other`, if both are in one currency and it fits.
    pub fn checked_sub(self, other: Self) -> Result<Self, MoneyError> {
        self.same_currency(other)?;
        self.micros
            .checked_sub(other.micros)
            .map(|micros| Self::from_micros(micros, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    fn same_currency(self, other: Self) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }
}

impl fmt::Display for Money {
    /// `0.025 USD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.decimal(), self.currency)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    /// Reads what `Display` writes: `0.025 USD`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (amount, currency) = s
            .rsplit_once(' ')
            .ok_or_else(|| MoneyError::MissingCurrency { text: s.to_owned() })?;
        Self::parse_decimal(amount, Currency::parse(currency)?)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Money {
    /// As the string `Display` writes (`"0.025 USD"`), so no JSON reader turns it into a float.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usd(text: &str) -> Money {
        Money::parse_decimal(text, Currency::USD).unwrap()
    }

    #[test]
    fn rate_card_decimals_parse_exactly() {
        assert_eq!(usd("0.0250").micros(), 25_000);
        assert_eq!(usd("0.0044").micros(), 4_400);
        assert_eq!(usd("12").micros(), 12_000_000);
        assert_eq!(usd(".5").micros(), 500_000);
        assert_eq!(usd("5.").micros(), 5_000_000);
        assert_eq!(usd("-1.25").micros(), -1_250_000);
        assert_eq!(usd(" 0.000001 ").micros(), 1);
        assert_eq!(usd("0.100000000").micros(), 100_000);
        assert_eq!(usd("0009.5").micros(), 9_500_000);
    }

    #[test]
    fn what_is_not_an_exact_decimal_is_refused_and_explained() {
        for bad in [
            "", " ", ".", "-", "0,025", "$0.02", "1e-3", "0.02.1", "1 000", "--1",
        ] {
            let err = Money::parse_decimal(bad, Currency::USD).unwrap_err();
            assert!(
                matches!(err, MoneyError::Empty | MoneyError::NotADecimal { .. }),
                "{bad:?}: {err}"
            );
        }
        assert_eq!(
            Money::parse_decimal("0.0000001", Currency::USD),
            Err(MoneyError::TooPrecise {
                text: "0.0000001".into()
            })
        );
        assert!(matches!(
            Money::parse_decimal("99999999999999", Currency::USD),
            Err(MoneyError::OutOfRange { .. })
        ));
        assert!(
            MoneyError::NotADecimal {
                text: "0,025".into()
            }
            .to_string()
            .contains("such as 0.0250")
        );
    }

    #[test]
    fn display_shows_at_least_two_decimals_and_the_currency() {
        assert_eq!(usd("0.0250").to_string(), "0.025 USD");
        assert_eq!(usd("1").to_string(), "1.00 USD");
        assert_eq!(usd("-3.5").to_string(), "-3.50 USD");
        assert_eq!(usd("0.000001").to_string(), "0.000001 USD");
        assert_eq!("0.025 usd".parse::<Money>(), Ok(usd("0.025")));
    }

    #[test]
    fn currencies_are_three_letters_and_never_mix() {
        assert_eq!(Currency::parse("inr"), Ok(Currency::INR));
        assert!(Currency::parse("US").is_err());
        assert!(Currency::parse("U$D").is_err());
        let inr = Money::parse_decimal("0.78", Currency::INR).unwrap();
        assert_eq!(
            usd("1").checked_add(inr),
            Err(MoneyError::CurrencyMismatch {
                left: Currency::USD,
                right: Currency::INR
            })
        );
        assert_eq!(
            Money::from_micros(i64::MAX, Currency::USD).checked_add(usd("0.000001")),
            Err(MoneyError::Overflow)
        );
        assert_eq!(usd("1").checked_sub(usd("0.25")), Ok(usd("0.75")));
    }

    #[test]
    fn serialises_as_a_string_so_json_never_holds_a_float() {
        let json = serde_json::to_string(&usd("0.0250")).unwrap();
        assert_eq!(json, "\"0.025 USD\"");
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), usd("0.025"));
    }

    proptest! {
        #[test]
        fn display_then_parse_is_the_identity(micros in any::<i64>()) {
            let m = Money::from_micros(micros, Currency::EUR);
            prop_assert_eq!(m.to_string().parse::<Money>(), Ok(m));
            prop_assert_eq!(Money::parse_decimal(&m.decimal(), Currency::EUR), Ok(m));
        }

        #[test]
        fn parsing_never_panics(text in ".{0,40}") {
            let _ = Money::parse_decimal(&text, Currency::USD);
            let _ = text.parse::<Money>();
        }

        #[test]
        fn sums_do_not_depend_on_order(
            mut amounts in proptest::collection::vec(-1_000_000_000_000i64..1_000_000_000_000, 0..40),
            seed in any::<u64>(),
        ) {
            let sum = |xs: &[i64]| xs.iter().try_fold(Money::zero(Currency::USD), |acc, &m| {
                acc.checked_add(Money::from_micros(m, Currency::USD))
            });
            let before = sum(&amounts);
            // A deterministic shuffle driven by the seed.
            let n = amounts.len();
            for i in (1..n).rev() {
                let j = usize::try_from(seed.rotate_left(u32::try_from(i % 64).unwrap()) % (i as u64 + 1)).unwrap();
                amounts.swap(i, j);
            }
            prop_assert_eq!(before, sum(&amounts));
        }
    }
}
