//! BERT's forward pass, written out so that it can stop after any layer and so that its top
//! layers can learn ([`crate::tune`]): candle-transformers' BERT runs all layers at once, and
//! its layer norm is an operation without a gradient. The frozen layers use candle's fast layer
//! norm; trainable ones the one made of differentiable operations. The outputs are the same
//! (a test holds this one to candle-transformers').

use candle_core::{D, DType, Module, Result, Tensor, Var};
use candle_nn::{Linear, VarBuilder};
use candle_transformers::models::bert::Config;

#[derive(Clone)]
struct Norm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl Norm {
    fn load(vb: &VarBuilder<'_>, size: usize, eps: f64) -> Result<Self> {
        #[expect(clippy::cast_possible_truncation, reason = "an epsilon")]
        let eps = eps as f32;
        Ok(Self {
            weight: vb.get(size, "weight")?,
            bias: vb.get(size, "bias")?,
            eps,
        })
    }

    fn forward(&self, x: &Tensor, differentiable: bool) -> Result<Tensor> {
        if differentiable {
            candle_nn::ops::layer_norm_slow(x, &self.weight, &self.bias, self.eps)
        } else {
            candle_nn::ops::layer_norm(x, &self.weight, &self.bias, self.eps)
        }
    }
}

fn linear(vb: &VarBuilder<'_>, inputs: usize, outputs: usize) -> Result<Linear> {
    Ok(Linear::new(
        vb.get((outputs, inputs), "weight")?,
        Some(vb.get(outputs, "bias")?),
    ))
}

/// One transformer layer.
#[derive(Clone)]
pub(crate) struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: Norm,
    intermediate: Linear,
    output: Linear,
    output_norm: Norm,
    heads: usize,
    /// Whether the layer learns: its layer norms are then the differentiable ones.
    trainable: bool,
}

impl Layer {
    fn load(vb: &VarBuilder<'_>, config: &Config) -> Result<Self> {
        let (h, i) = (config.hidden_size, config.intermediate_size);
        let attention = vb.pp("attention");
        Ok(Self {
            query: linear(&attention.pp("self").pp("query"), h, h)?,
            key: linear(&attention.pp("self").pp("key"), h, h)?,
            value: linear(&attention.pp("self").pp("value"), h, h)?,
            attention_out: linear(&attention.pp("output").pp("dense"), h, h)?,
            attention_norm: Norm::load(
                &attention.pp("output").pp("LayerNorm"),
                h,
                config.layer_norm_eps,
            )?,
            intermediate: linear(&vb.pp("intermediate").pp("dense"), h, i)?,
            output: linear(&vb.pp("output").pp("dense"), i, h)?,
            output_norm: Norm::load(&vb.pp("output").pp("LayerNorm"), h, config.layer_norm_eps)?,
            heads: config.num_attention_heads,
            trainable: false,
        })
    }

    /// A copy of the layer whose weights are variables, with those variables.
    pub(crate) fn trainable(&self) -> Result<(Self, Vec<Var>)> {
        let mut vars = Vec::new();
        let layer = self.map(true, &mut |t| {
            let v = Var::from_tensor(t)?;
            let t = v.as_tensor().clone();
            vars.push(v);
            Ok(t)
        })?;
        Ok((layer, vars))
    }

    /// A copy of the layer that no longer learns: its weights detached from the variables
    /// they were trained as, its operations the fast ones.
    pub(crate) fn frozen(&self) -> Result<Self> {
        self.map(false, &mut |t| Ok(t.detach()))
    }

    fn map(&self, trainable: bool, f: &mut dyn FnMut(&Tensor) -> Result<Tensor>) -> Result<Self> {
        let mut lin = |l: &Linear| -> Result<Linear> {
            let bias = l.bias().map(&mut *f).transpose()?;
            Ok(Linear::new(f(l.weight())?, bias))
        };
        let (query, key, value) = (lin(&self.query)?, lin(&self.key)?, lin(&self.value)?);
        let (attention_out, intermediate, output) = (
            lin(&self.attention_out)?,
            lin(&self.intermediate)?,
            lin(&self.output)?,
        );
        let mut norm = |n: &Norm| -> Result<Norm> {
            Ok(Norm {
                weight: f(&n.weight)?,
                bias: f(&n.bias)?,
                eps: n.eps,
            })
        };
        let (attention_norm, output_norm) = (norm(&self.attention_norm)?, norm(&self.output_norm)?);
        Ok(Self {
            query,
            key,
            value,
            attention_out,
            attention_norm,
            intermediate,
            output,
            output_norm,
            heads: self.heads,
            trainable,
        })
    }

