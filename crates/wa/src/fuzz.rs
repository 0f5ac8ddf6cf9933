//! The properties the fuzz targets check (feature `fuzzing`), shared with the test that replays
//! their corpus on every CI run. Each function panics when a property fails, which is what a
//! fuzzer looks for; none may panic on its own.

use crate::{phone, send, signature, webhook};

/// Any bytes: parsing never panics, and the cheap envelope check the endpoint runs before
/// storing agrees with the full parse ingest runs later.
pub fn webhook(data: &[u8]) {
    let parsed = webhook::parse(data);
    let checked = webhook::check_envelope(data);
    assert_eq!(
        parsed.is_ok(),
        checked.is_ok(),
        "check_envelope and parse disagree"
    );
    if let Ok((notification, report)) = parsed {
        for entry in &notification.entry {
            for change in &entry.changes {
                if let webhook::ChangeValue::Messages(v) = &change.value {
                    for m in &v.messages {
                        assert!(!m.id.is_empty(), "a message without id was accepted");
                        let _ = m.content.preview();
                    }
                }
            }
        }
        let _ = report.is_clean();
    }
}

/// A header and a body: verification never panics, accepts only the exact signature, and a
/// signature made here always verifies.
pub fn signature(data: &[u8]) {
    let split = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let (header, body) = data.split_at(split);
    let header = String::from_utf8_lossy(header);
    let secret = b"fuzz-secret";
    let good = signature::sign(secret, body);
    let verdict = signature::verify(secret, body, Some(&header));
    assert_eq!(
        verdict.is_ok(),
        header == good,
        "accepted a signature that is not the exact one"
    );
    assert!(signature::verify(secret, body, Some(&good)).is_ok());
    let _ = signature::verify_any([&secret[..], b""], body, Some(&header));
    let escaped = signature::escape_non_ascii(&String::from_utf8_lossy(body));
    assert!(escaped.is_ascii(), "escape_non_ascii left non-ASCII");
}

/// Any text as a phone number: parsing never panics, what it accepts is E.164, and the masked
/// form never shows more than the calling code and the last two digits.
pub fn phone(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for parsed in [
        phone::from_wa_id(&text),
        phone::parse_dialled(&text, Some("33")),
    ] {
        let Ok(number) = parsed else { continue };
        let digits = number.digits();
        assert!(number.as_str().starts_with('+'));
        assert!((phone::MIN_DIGITS..=phone::MAX_DIGITS).contains(&digits.len()));
        assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        let masked = number.masked();
        let shown = masked.bytes().filter(u8::is_ascii_digit).count();
        assert!(
            shown <= number.calling_code().len() + 2,
            "masked shows too much: {masked}"
        );
        let _ = number.match_key();
    }
    let masked = phone::mask_id(&text);
    let shown = masked.bytes().filter(u8::is_ascii_digit).count();
    assert!(shown <= 5, "mask_id shows too much");
}

/// Any bytes as a `/messages` body: parsing never panics and agrees with `Deserialize`; an
/// error names a path and a problem; what parses serialises to a body that parses to the same
/// request, and is a read receipt exactly when it has a `status`.
pub fn send_request(data: &[u8]) {
    let parsed = send::parse_send_request(data);
    let via_serde = serde_json::from_slice::<send::OutboundRequest>(data);
    assert_eq!(
        parsed.is_ok(),
        via_serde.is_ok(),
        "parse_send_request and Deserialize disagree"
    );
    let request = match parsed {
        Ok(request) => request,
        Err(e) => {
            assert!(!e.problem().is_empty(), "an error without a problem");
            assert!(e.path().chars().count() < 1000, "an error path too long");
            let _ = e.to_string();
            return;
        }
    };
    assert_eq!(via_serde.ok().as_ref(), Some(&request));
    let bytes = serde_json::to_vec(&request).expect("a parsed request serialises");
    let again = send::parse_send_request(&bytes);
    assert_eq!(
        again.as_ref(),
        Ok(&request),
        "the serialisation reads back differently"
    );
    let value = serde_json::to_value(&request).expect("a parsed request serialises");
    assert_eq!(
        value.get("status").is_some(),
        matches!(request, send::OutboundRequest::Read(_)),
        "a read receipt is told by its status"
    );
    if let send::OutboundRequest::Message(m) = &request {
        assert_eq!(
            value.get("type").and_then(serde_json::Value::as_str),
            Some(m.body.type_name())
        );
        assert!(
            value.get(m.body.type_name()).is_some(),
            "the content is under its type"
        );
    }
}
