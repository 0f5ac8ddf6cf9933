//! Phone numbers in E.164 form: `+`, the country calling code, the national number; 8 to 15
//! digits in all.
//!
//! Numbers reach guichet in two shapes. Webhooks carry ids (`wa_id`, `from`, `recipient_id`) that
//! are the full international number as digits (cloud-api.md §1.3): [`from_wa_id`]. People and API
//! clients type numbers with separators, `00` or no prefix at all: [`parse_dialled`], which applies
//! Meta's send rule for a missing `+` (cloud-api.md §3.1, §10.10). Inside guichet only [`E164`]
//! travels, so nothing re-checks.
//!
//! A number is personal data: `Debug` prints the [`E164::masked`] form so that a stray `{:?}` in a
//! log never leaks it (reliability-tests.md T-31); `Display` is the whole number, for the API.
//! From 2026 a customer may have no phone number at all, only a BSUID (cloud-api.md §9.4), which
//! is not a phone number and is not modelled here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Digits after the `+`. E.164 caps numbers at 15 digits; the floor of 8 is guichet's.
pub const MIN_DIGITS: usize = 8;
pub const MAX_DIGITS: usize = 15;

/// What [`mask_id`] prints for input too short to mask meaningfully.
pub const HIDDEN: &str = "***";

/// A phone number in canonical E.164 form: `+` then 8 to 15 ASCII digits, the first not `0`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct E164(String);

/// Why a phone number was refused. Shown to agents and API clients, so it says what is expected;
/// it never repeats a complete number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("the phone number is empty: expected an international number such as +1 415 555 0829")]
    Empty,
    #[error(
        "{ch:?} is not allowed in a phone number: use digits, an optional leading + (or 00) and \
         the separators space - . ( )"
    )]
    InvalidCharacter { ch: char },
    #[error(
        "{ch:?} is not allowed in a WhatsApp id: a wa_id is the international number in digits \
         only, optionally after a +"
    )]
    InvalidIdCharacter { ch: char },
    #[error("a + can only start the number: remove the other + signs")]
    MisplacedPlus,
    #[error("an E.164 number starts with + followed by the country calling code")]
    MissingPlus,
    #[error(
        "the number starts with 0 where the country calling code belongs: write + and the country \
         calling code first (for example +33 6 12 34 56 78)"
    )]
    LeadingZero,
    #[error("`{number}` is too short: an E.164 number has 8 to 15 digits after the +")]
    TooShort { number: String },
    #[error(
        "the number has {digits} digits, too many: an E.164 number has 8 to 15 digits after the +"
    )]
    TooLong { digits: usize },
    #[error(
        "{code:?} is not a country calling code: give the business number's calling code as 1 to \
         3 digits, for example 91 for India"
    )]
    UnknownCallingCode { code: String },
}

impl E164 {
    /// The number with its `+`, as the Cloud API accepts it in `to`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number without the `+`: the form of webhook ids and of `display_phone_number`.
    pub fn digits(&self) -> &str {
        self.0.get(1..).unwrap_or_default()
    }

    /// The ITU-T E.164 country calling code (1 to 3 digits), e.g. `"1"`, `"44"`, `"972"`.
    ///
    /// Exact for every assigned code. A number in a spare (unassigned) code gets its first three
    /// digits, since every spare code is three digits long.
    pub fn calling_code(&self) -> &str {
        calling_code_of(self.digits())
    }

