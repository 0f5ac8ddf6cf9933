//! Reconciling a prediction with Meta's bill: the `pricing` object of a status webhook is the
//! source of truth (ARCHITECTURE.md, "The rules"), so it wins field by field, and every field
//! where it differs from the prediction is reported.
//!
//! What the webhook says (cloud-api.md §1.4): `pricing_model` `CBP` or `PMP`; `type` `regular`
//! (charged), `free_customer_service` or `free_entry_point`; `category` (with
//! `authentication-international` hyphenated, and `general_purpose_ai` for AI-provider traffic,
//! §8); and `billable`, which Meta is deprecating in favour of `type`. So `type` decides
//! billability when present, then `billable`, then the prediction. Old CBP webhooks carry no
//! `type`.
//!
//! `pricing` comes on `sent` and again on one of `delivered`/`read`: a message is billed once,
//! from the first status that carries it ([`bill_once`]).

use std::fmt;

use serde::Serialize;

use super::cbp::CbpCharge;
use super::money::Money;
use super::predict::{Prediction, PricingType};
use super::rate_card::RateCards;
use super::rules::PricingModel;
use crate::Category;

/// `pricing.category` as billed: a category guichet knows, or one Meta added since
/// (`general_purpose_ai`), kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum BilledCategory {
    Known(Category),
    Unlisted(String),
}

impl BilledCategory {
    pub fn parse(raw: &str) -> Self {
        raw.parse()
            .map_or_else(|_| Self::Unlisted(raw.trim().to_owned()), Self::Known)
    }

    pub fn known(&self) -> Option<Category> {
        match self {
            Self::Known(category) => Some(*category),
            Self::Unlisted(_) => None,
        }
    }
}

impl fmt::Display for BilledCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Known(category) => category.fmt(f),
            Self::Unlisted(raw) => f.write_str(raw),
        }
    }
}

/// One way the bill differs from the prediction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "field", rename_all = "snake_case")]
pub enum Disagreement {
    Model {
        predicted: PricingModel,
        billed: PricingModel,
    },
    Category {
        predicted: Category,
        billed: BilledCategory,
    },
    Billable {
        predicted: bool,
        billed: bool,
    },
    Type {
        predicted: PricingType,
        billed: PricingType,
    },
    /// A value guichet cannot read; the prediction stands for that field.
    Unreadable {
        name: &'static str,
        value: String,
    },
}

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Model { predicted, billed } => {
                write!(f, "pricing model: predicted {predicted}, billed {billed}")
            }
            Self::Category { predicted, billed } => {
                write!(f, "category: predicted {predicted}, billed {billed}")
            }
            Self::Billable { predicted, billed } => {
                let word = |b: &bool| if *b { "billable" } else { "free" };
                write!(f, "predicted {}, billed {}", word(predicted), word(billed))
            }
            Self::Type { predicted, billed } => {
                write!(f, "pricing type: predicted {predicted}, billed {billed}")
            }
            Self::Unreadable { name, value } => {
                write!(f, "pricing.{name} `{value}` is not a value guichet knows")
            }
        }
    }
}

/// A message's bill: Meta's `pricing`, completed by the prediction where it is silent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Billed {
    pub model: PricingModel,
    pub category: BilledCategory,
    pub pricing_type: PricingType,
    pub billable: bool,
    /// Whether this message adds a charge (under CBP, only the message opening a conversation).
    pub charged: bool,
    /// The rate of the billed category in the prediction's market, from the card in force at
    /// the send; `None` when not charged or when the card has no such rate.
    pub amount: Option<Money>,
    pub disagreements: Vec<Disagreement>,
}

impl Billed {
    /// Whether Meta billed what was predicted.
    pub fn agrees(&self) -> bool {
        self.disagreements.is_empty()
    }
}

