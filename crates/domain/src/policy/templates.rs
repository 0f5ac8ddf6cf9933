//! Templates as guichet synced them from Meta (`message_template_status_update`,
//! `template_category_update`, `GET /message_templates`): status, category, language and the
//! texts whose placeholders say which parameters a send must give (cloud-api.md §3.2, §6.4,
//! §6.5).

use serde::Serialize;
use std::fmt;

use crate::category::Category;

/// A template's review state (cloud-api.md §6.5). Meta's webhook sends these as events; the
/// syncer keeps the latest as the template's status.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TemplateStatus {
    Approved,
    Pending,
    Rejected,
    Paused,
    Disabled,
    /// A quality warning: the template is at risk of being paused.
    Flagged,
    /// Back to approved after a pause or an appeal.
    Reinstated,
    InAppeal,
    LimitExceeded,
    Locked,
    Archived,
    Unarchived,
    PendingDeletion,
    Deleted,
    /// A status this version does not know.
    Other(String),
}

impl TemplateStatus {
    /// Meta's spelling, any case.
    pub fn parse(s: &str) -> Self {
        match s.trim().to_ascii_uppercase().as_str() {
            "APPROVED" => Self::Approved,
            "PENDING" => Self::Pending,
            "REJECTED" => Self::Rejected,
            "PAUSED" => Self::Paused,
            "DISABLED" => Self::Disabled,
            "FLAGGED" => Self::Flagged,
            "REINSTATED" => Self::Reinstated,
            "IN_APPEAL" => Self::InAppeal,
            "LIMIT_EXCEEDED" => Self::LimitExceeded,
            "LOCKED" => Self::Locked,
            "ARCHIVED" => Self::Archived,
            "UNARCHIVED" => Self::Unarchived,
            "PENDING_DELETION" => Self::PendingDeletion,
            "DELETED" => Self::Deleted,
            _ => Self::Other(s.trim().to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Approved => "APPROVED",
            Self::Pending => "PENDING",
            Self::Rejected => "REJECTED",
            Self::Paused => "PAUSED",
            Self::Disabled => "DISABLED",
            Self::Flagged => "FLAGGED",
            Self::Reinstated => "REINSTATED",
            Self::InAppeal => "IN_APPEAL",
            Self::LimitExceeded => "LIMIT_EXCEEDED",
            Self::Locked => "LOCKED",
            Self::Archived => "ARCHIVED",
            Self::Unarchived => "UNARCHIVED",
            Self::PendingDeletion => "PENDING_DELETION",
            Self::Deleted => "DELETED",
            Self::Other(s) => s,
        }
    }

    /// Whether Meta sends a template in this state. Meta says only `APPROVED` templates can be
    /// sent (cloud-api.md §6.5); `REINSTATED` is an approved template coming back, and `FLAGGED`
    /// is a quality warning on a template that stays approved until Meta pauses it, so both are
    /// treated as approved (with a note for `FLAGGED`).
    pub fn is_sendable(&self) -> bool {
        matches!(self, Self::Approved | Self::Reinstated | Self::Flagged)
    }
}

impl fmt::Display for TemplateStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The quality label WhatsApp Manager shows for an active template (cloud-api.md §6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateQuality {
    #[default]
    Pending,
    High,
    Medium,
    Low,
}

/// How a template's placeholders are written: `{{1}}` or `{{first_name}}`. Positional is
/// Meta's default (cloud-api.md §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParameterFormat {
    #[default]
    Positional,
    Named,
}

/// A template's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateHeader {
    /// Text, with at most one placeholder.
    Text(String),
    Image,
    Video,
    Document,
    Location,
}

/// A template's button, as approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateButton {
    QuickReply,
    /// A URL button; dynamic when `url` ends in a placeholder, whose suffix each send gives.
    Url {
        url: String,
    },
    PhoneNumber,
    CopyCode,
    /// An authentication template's one-time-password button (copy code, one tap, zero tap).
    /// Sent as a `url` button with the code as its one text parameter.
    Otp,
    Flow,
    Catalog,
    /// A button this version does not check.
    Other,
}

/// One synced template in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedTemplate {
    pub name: String,
    /// As Meta spells it (`en_US`); webhooks may say `en-US`.
    pub language: String,
    pub status: TemplateStatus,
    /// The category Meta applies now: "a business accepts the charges associated with the
    /// category applied to the template at time of use" (cloud-api.md §6.4).
    pub category: Category,
    pub parameter_format: ParameterFormat,
    pub header: Option<TemplateHeader>,
    /// The body text, placeholders included.
    pub body: String,
    pub buttons: Vec<TemplateButton>,
    pub quality: TemplateQuality,
}

