//! The embedding tier: intents and messages as sentence vectors, compared by cosine similarity.
//!
//! The vectors come from the caller through [`Embed`] (guichet's `embed` crate runs
//! all-MiniLM-L6-v2), so that this crate stays free of the model, its files and its runtime.
//! Here are only the geometry and the decision, which the tests drive with a fake embedder.

use super::{Decision, Intent, Nearest, calibrated_threshold, decide};

/// Turns texts into sentence vectors, one per text, in order. Vectors of one embedder have one
/// length; the guard scales them to unit length itself.
pub trait Embed {
    type Error;

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, Self::Error>;
}

/// How an intent's similarity to a message is drawn from the intent's examples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Scoring {
    /// The similarity of its nearest example: an intent phrased several ways stays several
    /// targets, so a message close to any one phrasing is recognised — but so is an
    /// out-of-scope message close to one odd example.
    Nearest,
    /// The similarity of the mean of its examples. The default: on CLINC150 it beats
    /// [`Scoring::Nearest`] with 5 examples per intent (73 % against 69 % in scope at 95 %
    /// out-of-scope recall), with 10 and with 100 (see docs/BENCHMARKS.md), and it compares a
    /// message with one vector per intent instead of one per example.
    #[default]
    Centroid,
}

/// The sentence-embedding tier of the scope guard.
#[derive(Debug, Clone)]
pub struct EmbeddingGuard {
    intents: Vec<String>,
    /// The vectors compared with a message, each with its intent.
    targets: Vec<(usize, Vec<f32>)>,
    general: Vec<Vec<f32>>,
    scoring: Scoring,
    threshold: f32,
}

/// The threshold before calibration: the cosine similarity above which all-MiniLM-L6-v2 puts
/// paraphrases, roughly. Calibrate instead of relying on it.
pub const DEFAULT_EMBEDDING_THRESHOLD: f32 = 0.5;

impl EmbeddingGuard {
    /// A guard for `intents`, with `general` as the generic out-of-scope requests, embedding
    /// them all with `embedder` in one call.
    pub fn new<E: Embed>(
        embedder: &E,
        intents: &[Intent],
        general: &[&str],
        scoring: Scoring,
    ) -> Result<Self, E::Error> {
        let texts: Vec<&str> = intents
            .iter()
            .flat_map(|i| i.examples.iter().map(String::as_str))
            .chain(general.iter().copied())
            .collect();
        let mut vectors = embedder.embed(&texts)?.into_iter();
        let examples = intents
            .iter()
            .map(|i| {
                let v: Vec<Vec<f32>> = vectors.by_ref().take(i.examples.len()).collect();
                (i.name.clone(), v)
            })
            .collect();
        Ok(Self::from_vectors(examples, vectors.collect(), scoring))
    }

    /// A guard from vectors already computed: each intent's name with its examples' vectors,
    /// and the generic requests' vectors.
    pub fn from_vectors(
        intents: Vec<(String, Vec<Vec<f32>>)>,
        general: Vec<Vec<f32>>,
        scoring: Scoring,
    ) -> Self {
        let mut names = Vec::with_capacity(intents.len());
        let mut targets = Vec::new();
        for (i, (name, examples)) in intents.into_iter().enumerate() {
            names.push(name);
            match scoring {
                Scoring::Nearest => {
                    targets.extend(examples.into_iter().map(|v| (i, unit(v))));
                }
                Scoring::Centroid if !examples.is_empty() => {
                    let mut sum = vec![0.0; examples[0].len()];
                    for v in examples.into_iter().map(unit) {
                        for (s, x) in sum.iter_mut().zip(v) {
                            *s += x;
                        }
                    }
                    targets.push((i, unit(sum)));
                }
                Scoring::Centroid => {}
            }
        }
        Self {
            intents: names,
            targets,
            general: general.into_iter().map(unit).collect(),
            scoring,
            threshold: DEFAULT_EMBEDDING_THRESHOLD,
        }
    }

    pub fn scoring(&self) -> Scoring {
        self.scoring
    }

    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    #[must_use]
    pub fn with_threshold(mut self, threshold: f32) -> Self {
        self.threshold = threshold;
        self
    }

    /// The lowest threshold that keeps at least `recall` of the messages whose vectors are
    /// `out_of_scope` out of scope, as [`super::FastGuard::calibrate`] does for text.
    #[must_use]
    pub fn calibrate(mut self, out_of_scope: &[Vec<f32>], recall: f32) -> Self {
        let nearest: Vec<Nearest> = out_of_scope
            .iter()
            .map(|v| self.nearest(&unit(v.clone())))
            .collect();
        if let Some(threshold) = calibrated_threshold(&nearest, recall) {
            self.threshold = threshold;
        }
        self
    }

    /// [`Self::calibrate`] on texts, embedded with `embedder`.
    pub fn calibrate_texts<E: Embed>(
        self,
        embedder: &E,
        out_of_scope: &[&str],
        recall: f32,
    ) -> Result<Self, E::Error> {
        Ok(self.calibrate(&embedder.embed(out_of_scope)?, recall))
    }

    /// Whether the message whose vector is `vector` is one of the intents, and which.
    pub fn classify_vector(&self, vector: &[f32]) -> Decision {
        decide(
            &self.intents,
            self.nearest(&unit(vector.to_vec())),
            self.threshold,
        )
    }

    /// Whether `text` is one of the intents, and which, embedding it with `embedder` (the one
    /// the guard was built with).
    pub fn classify<E: Embed>(&self, embedder: &E, text: &str) -> Result<Decision, E::Error> {
        let vector = embedder
            .embed(&[text])?
            .into_iter()
            .next()
            .unwrap_or_default();
        Ok(self.classify_vector(&vector))
    }

    fn nearest(&self, v: &[f32]) -> Nearest {
        let mut nearest = Nearest::default();
        for (i, t) in &self.targets {
            nearest.offer(Some(*i), dot(v, t));
        }
        for g in &self.general {
            nearest.offer(None, dot(v, g));
        }
        nearest
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `v` scaled to unit length (left as it is when it is all zeros), so that a dot product is a
/// cosine similarity.
fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let norm = dot(&v, &v).sqrt();
    if norm > 0.0 {
        for x in &mut v {
            *x /= norm;
        }
    }
    v
}

#[cfg(test)]
mod tests;
