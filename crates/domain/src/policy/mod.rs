//! Preflight: before a message leaves, whether Meta would accept it, and if not, why and what to
//! do instead (cloud-api.md §3–§6; ARCHITECTURE.md "The way data flows": send intent → preflight
//! → outbox). Pure: the caller gathers the [`Facts`] from its store and passes the instant in
//! the [`SendIntent`]; nothing here reads a clock or does I/O.
//!
//! [`preflight`] answers with a [`Verdict`]: a [`Clearance`] (the priced category, whether the
//! message is business-initiated, how long pacing holds it, notes), or the first [`Refusal`] —
//! a 422 with a stable code, a human detail, the next step, the Meta error it anticipates and,
//! when waiting cures it, when to retry. [`check_all`] lists every refusal that applies.
//!
//! # Precedence
//!
//! Every rule is checked; refusals come in this order, so that the first is the one to act on:
//!
//! 1. the message itself (`content_*`): fix the request;
//! 2. the window (`window_closed`) or the template (`template_*`): send a template, or another
//!    one, or other parameters;
//! 3. the recipient (`recipient_needs_phone`);
//! 4. consent (`marketing_stopped`, `opt_in_missing`): never cured by retrying;
//! 5. `unanswered_cap`: cured by the customer, not the clock;
//! 6. then the refusals that waiting cures, longest wait first: `budget_exceeded` (next month),
//!    `marketing_frequency`, `marketing_capped` (24 h), `messaging_limit` (≤ 24 h), and
//!    `pair_rate` (minutes).
//!
//! Hence a refusal carries a `retry_at` only if waiting can help: when every refusal that
//! applies is of the waiting kind, the first one's `retry_at` is the latest of theirs, the
//! instant at which none applies any more.
//!
//! # Pacing
//!
//! The pair rate is both a rule and a schedule: a message the [`PairLimiter`] holds for less
//! than [`Policy::max_pacing_delay`] is allowed with a `not_before`, a longer hold is refused.
//! The per-number throughput ([`ThroughputBucket`]) is the sender loop's alone, since it depends
//! on every customer's traffic, not on this message.

mod consent;
mod content;
mod entry_point;
mod facts;
mod intent;
mod keywords;
mod limits;
mod pacing;
mod parameters;
mod settings;
mod templates;
mod verdict;
mod volume;
mod wire;

#[cfg(test)]
mod tests;

pub use consent::{
    Consent, ConsentEvent, MarketingStop, OptIn, OptInSource, Preference, PreferenceAt, StopSource,
    UserPreferenceValue,
};
pub use content::{
    BUTTON_ID_MAX, BUTTON_TITLE_MAX, BUTTONS_BODY_MAX, CAPTION_MAX, CTA_DISPLAY_TEXT_MAX,
    FOOTER_MAX, HEADER_TEXT_MAX, LIST_BODY_MAX, LIST_BUTTON_MAX, LIST_ROWS_MAX, LIST_SECTIONS_MAX,
    REPLY_BUTTONS_MAX, ROW_DESCRIPTION_MAX, ROW_ID_MAX, ROW_TITLE_MAX, SECTION_TITLE_MAX,
    TEXT_BODY_MAX,
};
pub use entry_point::{FREE_SPAN, FreeEntryPoint, FreeEntryPointAt, REPLY_SPAN};
pub use facts::{Facts, Spend};
pub use intent::{
    ButtonParams, ButtonSubType, ContactCard, Interactive, InteractiveHeader, ListRow, ListSection,
    Location, MediaKind, MediaMessage, MediaSource, Message, Param, ParamValue, ReplyButton,
    SendIntent, TemplateMessage,
};
pub use keywords::{
    DEFAULT_OPT_IN, DEFAULT_OPT_OUT, KeywordKind, Keywords, is_opt_in, is_opt_out, normalise,
};
pub use limits::{
    MESSAGING_LIMIT_SPAN, MessagingLimit, PortfolioReach, PortfolioUsage, Unanswered,
};
pub use pacing::{Millis, PairLimiter, PairRate, Throughput, ThroughputBucket};
pub use parameters::{TEMPLATE_BODY_MAX, TEMPLATE_HEADER_TEXT_MAX};
pub use settings::{FrequencyCap, Policy};
pub use templates::{
    MAX_CONSECUTIVE_SPACES, ParameterFormat, ParameterTextProblem, SyncedTemplate, TemplateButton,
    TemplateHeader, TemplateQuality, TemplateStatus, clean_parameter_text, parameter_text_problem,
    placeholders,
};
pub use verdict::{Clearance, Note, REFUSAL_HTTP_STATUS, Refusal, Verdict, code, note};
pub use wire::{WireError, intent_parts, message_of, read_message, recipient_key, synced_template};

