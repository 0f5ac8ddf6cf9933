//! How the inbox shows a message: every kind turned into plain, typed view data that the
//! templates escape. Nothing here writes markup, so customer text can only ever be text.
//!
//! Inbound messages and echoes are stored as guichet's typed view of Meta's content (tagged by
//! `kind`); outbound ones as the Graph API body that was sent (tagged by `type`). Both are read
//! here as JSON, so that a kind guichet does not model still shows what it can.

use serde_json::Value;
use store::{MessageRow, TemplateRow};
use wa::format::Span;

/// A message as the thread shows it.
#[derive(Debug, Clone, Default)]
pub struct MessageView {
    pub id: i64,
    /// `in`, `out` or `echo` (sent from the business's phone).
    pub class: &'static str,
    pub kind: String,
    /// Where it sits among the conversation's changes (ms): Meta's time for what customers
    /// sent, the moment guichet queued it for what the business sent.
    pub order_ms: i64,
    pub stamp: super::Stamp,
    /// Who wrote it, for messages guichet sent or the phone echoed.
    pub author: Option<String>,
    /// A line naming what it is when it is not plain text ("Image", "Location"…).
    pub label: Option<String>,
    pub text: Vec<Span>,
    pub media: Option<MediaView>,
    pub location: Option<LocationView>,
    pub contacts: Vec<ContactCard>,
    /// Buttons or list rows the message offered.
    pub options: Vec<String>,
    /// The button or row a customer chose.
    pub reply: Option<String>,
    pub reaction: Option<String>,
    /// The quoted message's text, for replies.
    pub quote: Option<String>,
    pub quote_missing: bool,
    pub referral: Option<ReferralView>,
    pub tick: Option<Tick>,
    pub failure: Option<Failure>,
    /// Forwarded, edited, deleted…
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct MediaView {
    /// Where guichet serves its copy, once downloaded.
    pub href: Option<String>,
    /// Shown as an image in the page (a raster image guichet checked).
    pub inline_image: bool,
    pub name: String,
    pub state: String,
}

#[derive(Debug, Clone, Default)]
pub struct LocationView {
    pub name: Option<String>,
    pub address: Option<String>,
    pub coordinates: String,
    pub map: String,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ContactCard {
    pub name: String,
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    pub org: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ReferralView {
    pub headline: Option<String>,
    pub body: Option<String>,
    pub source: String,
    pub url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Tick {
    pub symbol: &'static str,
    pub class: &'static str,
    pub title: &'static str,
}

#[derive(Debug, Clone)]
pub struct Failure {
    pub title: String,
    pub next_step: String,
}

/// A link the page may show: http(s) only, no spaces or control characters. Anything else
/// (`javascript:`, `data:`, relative paths) is shown as text, not as a link.
pub fn safe_url(url: &str) -> Option<String> {
    let trimmed = url.trim();
    let lower = trimmed.to_ascii_lowercase();
    let ok = (lower.starts_with("https://") || lower.starts_with("http://"))
        && trimmed.len() > 8
        && !trimmed.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then(|| trimmed.to_owned())
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn kind_label(kind: &str) -> String {
    match kind {
        "image" => "Image",
        "video" => "Video",
        "audio" => "Audio",
        "document" => "Document",
        "sticker" => "Sticker",
        "location" => "Location",
        "contacts" => "Shared contact",
        "order" => "Order",
        "template" => "Template",
        other => return other.replace('_', " "),
    }
    .to_owned()
}

/// What the thread needs besides the row to show a message.
#[derive(Debug, Default)]
pub struct Lookups<'a> {
    /// Templates, to show an outbound template's text with its parameters.
    pub templates: &'a [TemplateRow],
    /// Quoted messages' text by wamid (`None`: guichet does not have it).
    pub quote: Option<Option<String>>,
    pub author: Option<String>,
    pub media: Option<MediaView>,
}

pub fn message(m: &MessageRow, look: Lookups<'_>) -> MessageView {
    let content: Value = serde_json::from_str(&m.content).unwrap_or(Value::Null);
    let mut v = MessageView {
        id: m.id,
        class: match m.direction.as_str() {
            "outbound" => "out",
            "echo" => "echo",
            _ => "in",
        },
        kind: m.kind.clone(),
        order_ms: if m.direction == "outbound" {
            m.received_at_ms
        } else {
            m.meta_at * 1000
        },
        stamp: super::stamp(m.meta_at),
        author: look.author,
        ..MessageView::default()
    };
    if m.direction == "outbound" {
        outbound(&content, look.templates, &mut v);
    } else {
        inbound(&content, &mut v);
    }
    if v.media.is_some()
        && let Some(media) = look.media
    {
        v.media = Some(media);
    }
    match look.quote {
        Some(Some(q)) => v.quote = Some(q),
        Some(None) => v.quote_missing = true,
        None => {}
    }
    if let Some(r) = m
        .referral
        .as_deref()
        .and_then(|r| serde_json::from_str::<Value>(r).ok())
    {
        v.referral = Some(ReferralView {
            headline: text(&r, "headline"),
            body: text(&r, "body"),
            source: match text(&r, "source_type").as_deref() {
                Some("ad") => "a Click-to-WhatsApp ad".to_owned(),
                Some("post") => "a Facebook or Instagram post".to_owned(),
                Some(other) => other.to_owned(),
                None => "an ad".to_owned(),
            },
            url: text(&r, "source_url").as_deref().and_then(safe_url),
        });
    }
    v.tick = tick(m);
    v.failure = failure(m);
    v
}

fn media_of(c: &Value, kind: &str) -> MediaView {
    let name = text(c, "filename").unwrap_or_else(|| kind_label(kind));
    MediaView {
        href: None,
        inline_image: false,
        name,
        state: "waiting for download".to_owned(),
    }
}

/// The kinds both directions share: text, media, locations and shared contacts. `inner` holds
/// the kind's fields, `outer` the message (shared contacts sit there in both forms). Returns
/// whether the kind was one of them.
fn shared_kind(kind: &str, inner: &Value, outer: &Value, v: &mut MessageView) -> bool {
    match kind {
        "text" => v.text = wa::format::spans(&text(inner, "body").unwrap_or_default()),
        "image" | "video" | "audio" | "document" | "sticker" => {
            v.label = Some(kind_label(kind));
            v.media = Some(media_of(inner, kind));
            if let Some(caption) = text(inner, "caption") {
                v.text = wa::format::spans(&caption);
            }
        }
        "location" => {
            v.label = Some(kind_label(kind));
            v.location = Some(location(inner));
        }
        "contacts" => {
            v.label = Some(kind_label(kind));
            v.contacts = outer
                .get("contacts")
                .and_then(Value::as_array)
                .map(|cards| cards.iter().map(contact_card).collect())
                .unwrap_or_default();
        }
        _ => return false,
    }
    true
}

fn inbound(c: &Value, v: &mut MessageView) {
    let kind = c.get("kind").and_then(Value::as_str).unwrap_or("unknown");
    if shared_kind(kind, c, c, v) {
        return;
    }
    match kind {
        "interactive" => {
            v.reply = text(c, "title")
                .or_else(|| text(c, "body"))
                .or_else(|| text(c, "response"));
            if let Some(d) = text(c, "description") {
                v.text = wa::format::spans(&d);
            }
        }
        "button" => v.reply = text(c, "text").or_else(|| text(c, "payload")),
        "reaction" => {
            v.reaction = Some(text(c, "emoji").unwrap_or_else(|| "(reaction removed)".into()));
        }
        "order" => {
            v.label = Some(kind_label(kind));
            let items = c
                .get("product_items")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let mut line = format!("{items} item(s)");
            if let Some(t) = text(c, "text") {
                line = format!("{line}: {t}");
            }
            v.text = wa::format::spans(&line);
        }
        "system" => {
            v.label = Some("System".into());
            v.text = wa::format::spans(&text(c, "body").unwrap_or_default());
        }
        "revoke" => v.notes.push("The customer deleted a message.".into()),
        "edit" => {
            v.notes.push("Edited".into());
            if let Some(edited) = c.get("edited") {
                inbound(edited, v);
            }
        }
        "unsupported" => {
            v.label = Some("Unsupported message".into());
            v.notes.push(
                "WhatsApp does not deliver this kind of message to the API: ask the customer to \
                 send it another way."
                    .into(),
            );
        }
        other => {
            v.label = Some(format!("Message of kind \u{201c}{other}\u{201d}"));
            v.notes
                .push("guichet does not show this kind yet; it is kept as Meta sent it.".into());
        }
    }
}

fn outbound(c: &Value, templates: &[TemplateRow], v: &mut MessageView) {
    let kind = c.get("type").and_then(Value::as_str).unwrap_or("text");
    let inner = c.get(kind).unwrap_or(&Value::Null);
    if shared_kind(kind, inner, c, v) {
        return;
    }
    match kind {
        "template" => {
            let name = text(inner, "name").unwrap_or_default();
            let lang = inner
                .get("language")
                .and_then(|l| text(l, "code"))
                .unwrap_or_default();
            v.label = Some(format!("Template {name} ({lang})"));
            let params = template_params(inner);
            let body = templates
                .iter()
                .find(|t| t.name == name && t.language == lang)
                .and_then(|t| template_body(t.components.as_deref()?));
            v.text = wa::format::spans(&match body {
                Some(body) => fill(&body, &params),
                None => params
                    .iter()
                    .map(|(_, p)| p.as_str())
                    .collect::<Vec<_>>()
                    .join(" · "),
            });
        }
        "interactive" => {
            let body = inner.get("body").and_then(|b| text(b, "text"));
            v.text = wa::format::spans(&body.unwrap_or_default());
            let action = inner.get("action").unwrap_or(&Value::Null);
            if let Some(buttons) = action.get("buttons").and_then(Value::as_array) {
                v.options = buttons
                    .iter()
                    .filter_map(|b| b.get("reply").and_then(|r| text(r, "title")))
                    .collect();
            }
            if let Some(sections) = action.get("sections").and_then(Value::as_array) {
                v.options = sections
                    .iter()
                    .filter_map(|s| s.get("rows").and_then(Value::as_array))
                    .flatten()
                    .filter_map(|r| text(r, "title"))
                    .collect();
            }
            if let Some(p) = action.get("parameters")
                && let Some(label) = text(p, "display_text")
            {
                v.options = vec![label];
            }
        }
        "reaction" => v.reaction = text(inner, "emoji"),
        other => v.label = Some(kind_label(other)),
    }
}

/// The parameters of a template send's body, as (name or position, text).
fn template_params(t: &Value) -> Vec<(String, String)> {
    let Some(components) = t.get("components").and_then(Value::as_array) else {
        return Vec::new();
    };
    components
        .iter()
        .filter(|c| c.get("type").and_then(Value::as_str) == Some("body"))
        .filter_map(|c| c.get("parameters").and_then(Value::as_array))
        .flatten()
        .enumerate()
        .map(|(i, p)| {
            let key = text(p, "parameter_name").unwrap_or_else(|| (i + 1).to_string());
            let value = text(p, "text")
                .or_else(|| p.get("currency").and_then(|c| text(c, "fallback_value")))
                .or_else(|| p.get("date_time").and_then(|d| text(d, "fallback_value")))
                .unwrap_or_default();
            (key, value)
        })
        .collect()
}

/// The BODY text of a template's components.
pub fn template_body(components: &str) -> Option<String> {
    let components: Value = serde_json::from_str(components).ok()?;
    components
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("BODY"))
        .and_then(|c| text(c, "text"))
}

/// A template text with `{{1}}` / `{{name}}` replaced by the parameters.
pub fn fill(body: &str, params: &[(String, String)]) -> String {
    let mut out = body.to_owned();
    for (key, value) in params {
        out = out.replace(&format!("{{{{{key}}}}}"), value);
    }
    out
}

fn location(c: &Value) -> LocationView {
    let lat = c
        .get("latitude")
        .and_then(Value::as_f64)
        .unwrap_or_default();
    let lon = c
        .get("longitude")
        .and_then(Value::as_f64)
        .unwrap_or_default();
    LocationView {
        name: text(c, "name"),
        address: text(c, "address"),
        coordinates: format!("{lat:.5}, {lon:.5}"),
        map: format!(
            "https://www.openstreetmap.org/?mlat={lat:.6}&mlon={lon:.6}#map=17/{lat:.6}/{lon:.6}"
        ),
        url: text(c, "url").as_deref().and_then(safe_url),
    }
}

fn contact_card(c: &Value) -> ContactCard {
    let name = c
        .get("name")
        .and_then(|n| {
            text(n, "formatted_name").or_else(|| {
                let parts: Vec<String> = ["first_name", "last_name"]
                    .iter()
                    .filter_map(|k| text(n, k))
                    .collect();
                (!parts.is_empty()).then(|| parts.join(" "))
            })
        })
        .unwrap_or_else(|| "(no name)".into());
    let list = |key: &str, field: &str| -> Vec<String> {
        c.get(key)
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(|i| text(i, field)).collect())
            .unwrap_or_default()
    };
    ContactCard {
        name,
        phones: list("phones", "phone"),
        emails: list("emails", "email"),
        org: c.get("org").and_then(|o| text(o, "company")),
    }
}

fn tick(m: &MessageRow) -> Option<Tick> {
    if m.direction == "inbound" {
        return None;
    }
    Some(match m.delivery.as_deref()? {
        "pending" => Tick {
            symbol: "\u{25f7}",
            class: "pending",
            title: "Queued: not yet accepted by WhatsApp",
        },
        "sent" => Tick {
            symbol: "\u{2713}",
            class: "sent",
            title: "Sent",
        },
        "delivered" => Tick {
            symbol: "\u{2713}\u{2713}",
            class: "delivered",
            title: "Delivered",
        },
        "read" | "played" => Tick {
            symbol: "\u{2713}\u{2713}",
            class: "read",
            title: "Read",
        },
        "failed" => Tick {
            symbol: "!",
            class: "failed",
            title: "Not delivered",
        },
        _ => return None,
    })
}

fn failure(m: &MessageRow) -> Option<Failure> {
    if m.delivery.as_deref() != Some("failed") && m.error_code.is_none() {
        return None;
    }
    let code = m.error_code;
    let (title, next) = match code {
        Some(code) => {
            let known = wa::error_codes::lookup(code);
            let class = wa::error_codes::class_of(code);
            (
                known.map_or_else(
                    || format!("WhatsApp refused it (error {code})"),
                    |k| format!("{} (error {code})", k.title),
                ),
                known.map_or(class.next_step(), |k| k.next_step).to_owned(),
            )
        }
        None => (
            "Not delivered".to_owned(),
            "Check the conversation's window and the number's status, then send again.".to_owned(),
        ),
    };
    let title = match &m.error_details {
        Some(d) if !d.is_empty() => format!("{title}: {d}"),
        _ => title,
    };
    Some(Failure {
        title,
        next_step: next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(direction: &str, kind: &str, content: &str) -> MessageRow {
        MessageRow {
            id: 1,
            conversation_id: 1,
            wamid: Some("wamid.1".into()),
            direction: direction.into(),
            kind: kind.into(),
            meta_at: 1_750_000_000,
            received_at_ms: 0,
            preview: None,
            content: content.into(),
            raw: None,
            context_wamid: None,
            referral: None,
            errors: None,
            delivery: None,
            sent_at: None,
            delivered_at: None,
            read_at: None,
            played_at: None,
            failed_at: None,
            error_code: None,
            error_class: None,
            error_details: None,
            biz_opaque: None,
            category: None,
        }
    }

    #[test]
    fn only_http_links_are_links() {
        for bad in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "//evil.example",
            "/relative",
            "https://a b",
            "https://",
            "vbscript:x",
        ] {
            assert_eq!(safe_url(bad), None, "{bad}");
        }
        assert_eq!(
            safe_url(" https://example.com/x?a=1 ").as_deref(),
            Some("https://example.com/x?a=1")
        );
    }

    #[test]
    fn every_inbound_kind_shows_something() {
        for (kind, content, check) in [
            ("text", r#"{"kind":"text","body":"*hi*"}"#, "text"),
            (
                "image",
                r#"{"kind":"image","id":"1","caption":"the machine"}"#,
                "media",
            ),
            (
                "location",
                r#"{"kind":"location","latitude":48.85,"longitude":2.35,"name":"Shop","url":"javascript:x"}"#,
                "location",
            ),
            (
                "contacts",
                r#"{"kind":"contacts","contacts":[{"name":{"formatted_name":"Ana"},"phones":[{"phone":"+1 555"}]}]}"#,
                "contacts",
            ),
            (
                "interactive",
                r#"{"kind":"interactive","reply":"button_reply","id":"yes","title":"Yes, book it"}"#,
                "reply",
            ),
            (
                "reaction",
                r#"{"kind":"reaction","message_id":"w","emoji":"👍"}"#,
                "reaction",
            ),
            ("unsupported", r#"{"kind":"unsupported"}"#, "notes"),
            ("poll", r#"{"kind":"unknown","type_name":"poll"}"#, "label"),
        ] {
            let v = message(&row("inbound", kind, content), Lookups::default());
            let shown = match check {
                "text" => v.text.first().is_some_and(|s| s.bold && s.text == "hi"),
                "media" => v.media.is_some() && v.text[0].text == "the machine",
                "location" => v.location.as_ref().is_some_and(|l| l.url.is_none()),
                "contacts" => v.contacts.first().is_some_and(|c| c.name == "Ana"),
                "reply" => v.reply.as_deref() == Some("Yes, book it"),
                "reaction" => v.reaction.as_deref() == Some("👍"),
                "notes" => !v.notes.is_empty(),
                _ => v.label.is_some(),
            };
            assert!(shown, "{kind}: {v:?}");
        }
    }

    #[test]
    fn an_outbound_template_shows_its_text_with_parameters() {
        let t = TemplateRow {
            id: 1,
            waba_id: "w".into(),
            meta_id: None,
            name: "order_shipped".into(),
            language: "en_US".into(),
            status: Some("APPROVED".into()),
            category: Some("UTILITY".into()),
            previous_category: None,
            quality: None,
            reason: None,
            components: Some(r#"[{"type":"BODY","text":"Order {{1}} ships {{2}}."}]"#.into()),
            parameter_format: None,
            synced_at_ms: None,
        };
        let content = r##"{"messaging_product":"whatsapp","to":"1","type":"template","template":{"name":"order_shipped","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"#42"},{"type":"text","text":"today"}]}]}}"##;
        let v = message(
            &row("outbound", "template", content),
            Lookups {
                templates: std::slice::from_ref(&t),
                ..Lookups::default()
            },
        );
        let text: String = v.text.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(text, "Order #42 ships today.");
    }

    #[test]
    fn a_failure_says_what_to_do() {
        let mut m = row(
            "outbound",
            "text",
            r#"{"type":"text","text":{"body":"hi"}}"#,
        );
        m.delivery = Some("failed".into());
        m.error_code = Some(131_047);
        let v = message(&m, Lookups::default());
        let f = v.failure.expect("failure");
        assert!(f.title.contains("131047"), "{}", f.title);
        assert!(!f.next_step.is_empty());
        assert_eq!(v.tick.expect("tick").class, "failed");
    }
}
