//! One test per pricing rule, across the 2024-11-01, 2025-07-01 and 2026-10-01 boundaries, on the
//! sample card (crates/domain/rates/sample-usd.csv).

use super::*;
use crate::time::Seconds;
use crate::{Category, Timestamp};

const SAMPLE: &str = include_str!("../../rates/sample-usd.csv");

/// The sample card, in force for every date the tests use.
fn cards() -> RateCards {
    let card = RateCard::from_csv(SAMPLE, YearMonth::new(2023, 7).unwrap()).unwrap();
    RateCards::new(vec![card]).unwrap()
}

/// Midnight UTC starting the given day, plus `seconds`.
fn day(year: i32, month: u8, day: i64, seconds: i64) -> Timestamp {
    YearMonth::new(year, month).unwrap().start(WabaOffset::UTC)
        + Seconds((day - 1) * 86_400 + seconds)
}

fn market(name: &str) -> Market {
    Market::new(name).unwrap()
}

fn usd(text: &str) -> Option<Money> {
    Some(Money::parse_decimal(text, Currency::USD).unwrap())
}

fn send(at: Timestamp, message: MessageKind, to: &str) -> SendFacts {
    SendFacts {
        sent_at: at,
        waba_offset: WabaOffset::UTC,
        message,
        recipient_market: market(to),
        business_market: Some(market("India")),
        service_window_open: false,
        entry_point_window_open: false,
        conversation: None,
    }
}

fn in_window(facts: SendFacts) -> SendFacts {
    SendFacts {
        service_window_open: true,
        ..facts
    }
}

fn in_entry_point(facts: SendFacts) -> SendFacts {
    SendFacts {
        service_window_open: true,
        entry_point_window_open: true,
        ..facts
    }
}

const MARKETING: MessageKind = MessageKind::Template(Category::Marketing);
const UTILITY: MessageKind = MessageKind::Template(Category::Utility);
const AUTHENTICATION: MessageKind = MessageKind::Template(Category::Authentication);
const FREE_FORM: MessageKind = MessageKind::NonTemplate;

/// (category, type, billable, charged, amount) of a prediction.
fn summary(p: &Prediction) -> (Category, PricingType, bool, bool, Option<Money>) {
    (p.category, p.pricing_type, p.billable, p.charged, p.amount)
}

fn charged(category: Category, amount: &str) -> (Category, PricingType, bool, bool, Option<Money>) {
    (category, PricingType::Regular, true, true, usd(amount))
}

fn free(
    category: Category,
    pricing_type: PricingType,
) -> (Category, PricingType, bool, bool, Option<Money>) {
    (category, pricing_type, false, false, None)
}

#[test]
fn per_message_pricing_starts_at_midnight_utc_on_1_july_2025() {
    let switch = day(2025, 7, 1, 0);
    let before = predict(&send(switch - Seconds(1), MARKETING, "Brazil"), &cards());
    let after = predict(&send(switch, MARKETING, "Brazil"), &cards());
    assert_eq!(before.model, PricingModel::Cbp);
    assert_eq!(after.model, PricingModel::Pmp);
    assert_eq!(summary(&after), charged(Category::Marketing, "0.0688"));
    // In-window utility: it opened a conversation under CBP, it is free under PMP.
    let utility_before = predict(
        &in_window(send(switch - Seconds(1), UTILITY, "Brazil")),
        &cards(),
    );
    let utility_after = predict(&in_window(send(switch, UTILITY, "Brazil")), &cards());
    assert_eq!(
        summary(&utility_before),
        charged(Category::Utility, "0.0088")
    );
    assert_eq!(
        summary(&utility_after),
        free(Category::Utility, PricingType::FreeCustomerService)
    );
}

