//! Preflight as a whole: one test per rule, the edges Meta is strict about, and the precedence.

use super::*;
use crate::identity::{Bsuid, WaId};
use crate::time::Seconds;
use proptest::prelude::*;

mod templates;

const NOW: i64 = 1_750_000_000;
const HOUR: i64 = 3_600;

fn ts(s: i64) -> Timestamp {
    Timestamp::from_unix(s)
}

fn phone() -> ContactKey {
    ContactKey::WaId(WaId::parse("33612345678").unwrap())
}

fn bsuid() -> ContactKey {
    ContactKey::Bsuid(Bsuid::parse("FR.13491208655302741918").unwrap())
}

fn intent(message: Message) -> SendIntent {
    SendIntent::new("106540352242922", phone(), ts(NOW), message)
}

fn text(body: &str) -> SendIntent {
    intent(Message::Text {
        body: body.to_owned(),
        preview_url: false,
    })
}

fn template_send(name: &str, language: &str, body: Vec<Param>) -> SendIntent {
    intent(Message::Template(TemplateMessage::new(
        name, language, body,
    )))
}

fn synced(name: &str, language: &str, category: Category, body: &str) -> SyncedTemplate {
    SyncedTemplate {
        name: name.to_owned(),
        language: language.to_owned(),
        status: TemplateStatus::Approved,
        category,
        parameter_format: ParameterFormat::Positional,
        header: None,
        body: body.to_owned(),
        buttons: Vec::new(),
        quality: TemplateQuality::High,
    }
}

fn order_update() -> SyncedTemplate {
    synced(
        "order_update",
        "en_US",
        Category::Utility,
        "Hi {{1}}, your order {{2}} has shipped.",
    )
}

fn promo() -> SyncedTemplate {
    synced(
        "spring_promo",
        "en_US",
        Category::Marketing,
        "Hi {{1}}, spring sale!",
    )
}

/// The customer wrote an hour ago and opted in; the portfolio has room.
fn facts() -> Facts {
    let mut consent = Consent::default();
    consent.record(ConsentEvent::OptIn(OptIn {
        at: ts(NOW - 30 * 86_400),
        source: OptInSource::Recorded("checkout checkbox".into()),
    }));
    Facts {
        last_inbound_at: Some(ts(NOW - HOUR)),
        templates: vec![order_update(), promo()],
        consent,
        portfolio: PortfolioUsage {
            limit: MessagingLimit::TIER_2K,
            reached: 10,
            recipient_counted: false,
            next_release_at: Some(ts(NOW + 5 * HOUR)),
        },
        ..Facts::default()
    }
}

/// As [`facts`], but the customer last wrote two days ago.
fn facts_outside_window() -> Facts {
    Facts {
        last_inbound_at: Some(ts(NOW - 48 * HOUR)),
        ..facts()
    }
}

fn order_params() -> Vec<Param> {
    vec![Param::text("Jessica"), Param::text("SKBUP2-4CPIG9")]
}

fn refused(intent: &SendIntent, facts: &Facts) -> Refusal {
    match preflight(intent, facts, &Policy::default()) {
        Verdict::Refused(r) => r,
        Verdict::Allowed(c) => panic!("expected a refusal, got {c:?}"),
    }
}

fn allowed(intent: &SendIntent, facts: &Facts) -> Clearance {
    allowed_with(intent, facts, &Policy::default())
}

fn allowed_with(intent: &SendIntent, facts: &Facts, policy: &Policy) -> Clearance {
    match preflight(intent, facts, policy) {
        Verdict::Allowed(c) => c,
        Verdict::Refused(r) => panic!("expected a clearance, got {r:?}"),
    }
}

fn note_codes(c: &Clearance) -> Vec<&'static str> {
    c.notes.iter().map(|n| n.code).collect()
}

// ---- the customer-service window -------------------------------------------------------------

#[test]
fn free_form_inside_the_window_is_a_service_message() {
    let c = allowed(&text("Your parcel left this morning."), &facts());
    assert_eq!(c.category, Some(Category::Service));
    assert!(!c.business_initiated);
    assert_eq!(c.not_before, None);
    assert_eq!(c.template_language, None);
    assert!(c.notes.is_empty(), "{:?}", c.notes);
}

