//! The scope guard: whether a customer's free text is one of the business's intents or out of
//! scope (a general-assistant request, which Meta's 2026 terms forbid a business bot to answer).
//! Pure: the embedding tier's vectors are computed by the caller, through [`Embed`].
//!
//! Each intent is a name and a few example phrases, in any language the business uses; the
//! name, read as words, counts as one more example. A message is compared with the intents and
//! with a set of generic general-assistant requests ([`GENERAL_REQUESTS`], shipped with
//! guichet), in one of two tiers:
//! - [`FastGuard`], lexical (TF-IDF over words and character n-grams): microseconds, nothing to
//!   download;
//! - [`EmbeddingGuard`], over sentence embeddings (all-MiniLM-L6-v2 in guichet): milliseconds,
//!   and it understands paraphrases the words alone miss.
//!
//! Both decide alike: the message goes to its best intent when its similarity to that intent
//! reaches the threshold and the generic requests do not win (nearest generic request at least
//! as similar, or, with the embedding tier's default [`Scoring::Classifier`], the classifier's
//! generic-request class); otherwise it is out of scope. The threshold is calibrated per
//! business for a target out-of-scope recall, on requests the business says are out of scope
//! ([`FastGuard::calibrate`], [`EmbeddingGuard::calibrate`]) or on the generic requests
//! themselves ([`FastGuard::calibrate_general`], [`EmbeddingGuard::calibrate_general`]).

mod embedding;
mod fast;
mod linear;

use serde::Serialize;

pub use embedding::{DEFAULT_EMBEDDING_THRESHOLD, Embed, EmbeddingGuard, Scoring};
pub use fast::{DEFAULT_THRESHOLD, FastGuard};

/// Generic general-assistant requests written for guichet in several languages (CC0).
pub const GENERAL_REQUESTS: &str = include_str!("../../guard/general-requests.txt");

/// The requests of a file in the format of [`GENERAL_REQUESTS`]: one per line, `#` comments.
pub fn requests_of(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// An intent's name as an example phrase: `order_status` reads "order status". `None` when it
/// has no letters (a number, a code), which would only blur the intent.
fn name_as_example(name: &str) -> Option<String> {
    let words: Vec<&str> = name
        .split(|c: char| c == '_' || c == '-' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    words
        .iter()
        .any(|w| w.chars().any(char::is_alphabetic))
        .then(|| words.join(" "))
}

/// One of the business's intents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub name: String,
    pub examples: Vec<String>,
}

/// What the guard decided about a message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    InScope {
        intent: String,
        score: f32,
    },
    OutOfScope {
        /// Similarity to the best intent (its nearest example or its centroid).
        score: f32,
        /// The best intent, for explanations.
        nearest: Option<String>,
        /// Whether the generic general-assistant requests beat every intent.
        general_request: bool,
    },
}

impl Decision {
    pub fn intent(&self) -> Option<&str> {
        match self {
            Self::InScope { intent, .. } => Some(intent),
            Self::OutOfScope { .. } => None,
        }
    }
}

/// The best intent and the nearest generic request to a message, with their similarities
/// (0 when nothing is similar at all).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Nearest {
    intent: Option<usize>,
    intent_score: f32,
    generic_score: f32,
    /// A classifier put the message in the generic requests' class.
    general_class: bool,
}

impl Nearest {
    /// Takes a candidate: an example of intent `owner`, or a generic request when `None`.
    fn offer(&mut self, owner: Option<usize>, score: f32) {
        match owner {
            Some(i) if score > self.intent_score => {
                self.intent = Some(i);
                self.intent_score = score;
            }
            None if score > self.generic_score => self.generic_score = score,
            _ => {}
        }
    }

    /// Whether the generic requests beat the intent, whatever the threshold.
    fn general_wins(&self) -> bool {
        self.general_class || self.generic_score >= self.intent_score
    }

    /// The score against which the threshold is set: an out-of-scope message the generic
    /// requests win is out at any threshold, so it counts as 0.
    fn out_of_scope_score(&self) -> f32 {
        if self.general_wins() {
            0.0
        } else {
            self.intent_score
        }
    }
}

/// The decision rule both tiers share: the best intent, if it reaches `threshold` and the
/// generic requests do not win.
fn decide(intents: &[String], nearest: Nearest, threshold: f32) -> Decision {
    match nearest.intent {
        Some(i) if nearest.intent_score >= threshold && !nearest.general_wins() => {
            Decision::InScope {
                intent: intents[i].clone(),
                score: nearest.intent_score,
            }
        }
        intent => Decision::OutOfScope {
            score: nearest.intent_score,
            nearest: intent.map(|i| intents[i].clone()),
            general_request: nearest.general_class
                || (nearest.generic_score >= nearest.intent_score && nearest.generic_score > 0.0),
        },
    }
}

/// The lowest threshold that keeps at least `recall` of the out-of-scope messages whose
/// neighbours are `out_of_scope` out (and so the most of the business's own traffic in);
/// `None` when there is nothing to calibrate on.
fn calibrated_threshold(out_of_scope: &[Nearest], recall: f32) -> Option<f32> {
    let mut scores: Vec<f32> = out_of_scope
        .iter()
        .map(Nearest::out_of_scope_score)
        .collect();
    if scores.is_empty() {
        return None;
    }
    scores.sort_unstable_by(f32::total_cmp);
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index into the sorted scores"
    )]
    let keep = ((scores.len() as f32) * recall.clamp(0.0, 1.0)).ceil() as usize;
    // Everything at or below the keep-th score must fall out: the threshold sits just above.
    let at = scores[keep.clamp(1, scores.len()) - 1];
    Some(next_up(at.max(0.0)))
}

/// The smallest float above `x` (for `x ≥ 0`).
fn next_up(x: f32) -> f32 {
    f32::from_bits(x.to_bits() + 1)
}

#[cfg(test)]
mod tests;
