//! Markets: the rows of a rate card. Meta prices a message by "the recipient WhatsApp phone
//! number's country calling code" (cloud-api.md §7.2); some markets are one country ("India"),
//! some a region ("North America", "Rest of Africa"), and "Other" takes every code no row names.
//!
//! The calling-code table below covers the single-country markets of Meta's rate cards, North
//! America, and the members of "Rest of Africa"; a code it does not list is "Other". Countries of
//! Meta's other regional markets (Rest of Asia Pacific, Rest of Central & Eastern Europe, Rest of
//! Latin America, Rest of Middle East, Rest of Western Europe) are not listed yet and so fall to
//! "Other": add their rows when a business sends there. The table is reproduced, with its
//! sources, in `crates/domain/rates/README.md`.

use std::fmt;

use serde::{Deserialize, Serialize};
use wa::phone::E164;

/// A rate-card market, by the name Meta's rate cards give it ("North America", "India").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Market(String);

/// Longest calling-code prefix first wins, so `1876` (Jamaica) beats `1` (North America).
///
/// `+1` is shared by the United States, Canada and Caribbean and Pacific countries (the North
/// American Numbering Plan); Meta's "North America" is the United States and Canada, so the
/// Caribbean area codes are listed apart. US territories keep `1`.
const CALLING_CODES: &[(&str, &str)] = &[
    // Single-country markets.
    ("20", "Egypt"),
    ("27", "South Africa"),
    ("31", "Netherlands"),
    ("33", "France"),
    ("34", "Spain"),
    ("39", "Italy"),
    ("44", "United Kingdom"),
    ("49", "Germany"),
    ("51", "Peru"),
    ("52", "Mexico"),
    ("54", "Argentina"),
    ("55", "Brazil"),
    ("56", "Chile"),
    ("57", "Colombia"),
    ("60", "Malaysia"),
    ("62", "Indonesia"),
    ("7", "Russia"),
    ("90", "Turkey"),
    ("91", "India"),
    ("92", "Pakistan"),
    ("234", "Nigeria"),
    ("966", "Saudi Arabia"),
    ("971", "United Arab Emirates"),
    ("972", "Israel"),
    // North America: the United States and Canada.
    ("1", "North America"),
    // Caribbean members of +1 that Meta lists in "Rest of Latin America".
    ("1787", "Rest of Latin America"), // Puerto Rico
    ("1939", "Rest of Latin America"), // Puerto Rico
    ("1809", "Rest of Latin America"), // Dominican Republic
    ("1829", "Rest of Latin America"), // Dominican Republic
    ("1849", "Rest of Latin America"), // Dominican Republic
    ("1876", "Rest of Latin America"), // Jamaica
    ("1658", "Rest of Latin America"), // Jamaica
    // Other Caribbean members of +1, in no named market.
    ("1242", "Other"), // Bahamas
    ("1246", "Other"), // Barbados
    ("1264", "Other"), // Anguilla
    ("1268", "Other"), // Antigua and Barbuda
    ("1284", "Other"), // British Virgin Islands
    ("1345", "Other"), // Cayman Islands
    ("1441", "Other"), // Bermuda
    ("1473", "Other"), // Grenada
    ("1649", "Other"), // Turks and Caicos
    ("1664", "Other"), // Montserrat
    ("1721", "Other"), // Sint Maarten
    ("1758", "Other"), // Saint Lucia
    ("1767", "Other"), // Dominica
    ("1784", "Other"), // Saint Vincent and the Grenadines
    ("1868", "Other"), // Trinidad and Tobago
    ("1869", "Other"), // Saint Kitts and Nevis
    // Rest of Africa (Zimbabwe since 1 Oct 2025, cloud-api.md §7.2).
    ("211", "Rest of Africa"), // South Sudan
    ("212", "Rest of Africa"), // Morocco
    ("213", "Rest of Africa"), // Algeria
    ("216", "Rest of Africa"), // Tunisia
    ("218", "Rest of Africa"), // Libya
    ("220", "Rest of Africa"), // Gambia
    ("221", "Rest of Africa"), // Senegal
    ("222", "Rest of Africa"), // Mauritania
    ("223", "Rest of Africa"), // Mali
    ("225", "Rest of Africa"), // Côte d'Ivoire
    ("226", "Rest of Africa"), // Burkina Faso
    ("227", "Rest of Africa"), // Niger
    ("228", "Rest of Africa"), // Togo
    ("229", "Rest of Africa"), // Benin
    ("231", "Rest of Africa"), // Liberia
    ("232", "Rest of Africa"), // Sierra Leone
    ("233", "Rest of Africa"), // Ghana
    ("235", "Rest of Africa"), // Chad
    ("237", "Rest of Africa"), // Cameroon
    ("241", "Rest of Africa"), // Gabon
    ("242", "Rest of Africa"), // Republic of the Congo
    ("244", "Rest of Africa"), // Angola
    ("245", "Rest of Africa"), // Guinea-Bissau
    ("249", "Rest of Africa"), // Sudan
    ("250", "Rest of Africa"), // Rwanda
    ("251", "Rest of Africa"), // Ethiopia
    ("252", "Rest of Africa"), // Somalia
    ("254", "Rest of Africa"), // Kenya
    ("255", "Rest of Africa"), // Tanzania
    ("256", "Rest of Africa"), // Uganda
    ("257", "Rest of Africa"), // Burundi
    ("258", "Rest of Africa"), // Mozambique
    ("260", "Rest of Africa"), // Zambia
    ("261", "Rest of Africa"), // Madagascar
    ("263", "Rest of Africa"), // Zimbabwe
    ("264", "Rest of Africa"), // Namibia
    ("265", "Rest of Africa"), // Malawi
    ("266", "Rest of Africa"), // Lesotho
    ("267", "Rest of Africa"), // Botswana
    ("268", "Rest of Africa"), // Eswatini
    ("291", "Rest of Africa"), // Eritrea
];

