//! Inbound messages (`value.messages[]`) and coexistence echoes (`value.message_echoes[]`).
//!
//! Meta puts the kind in `type` and the content in a sibling object of that name
//! (cloud-api.md §1.4). Every kind Meta documents is modelled; any other kind parses as
//! [`Content::Unknown`] and the message's raw JSON is kept, so a new kind is never lost.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::WebhookError;
use crate::de;

/// A message a customer sent to a business number.
#[derive(Debug, Clone)]
pub struct InboundMessage {
    /// The wamid, Meta's id for the message: the deduplication key.
    pub id: String,
    /// The sender's WhatsApp id (digits). Absent in 2026 for users who hide their number behind a
    /// username (cloud-api.md §9.4).
    pub from: Option<String>,
    /// The sender's business-scoped user id (`US.1349…`), from April 2026.
    pub from_user_id: Option<String>,
    pub from_parent_user_id: Option<String>,
    /// Meta's timestamp, Unix seconds. Rule time: windows are computed from it.
    pub timestamp: i64,
    /// The `type` exactly as Meta sent it.
    pub kind: String,
    pub context: Option<Context>,
    /// Set when the customer came from a Click-to-WhatsApp ad or a Page button.
    pub referral: Option<Referral>,
    pub errors: Vec<WebhookError>,
    pub content: Content,
    /// The message object exactly as received, for kinds and fields guichet does not model.
    pub raw: Box<RawValue>,
}

/// A message the business sent from the WhatsApp Business app on a coexistence number, echoed to
/// the API (`smb_message_echoes`, cloud-api.md §9.3).
#[derive(Debug, Clone)]
pub struct EchoMessage {
    pub id: String,
    /// The business's display number.
    pub from: Option<String>,
    /// The customer's WhatsApp id.
    pub to: Option<String>,
    pub to_user_id: Option<String>,
    pub to_parent_user_id: Option<String>,
    pub timestamp: i64,
    pub kind: String,
    pub context: Option<Context>,
    pub content: Content,
    pub raw: Box<RawValue>,
}

/// What a message holds, by kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Content {
    Text(Text),
    Image(Media),
    Video(Media),
    Audio(Media),
    Document(Media),
    Sticker(Media),
    Location(Location),
    Contacts {
        contacts: Vec<SharedContact>,
    },
    Interactive(Interactive),
    /// A quick-reply button of a template (`type: "button"`), not an interactive reply button.
    Button(TemplateButtonReply),
    /// A reaction; `emoji: None` (or empty) means the reaction was removed.
    Reaction(Reaction),
    Order(Order),
    System(System),
    /// A kind Meta does not deliver through the API; `errors` (131051, 131060) say why.
    Unsupported {
        unsupported_kind: Option<String>,
    },
    /// The customer deleted a message they had sent.
    Revoke {
        original_message_id: Option<String>,
    },
    /// The customer edited a message they had sent; `edited` is its new content.
    Edit {
        original_message_id: Option<String>,
        edited: Option<Box<Content>>,
    },
    /// A kind guichet does not know, or a known kind whose content object is missing.
    Unknown {
        type_name: String,
    },
}

