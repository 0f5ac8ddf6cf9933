//! Outbound: a send intent is checked by `domain::policy::preflight` against what the store knows
//! (window, templates, consent, pair rate, messaging limit, unanswered cap, budgets), priced by
//! `domain::pricing`, and — if allowed — written with its outbox row and its ledger row in one
//! transaction (ARCHITECTURE.md, "The way data flows"). The sender ([`sender`]) takes it from
//! there.
//!
//! Facts are read before the write transaction starts, so that SQLite's single writer is held
//! only for the writes. Two sends to one customer at the same instant may thus both see the
//! other not yet queued: the sender's own pair limiter still spaces them, and the portfolio's
//! messaging limit may be passed by the few sends in flight at once.

pub mod costs;
pub mod sender;
pub mod templates;

use std::collections::HashMap;
use std::sync::Arc;

use domain::Category;
use domain::Timestamp;
use domain::identity::ContactKey;
use domain::policy::{
    Clearance, Consent, ConsentEvent, Facts, FreeEntryPoint, KeywordKind, Message, OptIn,
    OptInSource, PairLimiter, PortfolioUsage, SendIntent, Spend, UserPreferenceValue, Verdict,
};
use domain::pricing::{Market, MessageKind, Prediction, SendFacts, YearMonth};
use domain::window::ServiceWindow;
use serde_json::{Value, json};
use store::{
    ContactFields, ContactRow, ConversationRow, ConversationUpdate, Direction, FactsQuery, NewCost,
    NewEvent, NewMessage, NewOutbox,
};
use tokio::sync::Notify;

use crate::AppState;
use crate::config::{NumberSettings, Settings};
use crate::error::ApiError;

/// The prefix of the `biz_opaque_callback_data` guichet puts on every send: `g:<message id>`.
/// Meta echoes it on the statuses, which is how a send whose answer never came is recognised.
pub const OPAQUE_PREFIX: &str = "g:";

/// A send naming a template guichet has not synced asks Meta at most this often (ms).
const TEMPLATE_SYNC_INTERVAL_MS: i64 = 60_000;

/// How far back the pair rate looks (ms): longer than any burst's debt.
const PAIR_LOOKBACK_MS: i64 = 30 * 60 * 1000;

/// A send as the API received it, read and mapped.
#[derive(Debug, Clone)]
pub struct Draft {
    pub phone_number_id: String,
    pub recipient: ContactKey,
    pub message: Message,
    pub reply_to: Option<String>,
    pub expected_category: Option<Category>,
    /// Meta's body, forwarded as is (with guichet's `biz_opaque_callback_data`).
    pub body: wa::send::SendRequest,
    /// Who asked for it: an agent, a bot, or the API.
    pub author: store::Author,
}

impl Draft {
    /// A draft of Meta's send body, read into the rules' terms.
    pub fn new(
        phone_number_id: String,
        body: wa::send::SendRequest,
        expected_category: Option<Category>,
        author: store::Author,
    ) -> Result<Self, ApiError> {
        let (recipient, message, reply_to) = domain::policy::intent_parts(&body)
            .map_err(|e| ApiError::invalid(format!("`{}`: {}", e.field, e.message)))?;
        Ok(Self {
            phone_number_id,
            recipient,
            message,
            reply_to,
            expected_category,
            body,
            author,
        })
    }
}

/// What preflight and pricing say about a draft.
#[derive(Debug)]
pub struct Assessment {
    pub verdict: Verdict,
    pub price: Prediction,
    pub contact: Option<ContactRow>,
    pub conversation: Option<ConversationRow>,
    pub now_ms: i64,
}

/// A queued message.
#[derive(Debug)]
pub struct Queued {
    pub message_id: i64,
    pub conversation_id: i64,
    pub not_before_ms: i64,
}

/// Wakes the send loop of a number when something is queued for it.
#[derive(Debug, Default)]
pub struct Wakers {
    by_number: HashMap<String, Arc<Notify>>,
}

impl Wakers {
    pub fn new(settings: &Settings) -> Self {
        Self {
            by_number: settings
                .numbers
                .iter()
                .map(|n| (n.phone_number_id.clone(), Arc::new(Notify::new())))
                .collect(),
        }
    }