/// Reconciles a prediction with the `pricing` object of a status webhook of the same message.
pub fn reconcile(
    prediction: &Prediction,
    pricing: &wa::webhook::Pricing,
    cards: &RateCards,
) -> Billed {
    let mut disagreements = Vec::new();
    let given = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };

    let model = match given(&pricing.pricing_model) {
        Some(raw) => raw.parse().unwrap_or_else(|_| {
            disagreements.push(Disagreement::Unreadable {
                name: "pricing_model",
                value: raw,
            });
            prediction.model
        }),
        None => prediction.model,
    };
    if model != prediction.model {
        disagreements.push(Disagreement::Model {
            predicted: prediction.model,
            billed: model,
        });
    }

    let category = given(&pricing.category)
        .map_or(BilledCategory::Known(prediction.category), |raw| {
            BilledCategory::parse(&raw)
        });
    if category != BilledCategory::Known(prediction.category) {
        disagreements.push(Disagreement::Category {
            predicted: prediction.category,
            billed: category.clone(),
        });
    }

    let billed_type = given(&pricing.kind).and_then(|raw| {
        raw.parse::<PricingType>()
            .map_err(|_| {
                disagreements.push(Disagreement::Unreadable {
                    name: "type",
                    value: raw,
                });
            })
            .ok()
    });
    let billable = match (billed_type, pricing.billable) {
        (Some(t), _) => t == PricingType::Regular,
        (None, Some(billable)) => billable,
        (None, None) => prediction.billable,
    };
    if billable != prediction.billable {
        disagreements.push(Disagreement::Billable {
            predicted: prediction.billable,
            billed: billable,
        });
    }
    let pricing_type = match billed_type {
        Some(t) => {
            if t != prediction.pricing_type {
                disagreements.push(Disagreement::Type {
                    predicted: prediction.pricing_type,
                    billed: t,
                });
            }
            t
        }
        None if billable => PricingType::Regular,
        None if category == BilledCategory::Known(Category::ReferralConversion) => {
            PricingType::FreeEntryPoint
        }
        None => PricingType::FreeCustomerService,
    };

    // Under CBP a conversation is charged once, by the message that opens it, and not at all in
    // the monthly free tier, while Meta marks every message of a billable conversation, free
    // tier included, `billable` (cloud-api.md §7.1). Which message opened the conversation is
    // the ledger's knowledge, so it stands unless Meta billed another category.
    let charged = match model {
        PricingModel::Pmp => billable,
        PricingModel::Cbp => {
            let same_category = category == BilledCategory::Known(prediction.category);
            let covered = prediction.conversation.as_ref().is_some_and(|charge| {
                matches!(charge, CbpCharge::Inside(_))
                    || charge.conversation().in_free_tier(prediction.waba_offset)
            });
            billable && !(same_category && covered)
        }
    };
    let amount = match category.known() {
        _ if !charged => None,
        Some(c) if c == prediction.category && prediction.amount.is_some() => prediction.amount,
        Some(c) => cards
            .in_force(prediction.sent_at, prediction.waba_offset)
            .and_then(|card| card.rate(&prediction.market, c)),
        None => None,
    };
    Billed {
        model,
        category,
        pricing_type,
        billable,
        charged,
        amount,
        disagreements,
    }
}

/// What a further `pricing` object does to a message's bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillUpdate {
    /// The first bill of the message: record it.
    First(Billed),
    /// The same bill again (the `pricing` of `delivered` or `read` after `sent`): nothing to do.
    Repeat,
    /// A later status billed differently. The first bill stands, so that the message is charged
    /// once; the new one is returned for the log.
    Conflict(Billed),
}

/// Charges a message once, however many of its statuses carry `pricing` (cloud-api.md §1.4:
/// `sent` and one of `delivered`/`read`). `existing` is the bill already recorded, if any.
pub fn bill_once(existing: Option<&Billed>, incoming: Billed) -> BillUpdate {
    match existing {
        None => BillUpdate::First(incoming),
        Some(first) if *first == incoming => BillUpdate::Repeat,
        Some(_) => BillUpdate::Conflict(incoming),
    }
}