use crate::Timestamp;
use crate::category::Category;
use crate::identity::ContactKey;
use crate::window::ServiceWindow;

/// Whether `intent` may leave now, given `facts` and the business's `policy`; the first refusal
/// by the module's precedence if not.
pub fn preflight(intent: &SendIntent, facts: &Facts, policy: &Policy) -> Verdict {
    let (mut refusals, clearance) = evaluate(intent, facts, policy);
    if refusals.is_empty() {
        return Verdict::Allowed(clearance);
    }
    let all_wait = refusals.iter().all(|r| r.retry_at.is_some());
    let latest = refusals.iter().filter_map(|r| r.retry_at).max();
    let mut first = refusals.swap_remove(0);
    if all_wait {
        first.retry_at = latest;
    }
    Verdict::Refused(first)
}

/// The synced template a template message names, by name and language as preflight matches
/// them (`en-us` finds `en_US`); `None` when preflight would refuse it as unknown.
pub fn template_for<'a>(
    message: &TemplateMessage,
    synced: &'a [SyncedTemplate],
) -> Option<&'a SyncedTemplate> {
    parameters::find(message, synced).ok()
}

/// Every refusal that applies to `intent`, in the order of precedence; empty if it may leave.
pub fn check_all(intent: &SendIntent, facts: &Facts, policy: &Policy) -> Vec<Refusal> {
    evaluate(intent, facts, policy).0
}

/// The template side of a send, once found.
struct TemplateFound {
    category: Category,
    language: String,
}

fn evaluate(intent: &SendIntent, facts: &Facts, policy: &Policy) -> (Vec<Refusal>, Clearance) {
    let now = intent.at;
    let mut refusals: Vec<Refusal> = Vec::new();
    let mut notes: Vec<Note> = Vec::new();

    // The message's own shape (cloud-api.md §3.2, §5.5).
    if let Err(r) = content::check(&intent.message, intent.reply_to.as_deref()) {
        refusals.push(r);
    }
    if !intent.message.is_message() {
        let clearance = Clearance {
            category: None,
            business_initiated: false,
            not_before: None,
            template_language: None,
            notes,
        };
        return (refusals, clearance);
    }

    // Free-form needs the window; a template needs to exist, be approved and fit (§6.1, §6.5).
    let window = ServiceWindow::at(facts.last_inbound_at, now);
    let template = match &intent.message {
        Message::Template(m) => check_template(intent, m, facts, &mut refusals, &mut notes),
        _ => {
            check_window(window, policy, &mut refusals, &mut notes);
            None
        }
    };
    // A template outside the window starts a conversation: it needs an opt-in and counts
    // against the messaging limit (§5.4, §6.3).
    let is_template = matches!(intent.message, Message::Template(_));
    let business_initiated = is_template && !window.is_open();
    let template_category = template.as_ref().map(|t| t.category);

    // One-time-password templates cannot go to a business-scoped user id (§9.4).
    if template_category == Some(Category::Authentication)
        && matches!(intent.recipient, ContactKey::Bsuid(_))
    {
        refusals.push(
            Refusal::new(
                code::RECIPIENT_NEEDS_PHONE,
                "authentication templates cannot be sent to a business-scoped user id",
                "send it to the customer's phone number, or ask them to share it first",
            )
            .meta(131_062),
        );
    }

    // The price: the template's category, or free inside a free entry point window (§6.2).
    let category = match facts.free_entry_point.at(now) {
        FreeEntryPointAt::Opens { until } => {
            notes.push(Note::new(
                note::OPENS_FREE_ENTRY_POINT,
                format!(
                    "this reply is free and opens a free entry point window: every message to \
                     this customer is free for the next {}",
                    until - now
                ),
            ));
            Category::ReferralConversion
        }
        FreeEntryPointAt::Open { until } => {
            notes.push(Note::new(
                note::FREE_ENTRY_POINT,
                format!(
                    "free: a free entry point window is open for another {}",
                    until - now
                ),
            ));
            Category::ReferralConversion
        }
        FreeEntryPointAt::None => template_category.unwrap_or(Category::Service),
    };

    // Consent (§6.3): a marketing stop holds inside the window too; the opt-in is for
    // conversations the business starts.
    if template_category == Some(Category::Marketing)
        && let Some(stop) = facts.consent.marketing_stop()
    {
        refusals.push(marketing_stopped(stop, now));
    }
    if business_initiated && policy.require_opt_in && !facts.consent.has_opt_in() {
        refusals.push(Refusal::new(
            code::OPT_IN_MISSING,
            "no opt-in is recorded for this customer, and Meta requires one before a business \
             starts a conversation with a template",
            "record how and when the customer agreed to receive messages, or wait for them to \
             write first",
        ));
    }
    // The unanswered cap (§5.7): authentication codes are asked for, so never capped.
    if business_initiated
        && template_category != Some(Category::Authentication)
        && let Some(cap) = policy.unanswered_cap.filter(|&cap| facts.unanswered >= cap)
    {
        refusals.push(Refusal::new(
            code::UNANSWERED_CAP,
            format!(
                "{} messages have gone unanswered since the customer last wrote (the cap is \
                 {cap})",
                facts.unanswered
            ),
            "wait for the customer to reply, or reach them another way",
        ));
    }

    // Waiting cures the rest (see `volume`).
    if let Some(r) = volume::check_budget(category, facts, policy, &mut notes) {
        refusals.push(r);
    }
    if business_initiated && template_category == Some(Category::Marketing) {
        refusals.extend(volume::check_marketing_pace(facts, policy, now));
    }
    if business_initiated && let Some(r) = volume::check_messaging_limit(facts, &mut notes) {
        refusals.push(r);
    }
    let not_before = match volume::check_pair_rate(facts, policy, now, &mut notes) {
        Ok(at) => at,
        Err(r) => {
            refusals.push(r);
            None
        }
    };

    let clearance = Clearance {
        category: Some(category),
        business_initiated,
        not_before,
        template_language: template.map(|t| t.language),
        notes,
    };
    (refusals, clearance)
}