    /// A key under which the same person's number, written in the variants WhatsApp and people
    /// use for a few countries, compares equal (what-users-ask.md, "identity"). It is not a number
    /// to send to: use it only to find an existing contact.
    ///
    /// - Mexico: mobile numbers used to be dialled from abroad as `+52 1` + 10 digits, and many
    ///   `wa_id`s still carry the `1` (13 digits); the national number has been 10 digits for
    ///   every line since 2019, so `+52 1 …` (13) ≡ `+52 …` (12).
    /// - Argentina: mobiles are `+54 9` + 10-digit national number from abroad; the `9` is a
    ///   mobile marker, so `+54 9 …` (13) ≡ `+54 …` (12).
    /// - Brazil: in 2012–2016 mobile numbers gained a ninth digit `9` before their 8 digits, and
    ///   accounts created earlier often keep a `wa_id` without it: `+55` + area + `9` + 8 digits
    ///   ≡ `+55` + area + 8 digits. Only when the 8 digits start with 6–9, the old mobile ranges;
    ///   landlines start with 2–5, and merging a landline with a mobile would join two people.
    pub fn match_key(&self) -> String {
        let d = self.digits();
        let b = d.as_bytes();
        let key = if d.len() == 13 && d.starts_with("521") {
            format!("52{}", &d[3..])
        } else if d.len() == 13 && d.starts_with("549") {
            format!("54{}", &d[3..])
        } else if d.len() == 13
            && d.starts_with("55")
            && b[4] == b'9'
            && (b'6'..=b'9').contains(&b[5])
        {
            format!("{}{}", &d[..4], &d[5..])
        } else {
            d.to_owned()
        };
        format!("+{key}")
    }

    /// The number for logs: the calling code and the last 2 digits, the rest as `*`
    /// (`+972*******21`). Never the whole number.
    pub fn masked(&self) -> String {
        mask_digits(self.digits(), "+")
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "E164({})", self.masked())
    }
}

/// The canonical form only (`+` and digits), as guichet stores and serialises it. For what people
/// type use [`parse_dialled`], for webhook ids [`from_wa_id`].
impl FromStr for E164 {
    type Err = PhoneError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.strip_prefix('+').ok_or(if s.is_empty() {
            PhoneError::Empty
        } else {
            PhoneError::MissingPlus
        })?;
        if let Some(ch) = digits.chars().find(|c| !c.is_ascii_digit()) {
            return Err(if ch == '+' {
                PhoneError::MisplacedPlus
            } else {
                PhoneError::InvalidCharacter { ch }
            });
        }
        from_international_digits(digits)
    }
}

impl Serialize for E164 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for E164 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A number from a webhook id (`wa_id`, `from`, `recipient_id`, `contacts[].wa_id`): digits only
/// in real traffic, with a `+` in some of Meta's parameter tables (cloud-api.md §1.3); both are
/// accepted, nothing else.
pub fn from_wa_id(wa_id: &str) -> Result<E164, PhoneError> {
    let digits = wa_id.strip_prefix('+').unwrap_or(wa_id);
    if let Some(ch) = digits.chars().find(|c| !c.is_ascii_digit()) {
        return Err(PhoneError::InvalidIdCharacter { ch });
    }
    from_international_digits(digits)
}

/// A number as a person or an API client types it.
///
/// Accepts digits, one leading `+`, and the separators space (also no-break spaces, which
/// copy-paste brings), `-`, `.`, `(` and `)`. A leading `00` is the international prefix. The
/// European `+44 (0)20 …` convention is understood: a `(0)` after the country code is the
/// national trunk prefix and is dropped.
///
/// Without `+` or `00`, Meta prepends the business number's own calling code (cloud-api.md §3.1:
/// an Indian business sending to `(631) 555-1234` reaches `+916315551234`), and so does this
/// function, even when the digits start with a national `0` or already with that code, because
/// the goal is the number Meta would reach; show the result before sending. Without a business
/// calling code such input is read as already international.
pub fn parse_dialled(input: &str, business_calling_code: Option<&str>) -> Result<E164, PhoneError> {
    let chars: Vec<char> = input.chars().collect();
    let mut digits = String::with_capacity(MAX_DIGITS + 2);
    let mut plus = false;
    let mut i = 0;
    while let Some(&ch) = chars.get(i) {
        match ch {
            '0'..='9' => digits.push(ch),
            '+' if !plus && digits.is_empty() => plus = true,
            '+' => return Err(PhoneError::MisplacedPlus),
            '(' if is_trunk_zero(&chars[i..]) && has_country_code(plus, &digits) => i += 2,
            ' ' | '\u{a0}' | '\u{202f}' | '-' | '.' | '(' | ')' => {}
            _ => return Err(PhoneError::InvalidCharacter { ch }),
        }
        i += 1;
    }
    if digits.is_empty() {
        return Err(PhoneError::Empty);
    }
    if plus {
        return from_international_digits(&digits);
    }
    if let Some(rest) = digits.strip_prefix("00") {
        return from_international_digits(rest);
    }
    match business_calling_code {
        Some(code) => {
            let code = code.strip_prefix('+').unwrap_or(code);
            if !is_calling_code(code) {
                return Err(PhoneError::UnknownCallingCode {
                    code: code.chars().take(8).collect(),
                });
            }
            from_international_digits(&format!("{code}{digits}"))
        }
        None => from_international_digits(&digits),
    }
}

