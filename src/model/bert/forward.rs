//! The BERT encoder forward, differentiable end to end (own layer norm and softmax), with every
//! quantizable layer reached through the executor's [`LayerContext`].

use candle_core::{DType, Device, Tensor, D};

use super::weights::{Block, Dense, Norm, Table};
use super::{Activation, BertConfig, BertWeights};
use crate::model::ops::{layer_norm, linear, softmax_last_dim};
use crate::model::{InputLayout, LayerContext, ModelError};

type Result<T> = std::result::Result<T, ModelError>;

/// A tokenized batch, right-padded: `ids` and `type_ids` are u32 `[batch, seq]`, `mask` is f32
/// `[batch, seq]` with 1 for real tokens and 0 for padding.
#[derive(Debug, Clone)]
pub struct TokenBatch {
    pub ids: Tensor,
    pub type_ids: Tensor,
    pub mask: Tensor,
}

impl TokenBatch {
    /// The batch as one u32 tensor `[batch, 3, seq]` (ids, type ids, mask), the input
    /// [`crate::model::RunnableModel::run`] takes.
    pub fn pack(&self) -> candle_core::Result<Tensor> {
        let mask = self.mask.to_dtype(DType::U32)?;
        Tensor::stack(&[&self.ids, &self.type_ids, &mask], 1)
    }

    /// The inverse of [`TokenBatch::pack`].
    pub fn unpack(packed: &Tensor) -> Result<Self> {
        let (_, rows, _) = packed.dims3().map_err(|_| wrong_input(packed))?;
        if rows != 3 || packed.dtype() != DType::U32 {
            return Err(wrong_input(packed));
        }
        let row = |index: usize| packed.narrow(1, index, 1)?.squeeze(1)?.contiguous();
        Ok(Self {
            ids: row(0)?,
            type_ids: row(1)?,
            mask: row(2)?.to_dtype(DType::F32)?,
        })
    }
}

fn wrong_input(packed: &Tensor) -> ModelError {
    ModelError::Invalid {
        what: format!(
            "encoder input of shape {:?} and dtype {:?}",
            packed.dims(),
            packed.dtype()
        ),
        reason:
            "expected u32 [batch, 3, seq] (token ids, type ids, mask), as TokenBatch::pack makes"
                .into(),
    }
}

/// Last hidden states `[batch, seq, hidden]`.
pub fn encode(
    config: &BertConfig,
    weights: &BertWeights,
    ctx: &mut LayerContext,
    batch: &TokenBatch,
) -> Result<Tensor> {
    let start = Start {
        stage: 0,
        state: &batch.ids,
    };
    encode_from(config, weights, ctx, batch, start, &mut |_, _| {})
}

/// Stages of a run: 0 the embeddings, `1 + 2b` the attention half of block `b`, `2 + 2b` its
/// MLP half. A stage's state is the hidden states `[batch, seq, hidden]` at its start.
pub fn stage_count(weights: &BertWeights) -> usize {
    1 + 2 * weights.blocks.len()
}

/// The stage that reaches each quantizable layer, by layer name.
pub fn layer_stages(weights: &BertWeights) -> Vec<(String, usize)> {
    let embeddings = &weights.embeddings;
    let tables = [
        &embeddings.word,
        &embeddings.position,
        &embeddings.token_type,
    ];
    let mut stages: Vec<(String, usize)> = tables.iter().map(|t| (t.name.clone(), 0)).collect();
    for (index, block) in weights.blocks.iter().enumerate() {
        for (position, dense) in block.dense_layers().iter().enumerate() {
            // query, key, value, attention output are the attention half.
            let half = usize::from(position >= 4);
            stages.push((dense.name.clone(), 1 + 2 * index + half));
        }
    }
    stages
}

/// Where a run starts: `stage` and the hidden states at its start (anything for stage 0).
#[derive(Debug, Clone, Copy)]
pub struct Start<'a> {
    pub stage: usize,
    pub state: &'a Tensor,
}

