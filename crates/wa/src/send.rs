//! What a business sends through the Cloud API, in Meta's own JSON shapes: the body of
//! `POST /{phone-number-id}/messages` (cloud-api.md §3.1–§3.2), its success answer (§3.3), and
//! templates as `GET /{waba-id}/message_templates` lists them and `POST` creates them (§3.2,
//! §6.4, §6.5).
//!
//! A client's send body is read with [`parse_send_request`] (or `Deserialize`) into an
//! [`OutboundRequest`]: a message ([`SendRequest`]) or a mark-as-read / typing indicator
//! ([`ReadRequest`]). What is forwarded to Meta is its serialisation, which has Meta's exact shape
//! (`"type":"text","text":{…}`), omits what is absent, and round-trips:
//! `parse(serialize(x)) == x`.
//!
//! Reading is strict, because a mistake caught here is cheaper than Meta's
//! `(#100) Invalid parameter` after the message was queued: an unknown field, a missing one, a
//! wrong type or an unknown `type` is refused with the path of the field
//! (`template.components[0].parameters[1].type`) and what was expected
//! ([`SendRequestError`]). Values are not judged here (lengths, windows, templates): that is the
//! preflight's job. Two exceptions to strictness: contact cards keep every field but the name as
//! raw JSON, so that nothing a client sends is lost; and, as the Graph API does, a structured
//! parameter may come JSON-encoded in a string (`"template": "{…}"`).
//!
//! Coordinates are rounded to 7 decimals (about a centimetre) when read. serde_json's float
//! parser is not exact for every 17-digit decimal, so an unrounded coordinate could come back one
//! ulp off after a serialisation; a 7-decimal one always comes back equal.
//!
//! Templates as the Graph API returns them ([`TemplateList`], [`GraphTemplate`]) are read
//! leniently, like webhooks: unknown fields are ignored (or kept, in components and buttons, so
//! that a create request loses nothing) and enumerations are kept as Meta's strings.

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;

use crate::de;

/// The one value of `messaging_product`.
pub const MESSAGING_PRODUCT: &str = "whatsapp";

// ------------------------------------------------------------------------------------------------
// Requests
// ------------------------------------------------------------------------------------------------

/// A body a client may post to `/messages`: a message, or a read receipt (with or without a
/// typing indicator). A body with a `status` field is a read receipt (cloud-api.md §3.2).
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per request, short-lived: boxing would only add an indirection to every match"
)]
pub enum OutboundRequest {
    Message(SendRequest),
    Read(ReadRequest),
}

impl OutboundRequest {
    /// The message, if this is one.
    pub fn as_message(&self) -> Option<&SendRequest> {
        match self {
            Self::Message(m) => Some(m),
            Self::Read(_) => None,
        }
    }
}

/// A message to one customer (cloud-api.md §3.1).
#[derive(Debug, Clone, PartialEq)]
pub struct SendRequest {
    /// Always `whatsapp`; the default when a client leaves it out.
    pub messaging_product: String,
    /// `individual` (Meta's default) or `group`.
    pub recipient_type: Option<String>,
    /// A phone number as typed (`+`, spaces, `-`, `()` allowed) or a `wa_id`. Without `+`, Meta
    /// prepends the business number's calling code (cloud-api.md §3.1).
    pub to: Option<String>,
    /// A business-scoped user id, in place of `to` (from May 2026, cloud-api.md §9.4).
    pub recipient: Option<String>,
    /// The message this one quotes.
    pub context: Option<Context>,
    /// Echoed back in the message's status webhooks.
    pub biz_opaque_callback_data: Option<String>,
    /// `type` and its object.
    pub body: SendBody,
}

impl SendRequest {
    /// A message to `to` (a phone number or `wa_id`), nothing else set.
    pub fn new(to: impl Into<String>, body: SendBody) -> Self {
        Self {
            messaging_product: MESSAGING_PRODUCT.to_owned(),
            recipient_type: None,
            to: Some(to.into()),
            recipient: None,
            context: None,
            biz_opaque_callback_data: None,
            body,
        }
    }
}

/// `context`: the wamid of the message a reply quotes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Context {
    pub message_id: String,
}

/// The message itself: Meta's `type` and the object of that name.
#[derive(Debug, Clone, PartialEq)]
pub enum SendBody {
    Text(TextBody),
    Image(MediaObject),
    Video(MediaObject),
    Audio(MediaObject),
    Document(MediaObject),
    Sticker(MediaObject),
    Interactive(InteractiveBody),
    Template(TemplateBody),
    /// An empty `emoji` removes an earlier reaction.
    Reaction(ReactionBody),
    Location(LocationBody),
    Contacts(Vec<ContactCard>),
}

impl SendBody {
    /// Every `type` a send may have, as Meta spells them.
    pub const TYPES: [&'static str; 11] = [
        "text",
        "image",
        "video",
        "audio",
        "document",
        "sticker",
        "interactive",
        "template",
        "reaction",
        "location",
        "contacts",
    ];

    /// Meta's `type`, which is also the name of the field that holds the content.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Text(_) => "text",
            Self::Image(_) => "image",
            Self::Video(_) => "video",
            Self::Audio(_) => "audio",
            Self::Document(_) => "document",
            Self::Sticker(_) => "sticker",
            Self::Interactive(_) => "interactive",
            Self::Template(_) => "template",
            Self::Reaction(_) => "reaction",
            Self::Location(_) => "location",
            Self::Contacts(_) => "contacts",
        }
    }

    /// The media object, for the five media kinds.
    pub fn media(&self) -> Option<&MediaObject> {
        match self {
            Self::Image(m)
            | Self::Video(m)
            | Self::Audio(m)
            | Self::Document(m)
            | Self::Sticker(m) => Some(m),
            _ => None,
        }
    }

    /// Writes `"type": …` and the content field into a map being serialised.
    fn serialize_entries<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        let kind = self.type_name();
        map.serialize_entry("type", kind)?;
        match self {
            Self::Text(t) => map.serialize_entry(kind, t),
            Self::Image(m)
            | Self::Video(m)
            | Self::Audio(m)
            | Self::Document(m)
            | Self::Sticker(m) => map.serialize_entry(kind, m),
            Self::Interactive(i) => map.serialize_entry(kind, i),
            Self::Template(t) => map.serialize_entry(kind, t),
            Self::Reaction(r) => map.serialize_entry(kind, r),
            Self::Location(l) => map.serialize_entry(kind, l),
            Self::Contacts(c) => map.serialize_entry(kind, c),
        }
    }
}

/// `text`: up to 4096 characters; `preview_url` renders a preview of the first URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview_url: Option<bool>,
    pub body: String,
}

/// A media object: an uploaded media's id or a link Meta fetches (and caches 10 minutes,
/// cloud-api.md §3.2). `caption` for images, videos and documents, `filename` for documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaObject {
    pub source: MediaRef,
    pub caption: Option<String>,
    pub filename: Option<String>,
}

impl MediaObject {
    /// A media by the id of an upload, without caption or filename.
    pub fn id(id: impl Into<String>) -> Self {
        Self {
            source: MediaRef::Id(id.into()),
            caption: None,
            filename: None,
        }
    }

    /// A media by link, without caption or filename.
    pub fn link(link: impl Into<String>) -> Self {
        Self {
            source: MediaRef::Link(link.into()),
            caption: None,
            filename: None,
        }
    }
}

/// `id` or `link`: exactly one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaRef {
    Id(String),
    Link(String),
}

impl Serialize for MediaObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        match &self.source {
            MediaRef::Id(id) => map.serialize_entry("id", id)?,
            MediaRef::Link(link) => map.serialize_entry("link", link)?,
        }
        opt_entry(&mut map, "caption", self.caption.as_ref())?;
        opt_entry(&mut map, "filename", self.filename.as_ref())?;
        map.end()
    }
}

/// `interactive` of type `button`, `list` or `cta_url` (cloud-api.md §3.2); the type follows
/// from the action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InteractiveBody {
    /// Text only for a list.
    pub header: Option<InteractiveHeader>,
    /// `body.text`.
    pub body: String,
    /// `footer.text`.
    pub footer: Option<String>,
    pub action: InteractiveAction,
}

impl InteractiveBody {
    /// Every interactive `type` guichet sends.
    pub const TYPES: [&'static str; 3] = ["button", "list", "cta_url"];

    /// Meta's `interactive.type`.
    pub fn type_name(&self) -> &'static str {
        match self.action {
            InteractiveAction::Buttons(_) => "button",
            InteractiveAction::List { .. } => "list",
            InteractiveAction::CtaUrl { .. } => "cta_url",
        }
    }
}

/// `interactive.header`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InteractiveHeader {
    Text(String),
    Image(MediaObject),
    Video(MediaObject),
    Document(MediaObject),
}

impl InteractiveHeader {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Text(_) => "text",
            Self::Image(_) => "image",
            Self::Video(_) => "video",
            Self::Document(_) => "document",
        }
    }
}

/// `interactive.action`, by interactive type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InteractiveAction {
    /// `{"buttons":[{"type":"reply","reply":{"id","title"}}…]}`: up to 3 reply buttons.
    Buttons(Vec<ReplyButton>),
    /// `{"button":"…","sections":[…]}`: the label of the button that opens the list.
    List {
        button: String,
        sections: Vec<ListSection>,
    },
    /// `{"name":"cta_url","parameters":{"display_text","url"}}`.
    CtaUrl { display_text: String, url: String },
}

/// A reply button (`{"type":"reply","reply":{"id","title"}}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyButton {
    pub id: String,
    pub title: String,
}

/// A section of a list; `title` is required when there is more than one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub rows: Vec<ListRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListRow {
    pub id: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Serialize)]
struct TextObject<'a> {
    text: &'a str,
}

impl Serialize for InteractiveBody {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("type", self.type_name())?;
        opt_entry(&mut map, "header", self.header.as_ref())?;
        map.serialize_entry("body", &TextObject { text: &self.body })?;
        if let Some(text) = &self.footer {
            map.serialize_entry("footer", &TextObject { text })?;
        }
        map.serialize_entry("action", &self.action)?;
        map.end()
    }
}

impl Serialize for InteractiveHeader {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        let kind = self.type_name();
        map.serialize_entry("type", kind)?;
        match self {
            Self::Text(t) => map.serialize_entry(kind, t)?,
            Self::Image(m) | Self::Video(m) | Self::Document(m) => map.serialize_entry(kind, m)?,
        }
        map.end()
    }
}

impl Serialize for InteractiveAction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        match self {
            Self::Buttons(buttons) => map.serialize_entry("buttons", buttons)?,
            Self::List { button, sections } => {
                map.serialize_entry("button", button)?;
                map.serialize_entry("sections", sections)?;
            }
            Self::CtaUrl { display_text, url } => {
                #[derive(Serialize)]
                struct Parameters<'a> {
                    display_text: &'a str,
                    url: &'a str,
                }
                map.serialize_entry("name", "cta_url")?;
                map.serialize_entry("parameters", &Parameters { display_text, url })?;
            }
        }
        map.end()
    }
}

impl Serialize for ReplyButton {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Reply<'a> {
            id: &'a str,
            title: &'a str,
        }
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("type", "reply")?;
        map.serialize_entry(
            "reply",
            &Reply {
                id: &self.id,
                title: &self.title,
            },
        )?;
        map.end()
    }
}

/// `template`: which approved template, in which language, with which parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateBody {
    pub name: String,
    pub language: TemplateLanguage,
    /// Left out when empty (a template without parameters).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<SendComponent>,
}

/// `template.language`: `code` as the template was approved (`en_US`), and the deprecated
/// `policy` (`deterministic`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateLanguage {
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

