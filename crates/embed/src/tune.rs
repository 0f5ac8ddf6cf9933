//! Tuning the model's top layers on one business's intents, contrastively (as SetFit does):
//! pairs of examples of one intent are drawn together, pairs of two intents', or of an intent
//! and a general request, apart. With five examples an intent, the frozen model puts some
//! neighbouring intents of one business (a card's limit and its balance, say) too close to tell
//! apart; a few hundred steps on the business's own examples move them apart.
//!
//! Only the top layers learn: the layers below run once per example, before training, and the
//! tuned layers are all a business keeps.

use candle_core::{DType, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::bert::{Layer, additive_mask, pool};
use crate::{Error, MiniLm};

/// How the top layers are tuned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// How many of the top layers learn.
    pub layers: usize,
    /// Pairs drawn for each example of an intent: this many of its own intent, as many of
    /// another (SetFit's "iterations").
    pub rounds: usize,
    /// Pairs drawn for each general request: one with an intent's example, to be pushed apart.
    pub general_rounds: usize,
    /// Pairs per step.
    pub batch: usize,
    pub learning_rate: f64,
    pub seed: u64,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            layers: 2,
            rounds: 5,
            general_rounds: 1,
            batch: 16,
            learning_rate: 5e-5,
            seed: 7,
        }
    }
}

/// The top layers of the model, tuned for one business.
pub struct Tuned {
    from: usize,
    layers: Vec<Layer>,
}

impl std::fmt::Debug for Tuned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tuned")
            .field("from", &self.from)
            .field("layers", &self.layers.len())
            .finish()
    }
}

impl Tuned {
    /// The index of the first tuned layer: the layers below are the model's own.
    pub fn from(&self) -> usize {
        self.from
    }

    pub(crate) fn forward(&self, hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let mut hidden = hidden.clone();
        for layer in &self.layers {
            hidden = layer.forward(&hidden, mask)?;
        }
        Ok(hidden)
    }
}

/// An example before the tuned layers: its hidden states `(1, tokens, hidden)`.
struct Lower {
    hidden: Tensor,
    tokens: usize,
}

impl MiniLm {
    /// Tunes the top layers on `intents` (each intent's examples) and `general` (requests of
    /// no intent), drawing pairs with `tuning`.
    pub fn tune(
        &self,
        intents: &[Vec<&str>],
        general: &[&str],
        tuning: &Tuning,
    ) -> Result<Tuned, Error> {
        let total = self.bert.layers.len();
        let from = total - tuning.layers.min(total);
        // Each text, with its intent (`None`: a general request).
        let texts: Vec<(&str, Option<usize>)> = intents
            .iter()
            .enumerate()
            .flat_map(|(i, ex)| ex.iter().map(move |t| (*t, Some(i))))
            .chain(general.iter().map(|t| (*t, None)))
            .collect();
        let lower = self.lower_each(&texts.iter().map(|(t, _)| *t).collect::<Vec<_>>(), from)?;

        let mut rng = StdRng::seed_from_u64(tuning.seed);
        let pairs = draw_pairs(&texts, tuning, &mut rng);
        let (mut layers, mut vars) = (Vec::new(), Vec::new());
        for layer in &self.bert.layers[from..] {
            let (l, v) = layer.trainable()?;
            layers.push(l);
            vars.extend(v);
        }
        let mut tuned = Tuned { from, layers };
        let mut optimizer = AdamW::new(
            vars,
            ParamsAdamW {
                lr: tuning.learning_rate,
                weight_decay: 0.0,
                ..ParamsAdamW::default()
            },
        )?;
        for step in pairs.chunks(tuning.batch.max(1)) {
            let members: Vec<usize> = step.iter().flat_map(|(a, b, _)| [*a, *b]).collect();
            let (hidden, mask) = self.pad(&lower, &members)?;
            let pooled = pool(&tuned.forward(&hidden, &additive_mask(&mask)?)?, &mask)?;
            let n = step.len();
            let pooled = pooled.reshape((n, 2, pooled.dim(1)?))?;
            let (a, b) = (pooled.narrow(1, 0, 1)?, pooled.narrow(1, 1, 1)?);
            let cosine = (a * b)?.sum(2)?.squeeze(1)?;
            let labels: Vec<f32> = step.iter().map(|(_, _, same)| f32::from(*same)).collect();
            let labels = Tensor::from_vec(labels, n, &self.device)?;
            let loss = (cosine - labels)?.sqr()?.mean_all()?;
            optimizer.backward_step(&loss)?;
        }
        tuned.layers = tuned
            .layers
            .iter()
            .map(Layer::frozen)
            .collect::<candle_core::Result<_>>()?;
        Ok(tuned)
    }

    /// Each text's hidden states after the first `layers` layers, one by one (no padding).
    fn lower_each(&self, texts: &[&str], layers: usize) -> Result<Vec<Lower>, Error> {
        let encodings = self.encode(texts)?;
        encodings
            .iter()
            .map(|e| {
                let (ids, mask) = self.tensors(&[e])?;
                Ok(Lower {
                    hidden: self.lower(&ids, &mask, layers)?,
                    tokens: e.get_ids().len(),
                })
            })
            .collect()
    }

    /// The hidden states of `members` padded with zeros to the longest, and their mask.
    fn pad(&self, lower: &[Lower], members: &[usize]) -> Result<(Tensor, Tensor), Error> {
        let len = members.iter().map(|&m| lower[m].tokens).max().unwrap_or(0);
        let mut rows = Vec::with_capacity(members.len());
        let mut mask = Vec::with_capacity(members.len() * len);
        for &m in members {
            let l = &lower[m];
            rows.push(l.hidden.pad_with_zeros(1, 0, len - l.tokens)?);
            mask.extend(std::iter::repeat_n(1_u32, l.tokens));
            mask.extend(std::iter::repeat_n(0, len - l.tokens));
        }
        Ok((
            Tensor::cat(&rows, 0)?,
            Tensor::from_vec(mask, (members.len(), len), &self.device)?.to_dtype(DType::U32)?,
        ))
    }
}

/// Training pairs: indexes into `texts` and whether they share an intent, shuffled.
fn draw_pairs(
    texts: &[(&str, Option<usize>)],
    tuning: &Tuning,
    rng: &mut StdRng,
) -> Vec<(usize, usize, bool)> {
    let of_intent = |i: usize| -> Vec<usize> {
        texts
            .iter()
            .enumerate()
            .filter(|(_, (_, c))| *c == Some(i))
            .map(|(n, _)| n)
            .collect()
    };
    let in_intents: Vec<usize> = (0..texts.len()).filter(|&n| texts[n].1.is_some()).collect();
    let mut pairs = Vec::new();
    for (n, (_, class)) in texts.iter().enumerate() {
        match class {
            Some(c) => {
                let same = of_intent(*c);
                let others: Vec<usize> = (0..texts.len())
                    .filter(|&m| texts[m].1 != Some(*c))
                    .collect();
                for _ in 0..tuning.rounds {
                    if same.len() > 1 {
                        let mut m = same[rng.random_range(0..same.len())];
                        while m == n {
                            m = same[rng.random_range(0..same.len())];
                        }
                        pairs.push((n, m, true));
                    }
                    if !others.is_empty() {
                        pairs.push((n, others[rng.random_range(0..others.len())], false));
                    }
                }
            }
            None => {
                for _ in 0..tuning.general_rounds {
                    if !in_intents.is_empty() {
                        let m = in_intents[rng.random_range(0..in_intents.len())];
                        pairs.push((n, m, false));
                    }
                }
            }
        }
    }
    pairs.shuffle(rng);
    pairs
}
