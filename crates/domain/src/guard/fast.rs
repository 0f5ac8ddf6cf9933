//! The fast tier: TF-IDF over words, word pairs and character n-grams. Needs nothing downloaded.
//!
//! A message is compared with every example and with the generic general-assistant requests:
//! the features are the words, word pairs and character 3- to 5-grams of the text normalised as
//! the keywords are (case and accents folded), weighted by TF-IDF over everything the guard was
//! given, and compared by cosine similarity.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::{Decision, Intent, Nearest, calibrated_threshold, decide, name_as_example};
use crate::policy::normalise;

/// Features are already hashes: the map uses them as they are.
#[derive(Debug, Default, Clone, Copy)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type FeatureMap<V> = HashMap<u64, V, BuildHasherDefault<Identity>>;

/// A sparse, L2-normalised feature vector, sorted by feature.
type Features = Vec<(u64, f32)>;

/// The fast tier of the scope guard.
#[derive(Debug, Clone)]
pub struct FastGuard {
    intents: Vec<String>,
    idf: FeatureMap<f32>,
    default_idf: f32,
    /// Each example's intent; `None` for generic requests.
    owners: Vec<Option<usize>>,
    /// For each feature, the examples that have it, with its weight there.
    postings: FeatureMap<Vec<(u32, f32)>>,
    /// What the guard was built from, to build the guards of [`Self::calibrate_general`].
    source: (Vec<Intent>, Vec<String>),
    threshold: f32,
}

/// The default threshold, before calibration.
pub const DEFAULT_THRESHOLD: f32 = 0.3;

/// The folds of [`FastGuard::calibrate_general`].
const CALIBRATION_FOLDS: usize = 5;

impl FastGuard {
    /// A guard for `intents`, with `general` as the generic out-of-scope requests. An intent's
    /// name, read as words, is one more of its examples.
    pub fn new(intents: &[Intent], general: &[&str]) -> Self {
        let texts: Vec<(Option<usize>, Vec<u64>)> = intents
            .iter()
            .enumerate()
            .flat_map(|(i, intent)| {
                let name = name_as_example(&intent.name);
                intent
                    .examples
                    .iter()
                    .map(|e| tokens(e))
                    .chain(name.map(|n| tokens(&n)))
                    .map(move |t| (Some(i), t))
            })
            .chain(general.iter().map(|g| (None, tokens(g))))
            .collect();
        let mut df: FeatureMap<u32> = FeatureMap::default();
        for (_, t) in &texts {
            let mut seen = t.clone();
            seen.sort_unstable();
            seen.dedup();
            for f in seen {
                *df.entry(f).or_default() += 1;
            }
        }
        #[expect(clippy::cast_precision_loss, reason = "counts of examples")]
        let n = texts.len() as f32;
        #[expect(clippy::cast_precision_loss, reason = "counts of examples")]
        let idf: FeatureMap<f32> = df
            .into_iter()
            .map(|(f, d)| (f, ((n + 1.0) / (d as f32 + 1.0)).ln() + 1.0))
            .collect();
        let default_idf = (n + 1.0).ln() + 1.0;
        let mut guard = Self {
            intents: intents.iter().map(|i| i.name.clone()).collect(),
            idf,
            default_idf,
            owners: Vec::new(),
            postings: FeatureMap::default(),
            source: (
                intents.to_vec(),
                general.iter().map(|g| (*g).to_owned()).collect(),
            ),
            threshold: DEFAULT_THRESHOLD,
        };
        for (n, (owner, t)) in texts.iter().enumerate() {
            let id = u32::try_from(n).unwrap_or(u32::MAX);
            for (f, w) in guard.weigh(t) {
                guard.postings.entry(f).or_default().push((id, w));
            }
            guard.owners.push(*owner);
        }
        guard
    }

    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    #[must_use]
    pub fn with_threshold(mut self, threshold: f32) -> Self {
        self.threshold = threshold;
        self
    }

    /// The lowest threshold that keeps at least `recall` of `out_of_scope` out of scope (and
    /// so the most of the business's own traffic in scope).
    #[must_use]
    pub fn calibrate(mut self, out_of_scope: &[&str], recall: f32) -> Self {
        let nearest: Vec<Nearest> = out_of_scope.iter().map(|t| self.nearest(t)).collect();
        if let Some(threshold) = calibrated_threshold(&nearest, recall) {
            self.threshold = threshold;
        }
        self
    }