/// One element of `template.components`: the parameters of the header, the body or one button.
#[derive(Debug, Clone, PartialEq)]
pub enum SendComponent {
    Header(Vec<Parameter>),
    Body(Vec<Parameter>),
    /// `{"type":"button","sub_type":…,"index":…,"parameters":[…]}`.
    Button {
        sub_type: ButtonSubType,
        /// The button's position in the template, 0 to 9.
        index: u8,
        parameters: Vec<Parameter>,
    },
}

impl SendComponent {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Header(_) => "header",
            Self::Body(_) => "body",
            Self::Button { .. } => "button",
        }
    }

    pub fn parameters(&self) -> &[Parameter] {
        match self {
            Self::Header(p) | Self::Body(p) | Self::Button { parameters: p, .. } => p,
        }
    }
}

impl Serialize for SendComponent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("type", self.type_name())?;
        if let Self::Button {
            sub_type, index, ..
        } = self
        {
            map.serialize_entry("sub_type", sub_type.as_str())?;
            // A string, as in Meta's examples; a number is read as well.
            map.serialize_entry("index", &index.to_string())?;
        }
        map.serialize_entry("parameters", self.parameters())?;
        map.end()
    }
}

/// `sub_type` of a button component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ButtonSubType {
    QuickReply,
    /// Also an authentication template's one-time-password button.
    Url,
    CopyCode,
    Flow,
    Catalog,
}

impl ButtonSubType {
    pub const ALL: [Self; 5] = [
        Self::QuickReply,
        Self::Url,
        Self::CopyCode,
        Self::Flow,
        Self::Catalog,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::QuickReply => "quick_reply",
            Self::Url => "url",
            Self::CopyCode => "copy_code",
            Self::Flow => "flow",
            Self::Catalog => "catalog",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

/// One parameter: `{"type":…,"parameter_name"?:…,"<type>":…}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// `parameter_name`, for templates with named parameters.
    pub name: Option<String>,
    pub value: ParameterValue,
}

impl Parameter {
    /// A positional text parameter.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            name: None,
            value: ParameterValue::Text(text.into()),
        }
    }
}

/// A parameter's value, by `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum ParameterValue {
    Text(String),
    Currency(Currency),
    DateTime(DateTime),
    Image(MediaObject),
    Video(MediaObject),
    Document(MediaObject),
    Location(LocationBody),
    /// A quick-reply button's payload.
    Payload(String),
    /// A copy-code button's code.
    CouponCode(String),
    /// A flow or catalog button's action (`flow_token`, `flow_action_data`,
    /// `thumbnail_product_retailer_id`…), kept as sent.
    Action(Map<String, Value>),
}

impl ParameterValue {
    /// Every parameter `type`, as Meta spells them.
    pub const TYPES: [&'static str; 10] = [
        "text",
        "currency",
        "date_time",
        "image",
        "video",
        "document",
        "location",
        "payload",
        "coupon_code",
        "action",
    ];

    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Text(_) => "text",
            Self::Currency(_) => "currency",
            Self::DateTime(_) => "date_time",
            Self::Image(_) => "image",
            Self::Video(_) => "video",
            Self::Document(_) => "document",
            Self::Location(_) => "location",
            Self::Payload(_) => "payload",
            Self::CouponCode(_) => "coupon_code",
            Self::Action(_) => "action",
        }
    }
}

impl Serialize for Parameter {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        let kind = self.value.type_name();
        map.serialize_entry("type", kind)?;
        opt_entry(&mut map, "parameter_name", self.name.as_ref())?;
        match &self.value {
            ParameterValue::Text(t)
            | ParameterValue::Payload(t)
            | ParameterValue::CouponCode(t) => {
                map.serialize_entry(kind, t)?;
            }
            ParameterValue::Currency(c) => map.serialize_entry(kind, c)?,
            ParameterValue::DateTime(d) => map.serialize_entry(kind, d)?,
            ParameterValue::Image(m) | ParameterValue::Video(m) | ParameterValue::Document(m) => {
                map.serialize_entry(kind, m)?;
            }
            ParameterValue::Location(l) => map.serialize_entry(kind, l)?,
            ParameterValue::Action(a) => map.serialize_entry(kind, a)?,
        }
        map.end()
    }
}

/// `currency`: shown as `fallback_value` where the client cannot localise the amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Currency {
    pub fallback_value: String,
    /// ISO 4217, e.g. `USD`.
    pub code: String,
    /// The amount times 1000.
    pub amount_1000: i64,
}

/// `date_time`: the Cloud API shows `fallback_value` as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DateTime {
    pub fallback_value: String,
}

/// `reaction`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReactionBody {
    pub message_id: String,
    /// The emoji; empty removes the reaction.
    pub emoji: String,
}

/// `location`, also a template header's location parameter. Decimal degrees, rounded to 7
/// decimals when read (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocationBody {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// A contact card of a `contacts` message. Only the name is read; the other fields (`phones`,
/// `emails`, `addresses`, `urls`, `org`, `birthday`) are kept exactly as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactCard {
    pub name: ContactCardName,
    /// Every field but `name`.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

/// `name` of a contact card: `formatted_name` is required; `first_name`, `last_name`… are kept
/// as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactCardName {
    pub formatted_name: String,
    /// Every field but `formatted_name`.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

/// Marks a customer's message (and the earlier ones) as read; with `typing_indicator`, also
/// shows "typing…" for up to 25 s (cloud-api.md §3.2). Meta answers `{"success": true}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRequest {
    pub messaging_product: String,
    /// The wamid of the customer's message.
    pub message_id: String,
    pub typing_indicator: Option<TypingIndicator>,
}

/// `typing_indicator`: `{"type":"text"}`, the only type Meta has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypingIndicator {
    #[serde(rename = "type")]
    pub kind: String,
}

impl Default for TypingIndicator {
    fn default() -> Self {
        Self {
            kind: "text".to_owned(),
        }
    }
}

impl Serialize for ReadRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("messaging_product", &self.messaging_product)?;
        map.serialize_entry("status", "read")?;
        map.serialize_entry("message_id", &self.message_id)?;
        opt_entry(&mut map, "typing_indicator", self.typing_indicator.as_ref())?;
        map.end()
    }
}

impl Serialize for SendRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("messaging_product", &self.messaging_product)?;
        opt_entry(&mut map, "recipient_type", self.recipient_type.as_ref())?;
        opt_entry(&mut map, "to", self.to.as_ref())?;
        opt_entry(&mut map, "recipient", self.recipient.as_ref())?;
        opt_entry(&mut map, "context", self.context.as_ref())?;
        opt_entry(
            &mut map,
            "biz_opaque_callback_data",
            self.biz_opaque_callback_data.as_ref(),
        )?;
        self.body.serialize_entries(&mut map)?;
        map.end()
    }
}

impl Serialize for SendBody {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        self.serialize_entries(&mut map)?;
        map.end()
    }
}

impl Serialize for OutboundRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Message(m) => m.serialize(s),
            Self::Read(r) => r.serialize(s),
        }
    }
}

fn opt_entry<M: SerializeMap, T: Serialize + ?Sized>(
    map: &mut M,
    key: &str,
    value: Option<&T>,
) -> Result<(), M::Error> {
    match value {
        Some(v) => map.serialize_entry(key, v),
        None => Ok(()),
    }
}

// ------------------------------------------------------------------------------------------------
// Reading a send request
// ------------------------------------------------------------------------------------------------

/// Why a send body was refused: where (`path`, empty for the body as a whole) and what is wrong
/// and expected (`problem`). `Display` gives both: ``"`template.components[0].parameters[1].type`:
/// unknown parameter type `txt`; expected one of `text`, `currency`, …"``.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct SendRequestError {
    path: String,
    problem: String,
}

impl SendRequestError {
    /// The path of the offending field, as in the JSON (`to`, `interactive.action.buttons[2]`);
    /// empty when the body as a whole is wrong.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong, and what was expected.
    pub fn problem(&self) -> &str {
        &self.problem
    }

    fn render(&self) -> String {
        if self.path.is_empty() {
            self.problem.clone()
        } else {
            format!("`{}`: {}", self.path, self.problem)
        }
    }
}

/// Reads the body a client posted to `/messages`. See the module docs for what is refused.
pub fn parse_send_request(body: &[u8]) -> Result<OutboundRequest, SendRequestError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| SendRequestError {
        path: String::new(),
        problem: format!("the body is not valid JSON ({e}); expected a JSON object"),
    })?;
    parse_send_value(&value)
}

/// [`parse_send_request`] for a body already read as JSON.
pub fn parse_send_value(value: &Value) -> Result<OutboundRequest, SendRequestError> {
    OutboundRequest::read(value, &At::Root)
}

type Parsed<T> = Result<T, SendRequestError>;

/// Where a reader is, as a chain of keys and indexes; rendered only for an error.
#[derive(Clone, Copy)]
enum At<'a> {
    Root,
    Key(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl<'a> At<'a> {
    fn index(&'a self, i: usize) -> Self {
        Self::Index(self, i)
    }

    fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Self::Root => {}
            Self::Key(parent, key) => {
                parent.write(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&shown(key));
            }
            Self::Index(parent, i) => {
                parent.write(out);
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }

    fn fail(&self, problem: impl Into<String>) -> SendRequestError {
        SendRequestError {
            path: self.render(),
            problem: problem.into(),
        }
    }
}

/// A client's text quoted in an error: at most 40 characters.
fn shown(s: &str) -> Cow<'_, str> {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => Cow::Owned(format!("{}…", &s[..cut])),
        None => Cow::Borrowed(s),
    }
}

