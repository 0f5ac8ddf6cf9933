//! Message templates: created PENDING, then APPROVED or REJECTED by explicit rules, with Meta's
//! template webhooks; and the check of a template send against the approved template
//! (cloud-api.md §3.2, §5.6, §6.4, §6.5).
//!
//! The review rules, applied five emulated seconds after creation:
//! - a body that starts or ends with a placeholder is REJECTED (`INVALID_FORMAT`), as Meta does;
//! - a name that contains `reject` is REJECTED (`PROMOTIONAL`), so that clients can test it;
//! - anything else is APPROVED.

use serde::Serialize;
use serde_json::{Value, json};

use crate::rules::Category;

/// How long review takes, in emulated milliseconds.
pub const REVIEW_MS: i64 = 5_000;

#[derive(Debug, Clone, Serialize)]
pub struct Template {
    pub id: String,
    pub name: String,
    pub language: String,
    pub category: String,
    pub status: String,
    pub parameter_format: String,
    pub components: Value,
    #[serde(skip)]
    pub waba_id: String,
    #[serde(skip)]
    pub review_at_ms: i64,
}

impl Template {
    pub fn pricing_category(&self) -> Category {
        match self.category.as_str() {
            "MARKETING" => Category::Marketing,
            "AUTHENTICATION" => Category::Authentication,
            _ => Category::Utility,
        }
    }

    fn component(&self, kind: &str) -> Option<&Value> {
        self.components.as_array()?.iter().find(|c| {
            c.get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case(kind))
        })
    }

    fn body_text(&self) -> &str {
        self.component("body")
            .and_then(|b| b.get("text"))
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The placeholders of the body, in order: `1`, `2`… or names.
    pub fn body_placeholders(&self) -> Vec<String> {
        placeholders(self.body_text())
    }

    /// The media format of the header (IMAGE, VIDEO, DOCUMENT), if it has one.
    fn header_media(&self) -> Option<String> {
        let format = self.component("header")?.get("format")?.as_str()?;
        let format = format.to_ascii_uppercase();
        matches!(format.as_str(), "IMAGE" | "VIDEO" | "DOCUMENT").then_some(format)
    }

    /// The text of the `index`-th button of the template.
    pub fn button_text(&self, index: usize) -> Option<String> {
        self.component("buttons")?
            .get("buttons")?
            .as_array()?
            .get(index)?
            .get("text")?
            .as_str()
            .map(str::to_owned)
    }

    /// The verdict of review: the status and Meta's reason.
    pub fn review(&self) -> (&'static str, &'static str) {
        let body = self.body_text().trim();
        if body.starts_with("{{") || body.ends_with("}}") {
            ("REJECTED", "INVALID_FORMAT")
        } else if self.name.contains("reject") {
            ("REJECTED", "PROMOTIONAL")
        } else {
            ("APPROVED", "NONE")
        }
    }

    /// The `message_template_status_update` webhook value for the current status.
    pub fn status_update(&self, reason: &str) -> Value {
        json!({
            "event": self.status,
            // A number in Meta's webhooks, where the Graph API gives ids as strings.
            "message_template_id": self.id.parse::<u64>().map_or_else(|_| json!(self.id), |n| json!(n)),
            "message_template_name": self.name,
            "message_template_language": self.language,
            "message_template_category": self.category,
            "reason": reason,
        })
    }
}

/// `{{1}}`, `{{first_name}}`: what is between double braces, in order.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push(after[..end].trim().to_owned());
        rest = &after[end + 2..];
    }
    out
}

/// Why a new template is refused at creation.
pub fn check_new(name: &str, category: &str, language: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 512 {
        return Err("`name` must have 1 to 512 characters".to_owned());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(format!(
            "`name` {name:?} may only hold lowercase letters, digits and underscores"
        ));
    }
    if !matches!(category, "MARKETING" | "UTILITY" | "AUTHENTICATION") {
        return Err(format!(
            "`category` {category:?} must be MARKETING, UTILITY or AUTHENTICATION"
        ));
    }
    if language.is_empty() {
        return Err("`language` is required (e.g. en_US)".to_owned());
    }
    Ok(())
}

