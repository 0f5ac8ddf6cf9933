//! What a business message may hold: Meta's shapes and limits for each kind (cloud-api.md §3.2,
//! §5.5). A send that breaks one is refused at once with error 100 and what is wrong.

use serde_json::Value;

/// Why a message is refused: the `error_data.details` of Meta's error 100.
pub type Refusal = String;

fn text_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// A required string of at most `max` characters.
fn required(v: &Value, pointer: &str, what: &str, max: usize) -> Result<(), Refusal> {
    match text_at(v, pointer) {
        Some(s) if !s.trim().is_empty() => at_most(s, what, max),
        _ => Err(format!("`{what}` is required")),
    }
}

/// An optional string of at most `max` characters.
fn optional(v: &Value, pointer: &str, what: &str, max: usize) -> Result<(), Refusal> {
    match v.pointer(pointer) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) => at_most(s, what, max),
        Some(_) => Err(format!("`{what}` must be a string")),
    }
}

fn at_most(s: &str, what: &str, max: usize) -> Result<(), Refusal> {
    let n = s.chars().count();
    if n > max {
        Err(format!(
            "`{what}` has {n} characters; at most {max} are allowed"
        ))
    } else {
        Ok(())
    }
}

fn is_http_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

/// Checks the content of a non-template message of `kind`.
pub fn check(kind: &str, m: &Value) -> Result<(), Refusal> {
    match kind {
        "text" => {
            required(m, "/text/body", "text.body", 4096)?;
            match m.pointer("/text/preview_url") {
                None | Some(Value::Bool(_)) => Ok(()),
                Some(_) => Err("`text.preview_url` must be true or false".to_owned()),
            }
        }
        "image" | "video" | "audio" | "document" | "sticker" => media(kind, m),
        "interactive" => interactive(m),
        "reaction" => {
            required(m, "/reaction/message_id", "reaction.message_id", 512)?;
            if m.get("context").is_some() {
                return Err("a reaction cannot be sent as a contextual reply".to_owned());
            }
            match m.pointer("/reaction/emoji") {
                None | Some(Value::String(_)) => Ok(()),
                Some(_) => {
                    Err("`reaction.emoji` must be a string (empty removes the reaction)".to_owned())
                }
            }
        }
        "location" => {
            for (key, range) in [("latitude", 90.0), ("longitude", 180.0)] {
                let value = m.pointer(&format!("/location/{key}"));
                let number = value.and_then(|v| {
                    v.as_f64()
                        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                });
                match number {
                    Some(x) if (-range..=range).contains(&x) => {}
                    _ => {
                        return Err(format!(
                            "`location.{key}` must be a number between -{range} and {range}"
                        ));
                    }
                }
            }
            optional(m, "/location/name", "location.name", 1000)?;
            optional(m, "/location/address", "location.address", 1000)
        }
        "contacts" => {
            let contacts = m
                .get("contacts")
                .and_then(Value::as_array)
                .filter(|c| !c.is_empty())
                .ok_or("`contacts` must be a non-empty array")?;
            for (i, c) in contacts.iter().enumerate() {
                if text_at(c, "/name/formatted_name").is_none_or(|s| s.trim().is_empty()) {
                    return Err(format!("`contacts[{i}].name.formatted_name` is required"));
                }
            }
            Ok(())
        }
        other => Err(format!(
            "the sandbox does not emulate `{other}` messages; it emulates text, image, video, \
             audio, document, sticker, interactive (button, list, cta_url), reaction, location, \
             contacts and template"
        )),
    }
}

fn media(kind: &str, m: &Value) -> Result<(), Refusal> {
    let object = m
        .get(kind)
        .filter(|o| o.is_object())
        .ok_or_else(|| format!("a {kind} message needs a `{kind}` object"))?;
    let id = object.get("id").and_then(Value::as_str);
    let link = object.get("link").and_then(Value::as_str);
    match (id, link) {
        (Some(_), Some(_)) => return Err(format!("give `{kind}.id` or `{kind}.link`, not both")),
        (None, None) => return Err(format!("`{kind}.id` or `{kind}.link` is required")),
        (None, Some(l)) if !is_http_url(l) => {
            return Err(format!("`{kind}.link` must be an http(s) URL"));
        }
        _ => {}
    }
    let pointer = format!("/{kind}/caption");
    match kind {
        "audio" | "sticker" if m.pointer(&pointer).is_some() => {
            Err(format!("a {kind} message has no caption"))
        }
        _ => optional(m, &pointer, &format!("{kind}.caption"), 1024),
    }
}