/// Free-form messages only inside the 24 h window (cloud-api.md §6.1; Meta: 131047).
fn check_window(
    window: ServiceWindow,
    policy: &Policy,
    refusals: &mut Vec<Refusal>,
    notes: &mut Vec<Note>,
) {
    let next_step = "send an approved template; free-form messages can follow once the customer \
                     writes again";
    match window {
        ServiceWindow::Open { remaining, .. } => {
            if remaining < policy.window_warning {
                notes.push(Note::new(
                    note::WINDOW_CLOSING,
                    format!("the customer-service window closes in {remaining}"),
                ));
            }
        }
        ServiceWindow::Closed { ago, .. } => refusals.push(
            Refusal::new(
                code::WINDOW_CLOSED,
                format!(
                    "the customer-service window closed {ago} ago (24 h after the customer's \
                     last message)"
                ),
                next_step,
            )
            .meta(131_047),
        ),
        ServiceWindow::Never => refusals.push(
            Refusal::new(
                code::WINDOW_CLOSED,
                "the customer has never written to this number, so no customer-service window \
                 is open",
                next_step,
            )
            .meta(131_047),
        ),
    }
}

fn check_template(
    intent: &SendIntent,
    m: &TemplateMessage,
    facts: &Facts,
    refusals: &mut Vec<Refusal>,
    notes: &mut Vec<Note>,
) -> Option<TemplateFound> {
    let t = match parameters::find(m, &facts.templates) {
        Ok(t) => t,
        Err(r) => {
            refusals.push(r);
            return None;
        }
    };
    if let Err(r) = parameters::check_status(t) {
        refusals.push(r);
    } else if t.status == TemplateStatus::Flagged || t.quality == TemplateQuality::Low {
        notes.push(Note::new(
            note::TEMPLATE_QUALITY,
            format!(
                "template `{}` has low quality ratings; Meta may pause it if customers keep \
                 blocking or reporting it",
                t.name
            ),
        ));
    }
    if let Some(expected) = intent.expected_category.filter(|&c| c != t.category) {
        refusals.push(Refusal::new(
            code::TEMPLATE_CATEGORY_CHANGED,
            format!(
                "Meta now files template `{}` as {}, not {expected}; it would be priced and \
                 governed as {}",
                t.name, t.category, t.category
            ),
            format!(
                "check the {} price and consent rules, then send it again expecting {}, or use \
                 a {expected} template",
                t.category, t.category
            ),
        ));
    }
    if let Err(r) = parameters::check_parameters(t, m) {
        refusals.push(r);
    }
    Some(TemplateFound {
        category: t.category,
        language: t.language.clone(),
    })
}

fn marketing_stopped(stop: MarketingStop, now: Timestamp) -> Refusal {
    let ago = now - stop.at;
    match stop.by {
        StopSource::UserPreferences => Refusal::new(
            code::MARKETING_STOPPED,
            format!(
                "the customer stopped marketing messages from this business in WhatsApp {ago} ago"
            ),
            "do not send marketing to this customer; Meta delivers it again only after they \
             resume marketing messages in WhatsApp",
        )
        .meta(131_050),
        StopSource::Keyword => Refusal::new(
            code::MARKETING_STOPPED,
            format!("the customer asked to stop messages {ago} ago, with a stop keyword"),
            "do not send marketing to this customer unless they opt in again (for example by \
             writing START)",
        ),
    }
}