/// A template send that does not fit its template: Meta's code and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub code: i64,
    pub details: String,
}

fn mismatch(code: i64, details: impl Into<String>) -> Mismatch {
    Mismatch {
        code,
        details: details.into(),
    }
}

/// The components of a send, by type, whatever the case of the names.
fn sent_component<'a>(components: &'a [Value], kind: &str) -> Option<&'a Value> {
    components.iter().find(|c| {
        c.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case(kind))
    })
}

/// Checks the `template` object of a send against the approved template.
pub fn check_send(template: &Template, sent: &Value) -> Result<(), Mismatch> {
    let components: Vec<Value> = sent
        .get("components")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let expected = template.body_placeholders();
    let params: Vec<Value> = sent_component(&components, "body")
        .and_then(|b| b.get("parameters"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if params.len() != expected.len() {
        return Err(mismatch(
            132_000,
            format!(
                "body: the template has {} parameter(s), the message gives {}",
                expected.len(),
                params.len()
            ),
        ));
    }
    let named = template.parameter_format == "NAMED";
    for (i, (p, name)) in params.iter().zip(&expected).enumerate() {
        if p.get("type").and_then(Value::as_str) != Some("text")
            && !matches!(
                p.get("type").and_then(Value::as_str),
                Some("currency" | "date_time")
            )
        {
            return Err(mismatch(
                132_012,
                format!("body parameter {}: expected type `text`", i + 1),
            ));
        }
        if p.get("type").and_then(Value::as_str) == Some("text")
            && p.get("text")
                .and_then(Value::as_str)
                .is_none_or(|t| t.trim().is_empty())
        {
            return Err(mismatch(
                132_000,
                format!("body parameter {} has no text", i + 1),
            ));
        }
        if named {
            let given = p.get("parameter_name").and_then(Value::as_str);
            if given != Some(name.as_str()) {
                return Err(mismatch(
                    132_000,
                    format!(
                        "body parameter {}: expected `parameter_name` {name:?}, got {given:?}",
                        i + 1
                    ),
                ));
            }
        }
    }
    if let Some(format) = template.header_media() {
        let kind = format.to_ascii_lowercase();
        let ok = sent_component(&components, "header")
            .and_then(|h| h.get("parameters"))
            .and_then(Value::as_array)
            .and_then(|ps| ps.first())
            .is_some_and(|p| {
                p.get("type").and_then(Value::as_str) == Some(kind.as_str())
                    && p.get(&kind)
                        .is_some_and(|m| m.get("id").is_some() || m.get("link").is_some())
            });
        if !ok {
            return Err(mismatch(
                132_012,
                format!(
                    "header: the template has a {format} header; give a `{kind}` parameter with an `id` or a `link`"
                ),
            ));
        }
    }
    for button in components.iter().filter(|c| {
        c.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("button"))
    }) {
        let index = match button.get("index") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        if index.is_none_or(|i| i > 9) {
            return Err(mismatch(
                132_012,
                "button: `index` must be 0 to 9, as a number or a string",
            ));
        }
        let sub_type = button
            .get("sub_type")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase);
        if !matches!(
            sub_type.as_deref(),
            Some("quick_reply" | "url" | "copy_code" | "flow" | "catalog" | "otp")
        ) {
            return Err(mismatch(
                132_012,
                "button: `sub_type` must be quick_reply, url, copy_code, flow, catalog or otp",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(body: &str, format: &str, header: Option<&str>) -> Template {
        let mut components = vec![json!({ "type": "BODY", "text": body })];
        if let Some(h) = header {
            components.insert(0, json!({ "type": "HEADER", "format": h }));
        }
        Template {
            id: "1".into(),
            name: "order_update".into(),
            language: "en_US".into(),
            category: "UTILITY".into(),
            status: "APPROVED".into(),
            parameter_format: format.into(),
            components: Value::Array(components),
            waba_id: "w".into(),
            review_at_ms: 0,
        }
    }

    #[test]
    fn placeholders_are_read_in_order() {
        assert_eq!(placeholders("Hi {{1}}, order {{2}} ships"), ["1", "2"]);
        assert_eq!(placeholders("Hi {{ first_name }}!"), ["first_name"]);
        assert!(placeholders("no {{ end").is_empty());
    }

    #[test]
    fn review_rejects_placeholders_at_the_edges_and_names_that_ask_for_it() {
        assert_eq!(
            template("{{1}} is ready", "POSITIONAL", None).review().0,
            "REJECTED"
        );
        assert_eq!(
            template("Ready: {{1}}", "POSITIONAL", None).review().0,
            "REJECTED"
        );
        assert_eq!(
            template("Order {{1}} is ready.", "POSITIONAL", None).review(),
            ("APPROVED", "NONE")
        );
        let mut t = template("Order {{1}} is ready.", "POSITIONAL", None);
        t.name = "please_reject_me".into();
        assert_eq!(t.review(), ("REJECTED", "PROMOTIONAL"));
    }

    #[test]
    fn names_and_categories_are_checked_at_creation() {
        assert!(check_new("order_update", "UTILITY", "en_US").is_ok());
        assert!(check_new("Order-Update", "UTILITY", "en_US").is_err());
        assert!(check_new("order_update", "SERVICE", "en_US").is_err());
        assert!(check_new("", "UTILITY", "en_US").is_err());
        assert!(check_new("x", "MARKETING", "").is_err());
    }

    #[test]
    fn parameter_count_and_names_must_match() {
        let t = template("Hi {{1}}, order {{2}} ships.", "POSITIONAL", None);
        let ok = json!({ "components": [{ "type": "body", "parameters": [
            { "type": "text", "text": "Ana" }, { "type": "text", "text": "42" }] }] });
        assert_eq!(check_send(&t, &ok), Ok(()));
        let short = json!({ "components": [{ "type": "BODY", "parameters": [
            { "type": "text", "text": "Ana" }] }] });
        assert_eq!(check_send(&t, &short).map_err(|m| m.code), Err(132_000));
        assert_eq!(check_send(&t, &json!({})).map_err(|m| m.code), Err(132_000));

        let named = template("Hi {{first_name}}, welcome.", "NAMED", None);
        let good = json!({ "components": [{ "type": "body", "parameters": [
            { "type": "text", "text": "Ana", "parameter_name": "first_name" }] }] });
        assert_eq!(check_send(&named, &good), Ok(()));
        let bad = json!({ "components": [{ "type": "body", "parameters": [
            { "type": "text", "text": "Ana", "parameter_name": "name" }] }] });
        assert_eq!(check_send(&named, &bad).map_err(|m| m.code), Err(132_000));
    }

    #[test]
    fn a_media_header_needs_its_media_and_buttons_their_index() {
        let t = template("Your receipt, {{1}}.", "POSITIONAL", Some("IMAGE"));
        let body = json!({ "type": "body", "parameters": [{ "type": "text", "text": "Ana" }] });
        let without = json!({ "components": [body] });
        assert_eq!(check_send(&t, &without).map_err(|m| m.code), Err(132_012));
        let with = json!({ "components": [
            { "type": "HEADER", "parameters": [{ "type": "image", "image": { "link": "https://e.x/a.jpg" } }] },
            body,
            { "type": "button", "sub_type": "QUICK_REPLY", "index": "0", "parameters": [{ "type": "payload", "payload": "ok" }] },
            { "type": "BUTTON", "sub_type": "url", "index": 1, "parameters": [{ "type": "text", "text": "42" }] }
        ] });
        assert_eq!(check_send(&t, &with), Ok(()));
        let bad_index = json!({ "components": [
            { "type": "header", "parameters": [{ "type": "image", "image": { "id": "1" } }] },
            { "type": "body", "parameters": [{ "type": "text", "text": "Ana" }] },
            { "type": "button", "sub_type": "url", "index": "x" }
        ] });
        assert_eq!(check_send(&t, &bad_index).map_err(|m| m.code), Err(132_012));
    }
}