/// The placeholders of a template text, without braces or surrounding spaces, each once, in the
/// order of their first appearance: `"Hi {{1}}, order {{2}} ({{1}})"` → `["1", "2"]`. A `{{`
/// without its `}}` ends the scan.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
        rest = &after[end + 2..];
    }
    out
}

/// Characters Meta refuses in a text parameter: line breaks and tabs (plus the other vertical
/// separators, which render as line breaks).
fn is_forbidden_whitespace(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\t' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// At most this many spaces in a row in a text parameter.
pub const MAX_CONSECUTIVE_SPACES: usize = 4;

/// Why a text parameter would be refused, if it would: empty, a line break or tab, or more than
/// [`MAX_CONSECUTIVE_SPACES`] spaces in a row. Meta's own wording, as integrations report it:
/// "Param text cannot have new-line/tab characters or more than 4 consecutive spaces".
pub fn parameter_text_problem(text: &str) -> Option<ParameterTextProblem> {
    if text.trim().is_empty() {
        return Some(ParameterTextProblem::Empty);
    }
    if text.chars().any(is_forbidden_whitespace) {
        return Some(ParameterTextProblem::LineBreakOrTab);
    }
    let mut run = 0;
    for c in text.chars() {
        run = if c == ' ' { run + 1 } else { 0 };
        if run > MAX_CONSECUTIVE_SPACES {
            return Some(ParameterTextProblem::TooManySpaces);
        }
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterTextProblem {
    Empty,
    LineBreakOrTab,
    TooManySpaces,
}

/// `text` made acceptable as a template parameter: line breaks and tabs become single spaces,
/// runs of spaces are cut to [`MAX_CONSECUTIVE_SPACES`], and the ends are trimmed. For a sender
/// that would rather adapt a value than be refused; the result is empty only if `text` held
/// nothing but whitespace.
pub fn clean_parameter_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = 0;
    for c in text.chars() {
        let c = if is_forbidden_whitespace(c) { ' ' } else { c };
        if c == ' ' {
            run += 1;
            if run > MAX_CONSECUTIVE_SPACES {
                continue;
            }
        } else {
            run = 0;
        }
        out.push(c);
    }
    out.trim().to_owned()
}

/// A language code in a form that compares across spellings: `en-US`, `en_us` and `EN_US` are
/// the same language.
pub(crate) fn language_key(code: &str) -> String {
    code.trim().replace('-', "_").to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_distinct_and_in_order() {
        assert_eq!(
            placeholders("Hi {{1}}, order {{ 2 }} for {{1}}"),
            vec!["1", "2"]
        );
        assert_eq!(
            placeholders("{{first_name}} {{order_id}}"),
            vec!["first_name", "order_id"]
        );
        assert!(placeholders("no {{ end").is_empty());
        assert!(placeholders("{{}} {{ }}").is_empty());
    }

    #[test]
    fn parameter_text_rules() {
        assert_eq!(parameter_text_problem("Ana"), None);
        assert_eq!(parameter_text_problem("a    b"), None);
        assert_eq!(
            parameter_text_problem("a     b"),
            Some(ParameterTextProblem::TooManySpaces)
        );
        assert_eq!(
            parameter_text_problem("a\nb"),
            Some(ParameterTextProblem::LineBreakOrTab)
        );
        assert_eq!(
            parameter_text_problem("a\tb"),
            Some(ParameterTextProblem::LineBreakOrTab)
        );
        assert_eq!(
            parameter_text_problem("  "),
            Some(ParameterTextProblem::Empty)
        );
        assert_eq!(
            parameter_text_problem(""),
            Some(ParameterTextProblem::Empty)
        );
    }

    #[test]
    fn cleaning_makes_a_value_acceptable() {
        assert_eq!(clean_parameter_text(" a\n\tb      c "), "a  b    c");
        assert_eq!(clean_parameter_text("\n\n"), "");
    }

    #[test]
    fn statuses_parse_any_case_and_only_approved_ones_send() {
        assert_eq!(TemplateStatus::parse("approved"), TemplateStatus::Approved);
        assert_eq!(TemplateStatus::parse("IN_APPEAL"), TemplateStatus::InAppeal);
        assert_eq!(
            TemplateStatus::parse("NEW_THING"),
            TemplateStatus::Other("NEW_THING".into())
        );
        assert!(TemplateStatus::Approved.is_sendable());
        assert!(TemplateStatus::Flagged.is_sendable());
        for s in [
            "PAUSED", "PENDING", "REJECTED", "DISABLED", "ARCHIVED", "DELETED",
        ] {
            assert!(!TemplateStatus::parse(s).is_sendable(), "{s}");
            assert_eq!(TemplateStatus::parse(s).as_str(), s);
        }
    }

    #[test]
    fn language_codes_compare_across_spellings() {
        assert_eq!(language_key("en-US"), language_key("en_us"));
        assert_ne!(language_key("en"), language_key("en_US"));
    }
}
