//! Rate cards: what one message (or, before July 2025, one conversation) costs per market and
//! category, in one currency, from a given quarter.
//!
//! Meta publishes one CSV per currency, one row per market (cloud-api.md §7.2, §7.3). guichet
//! reads the columns by their header names, in any order and any case, and ignores columns it
//! does not know (such as volume-tier columns):
//!
//! ```text
//! Market,Currency,Marketing,Utility,Authentication,Authentication-International,Service
//! India,USD,0.0129,0.0017,0.0017,0.0300,
//! ```
//!
//! `Market`, `Currency`, `Marketing`, `Utility` and `Authentication` are required;
//! `Authentication-International` and `Service` may be missing. An empty cell (or `-`, `n/a`)
//! means the card has no rate there: service had none while it was free (until 30 Sep 2026,
//! §7.4), and only some markets have an authentication-international rate. A message the rules
//! say is billable but whose rate is missing is predicted as billable with an unknown amount.

/// The sample card shipped with guichet (`rates/sample-usd.csv`): SAMPLE FIGURES, not Meta's
/// prices, so that the demo and the tests have a card to price with.
pub const SAMPLE_CARD_CSV: &str = include_str!("../../rates/sample-usd.csv");

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::calendar::{WabaOffset, YearMonth};
use super::csv;
use super::market::Market;
use super::money::{Currency, Money};
use crate::{Category, Timestamp};

/// The rates of one market. `None` where the card has no rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct MarketRates {
    pub marketing: Option<Money>,
    pub utility: Option<Money>,
    pub authentication: Option<Money>,
    pub authentication_international: Option<Money>,
    pub service: Option<Money>,
}

impl MarketRates {
    /// The rate of a pricing category. Marketing Messages API sends (`marketing_lite`) are
    /// priced at the marketing rate; `referral_conversion` (free entry point traffic) is never
    /// charged and has no rate.
    pub fn get(&self, category: Category) -> Option<Money> {
        match category {
            Category::Marketing | Category::MarketingLite => self.marketing,
            Category::Utility => self.utility,
            Category::Authentication => self.authentication,
            Category::AuthenticationInternational => self.authentication_international,
            Category::Service => self.service,
            Category::ReferralConversion | Category::GeneralPurposeAi => None,
        }
    }

    /// The column a category's rate is read from; marketing lite and referral conversion have
    /// none of their own.
    fn column_mut(&mut self, category: Category) -> Option<&mut Option<Money>> {
        match category {
            Category::Marketing => Some(&mut self.marketing),
            Category::Utility => Some(&mut self.utility),
            Category::Authentication => Some(&mut self.authentication),
            Category::AuthenticationInternational => Some(&mut self.authentication_international),
            Category::Service => Some(&mut self.service),
            Category::MarketingLite | Category::ReferralConversion | Category::GeneralPurposeAi => {
                None
            }
        }
    }
}

/// One rate card: one currency, in force from the start of a quarter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RateCard {
    currency: Currency,
    effective_from: YearMonth,
    /// Keyed by the lowercased market name, so that lookups ignore case.
    markets: BTreeMap<String, (Market, MarketRates)>,
}

/// What is wrong with a rate card, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RateCardError {
    /// 1-based line of the file, when the problem is on one line.
    pub line: Option<usize>,
    /// 1-based column number and header name, when the problem is in one cell.
    pub column: Option<(usize, String)>,
    pub problem: String,
}

impl fmt::Display for RateCardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.line, &self.column) {
            (Some(line), Some((n, name))) if name.is_empty() => {
                write!(f, "line {line}, column {n}: ")?;
            }
            (Some(line), Some((n, name))) => write!(f, "line {line}, column {n} ({name}): ")?,
            (Some(line), None) => write!(f, "line {line}: ")?,
            (None, _) => write!(f, "rate card: ")?,
        }
        f.write_str(&self.problem)
    }
}

/// The columns guichet reads, by normalised header name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Market,
    Currency,
    Rate(Category),
}

/// The columns guichet reads: header name, column, and whether the card must have it.
const KNOWN_COLUMNS: &[(&str, Column, bool)] = &[
    ("Market", Column::Market, true),
    ("Currency", Column::Currency, true),
    ("Marketing", Column::Rate(Category::Marketing), true),
    ("Utility", Column::Rate(Category::Utility), true),
    (
        "Authentication",
        Column::Rate(Category::Authentication),
        true,
    ),
    (
        "Authentication-International",
        Column::Rate(Category::AuthenticationInternational),
        false,
    ),
    ("Service", Column::Rate(Category::Service), false),
];

