//! Every webhook case of pywa's test suite parses, and the parts guichet relies on read right.

use std::collections::BTreeMap;

use wa::webhook::{self, ChangeValue, Content, Interactive, Notification, ParseReport, StatusKind};

const UPDATES: &[(&str, &str)] = &[
    (
        "account_update",
        include_str!("fixtures/pywa/updates/account_update.json"),
    ),
    (
        "call_connect",
        include_str!("fixtures/pywa/updates/call_connect.json"),
    ),
    (
        "call_permission_update",
        include_str!("fixtures/pywa/updates/call_permission_update.json"),
    ),
    (
        "call_status",
        include_str!("fixtures/pywa/updates/call_status.json"),
    ),
    (
        "call_terminate",
        include_str!("fixtures/pywa/updates/call_terminate.json"),
    ),
    (
        "callback_button",
        include_str!("fixtures/pywa/updates/callback_button.json"),
    ),
    (
        "callback_selection",
        include_str!("fixtures/pywa/updates/callback_selection.json"),
    ),
    (
        "deleted_message",
        include_str!("fixtures/pywa/updates/deleted_message.json"),
    ),
    (
        "edited_message",
        include_str!("fixtures/pywa/updates/edited_message.json"),
    ),
    (
        "flow_completion",
        include_str!("fixtures/pywa/updates/flow_completion.json"),
    ),
    (
        "message",
        include_str!("fixtures/pywa/updates/message.json"),
    ),
    (
        "message_status",
        include_str!("fixtures/pywa/updates/message_status.json"),
    ),
    (
        "outgoing_message",
        include_str!("fixtures/pywa/updates/outgoing_message.json"),
    ),
    ("system", include_str!("fixtures/pywa/updates/system.json")),
    (
        "template_category_update",
        include_str!("fixtures/pywa/updates/template_category_update.json"),
    ),
    (
        "template_components_update",
        include_str!("fixtures/pywa/updates/template_components_update.json"),
    ),
    (
        "template_quality_update",
        include_str!("fixtures/pywa/updates/template_quality_update.json"),
    ),
    (
        "template_status_update",
        include_str!("fixtures/pywa/updates/template_status_update.json"),
    ),
    (
        "user_marketing_preferences",
        include_str!("fixtures/pywa/updates/user_marketing_preferences.json"),
    ),
];

/// Every (file, case) with its parse.
fn all_cases() -> Vec<(String, Notification, ParseReport)> {
    let mut out = Vec::new();
    for (file, text) in UPDATES {
        let cases: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(text).expect("fixture files are JSON objects of cases");
        for (case, mut envelope) in cases {
            // One case of the corpus nests a second full envelope under "all" beside its own.
            let nested = envelope.as_object_mut().and_then(|o| o.remove("all"));
            let named = [
                (format!("{file}/{case}"), Some(envelope)),
                (format!("{file}/{case}/all"), nested),
            ];
            for (name, envelope) in named {
                let Some(envelope) = envelope else { continue };
                let body = serde_json::to_vec(&envelope).expect("re-encode");
                let (n, report) =
                    webhook::parse(&body).unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
                out.push((name, n, report));
            }
        }
    }
    out
}

fn case(name: &str) -> (Notification, ParseReport) {
    let (_, n, r) = all_cases()
        .into_iter()
        .find(|(c, ..)| c == name)
        .expect("case exists");
    (n, r)
}

fn only_value(n: &Notification) -> &ChangeValue {
    assert_eq!(n.entry.len(), 1);
    assert_eq!(n.entry[0].changes.len(), 1);
    &n.entry[0].changes[0].value
}

fn first_message(name: &str) -> webhook::InboundMessage {
    let (n, _) = case(name);
    match only_value(&n) {
        ChangeValue::Messages(v) => v.messages[0].clone(),
        other => panic!("{name}: expected messages, got {other:?}"),
    }
}

#[test]
fn every_case_parses_without_invalid_items() {
    let cases = all_cases();
    assert!(
        cases.len() >= 60,
        "expected the whole corpus, got {}",
        cases.len()
    );
    for (name, n, report) in &cases {
        assert!(
            report.invalid_items.is_empty(),
            "{name}: {:?}",
            report.invalid_items
        );
        assert_eq!(n.object, "whatsapp_business_account", "{name}");
        assert!(!n.entry.is_empty(), "{name}");
    }
}

