//! Realistic, signed Meta webhook bodies for the load generator.
//!
//! The bodies follow the `messages` field envelope of the WhatsApp Cloud API: one inbound text
//! message for every three status updates (`sent`, `delivered`, `read`) of the business's reply.
//! They are serialised the way Meta sends them: compact JSON, non-ASCII characters written as
//! `\uXXXX` escapes (UTF-16 surrogate pairs for emoji) and `/` written as `\/`, and signed over
//! the exact bytes with `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, body)>`.

use std::io;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use sha2::Sha256;

/// What every generated body shares.
#[derive(Debug, Clone)]
pub struct PayloadConfig {
    /// Makes wamids unique across runs, e.g. a few random alphanumerics.
    pub run_id: String,
    /// `entry[].id`.
    pub waba_id: String,
    /// `value.metadata.phone_number_id`.
    pub phone_number_id: String,
    /// `value.metadata.display_phone_number`.
    pub display_phone_number: String,
    /// How many distinct customers (`wa_id`) the webhooks are spread over.
    pub customers: usize,
    /// Unix seconds of the first event; later events are a little later.
    pub base_timestamp: u64,
    /// Seed for the customers and message texts (the wamids stay unique through `run_id`).
    pub seed: u64,
}

/// What one body is about, for tests and statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// An inbound text message from a customer.
    Message,
    /// A status update of a message the business sent.
    Status(StatusKind),
}

/// The three status updates a delivered and read reply produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusKind {
    /// Accepted by WhatsApp.
    Sent,
    /// Reached the customer's phone.
    Delivered,
    /// Seen by the customer.
    Read,
}

impl StatusKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
        }
    }
}

/// One generated webhook: the exact body bytes and the header value that signs them.
#[derive(Debug, Clone)]
pub struct SignedWebhook {
    /// The body, ASCII only.
    pub body: Bytes,
    /// `sha256=<lowercase hex>`.
    pub signature: String,
    /// What the body carries.
    pub kind: EventKind,
    /// The wamid the body carries (the message's, or the one the status refers to).
    pub wamid: String,
    /// The customer's `wa_id`.
    pub wa_id: String,
}

