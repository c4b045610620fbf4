//! A network seen as a graph of quantizable layers: what the sensitivity analyzer, the cost model
//! and the search need to know about each layer, and nothing about how to run it.

use serde::{Deserialize, Serialize};

/// What a quantizable layer computes. The cost model keys efficiency and native-format support on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpKind {
    /// y = x·Wᵀ + b, weight `[out, in]`.
    Linear,
    /// Dense 2-D convolution, weight `[out, in, kh, kw]`.
    Conv2d,
    /// Depthwise 2-D convolution (groups = channels), weight `[channels, 1, kh, kw]`.
    DepthwiseConv2d,
    /// Table lookup, weight `[vocab, dim]`; no MACs.
    Embedding,
    /// Activation × activation matmul inside attention (Q·Kᵀ or P·V); no weight.
    AttentionMatmul,
}

/// One quantizable layer. Shapes are per sample (per token for sequence models); the cost model
/// multiplies by batch and sequence length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    /// Stable name, used in search spaces, plans and exports (e.g. `stem.conv`, `blk.3.attn_q`).
    pub name: String,
    pub op: OpKind,
    /// Weight shape as stored (`[out, in]`, `[out, in, kh, kw]`); empty for weightless ops.
    pub weight_shape: Vec<usize>,
    /// Weight (and bias) parameter count.
    pub params: usize,
    /// Multiply-accumulates per sample (per token for sequence models).
    pub macs_per_sample: u64,
    /// Input activation shape per sample, without the batch dimension.
    pub input_shape: Vec<usize>,
    /// Output activation shape per sample, without the batch dimension.
    pub output_shape: Vec<usize>,
    /// Names of the quantizable layers whose outputs reach this layer's input (through any
    /// number of non-quantizable ops such as activations, pooling, norms and residual adds).
    pub inputs_from: Vec<String>,
    /// Names of the quantizable layers this layer's output reaches.
    pub outputs_to: Vec<String>,
}

/// The quantizable layers of one model, in execution order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    /// Model name (a reference name such as `fashion-cnn`, or the file stem).
    pub model: String,
    /// What one sample is: `image` or `token`; sets the unit of `macs_per_sample`.
    pub sample_unit: String,
    pub layers: Vec<Layer>,
}

impl Graph {
    pub fn layer(&self, name: &str) -> Option<&Layer> {
        self.layers.iter().find(|layer| layer.name == name)
    }

    pub fn total_params(&self) -> usize {
        self.layers.iter().map(|layer| layer.params).sum()
    }

    pub fn total_macs_per_sample(&self) -> u64 {
        self.layers.iter().map(|layer| layer.macs_per_sample).sum()
    }
}

impl Layer {
    /// Whether the layer has a weight to quantize (attention matmuls do not).
    pub fn has_weight(&self) -> bool {
        !self.weight_shape.is_empty()
    }

    /// Whether the layer's input is an activation that can be quantized (an embedding's input
    /// is token ids).
    pub fn has_activation_input(&self) -> bool {
        self.op != OpKind::Embedding
    }

    /// The per-sample input shape as an activation quantizer sees it: reduction dim last, so
    /// block formats run their blocks along it. Convs take `[C, H, W]` and quantize channels-last
    /// `[H, W, C]` (NHWC, as accelerators lay activations out); other layers as they are.
    pub fn activation_shape(&self) -> Vec<usize> {
        match (self.op, self.input_shape.as_slice()) {
            (OpKind::Conv2d | OpKind::DepthwiseConv2d, [c, h, w]) => vec![*h, *w, *c],
            _ => self.input_shape.clone(),
        }
    }
}
