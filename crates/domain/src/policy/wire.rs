//! From Meta's wire shapes (`wa::send`) to guichet's own: the parts of a [`SendIntent`] from a
//! `/messages` body (cloud-api.md §3.1–§3.2, §9.4), and a [`SyncedTemplate`] from a template as
//! the Graph API lists it (§3.2, §6.4, §6.5).
//!
//! `wa::send` has already checked the body's shape; what can still be refused here is what the
//! domain cannot represent: a recipient that is neither a phone number nor a business-scoped user
//! id, a group send, a component given twice. Every refusal names the field, as a path into the
//! body, and says what to do.
//!
//! The domain [`Message`] keeps what the preflight rules look at, not everything Meta carries: a
//! document header's file name, the extra fields of contact cards and the `action` parameters of
//! flow and catalog buttons are left out (the body forwarded to Meta is the client's, untouched).
//!
//! [`SendIntent`]: super::SendIntent

use wa::send::{
    ButtonSubType as WireSubType, GraphTemplate, InteractiveAction, InteractiveBody,
    InteractiveHeader as WireHeader, MediaObject, MediaRef, Parameter, ParameterValue, ReadRequest,
    SendBody, SendComponent, SendRequest, TemplateBody,
};

use super::intent::{
    ButtonParams, ButtonSubType, ContactCard, Interactive, InteractiveHeader, ListRow, ListSection,
    Location, MediaKind, MediaMessage, MediaSource, Message, Param, ParamValue, ReplyButton,
    TemplateMessage,
};
use super::templates::{
    ParameterFormat, SyncedTemplate, TemplateButton, TemplateHeader, TemplateQuality,
    TemplateStatus,
};
use crate::category::Category;
use crate::identity::{Bsuid, ContactKey, WaId};

/// A send body the domain cannot take: `field` is the path of the offending field in the body
/// (`to`, `template.components[2].type`), stable enough to match on; `message` says what is wrong
/// and what to do, for a developer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {message}")]
pub struct WireError {
    pub field: String,
    pub message: String,
}

impl WireError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The recipient, the message and the quoted wamid of a send body: what a [`SendIntent`] needs
/// besides the business number and the instant. `to` is read as an international number (a
/// `wa_id`, or a number with `+`); see [`recipient_key`] for Meta's rule on a number without `+`.
///
/// [`SendIntent`]: super::SendIntent
pub fn intent_parts(req: &SendRequest) -> Result<(ContactKey, Message, Option<String>), WireError> {
    let key = recipient_key(req, None)?;
    let message = message_of(&req.body)?;
    let reply_to = req
        .context
        .as_ref()
        .map(|c| c.message_id.clone())
        .filter(|id| !id.trim().is_empty());
    Ok((key, message, reply_to))
}

/// The customer a send body names: `recipient` (a business-scoped user id) when given, else `to`
/// as the `wa_id` of the number it spells.
///
/// Meta prepends the business number's own calling code to a `to` without `+` or `00`
/// (cloud-api.md §3.1); pass that code as `business_calling_code` to reach the number Meta would
/// reach. Without it, such a `to` is read as already international, which is right for the
/// digits-only `wa_id`s of webhooks.
pub fn recipient_key(
    req: &SendRequest,
    business_calling_code: Option<&str>,
) -> Result<ContactKey, WireError> {
    if req.recipient_type.as_deref() == Some("group") {
        return Err(WireError::new(
            "recipient_type",
            "group sends are not supported: guichet sends to one customer at a time; remove \
             `recipient_type` or set it to \"individual\"",
        ));
    }
    if let Some(raw) = req.recipient.as_deref() {
        return Bsuid::parse(raw.trim())
            .map(ContactKey::Bsuid)
            .ok_or_else(|| {
                WireError::new(
                    "recipient",
                    "not a business-scoped user id: expected the `user_id` of the customer as Meta \
                 sends it in webhooks, such as `US.13491208655302741918`",
                )
            });
    }
    let Some(to) = req.to.as_deref() else {
        return Err(WireError::new(
            "to",
            "missing: give `to` (the customer's phone number or WhatsApp id) or `recipient` \
             (their business-scoped user id)",
        ));
    };
    let number = wa::phone::parse_dialled(to, business_calling_code).map_err(|e| {
        let looks_like_bsuid = to.contains('.') && to.bytes().any(|b| b.is_ascii_alphabetic());
        if looks_like_bsuid && Bsuid::parse(to.trim()).is_some() {
            WireError::new(
                "to",
                "this looks like a business-scoped user id, not a phone number: send it in \
                 `recipient` instead of `to`",
            )
        } else {
            WireError::new("to", e.to_string())
        }
    })?;
    WaId::parse(number.digits())
        .map(ContactKey::WaId)
        .ok_or_else(|| WireError::new("to", "not a usable WhatsApp id"))
}

