//! The scope guard as bots use it: built per flow from its intents, in the configured tier, with
//! its threshold calibrated at start for the configured out-of-scope recall on guichet's shipped
//! generic requests (`calibrate_general`, which holds each request out of the guard it is
//! judged by).

use std::sync::Arc;

use anyhow::Context as _;
use domain::flow::Flow;
use domain::guard::{
    Decision, EmbeddingGuard, FastGuard, GENERAL_REQUESTS, Intent, Scoring, requests_of,
};
use sha2::{Digest as _, Sha256};

use crate::config::{GuardSettings, GuardTier};

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

/// The embedding model while guards are built: each distinct text is embedded once, however
/// many flows share it (every flow's guard compares with the same generic requests). Dropped
/// once the guards are built; classifying a customer's message goes to the model itself.
pub struct Embedder {
    model: Arc<embed::MiniLm>,
    seen: std::sync::Mutex<std::collections::HashMap<String, Vec<f32>>>,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seen = self.seen.lock().map_or(0, |s| s.len());
        f.debug_struct("Embedder")
            .field("texts_embedded", &seen)
            .finish()
    }
}

impl domain::guard::Embed for Embedder {
    type Error = embed::Error;

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, embed::Error> {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut missing: Vec<&str> = texts
            .iter()
            .copied()
            .filter(|t| !seen.contains_key(*t))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            let vectors = self.model.embed(&missing)?;
            seen.extend(missing.into_iter().map(str::to_owned).zip(vectors));
        }
        Ok(texts.iter().map(|t| seen[*t].clone()).collect())
    }
}

/// Loads the embedding model, or says how to install it.
pub fn load_model(settings: &GuardSettings) -> anyhow::Result<Embedder> {
    let model = embed::MiniLm::load(&settings.model_dir).with_context(|| {
        format!(
            "the scope guard's model is not in {} (`guard.model_dir`): install it once with `{}`, \
             or set `guard.tier = \"fast\"`",
            settings.model_dir.display(),
            embed::INSTALL
        )
    })?;
    Ok(Embedder {
        model: Arc::new(model),
        seen: std::sync::Mutex::default(),
    })
}

impl Guard {
    /// The guard of `intents` in the configured tier (`model` is required for the embedding
    /// tier), calibrated for `settings.recall`.
    pub fn build(
        intents: &[Intent],
        settings: &GuardSettings,
        model: Option<&Embedder>,
    ) -> anyhow::Result<Self> {
        let general = requests_of(GENERAL_REQUESTS);
        match (settings.tier, model) {
            (GuardTier::Fast, _) => Ok(Self::Fast(
                FastGuard::new(intents, &general).calibrate_general(settings.recall),
            )),
            (GuardTier::Embedding, Some(model)) => {
                let guard = EmbeddingGuard::new(model, intents, &general, Scoring::default())
                    .context("embedding the intents")?
                    .calibrate_general(settings.recall);
                Ok(Self::Embedding {
                    guard,
                    model: model.model.clone(),
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
    fn the_fast_guard_calibrated_on_general_requests_keeps_them_out() {
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