    pub fn of(&self, phone_number_id: &str) -> Option<Arc<Notify>> {
        self.by_number.get(phone_number_id).cloned()
    }

    pub fn wake(&self, phone_number_id: &str) {
        if let Some(n) = self.by_number.get(phone_number_id) {
            n.notify_one();
        }
    }
}

/// The number a draft leaves from, if guichet serves it.
pub fn number_of<'a>(
    settings: &'a Settings,
    phone_number_id: &str,
) -> Result<&'a NumberSettings, ApiError> {
    settings.number(phone_number_id).ok_or_else(|| {
        ApiError::invalid(format!(
            "`from` = {phone_number_id:?} is not a business number guichet serves"
        ))
        .next_step(format!(
            "use one of the configured numbers: {}",
            settings
                .numbers
                .iter()
                .map(|n| n.phone_number_id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// The customer's ids as the contacts table keys them.
fn key_ids(key: &ContactKey) -> (Option<&str>, Option<&str>) {
    match key {
        ContactKey::Bsuid(b) => (Some(b.as_str()), None),
        ContactKey::WaId(w) => (None, Some(w.as_str())),
    }
}

/// The contact of the customer `key` names in the number's portfolio, created if there is none.
pub(crate) async fn contact_in(
    tx: &mut dyn store::Tx,
    number: &NumberSettings,
    key: &ContactKey,
    now_ms: i64,
) -> store::Result<i64> {
    let (user_id, wa_id) = key_ids(key);
    let found = tx
        .contact_matches(&number.portfolio, user_id, wa_id)
        .await?;
    if let Some(c) = found.by_user_id.or(found.by_wa_id) {
        return Ok(c.id);
    }
    let fields = ContactFields {
        portfolio: number.portfolio.clone(),
        user_id: user_id.map(str::to_owned),
        wa_id: wa_id.map(str::to_owned),
        phone: match key {
            ContactKey::WaId(w) => w.phone().map(|p| p.as_str().to_owned()),
            ContactKey::Bsuid(_) => None,
        },
        ..ContactFields::default()
    };
    tx.insert_contact(&fields, now_ms).await
}

/// The pair-rate key of a customer.
pub fn recipient_of(key: &ContactKey) -> String {
    match key {
        ContactKey::Bsuid(b) => b.as_str().to_owned(),
        ContactKey::WaId(w) => w.as_str().to_owned(),
    }
}

/// Runs preflight and pricing for a draft, without writing anything.
pub async fn assess(state: &AppState, draft: &Draft) -> Result<Assessment, ApiError> {
    let settings = &state.settings;
    let number = number_of(settings, &draft.phone_number_id)?;
    let now_ms = state.clock.now_ms();
    let now = Timestamp::from_unix(now_ms.div_euclid(1000));
    let (user_id, wa_id) = key_ids(&draft.recipient);
    let found = state
        .store
        .find_contacts(&number.portfolio, user_id, wa_id)
        .await?;
    let contact = found.by_user_id.or(found.by_wa_id);
    let conversation = match &contact {
        Some(c) => {
            state
                .store
                .conversation_of(&number.phone_number_id, c.id)
                .await?
        }
        None => None,
    };
    let facts = gather(
        state,
        number,
        draft,
        contact.as_ref(),
        conversation.as_ref(),
        now_ms,
    )
    .await?;
    let mut intent = SendIntent::new(
        number.phone_number_id.clone(),
        draft.recipient.clone(),
        now,
        draft.message.clone(),
    );
    intent.reply_to.clone_from(&draft.reply_to);
    intent.expected_category = draft.expected_category;
    let price = price_of(settings, draft, &facts, contact.as_ref(), now);
    let mut facts = facts;
    facts.spend.estimated_cost = price
        .amount
        .map(|m| m.micros())
        .and_then(|m| u64::try_from(m).ok());
    let verdict = domain::policy::preflight(&intent, &facts, &settings.policy);
    Ok(Assessment {
        verdict,
        price,
        contact,
        conversation,
        now_ms,
    })
}

/// Everything preflight looks at, from the store.
async fn gather(
    state: &AppState,
    number: &NumberSettings,
    draft: &Draft,
    contact: Option<&ContactRow>,
    conversation: Option<&ConversationRow>,
    now_ms: i64,
) -> Result<Facts, ApiError> {
    let settings = &state.settings;
    let now_s = now_ms.div_euclid(1000);
    let mut facts = Facts {
        last_inbound_at: conversation
            .and_then(|c| c.last_inbound_at)
            .map(Timestamp::from_unix),
        ..Facts::default()
    };
    if let Message::Template(t) = &draft.message {
        let rows = state
            .store
            .templates_named(&number.waba_id, &t.name)
            .await?;
        facts.templates = rows.iter().filter_map(templates::synced_of).collect();
        // Unknown here, or known only from webhooks: Meta may have it; ask at most once a
        // minute.
        let last = state
            .template_sync_asked_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        if facts.templates.is_empty() && now_ms.saturating_sub(last) > TEMPLATE_SYNC_INTERVAL_MS {
            state
                .template_sync_asked_ms
                .store(now_ms, std::sync::atomic::Ordering::Relaxed);
            templates::sync(&state.store, &state.graph, settings, &state.clock).await?;
            let rows = state
                .store
                .templates_named(&number.waba_id, &t.name)
                .await?;
            facts.templates = rows.iter().filter_map(templates::synced_of).collect();
        }
    }
    facts.portfolio = PortfolioUsage {
        limit: settings.outbound.messaging_limit,
        ..PortfolioUsage::default()
    };
    let Some(contact) = contact else {
        return Ok(facts);
    };
    facts.consent = consent_of(&state.store.consents(contact.id).await?);

    let policy = &settings.policy;
    let marketing_span = policy
        .marketing_frequency
        .map_or(domain::time::Seconds::DAY.0, |f| f.per.0);
    let spend_between = (!policy.monthly_budgets.is_empty()).then(|| {
        let offset = settings.pricing.offset;
        let month = YearMonth::of(Timestamp::from_unix(now_s), offset);
        (
            month.start(offset).unix(),
            month.next().start(offset).unix(),
        )
    });
    let query = FactsQuery {
        portfolio: number.portfolio.clone(),
        phone_number_id: number.phone_number_id.clone(),
        contact_id: contact.id,
        recipient: recipient_of(&draft.recipient),
        conversation_id: conversation.map(|c| c.id),
        last_inbound_at: conversation.and_then(|c| c.last_inbound_at),
        marketing_since: now_s - marketing_span.max(domain::time::Seconds::DAY.0),
        reach_since: now_s - domain::time::Seconds::DAY.0,
        pair_since_ms: now_ms - PAIR_LOOKBACK_MS,
        spend_between,
        last_referral_at: conversation.and_then(|c| c.last_referral_at),
    };
    let row = state.store.send_facts(&query).await?;
    facts.unanswered = u32::try_from(row.unanswered).unwrap_or(u32::MAX);
    facts.marketing_sent = row
        .marketing_sent
        .iter()
        .map(|&t| Timestamp::from_unix(t))
        .collect();
    facts.marketing_held_at = row.marketing_held_at.map(Timestamp::from_unix);
    facts.portfolio.reached = u32::try_from(row.reached).unwrap_or(u32::MAX);
    facts.portfolio.recipient_counted = row.recipient_counted;
    facts.portfolio.next_release_at = row
        .first_reach_at
        .map(|t| Timestamp::from_unix(t + domain::time::Seconds::DAY.0));
    if let Some((_, to)) = spend_between {
        facts.spend = Spend {
            month_to_date: row
                .spend
                .iter()
                .filter_map(|(c, m)| Some((c.parse().ok()?, u64::try_from(*m).ok()?)))
                .collect(),
            month_ends_at: Some(Timestamp::from_unix(to)),
            estimated_cost: None,
        };
    }
    let mut pair = PairLimiter::default();
    for t in &row.pair_times_ms {
        pair.record(&policy.pair_rate, domain::policy::Millis(*t));
    }
    facts.pair = pair;
    facts.free_entry_point = match (
        conversation.and_then(|c| c.last_referral_at),
        row.first_reply_after_referral,
    ) {
        (None, _) => FreeEntryPoint::None,
        (Some(at), None) => FreeEntryPoint::Entered {
            at: Timestamp::from_unix(at),
        },
        (Some(at), Some(reply)) => FreeEntryPoint::Entered {
            at: Timestamp::from_unix(at),
        }
        .on_business_message(Timestamp::from_unix(reply)),
    };
    Ok(facts)
}

/// A contact's consent from its recorded events.
pub fn consent_of(rows: &[store::ConsentRow]) -> Consent {
    let mut consent = Consent::default();
    for r in rows {
        let at = Timestamp::from_unix(r.meta_at);
        let event = match (r.source.as_str(), r.value.as_str()) {
            ("user_preferences", v) => UserPreferenceValue::parse(v)
                .map(|value| ConsentEvent::UserPreferences { value, at }),
            ("keyword", "opt_out") => Some(ConsentEvent::Keyword {
                kind: KeywordKind::OptOut,
                at,
            }),
            ("keyword", "opt_in") => Some(ConsentEvent::Keyword {
                kind: KeywordKind::OptIn,
                at,
            }),
            (_, "opt_in") => Some(ConsentEvent::OptIn(OptIn {
                at,
                source: OptInSource::Recorded(r.detail.clone().unwrap_or_else(|| r.source.clone())),
            })),
            // A stop the business recorded (by phone, in a shop) is kept like a typed one.
            (_, "opt_out") => Some(ConsentEvent::Keyword {
                kind: KeywordKind::OptOut,
                at,
            }),
            _ => None,
        };
        if let Some(e) = event {
            consent.record(e);
        }
    }
    consent
}

/// The market of a customer, from their phone number when known.
fn market_of(key: &ContactKey, contact: Option<&ContactRow>) -> Market {
    let digits = match key {
        ContactKey::WaId(w) => Some(w.as_str().to_owned()),
        ContactKey::Bsuid(_) => contact.and_then(|c| c.phone.clone().or_else(|| c.wa_id.clone())),
    };
    digits.map_or_else(Market::other, |d| {
        Market::of_digits(d.trim_start_matches('+'))
    })
}

/// What the message will cost if it is delivered.
fn price_of(
    settings: &Settings,
    draft: &Draft,
    facts: &Facts,
    contact: Option<&ContactRow>,
    now: Timestamp,
) -> Prediction {
    let kind = match &draft.message {
        Message::Template(t) => {
            // An unknown template is refused anyway; priced as the dearest until then.
            let category = domain::policy::template_for(t, &facts.templates)
                .map_or(Category::Marketing, |s| s.category);
            MessageKind::Template(category)
        }
        _ => MessageKind::NonTemplate,
    };
    let send = SendFacts {
        sent_at: now,
        waba_offset: settings.pricing.offset,
        message: kind,
        recipient_market: market_of(&draft.recipient, contact),
        business_market: settings.pricing.business_market.clone(),
        service_window_open: ServiceWindow::at(facts.last_inbound_at, now).is_open(),
        entry_point_window_open: !matches!(
            facts.free_entry_point.at(now),
            domain::policy::FreeEntryPointAt::None
        ),
        conversation: None,
    };
    domain::pricing::predict(&send, &settings.pricing.cards)
}

/// Why a send was not queued.
#[derive(Debug)]
pub enum NotQueued {
    Refused(Box<Assessment>),
    Error(ApiError),
}

impl From<ApiError> for NotQueued {
    fn from(e: ApiError) -> Self {
        Self::Error(e)
    }
}

impl From<store::StoreError> for NotQueued {
    #[track_caller]
    fn from(e: store::StoreError) -> Self {
        Self::Error(e.into())
    }
}

/// Checks a draft and, if allowed, records the message with its outbox and ledger rows in one
/// transaction.
pub async fn enqueue(state: &AppState, draft: &Draft) -> Result<(Queued, Assessment), NotQueued> {
    let assessment = assess(state, draft).await?;
    let Verdict::Allowed(clearance) = &assessment.verdict else {
        return Err(NotQueued::Refused(Box::new(assessment)));
    };
    let mut tx = state.store.begin().await?;
    let queued = queue_in(state, tx.as_mut(), draft, &assessment, clearance).await?;
    tx.commit().await?;
    state.wakers.wake(&draft.phone_number_id);
    Ok((queued, assessment))
}

/// Records a draft preflight allowed (`clearance`, from its `assessment`) with its outbox and
/// ledger rows in `tx`, which the caller commits (and then wakes the number's sender).
pub async fn queue_in(
    state: &AppState,
    tx: &mut dyn store::Tx,
    draft: &Draft,
    assessment: &Assessment,
    clearance: &Clearance,
) -> Result<Queued, NotQueued> {
    let settings = &state.settings;
    let number = number_of(settings, &draft.phone_number_id)?;
    let now_ms = assessment.now_ms;
    let now_s = now_ms.div_euclid(1000);
    // Looked up again inside the transaction: a first send to a new customer may race another.
    let contact_id = contact_in(tx, number, &draft.recipient, now_ms).await?;
    let conversation = tx
        .conversation_for(&number.phone_number_id, contact_id, now_ms)
        .await?;
    let mut body = draft.body.clone();
    // The sandbox and Meta both take the template language as Meta synced it.
    if let (Some(lang), wa::send::SendBody::Template(t)) =
        (&clearance.template_language, &mut body.body)
    {
        t.language.code.clone_from(lang);
    }
    let content = serde_json::to_string(&body).map_err(|e| ApiError::internal(&e))?;
    let message = NewMessage {
        conversation_id: conversation.id,
        wamid: None,
        direction: Direction::Outbound,
        kind: body.body.type_name().to_owned(),
        meta_at: now_s,
        received_at_ms: now_ms,
        preview: preview_of(&draft.message),
        content,
        raw: None,
        context_wamid: draft.reply_to.clone(),
        referral: None,
        errors: None,
        delivery: Some("pending".into()),
        category: Some(assessment.price.category.as_str().to_owned()),
        business_initiated: clearance.business_initiated,
        biz_opaque: None,
    };
    let Some(message_id) = tx.insert_message(&message).await? else {
        return Err(ApiError::internal(&"an outbound message without wamid conflicted").into());
    };
    tx.set_author(message_id, draft.author).await?;
    // Meta's limit on the field is 512 characters; a caller's own data is kept after guichet's.
    let opaque = match &draft.body.biz_opaque_callback_data {
        Some(theirs) => {
            let mut s = format!("{OPAQUE_PREFIX}{message_id}:{theirs}");
            s.truncate(s.char_indices().nth(512).map_or(s.len(), |(i, _)| i));
            s
        }
        None => format!("{OPAQUE_PREFIX}{message_id}"),
    };
    body.biz_opaque_callback_data = Some(opaque);
    let request = serde_json::to_string(&body).map_err(|e| ApiError::internal(&e))?;
    let not_before_ms = clearance
        .not_before
        .map_or(now_ms, |t| t.unix().saturating_mul(1000).max(now_ms));
    tx.insert_outbox(&NewOutbox {
        message_id,
        phone_number_id: number.phone_number_id.clone(),
        recipient: recipient_of(&draft.recipient),
        request,
        not_before_ms,
        created_at_ms: now_ms,
    })
    .await?;
    let price = &assessment.price;
    tx.insert_cost(&NewCost {
        message_id,
        phone_number_id: number.phone_number_id.clone(),
        market: price.market.as_str().to_owned(),
        sent_at: now_s,
        pricing_model: price.model.to_string(),
        category: price.category.as_str().to_owned(),
        pricing_type: price.pricing_type.as_str().to_owned(),
        currency: price.amount.map(|m| m.currency().as_str().to_owned()),
        predicted_micros: price.amount.map(|m| m.micros()),
    })
    .await?;
    tx.update_conversation(
        conversation.id,
        &ConversationUpdate {
            status: conversation.status.clone(),
            last_message_at: now_s,
            last_inbound_at: None,
            last_referral_at: None,
            new_unread: 0,
            new_messages: 1,
            updated_at_ms: now_ms,
        },
    )
    .await?;
    tx.insert_event(&NewEvent {
        kind: "message.queued".into(),
        conversation_id: Some(conversation.id),
        message_id: Some(message_id),
        payload: json!({
            "conversation_id": conversation.id,
            "message_id": message_id,
            "category": price.category.as_str(),
            "business_initiated": clearance.business_initiated,
        })
        .to_string(),
        created_at_ms: now_ms,
    })
    .await?;
    Ok(Queued {
        message_id,
        conversation_id: conversation.id,
        not_before_ms,
    })
}

/// A line for lists and search.
fn preview_of(message: &Message) -> Option<String> {
    let text = match message {
        Message::Text { body, .. } => body.clone(),
        Message::Media(m) => m.caption.clone().unwrap_or_default(),
        Message::Template(t) => format!("[template {}]", t.name),
        Message::Interactive(i) => match i {
            domain::policy::Interactive::Buttons { body, .. }
            | domain::policy::Interactive::List { body, .. }
            | domain::policy::Interactive::CtaUrl { body, .. } => body.clone(),
        },
        Message::Reaction { emoji, .. } => emoji.clone(),
        Message::Location(l) => l.name.clone().unwrap_or_else(|| "[location]".into()),
        Message::Contacts(c) => c
            .first()
            .map(|c| c.formatted_name.clone())
            .unwrap_or_default(),
        Message::MarkRead { .. } | Message::Typing { .. } => return None,
    };
    let text: String = text.chars().take(200).collect();
    (!text.is_empty()).then_some(text)
}

/// Uploads a file to Meta from a business number, to send by the id it answers.
pub async fn upload_media(
    state: &AppState,
    number: &NumberSettings,
    bytes: Vec<u8>,
    mime: &str,
    filename: &str,
) -> Result<String, ApiError> {
    state
        .graph
        .upload_media(
            &number.phone_number_id,
            &number.access_token,
            bytes,
            mime,
            filename,
        )
        .await
        .map_err(|e| crate::api::graph_error(&e))
}

/// The message id named by a status's `biz_opaque_callback_data`, if guichet sent it.
pub fn message_id_of_opaque(opaque: &str) -> Option<i64> {
    let rest = opaque.strip_prefix(OPAQUE_PREFIX)?;
    let digits = rest.split(':').next()?;
    digits.parse().ok().filter(|&id: &i64| id > 0)
}

/// The answer of a refused or assessed send, in the API's shape.
pub fn verdict_json(a: &Assessment) -> Value {
    let price = price_json(&a.price);
    match &a.verdict {
        Verdict::Allowed(c) => json!({
            "allowed": true,
            "category": c.category.map(|c| c.as_str()),
            "business_initiated": c.business_initiated,
            "not_before": c.not_before.map(|t| t.unix()),
            "notes": c.notes,
            "price": price,
        }),
        Verdict::Refused(r) => json!({
            "allowed": false,
            "code": r.code,
            "detail": r.detail,
            "next_step": r.next_step,
            "meta_code": r.meta_code,
            "retry_at": r.retry_at.map(|t| t.unix()),
            "price": price,
        }),
    }
}

pub fn price_json(p: &Prediction) -> Value {
    json!({
        "model": p.model.to_string(),
        "category": p.category.as_str(),
        "pricing_type": p.pricing_type.as_str(),
        "billable": p.billable,
        "amount": p.amount.map(|m| m.decimal()),
        "currency": p.amount.map(|m| m.currency().as_str().to_owned()),
        "market": p.market.as_str(),
        "reason": p.reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_opaque_data_names_the_message() {
        assert_eq!(message_id_of_opaque("g:42"), Some(42));
        assert_eq!(message_id_of_opaque("g:42:order-7"), Some(42));
        assert_eq!(message_id_of_opaque("g:x"), None);
        assert_eq!(message_id_of_opaque("order-7"), None);
        assert_eq!(message_id_of_opaque("g:0"), None);
    }
}