/// The domain message of a send body, kind for kind.
pub fn message_of(body: &SendBody) -> Result<Message, WireError> {
    Ok(match body {
        SendBody::Text(t) => Message::Text {
            body: t.body.clone(),
            preview_url: t.preview_url.unwrap_or(false),
        },
        SendBody::Image(m) => media(MediaKind::Image, m),
        SendBody::Video(m) => media(MediaKind::Video, m),
        SendBody::Audio(m) => media(MediaKind::Audio, m),
        SendBody::Document(m) => media(MediaKind::Document, m),
        SendBody::Sticker(m) => media(MediaKind::Sticker, m),
        SendBody::Interactive(i) => Message::Interactive(interactive(i)?),
        SendBody::Template(t) => Message::Template(template(t)?),
        SendBody::Reaction(r) => Message::Reaction {
            message_id: r.message_id.clone(),
            emoji: r.emoji.clone(),
        },
        SendBody::Location(l) => Message::Location(Location {
            latitude: l.latitude,
            longitude: l.longitude,
            name: l.name.clone(),
            address: l.address.clone(),
        }),
        SendBody::Contacts(cards) => Message::Contacts(
            cards
                .iter()
                .map(|c| ContactCard {
                    formatted_name: c.name.formatted_name.clone(),
                })
                .collect(),
        ),
    })
}

/// A mark-as-read request as [`Message::MarkRead`], or [`Message::Typing`] with a typing
/// indicator. Neither names the customer: the caller finds them from the wamid.
pub fn read_message(req: &ReadRequest) -> Result<Message, WireError> {
    if req.message_id.trim().is_empty() {
        return Err(WireError::new(
            "message_id",
            "empty: give the wamid of the customer's message to mark as read",
        ));
    }
    let message_id = req.message_id.clone();
    Ok(if req.typing_indicator.is_some() {
        Message::Typing { message_id }
    } else {
        Message::MarkRead { message_id }
    })
}

fn source(m: &MediaObject) -> MediaSource {
    match &m.source {
        MediaRef::Id(id) => MediaSource::Id(id.clone()),
        MediaRef::Link(link) => MediaSource::Link(link.clone()),
    }
}

fn media(kind: MediaKind, m: &MediaObject) -> Message {
    Message::Media(MediaMessage {
        kind,
        source: source(m),
        caption: m.caption.clone(),
        filename: m.filename.clone(),
    })
}

fn interactive(i: &InteractiveBody) -> Result<Interactive, WireError> {
    let header = i.header.as_ref().map(|h| match h {
        WireHeader::Text(t) => InteractiveHeader::Text(t.clone()),
        WireHeader::Image(m) => InteractiveHeader::Media(MediaKind::Image, source(m)),
        WireHeader::Video(m) => InteractiveHeader::Media(MediaKind::Video, source(m)),
        WireHeader::Document(m) => InteractiveHeader::Media(MediaKind::Document, source(m)),
    });
    let body = i.body.clone();
    let footer = i.footer.clone();
    Ok(match &i.action {
        InteractiveAction::Buttons(buttons) => Interactive::Buttons {
            header,
            body,
            footer,
            buttons: buttons
                .iter()
                .map(|b| ReplyButton {
                    id: b.id.clone(),
                    title: b.title.clone(),
                })
                .collect(),
        },
        InteractiveAction::List { button, sections } => {
            let header = match header {
                None => None,
                Some(InteractiveHeader::Text(t)) => Some(t),
                Some(InteractiveHeader::Media(..)) => {
                    return Err(WireError::new(
                        "interactive.header.type",
                        "a list message takes only a text header",
                    ));
                }
            };
            Interactive::List {
                header,
                body,
                footer,
                button: button.clone(),
                sections: sections
                    .iter()
                    .map(|s| ListSection {
                        title: s.title.clone(),
                        rows: s
                            .rows
                            .iter()
                            .map(|r| ListRow {
                                id: r.id.clone(),
                                title: r.title.clone(),
                                description: r.description.clone(),
                            })
                            .collect(),
                    })
                    .collect(),
            }
        }
        InteractiveAction::CtaUrl { display_text, url } => Interactive::CtaUrl {
            header,
            body,
            footer,
            display_text: display_text.clone(),
            url: url.clone(),
        },
    })
}