/// What a JSON value is, for "found …".
fn found(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// "`a`, `b`, `c`".
fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A JSON object being read, and where it is.
struct Obj<'v, 'a> {
    map: &'v Map<String, Value>,
    at: &'a At<'a>,
}

impl<'v, 'a> Obj<'v, 'a> {
    /// `v` as an object, whatever its fields.
    fn any(v: &'v Value, at: &'a At<'a>, what: &str) -> Parsed<Self> {
        match v {
            Value::Object(map) => Ok(Self { map, at }),
            other => Err(at.fail(format!("expected {what}, found {}", found(other)))),
        }
    }

    /// `v` as an object with no fields but `fields`.
    fn new(v: &'v Value, at: &'a At<'a>, what: &str, fields: &[&str]) -> Parsed<Self> {
        let o = Self::any(v, at, what)?;
        o.only(what, fields)?;
        Ok(o)
    }

    /// Refuses the first field not in `fields`.
    fn only(&self, what: &str, fields: &[&str]) -> Parsed<()> {
        match self.map.keys().find(|k| !fields.contains(&k.as_str())) {
            Some(k) => {
                Err(At::Key(self.at, k)
                    .fail(format!("unknown field; {what} takes {}", list(fields))))
            }
            None => Ok(()),
        }
    }

    fn at(&self, key: &'a str) -> At<'a> {
        At::Key(self.at, key)
    }

    /// A field; `null` is absent.
    fn get(&self, key: &str) -> Option<&'v Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn required(&self, key: &'a str, what: &str) -> Parsed<&'v Value> {
        self.get(key)
            .ok_or_else(|| self.at(key).fail(format!("missing; expected {what}")))
    }

    fn string(&self, key: &'a str, what: &str) -> Parsed<String> {
        as_string(self.required(key, what)?, &self.at(key), what)
    }

    fn opt_string(&self, key: &'a str, what: &str) -> Parsed<Option<String>> {
        self.get(key)
            .map(|v| as_string(v, &self.at(key), what))
            .transpose()
    }

    /// An id that a client may write as a string or a whole number.
    fn opt_id(&self, key: &'a str, what: &str) -> Parsed<Option<String>> {
        self.get(key)
            .map(|v| match v {
                Value::Number(n) if n.is_u64() => Ok(n.to_string()),
                other => as_string(other, &self.at(key), what),
            })
            .transpose()
    }

    fn opt_bool(&self, key: &'a str, what: &str) -> Parsed<Option<bool>> {
        self.get(key)
            .map(|v| match v {
                Value::Bool(b) => Ok(*b),
                other => Err(self
                    .at(key)
                    .fail(format!("expected {what}, found {}", found(other)))),
            })
            .transpose()
    }

    /// A whole number, as a JSON integer or a string of digits.
    fn integer(&self, key: &'a str, what: &str) -> Parsed<i64> {
        let v = self.required(key, what)?;
        let n = match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        n.ok_or_else(|| {
            self.at(key)
                .fail(format!("expected {what}, found {}", found(v)))
        })
    }

    /// Decimal degrees within ±`limit`, as a number or a numeric string, rounded to 7 decimals.
    fn coordinate(&self, key: &'a str, what: &str, limit: f64) -> Parsed<f64> {
        let v = self.required(key, what)?;
        let x = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
        .filter(|x| x.is_finite())
        .ok_or_else(|| {
            let found = match v {
                Value::String(_) => "a string that is not a number",
                other => found(other),
            };
            self.at(key).fail(format!("expected {what}, found {found}"))
        })?;
        if !(-limit..=limit).contains(&x) {
            return Err(self.at(key).fail(format!("out of range; expected {what}")));
        }
        Ok(round_coordinate(x))
    }

    /// An array; absent is empty when `required` is false.
    fn array(&self, key: &'a str, what: &str, required: bool) -> Parsed<&'v [Value]> {
        match self.get(key) {
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(self
                .at(key)
                .fail(format!("expected {what}, found {}", found(other)))),
            None if required => Err(self.at(key).fail(format!("missing; expected {what}"))),
            None => Ok(&[]),
        }
    }

    /// A field whose value is one of `known` (compared without case when `fold_case`); the
    /// canonical spelling. `unsupported` are values Meta knows and guichet does not send.
    fn tag(
        &self,
        key: &'a str,
        thing: &str,
        known: &[&'static str],
        unsupported: &[&str],
        fold_case: bool,
    ) -> Parsed<&'static str> {
        let at = self.at(key);
        let s = match self.get(key) {
            Some(Value::String(s)) => s,
            Some(other) => {
                return Err(at.fail(format!(
                    "expected the {thing} as a string, one of {}; found {}",
                    list(known),
                    found(other)
                )));
            }
            None => {
                return Err(at.fail(format!(
                    "missing; expected the {thing}, one of {}",
                    list(known)
                )));
            }
        };
        let same = |k: &str| {
            if fold_case {
                k.eq_ignore_ascii_case(s)
            } else {
                k == s
            }
        };
        if let Some(k) = known.iter().copied().find(|k| same(k)) {
            return Ok(k);
        }
        if unsupported.iter().any(|u| same(u)) {
            return Err(at.fail(format!(
                "guichet does not send the {thing} `{}` yet; expected one of {}",
                shown(s),
                list(known)
            )));
        }
        Err(at.fail(format!(
            "unknown {thing} `{}`; expected one of {}",
            shown(s),
            list(known)
        )))
    }

    /// A structured field, which the Graph API also takes JSON-encoded in a string.
    fn structured(&self, key: &'a str, what: &str) -> Parsed<Cow<'v, Value>> {
        self.required(key, what).map(decoded)
    }
}

/// `v`, or the object or array a string holds as JSON.
fn decoded(v: &Value) -> Cow<'_, Value> {
    if let Value::String(s) = v
        && let Ok(inner @ (Value::Object(_) | Value::Array(_))) = serde_json::from_str::<Value>(s)
    {
        return Cow::Owned(inner);
    }
    Cow::Borrowed(v)
}

fn as_string(v: &Value, at: &At<'_>, what: &str) -> Parsed<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(at.fail(format!("expected {what}, found {}", found(other)))),
    }
}

/// Rounds to 7 decimals; see the module docs for why.
fn round_coordinate(x: f64) -> f64 {
    (x * 1e7).round() / 1e7
}

/// Reads every item of `items` with `read`, each at its index.
fn each<'v, T>(
    items: &'v [Value],
    at: &At<'_>,
    mut read: impl FnMut(&'v Value, &At<'_>) -> Parsed<T>,
) -> Parsed<Vec<T>> {
    items
        .iter()
        .enumerate()
        .map(|(i, v)| read(v, &at.index(i)))
        .collect()
}

/// Types read from a client's JSON with paths in their errors; `Deserialize` goes through it.
trait Read: Sized {
    fn read(v: &Value, at: &At<'_>) -> Parsed<Self>;
}

macro_rules! deserialize_by_reading {
    ($($t:ty),* $(,)?) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let value = Value::deserialize(d)?;
                <$t as Read>::read(&value, &At::Root).map_err(serde::de::Error::custom)
            }
        }
    )*};
}

deserialize_by_reading!(
    OutboundRequest,
    SendRequest,
    ReadRequest,
    SendBody,
    Context,
    TextBody,
    MediaObject,
    InteractiveBody,
    TemplateBody,
    SendComponent,
    Parameter,
    ReactionBody,
    LocationBody,
    ContactCard,
    TypingIndicator,
);

const SEND_FIELDS: [&str; 7] = [
    "messaging_product",
    "recipient_type",
    "to",
    "recipient",
    "context",
    "biz_opaque_callback_data",
    "type",
];

const READ_FIELDS: [&str; 4] = [
    "messaging_product",
    "status",
    "message_id",
    "typing_indicator",
];

impl Read for OutboundRequest {
    fn read(v: &Value, at: &At<'_>) -> Parsed<Self> {
        let o = Obj::any(v, at, "a JSON object: a message, or a mark-as-read request")?;
        if o.get("status").is_some() {
            ReadRequest::read(v, at).map(Self::Read)
        } else {
            SendRequest::read(v, at).map(Self::Message)
        }
    }
}

fn messaging_product(o: &Obj<'_, '_>) -> Parsed<String> {
    match o.get("messaging_product") {
        None => Ok(MESSAGING_PRODUCT.to_owned()),
        Some(Value::String(s)) if s == MESSAGING_PRODUCT => Ok(s.clone()),
        Some(_) => Err(o.at("messaging_product").fail("expected \"whatsapp\"")),
    }
}

/// `type`, or Meta's default `text` when it is left out and there is a `text` object.
fn send_type(o: &Obj<'_, '_>) -> Parsed<&'static str> {
    if o.get("type").is_none() {
        if o.get("text").is_some() {
            return Ok("text");
        }
        return Err(o
            .at("type")
            .fail(match SendBody::TYPES.iter().find(|t| o.get(t).is_some()) {
                Some(t) => format!("missing; the body has `{t}` content, so set \"type\": \"{t}\""),
                None => format!(
                    "missing; expected the message type, one of {}",
                    list(&SendBody::TYPES)
                ),
            }));
    }
    o.tag("type", "message type", &SendBody::TYPES, &[], false)
}

impl Read for SendRequest {
    fn read(v: &Value, at: &At<'_>) -> Parsed<Self> {
        let o = Obj::any(
            v,
            at,
            "a JSON object with `messaging_product`, `to` and `type`",
        )?;
        let kind = send_type(&o)?;
        if let Some(k) = o
            .map
            .keys()
            .find(|k| k.as_str() != kind && !SEND_FIELDS.contains(&k.as_str()))
        {
            let problem = if SendBody::TYPES.contains(&k.as_str()) {
                format!(
                    "a `{kind}` message has no `{k}` object: remove it, or set \"type\": \"{k}\" \
                     and remove `{kind}`"
                )
            } else if k == "status" || k == "message_id" {
                "only a mark-as-read request has this field, and it has no `type`".to_owned()
            } else {
                format!(
                    "unknown field; a message takes {} and the `{kind}` object",
                    list(&SEND_FIELDS)
                )
            };
            return Err(At::Key(at, k).fail(problem));
        }
        let messaging_product = messaging_product(&o)?;
        let recipient_type = o
            .get("recipient_type")
            .map(|_| {
                o.tag(
                    "recipient_type",
                    "recipient type",
                    &["individual", "group"],
                    &[],
                    false,
                )
            })
            .transpose()?
            .map(str::to_owned);
        let to = o.opt_id(
            "to",
            "the customer's phone number or WhatsApp id, as a string",
        )?;
        let recipient = o.opt_string(
            "recipient",
            "the customer's business-scoped user id, as a string",
        )?;
        if to.is_none() && recipient.is_none() {
            return Err(o.at("to").fail(
                "missing; give `to` (the customer's phone number or WhatsApp id) or `recipient` \
                 (their business-scoped user id)",
            ));
        }
        let context = match o.get("context") {
            Some(c) => Some(Context::read(&decoded(c), &o.at("context"))?),
            None => None,
        };
        let biz_opaque_callback_data = o.opt_string(
            "biz_opaque_callback_data",
            "a string to find in the status webhooks",
        )?;
        let content = o.structured(kind, &format!("the `{kind}` object of a `{kind}` message"))?;
        let body = read_body(kind, &content, &o.at(kind))?;
        Ok(Self {
            messaging_product,
            recipient_type,
            to,
            recipient,
            context,
            biz_opaque_callback_data,
            body,
        })
    }
}

impl Read for SendBody {
    fn read(v: &Value, at: &At<'_>) -> Parsed<Self> {
        let o = Obj::any(v, at, "a message body: `type` and its object")?;
        let kind = send_type(&o)?;
        o.only("a message body", &["type", kind])?;
        let content = o.structured(kind, &format!("the `{kind}` object"))?;
        read_body(kind, &content, &o.at(kind))
    }
}

const MEDIA_ONLY: [&str; 2] = ["id", "link"];
const MEDIA_CAPTIONED: [&str; 3] = ["id", "link", "caption"];
const MEDIA_NAMED: [&str; 3] = ["id", "link", "filename"];
const MEDIA_ALL: [&str; 4] = ["id", "link", "caption", "filename"];

/// The content of a `kind` message at `at`.
fn read_body(kind: &str, v: &Value, at: &At<'_>) -> Parsed<SendBody> {
    Ok(match kind {
        "text" => SendBody::Text(TextBody::read(v, at)?),
        "image" => SendBody::Image(read_media(v, at, "an `image` object", &MEDIA_CAPTIONED)?),
        "video" => SendBody::Video(read_media(v, at, "a `video` object", &MEDIA_CAPTIONED)?),
        "audio" => SendBody::Audio(read_media(v, at, "an `audio` object", &MEDIA_ONLY)?),
        "document" => SendBody::Document(read_media(v, at, "a `document` object", &MEDIA_ALL)?),
        "sticker" => SendBody::Sticker(read_media(v, at, "a `sticker` object", &MEDIA_ONLY)?),
        "interactive" => SendBody::Interactive(InteractiveBody::read(v, at)?),
        "template" => SendBody::Template(TemplateBody::read(v, at)?),
        "reaction" => SendBody::Reaction(ReactionBody::read(v, at)?),
        "location" => SendBody::Location(LocationBody::read(v, at)?),
        _ => {
            let what = "an array of contact cards, each with `name.formatted_name`";
            match v {
                Value::Array(items) => SendBody::Contacts(each(items, at, ContactCard::read)?),
                other => return Err(at.fail(format!("expected {what}, found {}", found(other)))),
            }
        }
    })
}

impl Read for Context {
    fn read(v: &Value, at: &At<'_>) -> Parsed<Self> {
        let o = Obj::new(
            v,
            at,
            "a context object like {\"message_id\": \"wamid…\"}",
            &["message_id"],
        )?;
        Ok(Self {
            message_id: o.string("message_id", "the wamid of the quoted message, as a string")?,
        })
    }
}

impl Read for TextBody {
    fn read(v: &Value, at: &At<'_>) -> Parsed<Self> {
        let o = Obj::new(
            v,
            at,
            "a text object like {\"body\": \"…\"}",
            &["body", "preview_url"],
        )?;
        Ok(Self {
            body: o.string("body", "the text of the message, as a string")?,
            preview_url: o.opt_bool("preview_url", "true or false")?,
        })
    }
}

