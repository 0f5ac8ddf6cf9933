//! Conversation-based pricing (until 2025-06-30, cloud-api.md §7.1): the business paid per
//! 24 h conversation, not per message.
//!
//! - A template of a category opens a conversation of that category with the customer unless
//!   one is already open; several categories can be open with one customer at once.
//! - A free-form (service) message opens a service conversation only when no conversation of
//!   any category is open with the customer; otherwise it rides on the open one (Meta's CBP
//!   page, "Service conversations").
//! - A conversation lasts 24 h from the message that opens it and is charged once.
//! - The first 1,000 service conversations of a WABA each month (in the WABA's time zone) were
//!   free, and from 2024-11-01 every service conversation was (see `rules::RULES`).
//!
//! [`CbpConversations`] is that ledger for one WABA: it says whether a send opens a
//! conversation and ranks the service conversations of each month. Messages inside a free entry
//! point window are free and open nothing, so they are never recorded.

use std::collections::HashMap;
use std::hash::Hash;

use serde::Serialize;

use super::calendar::{WabaOffset, YearMonth};
use super::predict::{Prediction, SendFacts, predict, pricing_category};
use super::rate_card::RateCards;
use super::rules::{PricingModel, ServiceCharge, rules_at};
use crate::time::Seconds;
use crate::{Category, Timestamp};

/// How long a conversation lasts.
pub const CONVERSATION: Seconds = Seconds::DAY;

/// One 24 h conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CbpConversation {
    pub category: Category,
    pub opened_at: Timestamp,
    pub expires_at: Timestamp,
    /// For a service conversation, its rank among the WABA's service conversations of the month
    /// it opened in (1 for the first); what the free tier counts.
    pub service_rank: Option<u32>,
}

impl CbpConversation {
    /// A service conversation within the monthly free tier of the rules it opened under: billable
    /// in Meta's words, but not charged (cloud-api.md §7.1).
    pub fn in_free_tier(&self, offset: WabaOffset) -> bool {
        let rules = rules_at(self.opened_at, offset);
        match rules.service {
            ServiceCharge::FreeTier { free_per_month } => {
                self.category == Category::Service
                    && self.service_rank.is_some_and(|rank| rank <= free_per_month)
            }
            ServiceCharge::Free | ServiceCharge::Charged => false,
        }
    }

    /// A service conversation opened when they were free for everyone (from 2024-11-01).
    pub fn is_free_for_all(&self, offset: WabaOffset) -> bool {
        self.category == Category::Service
            && rules_at(self.opened_at, offset).service == ServiceCharge::Free
    }

    fn covers(&self, at: Timestamp) -> bool {
        self.opened_at <= at && at < self.expires_at
    }
}

/// What a send did to the conversation ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "effect", content = "conversation", rename_all = "snake_case")]
pub enum CbpCharge {
    /// The send opened this conversation: the one message of it that carries its charge.
    Opens(CbpConversation),
    /// An open conversation already covers the send.
    Inside(CbpConversation),
}

impl CbpCharge {
    pub fn conversation(&self) -> &CbpConversation {
        match self {
            Self::Opens(c) | Self::Inside(c) => c,
        }
    }
}

/// The open conversations and monthly service counts of one WABA, keyed by customer `C`.
#[derive(Debug, Clone)]
pub struct CbpConversations<C> {
    open: HashMap<C, Vec<CbpConversation>>,
    service_per_month: HashMap<YearMonth, u32>,
}

impl<C> Default for CbpConversations<C> {
    fn default() -> Self {
        Self {
            open: HashMap::new(),
            service_per_month: HashMap::new(),
        }
    }
}

impl<C: Eq + Hash + Clone> CbpConversations<C> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a send of pricing category `category` to `customer` at `at` and says whether it
    /// opened a conversation. Sends are recorded in the order they are sent.
    pub fn record(
        &mut self,
        customer: &C,
        category: Category,
        at: Timestamp,
        offset: WabaOffset,
    ) -> CbpCharge {
        let open = self.open.entry(customer.clone()).or_default();
        let covering = open
            .iter()
            .filter(|c| c.covers(at))
            .filter(|c| category == Category::Service || c.category == category)
            .min_by_key(|c| c.opened_at);
        if let Some(conversation) = covering {
            return CbpCharge::Inside(*conversation);
        }
        let service_rank = (category == Category::Service).then(|| {
            let count = self
                .service_per_month
                .entry(YearMonth::of(at, offset))
                .or_default();
            *count = count.saturating_add(1);
            *count
        });
        let conversation = CbpConversation {
            category,
            opened_at: at,
            expires_at: at + CONVERSATION,
            service_rank,
        };
        open.retain(|c| c.category != category);
        open.push(conversation);
        CbpCharge::Opens(conversation)
    }

    /// Records the send if conversation-based pricing is in force and it is outside a free entry
    /// point window, then prices it.
    pub fn predict(&mut self, customer: &C, facts: &SendFacts, cards: &RateCards) -> Prediction {
        let model = rules_at(facts.sent_at, facts.waba_offset).model;
        if model != PricingModel::Cbp || facts.entry_point_window_open {
            return predict(facts, cards);
        }
        let card = cards.in_force(facts.sent_at, facts.waba_offset);
        let category = pricing_category(facts, card);
        let charge = self.record(customer, category, facts.sent_at, facts.waba_offset);
        let facts = SendFacts {
            conversation: Some(charge),
            ..facts.clone()
        };
        predict(&facts, cards)
    }

    /// How many service conversations the WABA opened in `month`.
    pub fn service_conversations(&self, month: YearMonth) -> u32 {
        self.service_per_month.get(&month).copied().unwrap_or(0)
    }

    /// Forgets conversations that ended before `now`, so that the ledger stays small.
    pub fn forget_expired(&mut self, now: Timestamp) {
        self.open.retain(|_, open| {
            open.retain(|c| c.expires_at > now);
            !open.is_empty()
        });
    }

    /// How many customers have an open (or not yet forgotten) conversation.
    pub fn customers(&self) -> usize {
        self.open.len()
    }
}
