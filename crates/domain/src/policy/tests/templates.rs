//! Templates: found in the right language, approved, and filled with the right parameters.

use super::*;

#[test]
fn a_template_outside_the_window_is_business_initiated() {
    let send = template_send("order_update", "en_US", order_params());
    let c = allowed(&send, &facts_outside_window());
    assert_eq!(c.category, Some(Category::Utility));
    assert!(c.business_initiated);
    assert_eq!(c.template_language.as_deref(), Some("en_US"));
    assert_eq!(note_codes(&c), vec![note::COUNTS_TOWARD_MESSAGING_LIMIT]);
    assert!(
        c.notes[0].detail.contains("11 of 2000"),
        "{}",
        c.notes[0].detail
    );

    let inside = allowed(&send, &facts());
    assert!(!inside.business_initiated);
    assert!(inside.notes.is_empty());
}

#[test]
fn an_unknown_template_is_not_found() {
    let r = refused(
        &template_send("order_updat", "en_US", order_params()),
        &facts(),
    );
    assert_eq!(r.code, code::TEMPLATE_NOT_FOUND);
    assert_eq!(r.meta_code, Some(132_001));
}

#[test]
fn a_template_in_another_language_names_the_languages_it_has() {
    let mut f = facts();
    f.templates.push(synced(
        "order_update",
        "fr",
        Category::Utility,
        "Bonjour {{1}}, commande {{2}}.",
    ));
    let r = refused(&template_send("order_update", "en", order_params()), &f);
    assert_eq!(r.code, code::TEMPLATE_LANGUAGE_MISSING);
    assert_eq!(r.meta_code, Some(132_001));
    assert!(r.detail.contains("en_US, fr"), "{}", r.detail);

    let c = allowed(&template_send("order_update", "en-us", order_params()), &f);
    assert_eq!(c.template_language.as_deref(), Some("en_US"));
    let c = allowed(&template_send("order_update", "FR", order_params()), &f);
    assert_eq!(c.template_language.as_deref(), Some("fr"));
}

#[test]
fn the_template_of_a_message_is_found_as_preflight_finds_it() {
    let mut f = facts();
    f.templates.push(synced(
        "order_update",
        "fr",
        Category::Marketing,
        "Bonjour {{1}}, commande {{2}}.",
    ));
    let found = |name: &str, language: &str| {
        let send = template_send(name, language, order_params());
        let Message::Template(m) = &send.message else {
            unreachable!()
        };
        template_for(m, &f.templates).map(|t| (t.language.clone(), t.category))
    };
    assert_eq!(
        found("order_update", "en-us"),
        Some(("en_US".into(), Category::Utility))
    );
    assert_eq!(
        found("order_update", "FR"),
        Some(("fr".into(), Category::Marketing))
    );
    assert_eq!(found("order_update", "de"), None);
    assert_eq!(found("order_updat", "en_US"), None);
}

#[test]
fn only_approved_templates_leave() {
    let cases = [
        (TemplateStatus::Paused, code::TEMPLATE_PAUSED, 132_015),
        (TemplateStatus::Disabled, code::TEMPLATE_DISABLED, 132_016),
        (
            TemplateStatus::Pending,
            code::TEMPLATE_NOT_APPROVED,
            132_001,
        ),
        (
            TemplateStatus::Rejected,
            code::TEMPLATE_NOT_APPROVED,
            132_001,
        ),
        (
            TemplateStatus::Archived,
            code::TEMPLATE_NOT_APPROVED,
            132_001,
        ),
        (
            TemplateStatus::Other("SOMETHING_NEW".into()),
            code::TEMPLATE_NOT_APPROVED,
            132_001,
        ),
    ];
    for (status, code, meta) in cases {
        let mut f = facts();
        f.templates[0].status = status.clone();
        let r = refused(&template_send("order_update", "en_US", order_params()), &f);
        assert_eq!((r.code, r.meta_code), (code, Some(meta)), "{status}");
        assert_eq!(r.retry_at, None);
    }
}

#[test]
fn a_flagged_template_still_leaves_with_a_warning() {
    let mut f = facts();
    f.templates[0].status = TemplateStatus::Flagged;
    let c = allowed(&template_send("order_update", "en_US", order_params()), &f);
    assert_eq!(note_codes(&c), vec![note::TEMPLATE_QUALITY]);
}

#[test]
fn positional_parameters_must_match_in_number() {
    let r = refused(
        &template_send("order_update", "en_US", vec![Param::text("Jessica")]),
        &facts(),
    );
    assert_eq!(r.code, code::TEMPLATE_PARAMETER_COUNT);
    assert_eq!(r.meta_code, Some(132_000));
    assert!(
        r.detail
            .contains("has 2 body parameter(s), the message gives 1"),
        "{}",
        r.detail
    );
    assert!(r.next_step.contains("{{1}}, {{2}}"), "{}", r.next_step);

    let mut three = order_params();
    three.push(Param::text("extra"));
    let r = refused(&template_send("order_update", "en_US", three), &facts());
    assert_eq!(r.code, code::TEMPLATE_PARAMETER_COUNT);
}