#[test]
fn marketing_is_charged_in_every_era_window_or_not() {
    for at in [
        day(2025, 7, 1, 0),
        day(2026, 9, 30, 86_399),
        day(2026, 10, 1, 0),
        day(2027, 3, 1, 0),
    ] {
        for facts in [
            send(at, MARKETING, "North America"),
            in_window(send(at, MARKETING, "North America")),
        ] {
            let p = predict(&facts, &cards());
            assert_eq!(
                summary(&p),
                charged(Category::Marketing, "0.0275"),
                "{at:?}"
            );
            assert!(p.reason.contains("marketing"));
        }
    }
    let lite = predict(
        &send(
            day(2026, 1, 5, 0),
            MessageKind::Template(Category::MarketingLite),
            "India",
        ),
        &cards(),
    );
    assert_eq!(summary(&lite), charged(Category::MarketingLite, "0.0129"));
}

#[test]
fn in_window_utility_is_free_until_30_september_2026_and_charged_from_1_october() {
    let last_free = in_window(send(day(2026, 9, 30, 86_399), UTILITY, "United Kingdom"));
    let first_charged = in_window(send(day(2026, 10, 1, 0), UTILITY, "United Kingdom"));
    let p = predict(&last_free, &cards());
    assert_eq!(
        summary(&p),
        free(Category::Utility, PricingType::FreeCustomerService)
    );
    assert!(p.reason.contains("until 30 Sep 2026"), "{}", p.reason);
    let p = predict(&first_charged, &cards());
    assert_eq!(summary(&p), charged(Category::Utility, "0.0242"));
    assert!(p.reason.contains("§7.4"));
    // Outside the window utility was always charged.
    let outside = predict(
        &send(day(2026, 9, 1, 0), UTILITY, "United Kingdom"),
        &cards(),
    );
    assert_eq!(summary(&outside), charged(Category::Utility, "0.0242"));
}

#[test]
fn service_messages_are_free_until_30_september_2026_and_charged_from_1_october() {
    let last_free = in_window(send(day(2026, 9, 30, 86_399), FREE_FORM, "Germany"));
    let first_charged = in_window(send(day(2026, 10, 1, 0), FREE_FORM, "Germany"));
    assert_eq!(
        summary(&predict(&last_free, &cards())),
        free(Category::Service, PricingType::FreeCustomerService)
    );
    assert_eq!(
        summary(&predict(&first_charged, &cards())),
        charged(Category::Service, "0.0605")
    );
    // A card without a service rate: billable, but the price is unknown.
    let card = RateCard::from_csv(
        "Market,Currency,Marketing,Utility,Authentication,Service\nGermany,USD,0.1365,0.055,0.055,\n",
        YearMonth::new(2026, 10).unwrap(),
    )
    .unwrap();
    let p = predict(&first_charged, &RateCards::new(vec![card]).unwrap());
    assert_eq!(
        (p.pricing_type, p.billable, p.charged, p.amount),
        (PricingType::Regular, true, true, None)
    );
}

#[test]
fn everything_inside_a_free_entry_point_window_is_free_in_every_era() {
    for at in [
        day(2024, 6, 3, 0),
        day(2025, 3, 3, 0),
        day(2025, 8, 1, 0),
        day(2026, 11, 1, 0),
    ] {
        for message in [MARKETING, UTILITY, AUTHENTICATION, FREE_FORM] {
            let p = predict(&in_entry_point(send(at, message, "Mexico")), &cards());
            assert_eq!(
                summary(&p),
                free(Category::ReferralConversion, PricingType::FreeEntryPoint),
                "{message:?} at {at:?}"
            );
            assert_eq!(p.conversation, None);
        }
    }
}

