//! The BERT encoder forward, differentiable end to end (own layer norm and softmax), with every
//! quantizable layer reached through the executor's [`LayerContext`].

use candle_core::{DType, Device, Tensor, D};

use super::weights::{Block, Dense, Norm, Table};
use super::{Activation, BertConfig, BertWeights};
use crate::model::executor::{reach, Capture};
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
    encode_from(config, weights, ctx, batch, start, None)
}

/// Stages per block, one per linear layer: query, key, value, attention output, intermediate,
/// output. A cell of a late layer in a block starts at its own layer, not at the block's start.
const BLOCK_STAGES: usize = 6;

/// Stages of a run: 0 the embeddings, then `1 + 6b + i` the `i`-th linear layer of block `b`
/// ([`super::weights::Block::dense_layers`] order). A stage's state is what the rest of the
/// block needs from before it, concatenated along the last dim: the hidden states at the block's
/// start, then the query and key projections already made (query, key, value stages); the
/// hidden states and the attention context (attention output); the attended states
/// (intermediate); the attended states and the activated intermediate (output).
pub fn stage_count(weights: &BertWeights) -> usize {
    1 + BLOCK_STAGES * weights.blocks.len()
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
            stages.push((dense.name.clone(), 1 + BLOCK_STAGES * index + position));
        }
    }
    stages
}

/// Where a run starts: `stage` and the state at its start (anything for stage 0).
#[derive(Debug, Clone, Copy)]
pub struct Start<'a> {
    pub stage: usize,
    pub state: &'a Tensor,
}

/// Last hidden states, running stages `start.stage..` and passing the starting state of every
/// later stage to `capture` (when there is one).
pub fn encode_from(
    config: &BertConfig,
    weights: &BertWeights,
    ctx: &mut LayerContext,
    batch: &TokenBatch,
    start: Start,
    mut capture: Capture,
) -> Result<Tensor> {
    let mut hidden = (start.stage == 0)
        .then(|| embed(config, weights, ctx, batch))
        .transpose()?;
    // (1 − mask) · f32::MIN added to the scores, as Hugging Face and candle-transformers do.
    let (size, seq) = batch.mask.dims2()?;
    let additive_mask = ((1.0 - &batch.mask)? * f64::from(f32::MIN))?.reshape((size, 1, 1, seq))?;
    for (index, block) in weights.blocks.iter().enumerate() {
        let first = 1 + BLOCK_STAGES * index;
        if start.stage >= first + BLOCK_STAGES {
            continue;
        }
        let entry = match hidden.take() {
            Some(hidden) => Entry::Before(hidden),
            None => Entry::At(start.stage - first, start.state),
        };
        let run = BlockRun {
            config,
            block,
            first,
            start: start.stage,
            additive_mask: &additive_mask,
        };
        hidden = Some(run.from(ctx, entry, &mut capture)?);
    }
    // A start past the last block is refused by `run_from`; the embeddings-only case (no
    // blocks) returns the embeddings.
    hidden.ok_or_else(|| ModelError::Invalid {
        what: format!("run from stage {}", start.stage),
        reason: format!("the encoder has stages 0..{}", stage_count(weights)),
    })
}

/// How a run enters a block: from an earlier stage with the hidden states, or at the block's
/// `sub`-th stage with that stage's captured state.
enum Entry<'a> {
    Before(Tensor),
    At(usize, &'a Tensor),
}

/// One block of one run.
struct BlockRun<'a> {
    config: &'a BertConfig,
    block: &'a Block,
    /// The block's first stage.
    first: usize,
    /// The run's first stage.
    start: usize,
    additive_mask: &'a Tensor,
}

