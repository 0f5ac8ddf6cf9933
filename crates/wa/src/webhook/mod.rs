//! Meta's webhook notifications, typed (cloud-api.md §1.3–§1.5).
//!
//! [`parse`] never fails on something Meta might add: unknown fields, unknown message kinds and
//! unknown change fields are kept (as raw JSON) and reported in [`ParseReport`] so that they can be
//! counted. It fails only when the body is not a webhook notification at all, and an item that
//! cannot be read (a message without an id, say) is reported and skipped without losing the rest
//! of the batch; the raw body is stored before parsing, so nothing is ever lost.

mod account;
mod message;
mod status;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub use account::{
    OtherInfo, RejectionInfo, TemplateCategoryUpdate, TemplateQualityUpdate, TemplateStatusUpdate,
    UserPreference, UserPreferencesValue,
};
pub use message::{
    ContactAddress, ContactEmail, ContactName, ContactOrg, ContactPhone, ContactUrl, Content,
    Context, EchoMessage, InboundMessage, Interactive, Location, Media, Order, OrderItem, Reaction,
    Referral, ReferredProduct, SharedContact, System, TemplateButtonReply, Text, WelcomeMessage,
};
pub use status::{ConversationInfo, ConversationOrigin, Pricing, Status, StatusKind};

use crate::de;

/// One POST from Meta: a batch of entries, each with changes.
#[derive(Debug, Clone)]
pub struct Notification {
    /// `whatsapp_business_account` for everything guichet handles.
    pub object: String,
    pub entry: Vec<Entry>,
}

#[derive(Debug, Clone)]
pub struct Entry {
    /// The WABA id — not the phone number id (cloud-api.md §10.2).
    pub id: String,
    /// Present on template and account webhooks, not on `messages`.
    pub time: Option<i64>,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone)]
pub struct Change {
    pub field: String,
    pub value: ChangeValue,
}

/// The value of a change, by `field`.
#[derive(Debug, Clone)]
pub enum ChangeValue {
    /// `messages`: inbound messages, statuses and errors for one business number.
    Messages(MessagesValue),
    /// `smb_message_echoes`: what the business sent from the WhatsApp Business app.
    MessageEchoes(EchoesValue),
    TemplateStatus(TemplateStatusUpdate),
    TemplateQuality(TemplateQualityUpdate),
    TemplateCategory(TemplateCategoryUpdate),
    UserPreferences(UserPreferencesValue),
    /// A field guichet does not model (account_update, calls, history, …), kept raw.
    Other(Box<RawValue>),
}

/// The value of a `messages` change.
#[derive(Debug, Clone, Default)]
pub struct MessagesValue {
    pub metadata: Metadata,
    /// Sender profiles (name, username, ids) — not the contact cards of a `contacts` message.
    pub contacts: Vec<Profile>,
    pub messages: Vec<InboundMessage>,
    pub statuses: Vec<Status>,
    /// Errors not tied to one message (`value.errors`).
    pub errors: Vec<WebhookError>,
}

#[derive(Debug, Clone, Default)]
pub struct EchoesValue {
    pub metadata: Metadata,
    pub contacts: Vec<Profile>,
    pub message_echoes: Vec<EchoMessage>,
}

/// Which business number a change is about. Route by `phone_number_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub display_phone_number: String,
    #[serde(default, deserialize_with = "de::id")]
    pub phone_number_id: String,
}

/// A sender profile from `value.contacts[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub wa_id: Option<String>,
    /// Business-scoped user id (cloud-api.md §9.4).
    pub user_id: Option<String>,
    pub parent_user_id: Option<String>,
    pub profile: Option<ProfileName>,
    pub identity_key_hash: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileName {
    pub name: Option<String>,
    pub username: Option<String>,
}

impl Profile {
    pub fn name(&self) -> Option<&str> {
        self.profile.as_ref().and_then(|p| p.name.as_deref())
    }

    pub fn username(&self) -> Option<&str> {
        self.profile.as_ref().and_then(|p| p.username.as_deref())
    }

    /// Whether this profile describes the user with these ids.
    pub fn is_for(&self, wa_id: Option<&str>, user_id: Option<&str>) -> bool {
        match (user_id, self.user_id.as_deref()) {
            (Some(a), Some(b)) => a == b,
            _ => wa_id.is_some() && wa_id == self.wa_id.as_deref(),
        }
    }
}

/// An error item of a webhook (`value.errors`, `messages[].errors`, `statuses[].errors`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookError {
    pub code: i64,
    pub title: Option<String>,
    pub message: Option<String>,
    pub error_data: Option<ErrorData>,
    pub href: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorData {
    pub details: Option<String>,
}

impl WebhookError {
    /// Meta's details, else its title.
    pub fn details(&self) -> Option<&str> {
        self.error_data
            .as_ref()
            .and_then(|d| d.details.as_deref())
            .or(self.title.as_deref())
            .or(self.message.as_deref())
    }
}