impl Market {
    /// The market for calling codes no row names.
    pub const OTHER: &'static str = "Other";

    /// A market name as a rate card writes it: trimmed, 1 to 64 characters, no control
    /// characters.
    pub fn new(name: &str) -> Option<Self> {
        let name = name.trim();
        let ok = (1..=64).contains(&name.chars().count()) && !name.chars().any(char::is_control);
        ok.then(|| Self(name.to_owned()))
    }

    pub fn other() -> Self {
        Self(Self::OTHER.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The market a message to `number` is priced in.
    pub fn of_number(number: &E164) -> Self {
        Self::of_digits(number.digits())
    }

    /// The market of an international number written as digits (a `wa_id`, or E.164 without
    /// its `+`): the longest calling-code prefix the table lists, else "Other".
    pub fn of_digits(digits: &str) -> Self {
        let name = CALLING_CODES
            .iter()
            .filter(|(prefix, _)| digits.starts_with(prefix))
            .max_by_key(|(prefix, _)| prefix.len())
            .map_or(Self::OTHER, |(_, market)| market);
        Self(name.to_owned())
    }

    /// Whether two names are the same market, as rate cards are matched: ignoring ASCII case.
    pub fn same_as(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl fmt::Display for Market {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn market_of(number: &str) -> String {
        Market::of_number(&wa::phone::from_wa_id(number).unwrap()).0
    }

    #[test]
    fn single_country_markets_by_calling_code() {
        assert_eq!(market_of("919876543210"), "India");
        assert_eq!(market_of("5511987654321"), "Brazil");
        assert_eq!(market_of("447700900123"), "United Kingdom");
        assert_eq!(market_of("4915112345678"), "Germany");
        assert_eq!(market_of("33612345678"), "France");
        assert_eq!(market_of("34612345678"), "Spain");
        assert_eq!(market_of("393123456789"), "Italy");
        assert_eq!(market_of("6281234567890"), "Indonesia");
        assert_eq!(market_of("5215512345678"), "Mexico");
        assert_eq!(market_of("972501234567"), "Israel");
    }

    #[test]
    fn north_america_is_the_us_and_canada_not_the_caribbean() {
        assert_eq!(market_of("16505551234"), "North America");
        assert_eq!(market_of("14165551234"), "North America");
        assert_eq!(market_of("18765551234"), "Rest of Latin America");
        assert_eq!(market_of("18095551234"), "Rest of Latin America");
        assert_eq!(market_of("12465551234"), "Other");
    }

    #[test]
    fn regions_and_the_fallback() {
        assert_eq!(market_of("254712345678"), "Rest of Africa");
        assert_eq!(market_of("263771234567"), "Rest of Africa");
        assert_eq!(market_of("27821234567"), "South Africa");
        // A code no row names, and a spare code.
        assert_eq!(market_of("6591234567"), "Other");
        assert_eq!(market_of("8081234567"), "Other");
    }

    #[test]
    fn the_table_has_no_duplicate_prefix() {
        let mut seen = HashSet::new();
        for (prefix, _) in CALLING_CODES {
            assert!(seen.insert(prefix), "{prefix} is listed twice");
            assert!(prefix.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn market_names_are_trimmed_and_compared_without_case() {
        let a = Market::new("  Rest of Africa ").unwrap();
        assert_eq!(a.as_str(), "Rest of Africa");
        assert!(a.same_as(&Market::new("rest of africa").unwrap()));
        assert_eq!(Market::new(" "), None);
        assert_eq!(Market::new("a\nb"), None);
    }
}
