//! What a sender wants to send: the message as Meta's `/messages` body would carry it
//! (cloud-api.md §3.2), the business number, the customer and the instant. Built by the REST
//! API, the agent UI or a bot flow, before anything is queued.

use crate::Timestamp;
use crate::category::Category;
use crate::identity::ContactKey;

/// One message a business number wants to send to one customer, at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct SendIntent {
    /// The business phone number id the message leaves from.
    pub phone_number_id: String,
    /// The customer: a phone number / `wa_id`, or (from May 2026) a business-scoped user id,
    /// sent in Meta's `recipient` field (cloud-api.md §9.4).
    pub recipient: ContactKey,
    /// When the rules are evaluated. Rule time is Meta's time: the caller passes its clock,
    /// which the windows compare with Meta's timestamps.
    pub at: Timestamp,
    pub message: Message,
    /// The wamid this message quotes (`context.message_id`), if any.
    pub reply_to: Option<String>,
    /// The category the sender means to pay for (a utility campaign says `utility`). When Meta
    /// has since filed the template under another category, the send is refused rather than
    /// billed at a rate nobody agreed to (cloud-api.md §6.4).
    pub expected_category: Option<Category>,
}

impl SendIntent {
    pub fn new(
        phone_number_id: impl Into<String>,
        recipient: ContactKey,
        at: Timestamp,
        message: Message,
    ) -> Self {
        Self {
            phone_number_id: phone_number_id.into(),
            recipient,
            at,
            message,
            reply_to: None,
            expected_category: None,
        }
    }
}

/// The body of a send (cloud-api.md §3.2).
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Text {
        body: String,
        preview_url: bool,
    },
    Media(MediaMessage),
    Interactive(Interactive),
    Template(TemplateMessage),
    /// `emoji` empty removes an earlier reaction.
    Reaction {
        message_id: String,
        emoji: String,
    },
    Location(Location),
    Contacts(Vec<ContactCard>),
    /// Marks `message_id` (and earlier messages) as read. Not a message: no window, no price.
    MarkRead {
        message_id: String,
    },
    /// Shows "typing…" for up to 25 s and marks `message_id` as read. Not a message either.
    Typing {
        message_id: String,
    },
}

impl Message {
    /// Whether this is a message at all (read receipts and typing indicators are not).
    pub fn is_message(&self) -> bool {
        !matches!(self, Self::MarkRead { .. } | Self::Typing { .. })
    }

    /// A message that is not a template: allowed only inside the customer-service window.
    pub fn is_free_form(&self) -> bool {
        self.is_message() && !matches!(self, Self::Template(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
}

impl MediaKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Document => "document",
            Self::Sticker => "sticker",
        }
    }
}

/// Media by the id of an upload, or by a link Meta fetches (and caches 10 minutes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaSource {
    Id(String),
    Link(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaMessage {
    pub kind: MediaKind,
    pub source: MediaSource,
    /// Images, videos and documents only.
    pub caption: Option<String>,
    /// Documents only.
    pub filename: Option<String>,
}

/// Interactive messages (cloud-api.md §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interactive {
    /// Up to 3 reply buttons.
    Buttons {
        header: Option<InteractiveHeader>,
        body: String,
        footer: Option<String>,
        buttons: Vec<ReplyButton>,
    },
    /// A list: up to 10 sections and 10 rows in all.
    List {
        /// Text only.
        header: Option<String>,
        body: String,
        footer: Option<String>,
        /// The label of the button that opens the list.
        button: String,
        sections: Vec<ListSection>,
    },
    /// One call-to-action button that opens a URL.
    CtaUrl {
        header: Option<InteractiveHeader>,
        body: String,
        footer: Option<String>,
        display_text: String,
        url: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InteractiveHeader {
    Text(String),
    Media(MediaKind, MediaSource),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyButton {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSection {
    /// Required when there is more than one section.
    pub title: Option<String>,
    pub rows: Vec<ListRow>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRow {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    pub name: Option<String>,
    pub address: Option<String>,
}

/// A shared contact card; only what the rules look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactCard {
    pub formatted_name: String,
}

/// A template send: which template, in which language, filled with which parameters.
/// The `components` of Meta's body, flattened by component type.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateMessage {
    pub name: String,
    /// `language.code`, e.g. `en_US`. Templates are one per language (cloud-api.md §3.2).
    pub language: String,
    pub header: Vec<Param>,
    pub body: Vec<Param>,
    pub buttons: Vec<ButtonParams>,
}

impl TemplateMessage {
    /// A template with body parameters only.
    pub fn new(name: impl Into<String>, language: impl Into<String>, body: Vec<Param>) -> Self {
        Self {
            name: name.into(),
            language: language.into(),
            header: Vec::new(),
            body,
            buttons: Vec::new(),
        }
    }
}

/// One parameter: positional (no name) or named (`parameter_name`).
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: Option<String>,
    pub value: ParamValue,
}

impl Param {
    /// A positional text parameter.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            name: None,
            value: ParamValue::Text(text.into()),
        }
    }

    /// A named text parameter.
    pub fn named(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            value: ParamValue::Text(text.into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Text(String),
    /// Shown as `fallback` where the client cannot localise the amount.
    Currency {
        fallback: String,
        code: String,
        amount_1000: i64,
    },
    /// Shown as `fallback` where the client cannot localise the date.
    DateTime {
        fallback: String,
    },
    Media(MediaKind, MediaSource),
    Location(Location),
    /// A quick-reply button's payload, echoed back when the customer taps it.
    Payload(String),
    /// A copy-code button's code.
    CouponCode(String),
}

impl ParamValue {
    /// The text the customer reads in place of the placeholder, for text-like values.
    pub fn shown_text(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(t),
            Self::Currency { fallback, .. } | Self::DateTime { fallback } => Some(fallback),
            _ => None,
        }
    }

    /// Meta's `type` of the parameter, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Text(_) => "text",
            Self::Currency { .. } => "currency",
            Self::DateTime { .. } => "date_time",
            Self::Media(kind, _) => kind.as_str(),
            Self::Location(_) => "location",
            Self::Payload(_) => "payload",
            Self::CouponCode(_) => "coupon_code",
        }
    }
}

/// The parameters of one template button (`{"type":"button","sub_type":…,"index":…}`).
#[derive(Debug, Clone, PartialEq)]
pub struct ButtonParams {
    /// The button's position in the template, from 0.
    pub index: u8,
    pub sub_type: ButtonSubType,
    pub params: Vec<Param>,
}

/// `sub_type` of a button component in a template send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ButtonSubType {
    QuickReply,
    /// Also the sub-type of an authentication template's one-time-password button.
    Url,
    CopyCode,
    Flow,
    Catalog,
}

impl ButtonSubType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::QuickReply => "quick_reply",
            Self::Url => "url",
            Self::CopyCode => "copy_code",
            Self::Flow => "flow",
            Self::Catalog => "catalog",
        }
    }
}
