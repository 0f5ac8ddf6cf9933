//! The embedding tier: intents and messages as sentence vectors, compared by cosine similarity.
//!
//! The vectors come from the caller through [`Embed`] (guichet's `embed` crate runs
//! all-MiniLM-L6-v2), so that this crate stays free of the model, its files and its runtime.
//! Here are only the geometry and the decision, which the tests drive with a fake embedder.

use super::linear::Softmax;
use super::{Decision, Intent, Nearest, calibrated_threshold, decide, name_as_example};

/// Turns texts into sentence vectors, one per text, in order. Vectors of one embedder have one
/// length; the guard scales them to unit length itself.
pub trait Embed {
    type Error;

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, Self::Error>;
}

/// How a message's intent and its similarity to it are drawn from the intents' examples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Scoring {
    /// The intent of the nearest example, at that example's similarity: an intent phrased
    /// several ways stays several targets, so a message close to any one phrasing is
    /// recognised — but so is an out-of-scope message close to one odd example.
    Nearest,
    /// The intent whose examples' mean (centroid) is nearest, at that similarity. Beats
    /// [`Scoring::Nearest`] on CLINC150 with 5, 10 and 100 examples an intent.
    Centroid,
    /// The default. A linear classifier trained on the examples (a multinomial logistic
    /// regression, [`super::linear`]) picks the intent, with the generic requests as one more
    /// class: a message that class wins is out of scope (a general request). Otherwise its
    /// similarity to the chosen intent's centroid is held against the threshold. On CLINC150's
    /// business setting (5 examples an intent) it is right about the intent where centroids
    /// are wrong often enough to gain 3 to 4 points in scope, and its general-request class
    /// keeps out general requests the threshold alone lets in (docs/BENCHMARKS.md). It costs
    /// a training of a fraction of a second when the guard is built.
    #[default]
    Classifier,
}

/// The sentence-embedding tier of the scope guard.
#[derive(Debug, Clone)]
pub struct EmbeddingGuard {
    intents: Vec<String>,
    /// Each intent's examples, unit length: kept to build the guards of
    /// [`Self::calibrate_general`].
    examples: Vec<Vec<Vec<f32>>>,
    /// The vectors compared with a message, each with its intent: the examples
    /// ([`Scoring::Nearest`]) or the centroids.
    targets: Vec<(usize, Vec<f32>)>,
    general: Vec<Vec<f32>>,
    /// [`Scoring::Classifier`]'s classifier: one class per target, then the generic requests'
    /// class when there are generic requests.
    classifier: Option<Softmax>,
    scoring: Scoring,
    threshold: f32,
}

/// The threshold before calibration: the cosine similarity above which all-MiniLM-L6-v2 puts
/// paraphrases, roughly. Calibrate instead of relying on it.
pub const DEFAULT_EMBEDDING_THRESHOLD: f32 = 0.5;

/// The folds of [`EmbeddingGuard::calibrate_general`].
const CALIBRATION_FOLDS: usize = 5;

impl EmbeddingGuard {
    /// A guard for `intents`, with `general` as the generic out-of-scope requests, embedding
    /// them all with `embedder` in one call. An intent's name, read as words (`order_status`
    /// as "order status"), is one more of its examples: on CLINC150 that alone gains 3 points
    /// in scope with 5 examples an intent.
    pub fn new<E: Embed>(
        embedder: &E,
        intents: &[Intent],
        general: &[&str],
        scoring: Scoring,
    ) -> Result<Self, E::Error> {
        let per_intent: Vec<Vec<String>> = intents
            .iter()
            .map(|i| {
                let mut texts = i.examples.clone();
                texts.extend(name_as_example(&i.name));
                texts
            })
            .collect();
        let texts: Vec<&str> = per_intent
            .iter()
            .flatten()
            .map(String::as_str)
            .chain(general.iter().copied())
            .collect();
        let mut vectors = embedder.embed(&texts)?.into_iter();
        let examples = intents
            .iter()
            .zip(&per_intent)
            .map(|(i, texts)| {
                let v: Vec<Vec<f32>> = vectors.by_ref().take(texts.len()).collect();
                (i.name.clone(), v)
            })
            .collect();
        Ok(Self::from_vectors(examples, vectors.collect(), scoring))
    }

    /// A guard from vectors already computed: each intent's name with its examples' vectors
    /// (used as they are: [`Self::new`] adds the name's vector itself), and the generic
    /// requests' vectors.
    pub fn from_vectors(
        intents: Vec<(String, Vec<Vec<f32>>)>,
        general: Vec<Vec<f32>>,
        scoring: Scoring,
    ) -> Self {
        let (names, examples) = intents
            .into_iter()
            .map(|(name, examples)| (name, examples.into_iter().map(unit).collect()))
            .unzip();
        Self::build(
            names,
            examples,
            general.into_iter().map(unit).collect(),
            scoring,
        )
    }