impl Read for MediaObject {
    fn read(v: &Value, at: &At<'_>) -> Parsed<Self> {
        read_media(v, at, "a media object", &MEDIA_ALL)
    }
}

/// A media object with no fields but `fields` (a subset of `id`, `link`, `caption`,
/// `filename`).
fn read_media(v: &Value, at: &At<'_>, what: &str, fields: &[&str]) -> Parsed<MediaObject> {
    let o = Obj::new(v, at, what, fields)?;
    let id = o.opt_id("id", "the id of an uploaded media, as a string")?;
    let link = o.opt_string("link", "an http(s) URL Meta can fetch, as a string")?;
    let source = match (id, link) {
        (Some(id), None) => MediaRef::Id(id),
        (None, Some(link)) => MediaRef::Link(link),
        (Some(_), Some(_)) => {
            return Err(o
                .at("link")
                .fail("give either `id` (an uploaded media) or `link`, not both"));
        }
        (None, None) => {
            return Err(o.at("id").fail(
                "missing; expected `id` (the id of an uploaded media) or `link` (an http(s) URL)",
            ));
        }
    };
    Ok(MediaObject {
        source,
        caption: o.opt_string("caption", "the caption, as a string")?,
        filename: o.opt_string(
            "filename",
            "the file name shown to the customer, as a string",
        )?,
    })
}

/// Interactive types Meta has and guichet does not send.
const INTERACTIVE_UNSUPPORTED: [&str; 12] = [
    "product",
    "product_list",
    "catalog_message",
    "flow",
    "location_request_message",
    "address_message",
    "call_permission_request",
    "voice_call",
    "order_details",
    "order_status",
    "contact_request",
    "carousel",
];

impl Read for InteractiveBody {
    fn read(v: &Value, at: &At<'_>) -> Parsed<Self> {
        let o = Obj::new(
            v,
            at,
            "an `interactive` object",
            &["type", "header", "body", "footer", "action"],
        )?;
        let kind = o.tag(
            "type",
            "interactive type",
            &Self::TYPES,
            &INTERACTIVE_UNSUPPORTED,
            false,
        )?;
        let header = match o.get("header") {
            Some(h) => Some(read_interactive_header(h, &o.at("header"), kind == "list")?),
            None => None,
        };
        let body = text_object(&o, "body", "the message text, as {\"text\": \"…\"}")?.ok_or_else(
            || {
                o.at("body")
                    .fail("missing; expected the message text, as {\"text\": \"…\"}")
            },
        )?;
        let footer = text_object(&o, "footer", "the footer, as {\"text\": \"…\"}")?;
        let action_at = o.at("action");
        let action = o.required("action", &format!("the action of a `{kind}` message"))?;
        let action = match kind {
            "button" => {
                let a = Obj::new(
                    action,
                    &action_at,
                    "a button action like {\"buttons\": […]}",
                    &["buttons"],
                )?;
                let items = a.array(
                    "buttons",
                    "an array of reply buttons like {\"type\": \"reply\", \"reply\": {\"id\": \"…\", \"title\": \"…\"}}",
                    true,
                )?;
                InteractiveAction::Buttons(each(items, &a.at("buttons"), read_reply_button)?)
            }
            "list" => {
                let a = Obj::new(
                    action,
                    &action_at,
                    "a list action like {\"button\": \"…\", \"sections\": […]}",
                    &["button", "sections"],
                )?;
                let button = a.string(
                    "button",
                    "the label of the button that opens the list, as a string",
                )?;
                let items = a.array(
                    "sections",
                    "an array of sections like {\"title\": \"…\", \"rows\": […]}",
                    true,
                )?;
                InteractiveAction::List {
                    button,
                    sections: each(items, &a.at("sections"), read_section)?,
                }
            }
            _ => {
                let a = Obj::new(
                    action,
                    &action_at,
                    "a cta_url action like {\"name\": \"cta_url\", \"parameters\": {\"display_text\": \"…\", \"url\": \"…\"}}",
                    &["name", "parameters"],
                )?;
                a.tag("name", "action name", &["cta_url"], &[], false)?;
                let params_at = a.at("parameters");
                let p = Obj::new(
                    a.required("parameters", "{\"display_text\": \"…\", \"url\": \"…\"}")?,
                    &params_at,
                    "an object like {\"display_text\": \"…\", \"url\": \"…\"}",
                    &["display_text", "url"],
                )?;
                InteractiveAction::CtaUrl {
                    display_text: p.string("display_text", "the button's label, as a string")?,
                    url: p.string("url", "the URL the button opens, as a string")?,
                }
            }
        };
        Ok(Self {
            header,
            body,
            footer,
            action,
        })
    }
}

/// `{"text": "…"}` at `key`, if present.
fn text_object(o: &Obj<'_, '_>, key: &'static str, what: &str) -> Parsed<Option<String>> {
    let Some(v) = o.get(key) else {
        return Ok(None);
    };
    let at = o.at(key);
    let t = Obj::new(v, &at, what, &["text"])?;
    t.string("text", "the text, as a string").map(Some)
}

fn read_interactive_header(v: &Value, at: &At<'_>, text_only: bool) -> Parsed<InteractiveHeader> {
    let o = Obj::any(
        v,
        at,
        "a header object like {\"type\": \"text\", \"text\": \"…\"}",
    )?;
    let known: &[&'static str] = if text_only {
        &["text"]
    } else {
        &["text", "image", "video", "document"]
    };
    let kind = o
        .tag("type", "header type", known, &[], false)
        .map_err(|e| {
            if text_only {
                o.at("type").fail(format!(
                    "{}; a list message takes only a text header",
                    e.problem
                ))
            } else {
                e
            }
        })?;
    o.only(&format!("a `{kind}` header"), &["type", kind])?;
    let content_at = o.at(kind);
    let content = o.required(kind, &format!("the header's `{kind}`"))?;
    Ok(match kind {
        "text" => InteractiveHeader::Text(as_string(
            content,
            &content_at,
            "the header text, as a string",
        )?),
        "image" => InteractiveHeader::Image(read_media(
            content,
            &content_at,
            "an `image` object",
            &MEDIA_ONLY,
        )?),
        "video" => InteractiveHeader::Video(read_media(
            content,
            &content_at,
            "a `video` object",
            &MEDIA_ONLY,
        )?),
        _ => InteractiveHeader::Document(read_media(
            content,
            &content_at,
            "a `document` object",
            &MEDIA_NAMED,
        )?),
    })
}

fn read_reply_button(v: &Value, at: &At<'_>) -> Parsed<ReplyButton> {
    let o = Obj::new(
        v,
        at,
        "a reply button like {\"type\": \"reply\", \"reply\": {\"id\": \"…\", \"title\": \"…\"}}",
        &["type", "reply"],
    )?;
    o.tag("type", "button type", &["reply"], &[], false)?;
    let reply_at = o.at("reply");
    let r = Obj::new(
        o.required("reply", "{\"id\": \"…\", \"title\": \"…\"}")?,
        &reply_at,
        "an object like {\"id\": \"…\", \"title\": \"…\"}",
        &["id", "title"],
    )?;
    Ok(ReplyButton {
        id: r.string(
            "id",
            "the id sent back when the button is tapped, as a string",
        )?,
        title: r.string("title", "the button's label, as a string")?,
    })
}

fn read_section(v: &Value, at: &At<'_>) -> Parsed<ListSection> {
    let o = Obj::new(
        v,
        at,
        "a section like {\"title\": \"…\", \"rows\": […]}",
        &["title", "rows"],
    )?;
    let items = o.array(
        "rows",
        "an array of rows like {\"id\": \"…\", \"title\": \"…\"}",
        true,
    )?;
    Ok(ListSection {
        title: o.opt_string("title", "the section title, as a string")?,
        rows: each(items, &o.at("rows"), |v, at| {
            let r = Obj::new(
                v,
                at,
                "a row like {\"id\": \"…\", \"title\": \"…\", \"description\": \"…\"}",
                &["id", "title", "description"],
            )?;
            Ok(ListRow {
                id: r.string("id", "the id sent back when the row is chosen, as a string")?,
                title: r.string("title", "the row's title, as a string")?,
                description: r.opt_string("description", "the row's description, as a string")?,
            })
        })?,
    })
}

impl Read for TemplateBody {
    fn read(v: &Value, at: &At<'_>) -> Parsed<Self> {
        let o = Obj::new(
            v,
            at,
            "a template object like {\"name\": \"…\", \"language\": {\"code\": \"en_US\"}, \"components\": […]}",
            &["name", "language", "components"],
        )?;
        let name = o.string("name", "the template's name, as a string")?;
        let language_at = o.at("language");
        let l = Obj::new(
            o.required(
                "language",
                "the template's language, as {\"code\": \"en_US\"}",
            )?,
            &language_at,
            "the template's language as an object like {\"code\": \"en_US\"}",
            &["code", "policy"],
        )?;
        let language = TemplateLanguage {
            code: l.string(
                "code",
                "the language code the template was approved in, like `en_US`",
            )?,
            policy: l.opt_string("policy", "`deterministic`")?,
        };
        let items = o.array("components", "an array of components", false)?;
        Ok(Self {
            name,
            language,
            components: each(items, &o.at("components"), SendComponent::read)?,
        })
    }
}

impl Read for SendComponent {
    fn read(v: &Value, at: &At<'_>) -> Parsed<Self> {
        let o = Obj::any(
            v,
            at,
            "a component like {\"type\": \"body\", \"parameters\": […]}",
        )?;
        let kind = o.tag(
            "type",
            "component type",
            &["header", "body", "button"],
            &["carousel", "limited_time_offer"],
            true,
        )?;
        let parameters = |o: &Obj<'_, '_>| {
            let items = o.array("parameters", "an array of parameters", false)?;
            each(items, &o.at("parameters"), Parameter::read)
        };
        Ok(match kind {
            "header" | "body" => {
                o.only(&format!("a `{kind}` component"), &["type", "parameters"])?;
                let params = parameters(&o)?;
                if kind == "header" {
                    Self::Header(params)
                } else {
                    Self::Body(params)
                }
            }
            _ => {
                o.only(
                    "a `button` component",
                    &["type", "sub_type", "index", "parameters"],
                )?;
                let names: Vec<&'static str> =
                    ButtonSubType::ALL.iter().map(|t| t.as_str()).collect();
                let sub_type = o.tag(
                    "sub_type",
                    "button sub_type",
                    &names,
                    &["mpm", "voice_call", "order_details", "spm"],
                    true,
                )?;
                let sub_type = ButtonSubType::parse(sub_type)
                    .ok_or_else(|| o.at("sub_type").fail("unknown button sub_type"))?;
                let what = "the button's position in the template, 0 to 9";
                let index = o.integer("index", what)?;
                let index = u8::try_from(index)
                    .ok()
                    .filter(|i| *i <= 9)
                    .ok_or_else(|| o.at("index").fail(format!("out of range; expected {what}")))?;
                Self::Button {
                    sub_type,
                    index,
                    parameters: parameters(&o)?,
                }
            }
        })
    }
}

