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

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// conv → BN (eval) against the folded conv, on seeded data.
    #[test]
    fn folded_conv_matches_conv_then_batch_norm() -> candle_core::Result<()> {
        let device = Device::Cpu;
        let ramp = |n: usize, scale: f64, offset: f64| {
            let values: Vec<f32> = (0..n)
                .map(|i| ((i as f64 * 0.37).sin() * scale + offset) as f32)
                .collect();
            values
        };
        let weight = Tensor::from_vec(ramp(4 * 3 * 9, 0.5, 0.0), (4, 3, 3, 3), &device)?;
        let x = Tensor::from_vec(ramp(2 * 3 * 25, 1.0, 0.1), (2, 3, 5, 5), &device)?;
        let bn = BatchNormParams {
            gamma: Tensor::from_vec(ramp(4, 0.3, 1.0), 4, &device)?,
            beta: Tensor::from_vec(ramp(4, 0.2, 0.0), 4, &device)?,
            running_mean: Tensor::from_vec(ramp(4, 0.4, 0.1), 4, &device)?,
            running_var: Tensor::from_vec(ramp(4, 0.3, 1.2), 4, &device)?,
            eps: BATCH_NORM_EPS,
        };
        let per_channel = |t: &Tensor| t.reshape((1, 4, 1, 1));
        let y = x.conv2d(&weight, 1, 1, 1, 1)?;
        let normalized = y
            .broadcast_sub(&per_channel(&bn.running_mean)?)?
            .broadcast_div(&per_channel(&(&bn.running_var + bn.eps)?.sqrt()?)?)?;
        let expected = normalized
            .broadcast_mul(&per_channel(&bn.gamma)?)?
            .broadcast_add(&per_channel(&bn.beta)?)?;
        let folded = fold_batch_norm(&weight, None, &bn)?;
        let bias = folded.bias.as_ref().map(per_channel).transpose()?;
        let got = x
            .conv2d(&folded.weight, 1, 1, 1, 1)?
            .broadcast_add(&bias.expect("folded bias"))?;
        let diff = (got - expected)?
            .abs()?
            .flatten_all()?
            .max(0)?
            .to_scalar::<f32>()?;
        assert!(diff < 1e-5, "max difference {diff}");
        Ok(())
    }
}