impl Content {
    /// The text an agent would read first, if the content has any (text, caption, reply title).
    pub fn preview(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(&t.body),
            Self::Image(m)
            | Self::Video(m)
            | Self::Document(m)
            | Self::Audio(m)
            | Self::Sticker(m) => m.caption.as_deref().or(m.filename.as_deref()),
            Self::Location(l) => l.name.as_deref().or(l.address.as_deref()),
            Self::Interactive(i) => match i {
                Interactive::ButtonReply { title, .. } | Interactive::ListReply { title, .. } => {
                    Some(title)
                }
                Interactive::NfmReply { body, .. } => body.as_deref(),
                Interactive::CallPermissionReply { response, .. } => response.as_deref(),
                Interactive::Unknown { .. } => None,
            },
            Self::Button(b) => b.text.as_deref().or(b.payload.as_deref()),
            Self::Reaction(r) => r.emoji.as_deref(),
            Self::System(s) => s.body.as_deref(),
            Self::Order(o) => o.text.as_deref(),
            Self::Contacts { .. }
            | Self::Unsupported { .. }
            | Self::Revoke { .. }
            | Self::Unknown { .. } => None,
            Self::Edit { edited, .. } => edited.as_deref().and_then(Self::preview),
        }
    }

    /// The media object, for kinds that carry one.
    pub fn media(&self) -> Option<&Media> {
        match self {
            Self::Image(m)
            | Self::Video(m)
            | Self::Audio(m)
            | Self::Document(m)
            | Self::Sticker(m) => Some(m),
            _ => None,
        }
    }

    /// Whether this content is a kind guichet understands.
    pub fn is_known(&self) -> bool {
        !matches!(self, Self::Unknown { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Text {
    pub body: String,
}

/// Image, video, audio, document or sticker. `sha256` is base64, not hex (cloud-api.md §1.4).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Media {
    #[serde(default, deserialize_with = "de::opt_id")]
    pub id: Option<String>,
    pub mime_type: Option<String>,
    pub sha256: Option<String>,
    pub caption: Option<String>,
    pub filename: Option<String>,
    /// A download URL, sent in webhooks since the November 2025 rollout; needs the bearer token
    /// and expires (cloud-api.md §9.1).
    pub url: Option<String>,
    /// Voice note (audio).
    pub voice: Option<bool>,
    /// Animated sticker.
    pub animated: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    pub name: Option<String>,
    pub address: Option<String>,
    pub url: Option<String>,
}

/// A contact card the customer shared (`messages[].contacts[]`, not to be confused with the
/// sender profiles of `value.contacts`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct SharedContact {
    pub name: Option<ContactName>,
    #[serde(default)]
    pub phones: Vec<ContactPhone>,
    #[serde(default)]
    pub emails: Vec<ContactEmail>,
    #[serde(default)]
    pub addresses: Vec<ContactAddress>,
    #[serde(default)]
    pub urls: Vec<ContactUrl>,
    pub org: Option<ContactOrg>,
    pub birthday: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct ContactName {
    pub formatted_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub middle_name: Option<String>,
    pub suffix: Option<String>,
    pub prefix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct ContactPhone {
    pub phone: Option<String>,
    pub wa_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct ContactEmail {
    pub email: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct ContactAddress {
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
    pub country_code: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct ContactUrl {
    pub url: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct ContactOrg {
    pub company: Option<String>,
    pub department: Option<String>,
    pub title: Option<String>,
}

/// A reply to an interactive message the business sent (`type: "interactive"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Interactive {
    ButtonReply {
        id: String,
        title: String,
    },
    ListReply {
        id: String,
        title: String,
        description: Option<String>,
    },
    /// A WhatsApp Flow's answer; `response_json` is a JSON document as a string.
    NfmReply {
        name: Option<String>,
        body: Option<String>,
        response_json: Option<String>,
    },
    /// The customer's answer to a call-permission request: `accept` or `reject`.
    CallPermissionReply {
        response: Option<String>,
        expiration_timestamp: Option<i64>,
    },
    Unknown {
        reply_type: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct TemplateButtonReply {
    /// The developer payload set on the quick-reply button, or its label.
    pub payload: Option<String>,
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Reaction {
    pub message_id: String,
    pub emoji: Option<String>,
}

impl Reaction {
    /// A reaction without emoji (absent or empty) removes the earlier one (cloud-api.md §1.4).
    pub fn is_removal(&self) -> bool {
        self.emoji.as_deref().is_none_or(str::is_empty)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Order {
    #[serde(default, deserialize_with = "de::opt_id")]
    pub catalog_id: Option<String>,
    pub text: Option<String>,
    #[serde(default)]
    pub product_items: Vec<OrderItem>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct OrderItem {
    pub product_retailer_id: String,
    pub quantity: Option<f64>,
    pub item_price: Option<f64>,
    pub currency: Option<String>,
}

/// A system message: the customer changed number, or their identity key changed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct System {
    pub body: Option<String>,
    /// The customer's new WhatsApp id, for `user_changed_number`.
    pub wa_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The new business-scoped id, when Meta regenerates it with the number (cloud-api.md §9.4).
    pub user_id: Option<String>,
}

/// `context`: the message this one replies to, or that it was forwarded.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct Context {
    /// The business number that sent the quoted message.
    pub from: Option<String>,
    /// The quoted message's wamid.
    pub id: Option<String>,
    #[serde(default)]
    pub forwarded: bool,
    #[serde(default)]
    pub frequently_forwarded: bool,
    pub referred_product: Option<ReferredProduct>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ReferredProduct {
    #[serde(default, deserialize_with = "de::opt_id")]
    pub catalog_id: Option<String>,
    pub product_retailer_id: Option<String>,
}

/// The Click-to-WhatsApp ad (or Page button) the customer came from. Its presence opens the 72 h
/// free entry point window once the business replies (cloud-api.md §6.2).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct Referral {
    pub source_url: Option<String>,
    #[serde(default, deserialize_with = "de::opt_id")]
    pub source_id: Option<String>,
    pub source_type: Option<String>,
    pub body: Option<String>,
    pub headline: Option<String>,
    pub media_type: Option<String>,
    pub image_url: Option<String>,
    pub video_url: Option<String>,
    pub thumbnail_url: Option<String>,
    /// Click id for the Conversions API; omitted for ads shown in WhatsApp Status.
    pub ctwa_clid: Option<String>,
    pub welcome_message: Option<WelcomeMessage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct WelcomeMessage {
    pub text: Option<String>,
}

/// Every field a message object may carry; the kind-specific ones are all optional so that one
/// struct reads every kind, and unknown fields are reported instead of failing.
#[derive(Deserialize)]
pub(super) struct WireMessage {
    /// Required for a message; absent in the nested message of an edit.
    id: Option<String>,
    from: Option<String>,
    from_user_id: Option<String>,
    from_parent_user_id: Option<String>,
    to: Option<String>,
    to_user_id: Option<String>,
    to_parent_user_id: Option<String>,
    #[serde(default, deserialize_with = "de::opt_timestamp")]
    timestamp: Option<i64>,
    #[serde(rename = "type", default)]
    kind: String,
    context: Option<Context>,
    referral: Option<Referral>,
    #[serde(default)]
    errors: Vec<WebhookError>,
    text: Option<Text>,
    image: Option<Media>,
    video: Option<Media>,
    audio: Option<Media>,
    document: Option<Media>,
    sticker: Option<Media>,
    location: Option<Location>,
    contacts: Option<Vec<SharedContact>>,
    interactive: Option<WireInteractive>,
    button: Option<TemplateButtonReply>,
    reaction: Option<Reaction>,
    order: Option<Order>,
    system: Option<System>,
    unsupported: Option<WireUnsupported>,
    revoke: Option<WireOriginal>,
    edit: Option<WireEdit>,
    /// Identity-change details of a `customer_identity_changed` system message.
    #[serde(rename = "identity")]
    _identity: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct WireInteractive {
    #[serde(rename = "type")]
    kind: String,
    button_reply: Option<WireReply>,
    list_reply: Option<WireReply>,
    nfm_reply: Option<WireNfm>,
    call_permission_reply: Option<WireCallPermission>,
}

#[derive(Deserialize)]
struct WireCallPermission {
    response: Option<String>,
    #[serde(default, deserialize_with = "de::opt_timestamp")]
    expiration_timestamp: Option<i64>,
    #[serde(rename = "response_source")]
    _response_source: Option<String>,
}

#[derive(Deserialize)]
struct WireReply {
    id: String,
    title: String,
    description: Option<String>,
}

#[derive(Deserialize)]
struct WireNfm {
    name: Option<String>,
    body: Option<String>,
    response_json: Option<String>,
}

#[derive(Deserialize)]
struct WireUnsupported {
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct WireOriginal {
    original_message_id: Option<String>,
}

#[derive(Deserialize)]
struct WireEdit {
    original_message_id: Option<String>,
    message: Option<Box<WireMessage>>,
}

impl WireMessage {
    fn content(&mut self) -> Content {
        let kind = self.kind.as_str();
        let content = match kind {
            "text" => self.text.take().map(Content::Text),
            "image" => self.image.take().map(Content::Image),
            "video" => self.video.take().map(Content::Video),
            "audio" => self.audio.take().map(Content::Audio),
            "document" => self.document.take().map(Content::Document),
            "sticker" => self.sticker.take().map(Content::Sticker),
            "location" => self.location.take().map(Content::Location),
            "contacts" => self
                .contacts
                .take()
                .map(|contacts| Content::Contacts { contacts }),
            "interactive" => self
                .interactive
                .take()
                .map(|i| Content::Interactive(i.into())),
            "button" => self.button.take().map(Content::Button),
            "reaction" => self.reaction.take().map(Content::Reaction),
            "order" => self.order.take().map(Content::Order),
            "system" => self.system.take().map(Content::System),
            "unsupported" => Some(Content::Unsupported {
                unsupported_kind: self.unsupported.take().and_then(|u| u.kind),
            }),
            "revoke" => Some(Content::Revoke {
                original_message_id: self.revoke.take().and_then(|r| r.original_message_id),
            }),
            "edit" => self.edit.take().map(|e| Content::Edit {
                original_message_id: e.original_message_id,
                edited: e.message.map(|mut m| Box::new(m.content())),
            }),
            _ => None,
        };
        content.unwrap_or_else(|| Content::Unknown {
            type_name: kind.to_owned(),
        })
    }

    /// The id and timestamp every top-level message must have.
    fn identity(&mut self) -> Result<(String, i64), &'static str> {
        let id = self.id.take().filter(|id| !id.is_empty());
        let id = id.ok_or("a message without an `id` cannot be deduplicated")?;
        let ts = self
            .timestamp
            .ok_or("a message without a `timestamp` cannot be ordered")?;
        Ok((id, ts))
    }

    pub(super) fn into_inbound(
        mut self,
        raw: Box<RawValue>,
    ) -> Result<InboundMessage, &'static str> {
        let (id, timestamp) = self.identity()?;
        let content = self.content();
        Ok(InboundMessage {
            id,
            from: self.from,
            from_user_id: self.from_user_id,
            from_parent_user_id: self.from_parent_user_id,
            timestamp,
            kind: self.kind,
            context: self.context,
            referral: self.referral,
            errors: self.errors,
            content,
            raw,
        })
    }

    pub(super) fn into_echo(mut self, raw: Box<RawValue>) -> Result<EchoMessage, &'static str> {
        let (id, timestamp) = self.identity()?;
        let content = self.content();
        Ok(EchoMessage {
            id,
            from: self.from,
            to: self.to,
            to_user_id: self.to_user_id,
            to_parent_user_id: self.to_parent_user_id,
            timestamp,
            kind: self.kind,
            context: self.context,
            content,
            raw,
        })
    }
}

impl From<WireInteractive> for Interactive {
    fn from(w: WireInteractive) -> Self {
        match w.kind.as_str() {
            "button_reply" if let Some(r) = w.button_reply => Self::ButtonReply {
                id: r.id,
                title: r.title,
            },
            "list_reply" if let Some(r) = w.list_reply => Self::ListReply {
                id: r.id,
                title: r.title,
                description: r.description,
            },
            "nfm_reply" if let Some(n) = w.nfm_reply => Self::NfmReply {
                name: n.name,
                body: n.body,
                response_json: n.response_json,
            },
            "call_permission_reply" if let Some(c) = w.call_permission_reply => {
                Self::CallPermissionReply {
                    response: c.response,
                    expiration_timestamp: c.expiration_timestamp,
                }
            }
            _ => Self::Unknown { reply_type: w.kind },
        }
    }
}