/// Whether `code` (digits, no `+`) is an assigned ITU-T E.164 country calling code.
pub fn is_calling_code(code: &str) -> bool {
    CALLING_CODES.binary_search(&code).is_ok()
}

/// Masks a raw id that may not be a valid number (one that failed to parse, say) the way
/// [`E164::masked`] does: calling code and last 2 digits kept. Only the digits of `raw` (and a
/// leading `+`) are used, so nothing else from the input reaches a log line; fewer than 8 digits
/// give [`HIDDEN`].
pub fn mask_id(raw: &str) -> String {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < MIN_DIGITS {
        return HIDDEN.to_owned();
    }
    let prefix = if raw.starts_with('+') { "+" } else { "" };
    mask_digits(&digits, prefix)
}

/// Validates international digits (calling code first, no `+`) into an [`E164`].
fn from_international_digits(digits: &str) -> Result<E164, PhoneError> {
    if digits.is_empty() {
        return Err(PhoneError::Empty);
    }
    if digits.starts_with('0') {
        return Err(PhoneError::LeadingZero);
    }
    if digits.len() < MIN_DIGITS {
        return Err(PhoneError::TooShort {
            number: format!("+{digits}"),
        });
    }
    if digits.len() > MAX_DIGITS {
        return Err(PhoneError::TooLong {
            digits: digits.len(),
        });
    }
    Ok(E164(format!("+{digits}")))
}

/// `(0)` at the start of `chars`.
fn is_trunk_zero(chars: &[char]) -> bool {
    chars.starts_with(&['(', '0', ')'])
}

/// Whether a country code has been typed, so that a following `(0)` is a trunk prefix.
fn has_country_code(plus: bool, digits: &str) -> bool {
    if plus {
        !digits.is_empty()
    } else {
        digits.len() > 2 && digits.starts_with("00")
    }
}

/// Calling code, `*` for the middle, last 2 digits. `digits` has at least [`MIN_DIGITS`].
fn mask_digits(digits: &str, prefix: &str) -> String {
    let code = calling_code_of(digits);
    let last_two = digits
        .get(digits.len().saturating_sub(2)..)
        .unwrap_or_default();
    // Capped so that an absurd id cannot flood a log line.
    let hidden = digits.len().saturating_sub(code.len() + 2).min(MAX_DIGITS);
    format!("{prefix}{code}{}{last_two}", "*".repeat(hidden))
}

/// The calling code at the start of `digits`; the first three digits for a spare code.
fn calling_code_of(digits: &str) -> &str {
    (1..=3)
        .filter_map(|len| digits.get(..len))
        .find(|prefix| is_calling_code(prefix))
        .or_else(|| digits.get(..3))
        .unwrap_or(digits)
}

