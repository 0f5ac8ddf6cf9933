//! A scripted month of traffic across 2026-10-01, priced, billed by scripted status webhooks and
//! reported, against a table computed by hand from the sample card.

use super::*;
use crate::time::Seconds;
use crate::{Category, Timestamp};

const SAMPLE: &str = include_str!("../../rates/sample-usd.csv");

struct Send {
    /// Day of month and seconds into it, UTC (the WABA's zone here).
    month: u8,
    day: i64,
    second: i64,
    number: &'static str,
    to: &'static str,
    message: MessageKind,
    window: bool,
    entry_point: bool,
    /// The predicted amount, computed by hand from the sample card ("" = nothing charged).
    expected: &'static str,
    /// The `pricing` objects of its status webhooks, in arrival order (none if it failed).
    pricing: &'static [&'static str],
}

const MARKETING: MessageKind = MessageKind::Template(Category::Marketing);
const UTILITY: MessageKind = MessageKind::Template(Category::Utility);
const AUTHENTICATION: MessageKind = MessageKind::Template(Category::Authentication);
const FREE_FORM: MessageKind = MessageKind::NonTemplate;

const REGULAR_MARKETING: &str =
    r#"{"billable":true,"pricing_model":"PMP","type":"regular","category":"marketing"}"#;
const REGULAR_UTILITY: &str =
    r#"{"billable":true,"pricing_model":"PMP","type":"regular","category":"utility"}"#;
const REGULAR_SERVICE: &str = r#"{"pricing_model":"PMP","type":"regular","category":"service"}"#;
const REGULAR_AUTH: &str =
    r#"{"billable":true,"pricing_model":"PMP","type":"regular","category":"authentication"}"#;
const REGULAR_AUTH_INTL: &str = r#"{"billable":true,"pricing_model":"PMP","type":"regular","category":"authentication-international"}"#;
const FREE_UTILITY: &str = r#"{"billable":false,"pricing_model":"PMP","type":"free_customer_service","category":"utility"}"#;
const FREE_SERVICE: &str = r#"{"billable":false,"pricing_model":"PMP","type":"free_customer_service","category":"service"}"#;
const FREE_ENTRY: &str = r#"{"billable":false,"pricing_model":"PMP","type":"free_entry_point","category":"referral_conversion"}"#;