fn template(t: &TemplateBody) -> Result<TemplateMessage, WireError> {
    let mut header: Option<Vec<Param>> = None;
    let mut body: Option<Vec<Param>> = None;
    let mut buttons = Vec::new();
    for (i, c) in t.components.iter().enumerate() {
        let at = format!("template.components[{i}]");
        match c {
            SendComponent::Header(ps) | SendComponent::Body(ps) => {
                let slot = if matches!(c, SendComponent::Header(_)) {
                    &mut header
                } else {
                    &mut body
                };
                if slot.is_some() {
                    return Err(WireError::new(
                        format!("{at}.type"),
                        format!(
                            "a second `{}` component: give all its parameters in one component",
                            c.type_name()
                        ),
                    ));
                }
                *slot = Some(params(ps, &at, None)?);
            }
            SendComponent::Button {
                sub_type,
                index,
                parameters,
            } => buttons.push(ButtonParams {
                index: *index,
                sub_type: sub_type_of(*sub_type),
                params: params(parameters, &at, Some(*sub_type))?,
            }),
        }
    }
    Ok(TemplateMessage {
        name: t.name.clone(),
        language: t.language.code.clone(),
        header: header.unwrap_or_default(),
        body: body.unwrap_or_default(),
        buttons,
    })
}

fn sub_type_of(s: WireSubType) -> ButtonSubType {
    match s {
        WireSubType::QuickReply => ButtonSubType::QuickReply,
        WireSubType::Url => ButtonSubType::Url,
        WireSubType::CopyCode => ButtonSubType::CopyCode,
        WireSubType::Flow => ButtonSubType::Flow,
        WireSubType::Catalog => ButtonSubType::Catalog,
    }
}

/// The parameters of the component at `at`; `button` is the sub-type of a button component.
/// A flow or catalog button's `action` is not checked by the rules and is left out.
fn params(
    ps: &[Parameter],
    at: &str,
    button: Option<WireSubType>,
) -> Result<Vec<Param>, WireError> {
    let takes_action = matches!(button, Some(WireSubType::Flow | WireSubType::Catalog));
    let mut out = Vec::with_capacity(ps.len());
    for (j, p) in ps.iter().enumerate() {
        let value = match &p.value {
            ParameterValue::Text(s) => ParamValue::Text(s.clone()),
            ParameterValue::Currency(c) => ParamValue::Currency {
                fallback: c.fallback_value.clone(),
                code: c.code.clone(),
                amount_1000: c.amount_1000,
            },
            ParameterValue::DateTime(d) => ParamValue::DateTime {
                fallback: d.fallback_value.clone(),
            },
            ParameterValue::Image(m) => ParamValue::Media(MediaKind::Image, source(m)),
            ParameterValue::Video(m) => ParamValue::Media(MediaKind::Video, source(m)),
            ParameterValue::Document(m) => ParamValue::Media(MediaKind::Document, source(m)),
            ParameterValue::Location(l) => ParamValue::Location(Location {
                latitude: l.latitude,
                longitude: l.longitude,
                name: l.name.clone(),
                address: l.address.clone(),
            }),
            ParameterValue::Payload(s) => ParamValue::Payload(s.clone()),
            ParameterValue::CouponCode(s) => ParamValue::CouponCode(s.clone()),
            ParameterValue::Action(_) if takes_action => continue,
            ParameterValue::Action(_) => {
                return Err(WireError::new(
                    format!("{at}.parameters[{j}].type"),
                    "an `action` parameter goes only with a `flow` or `catalog` button",
                ));
            }
        };
        out.push(Param {
            name: p.name.clone(),
            value,
        });
    }
    Ok(out)
}

