//! A multinomial logistic regression on frozen sentence vectors: the embedding tier's default
//! way to pick an intent ([`super::Scoring::Classifier`]).
//!
//! With a handful of examples per intent, the mean of each intent's examples (the centroid)
//! leaves much of what tells two neighbouring intents apart unused: the directions in which
//! one intent's examples differ from the other's. A linear classifier trained on the examples
//! finds them; it starts from the centroids and learns for a fixed number of full-batch
//! gradient steps, so that it is cheap (a fraction of a second for a business's intents) and
//! gives the same weights for the same examples on every machine that runs the same code.

/// Gradient steps. Chosen with the learning rate on CLINC150's training split (examples 6 to
/// 45 of each intent as the held-out set; see docs/BENCHMARKS.md): accuracy is flat from
/// about 100 steps on.
const STEPS: usize = 200;
/// The loss is a weighted mean (the weights add up to 1), so its gradient is small: a large
/// step is stable.
const LEARNING_RATE: f32 = 16.0;
/// L2 penalty on the weights: with 5 examples an intent in 384 dimensions, the classes are
/// separable, and this keeps the weights from growing without end.
const L2: f32 = 1e-4;
/// The initial weights are the class means scaled by this, so that the first logits are
/// scaled cosine similarities and the softmax is not flat.
const INITIAL_SCALE: f32 = 5.0;

/// Weights and biases of a linear softmax classifier over `classes` classes.
#[derive(Debug, Clone)]
pub(super) struct Softmax {
    dim: usize,
    /// `classes × dim`, row-major.
    weights: Vec<f32>,
    biases: Vec<f32>,
}

impl Softmax {
    /// Trains on `samples` (unit vectors of length `dim`, each with its class), every class
    /// weighing the same in the loss however many samples it has: the general requests are
    /// many, the examples of an intent few. `means[c]` is class `c`'s (unit) mean, the
    /// starting weights; a class without samples keeps them.
    pub(super) fn train(samples: &[(&[f32], usize)], means: &[Vec<f32>], dim: usize) -> Self {
        let classes = means.len();
        let mut weights: Vec<f32> = means
            .iter()
            .flat_map(|m| m.iter().map(|x| x * INITIAL_SCALE))
            .collect();
        weights.resize(classes * dim, 0.0);
        let mut model = Self {
            dim,
            weights,
            biases: vec![0.0; classes],
        };
        let mut counts = vec![0_usize; classes];
        for (_, c) in samples {
            counts[*c] += 1;
        }
        let present = counts.iter().filter(|&&n| n > 0).count().max(1);
        #[expect(clippy::cast_precision_loss, reason = "counts of examples")]
        let sample_weight: Vec<f32> = counts
            .iter()
            .map(|&n| 1.0 / (present as f32 * n.max(1) as f32))
            .collect();

        let mut grad_w = vec![0.0_f32; classes * dim];
        let mut grad_b = vec![0.0_f32; classes];
        let mut probs = vec![0.0_f32; classes];
        for _ in 0..STEPS {
            grad_w.fill(0.0);
            grad_b.fill(0.0);
            for (x, class) in samples {
                model.probabilities(x, &mut probs);
                let w = sample_weight[*class];
                for (c, p) in probs.iter().enumerate() {
                    let target = if c == *class { 1.0 } else { 0.0 };
                    let g = (p - target) * w;
                    grad_b[c] += g;
                    let row = &mut grad_w[c * dim..(c + 1) * dim];
                    for (r, xi) in row.iter_mut().zip(x.iter()) {
                        *r += g * xi;
                    }
                }
            }
            for (w, g) in model.weights.iter_mut().zip(&grad_w) {
                *w -= LEARNING_RATE * (g + L2 * *w);
            }
            for (b, g) in model.biases.iter_mut().zip(&grad_b) {
                *b -= LEARNING_RATE * g;
            }
        }
        model
    }

    /// The logit of every class for `x`, into `out`.
    pub(super) fn logits(&self, x: &[f32], out: &mut [f32]) {
        for ((o, row), b) in out
            .iter_mut()
            .zip(self.weights.chunks_exact(self.dim))
            .zip(&self.biases)
        {
            *o = super::embedding::dot(row, x) + b;
        }
    }

    fn probabilities(&self, x: &[f32], out: &mut [f32]) {
        self.logits(x, out);
        let max = out.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for o in out.iter_mut() {
            *o = (*o - max).exp();
            sum += *o;
        }
        for o in out.iter_mut() {
            *o /= sum;
        }
    }
}
