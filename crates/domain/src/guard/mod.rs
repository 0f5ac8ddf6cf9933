//! The scope guard: whether a customer's free text is one of the business's intents or out of
//! scope (a general-assistant request, which Meta's 2026 terms forbid a business bot to answer).
//! Pure: the embedding tier's vectors are computed by the caller, through [`Embed`].
//!
//! Each intent is a name and a few example phrases, in any language the business uses. A message
//! is compared with every example and with a set of generic general-assistant requests
//! ([`GENERAL_REQUESTS`], shipped with guichet), in one of two tiers:
//! - [`FastGuard`], lexical (TF-IDF over words and character n-grams): microseconds, nothing to
//!   download;
//! - [`EmbeddingGuard`], over sentence embeddings (all-MiniLM-L6-v2 in guichet): milliseconds,
//!   and it understands paraphrases the words alone miss.
//!
//! Both decide alike: the message goes to its most similar intent (nearest example, or for the
//! embedding tier by default the centroid of the examples) when that similarity reaches the
//! threshold and beats the nearest generic request; otherwise it is out of scope. The threshold is calibrated per business ([`FastGuard::calibrate`],
//! [`EmbeddingGuard::calibrate`]) for a target out-of-scope recall on requests the business says
//! are out of scope.

mod embedding;
mod fast;

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
        /// Similarity to the nearest intent example.
        score: f32,
        /// The nearest intent, for explanations.
        nearest: Option<String>,
        /// Whether a generic general-assistant request was nearer than any intent.
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

/// The nearest intent and the nearest generic request to a message, with their similarities
/// (0 when nothing is similar at all).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Nearest {
    intent: Option<usize>,
    intent_score: f32,
    generic_score: f32,
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

    /// The score against which the threshold is set: an out-of-scope message that a generic
    /// request is nearer to is out at any threshold, so it counts as 0.
    fn out_of_scope_score(&self) -> f32 {
        if self.generic_score >= self.intent_score {
            0.0
        } else {
            self.intent_score
        }
    }
}

/// The decision rule both tiers share: the nearest intent, if it reaches `threshold` and beats
/// every generic request.
fn decide(intents: &[String], nearest: Nearest, threshold: f32) -> Decision {
    match nearest.intent {
        Some(i)
            if nearest.intent_score >= threshold
                && nearest.intent_score > nearest.generic_score =>
        {
            Decision::InScope {
                intent: intents[i].clone(),
                score: nearest.intent_score,
            }
        }
        intent => Decision::OutOfScope {
            score: nearest.intent_score,
            nearest: intent.map(|i| intents[i].clone()),
            general_request: nearest.generic_score >= nearest.intent_score
                && nearest.generic_score > 0.0,
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