/// `sha256=<lowercase hex HMAC-SHA256(app_secret, body)>`, the `X-Hub-Signature-256` value.
#[must_use]
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret).expect("HMAC accepts any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[derive(Debug, Clone)]
struct Customer {
    wa_id: String,
    user_id: String,
    name: String,
}

/// Country calling code, ISO 3166 alpha-2 (the BSUID prefix) and national number length.
const COUNTRIES: &[(&str, &str, usize)] = &[
    ("1", "US", 10),
    ("33", "FR", 9),
    ("55", "BR", 11),
    ("52", "MX", 10),
    ("34", "ES", 9),
    ("351", "PT", 9),
    ("49", "DE", 11),
    ("234", "NG", 10),
    ("91", "IN", 10),
    ("221", "SN", 9),
];

const FIRST_NAMES: &[&str] = &[
    "Zoé",
    "José",
    "Chloé",
    "Amélie",
    "João",
    "Ana",
    "Mateo",
    "Léa",
    "Aïcha",
    "Björn",
    "Sheena",
    "Kofi",
    "Priya",
    "Oluwaseun",
    "François",
    "Inês",
    "Lucía",
    "Mamadou",
    "Jürgen",
    "Maria",
];

const LAST_NAMES: &[&str] = &[
    "Martin",
    "Álvarez",
    "Dubois",
    "Silva",
    "Nelson",
    "Okafor",
    "Müller",
    "García",
    "Nguyễn",
    "Rossi",
    "Diallo",
    "Sharma",
    "Gonçalves",
    "Lefèvre",
    "Núñez",
];

/// Customer-service texts; `{n}` is replaced by an order number.
const TEXTS: &[&str] = &[
    "Bonjour, ma commande #{n} n'est toujours pas arrivée 😕",
    "Hi! Does it come in another color?",
    "Olá, gostaria de saber o prazo de entrega do pedido {n}",
    "Hola, ¿puedo cambiar la dirección de envío? Pedido {n} 🙏",
    "Thanks a lot 👍",
    "Where is my parcel? Tracking says delivered but nothing here. Order {n}",
    "Est-ce que je peux payer en 3 fois ? Merci d'avance 😊",
    "ok",
    "Can I talk to a human please",
    "Guten Tag, die Rechnung für Bestellung {n} fehlt. Können Sie sie mir schicken? Danke schön",
    "I was charged twice for order {n}.\nCan you refund one of the payments?\nThanks",
    "¿Tienen la talla M en azul? 💙",
    "Bom dia! O link https://shop.example.com/o/{n} não abre no celular",
    "Merci, c'est réglé ✅",
    "The product arrived damaged 😡 photos coming. Order {n}",
    "Quelle est la différence entre l'offre Essentiel et l'offre Sérénité ? Je voudrais \
     comprendre ce qui est inclus avant de m'engager pour un an, notamment pour la garantie \
     et le service après-vente.",
    "yes",
    "Is the store in Lyon open on Sunday? 🕐",
    "Recebi o produto errado, pedi o modelo {n} 😢",
    "👋",
];

fn digits(rng: &mut StdRng, len: usize) -> String {
    let mut s = String::with_capacity(len);
    // No leading zero in a national number.
    s.push(char::from(b'1' + rng.random_range(0..9u8)));
    for _ in 1..len {
        s.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    s
}

fn customers(config: &PayloadConfig) -> Vec<Customer> {
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(config.customers.max(1));
    while out.len() < config.customers.max(1) {
        let (cc, iso, len) = COUNTRIES[rng.random_range(0..COUNTRIES.len())];
        let wa_id = format!("{cc}{}", digits(&mut rng, len));
        if !seen.insert(wa_id.clone()) {
            continue;
        }
        let first = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())];
        let last = LAST_NAMES[rng.random_range(0..LAST_NAMES.len())];
        let name = match rng.random_range(0..10u8) {
            0 => format!("{first} 🌻"),
            1 => first.to_owned(),
            _ => format!("{first} {last}"),
        };
        let user_id = format!("{iso}.{}", digits(&mut rng, 20));
        out.push(Customer {
            wa_id,
            user_id,
            name,
        });
    }
    out
}

#[derive(Serialize)]
struct Envelope<'a> {
    object: &'static str,
    entry: [Entry<'a>; 1],
}

#[derive(Serialize)]
struct Entry<'a> {
    id: &'a str,
    changes: [Change<'a>; 1],
}

#[derive(Serialize)]
struct Change<'a> {
    value: Value<'a>,
    field: &'static str,
}

#[derive(Serialize)]
struct Value<'a> {
    messaging_product: &'static str,
    metadata: Metadata<'a>,
    contacts: [Contact<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<[InboundText<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    statuses: Option<[Status<'a>; 1]>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    display_phone_number: &'a str,
    phone_number_id: &'a str,
}

#[derive(Serialize)]
struct Contact<'a> {
    profile: Profile<'a>,
    wa_id: &'a str,
    user_id: &'a str,
}

#[derive(Serialize)]
struct Profile<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct InboundText<'a> {
    from: &'a str,
    from_user_id: &'a str,
    id: &'a str,
    timestamp: String,
    text: Text<'a>,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct Text<'a> {
    body: &'a str,
}

#[derive(Serialize)]
struct Status<'a> {
    id: &'a str,
    status: &'static str,
    timestamp: String,
    recipient_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pricing: Option<Pricing>,
}

/// A free service reply inside the customer-service window (Cloud API webhooks v24+, where
/// `conversation` is omitted and `pricing` rides on `sent` and one of `delivered`/`read`).
#[derive(Serialize)]
struct Pricing {
    billable: bool,
    pricing_model: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    category: &'static str,
}

const FREE_SERVICE: Pricing = Pricing {
    billable: false,
    pricing_model: "PMP",
    kind: "free_customer_service",
    category: "service",
};

/// serde_json formatter that writes strings like Meta does: ASCII only, `\uXXXX` escapes for
/// everything else and `\/` for slashes.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetaFormatter;