/// A template as the Graph API lists it, as the preflight keeps it. Meta's strings are read in
/// any case. A category that is not `MARKETING`, `UTILITY` or `AUTHENTICATION` is taken as
/// marketing, the most expensive and most constrained one, so that an unknown category is never
/// cheaper or freer than it may turn out to be. The quality comes from `quality_score`: `GREEN`
/// is high, `YELLOW` medium, `RED` low, anything else pending.
pub fn synced_template(t: &GraphTemplate) -> SyncedTemplate {
    let header = t.component("HEADER").and_then(|h| {
        let format = h.format.as_deref().unwrap_or("TEXT");
        match format.to_ascii_uppercase().as_str() {
            "TEXT" => Some(TemplateHeader::Text(h.text.clone().unwrap_or_default())),
            "IMAGE" => Some(TemplateHeader::Image),
            "VIDEO" => Some(TemplateHeader::Video),
            "DOCUMENT" => Some(TemplateHeader::Document),
            "LOCATION" => Some(TemplateHeader::Location),
            _ => None,
        }
    });
    let buttons = t
        .buttons()
        .iter()
        .map(|b| match b.kind.to_ascii_uppercase().as_str() {
            "QUICK_REPLY" => TemplateButton::QuickReply,
            "URL" => TemplateButton::Url {
                url: b.url.clone().unwrap_or_default(),
            },
            "PHONE_NUMBER" => TemplateButton::PhoneNumber,
            "COPY_CODE" => TemplateButton::CopyCode,
            "OTP" => TemplateButton::Otp,
            "FLOW" => TemplateButton::Flow,
            "CATALOG" => TemplateButton::Catalog,
            _ => TemplateButton::Other,
        })
        .collect();
    let quality = match t
        .quality_score
        .as_ref()
        .map(|q| q.score.to_ascii_uppercase())
        .as_deref()
    {
        Some("GREEN" | "HIGH") => TemplateQuality::High,
        Some("YELLOW" | "MEDIUM") => TemplateQuality::Medium,
        Some("RED" | "LOW") => TemplateQuality::Low,
        _ => TemplateQuality::Pending,
    };
    let parameter_format = match t.parameter_format.as_deref() {
        Some(f) if f.eq_ignore_ascii_case("NAMED") => ParameterFormat::Named,
        _ => ParameterFormat::Positional,
    };
    SyncedTemplate {
        name: t.name.clone(),
        language: t.language.clone(),
        status: TemplateStatus::parse(&t.status),
        category: Category::of_template(t.category.trim()).unwrap_or(Category::Marketing),
        parameter_format,
        header,
        body: t.body_text().unwrap_or_default().to_owned(),
        buttons,
        quality,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use wa::send::{OutboundRequest, parse_send_value};

    fn send(v: &serde_json::Value) -> SendRequest {
        match parse_send_value(v) {
            Ok(OutboundRequest::Message(m)) => m,
            other => panic!("not a message: {other:?}"),
        }
    }

    fn parts(v: &serde_json::Value) -> (ContactKey, Message, Option<String>) {
        intent_parts(&send(v)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn refused(v: &serde_json::Value) -> WireError {
        match intent_parts(&send(v)) {
            Ok(p) => panic!("accepted: {p:?}"),
            Err(e) => e,
        }
    }

    fn wa_id(s: &str) -> ContactKey {
        ContactKey::WaId(WaId::parse(s).expect("wa_id"))
    }

    #[test]
    fn recipients_by_phone_wa_id_or_bsuid() {
        let (key, message, reply_to) = parts(&json!({
            "messaging_product": "whatsapp", "to": "+1 (650) 555-1234", "type": "text",
            "context": {"message_id": "wamid.Q"}, "text": {"body": "hi"}
        }));
        assert_eq!(key, wa_id("16505551234"));
        assert_eq!(
            message,
            Message::Text {
                body: "hi".into(),
                preview_url: false
            }
        );
        assert_eq!(reply_to.as_deref(), Some("wamid.Q"));
        assert_eq!(
            parts(&json!({"to": "16505551234", "type": "text", "text": {"body": "hi"}})).0,
            wa_id("16505551234")
        );
        // The BSUID wins over `to` when both are given.
        let (key, ..) = parts(
            &json!({"recipient": "US.13491208655302741918", "to": "16505551234",
                                     "type": "text", "text": {"body": "hi"}}),
        );
        assert_eq!(
            key,
            ContactKey::Bsuid(Bsuid::parse("US.13491208655302741918").expect("bsuid"))
        );
        // Meta's rule for a number without `+`, when the business's calling code is known.
        let req = send(&json!({"to": "(631) 555-1234", "type": "text", "text": {"body": "hi"}}));
        assert_eq!(recipient_key(&req, Some("91")), Ok(wa_id("916315551234")));
    }

    #[test]
    fn recipients_that_cannot_be_used_are_refused_by_field() {
        let e = refused(
            &json!({"to": "US.13491208655302741918", "type": "text", "text": {"body": "a"}}),
        );
        assert_eq!(e.field, "to");
        assert!(e.message.contains("`recipient`"), "{e}");
        let e = refused(&json!({"to": "12", "type": "text", "text": {"body": "a"}}));
        assert_eq!(e.field, "to");
        assert!(e.message.contains("8 to 15 digits"), "{e}");
        let e = refused(&json!({"recipient": "US 1", "type": "text", "text": {"body": "a"}}));
        assert_eq!(e.field, "recipient");
        let e = refused(
            &json!({"recipient_type": "group", "to": "120363025246125486@g.us",
                               "type": "text", "text": {"body": "a"}}),
        );
        assert_eq!(e.field, "recipient_type");
        assert!(
            e.to_string().starts_with("`recipient_type`: group sends"),
            "{e}"
        );
    }

    #[test]
    fn every_kind_maps_to_its_domain_message() {
        let to = "+16505551234";
        let (_, m, _) = parts(&json!({"to": to, "type": "document",
            "document": {"link": "https://example.com/a.pdf", "filename": "a.pdf", "caption": "Invoice"}}));
        assert_eq!(
            m,
            Message::Media(MediaMessage {
                kind: MediaKind::Document,
                source: MediaSource::Link("https://example.com/a.pdf".into()),
                caption: Some("Invoice".into()),
                filename: Some("a.pdf".into()),
            })
        );
        let (_, m, _) = parts(&json!({"to": to, "type": "sticker", "sticker": {"id": "9"}}));
        assert!(
            matches!(m, Message::Media(MediaMessage { kind: MediaKind::Sticker, source: MediaSource::Id(ref id), .. }) if id == "9")
        );

        let (_, m, _) = parts(&json!({"to": to, "type": "interactive",
            "interactive": {"type": "button", "header": {"type": "video", "video": {"id": "7"}},
                "body": {"text": "Pick"}, "footer": {"text": "Lucky Shrub"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "A"}}]}}}));
        assert_eq!(
            m,
            Message::Interactive(Interactive::Buttons {
                header: Some(InteractiveHeader::Media(
                    MediaKind::Video,
                    MediaSource::Id("7".into())
                )),
                body: "Pick".into(),
                footer: Some("Lucky Shrub".into()),
                buttons: vec![ReplyButton {
                    id: "a".into(),
                    title: "A".into()
                }],
            })
        );
        let (_, m, _) = parts(&json!({"to": to, "type": "interactive",
            "interactive": {"type": "list", "header": {"type": "text", "text": "Shipping"},
                "body": {"text": "Which?"},
                "action": {"button": "Options", "sections": [{"title": "Fast", "rows": [
                    {"id": "x", "title": "Express", "description": "Next day"}]}]}}}));
        let Message::Interactive(Interactive::List {
            header, sections, ..
        }) = m
        else {
            panic!("not a list: {m:?}")
        };
        assert_eq!(header.as_deref(), Some("Shipping"));
        assert_eq!(sections[0].rows[0].description.as_deref(), Some("Next day"));
        let (_, m, _) = parts(&json!({"to": to, "type": "interactive",
            "interactive": {"type": "cta_url", "body": {"text": "See"},
                "action": {"name": "cta_url", "parameters": {"display_text": "Open", "url": "https://a.example"}}}}));
        assert!(
            matches!(m, Message::Interactive(Interactive::CtaUrl { ref url, .. }) if url == "https://a.example")
        );

        let (_, m, reply_to) = parts(&json!({"to": to, "type": "reaction",
            "reaction": {"message_id": "wamid.R", "emoji": ""}}));
        assert_eq!(
            m,
            Message::Reaction {
                message_id: "wamid.R".into(),
                emoji: String::new()
            }
        );
        assert_eq!(reply_to, None);
        let (_, m, _) = parts(&json!({"to": to, "type": "location",
            "location": {"latitude": 37.483_307, "longitude": -122.148_981, "name": "Philz"}}));
        assert_eq!(
            m,
            Message::Location(Location {
                latitude: 37.483_307,
                longitude: -122.148_981,
                name: Some("Philz".into()),
                address: None
            })
        );
        let (_, m, _) = parts(&json!({"to": to, "type": "contacts",
            "contacts": [{"name": {"formatted_name": "Howard Burns"}, "phones": [{"phone": "+1"}]}]}));
        assert_eq!(
            m,
            Message::Contacts(vec![ContactCard {
                formatted_name: "Howard Burns".into()
            }])
        );
    }

    #[test]
    fn template_components_are_flattened_by_type() {
        let (_, m, _) = parts(&json!({"to": "+16505551234", "type": "template",
            "template": {"name": "promo", "language": {"code": "es"}, "components": [
                {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://example.com/h.jpg"}}]},
                {"type": "body", "parameters": [
                    {"type": "text", "parameter_name": "first_name", "text": "Ana"},
                    {"type": "currency", "parameter_name": "total",
                     "currency": {"fallback_value": "$1.50", "code": "USD", "amount_1000": 1500}},
                    {"type": "date_time", "parameter_name": "day", "date_time": {"fallback_value": "Monday"}}]},
                {"type": "button", "sub_type": "quick_reply", "index": "0",
                 "parameters": [{"type": "payload", "payload": "accept_42"}]},
                {"type": "button", "sub_type": "url", "index": "1",
                 "parameters": [{"type": "text", "text": "order/42"}]},
                {"type": "button", "sub_type": "flow", "index": "2",
                 "parameters": [{"type": "action", "action": {"flow_token": "t"}}]}]}}));
        let Message::Template(t) = m else {
            panic!("not a template: {m:?}")
        };
        assert_eq!((t.name.as_str(), t.language.as_str()), ("promo", "es"));
        assert_eq!(
            t.header,
            vec![Param {
                name: None,
                value: ParamValue::Media(
                    MediaKind::Image,
                    MediaSource::Link("https://example.com/h.jpg".into())
                )
            }]
        );
        assert_eq!(t.body[0], Param::named("first_name", "Ana"));
        assert_eq!(
            t.body[1].value,
            ParamValue::Currency {
                fallback: "$1.50".into(),
                code: "USD".into(),
                amount_1000: 1500
            }
        );
        assert_eq!(
            t.body[2].value,
            ParamValue::DateTime {
                fallback: "Monday".into()
            }
        );
        assert_eq!(
            t.buttons,
            vec![
                ButtonParams {
                    index: 0,
                    sub_type: ButtonSubType::QuickReply,
                    params: vec![Param {
                        name: None,
                        value: ParamValue::Payload("accept_42".into())
                    }]
                },
                ButtonParams {
                    index: 1,
                    sub_type: ButtonSubType::Url,
                    params: vec![Param::text("order/42")]
                },
                ButtonParams {
                    index: 2,
                    sub_type: ButtonSubType::Flow,
                    params: vec![]
                },
            ]
        );
        // A template without components.
        let (_, m, _) = parts(&json!({"to": "1 650 555 1234", "type": "template",
            "template": {"name": "hello_world", "language": {"code": "en_US"}}}));
        assert_eq!(
            m,
            Message::Template(TemplateMessage::new("hello_world", "en_US", vec![]))
        );
    }

    #[test]
    fn template_components_the_domain_cannot_take_are_refused() {
        let e = refused(&json!({"to": "+16505551234", "type": "template",
            "template": {"name": "t", "language": {"code": "en"}, "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "a"}]},
                {"type": "body", "parameters": [{"type": "text", "text": "b"}]}]}}));
        assert_eq!(e.field, "template.components[1].type");
        let e = refused(&json!({"to": "+16505551234", "type": "template",
            "template": {"name": "t", "language": {"code": "en"}, "components": [
                {"type": "button", "sub_type": "quick_reply", "index": 0,
                 "parameters": [{"type": "action", "action": {}}]}]}}));
        assert_eq!(e.field, "template.components[0].parameters[0].type");
    }

    #[test]
    fn read_receipts_and_typing() {
        let read = |v| match parse_send_value(&v) {
            Ok(OutboundRequest::Read(r)) => read_message(&r),
            other => panic!("not a read request: {other:?}"),
        };
        assert_eq!(
            read(
                json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.A"})
            ),
            Ok(Message::MarkRead {
                message_id: "wamid.A".into()
            })
        );
        assert_eq!(
            read(
                json!({"status": "read", "message_id": "wamid.A", "typing_indicator": {"type": "text"}})
            ),
            Ok(Message::Typing {
                message_id: "wamid.A".into()
            })
        );
        assert_eq!(
            read(json!({"status": "read", "message_id": " "})).map_err(|e| e.field),
            Err("message_id".to_owned())
        );
    }

    fn graph(v: serde_json::Value) -> GraphTemplate {
        serde_json::from_value(v).expect("template")
    }

    #[test]
    fn synced_templates_from_the_graph_api() {
        let t = synced_template(&graph(json!({
            "name": "order_confirmation", "language": "en_US", "status": "APPROVED",
            "category": "UTILITY", "id": "1689556908129832",
            "quality_score": {"score": "YELLOW"},
            "components": [
                {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"},
                {"type": "BODY", "text": "Hi {{1}}, your order {{2}} is confirmed."},
                {"type": "FOOTER", "text": "Lucky Shrub"},
                {"type": "BUTTONS", "buttons": [
                    {"type": "QUICK_REPLY", "text": "Stop"},
                    {"type": "URL", "text": "Track", "url": "https://example.com/track/{{1}}"},
                    {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+16505551234"},
                    {"type": "COPY_CODE", "example": "SAVE10"},
                    {"type": "FLOW", "text": "Book", "flow_id": 1},
                    {"type": "CATALOG", "text": "View"},
                    {"type": "VOICE_CALL", "text": "Call on WhatsApp"}]}]
        })));
        assert_eq!(
            t,
            SyncedTemplate {
                name: "order_confirmation".into(),
                language: "en_US".into(),
                status: TemplateStatus::Approved,
                category: Category::Utility,
                parameter_format: ParameterFormat::Positional,
                header: Some(TemplateHeader::Text("Order {{1}}".into())),
                body: "Hi {{1}}, your order {{2}} is confirmed.".into(),
                buttons: vec![
                    TemplateButton::QuickReply,
                    TemplateButton::Url {
                        url: "https://example.com/track/{{1}}".into()
                    },
                    TemplateButton::PhoneNumber,
                    TemplateButton::CopyCode,
                    TemplateButton::Flow,
                    TemplateButton::Catalog,
                    TemplateButton::Other,
                ],
                quality: TemplateQuality::Medium,
            }
        );

        let otp = synced_template(&graph(json!({
            "name": "verify_code", "language": "en", "status": "paused", "category": "authentication",
            "parameter_format": "named", "quality_score": {"score": "RED"},
            "components": [{"type": "BODY", "text": "*{{1}}* is your code.", "add_security_recommendation": true},
                           {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE"}]}]
        })));
        assert_eq!(otp.status, TemplateStatus::Paused);
        assert_eq!(otp.category, Category::Authentication);
        assert_eq!(otp.parameter_format, ParameterFormat::Named);
        assert_eq!(otp.buttons, vec![TemplateButton::Otp]);
        assert_eq!(otp.quality, TemplateQuality::Low);
        assert_eq!(otp.header, None);

        let media = synced_template(&graph(json!({
            "name": "promo", "language": "es", "status": "NEW_STATE", "category": "NEW_CATEGORY",
            "quality_score": {"score": "UNKNOWN"},
            "components": [{"type": "HEADER", "format": "IMAGE"}, {"type": "BODY", "text": "Hola"}]
        })));
        assert_eq!(media.header, Some(TemplateHeader::Image));
        assert_eq!(media.status, TemplateStatus::Other("NEW_STATE".into()));
        assert_eq!(
            media.category,
            Category::Marketing,
            "an unknown category is the most constrained"
        );
        assert_eq!(media.quality, TemplateQuality::Pending);
        for (format, header) in [
            ("VIDEO", TemplateHeader::Video),
            ("DOCUMENT", TemplateHeader::Document),
            ("LOCATION", TemplateHeader::Location),
        ] {
            let t = synced_template(&graph(
                json!({"components": [{"type": "HEADER", "format": format}]}),
            ));
            assert_eq!(t.header, Some(header));
        }
    }

    // Generated requests: every kind maps to its domain kind.

    fn text() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 _.é🙂-]{0,10}"
    }

    fn media_ref() -> impl Strategy<Value = MediaObject> {
        prop_oneof![
            "[0-9]{1,12}".prop_map(MediaObject::id),
            text().prop_map(|t| MediaObject::link(format!("https://e.example/{t}"))),
        ]
    }

    fn body() -> impl Strategy<Value = serde_json::Value> {
        let media_kind =
            proptest::sample::select(vec!["image", "video", "audio", "document", "sticker"]);
        let param = prop_oneof![
            text().prop_map(|t| json!({"type": "text", "text": t})),
            (text(), 0..1_000_000i64).prop_map(|(t, n)| json!({"type": "currency",
                "currency": {"fallback_value": t, "code": "EUR", "amount_1000": n}})),
            text().prop_map(|t| json!({"type": "date_time", "date_time": {"fallback_value": t}})),
            media_ref().prop_map(|m| json!({"type": "image", "image": m})),
            text().prop_map(|t| json!({"type": "payload", "payload": t})),
            text().prop_map(|t| json!({"type": "coupon_code", "coupon_code": t})),
        ];
        let template = (text(), proptest::collection::vec(param, 0..3), 0..=9u8).prop_map(
            |(name, ps, index)| {
                json!({"type": "template", "template": {"name": name, "language": {"code": "en_US"},
                    "components": [{"type": "body", "parameters": ps},
                                   {"type": "button", "sub_type": "flow", "index": index,
                                    "parameters": [{"type": "action", "action": {}}]}]}})
            },
        );
        prop_oneof![
            text().prop_map(|t| json!({"type": "text", "text": {"body": t}})),
            (media_kind, media_ref()).prop_map(|(k, m)| json!({"type": k, k: m})),
            (text(), text()).prop_map(|(b, t)| json!({"type": "interactive", "interactive": {
                "type": "button", "body": {"text": b},
                "action": {"buttons": [{"type": "reply", "reply": {"id": t, "title": t}}]}}})),
            (text(), text()).prop_map(|(b, t)| json!({"type": "interactive", "interactive": {
                "type": "list", "header": {"type": "text", "text": t}, "body": {"text": b},
                "action": {"button": t, "sections": [{"rows": [{"id": t, "title": t}]}]}}})),
            (text(), text()).prop_map(|(b, u)| json!({"type": "interactive", "interactive": {
                "type": "cta_url", "body": {"text": b},
                "action": {"name": "cta_url", "parameters": {"display_text": b, "url": u}}}})),
            template,
            (text(), text()).prop_map(|(id, e)| json!({"type": "reaction",
                "reaction": {"message_id": id, "emoji": e}})),
            (-900_000_000i64..=900_000_000, -1_800_000_000i64..=1_800_000_000).prop_map(
                |(la, lo)| json!({"type": "location", "location": {
                    "latitude": la as f64 / 1e7, "longitude": lo as f64 / 1e7}})
            ),
            proptest::collection::vec(text(), 0..3).prop_map(|names| json!({"type": "contacts",
                "contacts": names.iter().map(|n| json!({"name": {"formatted_name": n}})).collect::<Vec<_>>()})),
        ]
    }

    /// A recipient, and whether the domain can use it.
    fn recipient() -> impl Strategy<Value = (serde_json::Value, bool)> {
        prop_oneof![
            "\\+?(1|33|44|55|91|234)[0-9]{8,10}".prop_map(|to| (json!({"to": to}), true)),
            "\\+(1|33) ?\\([0-9]{3}\\) [0-9]{3}-[0-9]{4}".prop_map(|to| (json!({"to": to}), true)),
            "[A-Z]{2}\\.[0-9]{1,30}".prop_map(|r| (json!({"recipient": r}), true)),
            "[ -~]{0,20}".prop_map(|to| (json!({"to": to}), false)),
        ]
    }

    fn same_kind(body: &SendBody, message: &Message) -> bool {
        match (body, message) {
            (SendBody::Text(_), Message::Text { .. })
            | (SendBody::Interactive(_), Message::Interactive(_))
            | (SendBody::Template(_), Message::Template(_))
            | (SendBody::Reaction(_), Message::Reaction { .. })
            | (SendBody::Location(_), Message::Location(_))
            | (SendBody::Contacts(_), Message::Contacts(_)) => true,
            (b, Message::Media(m)) => b.media().is_some() && b.type_name() == m.kind.as_str(),
            _ => false,
        }
    }

    proptest! {
        #[test]
        fn every_generated_request_maps_kind_for_kind((recipient, usable) in recipient(), body in body()) {
            let mut v = body;
            if let (Some(map), Some(r)) = (v.as_object_mut(), recipient.as_object()) {
                map.extend(r.clone());
            }
            let req = send(&v);
            match intent_parts(&req) {
                Ok((_, message, _)) => {
                    prop_assert!(same_kind(&req.body, &message), "{:?} became {:?}", req.body, message);
                    prop_assert!(message.is_message());
                }
                // Only a recipient that is neither a phone number nor a BSUID is refused.
                Err(e) => prop_assert!(!usable && e.field == "to", "{e}"),
            }
            prop_assert_eq!(message_of(&req.body).map(|m| m.is_message()), Ok(true));
        }
    }
}
