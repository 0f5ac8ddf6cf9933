use proptest::prelude::*;

use super::*;

fn envelope(value: &str) -> String {
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","changes":[{{"value":{value},"field":"messages"}}]}}]}}"#
    )
}

const META: &str = r#""messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"}"#;

fn messages(n: &Notification) -> &MessagesValue {
    match &n.entry[0].changes[0].value {
        ChangeValue::Messages(v) => v,
        other => panic!("not messages: {other:?}"),
    }
}

#[test]
fn meta_reference_text_message() {
    // cloud-api.md §1.4, "Inbound text", verbatim.
    let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{
 "messaging_product":"whatsapp",
 "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
 "contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],
 "messages":[{"from":"16505551234","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
   "timestamp":"1749416383","type":"text","text":{"body":"Does it come in another color?"}}]},
 "field":"messages"}]}]}"#;
    let (n, report) = parse(body.as_bytes()).expect("parses");
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(n.entry[0].id, "102290129340398");
    let v = messages(&n);
    assert_eq!(v.metadata.phone_number_id, "106540352242922");
    assert_eq!(v.messages[0].timestamp, 1_749_416_383);
    assert_eq!(
        v.messages[0].content.preview(),
        Some("Does it come in another color?")
    );
    assert_eq!(v.contacts[0].name(), Some("Sheena Nelson"));
}

#[test]
fn meta_reference_statuses() {
    let body = envelope(&format!(
        r#"{{{META},"statuses":[
        {{"id":"wamid.A","status":"sent","timestamp":"1750030073","recipient_id":"16505551234",
          "conversation":{{"id":"72b14d6bd5407799e66f64d1b338e567","expiration_timestamp":"1750116480","origin":{{"type":"marketing"}}}},
          "pricing":{{"billable":true,"pricing_model":"PMP","type":"regular","category":"marketing"}}}},
        {{"id":"wamid.B","status":"failed","timestamp":"1751142888","recipient_id":"16505551234",
          "errors":[{{"code":131049,"title":"This message was not delivered to maintain healthy ecosystem engagement.",
          "message":"This message was not delivered to maintain healthy ecosystem engagement.",
          "error_data":{{"details":"In order to maintain a healthy ecosystem engagement, the message failed to be delivered."}},
          "href":"/documentation/business-messaging/whatsapp/support/error-codes"}}]}}]}}"#
    ));
    let (n, report) = parse(body.as_bytes()).expect("parses");
    assert!(report.is_clean(), "{report:?}");
    let v = messages(&n);
    assert_eq!(
        v.statuses[0]
            .pricing
            .as_ref()
            .and_then(|p| p.kind.as_deref()),
        Some("regular")
    );
    assert_eq!(v.statuses[1].status, StatusKind::Failed);
    assert_eq!(v.statuses[1].errors[0].code, 131_049);
    assert!(
        v.statuses[1].errors[0]
            .details()
            .is_some_and(|d| d.starts_with("In order"))
    );
}

#[test]
fn unknown_kinds_are_kept_raw_and_reported() {
    let body = envelope(&format!(
        r#"{{{META},"messages":[{{"from":"16505551234","id":"wamid.P","timestamp":"1750000000","type":"poll","poll":{{"question":"Lunch?"}}}}]}}"#
    ));
    let (n, report) = parse(body.as_bytes()).expect("parses");
    let m = &messages(&n).messages[0];
    assert_eq!(
        m.content,
        Content::Unknown {
            type_name: "poll".into()
        }
    );
    assert!(
        m.raw.get().contains("Lunch?"),
        "the raw message keeps what guichet does not model"
    );
    assert_eq!(report.unknown_kinds, vec!["poll"]);
    assert_eq!(
        report.unknown_fields,
        vec!["entry[0].changes[0].value.messages[0].poll"]
    );
}

#[test]
fn unknown_fields_are_reported_with_their_path() {
    let body = envelope(&format!(
        r#"{{{META},"brand_new":1,"messages":[{{"from":"1","id":"wamid.X","timestamp":"1","type":"text","text":{{"body":"hi","lang":"fr"}}}}]}}"#
    ));
    let (_, report) = parse(body.as_bytes()).expect("parses");
    assert_eq!(
        report.unknown_fields,
        vec![
            "entry[0].changes[0].value.brand_new",
            "entry[0].changes[0].value.messages[0].text.lang"
        ]
    );
}

