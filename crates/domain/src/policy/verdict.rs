//! What preflight answers: a clearance to send, or a refusal that says why and what to do
//! instead (ARCHITECTURE.md "Rules that hold everywhere": every rejection says why and what to
//! do, in the API, the UI and the logs).

use serde::Serialize;
use std::fmt;

use crate::Timestamp;
use crate::category::Category;

/// The HTTP status of every refusal: the request was well-formed, but Meta would not accept the
/// message it describes.
pub const REFUSAL_HTTP_STATUS: u16 = 422;

/// The stable machine codes of refusals. Clients switch on these; the wording of `detail` and
/// `next_step` may change, these may not.
pub mod code {
    /// A required field of the message is empty (Meta: 131008).
    pub const CONTENT_MISSING: &str = "content_missing";
    /// A field is longer than Meta allows (Meta: 100).
    pub const CONTENT_TOO_LONG: &str = "content_too_long";
    /// The message breaks one of Meta's shape rules: too many buttons, a bad URL… (Meta: 100).
    pub const CONTENT_INVALID: &str = "content_invalid";
    /// A free-form message outside the 24 h customer-service window (Meta: 131047).
    pub const WINDOW_CLOSED: &str = "window_closed";
    /// No template of that name was synced (Meta: 132001).
    pub const TEMPLATE_NOT_FOUND: &str = "template_not_found";
    /// The template exists, but not in the requested language (Meta: 132001).
    pub const TEMPLATE_LANGUAGE_MISSING: &str = "template_language_missing";
    /// The template is pending, rejected, archived… (Meta: 132001).
    pub const TEMPLATE_NOT_APPROVED: &str = "template_not_approved";
    /// The template is paused for low quality (Meta: 132015).
    pub const TEMPLATE_PAUSED: &str = "template_paused";
    /// The template is disabled for good (Meta: 132016).
    pub const TEMPLATE_DISABLED: &str = "template_disabled";
    /// Meta now files the template under another category than the sender expected.
    pub const TEMPLATE_CATEGORY_CHANGED: &str = "template_category_changed";
    /// Not as many parameters as the template has placeholders (Meta: 132000).
    pub const TEMPLATE_PARAMETER_COUNT: &str = "template_parameter_count";
    /// A named parameter the template does not have, or one given twice (Meta: 132000).
    pub const TEMPLATE_PARAMETER_NAME: &str = "template_parameter_name";
    /// Named parameters for a positional template (or the reverse), or a parameter of the
    /// wrong type (Meta: 132012).
    pub const TEMPLATE_PARAMETER_FORMAT: &str = "template_parameter_format";
    /// A text parameter is empty (Meta: 131008).
    pub const TEMPLATE_PARAMETER_EMPTY: &str = "template_parameter_empty";
    /// A text parameter holds a line break, a tab or more than 4 spaces in a row (Meta: 132018).
    pub const TEMPLATE_PARAMETER_TEXT: &str = "template_parameter_text";
    /// The template, once filled in, is longer than Meta allows (Meta: 132005).
    pub const TEMPLATE_TEXT_TOO_LONG: &str = "template_text_too_long";
    /// This kind of template cannot be sent to a business-scoped user id (Meta: 131062).
    pub const RECIPIENT_NEEDS_PHONE: &str = "recipient_needs_phone";
    /// The customer stopped marketing messages (Meta: 131050 when they did it in WhatsApp).
    pub const MARKETING_STOPPED: &str = "marketing_stopped";
    /// A business-initiated template without a recorded opt-in.
    pub const OPT_IN_MISSING: &str = "opt_in_missing";
    /// Too many business-initiated messages since the customer last replied.
    pub const UNANSWERED_CAP: &str = "unanswered_cap";
    /// The business's own cap on marketing messages to one customer.
    pub const MARKETING_FREQUENCY: &str = "marketing_frequency";
    /// Meta recently held back marketing to this customer (Meta: 131049).
    pub const MARKETING_CAPPED: &str = "marketing_capped";
    /// The portfolio's messaging limit is used up for the moving 24 h.
    pub const MESSAGING_LIMIT: &str = "messaging_limit";
    /// The monthly budget of the message's category is spent.
    pub const BUDGET_EXCEEDED: &str = "budget_exceeded";
    /// The pair rate (one message per 6 s per customer, bursts up to 45) would hold the message
    /// longer than the policy allows (Meta: 131056).
    pub const PAIR_RATE: &str = "pair_rate";

