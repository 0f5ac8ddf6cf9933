//! all-MiniLM-L6-v2 itself: the tokenizer, BERT's forward pass, mean pooling.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Tokenizer, TruncationParams};

use crate::{Error, locate};

/// Longest input, in tokens: sentence-transformers' `max_seq_length` for this model (its
/// tokenizer.json says 128, which sentence-transformers overrides). Longer text is cut.
const MAX_TOKENS: usize = 256;

/// Sentences run through the model at once. Batches are formed from sentences of similar
/// length, so little is spent on padding; past a few dozen a larger batch buys nothing on a CPU.
const BATCH: usize = 32;

/// The sentence-embedding model, loaded and ready.
pub struct MiniLm {
    bert: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl std::fmt::Debug for MiniLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLm").finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::Unreadable {
        path: path.display().to_string(),
        detail: e.to_string(),
    })
}

impl MiniLm {
    /// Loads the model from `dir` (see [`locate`]), on the CPU.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        let base = locate(dir)?;
        let unreadable = |file: &str, detail: String| Error::Unreadable {
            path: base.join(file).display().to_string(),
            detail,
        };
        let config: Config = serde_json::from_slice(&read(&base.join("config.json"))?)
            .map_err(|e| unreadable("config.json", e.to_string()))?;
        let mut tokenizer = Tokenizer::from_file(base.join("tokenizer.json"))
            .map_err(|e| unreadable("tokenizer.json", e.to_string()))?;
        // The file pads every input to 128 tokens; padding is done here, per batch, instead.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| unreadable("tokenizer.json", e.to_string()))?;
        let device = Device::Cpu;
        let weights = read(&base.join("model.safetensors"))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| unreadable("model.safetensors", e.to_string()))?;
        let bert = BertModel::load(vb, &config)
            .map_err(|e| unreadable("model.safetensors", e.to_string()))?;
        Ok(Self {
            bert,
            tokenizer,
            device,
        })
    }

    /// The unit-length embedding of each text, in order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, Error> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encodings[i].get_ids().len());
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&tokenizers::Encoding> = chunk.iter().map(|&i| &encodings[i]).collect();
            for (&i, v) in chunk.iter().zip(self.run(&batch)?) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// One forward pass over sentences padded to the longest of them.
    fn run(&self, batch: &[&tokenizers::Encoding]) -> Result<Vec<Vec<f32>>, Error> {
        let len = batch.iter().map(|e| e.get_ids().len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(batch.len() * len);
        let mut mask = Vec::with_capacity(batch.len() * len);
        for e in batch {
            let n = e.get_ids().len();
            ids.extend_from_slice(e.get_ids());
            ids.extend(std::iter::repeat_n(0, len - n));
            mask.extend(std::iter::repeat_n(1_u32, n));
            mask.extend(std::iter::repeat_n(0, len - n));
        }
        let shape = (batch.len(), len);
        let ids = Tensor::from_vec(ids, shape, &self.device)?;
        let mask = Tensor::from_vec(mask, shape, &self.device)?;
        // One segment: every token type is 0.
        let types = ids.zeros_like()?;
        let hidden = self.bert.forward(&ids, &types, Some(&mask))?;
        // Mean over the real tokens only, as sentence-transformers' Pooling(mean) does.
        let weights = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&weights)?.sum(1)?;
        let counts = weights.sum(1)?.clamp(1e-9, f32::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        // Then unit length (sentence-transformers' Normalize layer, eps 1e-12).
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f32::MAX)?;
        Ok(mean.broadcast_div(&norm)?.to_vec2::<f32>()?)
    }
}

impl domain::guard::Embed for MiniLm {
    type Error = Error;

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, Error> {
        Self::embed(self, texts)
    }
}