    /// From unit vectors.
    fn build(
        intents: Vec<String>,
        examples: Vec<Vec<Vec<f32>>>,
        general: Vec<Vec<f32>>,
        scoring: Scoring,
    ) -> Self {
        let mut targets = Vec::new();
        for (i, vectors) in examples.iter().enumerate() {
            match scoring {
                Scoring::Nearest => targets.extend(vectors.iter().map(|v| (i, v.clone()))),
                Scoring::Centroid | Scoring::Classifier => {
                    if let Some(c) = mean(vectors) {
                        targets.push((i, c));
                    }
                }
            }
        }
        let classifier = match scoring {
            Scoring::Classifier if !targets.is_empty() => {
                let dim = targets[0].1.len();
                let mut means: Vec<Vec<f32>> = targets.iter().map(|(_, c)| c.clone()).collect();
                let mut samples: Vec<(&[f32], usize)> = targets
                    .iter()
                    .enumerate()
                    .flat_map(|(class, (i, _))| examples[*i].iter().map(move |v| (&v[..], class)))
                    .collect();
                if let Some(m) = mean(&general) {
                    means.push(m);
                    samples.extend(general.iter().map(|v| (&v[..], targets.len())));
                }
                Some(Softmax::train(&samples, &means, dim))
            }
            _ => None,
        };
        Self {
            intents,
            examples,
            targets,
            general,
            classifier,
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

    /// [`Self::calibrate`] on the guard's own generic requests, for a business that has no
    /// out-of-scope messages of its own to calibrate on. A generic request is judged by a
    /// guard that has not seen it (one built without a fifth of them, for each fifth in turn),
    /// else it would always be nearest itself, or in the class it was trained in, and the
    /// threshold would come out too low. Builds five guards: with [`Scoring::Classifier`],
    /// five trainings.
    #[must_use]
    pub fn calibrate_general(mut self, recall: f32) -> Self {
        let mut nearest = Vec::with_capacity(self.general.len());
        for fold in 0..CALIBRATION_FOLDS.min(self.general.len()) {
            let (held, kept): (Vec<_>, Vec<_>) = self
                .general
                .iter()
                .enumerate()
                .partition(|(n, _)| n % CALIBRATION_FOLDS == fold);
            let without = Self::build(
                self.intents.clone(),
                self.examples.clone(),
                kept.into_iter().map(|(_, v)| v.clone()).collect(),
                self.scoring,
            );
            nearest.extend(held.into_iter().map(|(_, v)| without.nearest(v)));
        }
        if let Some(threshold) = calibrated_threshold(&nearest, recall) {
            self.threshold = threshold;
        }
        self
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
        if let Some(classifier) = &self.classifier {
            return self.classified(classifier, v);
        }
        let mut nearest = Nearest::default();
        for (i, t) in &self.targets {
            nearest.offer(Some(*i), dot(v, t));
        }
        for g in &self.general {
            nearest.offer(None, dot(v, g));
        }
        nearest
    }

    /// [`Scoring::Classifier`]: the intent of the highest logit, at its centroid's similarity,
    /// unless the generic requests' class has a logit as high.
    fn classified(&self, classifier: &Softmax, v: &[f32]) -> Nearest {
        let classes = self.targets.len() + usize::from(!self.general.is_empty());
        let mut logits = vec![0.0; classes];
        classifier.logits(v, &mut logits);
        let (intents, general) = logits.split_at(self.targets.len());
        let best = intents
            .iter()
            .enumerate()
            .fold(None, |best: Option<(usize, f32)>, (j, &l)| match best {
                Some((_, b)) if b >= l => best,
                _ => Some((j, l)),
            });
        let Some((j, logit)) = best else {
            return Nearest::default();
        };
        let (intent, centroid) = &self.targets[j];
        Nearest {
            intent: Some(*intent),
            intent_score: dot(v, centroid),
            generic_score: f32::NEG_INFINITY,
            general_class: general.first().is_some_and(|&g| g >= logit),
        }
    }
}

/// The unit mean of unit vectors; `None` for none.
fn mean(vectors: &[Vec<f32>]) -> Option<Vec<f32>> {
    let first = vectors.first()?;
    let mut sum = vec![0.0; first.len()];
    for v in vectors {
        for (s, x) in sum.iter_mut().zip(v) {
            *s += x;
        }
    }
    Some(unit(sum))
}

/// The dot product, over eight running sums: a single running sum is a chain of dependent
/// additions the compiler may not reorder, eight are vector lanes. The order is fixed, so the
/// result is the same on every run.
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut acc = [0.0_f32; 8];
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
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