    /// Every code, for documentation and exhaustive tests.
    pub const ALL: &[&str] = &[
        CONTENT_MISSING,
        CONTENT_TOO_LONG,
        CONTENT_INVALID,
        WINDOW_CLOSED,
        TEMPLATE_NOT_FOUND,
        TEMPLATE_LANGUAGE_MISSING,
        TEMPLATE_NOT_APPROVED,
        TEMPLATE_PAUSED,
        TEMPLATE_DISABLED,
        TEMPLATE_CATEGORY_CHANGED,
        TEMPLATE_PARAMETER_COUNT,
        TEMPLATE_PARAMETER_NAME,
        TEMPLATE_PARAMETER_FORMAT,
        TEMPLATE_PARAMETER_EMPTY,
        TEMPLATE_PARAMETER_TEXT,
        TEMPLATE_TEXT_TOO_LONG,
        RECIPIENT_NEEDS_PHONE,
        MARKETING_STOPPED,
        OPT_IN_MISSING,
        UNANSWERED_CAP,
        MARKETING_FREQUENCY,
        MARKETING_CAPPED,
        MESSAGING_LIMIT,
        BUDGET_EXCEEDED,
        PAIR_RATE,
    ];
}

/// The stable codes of notes.
pub mod note {
    /// The customer-service window closes soon (within [`crate::policy::Policy::window_warning`]).
    pub const WINDOW_CLOSING: &str = "window_closing";
    /// A free entry point window is open: the message is free.
    pub const FREE_ENTRY_POINT: &str = "free_entry_point";
    /// This reply opens a 72 h free entry point window.
    pub const OPENS_FREE_ENTRY_POINT: &str = "opens_free_entry_point";
    /// The template is flagged or rated low: Meta may pause it.
    pub const TEMPLATE_QUALITY: &str = "template_quality";
    /// The message reaches a customer who was not yet counted against the messaging limit.
    pub const COUNTS_TOWARD_MESSAGING_LIMIT: &str = "counts_toward_messaging_limit";
    /// The category's monthly budget is nearly spent.
    pub const BUDGET_NEARLY_SPENT: &str = "budget_nearly_spent";
    /// The pair rate holds the message until `not_before`.
    pub const PACED: &str = "paced";
}

/// Why a message may not leave, and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// Stable snake_case code, one of [`code`].
    pub code: &'static str,
    /// What is wrong, for a person: "the customer-service window closed 3 h ago".
    pub detail: String,
    /// What to do instead: "send an approved template".
    pub next_step: String,
    /// The Meta error this rule anticipates, when Meta has one (cloud-api.md §4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta_code: Option<i64>,
    /// For refusals that waiting cures: the earliest time the same message may be submitted
    /// again with a chance of success. `None` means waiting alone will not help.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<Timestamp>,
}

impl Refusal {
    pub(crate) fn new(
        code: &'static str,
        detail: impl Into<String>,
        next_step: impl Into<String>,
    ) -> Self {
        Self {
            code,
            detail: detail.into(),
            next_step: next_step.into(),
            meta_code: None,
            retry_at: None,
        }
    }

    #[must_use]
    pub(crate) fn meta(mut self, code: i64) -> Self {
        self.meta_code = Some(code);
        self
    }

    #[must_use]
    pub(crate) fn retry_at(mut self, at: Option<Timestamp>) -> Self {
        self.retry_at = at;
        self
    }
}

impl fmt::Display for Refusal {
    /// "window closed 3 h ago: send an approved template" — the one-line form for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.detail, self.next_step)
    }
}

/// Something the sender should know about an allowed message: it is free, it reaches a new
/// customer against the messaging limit, it is held back a few seconds by the pair rate…
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    /// Stable snake_case code.
    pub code: &'static str,
    pub detail: String,
}

impl Note {
    pub(crate) fn new(code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }
}

/// What an allowed message is, as far as Meta's rules go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Clearance {
    /// The category the message will be priced in (`referral_conversion` inside a free entry
    /// point window). `None` for calls that are not messages: mark as read, typing indicator.
    pub category: Option<Category>,
    /// A template sent outside an open customer-service window: it needs an opt-in and counts
    /// against the portfolio's messaging limit (cloud-api.md §5.4, §6.3).
    pub business_initiated: bool,
    /// The pair rate holds the message until then; `None` means it may leave now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Timestamp>,
    /// For templates: the language code to put in the request, spelled as Meta synced it
    /// (`en_US` when the sender wrote `en-us`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_language: Option<String>,
    pub notes: Vec<Note>,
}

/// The answer of [`super::preflight`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Allowed(Clearance),
    Refused(Refusal),
}

impl Verdict {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed(_))
    }

    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            Self::Refused(r) => Some(r),
            Self::Allowed(_) => None,
        }
    }

    pub fn clearance(&self) -> Option<&Clearance> {
        match self {
            Self::Allowed(c) => Some(c),
            Self::Refused(_) => None,
        }
    }
}