#[rustfmt::skip]
const SCRIPT: &[Send] = &[
    // September: service and in-window utility are free.
    Send { month: 9, day: 16, second: 36_000, number: "PN1", to: "16505551234", message: MARKETING, window: false, entry_point: false, expected: "0.0275", pricing: &[REGULAR_MARKETING, REGULAR_MARKETING] },
    Send { month: 9, day: 20, second: 43_200, number: "PN1", to: "919876543210", message: UTILITY, window: true, entry_point: false, expected: "", pricing: &[FREE_UTILITY] },
    Send { month: 9, day: 20, second: 43_500, number: "PN1", to: "919876543210", message: FREE_FORM, window: true, entry_point: false, expected: "", pricing: &[FREE_SERVICE, FREE_SERVICE] },
    // Meta bills this utility template as marketing: it was recategorised (cloud-api.md §6.4).
    Send { month: 9, day: 25, second: 32_400, number: "PN2", to: "447700900123", message: UTILITY, window: false, entry_point: false, expected: "0.0242", pricing: &[REGULAR_MARKETING, REGULAR_MARKETING] },
    // An Indian business authenticating an Indonesian user: the international rate.
    Send { month: 9, day: 28, second: 54_000, number: "PN2", to: "6281234567890", message: AUTHENTICATION, window: false, entry_point: false, expected: "0.1000", pricing: &[REGULAR_AUTH_INTL] },
    Send { month: 9, day: 29, second: 3_600, number: "PN1", to: "5511987654321", message: MARKETING, window: true, entry_point: true, expected: "", pricing: &[FREE_ENTRY] },
    Send { month: 9, day: 30, second: 86_399, number: "PN1", to: "5511987654321", message: UTILITY, window: true, entry_point: false, expected: "", pricing: &[FREE_UTILITY] },
    // October: the same kinds of message are charged.
    Send { month: 10, day: 1, second: 0, number: "PN1", to: "5511987654321", message: UTILITY, window: true, entry_point: false, expected: "0.0088", pricing: &[REGULAR_UTILITY] },
    Send { month: 10, day: 1, second: 10, number: "PN1", to: "5511987654321", message: FREE_FORM, window: true, entry_point: false, expected: "0.0088", pricing: &[REGULAR_SERVICE, REGULAR_SERVICE] },
    Send { month: 10, day: 2, second: 36_000, number: "PN2", to: "4915112345678", message: MARKETING, window: false, entry_point: false, expected: "0.1502", pricing: &[REGULAR_MARKETING] },
    Send { month: 10, day: 2, second: 36_060, number: "PN2", to: "4915112345679", message: MARKETING, window: false, entry_point: false, expected: "0.1502", pricing: &[REGULAR_MARKETING, REGULAR_MARKETING] },
    Send { month: 10, day: 2, second: 36_120, number: "PN2", to: "4915112345670", message: MARKETING, window: false, entry_point: false, expected: "0.1502", pricing: &[REGULAR_MARKETING] },
    // The free entry point window stays free after 1 October.
    Send { month: 10, day: 3, second: 7_200, number: "PN1", to: "5215512345678", message: FREE_FORM, window: true, entry_point: true, expected: "", pricing: &[FREE_ENTRY] },
    Send { month: 10, day: 5, second: 7_200, number: "PN2", to: "919876543210", message: AUTHENTICATION, window: false, entry_point: false, expected: "0.0017", pricing: &[REGULAR_AUTH] },
    Send { month: 10, day: 10, second: 7_200, number: "PN1", to: "254712345678", message: FREE_FORM, window: true, entry_point: false, expected: "0.0040", pricing: &[REGULAR_SERVICE] },
    Send { month: 10, day: 10, second: 7_260, number: "PN1", to: "254712345678", message: FREE_FORM, window: true, entry_point: false, expected: "0.0040", pricing: &[REGULAR_SERVICE] },
    // Failed: no status carries pricing, so nothing is billed.
    Send { month: 10, day: 12, second: 7_200, number: "PN1", to: "6591234567", message: MARKETING, window: false, entry_point: false, expected: "0.0600", pricing: &[] },
    Send { month: 10, day: 14, second: 7_200, number: "PN1", to: "16505551234", message: FREE_FORM, window: true, entry_point: false, expected: "0.0044", pricing: &[REGULAR_SERVICE] },
];

/// month | category | market | number | messages | predicted | billed
const EXPECTED: &str = "\
2026-09 | marketing | North America | PN1 | 1 | 0.0275 | 0.0275
2026-09 | marketing | United Kingdom | PN2 | 1 | 0.0242 | 0.0582
2026-09 | utility | Brazil | PN1 | 1 | - | -
2026-09 | utility | India | PN1 | 1 | - | -
2026-09 | authentication_international | Indonesia | PN2 | 1 | 0.10 | 0.10
2026-09 | service | India | PN1 | 1 | - | -
2026-09 | referral_conversion | Brazil | PN1 | 1 | - | -
2026-10 | marketing | Germany | PN2 | 3 | 0.4506 | 0.4506
2026-10 | marketing | Other | PN1 | 1 | 0.06 | -
2026-10 | utility | Brazil | PN1 | 1 | 0.0088 | 0.0088
2026-10 | authentication | India | PN2 | 1 | 0.0017 | 0.0017
2026-10 | service | Brazil | PN1 | 1 | 0.0088 | 0.0088
2026-10 | service | North America | PN1 | 1 | 0.0044 | 0.0044
2026-10 | service | Rest of Africa | PN1 | 2 | 0.008 | 0.008
2026-10 | referral_conversion | Mexico | PN1 | 1 | - | -
";