#[test]
fn the_fields_guichet_models_have_no_unknown_fields() {
    // Only the cases of change fields guichet deliberately keeps raw may report anything; in the
    // messages, statuses, echoes, templates and preferences every field is known.
    for (name, _, report) in all_cases() {
        assert!(
            report.unknown_fields.is_empty(),
            "{name}: unknown fields {:?}",
            report.unknown_fields
        );
        let raw_only = ["account_update/", "call_", "template_components_update/"];
        if report.other_changes.is_empty() {
            continue;
        }
        assert!(
            raw_only.iter().any(|p| name.starts_with(p)),
            "{name}: {:?}",
            report.other_changes
        );
    }
}

#[test]
fn message_kinds_read_right() {
    assert_eq!(
        first_message("message/text").content,
        Content::Text(webhook::Text {
            body: "Body Text".into()
        })
    );
    let image = first_message("message/media_with_url");
    let media = image.content.media().expect("image has media");
    assert_eq!(media.id.as_deref(), Some("65463453"));
    assert!(
        media
            .url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://lookaside.fbsbx.com/"))
    );
    assert!(
        matches!(first_message("message/voice").content, Content::Audio(ref m) if m.voice == Some(true))
    );
    assert!(
        matches!(first_message("message/animated_sticker").content, Content::Sticker(ref m) if m.animated == Some(true))
    );
    let doc = first_message("message/document");
    assert!(
        matches!(doc.content, Content::Document(ref m) if m.filename.as_deref() == Some("filename.pdf"))
    );
    assert!(doc.context.as_ref().is_some_and(|c| c.forwarded));
    assert!(
        first_message("message/forwarded_many_times")
            .context
            .is_some_and(|c| c.frequently_forwarded)
    );
    let Content::Location(loc) = first_message("message/chosen_location").content else {
        panic!()
    };
    assert_eq!(loc.name.as_deref(), Some("Facebook HQ"));
    assert!((loc.latitude - 37.461_197_8).abs() < 1e-9);
    let Content::Contacts { contacts } = first_message("message/contacts").content else {
        panic!()
    };
    assert_eq!(
        contacts[0]
            .name
            .as_ref()
            .and_then(|n| n.formatted_name.as_deref()),
        Some("Chandler Bing")
    );
    let Content::Order(order) = first_message("message/order").content else {
        panic!()
    };
    assert_eq!(order.product_items.len(), 3);
    let unsupported = first_message("message/unsupported_with_type");
    assert_eq!(
        unsupported.content,
        Content::Unsupported {
            unsupported_kind: Some("pool".into())
        }
    );
    assert_eq!(unsupported.errors[0].code, 131_051);
}

#[test]
fn reactions_and_their_removal() {
    let Content::Reaction(r) = first_message("message/reaction").content else {
        panic!()
    };
    assert_eq!(r.emoji.as_deref(), Some("😮"));
    assert!(!r.is_removal());
    for name in ["message/unreaction_empty", "message/unreaction_no_emoji"] {
        let Content::Reaction(r) = first_message(name).content else {
            panic!("{name}")
        };
        assert!(r.is_removal(), "{name}");
        assert_eq!(r.message_id, "wamid.yzxyzx=");
    }
}

#[test]
fn replies_buttons_lists_and_flows() {
    let reply = first_message("message/reply");
    assert_eq!(
        reply.context.and_then(|c| c.id).as_deref(),
        Some("wamid.xyzxyz==")
    );
    let Content::Interactive(Interactive::ButtonReply { id, title }) =
        first_message("callback_button/button").content
    else {
        panic!()
    };
    assert_eq!((id.as_str(), title.as_str()), ("callback_data", "title"));
    let quick = first_message("callback_button/quick_reply_without_context");
    assert_eq!(
        quick.from_user_id.as_deref(),
        Some("US.13491208655302741918")
    );
    assert!(
        matches!(quick.content, Content::Button(ref b) if b.payload.as_deref() == Some("callback_data"))
    );
    let Content::Interactive(Interactive::ListReply { description, .. }) =
        first_message("callback_selection/description").content
    else {
        panic!()
    };
    assert_eq!(description.as_deref(), Some("description"));
    let Content::Interactive(Interactive::NfmReply { response_json, .. }) =
        first_message("flow_completion/completion").content
    else {
        panic!()
    };
    assert!(response_json.is_some_and(|j| j.contains("flow_token")));
}

