//! Static description of a CNN architecture: its quantizable layers (geometry, whether a batch
//! norm follows) and which layers feed which. The forward wiring lives beside each architecture.

use super::OpKind;

/// Geometry of one quantizable layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    /// 2-D convolution, square kernel; `batch_norm` = a BN follows (folded at load).
    Conv {
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        groups: usize,
        batch_norm: bool,
    },
    Linear {
        in_features: usize,
        out_features: usize,
    },
}

/// One quantizable layer of an architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerSpec {
    /// Stable layer name; tensors are `{name}.weight`, `{name}.bias`, `{name}.bn.*`.
    pub name: &'static str,
    pub kind: LayerKind,
    /// Quantizable layers whose outputs reach this layer's input (through ReLU, pooling, adds).
    pub inputs_from: &'static [&'static str],
}

impl LayerSpec {
    pub fn op(&self) -> OpKind {
        match self.kind {
            LayerKind::Conv {
                in_channels,
                out_channels,
                groups,
                ..
            } if groups > 1 && groups == in_channels && groups == out_channels => {
                OpKind::DepthwiseConv2d
            }
            LayerKind::Conv { .. } => OpKind::Conv2d,
            LayerKind::Linear { .. } => OpKind::Linear,
        }
    }

    /// Weight shape as stored: `[out, in/groups, k, k]` or `[out, in]`.
    pub fn weight_shape(&self) -> Vec<usize> {
        match self.kind {
            LayerKind::Conv {
                in_channels,
                out_channels,
                kernel,
                groups,
                ..
            } => vec![out_channels, in_channels / groups, kernel, kernel],
            LayerKind::Linear {
                in_features,
                out_features,
            } => vec![out_features, in_features],
        }
    }

    /// Number of output channels / features (= bias length).
    pub fn out_channels(&self) -> usize {
        match self.kind {
            LayerKind::Conv { out_channels, .. } => out_channels,
            LayerKind::Linear { out_features, .. } => out_features,
        }
    }

    pub fn batch_norm(&self) -> bool {
        matches!(
            self.kind,
            LayerKind::Conv {
                batch_norm: true,
                ..
            }
        )
    }
}