#[test]
fn the_window_is_closed_at_exactly_24_hours() {
    let just_before = Facts {
        last_inbound_at: Some(ts(NOW - 24 * HOUR + 1)),
        ..facts()
    };
    let c = allowed(&text("hi"), &just_before);
    assert_eq!(note_codes(&c), vec![note::WINDOW_CLOSING]);
    assert!(c.notes[0].detail.contains("1 s"), "{}", c.notes[0].detail);

    let exactly = Facts {
        last_inbound_at: Some(ts(NOW - 24 * HOUR)),
        ..facts()
    };
    let r = refused(&text("hi"), &exactly);
    assert_eq!(r.code, code::WINDOW_CLOSED);
    assert_eq!(r.meta_code, Some(131_047));
    assert_eq!(r.retry_at, None);
}

#[test]
fn a_closed_window_says_how_long_ago_and_what_to_do() {
    let f = Facts {
        last_inbound_at: Some(ts(NOW - 27 * HOUR)),
        ..facts()
    };
    let r = refused(&text("hi"), &f);
    assert_eq!(r.code, code::WINDOW_CLOSED);
    assert!(r.detail.contains("closed 3 h ago"), "{}", r.detail);
    assert!(r.next_step.contains("approved template"), "{}", r.next_step);
    assert_eq!(r.to_string(), format!("{}: {}", r.detail, r.next_step));
}

#[test]
fn a_customer_who_never_wrote_has_no_window() {
    let f = Facts {
        last_inbound_at: None,
        ..facts()
    };
    for message in [
        text("hi").message,
        Message::Reaction {
            message_id: "wamid.A".into(),
            emoji: "👍".into(),
        },
        Message::Media(MediaMessage {
            kind: MediaKind::Image,
            source: MediaSource::Id("1".into()),
            caption: None,
            filename: None,
        }),
    ] {
        let r = refused(&intent(message), &f);
        assert_eq!(r.code, code::WINDOW_CLOSED);
        assert!(r.detail.contains("never written"), "{}", r.detail);
    }
}

#[test]
fn read_receipts_and_typing_are_not_messages() {
    let f = Facts {
        last_inbound_at: Some(ts(NOW - 40 * 86_400)),
        ..facts()
    };
    for message in [
        Message::MarkRead {
            message_id: "wamid.A".into(),
        },
        Message::Typing {
            message_id: "wamid.A".into(),
        },
    ] {
        let c = allowed(&intent(message), &f);
        assert_eq!(c.category, None);
        assert!(!c.business_initiated);
    }
    let r = refused(
        &intent(Message::MarkRead {
            message_id: String::new(),
        }),
        &f,
    );
    assert_eq!(r.code, code::CONTENT_MISSING);
}

// ---- consent ---------------------------------------------------------------------------------

#[test]
fn business_initiated_templates_need_an_opt_in() {
    let f = Facts {
        consent: Consent::default(),
        ..facts_outside_window()
    };
    let send = template_send("order_update", "en_US", order_params());
    let r = refused(&send, &f);
    assert_eq!(r.code, code::OPT_IN_MISSING);
    assert_eq!(r.meta_code, None);
    // Inside the window the customer wrote first.
    allowed(
        &send,
        &Facts {
            consent: Consent::default(),
            ..facts()
        },
    );
    let lax = Policy {
        require_opt_in: false,
        ..Policy::default()
    };
    allowed_with(&send, &f, &lax);
}