impl serde_json::ser::Formatter for MetaFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let bytes = fragment.as_bytes();
        let mut start = 0;
        for (i, ch) in fragment.char_indices() {
            if ch.is_ascii() && ch != '/' {
                continue;
            }
            writer.write_all(&bytes[start..i])?;
            if ch == '/' {
                writer.write_all(b"\\/")?;
            } else {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
            start = i + ch.len_utf8();
        }
        writer.write_all(&bytes[start..])
    }
}

/// Serialises `value` the way Meta does (see [`MetaFormatter`]).
///
/// # Errors
/// When `value` cannot be serialised to JSON.
pub fn to_meta_json<T: Serialize>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(1024);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, MetaFormatter);
    value.serialize(&mut ser)?;
    Ok(out)
}

/// Generates `count` unique, signed webhook bodies.
///
/// Body `i` belongs to conversation turn `i / 4`: an inbound text from a customer, then the
/// `sent`, `delivered` and `read` statuses of the business's reply. Each inbound message has its
/// own wamid, each reply its own wamid, so every body is unique and every (wamid, status) pair
/// appears once.
///
/// # Errors
/// When a body cannot be serialised (it always can).
pub fn generate(
    config: &PayloadConfig,
    app_secret: &[u8],
    count: usize,
) -> anyhow::Result<Vec<SignedWebhook>> {
    let customers = customers(config);
    let mut rng = StdRng::seed_from_u64(config.seed ^ 0x5eed_7e47);
    let mut out = Vec::with_capacity(count);
    let mut text_buf = String::new();
    for i in 0..count {
        let turn = i / 4;
        let customer = &customers[turn % customers.len()];
        // Turns are about a second apart; statuses follow the message by a few seconds.
        let turn_ts = config.base_timestamp + u64::try_from(turn).unwrap_or(u64::MAX) / 4;
        let (kind, wamid, body) = match i % 4 {
            0 => {
                let wamid = format!("wamid.bench{}i{turn}", config.run_id);
                let template = TEXTS[rng.random_range(0..TEXTS.len())];
                text_buf.clear();
                text_buf.push_str(&template.replace("{n}", &format!("{}", 10_000 + turn)));
                let value = Value {
                    messaging_product: "whatsapp",
                    metadata: metadata(config),
                    contacts: [contact(customer)],
                    messages: Some([InboundText {
                        from: &customer.wa_id,
                        from_user_id: &customer.user_id,
                        id: &wamid,
                        timestamp: turn_ts.to_string(),
                        text: Text { body: &text_buf },
                        kind: "text",
                    }]),
                    statuses: None,
                };
                let body = to_meta_json(&envelope(config, value))?;
                (EventKind::Message, wamid, body)
            }
            step => {
                let (status, delay, pricing) = match step {
                    1 => (StatusKind::Sent, 2, Some(FREE_SERVICE)),
                    2 => (StatusKind::Delivered, 3, Some(FREE_SERVICE)),
                    _ => (StatusKind::Read, 9, None),
                };
                let wamid = format!("wamid.bench{}o{turn}", config.run_id);
                let value = Value {
                    messaging_product: "whatsapp",
                    metadata: metadata(config),
                    contacts: [contact(customer)],
                    messages: None,
                    statuses: Some([Status {
                        id: &wamid,
                        status: status.as_str(),
                        timestamp: (turn_ts + delay).to_string(),
                        recipient_id: &customer.wa_id,
                        pricing,
                    }]),
                };
                let body = to_meta_json(&envelope(config, value))?;
                (EventKind::Status(status), wamid, body)
            }
        };
        let signature = sign(app_secret, &body);
        out.push(SignedWebhook {
            body: Bytes::from(body),
            signature,
            kind,
            wamid,
            wa_id: customer.wa_id.clone(),
        });
    }
    Ok(out)
}

fn metadata(config: &PayloadConfig) -> Metadata<'_> {
    Metadata {
        display_phone_number: &config.display_phone_number,
        phone_number_id: &config.phone_number_id,
    }
}

fn contact(customer: &Customer) -> Contact<'_> {
    Contact {
        profile: Profile {
            name: &customer.name,
        },
        wa_id: &customer.wa_id,
        user_id: &customer.user_id,
    }
}

