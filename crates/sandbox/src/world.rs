//! The emulated world: business numbers, simulated customers, what each side sent, and the status
//! updates that follow a send. Every operation takes the emulated time and returns the webhook
//! updates it causes; delivering them is [`crate::webhooks`]' job.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::limits::{Bucket, Limits, Recent};
use crate::media::MediaStore;
use crate::rules::{self, Category, Thread};
use crate::templates::{self, Template};
use crate::tiers::{Portfolio, Tier};

/// A business phone number the sandbox serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Number {
    pub phone_number_id: String,
    pub waba_id: String,
    /// Digits, as Meta shows it in `metadata.display_phone_number`.
    pub display_phone_number: String,
}

impl Number {
    fn metadata(&self) -> Value {
        json!({
            "display_phone_number": self.display_phone_number,
            "phone_number_id": self.phone_number_id,
        })
    }

    pub fn calling_code(&self) -> Option<String> {
        wa::phone::from_wa_id(&self.display_phone_number)
            .ok()
            .map(|p| p.calling_code().to_owned())
    }
}

/// How a simulated customer behaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Behaviour {
    /// Online customers get messages (`delivered`); offline ones get them when they come online.
    pub online: bool,
    /// Reads what was delivered after this many seconds; never when absent.
    pub read_after_s: Option<u64>,
    /// Has blocked the business: messages are `sent` and never delivered, as on WhatsApp.
    pub blocked: bool,
    /// Has stopped marketing messages from the business.
    pub stopped_marketing: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            online: true,
            read_after_s: Some(2),
            blocked: false,
            stopped_marketing: false,
        }
    }
}

/// A change to a customer's behaviour; absent fields stay as they are.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BehaviourPatch {
    pub online: Option<bool>,
    #[serde(default, with = "double_option")]
    pub read_after_s: Option<Option<u64>>,
    pub blocked: Option<bool>,
    pub stopped_marketing: Option<bool>,
}

/// `null` and absent differ: `"read_after_s": null` means "never reads".
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
        Option::<u64>::deserialize(d).map(Some)
    }
}

#[derive(Debug, Clone)]
pub struct Customer {
    pub wa_id: String,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub name: String,
    pub country: Option<String>,
    pub behaviour: Behaviour,
    threads: HashMap<String, Thread>,
    transcript: Vec<String>,
}

/// What the control API shows of a customer.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerView {
    pub wa_id: String,
    pub phone: String,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub name: String,
    pub country: Option<String>,
    pub behaviour: Behaviour,
}

impl Customer {
    fn view(&self) -> CustomerView {
        CustomerView {
            wa_id: self.wa_id.clone(),
            phone: format!("+{}", self.wa_id),
            user_id: self.user_id.clone(),
            username: self.username.clone(),
            name: self.name.clone(),
            country: self.country.clone(),
            behaviour: self.behaviour.clone(),
        }
    }

    fn contact(&self) -> Value {
        let mut c = json!({ "profile": { "name": self.name }, "wa_id": self.wa_id });
        if let Some(id) = &self.user_id {
            c["user_id"] = json!(id);
        }
        if let Some(name) = &self.username {
            c["profile"]["username"] = json!(name);
        }
        c
    }
}

/// A new simulated customer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    /// International number, with or without `+`.
    pub phone: String,
    /// Business-scoped user id; one is made up when absent.
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub name: Option<String>,
    /// ISO 3166 alpha-2, used for the made-up user id.
    pub country: Option<String>,
    #[serde(default)]
    pub behaviour: Option<Behaviour>,
}