#[test]
fn marketing_stops_whether_in_whatsapp_or_by_keyword() {
    let mut meta = facts();
    meta.consent.record(ConsentEvent::UserPreferences {
        value: UserPreferenceValue::Stop,
        at: ts(NOW - 2 * HOUR),
    });
    let promo = template_send("spring_promo", "en_US", vec![Param::text("Ana")]);
    let r = refused(&promo, &meta);
    assert_eq!(
        (r.code, r.meta_code),
        (code::MARKETING_STOPPED, Some(131_050))
    );
    assert!(r.detail.contains("2 h ago"), "{}", r.detail);
    // Utility and service messages still go.
    allowed(
        &template_send("order_update", "en_US", order_params()),
        &meta,
    );
    allowed(&text("Your order shipped"), &meta);

    let mut keyword = facts();
    let keywords = Keywords::default();
    let inbound = "Arrêt !";
    let kind = keywords.classify(inbound).unwrap();
    keyword.consent.record(ConsentEvent::Keyword {
        kind,
        at: ts(NOW - 60),
    });
    let r = refused(&promo, &keyword);
    assert_eq!((r.code, r.meta_code), (code::MARKETING_STOPPED, None));
    assert!(r.next_step.contains("START"), "{}", r.next_step);

    keyword.consent.record(ConsentEvent::Keyword {
        kind: keywords.classify("start").unwrap(),
        at: ts(NOW - 30),
    });
    allowed(&promo, &keyword);
}

// ---- volume ----------------------------------------------------------------------------------

#[test]
fn the_unanswered_cap_holds_back_business_initiated_messages() {
    let policy = Policy {
        unanswered_cap: Some(3),
        ..Policy::default()
    };
    let f = Facts {
        unanswered: 3,
        ..facts_outside_window()
    };
    let send = template_send("order_update", "en_US", order_params());
    let r = match preflight(&send, &f, &policy) {
        Verdict::Refused(r) => r,
        Verdict::Allowed(c) => panic!("{c:?}"),
    };
    assert_eq!(r.code, code::UNANSWERED_CAP);
    assert_eq!(r.retry_at, None);
    allowed_with(
        &send,
        &Facts {
            unanswered: 2,
            ..f.clone()
        },
        &policy,
    );
    // Not once the customer has written: the window is open.
    allowed_with(
        &send,
        &Facts {
            unanswered: 3,
            ..facts()
        },
        &policy,
    );
}

#[test]
fn meta_s_marketing_hold_lasts_24_hours() {
    let mut f = facts_outside_window();
    f.marketing_held_at = Some(ts(NOW - 20 * HOUR));
    let promo = template_send("spring_promo", "en_US", vec![Param::text("Ana")]);
    let r = refused(&promo, &f);
    assert_eq!(
        (r.code, r.meta_code),
        (code::MARKETING_CAPPED, Some(131_049))
    );
    assert_eq!(r.retry_at, Some(ts(NOW + 4 * HOUR)));
    assert!(r.next_step.contains("4 h"), "{}", r.next_step);

    let later = SendIntent {
        at: ts(NOW + 4 * HOUR),
        ..promo.clone()
    };
    let c = allowed(&later, &f);
    assert!(c.business_initiated);
    // Inside a window the customer opened, Meta's per-user limit does not apply.
    allowed(
        &promo,
        &Facts {
            last_inbound_at: Some(ts(NOW - HOUR)),
            ..f
        },
    );
}

#[test]
fn the_business_s_marketing_frequency_cap() {
    let policy = Policy {
        marketing_frequency: Some(FrequencyCap {
            max: 2,
            per: Seconds(7 * 86_400),
        }),
        ..Policy::default()
    };
    let mut f = facts_outside_window();
    f.marketing_sent = vec![
        ts(NOW - 86_400),
        ts(NOW - 3 * 86_400),
        ts(NOW - 10 * 86_400),
    ];
    let promo = template_send("spring_promo", "en_US", vec![Param::text("Ana")]);
    let r = match preflight(&promo, &f, &policy) {
        Verdict::Refused(r) => r,
        Verdict::Allowed(c) => panic!("{c:?}"),
    };
    assert_eq!(r.code, code::MARKETING_FREQUENCY);
    assert_eq!(r.retry_at, Some(ts(NOW - 3 * 86_400 + 7 * 86_400)));
    f.marketing_sent.remove(0);
    allowed_with(&promo, &f, &policy);
}