    /// [`Self::calibrate`] on the guard's own generic requests, each judged by a guard built
    /// without the fifth of them it is in (see [`super::EmbeddingGuard::calibrate_general`]).
    #[must_use]
    pub fn calibrate_general(mut self, recall: f32) -> Self {
        let (intents, general) = &self.source;
        let mut nearest = Vec::with_capacity(general.len());
        for fold in 0..CALIBRATION_FOLDS.min(general.len()) {
            let (held, kept): (Vec<_>, Vec<_>) = general
                .iter()
                .enumerate()
                .partition(|(n, _)| n % CALIBRATION_FOLDS == fold);
            let kept: Vec<&str> = kept.into_iter().map(|(_, g)| g.as_str()).collect();
            let without = Self::new(intents, &kept);
            nearest.extend(held.into_iter().map(|(_, g)| without.nearest(g)));
        }
        if let Some(threshold) = calibrated_threshold(&nearest, recall) {
            self.threshold = threshold;
        }
        self
    }

    /// Whether `text` is one of the intents, and which.
    pub fn classify(&self, text: &str) -> Decision {
        decide(&self.intents, self.nearest(text), self.threshold)
    }

    /// The nearest intent example and the nearest generic request, with their similarity.
    fn nearest(&self, text: &str) -> Nearest {
        let mut scores = vec![0.0_f32; self.owners.len()];
        for (f, w) in self.weigh(&tokens(text)) {
            if let Some(list) = self.postings.get(&f) {
                for &(e, we) in list {
                    scores[e as usize] += w * we;
                }
            }
        }
        let mut nearest = Nearest::default();
        for (owner, s) in self.owners.iter().zip(scores) {
            nearest.offer(*owner, s);
        }
        nearest
    }

    fn weigh(&self, features: &[u64]) -> Features {
        let mut sorted = features.to_vec();
        sorted.sort_unstable();
        let mut v: Features = Vec::with_capacity(sorted.len());
        for chunk in sorted.chunk_by(|a, b| a == b) {
            let f = chunk[0];
            let idf = self.idf.get(&f).copied().unwrap_or(self.default_idf);
            #[expect(clippy::cast_precision_loss, reason = "small counts")]
            let tf = 1.0 + (chunk.len() as f32).ln();
            v.push((f, tf * idf));
        }
        let norm = v.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
        if norm > 0.0 {
            for (_, w) in &mut v {
                *w /= norm;
            }
        }
        v
    }
}

/// FNV-1a over a tag and bytes, so that a word and an n-gram never collide by design.
struct Fnv(u64);

impl Fnv {
    fn new(tag: u8) -> Self {
        let mut h = Self(0xcbf2_9ce4_8422_2325);
        h.eat(tag);
        h
    }

    fn eat(&mut self, b: u8) {
        self.0 ^= u64::from(b);
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
    }

    fn str(mut self, s: &str) -> Self {
        for b in s.bytes() {
            self.eat(b);
        }
        self
    }

    fn chars(mut self, cs: &[char]) -> Self {
        let mut buf = [0_u8; 4];
        for c in cs {
            for b in c.encode_utf8(&mut buf).bytes() {
                self.eat(b);
            }
        }
        self
    }
}

/// Words, word pairs and character 3- to 5-grams of the normalised text.
fn tokens(text: &str) -> Vec<u64> {
    let norm = normalise(text);
    let words: Vec<&str> = norm
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = Vec::with_capacity(words.len() * 16);
    let mut padded: Vec<char> = Vec::new();
    for w in &words {
        out.push(Fnv::new(b'w').str(w).0);
        padded.clear();
        padded.push('#');
        padded.extend(w.chars());
        padded.push('#');
        for n in 3..=5 {
            for g in padded.windows(n) {
                out.push(Fnv::new(b'c').chars(g).0);
            }
        }
    }
    for pair in words.windows(2) {
        let mut h = Fnv::new(b'b').str(pair[0]);
        h.eat(0x1f);
        out.push(h.str(pair[1]).0);
    }
    out
}
