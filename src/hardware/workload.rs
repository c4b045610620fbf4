//! What one layer call does, in numbers: a (grouped) GEMM of rows x cols x depth, the weight
//! elements stored and read, and the activation elements read and written. The cost model
//! prices a workload; it never looks at tensors.

use serde::{Deserialize, Serialize};

use super::error::HardwareError;
use crate::model::{Layer, OpKind};

/// One layer call for a whole batch (all samples, all tokens).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    pub op: OpKind,
    /// Independent GEMMs of the same shape (channels of a depthwise conv; 1 otherwise).
    pub groups: u64,
    /// GEMM M: output rows per group (samples x tokens x output pixels).
    pub rows: u64,
    /// GEMM N: output columns per group (output features or channels).
    pub cols: u64,
    /// GEMM K: reduction length (input features x kernel area).
    pub depth: u64,
    /// Weight elements stored (product of the weight shape; biases are not counted).
    pub weight_elements: u64,
    /// Weight elements read by one call (the gathered rows of an embedding; all others read all).
    pub weight_elements_read: u64,
    /// Activation elements read (the layer input for all samples).
    pub input_elements: u64,
    /// Activation elements written (the layer output for all samples).
    pub output_elements: u64,
}

impl Workload {
    /// Multiply-accumulates of the call: groups x rows x cols x depth.
    pub fn macs(&self) -> u64 {
        self.groups * self.rows * self.cols * self.depth
    }

    /// The workload of `layer` for `samples` samples (batch, times sequence length for
    /// per-token models).
    ///
    /// GEMM view of each op (weight shapes as stored):
    /// - linear `[out, in]`: N = out, K = in, M = samples x macs_per_sample / (N K);
    /// - conv2d `[out, in/g, kh, kw]` (im2col): N = out, K = in/g kh kw, M = samples x out pixels;
    /// - depthwise `[ch, 1, kh, kw]`: ch groups of N = 1, K = kh kw, M = samples x out pixels;
    /// - attention matmul (no weight): K = last input dim, N = last output dim;
    /// - embedding `[vocab, dim]`: no MACs; reads `samples` rows of `dim`.
    pub fn from_layer(layer: &Layer, samples: u64) -> Result<Workload, HardwareError> {
        let weight_elements: u64 = if layer.weight_shape.is_empty() {
            0
        } else {
            layer.weight_shape.iter().map(|&d| d as u64).product()
        };
        let input_elements = samples * product(&layer.input_shape);
        let output_elements = samples * product(&layer.output_shape);
        let dim = |shape: &[usize], index: usize| shape.get(index).map(|&d| d as u64).unwrap_or(1);
        let (groups, cols, depth) = match layer.op {
            OpKind::Linear => (1, dim(&layer.weight_shape, 0), dim(&layer.weight_shape, 1)),
            OpKind::Conv2d => (
                1,
                dim(&layer.weight_shape, 0),
                weight_elements / dim(&layer.weight_shape, 0).max(1),
            ),
            OpKind::DepthwiseConv2d => {
                let channels = dim(&layer.weight_shape, 0);
                (channels, 1, weight_elements / channels.max(1))
            }
            OpKind::AttentionMatmul => {
                let last = |shape: &[usize]| shape.last().map(|&d| d as u64).unwrap_or(1);
                (1, last(&layer.output_shape), last(&layer.input_shape))
            }
            OpKind::Embedding => {
                let width = dim(&layer.weight_shape, 1);
                let read = (samples * width).min(weight_elements);
                return Ok(Workload {
                    op: layer.op,
                    groups: 1,
                    rows: samples,
                    cols: width,
                    depth: 0,
                    weight_elements,
                    weight_elements_read: read,
                    input_elements,
                    output_elements,
                });
            }
        };
        let per_row = groups * cols * depth;
        if per_row == 0 || layer.macs_per_sample % per_row != 0 {
            return Err(HardwareError::Layer {
                layer: layer.name.clone(),
                message: format!(
                    "macs_per_sample {} is not a multiple of groups x N x K = {groups} x {cols} x {depth} \
                     derived from weight shape {:?} and output shape {:?}",
                    layer.macs_per_sample, layer.weight_shape, layer.output_shape
                ),
            });
        }
        Ok(Workload {
            op: layer.op,
            groups,
            rows: samples * (layer.macs_per_sample / per_row),
            cols,
            depth,
            weight_elements,
            weight_elements_read: weight_elements,
            input_elements,
            output_elements,
        })
    }
}

fn product(shape: &[usize]) -> u64 {
    shape.iter().map(|&d| d as u64).product()
}