#[test]
fn named_and_positional_parameters_do_not_mix() {
    let r = refused(
        &template_send(
            "order_update",
            "en_US",
            vec![Param::named("1", "Jessica"), Param::named("2", "SK")],
        ),
        &facts(),
    );
    assert_eq!(r.code, code::TEMPLATE_PARAMETER_FORMAT);
    assert_eq!(r.meta_code, Some(132_012));

    let mut f = facts();
    f.templates.push(SyncedTemplate {
        parameter_format: ParameterFormat::Named,
        ..synced(
            "welcome",
            "en_US",
            Category::Utility,
            "Hi {{first_name}}, your code is {{code}}. Bye {{first_name}}!",
        )
    });
    let r = refused(&template_send("welcome", "en_US", order_params()), &f);
    assert_eq!(r.code, code::TEMPLATE_PARAMETER_FORMAT);
    assert!(
        r.next_step.contains("{{first_name}}, {{code}}"),
        "{}",
        r.next_step
    );

    // Any order, each name once.
    let ok = vec![
        Param::named("code", "X1"),
        Param::named("first_name", "Ana"),
    ];
    allowed(&template_send("welcome", "en_US", ok), &f);

    let wrong = vec![Param::named("name", "Ana"), Param::named("code", "X1")];
    let r = refused(&template_send("welcome", "en_US", wrong), &f);
    assert_eq!(r.code, code::TEMPLATE_PARAMETER_NAME);
    assert!(r.detail.contains("`name` is not in"), "{}", r.detail);

    let twice = vec![Param::named("code", "X1"), Param::named("code", "X2")];
    let r = refused(&template_send("welcome", "en_US", twice), &f);
    assert_eq!(r.code, code::TEMPLATE_PARAMETER_NAME);
    assert!(r.detail.contains("given twice"), "{}", r.detail);
}

#[test]
fn parameter_text_follows_meta_s_whitespace_rules() {
    let send = |second: &str| {
        template_send(
            "order_update",
            "en_US",
            vec![Param::text("Jessica"), Param::text(second)],
        )
    };
    allowed(&send("SK    42"), &facts());
    for bad in ["line\nbreak", "tab\there", "five     spaces", "cr\r"] {
        let r = refused(&send(bad), &facts());
        assert_eq!(r.code, code::TEMPLATE_PARAMETER_TEXT, "{bad:?}");
        assert_eq!(r.meta_code, Some(132_018));
        assert!(
            r.detail.starts_with("body parameter 2 ({{2}})"),
            "{}",
            r.detail
        );
    }
    for empty in ["", "   "] {
        let r = refused(&send(empty), &facts());
        assert_eq!(r.code, code::TEMPLATE_PARAMETER_EMPTY, "{empty:?}");
        assert_eq!(r.meta_code, Some(131_008));
    }
    allowed(
        &send(&clean_parameter_text("line\nbreak      here")),
        &facts(),
    );
}

#[test]
fn a_body_parameter_must_be_text_like() {
    let mut params = order_params();
    params[1].value = ParamValue::Currency {
        fallback: "$10.00".into(),
        code: "USD".into(),
        amount_1000: 10_000,
    };
    allowed(
        &template_send("order_update", "en_US", params.clone()),
        &facts(),
    );
    params[1].value = ParamValue::Media(MediaKind::Image, MediaSource::Id("1".into()));
    let r = refused(&template_send("order_update", "en_US", params), &facts());
    assert_eq!(r.code, code::TEMPLATE_PARAMETER_FORMAT);
}

#[test]
fn the_filled_in_body_must_fit_1024_characters() {
    let long = "x".repeat(1_024);
    let r = refused(
        &template_send(
            "order_update",
            "en_US",
            vec![Param::text("Jessica"), Param::text(long)],
        ),
        &facts(),
    );
    assert_eq!(r.code, code::TEMPLATE_TEXT_TOO_LONG);
    assert_eq!(r.meta_code, Some(132_005));
}

fn rich_template() -> SyncedTemplate {
    SyncedTemplate {
        header: Some(TemplateHeader::Image),
        buttons: vec![
            TemplateButton::QuickReply,
            TemplateButton::Url {
                url: "https://example.com/order/{{1}}".into(),
            },
        ],
        ..synced("promo", "es", Category::Marketing, "Hola {{1}}")
    }
}