#[test]
fn authentication_international_applies_to_a_market_with_that_rate_from_another_market() {
    let at = day(2026, 2, 2, 0);
    // An Indian business to Indonesia: the card has an international rate there.
    let p = predict(&send(at, AUTHENTICATION, "Indonesia"), &cards());
    assert_eq!(
        summary(&p),
        charged(Category::AuthenticationInternational, "0.1000")
    );
    // An Indonesian business to Indonesia: domestic.
    let domestic = SendFacts {
        business_market: Some(market("indonesia")),
        ..send(at, AUTHENTICATION, "Indonesia")
    };
    assert_eq!(
        summary(&predict(&domestic, &cards())),
        charged(Category::Authentication, "0.0300")
    );
    // No international rate for Germany, and an unknown business market counts as domestic.
    assert_eq!(
        summary(&predict(&send(at, AUTHENTICATION, "Germany"), &cards())),
        charged(Category::Authentication, "0.0605")
    );
    let unknown = SendFacts {
        business_market: None,
        ..send(at, AUTHENTICATION, "Indonesia")
    };
    assert_eq!(
        summary(&predict(&unknown, &cards())),
        charged(Category::Authentication, "0.0300")
    );
    // Without a card there is no knowing: authentication, billable, no amount.
    let p = predict(&send(at, AUTHENTICATION, "Indonesia"), &RateCards::none());
    assert_eq!(
        (p.category, p.billable, p.amount),
        (Category::Authentication, true, None)
    );
}

#[test]
fn a_market_missing_from_the_card_is_billable_at_an_unknown_price() {
    let p = predict(
        &send(day(2026, 2, 2, 0), MARKETING, "Rest of Latin America"),
        &cards(),
    );
    assert_eq!((p.billable, p.charged, p.amount), (true, true, None));
}

mod conversation_based {
    use super::*;

    #[test]
    fn a_conversation_is_charged_once_and_reopens_after_24_hours() {
        let mut ledger = CbpConversations::new();
        let t = day(2025, 3, 10, 9 * 3600);
        let first = ledger.predict(&"alice", &send(t, MARKETING, "India"), &cards());
        assert_eq!(summary(&first), charged(Category::Marketing, "0.0129"));
        assert!(matches!(first.conversation, Some(CbpCharge::Opens(_))));

        let inside = ledger.predict(
            &"alice",
            &send(t + Seconds(86_399), MARKETING, "India"),
            &cards(),
        );
        assert_eq!(
            (inside.billable, inside.charged, inside.amount),
            (true, false, None)
        );
        assert!(inside.reason.starts_with("no new charge"));

        let reopened = ledger.predict(
            &"alice",
            &send(t + Seconds::DAY, MARKETING, "India"),
            &cards(),
        );
        assert_eq!(summary(&reopened), charged(Category::Marketing, "0.0129"));

        // Another customer, or another category, opens its own conversation.
        let bob = ledger.predict(&"bob", &send(t + Seconds(60), MARKETING, "India"), &cards());
        assert!(bob.charged);
        let utility = ledger.predict(&"alice", &send(t + Seconds(60), UTILITY, "India"), &cards());
        assert_eq!(summary(&utility), charged(Category::Utility, "0.0017"));
    }

    #[test]
    fn a_free_form_reply_rides_on_any_open_conversation() {
        let mut ledger = CbpConversations::new();
        let t = day(2024, 9, 2, 0);
        ledger.predict(&1u32, &send(t, MARKETING, "Brazil"), &cards());
        let reply = ledger.predict(
            &1u32,
            &in_window(send(t + Seconds::HOUR, FREE_FORM, "Brazil")),
            &cards(),
        );
        assert_eq!(reply.category, Category::Marketing);
        assert_eq!((reply.billable, reply.charged), (true, false));
        assert_eq!(
            ledger.service_conversations(YearMonth::new(2024, 9).unwrap()),
            0
        );
    }

