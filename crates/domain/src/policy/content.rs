//! What a message may hold: Meta's shapes and length limits for each kind (cloud-api.md §3.2,
//! §5.5). Lengths are counted in characters (Unicode scalar values): Meta says "characters"
//! without saying how it counts them.
//!
//! Meta refuses these synchronously with error 100 ("over length limit", "invalid parameter"),
//! or 131008 for a required field that is missing.

use super::intent::{
    Interactive, InteractiveHeader, MediaKind, MediaMessage, MediaSource, Message,
};
use super::verdict::{Refusal, code};

pub const TEXT_BODY_MAX: usize = 4096;
pub const CAPTION_MAX: usize = 1024;
pub const BUTTONS_BODY_MAX: usize = 1024;
pub const LIST_BODY_MAX: usize = 4096;
pub const HEADER_TEXT_MAX: usize = 60;
pub const FOOTER_MAX: usize = 60;
pub const REPLY_BUTTONS_MAX: usize = 3;
pub const BUTTON_TITLE_MAX: usize = 20;
pub const BUTTON_ID_MAX: usize = 256;
pub const LIST_BUTTON_MAX: usize = 20;
pub const LIST_SECTIONS_MAX: usize = 10;
/// Rows across all sections of a list.
pub const LIST_ROWS_MAX: usize = 10;
pub const SECTION_TITLE_MAX: usize = 24;
pub const ROW_TITLE_MAX: usize = 24;
pub const ROW_DESCRIPTION_MAX: usize = 72;
pub const ROW_ID_MAX: usize = 200;
/// The label of a call-to-action URL button; the reference gives no figure, so the reply
/// button's title limit is used.
pub const CTA_DISPLAY_TEXT_MAX: usize = 20;

/// The first content problem of a message, if any. Templates are checked against their synced
/// template instead (see `parameters`).
pub(crate) fn check(message: &Message, reply_to: Option<&str>) -> Result<(), Refusal> {
    match message {
        Message::Text { body, .. } => required("text.body", body, TEXT_BODY_MAX),
        Message::Media(m) => media(m),
        Message::Interactive(i) => interactive(i),
        Message::Template(_) => Ok(()),
        Message::Reaction { message_id, .. } => {
            required("reaction.message_id", message_id, usize::MAX)?;
            if reply_to.is_some() {
                return Err(invalid(
                    "a reaction cannot be sent as a contextual reply",
                    "send the reaction without `context`",
                ));
            }
            Ok(())
        }
        Message::Location(l) => {
            if !(l.latitude.is_finite() && (-90.0..=90.0).contains(&l.latitude)) {
                return Err(invalid(
                    format!("latitude {} is not between -90 and 90", l.latitude),
                    "give the location in decimal degrees",
                ));
            }
            if !(l.longitude.is_finite() && (-180.0..=180.0).contains(&l.longitude)) {
                return Err(invalid(
                    format!("longitude {} is not between -180 and 180", l.longitude),
                    "give the location in decimal degrees",
                ));
            }
            Ok(())
        }
        Message::Contacts(cards) => {
            if cards.is_empty() {
                return Err(missing("contacts"));
            }
            for (i, c) in cards.iter().enumerate() {
                required(
                    &format!("contacts[{i}].name.formatted_name"),
                    &c.formatted_name,
                    usize::MAX,
                )?;
            }
            Ok(())
        }
        Message::MarkRead { message_id } | Message::Typing { message_id } => {
            required("message_id", message_id, usize::MAX)
        }
    }
}

fn missing(field: &str) -> Refusal {
    Refusal::new(
        code::CONTENT_MISSING,
        format!("`{field}` is empty"),
        format!("fill in `{field}`"),
    )
    .meta(131_008)
}

fn invalid(detail: impl Into<String>, next_step: impl Into<String>) -> Refusal {
    Refusal::new(code::CONTENT_INVALID, detail, next_step).meta(100)
}

/// A field that must hold something and at most `max` characters.
fn required(field: &str, value: &str, max: usize) -> Result<(), Refusal> {
    if value.trim().is_empty() {
        return Err(missing(field));
    }
    at_most(field, value, max)
}