fn interactive(m: &Value) -> Result<(), Refusal> {
    let kind = text_at(m, "/interactive/type").ok_or("`interactive.type` is required")?;
    optional(m, "/interactive/footer/text", "interactive.footer.text", 60)?;
    match kind {
        "button" => {
            required(m, "/interactive/body/text", "interactive.body.text", 1024)?;
            if text_at(m, "/interactive/header/type") == Some("text") {
                required(m, "/interactive/header/text", "interactive.header.text", 60)?;
            }
            let buttons = m
                .pointer("/interactive/action/buttons")
                .and_then(Value::as_array)
                .ok_or("`interactive.action.buttons` is required")?;
            if buttons.is_empty() || buttons.len() > 3 {
                return Err(format!(
                    "reply buttons: 1 to 3 are allowed, {} given",
                    buttons.len()
                ));
            }
            let mut titles = Vec::new();
            for (i, b) in buttons.iter().enumerate() {
                required(b, "/reply/id", &format!("buttons[{i}].reply.id"), 256)?;
                required(b, "/reply/title", &format!("buttons[{i}].reply.title"), 20)?;
                let title = text_at(b, "/reply/title").unwrap_or_default();
                if titles.contains(&title) {
                    return Err(format!("button titles must be unique: {title:?} twice"));
                }
                titles.push(title);
            }
            Ok(())
        }
        "list" => {
            required(m, "/interactive/body/text", "interactive.body.text", 4096)?;
            optional(m, "/interactive/header/text", "interactive.header.text", 60)?;
            required(
                m,
                "/interactive/action/button",
                "interactive.action.button",
                20,
            )?;
            let sections = m
                .pointer("/interactive/action/sections")
                .and_then(Value::as_array)
                .filter(|s| !s.is_empty())
                .ok_or("`interactive.action.sections` must be a non-empty array")?;
            if sections.len() > 10 {
                return Err(format!("at most 10 sections, {} given", sections.len()));
            }
            let mut rows = 0;
            for (i, s) in sections.iter().enumerate() {
                if sections.len() > 1 {
                    required(s, "/title", &format!("sections[{i}].title"), 24)?;
                } else {
                    optional(s, "/title", &format!("sections[{i}].title"), 24)?;
                }
                for (j, r) in s
                    .get("rows")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    rows += 1;
                    required(r, "/id", &format!("sections[{i}].rows[{j}].id"), 200)?;
                    required(r, "/title", &format!("sections[{i}].rows[{j}].title"), 24)?;
                    optional(
                        r,
                        "/description",
                        &format!("sections[{i}].rows[{j}].description"),
                        72,
                    )?;
                }
            }
            if rows == 0 || rows > 10 {
                return Err(format!(
                    "a list holds 1 to 10 rows across all sections, {rows} given"
                ));
            }
            Ok(())
        }
        "cta_url" => {
            required(m, "/interactive/body/text", "interactive.body.text", 1024)?;
            required(
                m,
                "/interactive/action/parameters/display_text",
                "interactive.action.parameters.display_text",
                20,
            )?;
            match text_at(m, "/interactive/action/parameters/url") {
                Some(u) if is_http_url(u) => Ok(()),
                _ => Err("`interactive.action.parameters.url` must be an http(s) URL".to_owned()),
            }
        }
        other => Err(format!(
            "the sandbox does not emulate interactive `{other}` messages; it emulates button, list and cta_url"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_bodies_are_required_and_limited() {
        assert!(
            check(
                "text",
                &json!({"text": {"body": "hi", "preview_url": true}})
            )
            .is_ok()
        );
        assert!(check("text", &json!({"text": {"body": ""}})).is_err());
        assert!(check("text", &json!({"text": {"body": "x".repeat(4097)}})).is_err());
        assert!(
            check(
                "text",
                &json!({"text": {"body": "x", "preview_url": "yes"}})
            )
            .is_err()
        );
    }

    #[test]
    fn media_go_by_id_or_by_link_and_only_some_have_captions() {
        assert!(
            check(
                "image",
                &json!({"image": {"id": "1", "caption": "receipt"}})
            )
            .is_ok()
        );
        assert!(
            check(
                "document",
                &json!({"document": {"link": "https://e.x/a.pdf", "filename": "a.pdf"}})
            )
            .is_ok()
        );
        assert!(
            check(
                "image",
                &json!({"image": {"id": "1", "link": "https://e.x/a.jpg"}})
            )
            .is_err()
        );
        assert!(check("image", &json!({"image": {}})).is_err());
        assert!(check("video", &json!({"video": {"link": "ftp://e.x/a.mp4"}})).is_err());
        assert!(check("audio", &json!({"audio": {"id": "1", "caption": "no"}})).is_err());
        assert!(
            check(
                "image",
                &json!({"image": {"id": "1", "caption": "x".repeat(1025)}})
            )
            .is_err()
        );
    }

    #[test]
    fn reply_buttons_are_one_to_three_with_short_unique_titles() {
        let buttons = |n: usize| {
            let b: Vec<Value> = (0..n)
                .map(|i| json!({"type": "reply", "reply": {"id": format!("b{i}"), "title": format!("Option {i}")}}))
                .collect();
            json!({"interactive": {"type": "button", "body": {"text": "Choose"}, "action": {"buttons": b}}})
        };
        assert!(check("interactive", &buttons(3)).is_ok());
        assert!(check("interactive", &buttons(4)).is_err());
        assert!(check("interactive", &buttons(0)).is_err());
        let long = json!({"interactive": {"type": "button", "body": {"text": "Choose"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "a", "title": "A title far too long to fit"}}]}}});
        assert!(check("interactive", &long).is_err());
        let twice = json!({"interactive": {"type": "button", "body": {"text": "Choose"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "a", "title": "Same"}}, {"type": "reply", "reply": {"id": "b", "title": "Same"}}]}}});
        assert!(check("interactive", &twice).is_err());
    }

    #[test]
    fn lists_hold_at_most_ten_rows_across_sections() {
        let list = |rows_per_section: &[usize]| {
            let sections: Vec<Value> = rows_per_section
                .iter()
                .enumerate()
                .map(|(i, &n)| {
                    let rows: Vec<Value> = (0..n)
                        .map(|j| json!({"id": format!("r{i}-{j}"), "title": "Row", "description": "Next day"}))
                        .collect();
                    json!({"title": format!("Section {i}"), "rows": rows})
                })
                .collect();
            json!({"interactive": {"type": "list", "body": {"text": "Pick"}, "action": {"button": "Options", "sections": sections}}})
        };
        assert!(check("interactive", &list(&[4, 6])).is_ok());
        assert!(check("interactive", &list(&[5, 6])).is_err());
        assert!(check("interactive", &list(&[0])).is_err());
    }

    #[test]
    fn other_kinds() {
        assert!(
            check(
                "reaction",
                &json!({"reaction": {"message_id": "wamid.x", "emoji": "👍"}})
            )
            .is_ok()
        );
        assert!(
            check(
                "reaction",
                &json!({"reaction": {"message_id": "wamid.x", "emoji": ""}})
            )
            .is_ok()
        );
        assert!(check("reaction", &json!({"reaction": {"message_id": "wamid.x"}, "context": {"message_id": "wamid.y"}})).is_err());
        assert!(
            check(
                "location",
                &json!({"location": {"latitude": 48.85, "longitude": "2.35"}})
            )
            .is_ok()
        );
        assert!(
            check(
                "location",
                &json!({"location": {"latitude": 91, "longitude": 2}})
            )
            .is_err()
        );
        assert!(
            check(
                "contacts",
                &json!({"contacts": [{"name": {"formatted_name": "Ana"}}]})
            )
            .is_ok()
        );
        assert!(check("contacts", &json!({"contacts": [{"name": {}}]})).is_err());
        assert!(check("cta_url", &json!({})).is_err());
        let cta = json!({"interactive": {"type": "cta_url", "body": {"text": "Track it"},
            "action": {"name": "cta_url", "parameters": {"display_text": "Track", "url": "https://e.x/t/1"}}}});
        assert!(check("interactive", &cta).is_ok());
    }
}