/// Every assigned ITU-T E.164 country calling code, sorted as strings (for `binary_search`).
/// Calling codes form a prefix code: no code is the start of another, so the first match of
/// length 1, 2 or 3 is the code. `+1` (NANP: US, Canada, much of the Caribbean) and `+7` (Russia,
/// Kazakhstan) are shared by several countries. Includes the non-geographic codes (800, 808, 870,
/// 878, 881–883, 888, 979, 991); 388 (the withdrawn European numbering space) is left out.
#[rustfmt::skip]
static CALLING_CODES: &[&str] = &[
    "1",
    "20", "211", "212", "213", "216", "218",
    "220", "221", "222", "223", "224", "225", "226", "227", "228", "229",
    "230", "231", "232", "233", "234", "235", "236", "237", "238", "239",
    "240", "241", "242", "243", "244", "245", "246", "247", "248", "249",
    "250", "251", "252", "253", "254", "255", "256", "257", "258",
    "260", "261", "262", "263", "264", "265", "266", "267", "268", "269",
    "27", "290", "291", "297", "298", "299",
    "30", "31", "32", "33", "34",
    "350", "351", "352", "353", "354", "355", "356", "357", "358", "359",
    "36",
    "370", "371", "372", "373", "374", "375", "376", "377", "378", "379",
    "380", "381", "382", "383", "385", "386", "387", "389",
    "39",
    "40", "41", "420", "421", "423", "43", "44", "45", "46", "47", "48", "49",
    "500", "501", "502", "503", "504", "505", "506", "507", "508", "509",
    "51", "52", "53", "54", "55", "56", "57", "58",
    "590", "591", "592", "593", "594", "595", "596", "597", "598", "599",
    "60", "61", "62", "63", "64", "65", "66",
    "670", "672", "673", "674", "675", "676", "677", "678", "679",
    "680", "681", "682", "683", "685", "686", "687", "688", "689",
    "690", "691", "692",
    "7",
    "800", "808", "81", "82", "84", "850", "852", "853", "855", "856", "86",
    "870", "878", "880", "881", "882", "883", "886", "888",
    "90", "91", "92", "93", "94", "95",
    "960", "961", "962", "963", "964", "965", "966", "967", "968",
    "970", "971", "972", "973", "974", "975", "976", "977", "979",
    "98",
    // 997: Kazakhstan's own code, introduced alongside +7 (UNCONFIRMED how far the move has gone).
    "991", "992", "993", "994", "995", "996", "997", "998",
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn e164(s: &str) -> E164 {
        s.parse().unwrap()
    }

    #[test]
    fn examples_of_cloud_api_md() {
        // §1.4 (contacts message), §1.3 (wa_id), §3.1 (business code prepended).
        assert_eq!(
            parse_dialled("+1 (415) 555-0829", None),
            Ok(e164("+14155550829"))
        );
        assert_eq!(from_wa_id("16505551234"), Ok(e164("+16505551234")));
        assert_eq!(from_wa_id("+16505551234"), Ok(e164("+16505551234")));
        assert_eq!(
            parse_dialled("(631) 555-1234", Some("91")),
            Ok(e164("+916315551234"))
        );
        assert_eq!(
            parse_dialled("(631) 555-1234", Some("+91")),
            Ok(e164("+916315551234"))
        );
        assert_eq!(
            parse_dialled("00 33 6 12 34 56 78", None),
            Ok(e164("+33612345678"))
        );
        assert_eq!(
            parse_dialled("00 33 6 12 34 56 78", Some("91")),
            Ok(e164("+33612345678"))
        );
    }

    #[test]
    fn dialled_forms() {
        assert_eq!(parse_dialled("16505551234", None), Ok(e164("+16505551234")));
        assert_eq!(
            parse_dialled("+1 650.555.1234", Some("44")),
            Ok(e164("+16505551234"))
        );
        assert_eq!(
            parse_dialled(" +972 54-123-4521 ", None),
            Ok(e164("+972541234521"))
        );
        assert_eq!(
            parse_dialled("+33\u{a0}6\u{202f}12 34 56 78", None),
            Ok(e164("+33612345678"))
        );
        // The European "(0)" trunk-prefix convention.
        assert_eq!(
            parse_dialled("+44 (0)20 7946 0018", None),
            Ok(e164("+442079460018"))
        );
        assert_eq!(
            parse_dialled("0044 (0) 20 7946 0018", None),
            Ok(e164("+442079460018"))
        );
        // Without a country code before it, "(0)" is an ordinary digit.
        assert_eq!(
            parse_dialled("(0)20 7946 0018", Some("44")),
            Ok(e164("+4402079460018"))
        );
    }

    #[test]
    fn rejections() {
        assert_eq!(
            parse_dialled("+1 415 555 CALL", None),
            Err(PhoneError::InvalidCharacter { ch: 'C' })
        );
        assert_eq!(
            parse_dialled("tel:+14155550829", None),
            Err(PhoneError::InvalidCharacter { ch: 't' })
        );
        assert_eq!(
            parse_dialled("+1\n4155550829", None),
            Err(PhoneError::InvalidCharacter { ch: '\n' })
        );
        assert_eq!(
            parse_dialled("+12", None),
            Err(PhoneError::TooShort {
                number: "+12".into()
            })
        );
        assert_eq!(
            parse_dialled("+1234567890123456", None),
            Err(PhoneError::TooLong { digits: 16 })
        );
        assert_eq!(
            parse_dialled("+0 20 7946 0018", None),
            Err(PhoneError::LeadingZero)
        );
        assert_eq!(
            parse_dialled("000 20 7946 0018", None),
            Err(PhoneError::LeadingZero)
        );
        assert_eq!(
            parse_dialled("020 7946 0018", None),
            Err(PhoneError::LeadingZero)
        );
        assert_eq!(
            parse_dialled("+1 415 +555 0829", None),
            Err(PhoneError::MisplacedPlus)
        );
        assert_eq!(parse_dialled(" - ", None), Err(PhoneError::Empty));
        assert_eq!(parse_dialled("", None), Err(PhoneError::Empty));
        assert_eq!(
            parse_dialled("6315551234", Some("999")),
            Err(PhoneError::UnknownCallingCode { code: "999".into() })
        );
        assert_eq!(
            from_wa_id("1 650 555 1234"),
            Err(PhoneError::InvalidIdCharacter { ch: ' ' })
        );
        assert_eq!(
            from_wa_id("US.13491208655302741918"),
            Err(PhoneError::InvalidIdCharacter { ch: 'U' })
        );
        assert_eq!(from_wa_id("0650555123"), Err(PhoneError::LeadingZero));
        assert_eq!(from_wa_id(""), Err(PhoneError::Empty));
        assert_eq!("16505551234".parse::<E164>(), Err(PhoneError::MissingPlus));
        assert_eq!(
            "+1 6505551234".parse::<E164>(),
            Err(PhoneError::InvalidCharacter { ch: ' ' })
        );
    }

    #[test]
    fn error_messages_say_what_is_expected() {
        assert_eq!(
            PhoneError::TooShort {
                number: "+12".into()
            }
            .to_string(),
            "`+12` is too short: an E.164 number has 8 to 15 digits after the +"
        );
        assert!(
            PhoneError::InvalidCharacter { ch: 'x' }
                .to_string()
                .starts_with("'x' is not allowed")
        );
        // Control characters are escaped, so an error message cannot forge a log line.
        assert!(
            !PhoneError::InvalidCharacter { ch: '\n' }
                .to_string()
                .contains('\n')
        );
    }

    #[test]
    fn calling_codes_are_sorted_and_prefix_free() {
        assert!(CALLING_CODES.windows(2).all(|w| w[0] < w[1]));
        for a in CALLING_CODES {
            assert!(
                (1..=3).contains(&a.len()) && a.bytes().all(|b| b.is_ascii_digit()),
                "{a}"
            );
            for b in CALLING_CODES {
                assert!(a == b || !b.starts_with(a), "{a} is a prefix of {b}");
            }
        }
    }

    #[test]
    fn calling_code_of_countries() {
        for (number, code) in [
            ("+14155550829", "1"),     // United States
            ("+16135550123", "1"),     // Canada
            ("+17875551234", "1"),     // Puerto Rico
            ("+74951234567", "7"),     // Russia
            ("+77012345678", "7"),     // Kazakhstan
            ("+201001234567", "20"),   // Egypt
            ("+27821234567", "27"),    // South Africa
            ("+2348012345678", "234"), // Nigeria
            ("+33612345678", "33"),    // France
            ("+34612345678", "34"),    // Spain
            ("+351912345678", "351"),  // Portugal
            ("+353871234567", "353"),  // Ireland
            ("+393123456789", "39"),   // Italy
            ("+420601123456", "420"),  // Czechia
            ("+447911123456", "44"),   // United Kingdom
            ("+4915123456789", "49"),  // Germany
            ("+5215512345678", "52"),  // Mexico
            ("+5491123456789", "54"),  // Argentina
            ("+5511987654321", "55"),  // Brazil
            ("+6281234567890", "62"),  // Indonesia
            ("+639171234567", "63"),   // Philippines
            ("+6799123456", "679"),    // Fiji
            ("+819012345678", "81"),   // Japan
            ("+85291234567", "852"),   // Hong Kong
            ("+8613812345678", "86"),  // China
            ("+8801712345678", "880"), // Bangladesh
            ("+905321234567", "90"),   // Turkey
            ("+919876543210", "91"),   // India
            ("+966501234567", "966"),  // Saudi Arabia
            ("+971501234567", "971"),  // United Arab Emirates
            ("+972541234521", "972"),  // Israel
            ("+299123456", "299"),     // Greenland
        ] {
            assert_eq!(e164(number).calling_code(), code, "{number}");
        }
        // A spare code: its first three digits.
        assert_eq!(e164("+2101234567").calling_code(), "210");
        assert!(is_calling_code("972") && is_calling_code("1") && !is_calling_code("97"));
    }

    #[test]
    fn match_key_quirks() {
        // Mexico: "+52 1" mobile prefix.
        assert_eq!(
            e164("+5215512345678").match_key(),
            e164("+525512345678").match_key()
        );
        // Argentina: "+54 9" mobile marker.
        assert_eq!(
            e164("+5491123456789").match_key(),
            e164("+541123456789").match_key()
        );
        // Brazil: the ninth digit.
        assert_eq!(
            e164("+5511987654321").match_key(),
            e164("+551187654321").match_key()
        );
        assert_eq!(e164("+5511987654321").match_key(), "+551187654321");
        // Brazil: a "9" before a landline-range digit is not the ninth digit.
        assert_ne!(
            e164("+5511932345678").match_key(),
            e164("+551132345678").match_key()
        );
        // Other numbers are their own key.
        assert_eq!(e164("+14155550829").match_key(), "+14155550829");
        assert_ne!(
            e164("+525512345678").match_key(),
            e164("+545512345678").match_key()
        );
    }

    #[test]
    fn masking() {
        assert_eq!(e164("+972541234521").masked(), "+972*******21");
        assert_eq!(e164("+14155550829").masked(), "+1********29");
        assert_eq!(format!("{:?}", e164("+14155550829")), "E164(+1********29)");
        assert_eq!(e164("+14155550829").to_string(), "+14155550829");
        assert_eq!(mask_id("972541234521"), "972*******21");
        assert_eq!(mask_id("+44 20 7946 0018"), "+44********18");
        assert_eq!(mask_id("1234"), HIDDEN);
        assert_eq!(mask_id("hello\nworld"), HIDDEN);
        assert_eq!(mask_id(&"9".repeat(1000)).len(), 3 + MAX_DIGITS + 2);
    }

    #[test]
    fn serde_is_the_string() {
        let n = e164("+16505551234");
        assert_eq!(serde_json::to_string(&n).unwrap(), r#""+16505551234""#);
        assert_eq!(
            serde_json::from_str::<E164>(r#""+16505551234""#).unwrap(),
            n
        );
        assert!(serde_json::from_str::<E164>(r#""16505551234""#).is_err());
        assert!(serde_json::from_str::<E164>(r#""+12""#).is_err());
        assert!(serde_json::from_str::<E164>("16505551234").is_err());
        assert_eq!(n.as_str(), "+16505551234");
        assert_eq!(n.digits(), "16505551234");
    }

    /// A valid international number as digits: first digit 1–9, 8 to 15 digits.
    fn valid_digits() -> impl Strategy<Value = String> {
        "[1-9][0-9]{7,14}"
    }

    proptest! {
        #[test]
        fn prop_formatted_equals_wa_id(
            digits in valid_digits(),
            separators in prop::collection::vec(
                prop::sample::select(vec!["", "", " ", "-", ".", "(", ")", " - ", "\u{a0}"]), 16),
            prefix in prop::sample::select(vec!["+", "+ ", "00", "00 ", " +"]),
            business in prop::option::of(prop::sample::select(vec!["1", "44", "91", "972"])),
        ) {
            let mut typed = prefix.to_owned();
            for (digit, separator) in digits.chars().zip(&separators) {
                typed.push(digit);
                typed.push_str(separator);
            }
            // "(0)" after the country code is a trunk prefix, not a digit (see `dialled_forms`).
            prop_assume!(!typed.contains("(0)"));
            prop_assert_eq!(parse_dialled(&typed, business), from_wa_id(&digits));
        }

        #[test]
        fn prop_canonical_roundtrip(digits in valid_digits()) {
            let number = from_wa_id(&digits).unwrap();
            prop_assert_eq!(number.digits(), digits.as_str());
            prop_assert_eq!(number.as_str().parse::<E164>(), Ok(number.clone()));
            let json = serde_json::to_string(&number).unwrap();
            prop_assert_eq!(serde_json::from_str::<E164>(&json).unwrap(), number);
        }

        #[test]
        fn prop_masked_hides_the_middle(digits in valid_digits()) {
            let number = from_wa_id(&digits).unwrap();
            let code = number.calling_code();
            let debug = format!("{number:?}").replace("E164", "");
            for masked in [number.masked(), mask_id(&digits), debug] {
                let shown: String = masked.chars().filter(char::is_ascii_digit).collect();
                prop_assert_eq!(shown.len(), code.len() + 2);
                prop_assert_eq!(shown, format!("{code}{}", &digits[digits.len() - 2..]));
            }
        }

        #[test]
        fn prop_mask_id_shows_little(raw in ".*") {
            let masked = mask_id(&raw);
            prop_assert!(masked.chars().all(|c| c.is_ascii_digit() || c == '+' || c == '*'));
            prop_assert!(masked.chars().filter(char::is_ascii_digit).count() <= 5);
        }

        #[test]
        fn prop_match_key_is_stable(digits in valid_digits()) {
            let number = from_wa_id(&digits).unwrap();
            let key = number.match_key();
            // A key, read back as a number, is its own key.
            if let Ok(again) = key.parse::<E164>() {
                prop_assert_eq!(again.match_key(), key);
            }
        }

        #[test]
        fn prop_mexico_argentina_brazil(national in "[1-9][0-9]{9}", mobile in "[6-9][0-9]{7}",
                                        area in "[1-9][1-9]") {
            let mx = |s: String| from_wa_id(&s).unwrap().match_key();
            prop_assert_eq!(mx(format!("521{national}")), mx(format!("52{national}")));
            prop_assert_eq!(mx(format!("549{national}")), mx(format!("54{national}")));
            prop_assert_eq!(mx(format!("55{area}9{mobile}")), mx(format!("55{area}{mobile}")));
        }

        #[test]
        fn prop_no_input_panics(input in ".*", business in prop::option::of(".*")) {
            for result in [
                parse_dialled(&input, business.as_deref()),
                from_wa_id(&input),
                input.parse::<E164>(),
            ] {
                match result {
                    Ok(number) => {
                        let _ = (number.calling_code(), number.match_key(), number.masked());
                        prop_assert!((MIN_DIGITS..=MAX_DIGITS).contains(&number.digits().len()));
                    }
                    Err(error) => {
                        let _ = error.to_string();
                    }
                }
            }
            let _ = mask_id(&input);
        }

        #[test]
        fn prop_no_digit_soup_panics(input in "[0-9+ ()]{0,40}",
                                     business in prop::option::of("[+0-9]{0,4}")) {
            if let Ok(number) = parse_dialled(&input, business.as_deref()) {
                let _ = (number.calling_code(), number.match_key(), number.masked());
            }
            let _ = mask_id(&input);
        }
    }
}