fn envelope<'a>(config: &'a PayloadConfig, value: Value<'a>) -> Envelope<'a> {
    Envelope {
        object: "whatsapp_business_account",
        entry: [Entry {
            id: &config.waba_id,
            changes: [Change {
                value,
                field: "messages",
            }],
        }],
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    fn config() -> PayloadConfig {
        PayloadConfig {
            run_id: "T3st".to_owned(),
            waba_id: "102290129340398".to_owned(),
            phone_number_id: "106540352242922".to_owned(),
            display_phone_number: "15550783881".to_owned(),
            customers: 1000,
            base_timestamp: 1_750_000_000,
            seed: 7,
        }
    }

    #[test]
    fn signature_is_rfc4231_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn formatter_escapes_like_meta() {
        let json = to_meta_json(&"é 👍 a/b \"q\"\n").unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#""\u00e9 \ud83d\udc4d a\/b \"q\"\n""#
        );
    }

    #[test]
    fn bodies_are_valid_unique_signed_and_mixed() {
        let secret = b"bench-secret";
        let hooks = generate(&config(), secret, 8_000).unwrap();
        let mut bodies = HashSet::new();
        let mut pairs = HashSet::new();
        let mut kinds: HashMap<EventKind, usize> = HashMap::new();
        let mut wa_ids = HashSet::new();
        let mut non_ascii_escapes = 0;
        for hook in &hooks {
            assert!(hook.body.is_ascii(), "Meta escapes non-ASCII");
            assert_eq!(hook.signature, sign(secret, &hook.body));
            assert!(bodies.insert(hook.body.clone()), "duplicate body");
            assert!(
                pairs.insert((hook.wamid.clone(), hook.kind)),
                "duplicate event"
            );
            *kinds.entry(hook.kind).or_default() += 1;
            wa_ids.insert(hook.wa_id.clone());
            if hook.body.windows(3).any(|w| w == b"\\ud" || w == b"\\u0") {
                non_ascii_escapes += 1;
            }

            let v: serde_json::Value = serde_json::from_slice(&hook.body).unwrap();
            assert_eq!(v["object"], "whatsapp_business_account");
            assert_eq!(v["entry"][0]["id"], "102290129340398");
            let change = &v["entry"][0]["changes"][0];
            assert_eq!(change["field"], "messages");
            let value = &change["value"];
            assert_eq!(value["metadata"]["phone_number_id"], "106540352242922");
            assert_eq!(value["contacts"][0]["wa_id"], hook.wa_id.as_str());
            assert!(
                value["contacts"][0]["user_id"]
                    .as_str()
                    .unwrap()
                    .contains('.')
            );
            match hook.kind {
                EventKind::Message => {
                    let m = &value["messages"][0];
                    assert_eq!(m["id"], hook.wamid.as_str());
                    assert_eq!(m["type"], "text");
                    assert!(m["timestamp"].is_string());
                    assert!(!m["text"]["body"].as_str().unwrap().is_empty());
                }
                EventKind::Status(status) => {
                    let s = &value["statuses"][0];
                    assert_eq!(s["id"], hook.wamid.as_str());
                    assert_eq!(s["status"], status.as_str());
                    assert_eq!(s["recipient_id"], hook.wa_id.as_str());
                    assert!(s["timestamp"].as_str().unwrap().parse::<u64>().is_ok());
                }
            }
        }
        assert_eq!(kinds[&EventKind::Message], 2_000);
        assert_eq!(kinds[&EventKind::Status(StatusKind::Sent)], 2_000);
        assert_eq!(kinds[&EventKind::Status(StatusKind::Delivered)], 2_000);
        assert_eq!(kinds[&EventKind::Status(StatusKind::Read)], 2_000);
        assert_eq!(wa_ids.len(), 1_000);
        assert!(
            non_ascii_escapes > 1_000,
            "{non_ascii_escapes} bodies with escapes"
        );
    }

    #[test]
    fn run_id_keeps_runs_apart() {
        let a = generate(&config(), b"s", 4).unwrap();
        let mut other = config();
        other.run_id = "Other".to_owned();
        let b = generate(&other, b"s", 4).unwrap();
        assert_ne!(a[0].wamid, b[0].wamid);
    }
}