fn render(report: &CostReport) -> String {
    let usd = |sums: &std::collections::BTreeMap<Currency, Money>| {
        sums.get(&Currency::USD)
            .map_or_else(|| "-".to_owned(), Money::decimal)
    };
    report
        .lines
        .iter()
        .map(|(key, line)| {
            format!(
                "{} | {} | {} | {} | {} | {} | {}\n",
                key.month,
                key.category,
                key.market,
                key.phone_number_id,
                line.messages,
                usd(&line.predicted),
                usd(&line.billed)
            )
        })
        .collect()
}

#[test]
fn a_scripted_month_of_traffic_across_1_october_2026_matches_the_hand_computed_table() {
    let cards = RateCards::new(vec![
        RateCard::from_csv(SAMPLE, YearMonth::new(2026, 7).unwrap()).unwrap(),
    ])
    .unwrap();
    let mut ledger = Vec::new();
    for (i, send) in SCRIPT.iter().enumerate() {
        let sent_at: Timestamp = YearMonth::new(2026, send.month)
            .unwrap()
            .start(WabaOffset::UTC)
            + Seconds((send.day - 1) * 86_400 + send.second);
        let facts = SendFacts {
            sent_at,
            waba_offset: WabaOffset::UTC,
            message: send.message,
            recipient_market: Market::of_digits(send.to),
            business_market: Market::new("India"),
            service_window_open: send.window,
            entry_point_window_open: send.entry_point,
            conversation: None,
        };
        let prediction = predict(&facts, &cards);
        let expected = (!send.expected.is_empty())
            .then(|| Money::parse_decimal(send.expected, Currency::USD).unwrap());
        assert_eq!(
            prediction.amount, expected,
            "send {i}: {}",
            prediction.reason
        );

        let mut bill: Option<Billed> = None;
        for pricing in send.pricing {
            let pricing = serde_json::from_str(pricing).unwrap();
            match bill_once(bill.as_ref(), reconcile(&prediction, &pricing, &cards)) {
                BillUpdate::First(first) => bill = Some(first),
                BillUpdate::Repeat => {}
                BillUpdate::Conflict(other) => panic!("send {i}: conflicting bill {other:?}"),
            }
        }
        // Only the recategorised template disagrees with its prediction.
        let disagrees = bill.as_ref().is_some_and(|b| !b.agrees());
        assert_eq!(disagrees, i == 3, "send {i}: {bill:?}");

        ledger.push(LedgerRow {
            message_id: format!("wamid.{i}"),
            phone_number_id: send.number.to_owned(),
            market: prediction.market.clone(),
            category: bill
                .as_ref()
                .and_then(|b| b.category.known())
                .unwrap_or(prediction.category),
            sent_at,
            predicted: prediction.amount,
            billed: bill.and_then(|b| b.amount),
        });
    }
    let report = cost_report(&ledger, WabaOffset::UTC).unwrap();
    assert_eq!(render(&report), EXPECTED);
    assert_eq!(report.duplicate_rows, 0);

    // Month totals, by hand: September predicted 0.0275 + 0.0242 + 0.1000, billed
    // 0.0275 + 0.0582 + 0.1000; October predicted 0.0088 × 2 + 0.1502 × 3 + 0.0017 + 0.0040 × 2
    // + 0.0600 + 0.0044, billed the same without the failed 0.0600.
    let total = |month: u8, billed: bool| {
        report
            .lines
            .iter()
            .filter(|(k, _)| k.month.month() == month)
            .filter_map(|(_, l)| {
                if billed {
                    l.billed.get(&Currency::USD)
                } else {
                    l.predicted.get(&Currency::USD)
                }
            })
            .fold(Money::zero(Currency::USD), |a, m| {
                a.checked_add(*m).unwrap()
            })
            .to_string()
    };
    assert_eq!(total(9, false), "0.1517 USD");
    assert_eq!(total(9, true), "0.1857 USD");
    assert_eq!(total(10, false), "0.5423 USD");
    assert_eq!(total(10, true), "0.4823 USD");
}
