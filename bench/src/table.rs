//! What the table tools share: `KEY=VALUE` arguments, numbers with thousands separators, and the
//! description of the run under the table.

use std::fmt::Write as _;

/// Parses a `KEY=VALUE` argument.
pub fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

/// A rate rounded to a whole number, with `,` between thousands.
#[must_use]
pub fn thousands(x: f64) -> String {
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "rates are small positive numbers"
    )]
    let n = x.round().max(0.0) as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The "Run:" list of facts about the run (machine, versions, command), in order.
pub fn push_run(md: &mut String, meta: &[(String, String)]) {
    if meta.is_empty() {
        return;
    }
    md.push_str("\nRun:\n\n");
    for (key, value) in meta {
        // Writing to a String cannot fail.
        let _ = writeln!(md, "- {key}: {value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(90_057.3), "90,057");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
    }

    #[test]
    fn key_values() {
        assert_eq!(key_value("a=b=c"), Ok(("a".to_owned(), "b=c".to_owned())));
        assert!(key_value("nothing").is_err());
    }
}