#[test]
fn an_unreadable_item_does_not_lose_the_rest_of_the_batch() {
    let body = envelope(&format!(
        r#"{{{META},"messages":[{{"from":"1","timestamp":"1","type":"text","text":{{"body":"no id"}}}},
        {{"from":"1","id":"wamid.OK","timestamp":"1","type":"text","text":{{"body":"fine"}}}}],
        "statuses":[{{"id":"wamid.S","status":"read","timestamp":"soon"}},{{"id":"wamid.T","status":"read","timestamp":"2"}}]}}"#
    ));
    let (n, report) = parse(body.as_bytes()).expect("parses");
    let v = messages(&n);
    assert_eq!(v.messages.len(), 1);
    assert_eq!(v.messages[0].id, "wamid.OK");
    assert_eq!(v.statuses.len(), 1);
    assert_eq!(report.invalid_items.len(), 2, "{:?}", report.invalid_items);
    assert!(report.invalid_items[0].contains("without an `id`"));
    assert!(report.invalid_items[1].contains("`soon` is not a number"));
}

#[test]
fn timestamps_and_ids_accept_strings_and_numbers() {
    let body = envelope(&format!(
        r#"{{{META},"statuses":[{{"id":"wamid.N","status":"delivered","timestamp":1750000000}}]}}"#
    ));
    let (n, _) = parse(body.as_bytes()).expect("parses");
    assert_eq!(messages(&n).statuses[0].timestamp, 1_750_000_000);
    let template = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","time":1751247548,"changes":[{"value":{"event":"APPROVED","message_template_id":"1689556908129832","message_template_name":"order_confirmation","message_template_language":"en-US","reason":"NONE","message_template_category":"UTILITY"},"field":"message_template_status_update"}]}]}"#;
    let (n, _) = parse(template.as_bytes()).expect("parses");
    assert_eq!(n.entry[0].time, Some(1_751_247_548));
    assert!(
        matches!(&n.entry[0].changes[0].value, ChangeValue::TemplateStatus(t) if t.message_template_id == "1689556908129832")
    );
}

#[test]
fn unknown_statuses_and_change_fields_are_kept() {
    let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
        {"field":"messages","value":{"statuses":[{"id":"w","status":"deleted","timestamp":"1"}]}},
        {"field":"phone_number_quality_update","value":{"event":"FLAGGED"}}]}]}"#;
    let (n, report) = parse(body.as_bytes()).expect("parses");
    assert_eq!(
        messages(&n).statuses[0].status,
        StatusKind::Other("deleted".into())
    );
    assert!(
        matches!(&n.entry[0].changes[1].value, ChangeValue::Other(raw) if raw.get().contains("FLAGGED"))
    );
    assert_eq!(report.other_changes, vec!["phone_number_quality_update"]);
}

#[test]
fn what_is_not_a_notification_is_an_error_that_says_what_was_expected() {
    for body in [
        "",
        "not json",
        "[]",
        "{}",
        r#"{"entry":{}}"#,
        r#"{"entry":[]} trailing"#,
    ] {
        let err = parse(body.as_bytes()).expect_err(body);
        assert!(
            err.to_string()
                .contains("expected a JSON object with an `entry` array"),
            "{err}"
        );
        assert!(check_envelope(body.as_bytes()).is_err(), "{body}");
    }
    assert!(check_envelope(br#"{"object":"x","entry":[{"any":"thing"}],"new":1}"#).is_ok());
}

proptest! {
    /// The cheap envelope check accepts exactly what the full parse accepts.
    #[test]
    fn check_envelope_agrees_with_parse(value in arb_json(3)) {
        for body in [
            value.to_string(),
            format!(r#"{{"entry":[{value}]}}"#),
            format!(r#"{{"entry":{value}}}"#),
            format!(r#"{{"object":{value},"entry":[]}}"#),
        ] {
            prop_assert_eq!(check_envelope(body.as_bytes()).is_ok(), parse(body.as_bytes()).is_ok(), "{}", body);
        }
    }
}

#[test]
fn content_serializes_with_its_kind() {
    let c = Content::Interactive(Interactive::ButtonReply {
        id: "a".into(),
        title: "Yes".into(),
    });
    let json = serde_json::to_value(&c).expect("serializes");
    assert_eq!(
        json,
        serde_json::json!({"kind":"interactive","reply":"button_reply","id":"a","title":"Yes"})
    );
}

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn parse_never_panics_on_arbitrary_json_in_the_envelope(value in arb_json(3)) {
        let body = envelope(&value.to_string());
        let _ = parse(body.as_bytes());
        let msg = format!(r#"{{"messages":[{value}],"statuses":[{value}]}}"#);
        let _ = parse(envelope(&msg).as_bytes());
    }
}

fn arb_json(depth: u32) -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[a-z_]{0,8}".prop_map(Value::String),
        prop_oneof![
            Just("text"),
            Just("image"),
            Just("interactive"),
            Just("1750000000")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(depth, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("id".to_string()),
                    Just("type".to_string()),
                    Just("timestamp".to_string()),
                    Just("text".to_string()),
                    Just("interactive".to_string()),
                    Just("status".to_string()),
                    "[a-z]{1,6}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