/// A message a simulated customer sends.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerMessage {
    /// The business number written to; the first one when absent.
    pub phone_number_id: Option<String>,
    /// A text message…
    pub text: Option<String>,
    /// …or a press on a reply button, a list row or a template quick reply (its id or payload)
    /// of the business message `reply_to`…
    pub button: Option<String>,
    /// …or a reaction to a business message (no `emoji`: the reaction is removed)…
    pub reaction: Option<InboundReaction>,
    /// …or a shared location `{latitude, longitude, name?, address?}`…
    pub location: Option<Value>,
    /// …or a photo, document, voice note, video or sticker (a small sample file, stored so
    /// that `GET /{media-id}` and its download URL give it).
    pub media: Option<InboundMedia>,
    /// The wamid this message replies to.
    pub reply_to: Option<String>,
    /// Set when the customer came in through a Click-to-WhatsApp ad.
    pub referral: Option<Referral>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundMedia {
    /// `image`, `document`, `audio`, `video` or `sticker`.
    #[serde(rename = "type")]
    pub kind: String,
    pub caption: Option<String>,
    /// The file itself, base64, instead of the kind's sample file. Meta relays what the
    /// customer's app sends and labels it with the type that app declares, which need not be
    /// what the bytes are: a receiver must not trust it.
    pub data_base64: Option<String>,
    /// The declared type of `data_base64` (required with it).
    pub mime_type: Option<String>,
    /// The customer's filename (documents), as their app gives it.
    pub filename: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundReaction {
    pub message_id: String,
    pub emoji: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Referral {
    pub source_url: String,
    #[serde(default = "ad")]
    pub source_type: String,
    pub source_id: String,
    #[serde(default)]
    pub headline: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub ctwa_clid: String,
}

fn ad() -> String {
    "ad".to_owned()
}

/// One message the business sent, as the customer's transcript shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub wamid: String,
    pub phone_number_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The request body as the business sent it.
    pub message: Value,
    pub sent_at: i64,
    /// accepted, sent, delivered, read or failed.
    pub status: String,
    pub error_code: Option<i64>,
    #[serde(skip)]
    sent_ms: i64,
    #[serde(skip)]
    category: Category,
    #[serde(skip)]
    biz_opaque: Option<String>,
    #[serde(skip)]
    customer: Option<usize>,
    #[serde(skip)]
    recipient_id: String,
}

/// A webhook update: one change of one WhatsApp Business Account.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub waba_id: String,
    /// The webhook field: `messages`, `message_template_status_update`…
    pub field: &'static str,
    pub value: Value,
}

/// Why a control or Graph request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorldError {
    #[error("no customer {0}")]
    NoCustomer(String),
    #[error("no business number with id {0}")]
    NoNumber(String),
    #[error("a customer with number {0} already exists")]
    CustomerExists(String),
    #[error("{0}")]
    Invalid(String),
    #[error("no message {0} from a customer to this number")]
    NoMessage(String),
    /// A rate limit, with Meta's code.
    #[error("{details}")]
    Limit { code: i64, details: String },
}

/// The outcome of a business send, which the Graph API answers right away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub wamid: String,
    pub input: String,
    pub wa_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Deliver,
    Read,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    at_ms: i64,
    seq: u64,
    wamid: String,
    step: Step,
}

#[derive(Debug)]
pub struct World {
    numbers: Vec<Number>,
    customers: Vec<Customer>,
    by_wa_id: HashMap<String, usize>,
    by_user_id: HashMap<String, usize>,
    /// Customer messages: wamid → (customer, number).
    inbound: HashMap<String, (usize, String)>,
    sent: BTreeMap<String, Sent>,
    due: BinaryHeap<Reverse<Due>>,
    templates: Vec<Template>,
    limits: Limits,
    throughput: HashMap<String, Recent>,
    pairs: HashMap<(String, usize), Bucket>,
    marketing: HashMap<usize, Recent>,
    media: MediaStore,
    portfolio: Portfolio,
    seq: u64,
}

impl World {
    pub fn new(numbers: Vec<Number>, limits: Limits) -> Self {
        Self {
            numbers,
            customers: Vec::new(),
            by_wa_id: HashMap::new(),
            by_user_id: HashMap::new(),
            inbound: HashMap::new(),
            sent: BTreeMap::new(),
            due: BinaryHeap::new(),
            templates: Vec::new(),
            limits,
            throughput: HashMap::new(),
            pairs: HashMap::new(),
            marketing: HashMap::new(),
            media: MediaStore::default(),
            portfolio: Portfolio::new(limits.messaging_tier),
            seq: 0,
        }
    }

    pub fn media(&self) -> &MediaStore {
        &self.media
    }

    pub fn media_mut(&mut self) -> &mut MediaStore {
        &mut self.media
    }

    /// The portfolio's messaging limit now, and the unique customers it has reached outside a
    /// window in the last 24 h.
    pub fn messaging_limit(&mut self, now_ms: i64) -> (Tier, usize) {
        (self.portfolio.tier(), self.portfolio.used(now_ms))
    }

    pub fn numbers(&self) -> &[Number] {
        &self.numbers
    }

