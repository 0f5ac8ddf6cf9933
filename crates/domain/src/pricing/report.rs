//! Cost reports: ledger rows summed by month (on the WABA's clock, as Meta bills, cloud-api.md
//! §7.2), category, market and business number, the predicted cost beside the billed one, each
//! currency apart.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use super::calendar::{WabaOffset, YearMonth};
use super::market::Market;
use super::money::{Currency, Money};
use crate::{Category, Timestamp};

/// One priced message, as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerRow {
    /// The wamid.
    pub message_id: String,
    /// The business number that sent it.
    pub phone_number_id: String,
    pub market: Market,
    /// The billed category once Meta's bill came, the predicted one before.
    pub category: Category,
    pub sent_at: Timestamp,
    /// The predicted charge; `None` when free or of unknown price.
    pub predicted: Option<Money>,
    /// The billed charge; `None` until billed, when free, or of unknown price.
    pub billed: Option<Money>,
}

/// What a report line groups by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ReportKey {
    pub month: YearMonth,
    pub category: Category,
    pub market: Market,
    pub phone_number_id: String,
}

/// The sums of one group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ReportLine {
    pub messages: u64,
    /// Messages with a predicted charge.
    pub predicted_messages: u64,
    /// Messages with a billed charge.
    pub billed_messages: u64,
    /// Per currency; a currency appears once a message of the group has an amount in it.
    pub predicted: BTreeMap<Currency, Money>,
    pub billed: BTreeMap<Currency, Money>,
}

impl ReportLine {
    /// Billed minus predicted in `currency` (a missing side counts as zero).
    pub fn difference(&self, currency: Currency) -> Option<Money> {
        let zero = Money::zero(currency);
        let billed = self.billed.get(&currency).copied().unwrap_or(zero);
        let predicted = self.predicted.get(&currency).copied().unwrap_or(zero);
        billed.checked_sub(predicted).ok()
    }
}

/// Cost by month, category, market and number.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CostReport {
    pub lines: BTreeMap<ReportKey, ReportLine>,
    /// Rows whose message id was already counted: each message is counted once, by its first
    /// row. The ledger holds one row per message, so a non-zero count is worth a look.
    pub duplicate_rows: u64,
}

/// A sum too large for [`Money`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the {side} total of {month} {category} {market} {phone_number_id} in {currency} is too large to hold"
)]
pub struct ReportError {
    pub side: &'static str,
    pub month: YearMonth,
    pub category: Category,
    pub market: Market,
    pub phone_number_id: String,
    pub currency: Currency,
}

/// Running sums of one group, wide enough that no order of rows can overflow them.
#[derive(Default)]
struct Sums {
    messages: u64,
    predicted_messages: u64,
    billed_messages: u64,
    predicted: BTreeMap<Currency, i128>,
    billed: BTreeMap<Currency, i128>,
}