/// What [`parse`] met that it did not model. Nothing here is lost: the raw body is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParseReport {
    /// Paths of fields guichet does not know, e.g. `entry[0].changes[0].value.messages[0].poll`.
    pub unknown_fields: Vec<String>,
    /// Message kinds guichet does not know (or whose content object was missing).
    pub unknown_kinds: Vec<String>,
    /// Change fields guichet keeps raw without interpreting (`account_update`, `calls`, …).
    pub other_changes: Vec<String>,
    /// Items that could not be read at all, with the reason; the rest of the batch was read.
    pub invalid_items: Vec<String>,
}

impl ParseReport {
    pub fn is_clean(&self) -> bool {
        self.unknown_fields.is_empty()
            && self.unknown_kinds.is_empty()
            && self.other_changes.is_empty()
            && self.invalid_items.is_empty()
    }
}

/// The body is not a webhook notification. Its `Display` says why, quoting the body where that
/// helps the sender; [`ParseError::summary`] says where without quoting anything, for logs.
#[derive(Debug, thiserror::Error)]
#[error(
    "the body is not a WhatsApp webhook notification ({detail}); expected a JSON object with an \
     `entry` array as described in Meta's webhook reference"
)]
pub struct ParseError {
    detail: String,
    summary: String,
}

impl ParseError {
    fn shape(why: &str) -> Self {
        Self {
            detail: why.to_owned(),
            summary: why.to_owned(),
        }
    }

    /// What kind of problem and where, without any of the body's content.
    pub fn summary(&self) -> &str {
        &self.summary
    }
}

impl From<serde_json::Error> for ParseError {
    fn from(e: serde_json::Error) -> Self {
        let kind = match e.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "not valid JSON",
            serde_json::error::Category::Data => "not the expected shape",
            serde_json::error::Category::Eof => "truncated JSON",
        };
        let summary = format!("{kind} at line {} column {}", e.line(), e.column());
        Self {
            detail: e.to_string(),
            summary,
        }
    }
}

#[derive(Deserialize)]
struct WireNotification {
    #[serde(default)]
    object: String,
    /// Read one by one, so that one unreadable entry does not lose the others.
    entry: Vec<Box<RawValue>>,
}

#[derive(Deserialize)]
struct WireEntry {
    #[serde(default, deserialize_with = "de::id")]
    id: String,
    #[serde(default, deserialize_with = "de::opt_timestamp")]
    time: Option<i64>,
    #[serde(default)]
    changes: Vec<Box<RawValue>>,
}

#[derive(Deserialize)]
struct WireChange {
    #[serde(default)]
    field: String,
    value: Box<RawValue>,
}

#[derive(Deserialize)]
struct WireMessagesValue {
    #[serde(rename = "messaging_product")]
    _messaging_product: Option<String>,
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    contacts: Vec<Profile>,
    #[serde(default)]
    messages: Vec<Box<RawValue>>,
    #[serde(default)]
    statuses: Vec<Box<RawValue>>,
    #[serde(default)]
    errors: Vec<WebhookError>,
}

#[derive(Deserialize)]
struct WireEchoesValue {
    #[serde(rename = "messaging_product")]
    _messaging_product: Option<String>,
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    contacts: Vec<Profile>,
    #[serde(default)]
    message_echoes: Vec<Box<RawValue>>,
}

/// Checks, cheaply, that a body is a webhook notification (a JSON object with an `entry` array)
/// without reading its items: the webhook endpoint refuses what is not, before storing it.
pub fn check_envelope(body: &[u8]) -> Result<(), ParseError> {
    #[derive(Deserialize)]
    struct Shape {
        #[serde(rename = "object", default)]
        _object: String,
        #[serde(rename = "entry")]
        _entry: Vec<serde::de::IgnoredAny>,
    }
    require_object(body)?;
    let mut de = serde_json::Deserializer::from_slice(body);
    Shape::deserialize(&mut de)
        .and_then(|_| de.end())
        .map_err(ParseError::from)
}

/// serde reads a struct from a JSON array too (by position); a notification is an object.
fn require_object(body: &[u8]) -> Result<(), ParseError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Ok(()),
        Some(_) => Err(ParseError::shape("it does not start with `{`")),
        None => Err(ParseError::shape("it is empty")),
    }
}

/// Reads a webhook body. See the module docs for what is lenient and what is not.
pub fn parse(body: &[u8]) -> Result<(Notification, ParseReport), ParseError> {
    require_object(body)?;
    let mut report = ParseReport::default();
    let wire: WireNotification =
        read(body, "", &mut report.unknown_fields).map_err(ParseError::from)?;
    let mut entry = Vec::with_capacity(wire.entry.len());
    for (ei, raw) in wire.entry.into_iter().enumerate() {
        let path = format!("entry[{ei}]");
        let e: WireEntry = match read(raw.get().as_bytes(), &path, &mut report.unknown_fields) {
            Ok(e) => e,
            Err(why) => {
                report.invalid_items.push(format!("{path}: {why}"));
                continue;
            }
        };
        let mut changes = Vec::with_capacity(e.changes.len());
        for (ci, raw) in e.changes.into_iter().enumerate() {
            let path = format!("{path}.changes[{ci}]");
            let c: WireChange = match read(raw.get().as_bytes(), &path, &mut report.unknown_fields)
            {
                Ok(c) => c,
                Err(why) => {
                    report.invalid_items.push(format!("{path}: {why}"));
                    continue;
                }
            };
            let path = format!("{path}.value");
            match read_change(&c.field, c.value, &path, &mut report) {
                Ok(value) => changes.push(Change {
                    field: c.field,
                    value,
                }),
                Err(why) => report
                    .invalid_items
                    .push(format!("{path} ({}): {why}", c.field)),
            }
        }
        entry.push(Entry {
            id: e.id,
            time: e.time,
            changes,
        });
    }
    Ok((
        Notification {
            object: wire.object,
            entry,
        },
        report,
    ))
}

