//! The name a download is offered under. A customer's filename is display text written by a
//! stranger: it may hold path separators (`../../.bashrc`), control characters, or bidi overrides
//! that make `invoice<U+202E>fdp.exe` read as `invoiceexe.pdf`. None of that reaches a header or a disk;
//! the file itself is stored under guichet's own name.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Longest name kept, in characters: room for any real name, not for a header-sized one.
const MAX_CHARS: usize = 120;

/// Characters that reorder or hide text: bidi embeddings, overrides and isolates, the
/// directional marks, and zero-width characters.
fn is_invisible_or_bidi(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{061C}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// The customer's filename made safe to offer: its last path component, without control, bidi
/// or invisible characters and without quotes, spaces collapsed, no leading dot, at most
/// [`MAX_CHARS`]; `None` if nothing usable is left.
pub fn sanitise(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut out = String::with_capacity(last.len());
    let mut space = false;
    for c in last.chars() {
        if c.is_control() || is_invisible_or_bidi(c) || matches!(c, '"' | '\'' | ';' | '%') {
            continue;
        }
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    let trimmed = out.trim_start_matches(['.', ' ']);
    let kept: String = trimmed.chars().take(MAX_CHARS).collect();
    let kept = kept.trim_end().to_owned();
    (!kept.is_empty() && kept.chars().any(char::is_alphanumeric)).then_some(kept)
}

/// The name a media is offered under: the customer's, made safe, or guichet's own
/// (`image-42.jpg`) when there is none.
pub fn download_name(
    customer: Option<&str>,
    kind: &str,
    id: i64,
    extension: Option<&str>,
) -> String {
    customer.and_then(sanitise).unwrap_or_else(|| {
        let stem = if kind.bytes().all(|b| b.is_ascii_lowercase()) && !kind.is_empty() {
            kind
        } else {
            "media"
        };
        match extension {
            Some(ext) => format!("{stem}-{id}.{ext}"),
            None => format!("{stem}-{id}"),
        }
    })
}

/// RFC 8187 `attr-char`: what `filename*` keeps unencoded.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `Content-Disposition` for a name already sanitised (RFC 6266): `filename="…"` in ASCII
/// (other characters as `_`), plus `filename*=UTF-8''…` when the name is not all ASCII.
pub fn content_disposition(disposition: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .filter(|c| !matches!(c, '"' | '\\'))
        .collect();
    if ascii == name {
        format!("{disposition}; filename=\"{ascii}\"")
    } else {
        format!(
            "{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{}",
            utf8_percent_encode(name, ATTR_CHAR)
        )
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn names_lose_paths_controls_and_bidi_tricks() {
        assert_eq!(
            sanitise("facture mars.pdf").as_deref(),
            Some("facture mars.pdf")
        );
        assert_eq!(sanitise("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(
            sanitise("C:\\Users\\x\\evil.exe").as_deref(),
            Some("evil.exe")
        );
        assert_eq!(sanitise(".bashrc").as_deref(), Some("bashrc"));
        assert_eq!(
            sanitise("invoice\u{202E}fdp.exe").as_deref(),
            Some("invoicefdp.exe"),
            "a right-to-left override would show it as invoiceexe.pdf"
        );
        assert_eq!(
            sanitise("a\r\nSet-Cookie: x=1").as_deref(),
            Some("aSet-Cookie: x=1")
        );
        assert_eq!(sanitise("say \"hi\".txt").as_deref(), Some("say hi.txt"));
        assert_eq!(
            sanitise("  many   spaces  .txt ").as_deref(),
            Some("many spaces .txt")
        );
        assert_eq!(sanitise("reçu été.pdf").as_deref(), Some("reçu été.pdf"));
        assert_eq!(sanitise("../"), None);
        assert_eq!(sanitise("\u{202E}\u{200B}"), None);
        assert_eq!(
            sanitise(&"a".repeat(500)).map(|n| n.chars().count()),
            Some(MAX_CHARS)
        );
    }

    #[test]
    fn a_media_without_a_name_gets_guichets_own() {
        assert_eq!(
            download_name(None, "image", 42, Some("jpg")),
            "image-42.jpg"
        );
        assert_eq!(download_name(Some("/"), "document", 7, None), "document-7");
        assert_eq!(download_name(None, "../x", 7, Some("bin")), "media-7.bin");
        assert_eq!(
            download_name(Some("cv.pdf"), "document", 7, Some("pdf")),
            "cv.pdf"
        );
    }

    #[test]
    fn non_ascii_names_go_in_filename_star() {
        assert_eq!(
            content_disposition("attachment", "cv.pdf"),
            "attachment; filename=\"cv.pdf\""
        );
        assert_eq!(
            content_disposition("attachment", "reçu été.pdf"),
            "attachment; filename=\"re_u _t_.pdf\"; filename*=UTF-8''re%C3%A7u%20%C3%A9t%C3%A9.pdf"
        );
    }

    proptest! {
        #[test]
        fn sanitised_names_are_safe_and_stable(name in "\\PC{0,300}|[./\\\\\u{202E}\u{200F}\"a-z\r\n ]{0,40}") {
            if let Some(safe) = sanitise(&name) {
                prop_assert!(!safe.contains(['/', '\\', '"']), "{:?}", safe);
                prop_assert!(!safe.chars().any(|c| c.is_control() || is_invisible_or_bidi(c)), "{:?}", safe);
                prop_assert!(!safe.starts_with('.') && !safe.starts_with(' ') && !safe.ends_with(' '));
                prop_assert!(safe.chars().count() <= MAX_CHARS);
                prop_assert_eq!(sanitise(&safe), Some(safe.clone()), "sanitising twice changes nothing");
                let header = content_disposition("attachment", &safe);
                prop_assert!(axum::http::HeaderValue::from_str(&header).is_ok(), "{:?}", header);
                prop_assert!(header.is_ascii());
            }
        }
    }
}
