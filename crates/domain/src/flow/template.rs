//! Texts with `{{path}}` placeholders filled from the conversation's variables: `{{order}}`,
//! `{{order_info.status}}`, `{{customer.name}}`, `{{slots.0.label}}`.

use serde_json::Value;

use super::Vars;

/// The `{{…}}` placeholders of a text (their contents, trimmed), in order, repeats included.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push(after[..end].trim());
        rest = &after[end + 2..];
    }
    out
}

/// The value at a dotted path (`a.b.0.c`), if there is one.
pub(crate) fn lookup<'v>(vars: &'v Vars, path: &str) -> Option<&'v Value> {
    let mut parts = path.split('.');
    let mut value = vars.get(parts.next()?)?;
    for part in parts {
        value = match value {
            Value::Object(map) => map.get(part)?,
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// A value as text: strings as they are, numbers and booleans written out, nothing for
/// missing values and null, JSON for the rest.
pub(crate) fn as_text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(other) => other.to_string(),
    }
}

/// `text` with every placeholder replaced by its value (empty if it has none), each value passed
/// through `escape` (for a URL path, the value's percent-encoding).
pub(crate) fn fill_with(text: &str, vars: &Vars, escape: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push_str(&rest[..start]);
        out.push_str(&escape(&as_text(lookup(vars, after[..end].trim()))));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

pub(crate) fn fill(text: &str, vars: &Vars) -> String {
    fill_with(text, vars, str::to_owned)
}

/// Everything but RFC 3986's unreserved characters, percent-encoded.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A value for a URL path segment: everything but unreserved characters percent-encoded, so that
/// a customer's text can never add a segment, a query or a fragment.
pub(crate) fn path_segment(value: &str) -> String {
    // `.` and `..` alone would still climb the path.
    if value == "." || value == ".." {
        return value.replace('.', "%2E");
    }
    percent_encoding::utf8_percent_encode(value, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Vars {
        let mut v = Vars::new();
        v.insert("order".into(), json!("AB123"));
        v.insert(
            "info".into(),
            json!({"status": "shipped", "items": [{"name": "kettle"}], "n": 3, "ok": true}),
        );
        v
    }

    #[test]
    fn fills_paths_and_leaves_missing_values_empty() {
        let v = vars();
        assert_eq!(
            fill(
                "Order {{order}} is {{ info.status }}: {{info.items.0.name}} ×{{info.n}} {{info.ok}}",
                &v
            ),
            "Order AB123 is shipped: kettle ×3 true"
        );
        assert_eq!(fill("[{{nothing.here}}]", &v), "[]");
        assert_eq!(fill("unclosed {{order", &v), "unclosed {{order");
        assert_eq!(placeholders("{{a}} and {{ b.c }}"), ["a", "b.c"]);
    }

    #[test]
    fn path_segments_cannot_escape_their_segment() {
        assert_eq!(path_segment("AB 12/../x?y#z"), "AB%2012%2F..%2Fx%3Fy%23z");
        assert_eq!(path_segment(".."), "%2E%2E");
        assert_eq!(path_segment("é"), "%C3%A9");
    }
}
