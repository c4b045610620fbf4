//! The Llama decoder forward (pre-norm blocks, grouped-query attention, SwiGLU MLP), written from
//! differentiable ops (own RMS norm, softmax and rotary embedding), with every quantizable layer
//! reached through the executor's [`LayerContext`].

use candle_core::{IndexOp, Tensor};

use super::weights::{LlamaBlock, Matrix};
use super::{LlamaConfig, LlamaWeights};
use crate::model::executor::{reach, Capture};
use crate::model::ops::{
    causal_mask, linear, rms_norm, rope_interleaved, rope_tables, softmax_last_dim,
};
use crate::model::{InputLayout, LayerContext, ModelError};

type Result<T> = std::result::Result<T, ModelError>;

/// Which positions get logits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Positions {
    /// Every position: `[batch, seq, vocab]` (perplexity, KL).
    All,
    /// Only the last: `[batch, vocab]` (generation; what candle-transformers' forward returns).
    Last,
}

/// Logits for token ids `[batch, seq]` (u32).
pub fn logits(
    config: &LlamaConfig,
    weights: &LlamaWeights,
    ctx: &mut LayerContext,
    ids: &Tensor,
    positions: Positions,
) -> Result<Tensor> {
    let start = Start {
        stage: 0,
        state: ids,
    };
    logits_from(config, weights, ctx, ids, positions, start, None)
}

/// Stages of a run: 0 the embedding lookup, `1 + 2b` the attention half of block `b`, `2 + 2b`
/// its MLP half, `1 + 2·blocks` the final norm and the output head. A stage's state is the
/// residual stream `[batch, seq, hidden]` at its start.
pub fn stage_count(weights: &LlamaWeights) -> usize {
    2 + 2 * weights.blocks.len()
}

/// The stage that reaches each quantizable layer, by layer name.
pub fn layer_stages(weights: &LlamaWeights) -> Vec<(String, usize)> {
    let mut stages = vec![(weights.token_embd.name.clone(), 0)];
    for (index, block) in weights.blocks.iter().enumerate() {
        for (position, matrix) in block.matrices().iter().enumerate() {
            // q, k, v, output are the attention half; gate, up, down the MLP half.
            let half = usize::from(position >= 4);
            stages.push((matrix.name.clone(), 1 + 2 * index + half));
        }
    }
    stages.push((weights.output.name.clone(), stage_count(weights) - 1));
    stages
}

/// Where a run starts: `stage` and the residual stream at its start (the ids for stage 0).
#[derive(Debug, Clone, Copy)]
pub struct Start<'a> {
    pub stage: usize,
    pub state: &'a Tensor,
}

/// Logits for token ids `[batch, seq]` (u32), running stages `start.stage..` and passing the
/// starting state of every later stage to `capture`.
pub fn logits_from(
    config: &LlamaConfig,
    weights: &LlamaWeights,
    ctx: &mut LayerContext,
    ids: &Tensor,
    positions: Positions,
    start: Start,
    mut capture: Capture,
) -> Result<Tensor> {
    let seq = ids.dim(1)?;
    let mut hidden = if start.stage == 0 {
        embed(config, weights, ctx, ids)?
    } else {
        start.state.clone()
    };
    let (cos, sin) = rope_tables(config.head_dim(), config.rope_base, seq)?;
    let mask = causal_mask(seq)?;
    for (index, block) in weights.blocks.iter().enumerate() {
        let attention_stage = 1 + 2 * index;
        if start.stage <= attention_stage {
            reach(start.stage, attention_stage, &mut capture, || {
                Ok(hidden.clone())
            })?;
            let normed = rms_norm(&hidden, &block.attn_norm, config.rms_norm_eps)?;
            let attended = attention(config, block, ctx, &normed, (&cos, &sin), &mask)?;
            hidden = (hidden + attended)?;
        }
        if start.stage <= attention_stage + 1 {
            reach(start.stage, attention_stage + 1, &mut capture, || {
                Ok(hidden.clone())
            })?;
            let normed = rms_norm(&hidden, &block.ffn_norm, config.rms_norm_eps)?;
            hidden = (&hidden + mlp(block, ctx, &normed)?)?;
        }
    }
    let head = stage_count(weights) - 1;
    reach(start.stage, head, &mut capture, || Ok(hidden.clone()))?;
    let hidden = rms_norm(&hidden, &weights.output_norm, config.rms_norm_eps)?;
    let hidden = match positions {
        Positions::All => hidden,
        Positions::Last => hidden.i((.., seq - 1, ..))?,
    };
    matmul(ctx, &weights.output, &hidden)
}