fn read_change(
    field: &str,
    raw: Box<RawValue>,
    path: &str,
    report: &mut ParseReport,
) -> Result<ChangeValue, serde_json::Error> {
    let unknown = &mut report.unknown_fields;
    Ok(match field {
        "messages" => {
            let w: WireMessagesValue = read(raw.get().as_bytes(), path, unknown)?;
            let mut messages = Vec::with_capacity(w.messages.len());
            for (i, m) in w.messages.into_iter().enumerate() {
                let p = format!("{path}.messages[{i}]");
                let parsed = read::<message::WireMessage>(
                    m.get().as_bytes(),
                    &p,
                    &mut report.unknown_fields,
                )
                .map_err(|e| e.to_string())
                .and_then(|wm| wm.into_inbound(m).map_err(str::to_owned));
                match parsed {
                    Ok(msg) => messages.push(msg),
                    Err(e) => report.invalid_items.push(format!("{p}: {e}")),
                }
            }
            for m in &messages {
                note_unknown_kind(&m.content, &mut report.unknown_kinds);
            }
            let mut statuses = Vec::with_capacity(w.statuses.len());
            for (i, s) in w.statuses.into_iter().enumerate() {
                let p = format!("{path}.statuses[{i}]");
                match read::<Status>(s.get().as_bytes(), &p, &mut report.unknown_fields) {
                    Ok(st) => statuses.push(st),
                    Err(e) => report.invalid_items.push(format!("{p}: {e}")),
                }
            }
            ChangeValue::Messages(MessagesValue {
                metadata: w.metadata,
                contacts: w.contacts,
                messages,
                statuses,
                errors: w.errors,
            })
        }
        "smb_message_echoes" => {
            let w: WireEchoesValue = read(raw.get().as_bytes(), path, unknown)?;
            let mut message_echoes = Vec::with_capacity(w.message_echoes.len());
            for (i, m) in w.message_echoes.into_iter().enumerate() {
                let p = format!("{path}.message_echoes[{i}]");
                let parsed = read::<message::WireMessage>(
                    m.get().as_bytes(),
                    &p,
                    &mut report.unknown_fields,
                )
                .map_err(|e| e.to_string())
                .and_then(|wm| wm.into_echo(m).map_err(str::to_owned));
                match parsed {
                    Ok(echo) => {
                        note_unknown_kind(&echo.content, &mut report.unknown_kinds);
                        message_echoes.push(echo);
                    }
                    Err(e) => report.invalid_items.push(format!("{p}: {e}")),
                }
            }
            ChangeValue::MessageEchoes(EchoesValue {
                metadata: w.metadata,
                contacts: w.contacts,
                message_echoes,
            })
        }
        "message_template_status_update" => {
            ChangeValue::TemplateStatus(read(raw.get().as_bytes(), path, unknown)?)
        }
        "message_template_quality_update" => {
            ChangeValue::TemplateQuality(read(raw.get().as_bytes(), path, unknown)?)
        }
        "template_category_update" => {
            ChangeValue::TemplateCategory(read(raw.get().as_bytes(), path, unknown)?)
        }
        "user_preferences" => {
            ChangeValue::UserPreferences(read(raw.get().as_bytes(), path, unknown)?)
        }
        other => {
            report.other_changes.push(other.to_owned());
            ChangeValue::Other(raw)
        }
    })
}

fn note_unknown_kind(content: &Content, kinds: &mut Vec<String>) {
    match content {
        Content::Unknown { type_name } => kinds.push(type_name.clone()),
        Content::Interactive(Interactive::Unknown { reply_type }) => {
            kinds.push(format!("interactive.{reply_type}"));
        }
        _ => {}
    }
}

/// Deserializes `bytes`, recording the path of every field the target type does not know.
fn read<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    prefix: &str,
    unknown: &mut Vec<String>,
) -> Result<T, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_ignored::deserialize(&mut de, |path| {
        // serde_ignored marks each `Option` it went through with a `?` segment: drop them.
        let path = path.to_string().replace(".?", "");
        let path = path.strip_prefix("?.").unwrap_or(&path);
        unknown.push(if prefix.is_empty() {
            path.to_owned()
        } else {
            format!("{prefix}.{path}")
        });
    })?;
    de.end()?;
    Ok(value)
}

#[cfg(test)]
mod tests;