impl Read for Parameter {
    fn read(v: &Value, at: &At<'_>) -> Parsed<Self> {
        let o = Obj::any(
            v,
            at,
            "a parameter like {\"type\": \"text\", \"text\": \"…\"}",
        )?;
        let kind = o.tag(
            "type",
            "parameter type",
            &ParameterValue::TYPES,
            &["limited_time_offer", "product", "tap_target_configuration"],
            false,
        )?;
        o.only(
            &format!("a `{kind}` parameter"),
            &["type", "parameter_name", kind],
        )?;
        let name = o.opt_string(
            "parameter_name",
            "the placeholder's name (for named parameters), as a string",
        )?;
        let value_at = o.at(kind);
        let value = match kind {
            "text" => {
                ParameterValue::Text(o.string("text", "the text of the placeholder, as a string")?)
            }
            "payload" => ParameterValue::Payload(o.string(
                "payload",
                "the payload sent back when the button is tapped, as a string",
            )?),
            "coupon_code" => ParameterValue::CouponCode(
                o.string("coupon_code", "the code the button copies, as a string")?,
            ),
            "currency" => {
                let c = Obj::new(
                    o.required(
                        "currency",
                        "{\"fallback_value\", \"code\", \"amount_1000\"}",
                    )?,
                    &value_at,
                    "a currency like {\"fallback_value\": \"$100.99\", \"code\": \"USD\", \"amount_1000\": 100990}",
                    &["fallback_value", "code", "amount_1000"],
                )?;
                ParameterValue::Currency(Currency {
                    fallback_value: c
                        .string("fallback_value", "the amount as shown, as a string")?,
                    code: c.string("code", "the ISO 4217 currency code, like `USD`")?,
                    amount_1000: c
                        .integer("amount_1000", "the amount times 1000, a whole number")?,
                })
            }
            "date_time" => {
                let d = Obj::new(
                    o.required("date_time", "{\"fallback_value\": \"…\"}")?,
                    &value_at,
                    "a date_time like {\"fallback_value\": \"February 25, 1977\"}",
                    &["fallback_value"],
                )?;
                ParameterValue::DateTime(DateTime {
                    fallback_value: d.string("fallback_value", "the date as shown, as a string")?,
                })
            }
            "image" | "video" | "document" => {
                let fields: &[&str] = if kind == "document" {
                    &MEDIA_NAMED
                } else {
                    &MEDIA_ONLY
                };
                let m = read_media(
                    o.required(kind, &format!("the `{kind}` object"))?,
                    &value_at,
                    &format!("a `{kind}` object like {{\"link\": \"https://…\"}}"),
                    fields,
                )?;
                match kind {
                    "image" => ParameterValue::Image(m),
                    "video" => ParameterValue::Video(m),
                    _ => ParameterValue::Document(m),
                }
            }
            "location" => ParameterValue::Location(LocationBody::read(
                o.required("location", "the `location` object")?,
                &value_at,
            )?),
            _ => match o.required("action", "the `action` object")? {
                Value::Object(map) => ParameterValue::Action(map.clone()),
                other => {
                    return Err(value_at.fail(format!(
                        "expected the button's action as an object, found {}",
                        found(other)
                    )));
                }
            },
        };
        Ok(Self { name, value })
    }
}

impl Read for ReactionBody {
    fn read(v: &Value, at: &At<'_>) -> Parsed<Self> {
        let o = Obj::new(
            v,
            at,
            "a reaction like {\"message_id\": \"wamid…\", \"emoji\": \"👍\"}",
            &["message_id", "emoji"],
        )?;
        Ok(Self {
            message_id: o.string(
                "message_id",
                "the wamid of the message reacted to, as a string",
            )?,
            emoji: o.string(
                "emoji",
                "the emoji, as a string (empty to remove the reaction)",
            )?,
        })
    }
}

impl Read for LocationBody {
    fn read(v: &Value, at: &At<'_>) -> Parsed<Self> {
        let o = Obj::new(
            v,
            at,
            "a location like {\"latitude\": 37.48, \"longitude\": -122.14}",
            &["latitude", "longitude", "name", "address"],
        )?;
        Ok(Self {
            latitude: o.coordinate(
                "latitude",
                "a latitude in decimal degrees, between -90 and 90",
                90.0,
            )?,
            longitude: o.coordinate(
                "longitude",
                "a longitude in decimal degrees, between -180 and 180",
                180.0,
            )?,
            name: o.opt_string("name", "the place's name, as a string")?,
            address: o.opt_string("address", "the place's address, as a string")?,
        })
    }
}

impl Read for ContactCard {
    fn read(v: &Value, at: &At<'_>) -> Parsed<Self> {
        let o = Obj::any(
            v,
            at,
            "a contact card like {\"name\": {\"formatted_name\": \"…\"}, \"phones\": […]}",
        )?;
        let name_at = o.at("name");
        let n = Obj::any(
            o.required("name", "the contact's name, as {\"formatted_name\": \"…\"}")?,
            &name_at,
            "the contact's name as an object like {\"formatted_name\": \"…\"}",
        )?;
        let formatted_name = n.string("formatted_name", "the contact's full name, as a string")?;
        let rest = |map: &Map<String, Value>, skip: &str| -> Map<String, Value> {
            map.iter()
                .filter(|(k, _)| k.as_str() != skip)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        Ok(Self {
            name: ContactCardName {
                formatted_name,
                fields: rest(n.map, "formatted_name"),
            },
            fields: rest(o.map, "name"),
        })
    }
}

impl Read for ReadRequest {
    fn read(v: &Value, at: &At<'_>) -> Parsed<Self> {
        let o = Obj::new(v, at, "a mark-as-read request", &READ_FIELDS)?;
        o.tag("status", "status", &["read"], &[], false)
            .map_err(|e| {
                o.at("status").fail(format!(
                    "{}; a business can only mark a customer's message as read",
                    e.problem
                ))
            })?;
        let typing_indicator = match o.get("typing_indicator") {
            Some(t) => Some(TypingIndicator::read(t, &o.at("typing_indicator"))?),
            None => None,
        };
        Ok(Self {
            messaging_product: messaging_product(&o)?,
            message_id: o.string(
                "message_id",
                "the wamid of the customer's message, as a string",
            )?,
            typing_indicator,
        })
    }
}

impl Read for TypingIndicator {
    fn read(v: &Value, at: &At<'_>) -> Parsed<Self> {
        let o = Obj::new(
            v,
            at,
            "a typing indicator like {\"type\": \"text\"}",
            &["type"],
        )?;
        let kind = o.tag("type", "typing indicator type", &["text"], &[], false)?;
        Ok(Self {
            kind: kind.to_owned(),
        })
    }
}

// ------------------------------------------------------------------------------------------------
// Answers
// ------------------------------------------------------------------------------------------------

/// Meta's answer to an accepted send (HTTP 200, cloud-api.md §3.3): accepted, not delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendResponse {
    #[serde(default)]
    pub messaging_product: String,
    #[serde(default)]
    pub contacts: Vec<SentContact>,
    #[serde(default)]
    pub messages: Vec<SentMessage>,
}

impl SendResponse {
    /// The wamid Meta gave the message: the key its status webhooks will carry.
    pub fn wamid(&self) -> Option<&str> {
        self.messages
            .iter()
            .map(|m| m.id.as_str())
            .find(|id| !id.is_empty())
    }
}

/// `contacts[]`: the recipient as sent, and as Meta resolved it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentContact {
    /// `to` (or `recipient`) echoed as sent.
    #[serde(default)]
    pub input: String,
    /// May differ from `input` (cloud-api.md §3.3); absent for a send by business-scoped id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    /// The business-scoped user id, on sends to one (cloud-api.md §9.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// `messages[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    #[serde(default)]
    pub id: String,
    /// Template sends under pacing only: `accepted`, `held_for_quality_assessment` or `paused`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_status: Option<String>,
    /// Group sends only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
}

/// Meta's answer to a mark-as-read or a typing indicator: `{"success": true}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuccessResponse {
    #[serde(default)]
    pub success: bool,
}

// ------------------------------------------------------------------------------------------------
// Templates
// ------------------------------------------------------------------------------------------------

/// A page of `GET /{waba-id}/message_templates`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateList {
    #[serde(default)]
    pub data: Vec<GraphTemplate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paging: Option<Paging>,
}

impl TemplateList {
    /// The `after` cursor of the next page, when there is one.
    pub fn next_after(&self) -> Option<&str> {
        let paging = self.paging.as_ref()?;
        paging.next.as_ref()?;
        paging
            .cursors
            .as_ref()
            .and_then(|c| c.after.as_deref())
            .filter(|a| !a.is_empty())
    }
}

/// Graph API cursor paging.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paging {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursors: Option<Cursors>,
    /// The URL of the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursors {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// A template in one language, as the Graph API lists it. Enumerations are Meta's strings:
/// `status` (`APPROVED`, `PENDING`, … cloud-api.md §6.5), `category` (`MARKETING`, `UTILITY`,
/// `AUTHENTICATION`), `parameter_format` (`POSITIONAL`, `NAMED`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphTemplate {
    #[serde(default, deserialize_with = "de::id")]
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// As approved: `en_US`.
    #[serde(default)]
    pub language: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub category: String,
    /// The category before Meta recategorised the template (cloud-api.md §6.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality_score: Option<QualityScore>,
    /// `POSITIONAL` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_format: Option<String>,
    #[serde(default)]
    pub components: Vec<TemplateComponent>,
    /// `NONE` unless rejected: `ABUSIVE_CONTENT`, `INVALID_FORMAT`, `PROMOTIONAL`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_reason: Option<String>,
}

impl GraphTemplate {
    /// The first component of type `kind` (`HEADER`, `BODY`, `FOOTER`, `BUTTONS`), any case.
    pub fn component(&self, kind: &str) -> Option<&TemplateComponent> {
        self.components
            .iter()
            .find(|c| c.kind.eq_ignore_ascii_case(kind))
    }

    /// The body text, placeholders included.
    pub fn body_text(&self) -> Option<&str> {
        self.component("BODY").and_then(|c| c.text.as_deref())
    }

    /// The buttons of the `BUTTONS` component, in order.
    pub fn buttons(&self) -> &[TemplateButtonDef] {
        self.component("BUTTONS").map_or(&[], |c| &c.buttons)
    }
}

/// `quality_score`: `score` is `GREEN`, `YELLOW`, `RED` or `UNKNOWN`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualityScore {
    #[serde(default)]
    pub score: String,
    #[serde(
        default,
        deserialize_with = "de::opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub date: Option<i64>,
}

/// A component of a template as approved: `type` `HEADER` (with a `format`: `TEXT`, `IMAGE`,
/// `VIDEO`, `DOCUMENT`, `LOCATION`), `BODY`, `FOOTER` or `BUTTONS`. Fields guichet does not model
/// (`add_security_recommendation`, `code_expiration_minutes`, `cards`…) are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateComponent {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<TemplateButtonDef>,
    /// Sample values for review (`header_handle`, `body_text`, `body_text_named_params`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A button of a template as approved: `type` `QUICK_REPLY`, `URL`, `PHONE_NUMBER`,