fn optional(field: &str, value: Option<&String>, max: usize) -> Result<(), Refusal> {
    value.map_or(Ok(()), |v| at_most(field, v, max))
}

fn at_most(field: &str, value: &str, max: usize) -> Result<(), Refusal> {
    let n = value.chars().count();
    if n <= max {
        return Ok(());
    }
    Err(Refusal::new(
        code::CONTENT_TOO_LONG,
        format!("`{field}` has {n} characters; WhatsApp allows at most {max}"),
        if field == "text.body" {
            "shorten it, or split it into several messages".to_owned()
        } else {
            format!("shorten `{field}` by {} characters", n - max)
        },
    )
    .meta(100))
}

fn source(field: &str, s: &MediaSource) -> Result<(), Refusal> {
    match s {
        MediaSource::Id(id) => required(&format!("{field}.id"), id, usize::MAX),
        MediaSource::Link(link) => {
            if link.starts_with("https://") || link.starts_with("http://") {
                Ok(())
            } else {
                Err(invalid(
                    format!("`{field}.link` is not an http(s) URL"),
                    "give a public http(s) link, or upload the file and send its media id",
                ))
            }
        }
    }
}

fn media(m: &MediaMessage) -> Result<(), Refusal> {
    let kind = m.kind.as_str();
    source(kind, &m.source)?;
    if m.caption.is_some() && matches!(m.kind, MediaKind::Audio | MediaKind::Sticker) {
        return Err(invalid(
            format!("a {kind} message has no caption"),
            "send the text as a separate message",
        ));
    }
    optional(&format!("{kind}.caption"), m.caption.as_ref(), CAPTION_MAX)
}

fn header(h: Option<&InteractiveHeader>) -> Result<(), Refusal> {
    match h {
        None => Ok(()),
        Some(InteractiveHeader::Text(t)) => required("interactive.header.text", t, HEADER_TEXT_MAX),
        Some(InteractiveHeader::Media(kind, s)) => {
            if matches!(kind, MediaKind::Audio | MediaKind::Sticker) {
                return Err(invalid(
                    format!("an interactive header cannot be {}", kind.as_str()),
                    "use a text, image, video or document header",
                ));
            }
            source(&format!("interactive.header.{}", kind.as_str()), s)
        }
    }
}