/// Last hidden states, running stages `start.stage..` and passing the starting state of every
/// later stage to `capture`.
pub fn encode_from(
    config: &BertConfig,
    weights: &BertWeights,
    ctx: &mut LayerContext,
    batch: &TokenBatch,
    start: Start,
    capture: &mut dyn FnMut(usize, &Tensor),
) -> Result<Tensor> {
    let mut hidden = if start.stage == 0 {
        embed(config, weights, ctx, batch)?
    } else {
        start.state.clone()
    };
    // (1 − mask) · f32::MIN added to the scores, as Hugging Face and candle-transformers do.
    let (size, seq) = batch.mask.dims2()?;
    let additive_mask = ((1.0 - &batch.mask)? * f64::from(f32::MIN))?.reshape((size, 1, 1, seq))?;
    for (index, block) in weights.blocks.iter().enumerate() {
        let attention_stage = 1 + 2 * index;
        if enters(start.stage, attention_stage, &hidden, capture) {
            hidden = attention_half(config, block, ctx, &hidden, &additive_mask)?;
        }
        if enters(start.stage, attention_stage + 1, &hidden, capture) {
            hidden = mlp_half(config, block, ctx, &hidden)?;
        }
    }
    Ok(hidden)
}

/// Whether a run that starts at stage `start` computes `stage`; a run that reaches `stage` from
/// an earlier one passes the state at its start to `capture`.
fn enters(
    start: usize,
    stage: usize,
    hidden: &Tensor,
    capture: &mut dyn FnMut(usize, &Tensor),
) -> bool {
    if start < stage {
        capture(stage, hidden);
    }
    start <= stage
}

/// Sentence embeddings as sentence-transformers computes them: the mean of the last hidden
/// states over real tokens, L2-normalized (`x / max(‖x‖, 1e-12)`). `[batch, hidden]`.
pub fn mean_pool_normalize(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
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
    ctx: &mut LayerContext,
    batch: &TokenBatch,
) -> Result<Tensor> {
    let embeddings = &weights.embeddings;
    let seq = batch.ids.dim(1)?;
    let start = config.position_offset as u32;
    let positions = Tensor::arange(start, start + seq as u32, &Device::Cpu)?;
    let words = lookup(ctx, &embeddings.word, &batch.ids)?;
    let types = lookup(ctx, &embeddings.token_type, &batch.type_ids)?;
    let positions = lookup(ctx, &embeddings.position, &positions)?;
    let sum = (words + types)?.broadcast_add(&positions)?;
    norm(&sum, &embeddings.norm, config)
}

fn lookup(ctx: &mut LayerContext, table: &Table, ids: &Tensor) -> Result<Tensor> {
    let weight = ctx.weight(&table.name)?;
    let mut dims = ids.dims().to_vec();
    dims.push(weight.dim(1)?);
    let y = weight.index_select(&ids.flatten_all()?, 0)?.reshape(dims)?;
    Ok(ctx.output(&table.name, &y))
}

fn dense(ctx: &mut LayerContext, layer: &Dense, x: &Tensor) -> Result<Tensor> {
    let x = ctx.input(&layer.name, x, InputLayout::ReductionLast)?;
    let y = linear(&x, ctx.weight(&layer.name)?, Some(&layer.bias))?;
    Ok(ctx.output(&layer.name, &y))
}

fn norm(x: &Tensor, norm: &Norm, config: &BertConfig) -> Result<Tensor> {
    Ok(layer_norm(
        x,
        &norm.weight,
        &norm.bias,
        config.layer_norm_eps,
    )?)
}

fn attention_half(
    config: &BertConfig,
    block: &Block,
    ctx: &mut LayerContext,
    hidden: &Tensor,
    additive_mask: &Tensor,
) -> Result<Tensor> {
    let context = self_attention(config, block, ctx, hidden, additive_mask)?;
    let attended = dense(ctx, &block.attention_output, &context)?;
    norm(&(attended + hidden)?, &block.attention_norm, config)
}

fn mlp_half(
    config: &BertConfig,
    block: &Block,
    ctx: &mut LayerContext,
    attended: &Tensor,
) -> Result<Tensor> {
    let inner = dense(ctx, &block.intermediate, attended)?;
    let inner = match config.activation {
        Activation::GeluErf => inner.gelu_erf()?,
        Activation::GeluTanh => inner.gelu()?,
        Activation::Relu => inner.relu()?,
    };
    let output = dense(ctx, &block.output, &inner)?;
    norm(&(output + attended)?, &block.output_norm, config)
}

fn self_attention(
    config: &BertConfig,
    block: &Block,
    ctx: &mut LayerContext,
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
    let query = split(dense(ctx, &block.query, hidden)?)?;
    let key = split(dense(ctx, &block.key, hidden)?)?;
    let value = split(dense(ctx, &block.value, hidden)?)?;
    let scores = (query.matmul(&key.t()?)? / (head_dim as f64).sqrt())?;
    let probs = softmax_last_dim(&scores.broadcast_add(additive_mask)?)?;
    let context = probs.matmul(&value)?.transpose(1, 2)?.contiguous()?;
    Ok(context.reshape((size, seq, width))?)
}