fn embed(
    config: &LlamaConfig,
    weights: &LlamaWeights,
    ctx: &mut LayerContext,
    ids: &Tensor,
) -> Result<Tensor> {
    let embd = &weights.token_embd.name;
    let mut dims = ids.dims().to_vec();
    dims.push(config.hidden_size);
    let hidden = ctx
        .weight(embd)?
        .index_select(&ids.flatten_all()?, 0)?
        .reshape(dims)?;
    Ok(ctx.output(embd, &hidden))
}

fn matmul(ctx: &mut LayerContext, layer: &Matrix, x: &Tensor) -> Result<Tensor> {
    let x = ctx.input(&layer.name, x, InputLayout::ReductionLast)?;
    let y = linear(&x, ctx.weight(&layer.name)?, None)?;
    Ok(ctx.output(&layer.name, &y))
}

fn mlp(block: &LlamaBlock, ctx: &mut LayerContext, x: &Tensor) -> Result<Tensor> {
    let gate = matmul(ctx, &block.ffn_gate, x)?;
    let up = matmul(ctx, &block.ffn_up, x)?;
    matmul(ctx, &block.ffn_down, &(gate.silu()? * up)?)
}

fn attention(
    config: &LlamaConfig,
    block: &LlamaBlock,
    ctx: &mut LayerContext,
    x: &Tensor,
    (cos, sin): (&Tensor, &Tensor),
    mask: &Tensor,
) -> Result<Tensor> {
    let (batch, seq, hidden) = x.dims3()?;
    let head_dim = config.head_dim();
    let heads = |y: Tensor, count: usize| -> candle_core::Result<Tensor> {
        y.reshape((batch, seq, count, head_dim))?
            .transpose(1, 2)?
            .contiguous()
    };
    let query = heads(matmul(ctx, &block.attn_q, x)?, config.num_heads)?;
    let key = heads(matmul(ctx, &block.attn_k, x)?, config.num_kv_heads)?;
    let value = heads(matmul(ctx, &block.attn_v, x)?, config.num_kv_heads)?;
    let query = rope_interleaved(&query, cos, sin)?;
    let key = rope_interleaved(&key, cos, sin)?;
    let groups = config.num_heads / config.num_kv_heads;
    let key = repeat_kv(key, groups)?;
    let value = repeat_kv(value, groups)?;
    let scores = (query.matmul(&key.t()?)? / (head_dim as f64).sqrt())?;
    let probs = softmax_last_dim(&scores.broadcast_add(mask)?)?;
    let context = probs
        .matmul(&value)?
        .transpose(1, 2)?
        .reshape((batch, seq, hidden))?;
    matmul(ctx, &block.attn_output, &context)
}

/// Grouped-query attention: each key/value head serves `groups` consecutive query heads
/// (`[b, kv, s, d]` → `[b, kv·groups, s, d]`), as candle-transformers' `repeat_kv`.
fn repeat_kv(x: Tensor, groups: usize) -> candle_core::Result<Tensor> {
    if groups == 1 {
        return Ok(x);
    }
    let (batch, kv_heads, seq, head_dim) = x.dims4()?;
    Tensor::cat(&vec![&x; groups], 2)?.reshape((batch, kv_heads * groups, seq, head_dim))
}
