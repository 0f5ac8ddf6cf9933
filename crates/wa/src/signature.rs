//! The `X-Hub-Signature-256` header that Meta puts on every webhook POST (cloud-api.md §1.2).
//!
//! The header is `sha256=` followed by the lowercase hex HMAC-SHA256 of the **raw request body
//! bytes**, keyed with the App Secret of the Meta app that subscribed. The check must run on the
//! bytes exactly as received, before any JSON parsing: re-serialised JSON, or a body whose `\uXXXX`
//! escapes were decoded, no longer matches (cloud-api.md §10.1). [`escape_non_ascii`] produces the
//! escaped form Meta signs, so that the emulator's bodies fail in the same way a real gateway would.
//!
//! The parser is strict on purpose: Meta always sends exactly one form, so anything else is either
//! not from Meta or was rewritten on the way, and both are worth an operator's attention.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::{ConditionallySelectable, ConstantTimeEq};

/// The header name, lowercase as HTTP/2 and the `http` crate spell it.
pub const HEADER: &str = "x-hub-signature-256";

/// The scheme prefix. Legacy `X-Hub-Signature: sha1=…` is a different header and not accepted here.
const PREFIX: &str = "sha256=";

const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";

/// Length of a SHA-256 digest written in hex.
const HEX_LEN: usize = 64;

type HmacSha256 = Hmac<Sha256>;

/// Why a webhook POST was refused. Each message is shown to an operator, so it says what to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error(
        "the request has no X-Hub-Signature-256 header: Meta signs every webhook, so either the \
         request did not come from Meta or a proxy in front of guichet dropped the header"
    )]
    Missing,
    #[error(
        "the X-Hub-Signature-256 header is malformed ({why}): Meta sends `sha256=` followed by \
         64 lowercase hex characters; check that the request comes from Meta and that no proxy \
         rewrites the header"
    )]
    Malformed { why: &'static str },
    #[error(
        "the X-Hub-Signature-256 does not match the body: check that the app secret configured in \
         guichet is the one of the Meta app that sends these webhooks, and that nothing between \
         Meta and guichet re-encodes the body"
    )]
    Mismatch,
    #[error(
        "no app secret is configured, so no webhook can be trusted: set the App Secret of the Meta \
         app (App Dashboard > App settings > Basic) in guichet's configuration"
    )]
    EmptySecret,
}

/// The header value Meta would send for `body`: `sha256=<64 lowercase hex>`.
///
/// An empty secret still produces a value (HMAC accepts any key), but [`verify`] never accepts it.
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    let tag = mac(app_secret, body).finalize().into_bytes();
    format!("{PREFIX}{}", hex::encode(tag))
}