const EXPECTED_HEADER: &str =
    "Market,Currency,Marketing,Utility,Authentication,Authentication-International,Service";

/// `Authentication-International`, `authentication_international` and
/// `AUTHENTICATION INTERNATIONAL` are one column.
fn normalise_header(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Whether a cell means "no rate here".
fn is_blank(cell: &str) -> bool {
    matches!(
        cell.to_ascii_lowercase().as_str(),
        "" | "-" | "–" | "n/a" | "na"
    )
}

impl RateCard {
    /// Reads a card in Meta's CSV format, in force from the 1st of `effective_from` (which must
    /// start a quarter: Meta changes rates only on 1 January, 1 April, 1 July and 1 October,
    /// cloud-api.md §7.2). Every row must be in the one currency of the card; rates are exact
    /// decimals and never negative.
    pub fn from_csv(text: &str, effective_from: YearMonth) -> Result<Self, RateCardError> {
        let whole_file = |problem: String| RateCardError {
            line: None,
            column: None,
            problem,
        };
        if !effective_from.is_quarter_start() {
            return Err(whole_file(format!(
                "a card cannot take effect in {effective_from}: Meta changes rates only on \
                 1 January, 1 April, 1 July and 1 October"
            )));
        }
        let records = csv::records(text).map_err(|e| RateCardError {
            line: Some(e.line),
            column: Some((e.column, String::new())),
            problem: e.problem,
        })?;
        let mut records = records.into_iter();
        let header = records.next().ok_or_else(|| {
            whole_file(format!(
                "the file has no header line: expected `{EXPECTED_HEADER}`"
            ))
        })?;
        let columns = read_header(&header)?;
        let mut currency = None;
        let mut markets = BTreeMap::new();
        let mut first_line = BTreeMap::new();
        for record in records {
            let (market, rates) = read_row(&record, &header, &columns, &mut currency)?;
            let key = market.as_str().to_lowercase();
            if let Some(first) = first_line.insert(key.clone(), record.line) {
                return Err(RateCardError {
                    line: Some(record.line),
                    column: None,
                    problem: format!("market `{market}` is already listed on line {first}"),
                });
            }
            markets.insert(key, (market, rates));
        }
        let currency = currency.ok_or_else(|| {
            whole_file("the card lists no market: add one row per market".to_owned())
        })?;
        Ok(Self {
            currency,
            effective_from,
            markets,
        })
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn effective_from(&self) -> YearMonth {
        self.effective_from
    }

    /// The markets the card lists, in name order.
    pub fn markets(&self) -> impl Iterator<Item = &Market> {
        self.markets.values().map(|(market, _)| market)
    }

    /// The rates of a market (names compared without ASCII case).
    pub fn rates(&self, market: &Market) -> Option<&MarketRates> {
        self.markets
            .get(&market.as_str().to_lowercase())
            .map(|(_, rates)| rates)
    }

    /// The rate of `category` in `market`, if the card has one.
    /// The markets where a template moved from category `from` to `to` changes price: a
    /// recategorisation Meta applies is billed at the new category's rate (cloud-api.md §6.4).
    pub fn markets_where_price_changes(&self, from: Category, to: Category) -> Vec<Market> {
        self.markets()
            .filter(|m| self.rate(m, from) != self.rate(m, to))
            .cloned()
            .collect()
    }

    pub fn rate(&self, market: &Market, category: Category) -> Option<Money> {
        self.rates(market)?.get(category)
    }
}

/// Maps each column index to the column it holds (`None` for columns guichet ignores).
fn read_header(header: &csv::Record) -> Result<Vec<Option<Column>>, RateCardError> {
    let mut columns: Vec<Option<Column>> = Vec::with_capacity(header.fields.len());
    for (i, name) in header.fields.iter().enumerate() {
        let normalised = normalise_header(name);
        let column = KNOWN_COLUMNS
            .iter()
            .find(|(known, _, _)| normalise_header(known) == normalised)
            .map(|(_, column, _)| *column);
        if let Some(column) = column
            && columns.contains(&Some(column))
        {
            return Err(RateCardError {
                line: Some(header.line),
                column: Some((i + 1, name.trim().to_owned())),
                problem: format!("`{}` appears twice in the header", name.trim()),
            });
        }
        columns.push(column);
    }
    let missing: Vec<&str> = KNOWN_COLUMNS
        .iter()
        .filter(|(_, column, required)| *required && !columns.contains(&Some(*column)))
        .map(|(name, _, _)| *name)
        .collect();
    if !missing.is_empty() {
        return Err(RateCardError {
            line: Some(header.line),
            column: None,
            problem: format!(
                "the header has no {} column: expected `{EXPECTED_HEADER}`",
                missing.join(" or ")
            ),
        });
    }
    Ok(columns)
}

fn read_row(
    record: &csv::Record,
    header: &csv::Record,
    columns: &[Option<Column>],
    currency: &mut Option<Currency>,
) -> Result<(Market, MarketRates), RateCardError> {
    let at = |i: usize, problem: String| RateCardError {
        line: Some(record.line),
        column: Some((
            i + 1,
            header
                .fields
                .get(i)
                .map(|h| h.trim().to_owned())
                .unwrap_or_default(),
        )),
        problem,
    };
    // Spreadsheets often pad rows with empty cells; anything else past the header is an error.
    if let Some(extra) = record
        .fields
        .iter()
        .enumerate()
        .skip(columns.len())
        .find(|(_, cell)| !cell.trim().is_empty())
    {
        return Err(at(
            extra.0,
            format!(
                "the row has a value past the last of the header's {} columns",
                columns.len()
            ),
        ));
    }
    let cell = |i: usize| record.fields.get(i).map_or("", |c| c.trim());

    // The currency first: rates are read in it.
    let mut row_currency = None;
    for (i, column) in columns.iter().enumerate() {
        if *column == Some(Column::Currency) {
            let parsed = Currency::parse(cell(i)).map_err(|e| at(i, e.to_string()))?;
            match currency {
                Some(card) if *card != parsed => {
                    return Err(at(
                        i,
                        format!(
                            "this row is in {parsed} but the card is in {card}: one file per \
                             currency"
                        ),
                    ));
                }
                _ => *currency = Some(parsed),
            }
            row_currency = Some(parsed);
        }
    }
    let row_currency = row_currency.unwrap_or(Currency::USD);

    let mut market = None;
    let mut rates = MarketRates::default();
    for (i, column) in columns.iter().enumerate() {
        match column {
            Some(Column::Market) => {
                market = Some(Market::new(cell(i)).ok_or_else(|| {
                    at(
                        i,
                        "the market name is empty or has control characters".to_owned(),
                    )
                })?);
            }
            Some(Column::Rate(category)) => {
                if is_blank(cell(i)) {
                    continue;
                }
                let rate = Money::parse_decimal(cell(i), row_currency)
                    .map_err(|e| at(i, e.to_string()))?;
                if rate.is_negative() {
                    return Err(at(i, format!("`{}` is negative: a rate never is", cell(i))));
                }
                if let Some(slot) = rates.column_mut(*category) {
                    *slot = Some(rate);
                }
            }
            Some(Column::Currency) | None => {}
        }
    }
    // The header check guarantees a Market column; this only guards a short row.
    let market = market.ok_or_else(|| RateCardError {
        line: Some(record.line),
        column: None,
        problem: "the row has no market name".to_owned(),
    })?;
    Ok((market, rates))
}

/// The rate cards of one currency over time; the one in force at a send prices it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct RateCards {
    /// Oldest first, one per effective month.
    cards: Vec<RateCard>,
}

impl RateCards {
    /// No card: predictions say what is billable but carry no amount.
    pub fn none() -> Self {
        Self::default()
    }

    /// The cards of one currency, each taking effect in a different month.
    pub fn new(mut cards: Vec<RateCard>) -> Result<Self, RateCardError> {
        cards.sort_by_key(RateCard::effective_from);
        let problem = |problem: String| RateCardError {
            line: None,
            column: None,
            problem,
        };
        for pair in cards.windows(2) {
            if let [a, b] = pair {
                if a.currency != b.currency {
                    return Err(problem(format!(
                        "the cards of {} and {} are in {} and {}: a business is billed in one \
                         currency, so keep the cards of one currency together",
                        a.effective_from, b.effective_from, a.currency, b.currency
                    )));
                }
                if a.effective_from == b.effective_from {
                    return Err(problem(format!(
                        "two cards take effect in {}: keep one",
                        a.effective_from
                    )));
                }
            }
        }
        Ok(Self { cards })
    }

    /// The currency of the cards, if there is any card.
    pub fn currency(&self) -> Option<Currency> {
        self.cards.first().map(RateCard::currency)
    }

    pub fn cards(&self) -> &[RateCard] {
        &self.cards
    }

    /// The card in force at `at` for a WABA at `offset`: the latest one whose effective month
    /// has started on the WABA's wall clock. `None` before the first card.
    pub fn in_force(&self, at: Timestamp, offset: WabaOffset) -> Option<&RateCard> {
        self.cards
            .iter()
            .rev()
            .find(|card| card.effective_from.start(offset) <= at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &str = include_str!("../../rates/sample-usd.csv");

    fn month(text: &str) -> YearMonth {
        text.parse().unwrap()
    }

    #[test]
    fn a_recategorisation_changes_the_price_where_the_rates_differ() {
        let card = RateCard::from_csv(SAMPLE, month("2026-07")).unwrap();
        let changed = card.markets_where_price_changes(Category::Utility, Category::Marketing);
        assert!(!changed.is_empty());
        assert!(
            card.markets_where_price_changes(Category::Utility, Category::Utility)
                .is_empty()
        );
    }

    fn usd(text: &str) -> Option<Money> {
        Some(Money::parse_decimal(text, Currency::USD).unwrap())
    }

    fn market(name: &str) -> Market {
        Market::new(name).unwrap()
    }

    fn error(text: &str) -> String {
        RateCard::from_csv(text, month("2026-01"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn the_sample_card_reads_and_covers_its_markets() {
        let card = RateCard::from_csv(SAMPLE, month("2026-07")).unwrap();
        assert_eq!(card.currency(), Currency::USD);
        assert_eq!(card.effective_from(), month("2026-07"));
        assert_eq!(card.markets().count(), 12);
        assert_eq!(
            card.rate(&market("North America"), Category::Marketing),
            usd("0.0275")
        );
        assert_eq!(
            card.rate(&market("india"), Category::Utility),
            usd("0.0017")
        );
        assert_eq!(
            card.rate(&market("United Kingdom"), Category::Authentication),
            usd("0.0140")
        );
        assert_eq!(
            card.rate(&market("Germany"), Category::AuthenticationInternational),
            None
        );
        assert!(
            card.rate(&market("India"), Category::AuthenticationInternational)
                .is_some()
        );
        assert_eq!(
            card.rate(&market("Brazil"), Category::MarketingLite),
            card.rate(&market("Brazil"), Category::Marketing)
        );
        assert_eq!(
            card.rate(&market("Brazil"), Category::ReferralConversion),
            None
        );
        // Every market the calling-code table can name that the sample prices is listed.
        for name in ["Other", "Rest of Africa", "Mexico", "Indonesia"] {
            assert!(card.rates(&market(name)).is_some(), "{name}");
        }
    }

    #[test]
    fn columns_are_found_by_name_in_any_order_and_extra_ones_ignored() {
        let text = "\"SERVICE\",utility,Tier 2 Utility,market,Authentication,Marketing,CURRENCY\n\
                    ,0.004,0.0036,North America,0.004,0.025,usd\n";
        let card = RateCard::from_csv(text, month("2025-07")).unwrap();
        let na = card.rates(&market("North America")).unwrap();
        assert_eq!(na.utility, usd("0.004"));
        assert_eq!(na.marketing, usd("0.025"));
        assert_eq!(na.service, None);
        assert_eq!(na.authentication_international, None);
    }

    #[test]
    fn blank_rates_mean_no_rate() {
        let text = "Market,Currency,Marketing,Utility,Authentication,Service\n\
                    India,USD,0.0118,n/a,-,\n";
        let card = RateCard::from_csv(text, month("2025-07")).unwrap();
        let india = card.rates(&market("India")).unwrap();
        assert_eq!(
            (india.utility, india.authentication, india.service),
            (None, None, None)
        );
    }

    #[test]
    fn errors_say_which_line_and_column_and_what_is_wrong() {
        let header = "Market,Currency,Marketing,Utility,Authentication\n";
        assert_eq!(
            error(&format!(
                "{header}India,USD,0.0118,0,0\nBrazil,USD,0,06,0.008,0.008\n"
            )),
            "line 3, column 6: the row has a value past the last of the header's 5 columns"
        );
        assert_eq!(
            error(&format!("{header}India,USD,0.0118,0.0O17,0\n")),
            "line 2, column 4 (Utility): `0.0O17` is not a decimal amount: write digits with an \
             optional `.` and no currency sign, thousands separator or exponent, such as 0.0250"
        );
        assert_eq!(
            error(&format!("{header}India,USD,-0.01,0,0\n")),
            "line 2, column 3 (Marketing): `-0.01` is negative: a rate never is"
        );
        assert_eq!(
            error(&format!("{header}India,USD,1,0,0\nBrazil,EUR,1,0,0\n")),
            "line 3, column 2 (Currency): this row is in EUR but the card is in USD: one file \
             per currency"
        );
        assert_eq!(
            error(&format!("{header}India,US$,1,0,0\n")),
            "line 2, column 2 (Currency): `US$` is not an ISO 4217 currency code: expected three \
             letters such as USD"
        );
        assert_eq!(
            error(&format!(
                "{header}India,USD,1,0,0\n# note\nINDIA,USD,1,0,0\n"
            )),
            "line 4: market `INDIA` is already listed on line 2"
        );
        assert_eq!(
            error(&format!("{header},USD,1,0,0\n")),
            "line 2, column 1 (Market): the market name is empty or has control characters"
        );
        assert_eq!(
            error("# only a comment\nMarket,Marketing,Utility\n"),
            "line 2: the header has no Currency or Authentication column: expected \
             `Market,Currency,Marketing,Utility,Authentication,Authentication-International,Service`"
        );
        assert_eq!(
            error("Market,Currency,Marketing,Utility,Authentication,marketing\n"),
            "line 1, column 6 (marketing): `marketing` appears twice in the header"
        );
        assert_eq!(
            error("\n\n"),
            "rate card: the file has no header line: expected \
             `Market,Currency,Marketing,Utility,Authentication,Authentication-International,Service`"
        );
        assert_eq!(
            error(header),
            "rate card: the card lists no market: add one row per market"
        );
        // An unclosed quote swallows the rest of the line: what is missing is then named.
        assert!(
            error(&format!("{header}\"India,USD,1,0,0\n"))
                .starts_with("line 2, column 2 (Currency)")
        );
        assert_eq!(
            RateCard::from_csv(header, month("2026-02"))
                .unwrap_err()
                .to_string(),
            "rate card: a card cannot take effect in 2026-02: Meta changes rates only on \
             1 January, 1 April, 1 July and 1 October"
        );
    }

    #[test]
    fn the_card_in_force_is_the_latest_started_one() {
        let header = "Market,Currency,Marketing,Utility,Authentication\n";
        let april =
            RateCard::from_csv(&format!("{header}India,USD,1,1,1\n"), month("2026-04")).unwrap();
        let july =
            RateCard::from_csv(&format!("{header}India,USD,2,2,2\n"), month("2026-07")).unwrap();
        let cards = RateCards::new(vec![july, april]).unwrap();
        assert_eq!(cards.currency(), Some(Currency::USD));
        let july_starts = month("2026-07").start(WabaOffset::UTC);
        let at = |t: Timestamp| {
            cards
                .in_force(t, WabaOffset::UTC)
                .map(|c| c.effective_from().to_string())
        };
        assert_eq!(
            at(month("2026-04").start(WabaOffset::UTC)),
            Some("2026-04".into())
        );
        assert_eq!(
            at(july_starts - crate::time::Seconds(1)),
            Some("2026-04".into())
        );
        assert_eq!(at(july_starts), Some("2026-07".into()));
        assert_eq!(at(month("2026-03").start(WabaOffset::UTC)), None);
        assert_eq!(
            RateCards::none().in_force(july_starts, WabaOffset::UTC),
            None
        );
    }

    #[test]
    fn cards_of_two_currencies_or_one_month_twice_are_refused() {
        let header = "Market,Currency,Marketing,Utility,Authentication\n";
        let card = |currency: &str, m: &str| {
            RateCard::from_csv(&format!("{header}India,{currency},1,1,1\n"), month(m)).unwrap()
        };
        assert!(
            RateCards::new(vec![card("USD", "2026-01"), card("INR", "2026-04")])
                .unwrap_err()
                .problem
                .contains("one currency")
        );
        assert!(
            RateCards::new(vec![card("USD", "2026-01"), card("USD", "2026-01")])
                .unwrap_err()
                .problem
                .contains("two cards take effect in 2026-01")
        );
    }

    proptest! {
        #[test]
        fn the_parser_never_panics(text in "(?s).{0,300}") {
            let _ = RateCard::from_csv(&text, month("2026-01"));
        }

        #[test]
        fn the_parser_never_panics_on_near_cards(
            rows in proptest::collection::vec("[A-Za-z ]{0,8},[A-Z$]{0,4},[0-9.,\"-]{0,8},[0-9.]{0,6},[0-9.n/a]{0,5}", 0..6)
        ) {
            let text = format!(
                "Market,Currency,Marketing,Utility,Authentication\n{}",
                rows.join("\n")
            );
            let _ = RateCard::from_csv(&text, month("2026-01"));
        }
    }
}