    #[test]
    fn the_first_1000_service_conversations_of_a_month_are_free_then_charged() {
        let mut ledger = CbpConversations::new();
        let t = day(2024, 9, 1, 0);
        for customer in 0..1000u32 {
            let p = ledger.predict(
                &customer,
                &in_window(send(t + Seconds(i64::from(customer)), FREE_FORM, "Brazil")),
                &cards(),
            );
            // Billable in Meta's words, but not charged.
            assert_eq!(
                summary(&p),
                (
                    Category::Service,
                    PricingType::FreeCustomerService,
                    true,
                    false,
                    None
                )
            );
        }
        // A second reply to a customer within 24 h opens nothing.
        let again = ledger.predict(
            &7,
            &in_window(send(t + Seconds::HOUR, FREE_FORM, "Brazil")),
            &cards(),
        );
        assert!(matches!(again.conversation, Some(CbpCharge::Inside(_))));
        let p = ledger.predict(
            &1000,
            &in_window(send(t + Seconds::HOUR, FREE_FORM, "Brazil")),
            &cards(),
        );
        assert_eq!(summary(&p), charged(Category::Service, "0.0088"));
        assert_eq!(
            p.conversation.map(|c| c.conversation().service_rank),
            Some(Some(1001))
        );
        // Replies inside that charged conversation are not charged again.
        let inside = ledger.predict(
            &1000,
            &in_window(send(t + Seconds(7200), FREE_FORM, "Brazil")),
            &cards(),
        );
        assert_eq!((inside.billable, inside.charged), (true, false));
        // The count resets with the month, on the WABA's clock.
        let october = ledger.predict(
            &5000,
            &in_window(send(day(2024, 10, 1, 0), FREE_FORM, "Brazil")),
            &cards(),
        );
        assert!(!october.charged);
        assert_eq!(
            ledger.service_conversations(YearMonth::new(2024, 9).unwrap()),
            1001
        );
        assert_eq!(
            ledger.service_conversations(YearMonth::new(2024, 10).unwrap()),
            1
        );
    }

    #[test]
    fn service_conversations_are_free_for_everyone_from_november_2024() {
        let mut ledger = CbpConversations::new();
        let t = day(2024, 11, 1, 0);
        for customer in 0..1001u32 {
            let p = ledger.predict(
                &customer,
                &in_window(send(t, FREE_FORM, "Germany")),
                &cards(),
            );
            assert!(!p.billable);
        }
        let p = ledger.predict(&2000, &in_window(send(t, FREE_FORM, "Germany")), &cards());
        assert!(p.reason.contains("1 Nov 2024"), "{}", p.reason);
    }

    #[test]
    fn entry_point_and_per_message_sends_are_not_recorded() {
        let mut ledger = CbpConversations::new();
        ledger.predict(
            &"a",
            &in_entry_point(send(day(2025, 5, 1, 0), MARKETING, "Italy")),
            &cards(),
        );
        ledger.predict(
            &"a",
            &send(day(2025, 7, 1, 0), MARKETING, "Italy"),
            &cards(),
        );
        assert_eq!(ledger.customers(), 0);
        let p = ledger.predict(
            &"a",
            &send(day(2025, 5, 1, 60), MARKETING, "Italy"),
            &cards(),
        );
        assert!(
            p.charged,
            "the free entry point send opened no conversation"
        );
    }

    #[test]
    fn without_the_ledger_a_cbp_send_is_assumed_to_open_a_charged_conversation() {
        let p = predict(
            &in_window(send(day(2024, 9, 1, 0), FREE_FORM, "Spain")),
            &cards(),
        );
        assert_eq!(summary(&p), charged(Category::Service, "0.0200"));
    }

    #[test]
    fn expired_conversations_are_forgotten() {
        let mut ledger = CbpConversations::new();
        let t = day(2025, 1, 6, 0);
        ledger.record(&"a", Category::Marketing, t, WabaOffset::UTC);
        ledger.record(&"b", Category::Utility, t + Seconds::HOUR, WabaOffset::UTC);
        ledger.forget_expired(t + Seconds::DAY);
        assert_eq!(ledger.customers(), 1);
        ledger.forget_expired(t + Seconds::DAY + Seconds::HOUR);
        assert_eq!(ledger.customers(), 0);
    }
}

mod reconciliation {
    use super::*;