    pub fn number(&self, phone_number_id: &str) -> Option<&Number> {
        self.numbers
            .iter()
            .find(|n| n.phone_number_id == phone_number_id)
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// A wamid in Meta's shape: `wamid.` and base64.
    fn new_wamid(&mut self, side: &str) -> String {
        let seq = self.next_seq();
        let nonce: u32 = rand::random();
        let raw = format!("sandbox:{side}:{seq}:{nonce:08x}");
        format!(
            "wamid.{}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    pub fn add_customer(&mut self, new: NewCustomer) -> Result<CustomerView, WorldError> {
        let phone = wa::phone::parse_dialled(&with_plus(&new.phone), None)
            .map_err(|e| WorldError::Invalid(format!("`phone`: {e}")))?;
        let wa_id = phone.digits().to_owned();
        if self.by_wa_id.contains_key(&wa_id) {
            return Err(WorldError::CustomerExists(phone.as_str().to_owned()));
        }
        let country = new.country.map(|c| c.to_ascii_uppercase());
        let user_id = new.user_id.unwrap_or_else(|| {
            let seq = self.next_seq();
            let cc = country.clone().unwrap_or_else(|| "US".to_owned());
            format!("{cc}.{:014}", u64::from(rand::random::<u32>()) * 1000 + seq)
        });
        if self.by_user_id.contains_key(&user_id) {
            return Err(WorldError::Invalid(format!(
                "user id {user_id} is already taken"
            )));
        }
        let index = self.customers.len();
        self.customers.push(Customer {
            name: new
                .name
                .unwrap_or_else(|| format!("Customer {}", index + 1)),
            wa_id: wa_id.clone(),
            user_id: Some(user_id.clone()),
            username: new.username,
            country,
            behaviour: new.behaviour.unwrap_or_default(),
            threads: HashMap::new(),
            transcript: Vec::new(),
        });
        self.by_wa_id.insert(wa_id, index);
        self.by_user_id.insert(user_id, index);
        Ok(self.customers[index].view())
    }

    pub fn customers(&self) -> Vec<CustomerView> {
        self.customers.iter().map(Customer::view).collect()
    }

    fn customer_index(&self, id: &str) -> Result<usize, WorldError> {
        let digits = id.trim_start_matches('+');
        self.by_wa_id
            .get(digits)
            .or_else(|| self.by_user_id.get(id))
            .copied()
            .ok_or_else(|| WorldError::NoCustomer(id.to_owned()))
    }

    pub fn customer(&self, id: &str) -> Result<CustomerView, WorldError> {
        Ok(self.customers[self.customer_index(id)?].view())
    }

    /// What the business sent this customer, oldest first.
    pub fn transcript(&self, id: &str) -> Result<Vec<Sent>, WorldError> {
        let c = &self.customers[self.customer_index(id)?];
        Ok(c.transcript
            .iter()
            .filter_map(|w| self.sent.get(w).cloned())
            .collect())
    }

    fn number_or_first(&self, id: Option<&str>) -> Result<Number, WorldError> {
        match id {
            Some(id) => self
                .number(id)
                .cloned()
                .ok_or_else(|| WorldError::NoNumber(id.to_owned())),
            None => self
                .numbers
                .first()
                .cloned()
                .ok_or_else(|| WorldError::NoNumber("(none configured)".to_owned())),
        }
    }

    /// A simulated customer writes to a business number.
    pub fn customer_sends(
        &mut self,
        id: &str,
        message: &CustomerMessage,
        now_ms: i64,
    ) -> Result<(String, Update), WorldError> {
        let index = self.customer_index(id)?;
        let number = self.number_or_first(message.phone_number_id.as_deref())?;
        let (kind, content) =
            self.inbound_content(index, &number.phone_number_id, message, now_ms)?;
        let wamid = self.new_wamid("in");
        let customer = &mut self.customers[index];
        let thread = customer
            .threads
            .entry(number.phone_number_id.clone())
            .or_default();
        thread.last_inbound_ms = Some(now_ms);
        if message.referral.is_some() {
            thread.last_referral_ms = Some(now_ms);
        }
        let mut m = json!({
            "from": customer.wa_id,
            "id": wamid,
            "timestamp": (now_ms.div_euclid(1000)).to_string(),
            "type": kind,
        });
        m[kind] = content;
        if let Some(user_id) = &customer.user_id {
            m["from_user_id"] = json!(user_id);
        }
        if let Some(quoted) = &message.reply_to {
            m["context"] = json!({ "from": number.display_phone_number, "id": quoted });
        }
        if let Some(r) = &message.referral {
            m["referral"] = serde_json::to_value(r).unwrap_or(Value::Null);
        }
        let value = json!({
            "messaging_product": "whatsapp",
            "metadata": number.metadata(),
            "contacts": [customer.contact()],
            "messages": [m],
        });
        self.inbound
            .insert(wamid.clone(), (index, number.phone_number_id.clone()));
        Ok((
            wamid,
            Update {
                waba_id: number.waba_id,
                field: "messages",
                value,
            },
        ))
    }

    /// The `type` and the object of a customer's message.
    fn inbound_content(
        &mut self,
        customer: usize,
        phone_number_id: &str,
        message: &CustomerMessage,
        now_ms: i64,
    ) -> Result<(&'static str, Value), WorldError> {
        let given = [
            message.text.is_some(),
            message.button.is_some(),
            message.reaction.is_some(),
            message.location.is_some(),
            message.media.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(WorldError::Invalid(
                "give exactly one of `text`, `button`, `reaction`, `location`, `media`".to_owned(),
            ));
        }
        if let Some(media) = &message.media {
            return self.inbound_media(phone_number_id, media, now_ms);
        }
        if let Some(text) = &message.text {
            if text.trim().is_empty() {
                return Err(WorldError::Invalid("`text` is empty".to_owned()));
            }
            return Ok(("text", json!({ "body": text })));
        }
        if let Some(location) = &message.location {
            crate::content::check("location", &json!({ "location": location }))
                .map_err(WorldError::Invalid)?;
            return Ok(("location", location.clone()));
        }
        if let Some(r) = &message.reaction {
            self.sent_to(customer, &r.message_id)?;
            let mut reaction = json!({ "message_id": r.message_id });
            if let Some(emoji) = &r.emoji {
                reaction["emoji"] = json!(emoji);
            }
            return Ok(("reaction", reaction));
        }
        let pressed = message.button.as_deref().unwrap_or_default();
        let quoted = message.reply_to.as_deref().ok_or_else(|| {
            WorldError::Invalid(
                "a `button` press needs `reply_to`, the business message".to_owned(),
            )
        })?;
        let sent = self.sent_to(customer, quoted)?;
        self.pressed(sent, pressed).ok_or_else(|| {
            WorldError::Invalid(format!(
                "message {quoted} has no reply button, list row or quick reply {pressed:?}"
            ))
        })
    }

    /// A customer's photo, document, voice note, video or sticker: a sample file stored as
    /// Meta stores it, announced with its id, MIME type and base64 SHA-256.
    fn inbound_media(
        &mut self,
        phone_number_id: &str,
        media: &InboundMedia,
        now_ms: i64,
    ) -> Result<(&'static str, Value), WorldError> {
        let (kind, (mime_type, bytes, filename)) =
            ["image", "document", "audio", "video", "sticker"]
                .into_iter()
                .find(|k| *k == media.kind)
                .and_then(|k| Some((k, crate::media::sample(k)?)))
                .ok_or_else(|| {
                    WorldError::Invalid(format!(
                        "`media.type` {:?} is not one of image, document, audio, video, sticker",
                        media.kind
                    ))
                })?;
        if media.caption.is_some() && matches!(kind, "audio" | "sticker") {
            return Err(WorldError::Invalid(format!("a {kind} has no caption")));
        }
        let (mime_type, bytes, filename) = match &media.data_base64 {
            Some(data) => {
                let bytes = crate::media::customer_file(data).map_err(WorldError::Invalid)?;
                let mime_type = media.mime_type.clone().ok_or_else(|| {
                    WorldError::Invalid(
                        "`media.mime_type` is required with `media.data_base64`: the type the \
                         customer's app declares"
                            .to_owned(),
                    )
                })?;
                (mime_type, bytes, media.filename.clone())
            }
            None if media.mime_type.is_some() || media.filename.is_some() => {
                return Err(WorldError::Invalid(
                    "`media.mime_type` and `media.filename` go with `media.data_base64`".to_owned(),
                ));
            }
            None => (
                mime_type.to_owned(),
                bytes::Bytes::from_static(bytes),
                filename.map(str::to_owned),
            ),
        };
        let id = self
            .media
            .inbound(phone_number_id, &mime_type, bytes, filename.clone(), now_ms);
        let item = self.media.get(&id, now_ms).cloned();
        let mut object = json!({
            "id": id,
            "mime_type": mime_type,
            "sha256": item.map(|i| i.sha256).unwrap_or_default(),
        });
        if let Some(caption) = &media.caption {
            object["caption"] = json!(caption);
        }
        if let Some(filename) = filename {
            object["filename"] = json!(filename);
        }
        match kind {
            "audio" => object["voice"] = json!(true),
            "sticker" => object["animated"] = json!(false),
            _ => {}
        }
        Ok((kind, object))
    }

    /// A message the business sent this customer.
    fn sent_to(&self, customer: usize, wamid: &str) -> Result<&Sent, WorldError> {
        self.sent
            .get(wamid)
            .filter(|s| s.customer == Some(customer))
            .ok_or_else(|| {
                WorldError::Invalid(format!(
                    "the business sent this customer no message {wamid}"
                ))
            })
    }

    /// What pressing `id` in a business message sends back, as Meta shapes it.
    fn pressed(&self, sent: &Sent, id: &str) -> Option<(&'static str, Value)> {
        let m = &sent.message;
        match m.pointer("/interactive/type").and_then(Value::as_str) {
            Some("button") => {
                let buttons = m.pointer("/interactive/action/buttons")?.as_array()?;
                let b = buttons
                    .iter()
                    .find(|b| b.pointer("/reply/id") == Some(&json!(id)))?;
                return Some((
                    "interactive",
                    json!({ "type": "button_reply", "button_reply": b["reply"] }),
                ));
            }
            Some("list") => {
                let sections = m.pointer("/interactive/action/sections")?.as_array()?;
                let row = sections
                    .iter()
                    .filter_map(|s| s.get("rows").and_then(Value::as_array))
                    .flatten()
                    .find(|r| r.get("id") == Some(&json!(id)))?;
                let mut reply = json!({ "id": row["id"], "title": row["title"] });
                if let Some(d) = row.get("description") {
                    reply["description"] = d.clone();
                }
                return Some((
                    "interactive",
                    json!({ "type": "list_reply", "list_reply": reply }),
                ));
            }
            _ => {}
        }
        // A template's quick reply: the payload the send gave its button, and the button's text.
        let template = m.get("template")?;
        let components = template.get("components")?.as_array()?;
        let index = components.iter().find_map(|c| {
            let is_quick_reply = c
                .get("sub_type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("quick_reply"));
            let payload = c.pointer("/parameters/0/payload").and_then(Value::as_str);
            let index = match c.get("index") {
                Some(Value::Number(n)) => n.as_u64(),
                Some(Value::String(s)) => s.trim().parse().ok(),
                _ => None,
            };
            (is_quick_reply && payload == Some(id))
                .then_some(index)
                .flatten()
        })?;
        let name = template.get("name")?.as_str()?;
        let language = template.pointer("/language/code")?.as_str()?;
        let text = self
            .approved_template(&sent.phone_number_id, name, language)
            .and_then(|t| t.button_text(usize::try_from(index).ok()?))
            .unwrap_or_else(|| id.to_owned());
        Some(("button", json!({ "payload": id, "text": text })))
    }

    /// Marks a customer's message read (the Graph API's mark-as-read).
    pub fn mark_read(&self, phone_number_id: &str, wamid: &str) -> Result<(), WorldError> {
        match self.inbound.get(wamid) {
            Some((_, number)) if number == phone_number_id => Ok(()),
            _ => Err(WorldError::NoMessage(wamid.to_owned())),
        }
    }

    /// Finds the customer a send is addressed to: `to` (a phone number, with or without `+`) or
    /// `recipient` (a business-scoped user id).
    fn recipient(&self, number: &Number, to: &str) -> Option<usize> {
        if let Some(&i) = self.by_user_id.get(to) {
            return Some(i);
        }
        // Third-party clients send the international number without `+`: try it as such first,
        // then as Meta reads a number without `+` (the business's calling code prepended).
        let international = wa::phone::parse_dialled(&with_plus(to), None).ok();
        let national = (!to.trim_start().starts_with('+'))
            .then(|| wa::phone::parse_dialled(to, number.calling_code().as_deref()).ok())
            .flatten();
        [international, national]
            .into_iter()
            .flatten()
            .find_map(|p| self.by_wa_id.get(p.digits()).copied())
    }

    /// The business sends a message. Meta's answer is immediate (`Accepted`); what becomes of it
    /// (sent, delivered, read, or failed with a code) follows as webhook updates.
    pub fn business_sends(
        &mut self,
        phone_number_id: &str,
        to: &str,
        kind: &str,
        category: Category,
        message: Value,
        now_ms: i64,
    ) -> Result<(Accepted, Vec<Update>), WorldError> {
        let number = self.number_or_first(Some(phone_number_id))?;
        let customer = self.recipient(&number, to);
        self.check_rates(&number, customer, now_ms)?;
        let wamid = self.new_wamid("out");
        let biz_opaque = message
            .get("biz_opaque_callback_data")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let recipient_id = customer.map_or_else(
            || to.chars().filter(char::is_ascii_digit).collect(),
            |i| self.customers[i].wa_id.clone(),
        );
        let media_missing = self.unknown_media(kind, &message, now_ms);
        let sent = Sent {
            wamid: wamid.clone(),
            phone_number_id: number.phone_number_id.clone(),
            kind: kind.to_owned(),
            message,
            sent_at: now_ms.div_euclid(1000),
            sent_ms: now_ms,
            status: "accepted".to_owned(),
            error_code: None,
            category,
            biz_opaque,
            customer,
            recipient_id,
        };
        let accepted = Accepted {
            wamid: wamid.clone(),
            input: to.to_owned(),
            wa_id: customer.map(|i| self.customers[i].wa_id.clone()),
        };
        self.sent.insert(wamid.clone(), sent);
        let Some(index) = customer else {
            let update = self.fail(&wamid, 131_026, now_ms);
            return Ok((accepted, vec![update]));
        };
        self.customers[index].transcript.push(wamid.clone());
        if media_missing {
            let update = self.fail(&wamid, 131_053, now_ms);
            return Ok((accepted, vec![update]));
        }
        let thread = self.customers[index]
            .threads
            .entry(number.phone_number_id.clone())
            .or_default();
        if category == Category::Service && !thread.window_open(now_ms) {
            let update = self.fail(&wamid, 131_047, now_ms);
            return Ok((accepted, vec![update]));
        }
        if category == Category::Marketing {
            if self.customers[index].behaviour.stopped_marketing {
                let update = self.fail(&wamid, 131_050, now_ms);
                return Ok((accepted, vec![update]));
            }
            let cap = self.limits.marketing_per_user_per_day;
            let recent = self.marketing.entry(index).or_default();
            if !recent.try_record(now_ms, rules::SERVICE_WINDOW_MS, cap) {
                let update = self.fail(&wamid, 131_049, now_ms);
                return Ok((accepted, vec![update]));
            }
        }
        let outside_window = !self.customers[index]
            .threads
            .get(&number.phone_number_id)
            .is_some_and(|t| t.window_open(now_ms));
        if outside_window && !self.portfolio.reach(index, now_ms) {
            let update = self.fail(&wamid, 131_048, now_ms);
            return Ok((accepted, vec![update]));
        }
        let seq = self.next_seq();
        let thread = self.customers[index]
            .threads
            .entry(number.phone_number_id.clone())
            .or_default();
        thread.on_business_message(now_ms, || format!("sandbox-fep-{seq}"));
        let mut updates = vec![self.advance(&wamid, "sent", now_ms)];
        // Meta only ever reports `sent` for a reaction.
        let behaviour = &self.customers[index].behaviour;
        if behaviour.online && !behaviour.blocked && kind != "reaction" {
            self.schedule(&wamid, Step::Deliver, now_ms + 1000);
        }
        updates.retain(|u| !u.value.is_null());
        Ok((accepted, updates))
    }

    /// A media message by `id` whose id was never uploaded, was deleted or is past its 30 days:
    /// Meta accepts the send, then fails it with 131053.
    fn unknown_media(&self, kind: &str, message: &Value, now_ms: i64) -> bool {
        if !matches!(kind, "image" | "video" | "audio" | "document" | "sticker") {
            return false;
        }
        message
            .pointer(&format!("/{kind}/id"))
            .and_then(Value::as_str)
            .is_some_and(|id| self.media.get(id, now_ms).is_none())
    }

    /// Throughput per number (130429) and pair rate per number and customer (131056): refused
    /// at once, as Meta does, with HTTP 400.
    fn check_rates(
        &mut self,
        number: &Number,
        customer: Option<usize>,
        now_ms: i64,
    ) -> Result<(), WorldError> {
        let limits = self.limits;
        let sent = self
            .throughput
            .entry(number.phone_number_id.clone())
            .or_default();
        if !sent.try_record(now_ms, 1_000, limits.throughput_mps) {
            return Err(WorldError::Limit {
                code: 130_429,
                details: format!(
                    "Cloud API message throughput has been reached: at most {} messages per second from this number",
                    limits.throughput_mps
                ),
            });
        }
        if let Some(index) = customer {
            let bucket = self
                .pairs
                .entry((number.phone_number_id.clone(), index))
                .or_insert_with(|| Bucket::full(now_ms));
            if !bucket.try_take(now_ms, limits.pair_burst, limits.pair_interval_ms) {
                return Err(WorldError::Limit {
                    code: 131_056,
                    details: format!(
                        "too many messages from this number to this customer: {} in a burst, then one every {} s",
                        limits.pair_burst,
                        limits.pair_interval_ms / 1000
                    ),
                });
            }
        }
        Ok(())
    }

    fn has_waba(&self, waba_id: &str) -> bool {
        self.numbers.iter().any(|n| n.waba_id == waba_id)
    }

    /// A new template, PENDING until review (see [`crate::templates`]).
    pub fn create_template(
        &mut self,
        waba_id: &str,
        request: &Value,
        now_ms: i64,
    ) -> Result<Template, WorldError> {
        if !self.has_waba(waba_id) {
            return Err(WorldError::NoNumber(waba_id.to_owned()));
        }
        let text = |key: &str| {
            request
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let (name, language) = (text("name"), text("language"));
        let category = text("category").to_ascii_uppercase();
        templates::check_new(&name, &category, &language).map_err(WorldError::Invalid)?;
        if self
            .templates
            .iter()
            .any(|t| t.waba_id == waba_id && t.name == name && t.language == language)
        {
            return Err(WorldError::Invalid(format!(
                "a template {name:?} in {language} already exists"
            )));
        }
        let components = request
            .get("components")
            .filter(|c| c.is_array())
            .cloned()
            .ok_or_else(|| WorldError::Invalid("`components` must be an array".to_owned()))?;
        let parameter_format = text("parameter_format").to_ascii_uppercase();
        let id = format!("{}", 1_000_000_000_000_000 + self.next_seq());
        let template = Template {
            id,
            name,
            language,
            category,
            status: "PENDING".to_owned(),
            parameter_format: if parameter_format == "NAMED" {
                "NAMED".to_owned()
            } else {
                "POSITIONAL".to_owned()
            },
            components,
            waba_id: waba_id.to_owned(),
            review_at_ms: now_ms + templates::REVIEW_MS,
        };
        self.templates.push(template.clone());
        Ok(template)
    }

    pub fn templates(&self, waba_id: &str) -> Result<Vec<Template>, WorldError> {
        if !self.has_waba(waba_id) {
            return Err(WorldError::NoNumber(waba_id.to_owned()));
        }
        Ok(self
            .templates
            .iter()
            .filter(|t| t.waba_id == waba_id)
            .cloned()
            .collect())
    }

    /// The approved template a number may send by this name and language.
    pub fn approved_template(
        &self,
        phone_number_id: &str,
        name: &str,
        language: &str,
    ) -> Option<Template> {
        let waba = &self.number(phone_number_id)?.waba_id;
        self.templates
            .iter()
            .find(|t| {
                &t.waba_id == waba
                    && t.name == name
                    && t.language == language
                    && t.status == "APPROVED"
            })
            .cloned()
    }

    fn review_templates(&mut self, now_ms: i64) -> Vec<Update> {
        let mut updates = Vec::new();
        for t in &mut self.templates {
            if t.status == "PENDING" && t.review_at_ms <= now_ms {
                let (status, reason) = t.review();
                status.clone_into(&mut t.status);
                updates.push(Update {
                    waba_id: t.waba_id.clone(),
                    field: "message_template_status_update",
                    value: t.status_update(reason),
                });
            }
        }
        updates
    }

    fn schedule(&mut self, wamid: &str, step: Step, at_ms: i64) {
        let seq = self.next_seq();
        self.due.push(Reverse(Due {
            at_ms,
            seq,
            wamid: wamid.to_owned(),
            step,
        }));
    }

    /// When the next scheduled status is due.
    pub fn next_due_ms(&self) -> Option<i64> {
        self.due.peek().map(|Reverse(d)| d.at_ms)
    }

    /// The status updates due at `now_ms`, in time order, and the verdicts of template reviews.
    pub fn take_due(&mut self, now_ms: i64) -> Vec<Update> {
        let mut updates = self.review_templates(now_ms);
        if let Some(tier) = self.portfolio.upgrade_due(now_ms) {
            updates.extend(self.capability_updates(tier));
        }
        while let Some(Reverse(d)) = self.due.peek() {
            if d.at_ms > now_ms {
                break;
            }
            let Some(Reverse(d)) = self.due.pop() else {
                break;
            };
            let Some(sent) = self.sent.get(&d.wamid) else {
                continue;
            };
            let Some(index) = sent.customer else {
                continue;
            };
            let behaviour = self.customers[index].behaviour.clone();
            match d.step {
                Step::Deliver
                    if sent.status == "sent" && behaviour.online && !behaviour.blocked =>
                {
                    updates.push(self.advance(&d.wamid, "delivered", d.at_ms));
                    if let Some(after) = behaviour.read_after_s {
                        let after = i64::try_from(after).unwrap_or(i64::MAX / 2000);
                        self.schedule(&d.wamid, Step::Read, d.at_ms + after * 1000);
                    }
                }
                Step::Read if sent.status == "delivered" => {
                    updates.push(self.advance(&d.wamid, "read", d.at_ms));
                }
                _ => {}
            }
        }
        updates
    }

    /// Changes how a customer behaves; one who comes online gets what waited for them.
    pub fn set_behaviour(
        &mut self,
        id: &str,
        patch: BehaviourPatch,
        now_ms: i64,
    ) -> Result<CustomerView, WorldError> {
        let index = self.customer_index(id)?;
        let b = &mut self.customers[index].behaviour;
        if let Some(v) = patch.online {
            b.online = v;
        }
        if let Some(v) = patch.read_after_s {
            b.read_after_s = v;
        }
        if let Some(v) = patch.blocked {
            b.blocked = v;
        }
        if let Some(v) = patch.stopped_marketing {
            b.stopped_marketing = v;
        }
        if b.online && !b.blocked {
            let waiting: Vec<String> = self.customers[index]
                .transcript
                .iter()
                .filter(|w| self.sent.get(*w).is_some_and(|s| s.status == "sent"))
                .cloned()
                .collect();
            for wamid in waiting {
                self.schedule(&wamid, Step::Deliver, now_ms);
            }
        }
        Ok(self.customers[index].view())
    }

    /// Moves a sent message to `status` and builds its status update.
    fn advance(&mut self, wamid: &str, status: &str, at_ms: i64) -> Update {
        let Some(sent) = self.sent.get_mut(wamid) else {
            return Update {
                waba_id: String::new(),
                field: "messages",
                value: Value::Null,
            };
        };
        status.clone_into(&mut sent.status);
        // Borrowed, not cloned: this runs for every status, and a send's `message` can be big.
        let sent = &self.sent[wamid];
        let number = self
            .number(&sent.phone_number_id)
            .unwrap_or(&self.numbers[0]);
        let no_thread = Thread::default();
        let thread = sent
            .customer
            .and_then(|i| self.customers[i].threads.get(&sent.phone_number_id))
            .unwrap_or(&no_thread);
        let mut s = self.status_object(sent, status, at_ms);
        s["pricing"] = rules::pricing(sent.category, sent.sent_ms, thread);
        if let Some(c) = rules::conversation(sent.sent_ms, thread) {
            s["conversation"] = c;
        }
        statuses_update(number, s, self.status_contact(sent, status))
    }

    fn fail(&mut self, wamid: &str, code: i64, at_ms: i64) -> Update {
        let Some(sent) = self.sent.get_mut(wamid) else {
            return Update {
                waba_id: String::new(),
                field: "messages",
                value: Value::Null,
            };
        };
        "failed".clone_into(&mut sent.status);
        sent.error_code = Some(code);
        let sent = sent.clone();
        let number = self
            .number(&sent.phone_number_id)
            .cloned()
            .unwrap_or_else(|| self.numbers[0].clone());
        let mut s = self.status_object(&sent, "failed", at_ms);
        s["errors"] = json!([error_object(code)]);
        statuses_update(&number, s, self.status_contact(&sent, "failed"))
    }

    /// The `contacts` block of a status webhook: the recipient's `wa_id` and business-scoped id,
    /// and their username once the message reached them. Meta's documentation says failed
    /// statuses omit it, but failed statuses captured from Meta carry it, and clients such as
    /// pywa need it, so the sandbox always sends it.
    fn status_contact(&self, sent: &Sent, status: &str) -> Value {
        let Some(customer) = sent.customer.map(|i| &self.customers[i]) else {
            return json!({ "wa_id": sent.recipient_id });
        };
        let mut c = json!({ "wa_id": customer.wa_id });
        if let Some(id) = &customer.user_id {
            c["user_id"] = json!(id);
        }
        if let (Some(name), "delivered" | "read") = (&customer.username, status) {
            c["profile"] = json!({ "username": name });
        }
        c
    }

    fn status_object(&self, sent: &Sent, status: &str, at_ms: i64) -> Value {
        let mut s = json!({
            "id": sent.wamid,
            "status": status,
            "timestamp": at_ms.div_euclid(1000).to_string(),
            "recipient_id": sent.recipient_id,
        });
        if let Some(user_id) = sent
            .customer
            .and_then(|i| self.customers[i].user_id.as_ref())
        {
            s["recipient_user_id"] = json!(user_id);
        }
        if let Some(data) = &sent.biz_opaque {
            s["biz_opaque_callback_data"] = json!(data);
        }
        s
    }
}

impl World {
    /// Meta's `business_capability_update` after a messaging limit increase, once per WhatsApp
    /// Business Account (v24+ field name; Meta's value for "unlimited" is not documented, the
    /// sandbox sends `"UNLIMITED"`).
    fn capability_updates(&self, tier: Tier) -> Vec<Update> {
        let limit = tier
            .limit()
            .map_or_else(|| json!("UNLIMITED"), |n| json!(n));
        let mut wabas: Vec<&str> = self.numbers.iter().map(|n| n.waba_id.as_str()).collect();
        wabas.sort_unstable();
        wabas.dedup();
        wabas
            .into_iter()
            .map(|waba| Update {
                waba_id: waba.to_owned(),
                field: "business_capability_update",
                value: json!({ "max_daily_conversations_per_business": limit }),
            })
            .collect()
    }
}

fn statuses_update(number: &Number, status: Value, contact: Value) -> Update {
    // Built by hand: `json!` would copy `status` and `contact` through the serializer.
    let mut value = serde_json::Map::new();
    value.insert("messaging_product".to_owned(), json!("whatsapp"));
    value.insert("metadata".to_owned(), number.metadata());
    value.insert("statuses".to_owned(), Value::Array(vec![status]));
    value.insert("contacts".to_owned(), Value::Array(vec![contact]));
    Update {
        waba_id: number.waba_id.clone(),
        field: "messages",
        value: Value::Object(value),
    }
}

/// An entry of `errors[]` as Meta sends it in a failed status.
pub fn error_object(code: i64) -> Value {
    let (title, details) = wa::error_codes::lookup(code)
        .map_or(("Unknown error", "Unknown error"), |e| (e.title, e.meaning));
    json!({
        "code": code,
        "title": title,
        "message": title,
        "error_data": { "details": details },
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
    })
}

fn with_plus(phone: &str) -> String {
    let trimmed = phone.trim();
    if trimmed.starts_with('+') {
        trimmed.to_owned()
    } else {
        format!("+{trimmed}")
    }
}