#[test]
fn the_portfolio_messaging_limit() {
    let mut f = facts_outside_window();
    f.portfolio.limit = MessagingLimit::TIER_250;
    f.portfolio.reached = 250;
    let send = template_send("order_update", "en_US", order_params());
    let r = refused(&send, &f);
    assert_eq!(r.code, code::MESSAGING_LIMIT);
    assert_eq!(r.retry_at, Some(ts(NOW + 5 * HOUR)));
    assert!(r.detail.contains("250 of its 250"), "{}", r.detail);

    // Reaching an already counted customer again costs nothing.
    f.portfolio.recipient_counted = true;
    let c = allowed(&send, &f);
    assert!(c.notes.is_empty());
    f.portfolio.recipient_counted = false;
    f.portfolio.limit = MessagingLimit::Unlimited;
    allowed(&send, &f);
    // Inside the window nothing counts.
    let mut inside = facts();
    inside.portfolio.limit = MessagingLimit::TIER_250;
    inside.portfolio.reached = 250;
    allowed(&send, &inside);
}

#[test]
fn monthly_budgets_per_category() {
    let policy = Policy {
        monthly_budgets: [(Category::Utility, 50_000_000)].into(),
        ..Policy::default()
    };
    let mut f = facts_outside_window();
    f.spend.month_to_date.insert(Category::Utility, 49_990_000);
    f.spend.estimated_cost = Some(20_000);
    f.spend.month_ends_at = Some(ts(NOW + 86_400));
    let send = template_send("order_update", "en_US", order_params());
    let r = match preflight(&send, &f, &policy) {
        Verdict::Refused(r) => r,
        Verdict::Allowed(c) => panic!("{c:?}"),
    };
    assert_eq!(r.code, code::BUDGET_EXCEEDED);
    assert_eq!(r.retry_at, Some(ts(NOW + 86_400)));
    assert!(r.detail.contains("49.99 of 50.00"), "{}", r.detail);

    f.spend.estimated_cost = Some(10_000);
    let c = allowed_with(&send, &f, &policy);
    assert!(note_codes(&c).contains(&note::BUDGET_NEARLY_SPENT));

    // Service messages have no budget here.
    allowed_with(&text("hi"), &facts(), &policy);
}

// ---- pacing ----------------------------------------------------------------------------------

#[test]
fn the_pair_rate_holds_briefly_or_refuses() {
    let rate = PairRate::META;
    let now = Millis::from_timestamp(ts(NOW));
    let mut f = facts();
    for _ in 0..45 {
        f.pair.reserve(&rate, Millis(now.0 - 200_000));
    }
    // The burst began 200 s ago: its 270 s of debt are paid 70 s from now.
    let c = allowed(&text("hi"), &f);
    assert_eq!(c.not_before, Some(ts(NOW + 70)));
    assert_eq!(note_codes(&c), vec![note::PACED]);

    // 50 more booked behind them: a new burst of 45 at +70 s, the rest at +340 s.
    for _ in 0..50 {
        f.pair.reserve(&rate, now);
    }
    let r = refused(&text("hi"), &f);
    assert_eq!((r.code, r.meta_code), (code::PAIR_RATE, Some(131_056)));
    assert_eq!(r.retry_at, Some(ts(NOW + 340)));
    let retry = ts(NOW + 340);
    let later = SendIntent {
        at: retry,
        ..text("hi")
    };
    assert_eq!(allowed(&later, &f).not_before, None);
}

// ---- free entry point ------------------------------------------------------------------------

#[test]
fn free_entry_points_make_messages_free() {
    let mut f = facts();
    f.free_entry_point = FreeEntryPoint::Entered { at: ts(NOW - HOUR) };
    let c = allowed(&text("Thanks for your interest!"), &f);
    assert_eq!(c.category, Some(Category::ReferralConversion));
    assert_eq!(note_codes(&c), vec![note::OPENS_FREE_ENTRY_POINT]);
    assert!(c.notes[0].detail.contains("3 d"), "{}", c.notes[0].detail);

    f.free_entry_point = FreeEntryPoint::Open {
        opened_at: ts(NOW - 30 * HOUR),
    };
    f.last_inbound_at = Some(ts(NOW - 31 * HOUR));
    // The window lapsed: free-form is refused even though it would be free…
    assert_eq!(refused(&text("hi"), &f).code, code::WINDOW_CLOSED);
    // …and a template is free, though business-initiated.
    let c = allowed(
        &template_send("spring_promo", "en_US", vec![Param::text("Ana")]),
        &f,
    );
    assert_eq!(c.category, Some(Category::ReferralConversion));
    assert!(c.business_initiated);
    assert!(note_codes(&c).contains(&note::FREE_ENTRY_POINT));
}

