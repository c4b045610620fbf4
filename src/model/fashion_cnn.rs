//! `fashion-cnn`: the embedded default model, a small residual CNN trained here on Fashion-MNIST
//! (`bitplan train-reference fashion-cnn`). ~33k parameters, ~2.2M MACs per image:
//!
//! ```text
//! stem        conv3x3 1→16 stride 2 + BN + ReLU               28x28 → 14x14
//! res1        [conv3x3 16→16 + BN + ReLU, conv3x3 16→16 + BN] + identity, ReLU
//! down        conv3x3 16→32 stride 2 + BN + ReLU               14x14 → 7x7
//! res2        [conv3x3 32→32 + BN + ReLU, conv3x3 32→32 + BN] + identity, ReLU
//! ds          depthwise conv3x3 32 + BN + ReLU, pointwise conv1x1 32→64 + BN + ReLU
//! head        global average pool, linear 64→10
//! ```

use candle_core::Tensor;

use super::arch::{CnnArch, LayerOps};
use super::spec::{LayerKind, LayerSpec};
use super::ModelError;

const fn conv(
    name: &'static str,
    channels: (usize, usize),
    kernel: usize,
    stride: usize,
    groups: usize,
    inputs_from: &'static [&'static str],
) -> LayerSpec {
    LayerSpec {
        name,
        kind: LayerKind::Conv {
            in_channels: channels.0,
            out_channels: channels.1,
            kernel,
            stride,
            padding: kernel / 2,
            groups,
            batch_norm: true,
        },
        inputs_from,
    }
}

const LAYERS: &[LayerSpec] = &[
    conv("stem", (1, 16), 3, 2, 1, &[]),
    conv("res1.conv1", (16, 16), 3, 1, 1, &["stem"]),
    conv("res1.conv2", (16, 16), 3, 1, 1, &["res1.conv1"]),
    conv("down", (16, 32), 3, 2, 1, &["stem", "res1.conv2"]),
    conv("res2.conv1", (32, 32), 3, 1, 1, &["down"]),
    conv("res2.conv2", (32, 32), 3, 1, 1, &["res2.conv1"]),
    conv("ds.depthwise", (32, 32), 3, 1, 32, &["down", "res2.conv2"]),
    conv("ds.pointwise", (32, 64), 1, 1, 1, &["ds.depthwise"]),
    LayerSpec {
        name: "head",
        kind: LayerKind::Linear {
            in_features: 64,
            out_features: 10,
        },
        inputs_from: &["ds.pointwise"],
    },
];

/// The architecture. Normalization: Fashion-MNIST training-set pixel mean and std (of x/255).
pub static ARCH: CnnArch = CnnArch {
    name: "fashion-cnn",
    layers: LAYERS,
    input_shape: [1, 28, 28],
    normalize: (0.2860, 0.3530),
    classes: 10,
    wiring,
};

fn wiring(arch: &CnnArch, ops: &mut dyn LayerOps, x: &Tensor) -> Result<Tensor, ModelError> {
    let x = arch.layer(ops, "stem", x)?.relu()?;
    let x = residual(arch, ops, "res1", &x)?;
    let x = arch.layer(ops, "down", &x)?.relu()?;
    let x = residual(arch, ops, "res2", &x)?;
    let x = arch.layer(ops, "ds.depthwise", &x)?.relu()?;
    let x = arch.layer(ops, "ds.pointwise", &x)?.relu()?;
    let pooled = x.mean((2, 3))?;
    arch.layer(ops, "head", &pooled)
}

/// `relu(x + conv2(relu(conv1(x))))`, BN folded into both convs.
fn residual(
    arch: &CnnArch,
    ops: &mut dyn LayerOps,
    block: &str,
    x: &Tensor,
) -> Result<Tensor, ModelError> {
    let h = arch.layer(ops, &format!("{block}.conv1"), x)?.relu()?;
    let h = arch.layer(ops, &format!("{block}.conv2"), &h)?;
    Ok((x + h)?.relu()?)
}