/// Checks `header` against `body` for one app. Constant time in the comparison of the digests.
pub fn verify(app_secret: &[u8], body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    if app_secret.is_empty() {
        return Err(SignatureError::EmptySecret);
    }
    let expected = parse_header(header)?;
    // `verify_slice` compares with `subtle`, so timing does not reveal how many bytes matched.
    mac(app_secret, body)
        .verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// Checks `header` against the secrets of every Meta app allowed to post to this guichet and
/// returns the index of the one that signed the body.
///
/// Every secret's MAC is computed and compared, even after a match, so the response time does not
/// reveal which app matched. Empty secrets are skipped (they can never match); if no non-empty
/// secret is given the answer is [`SignatureError::EmptySecret`].
pub fn verify_any<'a>(
    app_secrets: impl IntoIterator<Item = &'a [u8]>,
    body: &[u8],
    header: Option<&str>,
) -> Result<usize, SignatureError> {
    let secrets: Vec<&[u8]> = app_secrets.into_iter().collect();
    if secrets.iter().all(|secret| secret.is_empty()) {
        return Err(SignatureError::EmptySecret);
    }
    let expected = parse_header(header)?;
    let mut found = subtle::Choice::from(0);
    let mut index = 0u64;
    for (i, secret) in secrets.iter().enumerate() {
        if secret.is_empty() {
            continue;
        }
        let tag = mac(secret, body).finalize().into_bytes();
        let matches = tag.as_slice().ct_eq(&expected);
        // Keep the first match without branching on it.
        index.conditional_assign(&(i as u64), matches & !found);
        found |= matches;
    }
    if bool::from(found) {
        usize::try_from(index).map_err(|_| SignatureError::Mismatch)
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Rewrites every non-ASCII character of a JSON text as `\uXXXX` (lowercase hex, UTF-16 surrogate
/// pairs outside the Basic Multilingual Plane), the form over which Meta computes the signature
/// (cloud-api.md §1.2: "äöå" is signed as `\u00e4\u00f6\u00e5`, 😮 as `\ud83d\ude2e`).
///
/// ASCII is copied unchanged, existing escapes included. In valid JSON non-ASCII characters can
/// only occur inside strings, where `\uXXXX` means the same character, so the result parses to
/// the same value.
pub fn escape_non_ascii(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut units = [0u16; 2];
    for ch in json.chars() {
        if ch.is_ascii() {
            out.push(ch);
        } else {
            for &mut unit in ch.encode_utf16(&mut units) {
                out.push_str("\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(char::from(LOWER_HEX[usize::from((unit >> shift) & 0xf)]));
                }
            }
        }
    }
    out
}

/// The MAC state after feeding `body`, ready to finalise or verify.
fn mac(secret: &[u8], body: &[u8]) -> HmacSha256 {
    // HMAC is defined for keys of every length (long keys are hashed, short ones padded), so this
    // constructor cannot fail; the `Result` only exists because `KeyInit` is shared with ciphers.
    let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
        unreachable!("HMAC accepts keys of any length")
    };
    mac.update(body);
    mac
}

/// The 32 digest bytes of a header that has exactly Meta's form, or why it does not.
fn parse_header(header: Option<&str>) -> Result<[u8; 32], SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let Some(hex_digest) = header.strip_prefix(PREFIX) else {
        let why = if header.starts_with("sha1=") {
            "it carries a legacy `sha1=` signature"
        } else {
            "it does not start with `sha256=`"
        };
        return Err(SignatureError::Malformed { why });
    };
    if hex_digest.len() != HEX_LEN {
        return Err(SignatureError::Malformed {
            why: "the digest is not 64 hex characters long",
        });
    }
    // Meta writes lowercase; `hex::decode` would also accept uppercase, so check first.
    if !hex_digest
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(SignatureError::Malformed {
            why: "the digest has a character other than 0-9 and a-f",
        });
    }
    let mut digest = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut digest).map_err(|_| SignatureError::Malformed {
        why: "the digest is not valid hex",
    })?;
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &[u8] = b"a3f1c0ffee-app-secret";
    /// A real-shaped Meta payload (cloud-api.md §1.4, inbound text) with an emoji escaped the way
    /// Meta sends it.
    const BODY: &str = r#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=","timestamp":"1749416383","type":"text","text":{"body":"Does it come in another color? \ud83d\ude2e"}}]},"field":"messages"}]}]}"#;

    fn malformed(result: Result<(), SignatureError>) -> bool {
        matches!(result, Err(SignatureError::Malformed { .. }))
    }

    #[test]
    fn sign_has_meta_form() {
        let header = sign(SECRET, BODY.as_bytes());
        assert!(header.starts_with("sha256="));
        assert_eq!(header.len(), 7 + 64);
        assert!(
            header[7..]
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        );
    }

    #[test]
    fn rfc4231_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn roundtrip() {
        let header = sign(SECRET, BODY.as_bytes());
        assert_eq!(verify(SECRET, BODY.as_bytes(), Some(&header)), Ok(()));
    }

    // T-01: every variant other than the exact-bytes signature is refused.

    #[test]
    fn t01_missing_header() {
        assert_eq!(
            verify(SECRET, BODY.as_bytes(), None),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn t01_sha1_prefix() {
        let header = sign(SECRET, BODY.as_bytes()).replacen("sha256=", "sha1=", 1);
        assert!(malformed(verify(SECRET, BODY.as_bytes(), Some(&header))));
    }

    #[test]
    fn t01_uppercase_hex() {
        let header = sign(SECRET, BODY.as_bytes());
        let upper = format!("sha256={}", header[7..].to_uppercase());
        assert!(malformed(verify(SECRET, BODY.as_bytes(), Some(&upper))));
        let upper_prefix = header.replacen("sha256=", "SHA256=", 1);
        assert!(malformed(verify(
            SECRET,
            BODY.as_bytes(),
            Some(&upper_prefix)
        )));
    }

    #[test]
    fn t01_odd_length_and_truncated_hex() {
        let header = sign(SECRET, BODY.as_bytes());
        assert!(malformed(verify(
            SECRET,
            BODY.as_bytes(),
            Some(&header[..70])
        )));
        assert!(malformed(verify(
            SECRET,
            BODY.as_bytes(),
            Some(&header[..69])
        )));
        let longer = format!("{header}0");
        assert!(malformed(verify(SECRET, BODY.as_bytes(), Some(&longer))));
        assert!(malformed(verify(SECRET, BODY.as_bytes(), Some("sha256="))));
    }

    #[test]
    fn t01_whitespace() {
        let header = sign(SECRET, BODY.as_bytes());
        for bad in [
            format!(" {header}"),
            format!("{header} "),
            header.replacen('=', "= ", 1),
        ] {
            assert!(
                malformed(verify(SECRET, BODY.as_bytes(), Some(&bad))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn t01_reserialised_json() {
        let header = sign(SECRET, BODY.as_bytes());
        let value: serde_json::Value = serde_json::from_str(BODY).unwrap();
        let reserialised = serde_json::to_vec(&value).unwrap();
        assert_ne!(reserialised, BODY.as_bytes());
        assert_eq!(
            verify(SECRET, &reserialised, Some(&header)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn t01_body_changed_by_one_byte() {
        let header = sign(SECRET, BODY.as_bytes());
        let mut body = BODY.as_bytes().to_vec();
        body[100] ^= 0x01;
        assert_eq!(
            verify(SECRET, &body, Some(&header)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn t01_empty_secret() {
        // Even a header that is correct for the empty key is refused.
        let header = sign(b"", BODY.as_bytes());
        assert_eq!(
            verify(b"", BODY.as_bytes(), Some(&header)),
            Err(SignatureError::EmptySecret)
        );
        assert_eq!(
            verify_any([&b""[..]], BODY.as_bytes(), Some(&header)),
            Err(SignatureError::EmptySecret)
        );
        assert_eq!(
            verify_any(std::iter::empty::<&[u8]>(), BODY.as_bytes(), Some(&header)),
            Err(SignatureError::EmptySecret)
        );
    }

    #[test]
    fn wrong_secret_is_a_mismatch() {
        let header = sign(b"another app", BODY.as_bytes());
        assert_eq!(
            verify(SECRET, BODY.as_bytes(), Some(&header)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn verify_any_picks_the_signing_app() {
        let secrets: [&[u8]; 3] = [b"app one", b"", b"app three"];
        let header = sign(b"app three", BODY.as_bytes());
        assert_eq!(verify_any(secrets, BODY.as_bytes(), Some(&header)), Ok(2));
        let stranger = sign(b"app four", BODY.as_bytes());
        assert_eq!(
            verify_any(secrets, BODY.as_bytes(), Some(&stranger)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_any(secrets, BODY.as_bytes(), None),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn verify_any_first_of_duplicates() {
        let secrets: [&[u8]; 3] = [b"x", b"same", b"same"];
        let header = sign(b"same", b"{}");
        assert_eq!(verify_any(secrets, b"{}", Some(&header)), Ok(1));
    }

    #[test]
    fn messages_say_what_to_do() {
        for error in [
            SignatureError::Missing,
            SignatureError::Malformed { why: "x" },
            SignatureError::Mismatch,
            SignatureError::EmptySecret,
        ] {
            let message = error.to_string();
            assert!(message.contains(':'), "{message}");
            assert!(message.len() > 60, "{message}");
        }
    }

    #[test]
    fn escape_accented_and_emoji() {
        assert_eq!(escape_non_ascii("äöå"), r"\u00e4\u00f6\u00e5");
        assert_eq!(escape_non_ascii(r#"{"a":"café"}"#), r#"{"a":"caf\u00e9"}"#);
        assert_eq!(escape_non_ascii("😮"), r"\ud83d\ude2e");
        assert_eq!(escape_non_ascii("你好"), r"\u4f60\u597d");
        // ASCII, existing escapes included, is untouched.
        let ascii = r#"{"a":"\u00e9\n\"x\"","b":[1,2.5,null]}"#;
        assert_eq!(escape_non_ascii(ascii), ascii);
    }

    #[test]
    fn escaped_json_parses_to_the_same_value() {
        let input = r#"{"text":{"body":"Olá, é 😮 — 你好 👍🏽"},"emoji":"👍"}"#;
        let escaped = escape_non_ascii(input);
        assert!(escaped.is_ascii());
        let before: serde_json::Value = serde_json::from_str(input).unwrap();
        let after: serde_json::Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(before, after);
    }

    #[test]
    fn signature_is_over_the_escaped_form() {
        // What the emulator must reproduce: a receiver that decodes the escapes fails the check.
        let raw = r#"{"body":"é"}"#;
        let sent = escape_non_ascii(raw);
        let header = sign(SECRET, sent.as_bytes());
        assert_eq!(verify(SECRET, sent.as_bytes(), Some(&header)), Ok(()));
        assert_eq!(
            verify(SECRET, raw.as_bytes(), Some(&header)),
            Err(SignatureError::Mismatch)
        );
    }

    proptest! {
        #[test]
        fn prop_roundtrip(secret in prop::collection::vec(any::<u8>(), 1..100),
                          body in prop::collection::vec(any::<u8>(), 0..600)) {
            let header = sign(&secret, &body);
            prop_assert_eq!(verify(&secret, &body, Some(&header)), Ok(()));
        }

        #[test]
        fn prop_flipped_body_byte_fails(secret in prop::collection::vec(any::<u8>(), 1..64),
                                        body in prop::collection::vec(any::<u8>(), 1..300),
                                        at in any::<prop::sample::Index>(),
                                        flip in 1u8..=255) {
            let header = sign(&secret, &body);
            let mut changed = body.clone();
            let i = at.index(changed.len());
            changed[i] ^= flip;
            prop_assert_eq!(verify(&secret, &changed, Some(&header)), Err(SignatureError::Mismatch));
        }

        #[test]
        fn prop_changed_hex_char_fails(body in prop::collection::vec(any::<u8>(), 0..300),
                                       at in 0usize..64,
                                       replacement in any::<char>()) {
            let header = sign(SECRET, &body);
            let mut chars: Vec<char> = header.chars().collect();
            prop_assume!(chars[7 + at] != replacement);
            chars[7 + at] = replacement;
            let changed: String = chars.into_iter().collect();
            let result = verify(SECRET, &body, Some(&changed));
            if replacement.is_ascii_digit() || ('a'..='f').contains(&replacement) {
                prop_assert_eq!(result, Err(SignatureError::Mismatch));
            } else {
                prop_assert!(malformed(result));
            }
        }

        #[test]
        fn prop_verify_any_finds_the_index(
            secrets in prop::collection::hash_set(prop::collection::vec(any::<u8>(), 1..32), 1..6),
            pick in any::<prop::sample::Index>(),
            body in prop::collection::vec(any::<u8>(), 0..200),
        ) {
            let secrets: Vec<Vec<u8>> = secrets.into_iter().collect();
            let signer = pick.index(secrets.len());
            let header = sign(&secrets[signer], &body);
            let found = verify_any(secrets.iter().map(Vec::as_slice), &body, Some(&header));
            prop_assert_eq!(found, Ok(signer));
        }

        #[test]
        fn prop_any_header_never_panics(header in ".*", body in ".*") {
            let _ = verify(SECRET, body.as_bytes(), Some(&header));
            let _ = verify_any([SECRET], body.as_bytes(), Some(&header));
        }

        #[test]
        fn prop_escape_preserves_value(text in ".*") {
            let json = serde_json::to_string(&text).unwrap();
            let escaped = escape_non_ascii(&json);
            prop_assert!(escaped.is_ascii());
            let back: String = serde_json::from_str(&escaped).unwrap();
            prop_assert_eq!(back, text);
        }
    }
}