    /// `x` is `(batch, tokens, hidden)`; `mask` is additive, `(batch, 1, 1, tokens)`.
    pub(crate) fn forward(&self, x: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (b, t, h) = x.dims3()?;
        let d = h / self.heads;
        let heads = |y: Tensor| -> Result<Tensor> {
            y.reshape((b, t, self.heads, d))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = heads(self.query.forward(x)?)?;
        let k = heads(self.key.forward(x)?)?;
        let v = heads(self.value.forward(x)?)?;
        #[expect(clippy::cast_precision_loss, reason = "a head's size")]
        let scale = (d as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? / scale)?.broadcast_add(mask)?;
        let probs = if self.trainable {
            candle_nn::ops::softmax(&scores, D::Minus1)?
        } else {
            candle_nn::ops::softmax_last_dim(&scores)?
        };
        let context = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b, t, h))?;
        let attended = self.attention_norm.forward(
            &(self.attention_out.forward(&context)? + x)?,
            self.trainable,
        )?;
        let inner = self.intermediate.forward(&attended)?.gelu_erf()?;
        self.output_norm
            .forward(&(self.output.forward(&inner)? + &attended)?, self.trainable)
    }
}

/// The model: embeddings, then its layers.
pub(crate) struct Bert {
    words: Tensor,
    positions: Tensor,
    types: Tensor,
    norm: Norm,
    pub(crate) layers: Vec<Layer>,
}

impl Bert {
    pub(crate) fn load(vb: &VarBuilder<'_>, config: &Config) -> Result<Self> {
        let vb = if vb.contains_tensor("bert.embeddings.word_embeddings.weight") {
            vb.pp("bert")
        } else {
            vb.clone()
        };
        let e = vb.pp("embeddings");
        let h = config.hidden_size;
        Ok(Self {
            words: e.get((config.vocab_size, h), "word_embeddings.weight")?,
            positions: e.get(
                (config.max_position_embeddings, h),
                "position_embeddings.weight",
            )?,
            types: e.get((config.type_vocab_size, h), "token_type_embeddings.weight")?,
            norm: Norm::load(&e.pp("LayerNorm"), h, config.layer_norm_eps)?,
            layers: (0..config.num_hidden_layers)
                .map(|n| Layer::load(&vb.pp(format!("encoder.layer.{n}")), config))
                .collect::<Result<_>>()?,
        })
    }

    /// The embeddings of `ids` (`(batch, tokens)`, one segment).
    pub(crate) fn embed(&self, ids: &Tensor) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let words =
            self.words
                .index_select(&ids.flatten_all()?, 0)?
                .reshape((b, t, self.words.dim(1)?))?;
        let positions = self.positions.narrow(0, 0, t)?;
        let segment = self.types.narrow(0, 0, 1)?;
        let x = words.broadcast_add(&positions)?.broadcast_add(&segment)?;
        self.norm.forward(&x, false)
    }
}

/// The additive attention mask of a `(batch, tokens)` mask of ones and zeros.
pub(crate) fn additive_mask(mask: &Tensor) -> Result<Tensor> {
    let m = mask.to_dtype(DType::F32)?.unsqueeze(1)?.unsqueeze(1)?;
    (m.ones_like()? - &m)?.affine(f64::from(f32::MIN), 0.0)
}

/// Mean over the real tokens, then unit length: sentence-transformers' pooling for the model.
pub(crate) fn pool(hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let weights = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&weights)?.sum(1)?;
    let counts = weights.sum(1)?.clamp(1e-9, f32::MAX)?;
    let mean = summed.broadcast_div(&counts)?;
    let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f32::MAX)?;
    mean.broadcast_div(&norm)
}