fn interactive(i: &Interactive) -> Result<(), Refusal> {
    match i {
        Interactive::Buttons {
            header: h,
            body,
            footer,
            buttons,
        } => {
            header(h.as_ref())?;
            required("interactive.body.text", body, BUTTONS_BODY_MAX)?;
            optional("interactive.footer.text", footer.as_ref(), FOOTER_MAX)?;
            if buttons.is_empty() || buttons.len() > REPLY_BUTTONS_MAX {
                return Err(invalid(
                    format!(
                        "a reply-button message has 1 to {REPLY_BUTTONS_MAX} buttons, this one {}",
                        buttons.len()
                    ),
                    "use at most 3 buttons, or a list message for up to 10 choices",
                ));
            }
            for (n, b) in buttons.iter().enumerate() {
                required(&format!("buttons[{n}].reply.id"), &b.id, BUTTON_ID_MAX)?;
                required(
                    &format!("buttons[{n}].reply.title"),
                    &b.title,
                    BUTTON_TITLE_MAX,
                )?;
                if buttons[..n].iter().any(|o| o.title == b.title) {
                    return Err(invalid(
                        format!("button title {:?} is used twice", b.title),
                        "give each button a different title",
                    ));
                }
            }
            Ok(())
        }
        Interactive::List {
            header: h,
            body,
            footer,
            button,
            sections,
        } => {
            if let Some(h) = h {
                required("interactive.header.text", h, HEADER_TEXT_MAX)?;
            }
            required("interactive.body.text", body, LIST_BODY_MAX)?;
            optional("interactive.footer.text", footer.as_ref(), FOOTER_MAX)?;
            required("interactive.action.button", button, LIST_BUTTON_MAX)?;
            if sections.is_empty() || sections.len() > LIST_SECTIONS_MAX {
                return Err(invalid(
                    format!(
                        "a list has 1 to {LIST_SECTIONS_MAX} sections, this one {}",
                        sections.len()
                    ),
                    "group the rows into at most 10 sections",
                ));
            }
            let rows: usize = sections.iter().map(|s| s.rows.len()).sum();
            if rows == 0 || rows > LIST_ROWS_MAX {
                return Err(invalid(
                    format!(
                        "a list has 1 to {LIST_ROWS_MAX} rows across all sections, this one {rows}"
                    ),
                    "keep at most 10 choices, or split them over several messages",
                ));
            }
            for (n, s) in sections.iter().enumerate() {
                let field = format!("sections[{n}].title");
                match &s.title {
                    Some(t) => required(&field, t, SECTION_TITLE_MAX)?,
                    None if sections.len() > 1 => return Err(missing(&field)),
                    None => {}
                }
                for (m, r) in s.rows.iter().enumerate() {
                    let row = format!("sections[{n}].rows[{m}]");
                    required(&format!("{row}.id"), &r.id, ROW_ID_MAX)?;
                    required(&format!("{row}.title"), &r.title, ROW_TITLE_MAX)?;
                    optional(
                        &format!("{row}.description"),
                        r.description.as_ref(),
                        ROW_DESCRIPTION_MAX,
                    )?;
                }
            }
            Ok(())
        }
        Interactive::CtaUrl {
            header: h,
            body,
            footer,
            display_text,
            url,
        } => {
            header(h.as_ref())?;
            required("interactive.body.text", body, BUTTONS_BODY_MAX)?;
            optional("interactive.footer.text", footer.as_ref(), FOOTER_MAX)?;
            required(
                "interactive.action.parameters.display_text",
                display_text,
                CTA_DISPLAY_TEXT_MAX,
            )?;
            if url.starts_with("https://") || url.starts_with("http://") {
                Ok(())
            } else {
                Err(invalid(
                    "`interactive.action.parameters.url` is not an http(s) URL",
                    "give the full URL, starting with https://",
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::intent::{ContactCard, ListRow, ListSection, Location, ReplyButton};
    use super::*;

    fn text(body: &str) -> Message {
        Message::Text {
            body: body.to_owned(),
            preview_url: false,
        }
    }

    fn code_of(m: &Message) -> Option<&'static str> {
        check(m, None).err().map(|r| r.code)
    }

    #[test]
    fn text_bodies_are_required_and_at_most_4096_characters() {
        assert_eq!(code_of(&text("hello")), None);
        assert_eq!(code_of(&text(" ")), Some(code::CONTENT_MISSING));
        assert_eq!(code_of(&text(&"é".repeat(4096))), None);
        let long = check(&text(&"a".repeat(4097)), None).unwrap_err();
        assert_eq!(long.code, code::CONTENT_TOO_LONG);
        assert_eq!(long.meta_code, Some(100));
        assert!(long.detail.contains("4097"), "{}", long.detail);
    }

    #[test]
    fn captions_are_limited_and_absent_from_audio_and_stickers() {
        let media = |kind, caption: Option<&str>| {
            Message::Media(MediaMessage {
                kind,
                source: MediaSource::Id("123".into()),
                caption: caption.map(str::to_owned),
                filename: None,
            })
        };
        assert_eq!(code_of(&media(MediaKind::Image, Some("receipt"))), None);
        assert_eq!(
            code_of(&media(MediaKind::Video, Some(&"x".repeat(1025)))),
            Some(code::CONTENT_TOO_LONG)
        );
        assert_eq!(
            code_of(&media(MediaKind::Audio, Some("hi"))),
            Some(code::CONTENT_INVALID)
        );
        assert_eq!(code_of(&media(MediaKind::Sticker, None)), None);
        let link = Message::Media(MediaMessage {
            kind: MediaKind::Document,
            source: MediaSource::Link("ftp://x/a.pdf".into()),
            caption: None,
            filename: Some("a.pdf".into()),
        });
        assert_eq!(code_of(&link), Some(code::CONTENT_INVALID));
    }

    fn buttons(titles: &[&str]) -> Message {
        Message::Interactive(Interactive::Buttons {
            header: None,
            body: "Your workshop is at 9am tomorrow.".into(),
            footer: None,
            buttons: titles
                .iter()
                .enumerate()
                .map(|(i, t)| ReplyButton {
                    id: format!("b{i}"),
                    title: (*t).to_owned(),
                })
                .collect(),
        })
    }

    #[test]
    fn reply_buttons_are_one_to_three_with_short_unique_titles() {
        assert_eq!(code_of(&buttons(&["Change", "Cancel"])), None);
        assert_eq!(code_of(&buttons(&[])), Some(code::CONTENT_INVALID));
        assert_eq!(
            code_of(&buttons(&["a", "b", "c", "d"])),
            Some(code::CONTENT_INVALID)
        );
        assert_eq!(code_of(&buttons(&["a", "a"])), Some(code::CONTENT_INVALID));
        assert_eq!(
            code_of(&buttons(&["twenty-one characters"])),
            Some(code::CONTENT_TOO_LONG)
        );
        assert_eq!(code_of(&buttons(&["exactly twenty chars"])), None);
    }

    fn list(sections: Vec<ListSection>) -> Message {
        Message::Interactive(Interactive::List {
            header: Some("Shipping".into()),
            body: "Which option?".into(),
            footer: None,
            button: "Options".into(),
            sections,
        })
    }

    fn rows(n: usize) -> Vec<ListRow> {
        (0..n)
            .map(|i| ListRow {
                id: format!("r{i}"),
                title: format!("Row {i}"),
                description: None,
            })
            .collect()
    }

    #[test]
    fn lists_hold_at_most_ten_rows_across_sections() {
        let section = |title: Option<&str>, n| ListSection {
            title: title.map(str::to_owned),
            rows: rows(n),
        };
        assert_eq!(code_of(&list(vec![section(None, 10)])), None);
        assert_eq!(
            code_of(&list(vec![section(Some("A"), 6), section(Some("B"), 5)])),
            Some(code::CONTENT_INVALID)
        );
        assert_eq!(
            code_of(&list(vec![section(Some("A"), 2), section(None, 2)])),
            Some(code::CONTENT_MISSING)
        );
        let mut long = section(None, 1);
        long.rows[0].description = Some("d".repeat(73));
        assert_eq!(code_of(&list(vec![long])), Some(code::CONTENT_TOO_LONG));
    }

    #[test]
    fn cta_urls_need_an_http_url_and_a_short_label() {
        let cta = |label: &str, url: &str| {
            Message::Interactive(Interactive::CtaUrl {
                header: None,
                body: "Track your order".into(),
                footer: None,
                display_text: label.into(),
                url: url.into(),
            })
        };
        assert_eq!(code_of(&cta("Track", "https://example.com/o/42")), None);
        assert_eq!(
            code_of(&cta("Track", "example.com")),
            Some(code::CONTENT_INVALID)
        );
        assert_eq!(
            code_of(&cta("Track my order right now", "https://e.com")),
            Some(code::CONTENT_TOO_LONG)
        );
    }

    #[test]
    fn reactions_locations_and_contacts() {
        let reaction = Message::Reaction {
            message_id: "wamid.X".into(),
            emoji: String::new(),
        };
        assert_eq!(check(&reaction, None), Ok(()));
        assert_eq!(
            check(&reaction, Some("wamid.Y")).map_err(|r| r.code),
            Err(code::CONTENT_INVALID)
        );
        let location = |latitude, longitude| {
            Message::Location(Location {
                latitude,
                longitude,
                name: None,
                address: None,
            })
        };
        assert_eq!(code_of(&location(48.85, 2.35)), None);
        assert_eq!(code_of(&location(91.0, 0.0)), Some(code::CONTENT_INVALID));
        assert_eq!(
            code_of(&location(0.0, f64::NAN)),
            Some(code::CONTENT_INVALID)
        );
        assert_eq!(
            code_of(&Message::Contacts(vec![])),
            Some(code::CONTENT_MISSING)
        );
        assert_eq!(
            code_of(&Message::Contacts(vec![ContactCard {
                formatted_name: "Ana".into()
            }])),
            None
        );
    }
}
