//! The scope guard as bots use it: built per flow from its intents, in the configured tier, with
//! its threshold calibrated at start for the configured out-of-scope recall.
//!
//! Calibration uses guichet's shipped generic requests, which are also what the guard compares
//! messages with. Calibrating a request against a set that contains it would measure nothing (it
//! is always nearest to itself), so the requests are split in [`FOLDS`]: each fold is kept out
//! by a guard built with the others, and the threshold is the mean of the folds' thresholds.

use std::sync::Arc;

use anyhow::Context as _;
use domain::flow::Flow;
use domain::guard::{Decision, EmbeddingGuard, FastGuard, GENERAL_REQUESTS, Intent, requests_of};
use sha2::{Digest as _, Sha256};

use crate::config::{GuardSettings, GuardTier};

/// Folds of the generic requests for calibration.
const FOLDS: usize = 5;

/// A flow's guard, in one tier.
pub enum Guard {
    Fast(FastGuard),
    Embedding {
        guard: EmbeddingGuard,
        model: Arc<embed::MiniLm>,
    },
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("tier", &self.tier())
            .field("threshold", &self.threshold())
            .finish()
    }
}

/// Loads the embedding model, or says how to install it.
pub fn load_model(settings: &GuardSettings) -> anyhow::Result<Arc<embed::MiniLm>> {
    let model = embed::MiniLm::load(&settings.model_dir).with_context(|| {
        format!(
            "the scope guard's model is not in {} (`guard.model_dir`): install it once with `{}`, \
             or set `guard.tier = \"fast\"`",
            settings.model_dir.display(),
            embed::INSTALL
        )
    })?;
    Ok(Arc::new(model))
}

impl Guard {
    /// The guard of `intents` in the configured tier (`model` is required for the embedding
    /// tier), calibrated for `settings.recall`.
    pub fn build(
        intents: &[Intent],
        settings: &GuardSettings,
        model: Option<&Arc<embed::MiniLm>>,
    ) -> anyhow::Result<Self> {
        let general = requests_of(GENERAL_REQUESTS);
        let folds = folds(&general);
        match (settings.tier, model) {
            (GuardTier::Fast, _) => {
                let mut thresholds = Vec::new();
                for (kept, out) in &folds {
                    let g = FastGuard::new(intents, kept).calibrate(out, settings.recall);
                    thresholds.push(g.threshold());
                }
                Ok(Self::Fast(
                    FastGuard::new(intents, &general).with_threshold(mean(&thresholds)),
                ))
            }
            (GuardTier::Embedding, Some(model)) => {
                let texts: Vec<&str> = intents
                    .iter()
                    .flat_map(|i| i.examples.iter().map(String::as_str))
                    .chain(general.iter().copied())
                    .collect();
                let vectors = model.embed(&texts).context("embedding the intents")?;
                let (examples, generic) = vectors.split_at(texts.len() - general.len());
                let grouped = || {
                    let mut rest = examples.iter();
                    intents
                        .iter()
                        .map(|i| {
                            (
                                i.name.clone(),
                                rest.by_ref().take(i.examples.len()).cloned().collect(),
                            )
                        })
                        .collect::<Vec<_>>()
                };
                let index: std::collections::HashMap<&str, &Vec<f32>> =
                    general.iter().copied().zip(generic).collect();
                let mut thresholds = Vec::new();
                for (kept, out) in &folds {
                    let kept_v = kept.iter().map(|t| index[t].clone()).collect();
                    let out_v: Vec<Vec<f32>> = out.iter().map(|t| index[t].clone()).collect();
                    let g = EmbeddingGuard::from_vectors(grouped(), kept_v, Default::default())
                        .calibrate(&out_v, settings.recall);
                    thresholds.push(g.threshold());
                }
                let guard =
                    EmbeddingGuard::from_vectors(grouped(), generic.to_vec(), Default::default())
                        .with_threshold(mean(&thresholds));
                Ok(Self::Embedding {
                    guard,
                    model: model.clone(),
                })
            }
            (GuardTier::Embedding, None) => {
                anyhow::bail!("the embedding tier needs its model: load it first")
            }
        }
    }

    pub fn tier(&self) -> GuardTier {
        match self {
            Self::Fast(_) => GuardTier::Fast,
            Self::Embedding { .. } => GuardTier::Embedding,
        }
    }

    pub fn threshold(&self) -> f32 {
        match self {
            Self::Fast(g) => g.threshold(),
            Self::Embedding { guard, .. } => guard.threshold(),
        }
    }

    /// Classifies a message. The embedding tier runs the model (milliseconds of CPU): call it
    /// off the async runtime.
    pub fn classify(&self, text: &str) -> anyhow::Result<Decision> {
        match self {
            Self::Fast(g) => Ok(g.classify(text)),
            Self::Embedding { guard, model } => Ok(guard.classify(model.as_ref(), text)?),
        }
    }
}

/// The generic requests split in folds: (the others, this fold) for each.
fn folds<'a>(general: &[&'a str]) -> Vec<(Vec<&'a str>, Vec<&'a str>)> {
    (0..FOLDS)
        .map(|f| {
            let (out, kept): (Vec<_>, Vec<_>) = general
                .iter()
                .enumerate()
                .partition(|(i, _)| i % FOLDS == f);
            (
                kept.into_iter().map(|(_, t)| *t).collect(),
                out.into_iter().map(|(_, t)| *t).collect(),
            )
        })
        .collect()
}

#[expect(clippy::cast_precision_loss, reason = "a handful of thresholds")]
fn mean(values: &[f32]) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().sum::<f32>() / values.len() as f32
}

/// The version decisions are recorded with: the flow's own version and a fingerprint of its
/// intents, so that a changed example shows even if the author forgot to bump the version.
pub fn version_of(flow: &Flow) -> String {
    let mut h = Sha256::new();
    for i in &flow.intents {
        h.update(i.name.as_bytes());
        h.update([0]);
        for e in &i.examples {
            h.update(e.as_bytes());
            h.update([0]);
        }
        h.update([1]);
    }
    let digest = h.finalize();
    format!("{}+{}", flow.version, hex::encode(&digest[..4]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_cover_every_request_once_and_keep_the_rest() {
        let general: Vec<&str> = (0..23).map(|i| ["a", "b", "c"][i % 3]).collect();
        let f = folds(&general);
        assert_eq!(f.len(), FOLDS);
        assert_eq!(f.iter().map(|(_, out)| out.len()).sum::<usize>(), 23);
        for (kept, out) in &f {
            assert_eq!(kept.len() + out.len(), 23);
        }
    }

    #[test]
    fn the_fast_guard_calibrated_on_folds_keeps_general_requests_out() {
        let intents = vec![
            Intent {
                name: "track_order".into(),
                examples: vec![
                    "where is my order".into(),
                    "track my parcel".into(),
                    "has my package shipped".into(),
                ],
            },
            Intent {
                name: "returns".into(),
                examples: vec!["how do I return an item".into(), "I want a refund".into()],
            },
        ];
        let settings = GuardSettings {
            model_dir: "nowhere".into(),
            tier: GuardTier::Fast,
            recall: 0.95,
        };
        let g = Guard::build(&intents, &settings, None).unwrap();
        assert!(g.threshold() > 0.0);
        assert_eq!(
            g.classify("where is my parcel").unwrap().intent(),
            Some("track_order")
        );
        assert_eq!(
            g.classify("write me a poem about the sea")
                .unwrap()
                .intent(),
            None
        );
        let embedding = GuardSettings {
            tier: GuardTier::Embedding,
            ..settings
        };
        assert!(Guard::build(&intents, &embedding, None).is_err());
    }
}