/// `COPY_CODE`, `OTP`, `FLOW`, `CATALOG`, `MPM`, `VOICE_CALL`, … Fields guichet does not model
/// (`autofill_text`, `supported_apps`, `navigate_screen`…) are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateButtonDef {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A `URL` button's URL; dynamic when it ends with a placeholder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// An `OTP` button's kind: `COPY_CODE`, `ONE_TAP`, `ZERO_TAP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otp_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "de::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub flow_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The body of `POST /{waba-id}/message_templates`. Meta takes the category in lowercase as well
/// (cloud-api.md §6.4). Other fields (`allow_category_change`, `message_send_ttl_seconds`…) are
/// kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTemplateRequest {
    pub name: String,
    pub language: String,
    pub category: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_format: Option<String>,
    #[serde(default)]
    pub components: Vec<TemplateComponent>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Meta's answer to a template creation: `{"id","status","category"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedTemplate {
    #[serde(default, deserialize_with = "de::id")]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn parse(v: &Value) -> OutboundRequest {
        parse_send_value(v).unwrap_or_else(|e| panic!("{e}: {v}"))
    }

    fn message(v: &Value) -> SendRequest {
        match parse(v) {
            OutboundRequest::Message(m) => m,
            OutboundRequest::Read(r) => panic!("a read request: {r:?}"),
        }
    }

    fn error(v: &Value) -> SendRequestError {
        match parse_send_value(v) {
            Ok(r) => panic!("accepted: {r:?}"),
            Err(e) => e,
        }
    }

    /// Parses `v`, checks that it serialises back to exactly `v`, and returns it.
    fn same_shape(v: &Value) -> OutboundRequest {
        let parsed = parse(v);
        let back = serde_json::to_value(&parsed).expect("serialise");
        assert_eq!(&back, v, "the serialisation is not Meta's shape");
        let from_bytes = parse_send_request(&serde_json::to_vec(&parsed).expect("bytes"));
        assert_eq!(from_bytes.as_ref(), Ok(&parsed));
        parsed
    }

    #[test]
    fn text_from_the_reference() {
        let m = same_shape(&json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": "+16505551234",
            "type": "text",
            "text": {"preview_url": true,
                     "body": "As requested, here's the link: https://www.meta.com/quest/quest-3/"}
        }));
        let OutboundRequest::Message(m) = m else {
            panic!("not a message")
        };
        assert_eq!(m.to.as_deref(), Some("+16505551234"));
        assert_eq!(m.recipient_type.as_deref(), Some("individual"));
        let SendBody::Text(t) = &m.body else {
            panic!("not text")
        };
        assert_eq!(t.preview_url, Some(true));
        assert!(t.body.starts_with("As requested"));
    }

    #[test]
    fn media_by_id_and_by_link() {
        let m = message(
            &same_shape(&json!({
                "messaging_product": "whatsapp", "to": "+16505551234", "type": "image",
                "image": {"id": "1037543291543636", "caption": "Your receipt"}
            }))
            .pipe_json(),
        );
        assert_eq!(
            m.body,
            SendBody::Image(MediaObject {
                source: MediaRef::Id("1037543291543636".into()),
                caption: Some("Your receipt".into()),
                filename: None
            })
        );
        same_shape(&json!({
            "messaging_product": "whatsapp", "to": "+16505551234", "type": "image",
            "image": {"link": "https://example.com/a.jpg", "caption": "..."}
        }));
        let d = message(&json!({
            "messaging_product": "whatsapp", "to": "+16505551234", "type": "document",
            "document": {"link": "https://example.com/a.pdf", "filename": "a.pdf"}
        }));
        assert_eq!(
            d.body.media().and_then(|m| m.filename.as_deref()),
            Some("a.pdf")
        );
        for kind in ["video", "audio", "sticker"] {
            let m = message(&json!({"to": "1", "type": kind, kind: {"id": 42}}));
            assert_eq!(m.body.type_name(), kind);
            assert_eq!(
                m.body.media().map(|m| &m.source),
                Some(&MediaRef::Id("42".into())),
                "a numeric id is read as its digits"
            );
        }
    }

    /// Lets a test reuse a parsed request as JSON again.
    trait PipeJson {
        fn pipe_json(&self) -> Value;
    }

    impl PipeJson for OutboundRequest {
        fn pipe_json(&self) -> Value {
            serde_json::to_value(self).expect("serialise")
        }
    }

    #[test]
    fn templates_positional_named_and_with_buttons() {
        let m = message(&same_shape(&json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": "+16505551234",
            "type": "template",
            "template": {"name": "order_confirmation", "language": {"code": "en_US"},
                "components": [{"type": "body", "parameters": [
                    {"type": "text", "text": "Jessica"}, {"type": "text", "text": "SKBUP2-4CPIG9"}]}]}
        })).pipe_json());
        let SendBody::Template(t) = &m.body else {
            panic!("not a template")
        };
        assert_eq!(t.name, "order_confirmation");
        assert_eq!(t.language.code, "en_US");
        assert_eq!(
            t.components,
            vec![SendComponent::Body(vec![
                Parameter::text("Jessica"),
                Parameter::text("SKBUP2-4CPIG9")
            ])]
        );

        let m = message(&same_shape(&json!({
            "messaging_product": "whatsapp", "to": "+16505551234", "type": "template",
            "template": {"name": "promo", "language": {"code": "es"}, "components": [
                {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://example.com/h.jpg"}}]},
                {"type": "body", "parameters": [{"type": "text", "text": "Ana"}]},
                {"type": "button", "sub_type": "quick_reply", "index": "0",
                 "parameters": [{"type": "payload", "payload": "accept_42"}]},
                {"type": "button", "sub_type": "url", "index": "1",
                 "parameters": [{"type": "text", "text": "order/42"}]}]}
        })).pipe_json());
        let SendBody::Template(t) = &m.body else {
            panic!("not a template")
        };
        assert_eq!(
            t.components[2],
            SendComponent::Button {
                sub_type: ButtonSubType::QuickReply,
                index: 0,
                parameters: vec![Parameter {
                    name: None,
                    value: ParameterValue::Payload("accept_42".into())
                }]
            }
        );

        let named = message(&json!({
            "to": "16505551234", "type": "template",
            "template": {"name": "welcome", "language": {"code": "en", "policy": "deterministic"},
                "components": [{"type": "BODY", "parameters": [
                    {"type": "text", "parameter_name": "first_name", "text": "Jessica"},
                    {"type": "currency", "parameter_name": "total",
                     "currency": {"fallback_value": "$100.99", "code": "USD", "amount_1000": 100_990}},
                    {"type": "date_time", "date_time": {"fallback_value": "February 25, 1977"}}]},
                    {"type": "button", "sub_type": "COPY_CODE", "index": 1,
                     "parameters": [{"type": "coupon_code", "coupon_code": "SAVE10"}]},
                    {"type": "button", "sub_type": "flow", "index": 2,
                     "parameters": [{"type": "action", "action": {"flow_token": "t-1"}}]}]}
        }));
        let SendBody::Template(t) = &named.body else {
            panic!("not a template")
        };
        assert_eq!(t.language.policy.as_deref(), Some("deterministic"));
        let body = t.components[0].parameters();
        assert_eq!(body[0].name.as_deref(), Some("first_name"));
        assert_eq!(
            body[1].value,
            ParameterValue::Currency(Currency {
                fallback_value: "$100.99".into(),
                code: "USD".into(),
                amount_1000: 100_990
            })
        );
        let out = serde_json::to_value(&named).expect("serialise");
        assert_eq!(out["template"]["components"][0]["type"], "body");
        assert_eq!(out["template"]["components"][1]["sub_type"], "copy_code");
        assert_eq!(out["template"]["components"][1]["index"], "1");
        assert_eq!(
            out["template"]["components"][2]["parameters"][0]["action"]["flow_token"],
            "t-1"
        );
    }

    #[test]
    fn interactive_buttons_list_and_cta_url() {
        let m = message(&same_shape(&json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": "+16505551234",
            "type": "interactive",
            "interactive": {"type": "button", "header": {"type": "image", "image": {"id": "2762702990552401"}},
                "body": {"text": "Your workshop is at 9am tomorrow."}, "footer": {"text": "Lucky Shrub"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "change-button", "title": "Change"}},
                                       {"type": "reply", "reply": {"id": "cancel-button", "title": "Cancel"}}]}}
        })).pipe_json());
        let SendBody::Interactive(i) = &m.body else {
            panic!("not interactive")
        };
        assert_eq!(i.type_name(), "button");
        assert_eq!(
            i.header,
            Some(InteractiveHeader::Image(MediaObject::id(
                "2762702990552401"
            )))
        );
        assert_eq!(i.footer.as_deref(), Some("Lucky Shrub"));
        let InteractiveAction::Buttons(b) = &i.action else {
            panic!("not buttons")
        };
        assert_eq!(b[1].title, "Cancel");

        let m = message(&same_shape(&json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": "+16505551234",
            "type": "interactive",
            "interactive": {"type": "list", "header": {"type": "text", "text": "Choose Shipping Option"},
                "body": {"text": "Which shipping option do you prefer?"}, "footer": {"text": "Lucky Shrub"},
                "action": {"button": "Shipping Options", "sections": [{"title": "I want it ASAP!", "rows": [
                    {"id": "priority_express", "title": "Priority Mail Express", "description": "Next Day to 2 Days"}]}]}}
        })).pipe_json());
        let SendBody::Interactive(i) = &m.body else {
            panic!("not interactive")
        };
        let InteractiveAction::List { button, sections } = &i.action else {
            panic!("not a list")
        };
        assert_eq!(button, "Shipping Options");
        assert_eq!(sections[0].rows[0].id, "priority_express");

        same_shape(&json!({
            "messaging_product": "whatsapp", "to": "+16505551234", "type": "interactive",
            "interactive": {"type": "cta_url", "header": {"type": "text", "text": "Available in 3, 5 and 10 min"},
                "body": {"text": "Tap the button below to see available dates."},
                "action": {"name": "cta_url", "parameters": {"display_text": "See Dates",
                                                             "url": "https://www.luckyshrub.com?clickID=kqDGWd24Q5TRwoEQTICY7W1JKoXvaZOXWAS7h1P76s0R7Paec4"}}}
        }));
    }

    #[test]
    fn reaction_location_and_contacts() {
        let m = message(&same_shape(&json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": "+16505551234",
            "type": "reaction",
            "reaction": {"message_id": "wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQUZCMTY0MDc2MUYwNzBDNTY5MAA=",
                         "emoji": "\u{1F600}"}
        })).pipe_json());
        assert!(matches!(&m.body, SendBody::Reaction(r) if r.emoji == "😀"));

        let m = message(&same_shape(&json!({
            "messaging_product": "whatsapp", "to": "+16505551234", "type": "location",
            "location": {"latitude": 37.483_307, "longitude": -122.148_981, "name": "Philz Coffee",
                         "address": "101 Forest Ave, Palo Alto, CA 94301"}
        })).pipe_json());
        assert!(
            matches!(&m.body, SendBody::Location(l) if l.latitude == 37.483_307 && l.longitude == -122.148_981)
        );
        // Coordinates as strings (Meta's template examples) are read as numbers, rounded.
        let l = message(&json!({"to": "1", "type": "location",
            "location": {"latitude": " 37.483307123456 ", "longitude": "-122.1"}}));
        assert!(matches!(&l.body, SendBody::Location(l) if l.latitude == 37.483_307_1));

        let m = message(&same_shape(&json!({
            "messaging_product": "whatsapp", "to": "+16505551234", "type": "contacts",
            "contacts": [{"name": {"formatted_name": "Howard Burns", "first_name": "Howard",
                                   "last_name": "Burns"},
                          "phones": [{"phone": "+16505559999", "type": "WORK", "wa_id": "16505559999"}],
                          "emails": [{"email": "hburns@example.com", "type": "WORK"}],
                          "org": {"company": "Lucky Shrub"}, "birthday": "1999-01-23",
                          "x-future": {"anything": [1, 2, 3]}}]
        })).pipe_json());
        let SendBody::Contacts(cards) = &m.body else {
            panic!("not contacts")
        };
        assert_eq!(cards[0].name.formatted_name, "Howard Burns");
        assert_eq!(cards[0].name.fields["first_name"], "Howard");
        assert!(cards[0].fields.contains_key("x-future"), "nothing is lost");
        assert!(!cards[0].fields.contains_key("name"));
    }

    #[test]
    fn read_receipts_and_typing_indicators() {
        let r = same_shape(&json!({
            "messaging_product": "whatsapp", "status": "read",
            "message_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA"
        }));
        assert!(matches!(&r, OutboundRequest::Read(r) if r.typing_indicator.is_none()));
        let r = same_shape(&json!({
            "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.X",
            "typing_indicator": {"type": "text"}
        }));
        assert!(
            matches!(&r, OutboundRequest::Read(r) if r.typing_indicator == Some(TypingIndicator::default()))
        );
        assert!(r.as_message().is_none());
    }

    #[test]
    fn meta_defaults_and_graph_conveniences() {
        // No messaging_product, no type: Meta's defaults, written out when serialised.
        let m = parse(&json!({"to": 16_505_551_234_u64, "text": {"body": "hi"}}));
        assert_eq!(
            serde_json::to_value(&m).expect("serialise"),
            json!({"messaging_product": "whatsapp", "to": "16505551234", "type": "text",
                   "text": {"body": "hi"}})
        );
        // A structured parameter JSON-encoded in a string, as form-encoded clients send it.
        let m = message(&json!({
            "to": "1", "type": "template",
            "template": "{\"name\":\"hello_world\",\"language\":{\"code\":\"en_US\"}}",
            "context": "{\"message_id\":\"wamid.Q\"}"
        }));
        assert!(matches!(&m.body, SendBody::Template(t) if t.name == "hello_world"));
        assert_eq!(m.context.map(|c| c.message_id).as_deref(), Some("wamid.Q"));
        // A BSUID instead of a phone number, null as absent.
        let m = message(
            &json!({"recipient": "US.13491208655302741918", "to": null, "type": "text",
                                "text": {"body": "hi", "preview_url": null}}),
        );
        assert_eq!(m.recipient.as_deref(), Some("US.13491208655302741918"));
        assert_eq!(m.to, None);
    }

    fn problem_at(v: &Value, path: &str) -> String {
        let e = error(v);
        assert_eq!(e.path(), path, "{e}");
        assert!(e.to_string().starts_with(&format!("`{path}`: ")), "{e}");
        e.problem().to_owned()
    }

    #[test]
    fn errors_say_where_and_what_is_expected() {
        let p = problem_at(
            &json!({"to": "1", "type": "template", "template": {"name": "t", "language": {"code": "en"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "a"},
                                                               {"type": "txt", "txt": "b"}]}]}}),
            "template.components[0].parameters[1].type",
        );
        assert!(p.contains("unknown parameter type `txt`"), "{p}");
        assert!(p.contains("`text`, `currency`, `date_time`"), "{p}");

        let p = problem_at(&json!({"type": "text", "text": {"body": "hi"}}), "to");
        assert!(p.contains("`recipient`"), "{p}");

        let p = problem_at(
            &json!({"to": "1", "type": "image", "image": {"link": "https://a", "captoin": "x"}}),
            "image.captoin",
        );
        assert!(
            p.contains("unknown field") && p.contains("`caption`"),
            "{p}"
        );

        let p = problem_at(
            &json!({"to": "1", "type": "audio", "audio": {"id": "1", "caption": "x"}}),
            "audio.caption",
        );
        assert!(p.contains("`id`, `link`"), "{p}");

        let p = problem_at(
            &json!({"to": "1", "type": "text", "text": {"body": "a"}, "image": {"id": "1"}}),
            "image",
        );
        assert!(p.contains("\"type\": \"image\""), "{p}");

        let p = problem_at(&json!({"to": "1", "image": {"id": "1"}}), "type");
        assert!(p.contains("set \"type\": \"image\""), "{p}");

        problem_at(
            &json!({"to": "1", "type": "image", "image": {"id": "1", "link": "https://a"}}),
            "image.link",
        );
        problem_at(
            &json!({"to": "1", "type": "image", "image": {}}),
            "image.id",
        );
        let p = problem_at(
            &json!({"to": "1", "type": "text", "text": {"body": 5}}),
            "text.body",
        );
        assert!(p.contains("found a number"), "{p}");
        let p = problem_at(&json!({"to": "1", "type": "text", "text": "hello"}), "text");
        assert!(p.contains("found a string"), "{p}");
        let p = problem_at(&json!({"to": "1", "type": "voice", "voice": {}}), "type");
        assert!(p.contains("unknown message type `voice`"), "{p}");
        let p = problem_at(
            &json!({"messaging_product": "sms", "to": "1", "type": "text", "text": {"body": "a"}}),
            "messaging_product",
        );
        assert!(p.contains("whatsapp"), "{p}");

        let p = problem_at(
            &json!({"to": "1", "type": "interactive", "interactive": {"type": "flow", "body": {"text": "a"}, "action": {}}}),
            "interactive.type",
        );
        assert!(
            p.contains("does not send") && p.contains("`cta_url`"),
            "{p}"
        );
        let p = problem_at(
            &json!({"to": "1", "type": "interactive", "interactive": {"type": "list",
                "header": {"type": "image", "image": {"id": "1"}}, "body": {"text": "a"},
                "action": {"button": "b", "sections": []}}}),
            "interactive.header.type",
        );
        assert!(p.contains("only a text header"), "{p}");
        problem_at(
            &json!({"to": "1", "type": "interactive", "interactive": {"type": "button",
                "body": {"text": "a"}, "action": {"buttons": [{"type": "reply", "reply": {"id": "x"}}]}}}),
            "interactive.action.buttons[0].reply.title",
        );
        problem_at(
            &json!({"to": "1", "type": "interactive", "interactive": {"type": "button",
                "action": {"buttons": []}}}),
            "interactive.body",
        );

        let p = problem_at(
            &json!({"to": "1", "type": "template", "template": {"name": "t", "language": {"code": "en"},
                "components": [{"type": "button", "sub_type": "url", "index": 12, "parameters": []}]}}),
            "template.components[0].index",
        );
        assert!(p.contains("0 to 9"), "{p}");
        let p = problem_at(
            &json!({"to": "1", "type": "template", "template": {"name": "t", "language": "en_US"}}),
            "template.language",
        );
        assert!(p.contains("{\"code\": \"en_US\"}"), "{p}");
        problem_at(
            &json!({"to": "1", "type": "template", "template": {"name": "t", "language": {"code": "en"},
                "components": [{"type": "body", "parameters": [{"type": "currency",
                    "currency": {"fallback_value": "$1", "code": "USD", "amount_1000": 1.5}}]}]}}),
            "template.components[0].parameters[0].currency.amount_1000",
        );
        problem_at(
            &json!({"to": "1", "type": "template", "template": {"name": "t", "language": {"code": "en"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "a", "payload": "b"}]}]}}),
            "template.components[0].parameters[0].payload",
        );
        let p = problem_at(
            &json!({"to": "1", "type": "location", "location": {"latitude": 91, "longitude": 0}}),
            "location.latitude",
        );
        assert!(p.contains("between -90 and 90"), "{p}");
        problem_at(
            &json!({"to": "1", "type": "contacts", "contacts": [{"name": {"first_name": "A"}}]}),
            "contacts[0].name.formatted_name",
        );

        let p = problem_at(
            &json!({"messaging_product": "whatsapp", "status": "delivered", "message_id": "w"}),
            "status",
        );
        assert!(p.contains("only mark"), "{p}");
        problem_at(
            &json!({"status": "read", "message_id": "w", "to": "1"}),
            "to",
        );
        problem_at(
            &json!({"status": "read", "message_id": "w", "typing_indicator": {"type": "audio"}}),
            "typing_indicator.type",
        );
    }

    #[test]
    fn bodies_that_are_not_objects_are_refused_as_a_whole() {
        let e = parse_send_request(b"{\"to\": ").expect_err("truncated");
        assert_eq!(e.path(), "");
        assert!(e.problem().contains("line 1"), "{e}");
        let e = parse_send_request(b"[1]").expect_err("an array");
        assert_eq!(e.path(), "");
        assert!(e.problem().contains("found an array"), "{e}");
    }

    #[test]
    fn deserialize_gives_the_same_answer_and_message() {
        let good = json!({"to": "1", "type": "text", "text": {"body": "a"}});
        let via_serde: OutboundRequest = serde_json::from_value(good.clone()).expect("parses");
        assert_eq!(via_serde, parse(&good));
        let bad = json!({"to": "1", "type": "text", "text": {"bdy": "a"}});
        let message = serde_json::from_value::<SendRequest>(bad.clone())
            .expect_err("refused")
            .to_string();
        assert!(
            message.starts_with("`text.bdy`: unknown field"),
            "{message}"
        );
        assert_eq!(message, error(&bad).to_string());
        // Leaf types read on their own, paths from their root.
        let p: Parameter =
            serde_json::from_value(json!({"type": "payload", "payload": "p"})).expect("parameter");
        assert_eq!(p.value, ParameterValue::Payload("p".into()));
        let e = serde_json::from_value::<MediaObject>(json!({"id": "1", "url": "x"}))
            .expect_err("refused");
        assert!(e.to_string().starts_with("`url`: unknown field"), "{e}");
    }

    #[test]
    fn long_client_text_is_cut_in_errors() {
        let key = "k".repeat(500);
        let e = error(&json!({"to": "1", "type": "text", "text": {"body": "a", key: 1}}));
        assert!(e.path().chars().count() < 60, "{}", e.path());
        let kind = "x".repeat(500);
        let e = error(&json!({"to": "1", "type": kind}));
        assert!(e.problem().chars().count() < 400, "{}", e.problem());
    }

    #[test]
    fn send_response_and_its_wamid() {
        let r: SendResponse = serde_json::from_value(json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": "+16505551234", "wa_id": "16505551234"}],
            "messages": [{"id": "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA",
                          "message_status": "accepted"}]
        }))
        .expect("response");
        assert_eq!(
            r.wamid(),
            Some("wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA")
        );
        assert_eq!(r.contacts[0].wa_id.as_deref(), Some("16505551234"));
        assert_eq!(r.messages[0].message_status.as_deref(), Some("accepted"));
        assert_eq!(SendResponse::default().wamid(), None);
        let ok: SuccessResponse =
            serde_json::from_value(json!({"success": true})).expect("success");
        assert!(ok.success);
    }

    fn template_page() -> Value {
        json!({
            "data": [
                {"name": "order_confirmation", "parameter_format": "POSITIONAL",
                 "components": [
                    {"type": "HEADER", "format": "IMAGE",
                     "example": {"header_handle": ["https://scontent.whatsapp.net/v/h.jpg"]}},
                    {"type": "BODY", "text": "Hi {{1}}, your order {{2}} is confirmed.",
                     "example": {"body_text": [["Jessica", "SKBUP2-4CPIG9"]]}},
                    {"type": "FOOTER", "text": "Lucky Shrub"},
                    {"type": "BUTTONS", "buttons": [
                        {"type": "QUICK_REPLY", "text": "Stop promotions"},
                        {"type": "URL", "text": "Track", "url": "https://example.com/track/{{1}}",
                         "example": ["https://example.com/track/42"]},
                        {"type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+16505551234"}]}],
                 "language": "en_US", "status": "APPROVED", "category": "UTILITY",
                 "sub_category": "CUSTOM", "previous_category": "MARKETING",
                 "quality_score": {"score": "GREEN", "date": 1_751_247_548},
                 "id": "1689556908129832"},
                {"name": "verify_code", "parameter_format": "POSITIONAL",
                 "components": [
                    {"type": "BODY", "text": "*{{1}}* is your verification code.",
                     "add_security_recommendation": true},
                    {"type": "FOOTER", "code_expiration_minutes": 10},
                    {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE",
                                                     "text": "Copy code"}]}],
                 "language": "en", "status": "REJECTED", "category": "AUTHENTICATION",
                 "rejected_reason": "INVALID_FORMAT", "id": 9_876_543_210_u64,
                 "message_send_ttl_seconds": 600}
            ],
            "paging": {"cursors": {"before": "MAZDZD", "after": "MjQZD"},
                       "next": "https://graph.facebook.com/v25.0/102290129340398/message_templates?after=MjQZD"}
        })
    }

    #[test]
    fn template_lists_are_read_leniently() {
        let list: TemplateList = serde_json::from_value(template_page()).expect("page");
        assert_eq!(list.next_after(), Some("MjQZD"));
        let t = &list.data[0];
        assert_eq!(t.id, "1689556908129832");
        assert_eq!(t.status, "APPROVED");
        assert_eq!(t.previous_category.as_deref(), Some("MARKETING"));
        assert_eq!(
            t.quality_score.as_ref().map(|q| q.score.as_str()),
            Some("GREEN")
        );
        assert_eq!(
            t.body_text(),
            Some("Hi {{1}}, your order {{2}} is confirmed.")
        );
        assert_eq!(
            t.component("header").and_then(|h| h.format.as_deref()),
            Some("IMAGE")
        );
        assert_eq!(t.buttons().len(), 3);
        assert_eq!(
            t.buttons()[1].url.as_deref(),
            Some("https://example.com/track/{{1}}")
        );
        let otp = &list.data[1];
        assert_eq!(otp.id, "9876543210", "a numeric id is read as its digits");
        assert_eq!(otp.buttons()[0].otp_type.as_deref(), Some("COPY_CODE"));
        assert_eq!(
            otp.component("BODY")
                .and_then(|b| b.extra.get("add_security_recommendation")),
            Some(&json!(true)),
            "component fields guichet does not model are kept"
        );
        // What is kept comes back the same.
        let again: TemplateList =
            serde_json::from_value(serde_json::to_value(&list).expect("serialise")).expect("page");
        assert_eq!(again, list);
        // The last page has no next.
        let last: TemplateList = serde_json::from_value(
            json!({"data": [], "paging": {"cursors": {"before": "A", "after": "B"}}}),
        )
        .expect("page");
        assert_eq!(last.next_after(), None);
    }

    #[test]
    fn create_template_requests_round_trip() {
        let body = json!({
            "name": "order_confirmation", "language": "en_US", "category": "utility",
            "parameter_format": "NAMED",
            "components": [
                {"type": "BODY", "text": "Hi {{first_name}}",
                 "example": {"body_text_named_params": [{"param_name": "first_name", "example": "Ana"}]}},
                {"type": "BUTTONS", "buttons": [{"type": "FLOW", "text": "Book", "flow_id": 1234,
                                                 "navigate_screen": "WELCOME"}]}],
            "allow_category_change": true
        });
        let req: CreateTemplateRequest = serde_json::from_value(body.clone()).expect("request");
        assert_eq!(req.parameter_format.as_deref(), Some("NAMED"));
        assert_eq!(
            req.components[1].buttons[0].flow_id.as_deref(),
            Some("1234")
        );
        let out = serde_json::to_value(&req).expect("serialise");
        assert_eq!(out["allow_category_change"], true);
        assert_eq!(
            out["components"][1]["buttons"][0]["navigate_screen"],
            "WELCOME"
        );
        let back: CreateTemplateRequest = serde_json::from_value(out).expect("request");
        assert_eq!(back, req);
        let created: CreatedTemplate = serde_json::from_value(
            json!({"id": 572_279_198_452_421_u64, "status": "PENDING", "category": "MARKETING"}),
        )
        .expect("created");
        assert_eq!(created.id, "572279198452421");
    }

    #[test]
    fn coordinates_survive_a_trip_through_text() {
        // An unrounded coordinate may come back one ulp off through serde_json; rounded ones
        // never do.
        for x in [
            37.442_162_518_686_83,
            -122.161_535_820_493_94,
            179.999_999_95,
            -0.000_000_04,
        ] {
            let v = json!({"to": "1", "type": "location",
                           "location": {"latitude": x / 2.0, "longitude": x}});
            let once = parse(&v);
            let bytes = serde_json::to_vec(&once).expect("bytes");
            assert_eq!(parse_send_request(&bytes), Ok(once));
        }
    }

    // Round trips over generated requests.

    fn text() -> BoxedStrategy<String> {
        "[a-zA-Z0-9 _.:/\\-\"\\\\{}é🙂]{0,10}".boxed()
    }

    fn opt_text() -> BoxedStrategy<Option<String>> {
        proptest::option::of(text()).boxed()
    }

    fn media(caption: bool, filename: bool) -> BoxedStrategy<MediaObject> {
        let source = prop_oneof![
            "[0-9]{1,16}".prop_map(MediaRef::Id),
            text().prop_map(|t| MediaRef::Link(format!("https://example.com/{t}"))),
        ];
        (source, opt_text(), opt_text())
            .prop_map(move |(source, c, f)| MediaObject {
                source,
                caption: c.filter(|_| caption),
                filename: f.filter(|_| filename),
            })
            .boxed()
    }

    fn coordinate(limit: i64) -> impl Strategy<Value = f64> {
        (-limit * 10_000_000..=limit * 10_000_000).prop_map(|n| n as f64 / 1e7)
    }

    fn location() -> BoxedStrategy<LocationBody> {
        (coordinate(90), coordinate(180), opt_text(), opt_text())
            .prop_map(|(latitude, longitude, name, address)| LocationBody {
                latitude,
                longitude,
                name,
                address,
            })
            .boxed()
    }

    fn parameter() -> BoxedStrategy<Parameter> {
        let value = prop_oneof![
            text().prop_map(ParameterValue::Text),
            (text(), "[A-Z]{3}", any::<i64>()).prop_map(|(f, code, amount_1000)| {
                ParameterValue::Currency(Currency {
                    fallback_value: f,
                    code,
                    amount_1000,
                })
            }),
            text().prop_map(|f| ParameterValue::DateTime(DateTime { fallback_value: f })),
            media(false, false).prop_map(ParameterValue::Image),
            media(false, false).prop_map(ParameterValue::Video),
            media(false, true).prop_map(ParameterValue::Document),
            location().prop_map(ParameterValue::Location),
            text().prop_map(ParameterValue::Payload),
            text().prop_map(ParameterValue::CouponCode),
            text().prop_map(|t| {
                let mut m = Map::new();
                m.insert("flow_token".into(), Value::String(t));
                ParameterValue::Action(m)
            }),
        ];
        (opt_text(), value)
            .prop_map(|(name, value)| Parameter { name, value })
            .boxed()
    }

    fn component() -> BoxedStrategy<SendComponent> {
        let params = || proptest::collection::vec(parameter(), 0..3);
        prop_oneof![
            params().prop_map(SendComponent::Header),
            params().prop_map(SendComponent::Body),
            (
                proptest::sample::select(ButtonSubType::ALL.to_vec()),
                0..=9u8,
                params()
            )
                .prop_map(|(sub_type, index, parameters)| SendComponent::Button {
                    sub_type,
                    index,
                    parameters
                }),
        ]
        .boxed()
    }

    fn interactive() -> BoxedStrategy<InteractiveBody> {
        let header = prop_oneof![
            text().prop_map(InteractiveHeader::Text),
            media(false, false).prop_map(InteractiveHeader::Image),
            media(false, false).prop_map(InteractiveHeader::Video),
            media(false, true).prop_map(InteractiveHeader::Document),
        ];
        let button = (text(), text()).prop_map(|(id, title)| ReplyButton { id, title });
        let row = (text(), text(), opt_text()).prop_map(|(id, title, description)| ListRow {
            id,
            title,
            description,
        });
        let section = (opt_text(), proptest::collection::vec(row, 0..3))
            .prop_map(|(title, rows)| ListSection { title, rows });
        let action = prop_oneof![
            proptest::collection::vec(button, 0..4).prop_map(InteractiveAction::Buttons),
            (text(), proptest::collection::vec(section, 0..3))
                .prop_map(|(button, sections)| InteractiveAction::List { button, sections }),
            (text(), text())
                .prop_map(|(display_text, url)| InteractiveAction::CtaUrl { display_text, url }),
        ];
        (proptest::option::of(header), text(), opt_text(), action)
            .prop_map(|(header, body, footer, action)| {
                // A list takes only a text header.
                let header = header.filter(|h| {
                    !matches!(action, InteractiveAction::List { .. })
                        || matches!(h, InteractiveHeader::Text(_))
                });
                InteractiveBody {
                    header,
                    body,
                    footer,
                    action,
                }
            })
            .boxed()
    }

    fn send_body() -> BoxedStrategy<SendBody> {
        let template = (
            text(),
            text(),
            proptest::option::of(Just("deterministic".to_owned())),
            proptest::collection::vec(component(), 0..4),
        )
            .prop_map(|(name, code, policy, components)| {
                SendBody::Template(TemplateBody {
                    name,
                    language: TemplateLanguage { code, policy },
                    components,
                })
            });
        let card = (text(), opt_text(), opt_text()).prop_map(|(formatted_name, first, phone)| {
            let mut name = Map::new();
            if let Some(first) = first {
                name.insert("first_name".into(), Value::String(first));
            }
            let mut fields = Map::new();
            if let Some(phone) = phone {
                fields.insert("phones".into(), json!([{"phone": phone, "type": "CELL"}]));
            }
            ContactCard {
                name: ContactCardName {
                    formatted_name,
                    fields: name,
                },
                fields,
            }
        });
        prop_oneof![
            (text(), proptest::option::of(any::<bool>()))
                .prop_map(|(body, preview_url)| SendBody::Text(TextBody { body, preview_url })),
            media(true, false).prop_map(SendBody::Image),
            media(true, false).prop_map(SendBody::Video),
            media(false, false).prop_map(SendBody::Audio),
            media(true, true).prop_map(SendBody::Document),
            media(false, false).prop_map(SendBody::Sticker),
            interactive().prop_map(SendBody::Interactive),
            template,
            (text(), text()).prop_map(|(message_id, emoji)| SendBody::Reaction(ReactionBody {
                message_id,
                emoji
            })),
            location().prop_map(SendBody::Location),
            proptest::collection::vec(card, 0..3).prop_map(SendBody::Contacts),
        ]
        .boxed()
    }

    fn outbound() -> BoxedStrategy<OutboundRequest> {
        let recipient = prop_oneof![
            text().prop_map(|t| (Some(t), None)),
            "[A-Z]{2}\\.[0-9]{5,20}".prop_map(|b| (None, Some(b))),
            (text(), text()).prop_map(|(t, b)| (Some(t), Some(b))),
        ];
        let message = (
            proptest::option::of(proptest::sample::select(vec!["individual", "group"])),
            recipient,
            opt_text(),
            opt_text(),
            send_body(),
        )
            .prop_map(|(recipient_type, (to, recipient), context, biz, body)| {
                OutboundRequest::Message(SendRequest {
                    messaging_product: MESSAGING_PRODUCT.to_owned(),
                    recipient_type: recipient_type.map(str::to_owned),
                    to,
                    recipient,
                    context: context.map(|message_id| Context { message_id }),
                    biz_opaque_callback_data: biz,
                    body,
                })
            });
        let read = (text(), any::<bool>()).prop_map(|(message_id, typing)| {
            OutboundRequest::Read(ReadRequest {
                messaging_product: MESSAGING_PRODUCT.to_owned(),
                message_id,
                typing_indicator: typing.then(TypingIndicator::default),
            })
        });
        prop_oneof![4 => message, 1 => read].boxed()
    }

    proptest! {
        #[test]
        fn serialising_then_parsing_gives_the_same_request(request in outbound()) {
            let bytes = serde_json::to_vec(&request).expect("serialise");
            prop_assert_eq!(parse_send_request(&bytes), Ok(request.clone()));
            let via_serde: OutboundRequest = serde_json::from_slice(&bytes).expect("deserialize");
            prop_assert_eq!(&via_serde, &request);
            let value = serde_json::to_value(&request).expect("value");
            prop_assert_eq!(parse_send_value(&value), Ok(request));
            #[cfg(feature = "fuzzing")]
            crate::fuzz::send_request(&bytes);
        }

        #[test]
        fn parsing_anything_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_send_request(&bytes).map_err(|e| e.to_string());
        }

        #[test]
        fn a_dropped_field_is_refused_or_read_without_panic(request in outbound(), cut in any::<prop::sample::Index>()) {
            // Removing one field of the top object gives a precise error or another request,
            // never a panic.
            let mut value = serde_json::to_value(&request).expect("value");
            if let Some(map) = value.as_object_mut() {
                let keys: Vec<String> = map.keys().cloned().collect();
                let key = &keys[cut.index(keys.len())];
                map.remove(key);
            }
            if let Err(e) = parse_send_value(&value) {
                prop_assert!(!e.problem().is_empty());
            }
        }
    }
}