#[test]
fn referral_system_and_edits() {
    let r = first_message("message/referral")
        .referral
        .expect("referral");
    assert_eq!(r.ctwa_clid.as_deref(), Some("CTWA_CLID"));
    assert_eq!(r.source_id.as_deref(), Some("ADID"));
    let Content::System(s) = first_message("system/phone_number_change").content else {
        panic!()
    };
    assert_eq!(s.wa_id.as_deref(), Some("972912345678"));
    assert_eq!(s.kind.as_deref(), Some("user_changed_number"));
    assert!(matches!(
        first_message("deleted_message/revoke").content,
        Content::Revoke { .. }
    ));
    assert!(matches!(
        first_message("edited_message/image").content,
        Content::Edit { .. }
    ));
}

#[test]
fn a_message_without_its_content_object_is_an_unknown_kind_not_an_error() {
    let (n, report) = case("message/interactive_message_with_err");
    let ChangeValue::Messages(v) = only_value(&n) else {
        panic!()
    };
    assert_eq!(
        v.messages[0].content,
        Content::Unknown {
            type_name: "interactive".into()
        }
    );
    assert_eq!(v.errors[0].code, 131_000);
    assert_eq!(report.unknown_kinds, vec!["interactive".to_string()]);
}

#[test]
fn statuses_read_right() {
    for (kind, want) in [
        ("sent", StatusKind::Sent),
        ("delivered", StatusKind::Delivered),
        ("read", StatusKind::Read),
        ("played", StatusKind::Played),
        ("failed", StatusKind::Failed),
    ] {
        let (n, _) = case(&format!("message_status/{kind}"));
        let ChangeValue::Messages(v) = only_value(&n) else {
            panic!()
        };
        assert_eq!(v.statuses[0].status, want);
    }
    let (n, _) = case("message_status/sent");
    let ChangeValue::Messages(v) = only_value(&n) else {
        panic!()
    };
    let s = &v.statuses[0];
    assert_eq!(
        s.pricing.as_ref().and_then(|p| p.category.as_deref()),
        Some("service")
    );
    assert_eq!(
        s.conversation.as_ref().and_then(|c| c.expiration_timestamp),
        Some(1_698_339_900)
    );
    let (n, _) = case("message_status/failed");
    let ChangeValue::Messages(v) = only_value(&n) else {
        panic!()
    };
    assert_eq!(v.statuses[0].errors[0].code, 130_472);
    let (n, _) = case("message_status/with_tracker");
    let ChangeValue::Messages(v) = only_value(&n) else {
        panic!()
    };
    assert_eq!(
        v.statuses[0].biz_opaque_callback_data.as_deref(),
        Some("some data")
    );
    let (n, _) = case("message_status/group");
    let ChangeValue::Messages(v) = only_value(&n) else {
        panic!()
    };
    assert_eq!(v.statuses[0].recipient_type.as_deref(), Some("group"));
}

#[test]
fn templates_preferences_and_echoes() {
    let (n, _) = case("template_status_update/rejected");
    let ChangeValue::TemplateStatus(t) = only_value(&n) else {
        panic!()
    };
    assert_eq!(
        (t.event.as_str(), t.message_template_id.as_str()),
        ("REJECTED", "1689556908129835")
    );
    assert!(t.rejection_info.is_some());
    let (n, _) = case("template_quality_update/yellow");
    let ChangeValue::TemplateQuality(q) = only_value(&n) else {
        panic!()
    };
    assert_eq!(q.new_quality_score, "YELLOW");
    let (n, _) = case("template_category_update/marketing");
    let ChangeValue::TemplateCategory(c) = only_value(&n) else {
        panic!()
    };
    assert_eq!(c.new_category, "MARKETING");
    let (n, _) = case("user_marketing_preferences/resume");
    let ChangeValue::UserPreferences(p) = only_value(&n) else {
        panic!()
    };
    assert_eq!(p.user_preferences[0].value, "resume");
    assert_eq!(p.user_preferences[0].timestamp, 1_731_705_721);
    let (n, _) = case("outgoing_message/text");
    let ChangeValue::MessageEchoes(e) = only_value(&n) else {
        panic!()
    };
    assert_eq!(e.message_echoes[0].to_user_id.as_deref(), Some("<BSUID>"));
    assert!(matches!(e.message_echoes[0].content, Content::Text(_)));
}

#[test]
fn business_scoped_ids_are_read_from_profiles() {
    let (n, _) = case("message/text");
    let ChangeValue::Messages(v) = only_value(&n) else {
        panic!()
    };
    let p = &v.contacts[0];
    assert_eq!(p.user_id.as_deref(), Some("US.13491208655302741918"));
    assert_eq!(
        p.parent_user_id.as_deref(),
        Some("US.ENT.11815799212886844830")
    );
    assert_eq!(p.name(), Some("Test Name"));
    assert!(p.is_for(Some("972987654321"), None));
}
