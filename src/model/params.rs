//! Inference parameters of a layer (batch norm already folded in) and the folding itself.

use candle_core::{DType, Tensor};

/// Weight and bias of one quantizable layer as a runtime would run it.
#[derive(Debug, Clone)]
pub struct LayerParams {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
}

/// Batch-norm statistics and affine parameters of one BN layer (`[channels]` each).
#[derive(Debug, Clone)]
pub struct BatchNormParams {
    pub gamma: Tensor,
    pub beta: Tensor,
    pub running_mean: Tensor,
    pub running_var: Tensor,
    pub eps: f64,
}

/// PyTorch's and candle's BatchNorm default epsilon.
pub const BATCH_NORM_EPS: f64 = 1e-5;

/// Folds `BN(conv(x))` into one conv: with `s = γ / sqrt(var + ε)` per output channel,
/// `W' = W · s` and `b' = (b − mean) · s + β` (b = 0 when the conv has no bias). Done in f64 so the
/// folded layer matches the unfolded one to f32 rounding.
pub fn fold_batch_norm(
    weight: &Tensor,
    bias: Option<&Tensor>,
    bn: &BatchNormParams,
) -> candle_core::Result<LayerParams> {
    let f64_of = |t: &Tensor| t.to_dtype(DType::F64);
    let scale = (f64_of(&bn.gamma)? / (f64_of(&bn.running_var)? + bn.eps)?.sqrt()?)?;
    let out_channels = scale.dim(0)?;
    let mut scale_shape = vec![1usize; weight.rank()];
    scale_shape[0] = out_channels;
    let folded_weight = f64_of(weight)?.broadcast_mul(&scale.reshape(scale_shape)?)?;
    let bias = match bias {
        Some(bias) => f64_of(bias)?,
        None => Tensor::zeros(out_channels, DType::F64, weight.device())?,
    };
    let folded_bias = ((bias - f64_of(&bn.running_mean)?)? * &scale)? + f64_of(&bn.beta)?;
    Ok(LayerParams {
        weight: folded_weight.to_dtype(DType::F32)?,
        bias: Some(folded_bias?.to_dtype(DType::F32)?),
    })
}
