//! The scope guard, fast tier: whether a customer's free text is one of the business's intents
//! or out of scope (a general-assistant request, which Meta's 2026 terms forbid a business bot to
//! answer). Pure, and needs nothing downloaded.
//!
//! Each intent is a name and a few example phrases, in any language the business uses. A message
//! is compared with every example and with a set of generic general-assistant requests
//! ([`GENERAL_REQUESTS`], shipped with guichet): the features are the words, word pairs and
//! character 3- to 5-grams of the text normalised as the keywords are (case and accents folded),
//! weighted by TF-IDF over everything the guard was given, and compared by cosine similarity.
//! The message goes to the intent of its nearest example when that similarity reaches the
//! threshold and beats the nearest generic request; otherwise it is out of scope.
//!
//! The threshold is calibrated per business ([`FastGuard::calibrate`]) for a target out-of-scope
//! recall on requests the business says are out of scope.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde::Serialize;

use crate::policy::normalise;

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
    threshold: f32,
}

/// The default threshold, before calibration.
pub const DEFAULT_THRESHOLD: f32 = 0.3;

impl FastGuard {
    /// A guard for `intents`, with `general` as the generic out-of-scope requests.
    pub fn new(intents: &[Intent], general: &[&str]) -> Self {
        let texts: Vec<(Option<usize>, Vec<u64>)> = intents
            .iter()
            .enumerate()
            .flat_map(|(i, intent)| intent.examples.iter().map(move |e| (Some(i), tokens(e))))
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
        let mut scores: Vec<f32> = out_of_scope
            .iter()
            .map(|t| {
                let (intent, generic) = self.nearest(t);
                // Already out of scope at any threshold when a generic request is nearer.
                if generic.1 >= intent.1 { 0.0 } else { intent.1 }
            })
            .collect();
        if scores.is_empty() {
            return self;
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
        self.threshold = next_up(at.max(0.0));
        self
    }

    /// Whether `text` is one of the intents, and which.
    pub fn classify(&self, text: &str) -> Decision {
        let (intent, generic) = self.nearest(text);
        match intent.0 {
            Some(i) if intent.1 >= self.threshold && intent.1 > generic.1 => Decision::InScope {
                intent: self.intents[i].clone(),
                score: intent.1,
            },
            nearest => Decision::OutOfScope {
                score: intent.1,
                nearest: nearest.map(|i| self.intents[i].clone()),
                general_request: generic.1 >= intent.1 && generic.1 > 0.0,
            },
        }
    }

    /// The nearest intent example and the nearest generic request, with their similarity.
    fn nearest(&self, text: &str) -> ((Option<usize>, f32), (Option<usize>, f32)) {
        let mut scores = vec![0.0_f32; self.owners.len()];
        for (f, w) in self.weigh(&tokens(text)) {
            if let Some(list) = self.postings.get(&f) {
                for &(e, we) in list {
                    scores[e as usize] += w * we;
                }
            }
        }
        let mut best_intent = (None, 0.0_f32);
        let mut best_generic = (None, 0.0_f32);
        for (owner, s) in self.owners.iter().zip(scores) {
            match owner {
                Some(i) if s > best_intent.1 => best_intent = (Some(*i), s),
                None if s > best_generic.1 => best_generic = (None, s),
                _ => {}
            }
        }
        (best_intent, best_generic)
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

/// The smallest float above `x` (for `x ≥ 0`).
fn next_up(x: f32) -> f32 {
    f32::from_bits(x.to_bits() + 1)
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

#[cfg(test)]
mod tests;