fn rich_send() -> TemplateMessage {
    TemplateMessage {
        header: vec![Param {
            name: None,
            value: ParamValue::Media(
                MediaKind::Image,
                MediaSource::Link("https://example.com/h.jpg".into()),
            ),
        }],
        buttons: vec![ButtonParams {
            index: 1,
            sub_type: ButtonSubType::Url,
            params: vec![Param::text("order/42")],
        }],
        ..TemplateMessage::new("promo", "es", vec![Param::text("Ana")])
    }
}

#[test]
fn headers_and_buttons_take_their_parameters() {
    let f = Facts {
        templates: vec![rich_template()],
        ..facts()
    };
    let c = allowed(&intent(Message::Template(rich_send())), &f);
    assert_eq!(c.category, Some(Category::Marketing));

    let mut no_header = rich_send();
    no_header.header.clear();
    let r = refused(&intent(Message::Template(no_header)), &f);
    assert_eq!(
        (r.code, r.meta_code),
        (code::TEMPLATE_PARAMETER_FORMAT, Some(132_012))
    );

    let mut video = rich_send();
    video.header[0].value = ParamValue::Media(MediaKind::Video, MediaSource::Id("9".into()));
    assert_eq!(
        refused(&intent(Message::Template(video)), &f).code,
        code::TEMPLATE_PARAMETER_FORMAT
    );

    let mut no_url = rich_send();
    no_url.buttons.clear();
    let r = refused(&intent(Message::Template(no_url)), &f);
    assert_eq!(r.code, code::TEMPLATE_PARAMETER_COUNT);
    assert!(r.detail.contains("button 1"), "{}", r.detail);

    let mut with_payload = rich_send();
    with_payload.buttons.push(ButtonParams {
        index: 0,
        sub_type: ButtonSubType::QuickReply,
        params: vec![Param {
            name: None,
            value: ParamValue::Payload("accept_42".into()),
        }],
    });
    allowed(&intent(Message::Template(with_payload)), &f);

    let mut wrong_kind = rich_send();
    wrong_kind.buttons[0].sub_type = ButtonSubType::QuickReply;
    let r = refused(&intent(Message::Template(wrong_kind)), &f);
    assert_eq!(r.code, code::TEMPLATE_PARAMETER_FORMAT);

    let mut out_of_range = rich_send();
    out_of_range.buttons[0].index = 5;
    assert_eq!(
        refused(&intent(Message::Template(out_of_range)), &f).code,
        code::TEMPLATE_PARAMETER_FORMAT
    );
}

#[test]
fn a_text_header_counts_its_placeholder_and_its_length() {
    let mut t = order_update();
    t.header = Some(TemplateHeader::Text("Order {{1}}".into()));
    let f = Facts {
        templates: vec![t],
        ..facts()
    };
    let mut m = TemplateMessage::new("order_update", "en_US", order_params());
    let r = refused(&intent(Message::Template(m.clone())), &f);
    assert_eq!(r.code, code::TEMPLATE_PARAMETER_COUNT);
    assert!(r.detail.contains("header"), "{}", r.detail);
    m.header = vec![Param::text("SK-1")];
    allowed(&intent(Message::Template(m.clone())), &f);
    m.header = vec![Param::text("x".repeat(60))];
    assert_eq!(
        refused(&intent(Message::Template(m)), &f).code,
        code::TEMPLATE_TEXT_TOO_LONG
    );
}

#[test]
fn an_authentication_template_needs_a_phone_number() {
    let mut f = facts_outside_window();
    f.templates.push(SyncedTemplate {
        buttons: vec![TemplateButton::Otp],
        ..synced(
            "login_code",
            "en_US",
            Category::Authentication,
            "{{1}} is your verification code.",
        )
    });
    let mut m = TemplateMessage::new("login_code", "en_US", vec![Param::text("123456")]);
    m.buttons.push(ButtonParams {
        index: 0,
        sub_type: ButtonSubType::Url,
        params: vec![Param::text("123456")],
    });
    let mut send = intent(Message::Template(m));
    let c = allowed(&send, &f);
    assert_eq!(c.category, Some(Category::Authentication));
    send.recipient = bsuid();
    let r = refused(&send, &f);
    assert_eq!(
        (r.code, r.meta_code),
        (code::RECIPIENT_NEEDS_PHONE, Some(131_062))
    );

    let mut utility = template_send("order_update", "en_US", order_params());
    utility.recipient = bsuid();
    allowed(&utility, &f);
}

#[test]
fn a_recategorised_template_is_not_sent_at_the_new_price_unawares() {
    let mut f = facts();
    f.templates[0].category = Category::Marketing;
    let mut send = template_send("order_update", "en_US", order_params());
    send.expected_category = Some(Category::Utility);
    let r = refused(&send, &f);
    assert_eq!(r.code, code::TEMPLATE_CATEGORY_CHANGED);
    assert!(
        r.detail.contains("as marketing, not utility"),
        "{}",
        r.detail
    );
    send.expected_category = Some(Category::Marketing);
    allowed(&send, &f);
}
