//! What a message will cost, decided when it is sent from the facts known then. Meta's own word
//! comes later in the `pricing` object of the status webhooks and wins (see `reconcile`).
//!
//! The rules, by date (see `rules::RULES`):
//! - Inside an open free entry point window every message is free, templates included
//!   (`referral_conversion`, `free_entry_point`; cloud-api.md §6.2).
//! - Per-message pricing, from 2025-07-01 (§7.2): every delivered template is charged at the rate
//!   of its category in the recipient's market, except utility templates inside an open
//!   customer-service window; non-template (service) messages are free. From 2026-10-01 (§7.4)
//!   service messages and in-window utility templates are charged too.
//! - Conversation-based pricing, until 2025-06-30 (§7.1): a charge per 24 h conversation, see
//!   `cbp`.
//! - Authentication templates are priced at the authentication-international rate when the
//!   recipient's market has one on the card and the business is in another market (§7.2).
//!
//! A prediction assumes the message will be delivered: Meta charges only delivered messages
//! (§7.2), so a failed send simply never receives a bill.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::calendar::WabaOffset;
use super::cbp::{CONVERSATION, CbpCharge, CbpConversation};
use super::market::Market;
use super::money::Money;
use super::rate_card::{RateCard, RateCards};
use super::rules::{PricingModel, PricingRules, ServiceCharge, rules_at};
use crate::{Category, Timestamp};

/// What is being sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "category", rename_all = "snake_case")]
pub enum MessageKind {
    /// A template, with the category Meta applies to it at the time of use (cloud-api.md
    /// §6.4): `marketing`, `utility`, `authentication`, or `marketing_lite` for the Marketing
    /// Messages API.
    Template(Category),
    /// Free-form text, media, interactive, reactions…: priced as `service`.
    NonTemplate,
}

impl MessageKind {
    /// The category the message is priced in before the window and market rules apply.
    /// A template "category" that is not a template category (`service`,
    /// `referral_conversion`) is priced as service; `authentication_international` is decided
    /// by the market rule, so it starts as `authentication`.
    pub fn base_category(self) -> Category {
        match self {
            Self::NonTemplate => Category::Service,
            Self::Template(category) => match category {
                Category::Marketing
                | Category::MarketingLite
                | Category::Utility
                | Category::Authentication => category,
                Category::AuthenticationInternational => Category::Authentication,
                Category::Service | Category::ReferralConversion | Category::GeneralPurposeAi => {
                    Category::Service
                }
            },
        }
    }
}

/// `pricing.type` of a status webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PricingType {
    /// Charged.
    Regular,
    /// Free inside the customer-service window: a non-template message, or a utility template.
    FreeCustomerService,
    /// Free inside a free entry point window.
    FreeEntryPoint,
}

impl PricingType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Regular => "regular",
            Self::FreeCustomerService => "free_customer_service",
            Self::FreeEntryPoint => "free_entry_point",
        }
    }
}

impl fmt::Display for PricingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PricingType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::Regular,
            Self::FreeCustomerService,
            Self::FreeEntryPoint,
        ]
        .into_iter()
        .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| format!("`{s}` is not a pricing type"))
    }
}

/// What is known about a send when it leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFacts {
    /// When the message is sent; dates of the rules and the cards are read on the WABA's clock.
    pub sent_at: Timestamp,
    pub waba_offset: WabaOffset,
    pub message: MessageKind,
    /// `Market::of_number` of the recipient.
    pub recipient_market: Market,
    /// Where the business is, for authentication-international rates; unknown means domestic.
    pub business_market: Option<Market>,
    /// `ServiceWindow::at(..).is_open()` at `sent_at`.
    pub service_window_open: bool,
    /// Whether a free entry point window is open at `sent_at`, counting the reply that opens it.
    pub entry_point_window_open: bool,
    /// Under conversation-based pricing, what the conversation ledger says about this send;
    /// `CbpConversations::predict` fills it. Left `None`, a CBP-era send is assumed to open a
    /// new conversation past the free tier: the prediction errs towards cost.
    pub conversation: Option<CbpCharge>,
}

/// The predicted price of one message, as a ledger row keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prediction {
    pub model: PricingModel,
    /// The pricing category, as `pricing.category` would say it (under CBP, the category of the
    /// conversation the message belongs to).
    pub category: Category,
    pub pricing_type: PricingType,
    /// As Meta's `pricing.billable` means it: the message (PMP) or its conversation (CBP) is
    /// paid for. Under CBP a conversation in the monthly free tier is billable yet not charged.
    pub billable: bool,
    /// Whether this message adds a charge to the bill: under PMP whenever it is billable, under
    /// CBP only when it opens its conversation and that conversation is past the free tier.
    pub charged: bool,
    /// The charge, from the card in force, when `charged` and the card has the rate; a charged
    /// message without an amount has an unknown price.
    pub amount: Option<Money>,
    /// Why, in a sentence that cites the rule.
    pub reason: &'static str,
    pub market: Market,
    pub sent_at: Timestamp,
    pub waba_offset: WabaOffset,
    /// Under CBP, the conversation the message opened or joined.
    pub conversation: Option<CbpCharge>,
}

/// The pricing category of a send, with the authentication-international rule applied
/// (cloud-api.md §7.2): an authentication template is priced at the international rate when the
/// card has one for the recipient's market and the business's market is another.
pub fn pricing_category(facts: &SendFacts, card: Option<&RateCard>) -> Category {
    let base = facts.message.base_category();
    let international = base == Category::Authentication
        && facts
            .business_market
            .as_ref()
            .is_some_and(|business| !business.same_as(&facts.recipient_market))
        && card
            .and_then(|card| {
                card.rate(
                    &facts.recipient_market,
                    Category::AuthenticationInternational,
                )
            })
            .is_some();
    if international {
        Category::AuthenticationInternational
    } else {
        base
    }
}