impl BlockRun<'_> {
    /// The block's output from `entry` on, capturing the state at each later stage.
    fn from(&self, ctx: &mut LayerContext, entry: Entry, capture: &mut Capture) -> Result<Tensor> {
        let (sub, state) = match entry {
            Entry::Before(hidden) => (0, hidden),
            Entry::At(sub, state) => (sub, state.clone()),
        };
        let width = self.config.hidden_size;
        let block = self.block;
        let attended = match sub {
            0..=3 => {
                let (hidden, context) = if sub == 3 {
                    split_two(&state, width)?
                } else {
                    self.attention(ctx, sub, state.clone(), capture)?
                };
                reach(self.start, self.first + 3, capture, || {
                    concat(&[hidden.clone(), context.clone()])
                })?;
                let output = dense(ctx, &block.attention_output, &context)?;
                norm(&(output + &hidden)?, &block.attention_norm, self.config)?
            }
            4 => state.clone(),
            _ => split_two(&state, width)?.0,
        };
        let activated = if sub <= 4 {
            reach(self.start, self.first + 4, capture, || Ok(attended.clone()))?;
            let inner = dense(ctx, &block.intermediate, &attended)?;
            let activated = match self.config.activation {
                Activation::GeluErf => inner.gelu_erf()?,
                Activation::GeluTanh => inner.gelu()?,
                Activation::Relu => inner.relu()?,
            };
            reach(self.start, self.first + 5, capture, || {
                concat(&[attended.clone(), activated.clone()])
            })?;
            activated
        } else {
            split_two(&state, width)?.1
        };
        let output = dense(ctx, &block.output, &activated)?;
        norm(&(output + attended)?, &block.output_norm, self.config)
    }

    /// The query, key and value projections from stage `sub` (0, 1 or 2) on, then attention:
    /// (hidden states, context). `state` is the hidden states, then the projections already
    /// made.
    fn attention(
        &self,
        ctx: &mut LayerContext,
        sub: usize,
        state: Tensor,
        capture: &mut Capture,
    ) -> Result<(Tensor, Tensor)> {
        let width = self.config.hidden_size;
        let mut parts = if sub == 0 {
            vec![state]
        } else {
            split(&state, &vec![width; sub + 1])?
        };
        let block = self.block;
        let projections = [&block.query, &block.key, &block.value];
        for (position, layer) in projections.iter().enumerate().skip(sub) {
            reach(self.start, self.first + position, capture, || {
                concat(&parts)
            })?;
            let projected = dense(ctx, layer, &parts[0])?;
            parts.push(projected);
        }
        let context = self.attend(&parts[1], &parts[2], &parts[3])?;
        Ok((parts.swap_remove(0), context))
    }

    /// Multi-head self-attention of projected queries, keys and values `[batch, seq, hidden]`:
    /// the context `[batch, seq, hidden]` the attention output layer takes.
    fn attend(&self, query: &Tensor, key: &Tensor, value: &Tensor) -> Result<Tensor> {
        let config = self.config;
        let (size, seq, width) = query.dims3()?;
        let (heads, head_dim) = (config.num_attention_heads, config.head_dim());
        let split = |x: &Tensor| {
            x.reshape((size, seq, heads, head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let (query, key, value) = (split(query)?, split(key)?, split(value)?);
        let scores = (query.matmul(&key.t()?)? / (head_dim as f64).sqrt())?;
        let probs = softmax_last_dim(&scores.broadcast_add(self.additive_mask)?)?;
        let context = probs.matmul(&value)?.transpose(1, 2)?.contiguous()?;
        Ok(context.reshape((size, seq, width))?)
    }
}

/// `state` cut along its last dim into consecutive parts of these widths (each contiguous, so
/// a layer run on a part gives exactly what it gave on the tensor the part was cut from).
fn split(state: &Tensor, widths: &[usize]) -> Result<Vec<Tensor>> {
    let mut offset = 0;
    widths
        .iter()
        .map(|&width| {
            let part = state.narrow(D::Minus1, offset, width)?.contiguous()?;
            offset += width;
            Ok(part)
        })
        .collect()
}

/// `state` cut into its first `width` columns and the rest.
fn split_two(state: &Tensor, width: usize) -> Result<(Tensor, Tensor)> {
    let rest = state.dim(D::Minus1)? - width;
    let first = state.narrow(D::Minus1, 0, width)?.contiguous()?;
    let second = state.narrow(D::Minus1, width, rest)?.contiguous()?;
    Ok((first, second))
}

/// Parts joined along the last dim (a single part as it is).
fn concat(parts: &[Tensor]) -> candle_core::Result<Tensor> {
    match parts {
        [one] => Ok(one.clone()),
        _ => Tensor::cat(parts, D::Minus1),
    }
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