// ---- precedence ------------------------------------------------------------------------------

#[test]
fn a_permanent_refusal_comes_before_a_wait_and_carries_no_retry_time() {
    let mut f = Facts {
        last_inbound_at: Some(ts(NOW - 30 * HOUR)),
        ..facts()
    };
    for _ in 0..60 {
        f.pair
            .reserve(&PairRate::META, Millis::from_timestamp(ts(NOW)));
    }
    let r = refused(&text("hi"), &f);
    assert_eq!(r.code, code::WINDOW_CLOSED);
    assert_eq!(r.retry_at, None);
    let all: Vec<&str> = check_all(&text("hi"), &f, &Policy::default())
        .iter()
        .map(|r| r.code)
        .collect();
    assert_eq!(all, vec![code::WINDOW_CLOSED, code::PAIR_RATE]);
}

#[test]
fn several_waits_give_the_latest_retry_time() {
    let mut f = facts_outside_window();
    f.marketing_held_at = Some(ts(NOW - 23 * HOUR));
    f.portfolio.limit = MessagingLimit::TIER_250;
    f.portfolio.reached = 250;
    f.portfolio.next_release_at = Some(ts(NOW + 5 * HOUR));
    let r = refused(
        &template_send("spring_promo", "en_US", vec![Param::text("Ana")]),
        &f,
    );
    assert_eq!(r.code, code::MARKETING_CAPPED);
    assert_eq!(r.retry_at, Some(ts(NOW + 5 * HOUR)));
}

#[test]
fn content_problems_come_first() {
    let f = Facts {
        last_inbound_at: None,
        ..facts()
    };
    let r = refused(&text(""), &f);
    assert_eq!(r.code, code::CONTENT_MISSING);
}

#[test]
fn refusals_serialise_for_the_api() {
    let r = refused(&text("hi"), &facts_outside_window());
    let json = serde_json::to_value(Verdict::Refused(r)).unwrap();
    assert_eq!(json["verdict"], "refused");
    assert_eq!(json["code"], "window_closed");
    assert_eq!(json["meta_code"], 131_047);
    assert!(json.get("retry_at").is_none());
    assert_eq!(REFUSAL_HTTP_STATUS, 422);
    let c = allowed(&text("hi"), &facts());
    let json = serde_json::to_value(Verdict::Allowed(c)).unwrap();
    assert_eq!(json["verdict"], "allowed");
    assert_eq!(json["category"], "service");
}

#[test]
fn refusal_codes_are_unique_snake_case() {
    let mut seen = std::collections::BTreeSet::new();
    for c in code::ALL {
        assert!(seen.insert(*c), "{c} twice");
        assert!(
            c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'),
            "{c}"
        );
    }
}

// ---- properties ------------------------------------------------------------------------------

fn arb_param() -> impl Strategy<Value = Param> {
    (
        prop::option::of("[a-z_]{0,6}"),
        prop_oneof![
            any::<String>().prop_map(ParamValue::Text),
            any::<String>().prop_map(|fallback| ParamValue::DateTime { fallback }),
            any::<String>().prop_map(ParamValue::Payload),
            any::<String>().prop_map(ParamValue::CouponCode),
        ],
    )
        .prop_map(|(name, value)| Param { name, value })
}