/// Prices a send by the rules in force at `facts.sent_at` and the card in force then.
pub fn predict(facts: &SendFacts, cards: &RateCards) -> Prediction {
    let card = cards.in_force(facts.sent_at, facts.waba_offset);
    let rules = rules_at(facts.sent_at, facts.waba_offset);
    let outcome = if facts.entry_point_window_open {
        Outcome {
            category: Category::ReferralConversion,
            pricing_type: PricingType::FreeEntryPoint,
            billable: false,
            charged: false,
            reason: "free: sent inside a free entry point window (cloud-api.md §6.2)",
            conversation: None,
        }
    } else {
        let category = pricing_category(facts, card);
        match rules.model {
            PricingModel::Pmp => per_message(facts, rules, category),
            PricingModel::Cbp => per_conversation(facts, category),
        }
    };
    Prediction {
        model: rules.model,
        category: outcome.category,
        pricing_type: outcome.pricing_type,
        billable: outcome.billable,
        charged: outcome.charged,
        amount: card
            .filter(|_| outcome.charged)
            .and_then(|card| card.rate(&facts.recipient_market, outcome.category)),
        reason: outcome.reason,
        market: facts.recipient_market.clone(),
        sent_at: facts.sent_at,
        waba_offset: facts.waba_offset,
        conversation: outcome.conversation,
    }
}

/// A prediction before its amount is looked up.
struct Outcome {
    category: Category,
    pricing_type: PricingType,
    billable: bool,
    charged: bool,
    reason: &'static str,
    conversation: Option<CbpCharge>,
}

/// Per-message pricing (cloud-api.md §7.2, §7.4).
fn per_message(facts: &SendFacts, rules: &PricingRules, category: Category) -> Outcome {
    let (pricing_type, reason) = match category {
        Category::Service if rules.service != ServiceCharge::Charged => (
            PricingType::FreeCustomerService,
            "free: non-template messages are free until 30 Sep 2026 (cloud-api.md §7.2)",
        ),
        Category::Service => (
            PricingType::Regular,
            "charged: from 1 Oct 2026 every delivered service message is charged \
             (cloud-api.md §7.4)",
        ),
        Category::Utility if facts.service_window_open && rules.utility_free_in_service_window => (
            PricingType::FreeCustomerService,
            "free: a utility template inside an open customer-service window is free until \
             30 Sep 2026 (cloud-api.md §7.2)",
        ),
        Category::Utility if facts.service_window_open => (
            PricingType::Regular,
            "charged: from 1 Oct 2026 utility templates are charged inside the customer-service \
             window too (cloud-api.md §7.4)",
        ),
        Category::Utility => (
            PricingType::Regular,
            "charged: a utility template outside the customer-service window (cloud-api.md §7.2)",
        ),
        Category::AuthenticationInternational => (
            PricingType::Regular,
            "charged at the authentication-international rate: the recipient's market has one \
             and the business is in another market (cloud-api.md §7.2)",
        ),
        Category::Authentication => (
            PricingType::Regular,
            "charged: every delivered authentication template (cloud-api.md §7.2)",
        ),
        Category::Marketing | Category::MarketingLite | Category::ReferralConversion => (
            PricingType::Regular,
            "charged: every delivered marketing template (cloud-api.md §7.2)",
        ),
        Category::GeneralPurposeAi => (
            PricingType::Regular,
            "charged: general-purpose AI traffic, which guichet never sends (cloud-api.md §6.4)",
        ),
    };
    let billable = pricing_type == PricingType::Regular;
    Outcome {
        category,
        pricing_type,
        billable,
        charged: billable,
        reason,
        conversation: None,
    }
}

/// Conversation-based pricing (cloud-api.md §7.1): the charge is the conversation's, carried by
/// the message that opens it.
fn per_conversation(facts: &SendFacts, category: Category) -> Outcome {
    let assumed = CbpCharge::Opens(CbpConversation {
        category,
        opened_at: facts.sent_at,
        expires_at: facts.sent_at + CONVERSATION,
        service_rank: None,
    });
    let charge = facts.conversation.unwrap_or(assumed);
    let (conversation, opens) = match charge {
        CbpCharge::Opens(c) => (c, true),
        CbpCharge::Inside(c) => (c, false),
    };
    // Meta's `billable` was true for free-tier conversations too ("you will not be charged for
    // free tier limit conversations, but they are considered billable"), and false for service
    // conversations once they became free for everyone.
    let free_tier = conversation.in_free_tier(facts.waba_offset);
    let free_for_all = conversation.is_free_for_all(facts.waba_offset);
    let billable = !free_for_all;
    let reason = if free_for_all {
        "free: service conversations are free from 1 Nov 2024 (cloud-api.md §7.1)"
    } else if free_tier {
        "free: one of the WABA's first 1,000 service conversations of the month \
         (cloud-api.md §7.1)"
    } else if opens {
        "charged: opens a new 24 h conversation of its category (cloud-api.md §7.1)"
    } else {
        "no new charge: inside a 24 h conversation already charged (cloud-api.md §7.1)"
    };
    Outcome {
        // Under CBP `pricing.category` is the conversation's: a free-form reply inside a
        // marketing conversation is priced as marketing.
        category: conversation.category,
        pricing_type: if free_tier || free_for_all {
            PricingType::FreeCustomerService
        } else {
            PricingType::Regular
        },
        billable,
        charged: billable && opens && !free_tier,
        reason,
        conversation: Some(charge),
    }
}