    fn pricing(json: &str) -> wa::webhook::Pricing {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn meta_agreeing_with_the_prediction_is_a_clean_bill() {
        // cloud-api.md §1.4, "Status: sent (marketing, per-message pricing)".
        let p = predict(
            &send(day(2025, 8, 1, 0), MARKETING, "North America"),
            &cards(),
        );
        let bill = reconcile(
            &p,
            &pricing(
                r#"{"billable":true,"pricing_model":"PMP","type":"regular","category":"marketing"}"#,
            ),
            &cards(),
        );
        assert!(bill.agrees(), "{:?}", bill.disagreements);
        assert_eq!((bill.charged, bill.amount), (true, usd("0.0275")));
        // §1.4's free example.
        let p = predict(
            &in_window(send(day(2025, 8, 1, 0), FREE_FORM, "India")),
            &cards(),
        );
        let bill = reconcile(
            &p,
            &pricing(
                r#"{"billable":false,"pricing_model":"PMP","type":"free_customer_service","category":"service"}"#,
            ),
            &cards(),
        );
        assert!(bill.agrees());
        assert_eq!((bill.charged, bill.amount), (false, None));
    }

    #[test]
    fn the_webhook_wins_and_every_difference_is_named() {
        // Predicted free in-window utility; Meta charged it as marketing (a recategorised
        // template, cloud-api.md §6.4).
        let p = predict(
            &in_window(send(day(2026, 3, 2, 0), UTILITY, "Brazil")),
            &cards(),
        );
        let bill = reconcile(
            &p,
            &pricing(
                r#"{"billable":true,"pricing_model":"PMP","type":"regular","category":"marketing"}"#,
            ),
            &cards(),
        );
        assert_eq!(bill.category, BilledCategory::Known(Category::Marketing));
        assert_eq!(
            (bill.billable, bill.charged, bill.amount),
            (true, true, usd("0.0688"))
        );
        let said: Vec<String> = bill.disagreements.iter().map(ToString::to_string).collect();
        assert_eq!(
            said,
            [
                "category: predicted utility, billed marketing",
                "predicted free, billed billable",
                "pricing type: predicted free_customer_service, billed regular",
            ]
        );
    }

    #[test]
    fn the_hyphenated_international_category_and_unlisted_ones() {
        let p = predict(&send(day(2026, 3, 2, 0), AUTHENTICATION, "India"), &cards());
        let bill = reconcile(
            &p,
            &pricing(
                r#"{"pricing_model":"PMP","type":"regular","category":"authentication-international"}"#,
            ),
            &cards(),
        );
        assert_eq!(
            bill.category,
            BilledCategory::Known(Category::AuthenticationInternational)
        );
        assert_eq!(bill.amount, usd("0.0300"));

        let p = predict(
            &in_window(send(day(2026, 3, 2, 0), FREE_FORM, "Italy")),
            &cards(),
        );
        let bill = reconcile(
            &p,
            &pricing(
                r#"{"pricing_model":"PMP","type":"regular","category":"meta_business_agent"}"#,
            ),
            &cards(),
        );
        assert_eq!(
            bill.category,
            BilledCategory::Unlisted("meta_business_agent".into())
        );
        assert_eq!((bill.charged, bill.amount), (true, None));
        assert_eq!(bill.disagreements.len(), 3);
    }

    #[test]
    fn type_decides_billability_before_the_deprecated_billable_flag() {
        let p = predict(&send(day(2026, 3, 2, 0), MARKETING, "Spain"), &cards());
        let without_billable = reconcile(
            &p,
            &pricing(r#"{"pricing_model":"PMP","type":"regular","category":"marketing"}"#),
            &cards(),
        );
        assert!(without_billable.agrees() && without_billable.charged);
        let contradictory = reconcile(
            &p,
            &pricing(
                r#"{"billable":true,"pricing_model":"PMP","type":"free_entry_point","category":"marketing"}"#,
            ),
            &cards(),
        );
        assert_eq!(
            (contradictory.billable, contradictory.charged),
            (false, false)
        );
    }

    #[test]
    fn cbp_webhooks_mark_every_message_of_a_billable_conversation_but_it_is_charged_once() {
        // cloud-api.md §1.4, "Status: delivered (older CBP era)": no `type`.
        let webhook = pricing(r#"{"billable":true,"pricing_model":"CBP","category":"utility"}"#);
        let mut ledger = CbpConversations::new();
        let t = day(2025, 2, 3, 0);
        let opening = ledger.predict(&"c", &send(t, UTILITY, "Germany"), &cards());
        let follow_up =
            ledger.predict(&"c", &send(t + Seconds::HOUR, UTILITY, "Germany"), &cards());
        let first = reconcile(&opening, &webhook, &cards());
        let second = reconcile(&follow_up, &webhook, &cards());
        assert!(first.agrees() && second.agrees());
        assert_eq!((first.charged, first.amount), (true, usd("0.0605")));
        assert_eq!((second.charged, second.amount), (false, None));
        assert_eq!(second.pricing_type, PricingType::Regular);
    }

    #[test]
    fn a_free_tier_conversation_is_billable_for_meta_but_not_charged() {
        let mut ledger = CbpConversations::new();
        let p = ledger.predict(
            &"d",
            &in_window(send(day(2024, 8, 5, 0), FREE_FORM, "Spain")),
            &cards(),
        );
        let bill = reconcile(
            &p,
            &pricing(r#"{"billable":true,"pricing_model":"CBP","category":"service"}"#),
            &cards(),
        );
        assert!(bill.agrees(), "{:?}", bill.disagreements);
        assert_eq!(
            (bill.billable, bill.charged, bill.amount),
            (true, false, None)
        );
        // Once service is free for everyone Meta says so, and so does the prediction.
        let p = ledger.predict(
            &"e",
            &in_window(send(day(2024, 12, 5, 0), FREE_FORM, "Spain")),
            &cards(),
        );
        let bill = reconcile(
            &p,
            &pricing(r#"{"billable":false,"pricing_model":"CBP","category":"service"}"#),
            &cards(),
        );
        assert!(bill.agrees() && !bill.charged);
    }

    #[test]
    fn unreadable_values_leave_the_prediction_standing() {
        let p = predict(&send(day(2026, 3, 2, 0), MARKETING, "France"), &cards());
        let bill = reconcile(
            &p,
            &pricing(r#"{"pricing_model":"XYZ","type":"per_token","category":"marketing"}"#),
            &cards(),
        );
        assert_eq!(
            (bill.model, bill.pricing_type, bill.charged),
            (PricingModel::Pmp, PricingType::Regular, true)
        );
        assert_eq!(
            bill.disagreements
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "pricing.pricing_model `XYZ` is not a value guichet knows",
                "pricing.type `per_token` is not a value guichet knows",
            ]
        );
        // An empty object changes nothing.
        assert!(reconcile(&p, &pricing("{}"), &cards()).agrees());
    }

    #[test]
    fn sent_and_delivered_both_carry_pricing_but_the_message_is_billed_once() {
        let p = predict(&send(day(2026, 3, 2, 0), MARKETING, "France"), &cards());
        let webhook = pricing(
            r#"{"billable":true,"pricing_model":"PMP","type":"regular","category":"marketing"}"#,
        );
        let on_sent = reconcile(&p, &webhook, &cards());
        let BillUpdate::First(recorded) = bill_once(None, on_sent) else {
            panic!("the first pricing is the bill");
        };
        let on_delivered = reconcile(&p, &webhook, &cards());
        assert_eq!(bill_once(Some(&recorded), on_delivered), BillUpdate::Repeat);
        let odd = reconcile(
            &p,
            &pricing(
                r#"{"pricing_model":"PMP","type":"free_customer_service","category":"marketing"}"#,
            ),
            &cards(),
        );
        assert!(matches!(
            bill_once(Some(&recorded), odd),
            BillUpdate::Conflict(_)
        ));
    }
}
