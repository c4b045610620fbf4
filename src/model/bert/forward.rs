//! The BERT encoder forward, differentiable end to end (own layer norm and softmax), with every
//! quantizable layer reached through a [`LayerHook`].

use candle_core::{Result, Tensor, D};

use super::weights::{Block, Dense, Norm, Table};
use super::{Activation, BertConfig, BertWeights};
use crate::model::ops::{layer_norm, linear, softmax_last_dim};
use crate::model::LayerHook;

/// A tokenized batch, right-padded: `ids` and `type_ids` are u32 `[batch, seq]`, `mask` is f32
/// `[batch, seq]` with 1 for real tokens and 0 for padding.
#[derive(Debug, Clone)]
pub struct TokenBatch {
    pub ids: Tensor,
    pub type_ids: Tensor,
    pub mask: Tensor,
}

/// Last hidden states `[batch, seq, hidden]`.
pub fn encode(
    config: &BertConfig,
    weights: &BertWeights,
    hook: &mut dyn LayerHook,
    batch: &TokenBatch,
) -> Result<Tensor> {
    let mut hidden = embed(config, weights, hook, batch)?;
    // (1 − mask) · f32::MIN added to the scores, as Hugging Face and candle-transformers do.
    let (size, seq) = batch.mask.dims2()?;
    let additive_mask = ((1.0 - &batch.mask)? * f64::from(f32::MIN))?.reshape((size, 1, 1, seq))?;
    for block in &weights.blocks {
        hidden = block_forward(config, block, hook, &hidden, &additive_mask)?;
    }
    Ok(hidden)
}

/// Sentence embeddings as sentence-transformers computes them: the mean of the last hidden
/// states over real tokens, L2-normalized (`x / max(‖x‖, 1e-12)`). `[batch, hidden]`.
pub fn mean_pool_normalize(hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let mask = mask.unsqueeze(D::Minus1)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    let counts = mask.sum(1)?.clamp(1e-9, f64::INFINITY)?;
    let mean = summed.broadcast_div(&counts)?;
    let norm = mean
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12, f64::INFINITY)?;
    mean.broadcast_div(&norm)
}

fn embed(
    config: &BertConfig,
    weights: &BertWeights,
    hook: &mut dyn LayerHook,
    batch: &TokenBatch,
) -> Result<Tensor> {
    let embeddings = &weights.embeddings;
    let seq = batch.ids.dim(1)?;
    let start = config.position_offset as u32;
    let positions = Tensor::arange(start, start + seq as u32, batch.ids.device())?;
    let words = lookup(hook, &embeddings.word, &batch.ids)?;
    let types = lookup(hook, &embeddings.token_type, &batch.type_ids)?;
    let positions = lookup(hook, &embeddings.position, &positions)?;
    let sum = (words + types)?.broadcast_add(&positions)?;
    norm(&sum, &embeddings.norm, config)
}

fn lookup(hook: &mut dyn LayerHook, table: &Table, ids: &Tensor) -> Result<Tensor> {
    let weight = hook.weight(&table.name, &table.weight)?;
    let mut dims = ids.dims().to_vec();
    dims.push(weight.dim(1)?);
    weight.index_select(&ids.flatten_all()?, 0)?.reshape(dims)
}

fn dense(hook: &mut dyn LayerHook, layer: &Dense, x: &Tensor) -> Result<Tensor> {
    let x = hook.input(&layer.name, x)?;
    let weight = hook.weight(&layer.name, &layer.weight)?;
    linear(&x, &weight, Some(&layer.bias))
}

fn norm(x: &Tensor, norm: &Norm, config: &BertConfig) -> Result<Tensor> {
    layer_norm(x, &norm.weight, &norm.bias, config.layer_norm_eps)
}

fn block_forward(
    config: &BertConfig,
    block: &Block,
    hook: &mut dyn LayerHook,
    hidden: &Tensor,
    additive_mask: &Tensor,
) -> Result<Tensor> {
    let context = self_attention(config, block, hook, hidden, additive_mask)?;
    let attended = dense(hook, &block.attention_output, &context)?;
    let attended = norm(&(attended + hidden)?, &block.attention_norm, config)?;
    let inner = dense(hook, &block.intermediate, &attended)?;
    let inner = match config.activation {
        Activation::GeluErf => inner.gelu_erf()?,
        Activation::GeluTanh => inner.gelu()?,
        Activation::Relu => inner.relu()?,
    };
    let output = dense(hook, &block.output, &inner)?;
    norm(&(output + attended)?, &block.output_norm, config)
}

fn self_attention(
    config: &BertConfig,
    block: &Block,
    hook: &mut dyn LayerHook,
    hidden: &Tensor,
    additive_mask: &Tensor,
) -> Result<Tensor> {
    let (size, seq, width) = hidden.dims3()?;
    let (heads, head_dim) = (config.num_attention_heads, config.head_dim());
    let split = |x: Tensor| {
        x.reshape((size, seq, heads, head_dim))?
            .transpose(1, 2)?
            .contiguous()
    };
    let query = split(dense(hook, &block.query, hidden)?)?;
    let key = split(dense(hook, &block.key, hidden)?)?;
    let value = split(dense(hook, &block.value, hidden)?)?;
    let scores = (query.matmul(&key.t()?)? / (head_dim as f64).sqrt())?;
    let probs = softmax_last_dim(&scores.broadcast_add(additive_mask)?)?;
    let context = probs.matmul(&value)?.transpose(1, 2)?.contiguous()?;
    context.reshape((size, seq, width))
}