fn arb_synced() -> impl Strategy<Value = SyncedTemplate> {
    (
        any::<String>(),
        any::<bool>(),
        prop::option::of(any::<String>()),
        prop::collection::vec(
            prop_oneof![
                Just(TemplateButton::QuickReply),
                any::<String>().prop_map(|url| TemplateButton::Url { url }),
                Just(TemplateButton::CopyCode),
                Just(TemplateButton::Otp),
                Just(TemplateButton::PhoneNumber),
            ],
            0..3,
        ),
    )
        .prop_map(|(body, named, header, buttons)| SyncedTemplate {
            parameter_format: if named {
                ParameterFormat::Named
            } else {
                ParameterFormat::Positional
            },
            header: header.map(TemplateHeader::Text),
            buttons,
            ..synced("t", "en_US", Category::Utility, &body)
        })
}

proptest! {
    /// Whatever the parameters and the template texts, preflight answers, and every refusal has
    /// a known code, a detail and a next step.
    #[test]
    fn preflight_never_panics_on_arbitrary_parameters(
        template in arb_synced(),
        header in prop::collection::vec(arb_param(), 0..3),
        body in prop::collection::vec(arb_param(), 0..6),
        buttons in prop::collection::vec(
            (0_u8..4, prop::collection::vec(arb_param(), 0..2)),
            0..3,
        ),
        language in "[a-zA-Z_-]{0,6}",
        now in any::<i64>(),
        last_inbound in prop::option::of(any::<i64>()),
    ) {
        let m = TemplateMessage {
            header,
            buttons: buttons
                .into_iter()
                .map(|(index, params)| ButtonParams {
                    index,
                    sub_type: ButtonSubType::Url,
                    params,
                })
                .collect(),
            ..TemplateMessage::new("t", language, body)
        };
        let send = SendIntent::new("1", phone(), ts(now), Message::Template(m));
        let f = Facts {
            templates: vec![template],
            last_inbound_at: last_inbound.map(ts),
            ..facts()
        };
        for r in check_all(&send, &f, &Policy::default()) {
            prop_assert!(code::ALL.contains(&r.code), "{}", r.code);
            prop_assert!(!r.detail.is_empty() && !r.next_step.is_empty());
        }
        let _ = preflight(&send, &f, &Policy::default());
    }

    /// Any value, once cleaned, is accepted as a parameter (unless it was only whitespace).
    #[test]
    fn cleaned_parameters_are_accepted(first in any::<String>(), second in "\\PC{0,80}") {
        let params = vec![Param::text(clean_parameter_text(&first)), Param::text(clean_parameter_text(&second))];
        let empty = params.iter().any(|p| p.value.shown_text().is_some_and(|t| t.trim().is_empty()));
        let long = params.iter().map(|p| p.value.shown_text().map_or(0, |t| t.chars().count())).sum::<usize>() > 900;
        let verdict = preflight(&template_send("order_update", "en_US", params), &facts(), &Policy::default());
        if empty {
            prop_assert_eq!(verdict.refusal().map(|r| r.code), Some(code::TEMPLATE_PARAMETER_EMPTY));
        } else if !long {
            prop_assert!(verdict.is_allowed(), "{:?}", verdict);
        }
    }

    /// A pair-rate refusal's retry time is when the message may actually leave.
    #[test]
    fn the_pair_rate_retry_time_is_honoured(
        earlier in prop::collection::vec(0_i64..600_000, 0..120),
    ) {
        let now = Millis::from_timestamp(ts(NOW));
        let mut f = facts();
        let mut times: Vec<i64> = earlier.into_iter().map(|back| now.0 - back).collect();
        times.sort_unstable();
        for t in times {
            f.pair.reserve(&PairRate::META, Millis(t));
        }
        let send = text("hi");
        match preflight(&send, &f, &Policy::default()) {
            Verdict::Allowed(c) => {
                if let Some(at) = c.not_before {
                    prop_assert!(at > ts(NOW) && at <= ts(NOW + 120));
                }
            }
            Verdict::Refused(r) => {
                prop_assert_eq!(r.code, code::PAIR_RATE);
                let retry = r.retry_at.unwrap();
                prop_assert!(retry > ts(NOW + 120));
                let later = SendIntent { at: retry, ..send };
                let c = preflight(&later, &f, &Policy::default());
                prop_assert_eq!(c.clearance().map(|c| c.not_before), Some(None));
            }
        }
    }
}