/// Sums ledger rows into a report. Months are read on the clock of a WABA at `offset`. Sums are
/// exact and do not depend on the order of the rows.
pub fn cost_report<'a>(
    rows: impl IntoIterator<Item = &'a LedgerRow>,
    offset: WabaOffset,
) -> Result<CostReport, ReportError> {
    let mut seen = HashSet::new();
    let mut duplicate_rows = 0;
    let mut sums: BTreeMap<ReportKey, Sums> = BTreeMap::new();
    for row in rows {
        if !seen.insert(row.message_id.as_str()) {
            duplicate_rows += 1;
            continue;
        }
        let key = ReportKey {
            month: YearMonth::of(row.sent_at, offset),
            category: row.category,
            market: row.market.clone(),
            phone_number_id: row.phone_number_id.clone(),
        };
        let group = sums.entry(key).or_default();
        group.messages += 1;
        if let Some(m) = row.predicted {
            group.predicted_messages += 1;
            *group.predicted.entry(m.currency()).or_default() += i128::from(m.micros());
        }
        if let Some(m) = row.billed {
            group.billed_messages += 1;
            *group.billed.entry(m.currency()).or_default() += i128::from(m.micros());
        }
    }
    let mut lines = BTreeMap::new();
    for (key, group) in sums {
        let to_money = |side: &'static str, totals: BTreeMap<Currency, i128>| {
            totals
                .into_iter()
                .map(|(currency, micros)| {
                    i64::try_from(micros)
                        .map(|micros| (currency, Money::from_micros(micros, currency)))
                        .map_err(|_| ReportError {
                            side,
                            month: key.month,
                            category: key.category,
                            market: key.market.clone(),
                            phone_number_id: key.phone_number_id.clone(),
                            currency,
                        })
                })
                .collect::<Result<BTreeMap<_, _>, _>>()
        };
        let line = ReportLine {
            messages: group.messages,
            predicted_messages: group.predicted_messages,
            billed_messages: group.billed_messages,
            predicted: to_money("predicted", group.predicted)?,
            billed: to_money("billed", group.billed)?,
        };
        lines.insert(key, line);
    }
    Ok(CostReport {
        lines,
        duplicate_rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usd(text: &str) -> Money {
        Money::parse_decimal(text, Currency::USD).unwrap()
    }

    fn row(
        id: &str,
        category: Category,
        sent_at: i64,
        predicted: Option<Money>,
        billed: Option<Money>,
    ) -> LedgerRow {
        LedgerRow {
            message_id: id.to_owned(),
            phone_number_id: "106540352242922".to_owned(),
            market: Market::new("India").unwrap(),
            category,
            sent_at: Timestamp::from_unix(sent_at),
            predicted,
            billed,
        }
    }

    /// 2026-10-01T00:00:00Z.
    const OCT_2026: i64 = 1_790_812_800;

    #[test]
    fn groups_by_month_on_the_waba_clock_and_sums_each_side() {
        let rows = [
            row(
                "a",
                Category::Marketing,
                OCT_2026 - 3600,
                Some(usd("0.0129")),
                Some(usd("0.0129")),
            ),
            row(
                "b",
                Category::Marketing,
                OCT_2026 + 60,
                Some(usd("0.0129")),
                None,
            ),
            row(
                "c",
                Category::Marketing,
                OCT_2026 + 120,
                Some(usd("0.0129")),
                Some(usd("0.0150")),
            ),
            row("d", Category::Utility, OCT_2026 + 180, None, None),
        ];
        let utc = cost_report(&rows, WabaOffset::UTC).unwrap();
        let keys: Vec<String> = utc
            .lines
            .keys()
            .map(|k| format!("{} {}", k.month, k.category))
            .collect();
        assert_eq!(
            keys,
            ["2026-09 marketing", "2026-10 marketing", "2026-10 utility"]
        );
        let oct = utc.lines.values().nth(1).unwrap();
        assert_eq!(
            (oct.messages, oct.predicted_messages, oct.billed_messages),
            (2, 2, 1)
        );
        assert_eq!(oct.predicted[&Currency::USD], usd("0.0258"));
        assert_eq!(oct.billed[&Currency::USD], usd("0.0150"));
        assert_eq!(oct.difference(Currency::USD), Some(usd("-0.0108")));
        let free = utc.lines.values().nth(2).unwrap();
        assert!(free.predicted.is_empty() && free.billed.is_empty());

        // Two hours east of UTC, row a is already in October.
        let east = cost_report(&rows, WabaOffset::from_seconds(7200).unwrap()).unwrap();
        assert_eq!(east.lines.len(), 2);
        assert_eq!(east.lines.values().next().unwrap().messages, 3);
    }

    #[test]
    fn a_message_is_counted_once_and_currencies_apart() {
        let inr = Money::parse_decimal("0.7846", Currency::INR).unwrap();
        let rows = [
            row(
                "a",
                Category::Marketing,
                OCT_2026,
                Some(usd("0.01")),
                Some(usd("0.01")),
            ),
            row(
                "a",
                Category::Marketing,
                OCT_2026,
                Some(usd("0.01")),
                Some(usd("0.01")),
            ),
            row("b", Category::Marketing, OCT_2026, Some(inr), Some(inr)),
        ];
        let report = cost_report(&rows, WabaOffset::UTC).unwrap();
        assert_eq!(report.duplicate_rows, 1);
        let line = report.lines.values().next().unwrap();
        assert_eq!(line.messages, 2);
        assert_eq!(line.billed[&Currency::USD], usd("0.01"));
        assert_eq!(line.billed[&Currency::INR], inr);
    }

    #[test]
    fn a_total_too_large_is_an_error_not_a_wrong_number() {
        let huge = Money::from_micros(i64::MAX, Currency::USD);
        let rows = [
            row("a", Category::Marketing, 0, Some(huge), None),
            row("b", Category::Marketing, 0, Some(huge), None),
        ];
        let err = cost_report(&rows, WabaOffset::UTC).unwrap_err();
        assert_eq!(err.side, "predicted");
        assert!(err.to_string().contains("1970-01 marketing India"));
    }

    proptest! {
        #[test]
        fn sums_do_not_depend_on_row_order(
            amounts in proptest::collection::vec(
                (0u8..3, 0i64..90 * 86_400, proptest::option::of(0i64..10_000_000), proptest::option::of(0i64..10_000_000)),
                0..60,
            ),
            rotate in 0usize..60,
        ) {
            let categories = [Category::Marketing, Category::Utility, Category::Service];
            let mut rows: Vec<LedgerRow> = amounts
                .iter()
                .enumerate()
                .map(|(i, (c, t, p, b))| row(
                    &format!("wamid.{i}"),
                    categories[usize::from(*c)],
                    OCT_2026 + t,
                    p.map(|m| Money::from_micros(m, Currency::USD)),
                    b.map(|m| Money::from_micros(m, Currency::USD)),
                ))
                .collect();
            let forward = cost_report(&rows, WabaOffset::UTC).unwrap();
            rows.reverse();
            let len = rows.len().max(1);
            rows.rotate_left(rotate % len);
            prop_assert_eq!(&forward, &cost_report(&rows, WabaOffset::UTC).unwrap());
            let total: i64 = forward.lines.values().filter_map(|l| l.predicted.get(&Currency::USD)).map(Money::micros).sum();
            let expected: i64 = amounts.iter().filter_map(|a| a.2).sum();
            prop_assert_eq!(total, expected);
        }
    }
}
