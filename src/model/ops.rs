//! Differentiable building blocks for the transformer forwards, written from primitive tensor ops.
//!
//! candle's fused `softmax_last_dim`, `layer_norm`, `rms_norm` and `rope` kernels are faster but
//! record no backward op, so gradients silently stop at them; later stages (gradient-based
//! sensitivity, quantization-aware search) need gradients through the whole network. Every
//! function here is composed of ops that candle can differentiate.

use candle_core::{DType, Result, Tensor, D};

/// Softmax over the last dimension: `exp(x - max) / sum(exp(x - max))`.
/// Subtracting the row maximum keeps `exp` finite; `-inf` entries (masked positions) become 0.
pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let exp = x.broadcast_sub(&max)?.exp()?;
    let sum = exp.sum_keepdim(D::Minus1)?;
    exp.broadcast_div(&sum)
}

/// Layer normalization over the last dimension (BERT):
/// `(x - mean) / sqrt(var + eps) * weight + bias`, with the biased variance as PyTorch uses.
pub fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let centered = x.broadcast_sub(&mean)?;
    let variance = centered.sqr()?.mean_keepdim(D::Minus1)?;
    let normalized = centered.broadcast_div(&(variance + eps)?.sqrt()?)?;
    normalized.broadcast_mul(weight)?.broadcast_add(bias)
}

/// RMS normalization over the last dimension (Llama): `x / sqrt(mean(x²) + eps) * weight`.
pub fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64) -> Result<Tensor> {
    let mean_square = x.sqr()?.mean_keepdim(D::Minus1)?;
    let normalized = x.broadcast_div(&(mean_square + eps)?.sqrt()?)?;
    normalized.broadcast_mul(weight)
}

/// `x · weightᵀ (+ bias)` for `x` of any rank ≥ 2 and `weight` `[out, in]`, as `candle_nn::Linear`
/// computes it (a plain matmul with the transposed weight; differentiable). The leading dims of
/// `x` are folded into one, so the whole batch is one matrix product (candle runs a batched
/// product as one small product per batch entry, each packing the weight again).
///
/// A stack of weights `[c, out, in]` applies weight `i` to the `i`-th of `c` equal parts of
/// `x`'s first dim: `c` variants of a layer run side by side in one batch.
pub fn linear(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let mut dims = x.dims().to_vec();
    let width = x.dim(D::Minus1)?;
    let rows = x.elem_count() / width.max(1);
    let folded = match weight.dims() {
        [stack, _, _] => {
            if dims.len() < 2 || !dims[0].is_multiple_of(*stack) {
                candle_core::bail!(
                    "a stack of {stack} weights needs a batch of whole parts, got input {dims:?}"
                );
            }
            x.reshape((*stack, rows / stack, width))?
        }
        _ => x.reshape((rows, width))?,
    };
    *dims.last_mut().expect("rank >= 1") = weight.dim(D::Minus2)?;
    let y = folded.matmul(&weight.t()?)?.reshape(dims)?;
    match bias {
        Some(bias) => y.broadcast_add(bias),
        None => Ok(y),
    }
}

/// Rotary position embedding tables for positions `0..len`: `cos` and `sin` of
/// `position · base^(-2i/dim)` for `i` in `0..dim/2`, each `[len, dim/2]` (Su et al. 2021,
/// as llama.cpp and candle-transformers compute them).
pub fn rope_tables(dim: usize, base: f32, len: usize) -> Result<(Tensor, Tensor)> {
    let device = &candle_core::Device::Cpu;
    let inverse_frequencies: Vec<f32> = (0..dim)
        .step_by(2)
        .map(|i| 1f32 / base.powf(i as f32 / dim as f32))
        .collect();
    let half = inverse_frequencies.len();
    let inverse_frequencies = Tensor::from_vec(inverse_frequencies, (1, half), device)?;
    let positions = Tensor::arange(0u32, len as u32, device)?
        .to_dtype(DType::F32)?
        .reshape((len, 1))?;
    let angles = positions.matmul(&inverse_frequencies)?;
    Ok((angles.cos()?, angles.sin()?))
}

/// Rotary embedding in the interleaved layout of GGUF Llama checkpoints (llama.cpp's
/// `rope_i`): dimensions `(2i, 2i+1)` of each head form one rotated pair.
/// `x` is `[batch, heads, seq, head_dim]`; `cos`, `sin` are `[seq, head_dim/2]`.
pub fn rope_interleaved(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    let (batch, heads, seq, head_dim) = x.dims4()?;
    let pairs = x.reshape((batch, heads, seq, head_dim / 2, 2))?;
    let even = pairs.narrow(D::Minus1, 0, 1)?;
    let odd = pairs.narrow(D::Minus1, 1, 1)?;
    let cos = cos.reshape((1, 1, seq, head_dim / 2, 1))?;
    let sin = sin.reshape((1, 1, seq, head_dim / 2, 1))?;
    let rotated_even = (even.broadcast_mul(&cos)? - odd.broadcast_mul(&sin)?)?;
    let rotated_odd = (even.broadcast_mul(&sin)? + odd.broadcast_mul(&cos)?)?;
    Tensor::cat(&[rotated_even, rotated_odd], D::Minus1)?.reshape((batch, heads, seq, head_dim))
}

/// Additive causal mask `[seq, seq]`: 0 on and below the diagonal, `-inf` above it.
pub fn causal_mask(seq: usize) -> Result<Tensor> {
    let values: Vec<f32> = (0..seq)
        .flat_map(|row| (0..seq).map(move |col| if col > row { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Tensor::from_vec(values, (seq, seq), &candle_core::Device::Cpu)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn sample(shape: &[usize], seed: u32) -> Tensor {
        let count: usize = shape.iter().product();
        let values: Vec<f32> = (0..count)
            .map(|i| (i as f32 * 0.37 + seed as f32).sin() * 3.0)
            .collect();
        Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
    }

    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar()
            .unwrap()
    }

    #[test]
    fn softmax_matches_candle_fused() {
        let x = sample(&[2, 3, 7], 1);
        let fused = candle_nn::ops::softmax_last_dim(&x).unwrap();
        assert!(max_abs_diff(&softmax_last_dim(&x).unwrap(), &fused) < 1e-6);
    }

    #[test]
    fn layer_norm_matches_candle_fused() {
        let x = sample(&[2, 5, 16], 2);
        let weight = sample(&[16], 3);
        let bias = sample(&[16], 4);
        let fused = candle_nn::ops::layer_norm(&x, &weight, &bias, 1e-12).unwrap();
        assert!(max_abs_diff(&layer_norm(&x, &weight, &bias, 1e-12).unwrap(), &fused) < 1e-5);
    }

    #[test]
    fn rms_norm_matches_candle_fused() {
        let x = sample(&[2, 5, 16], 5);
        let weight = sample(&[16], 6);
        let fused = candle_nn::ops::rms_norm(&x, &weight, 1e-5).unwrap();
        assert!(max_abs_diff(&rms_norm(&x, &weight, 1e-5).unwrap(), &fused) < 1e-5);
    }

    #[test]
    fn rope_matches_candle_fused() {
        let x = sample(&[2, 3, 5, 8], 7);
        let (cos, sin) = rope_tables(8, 10000.0, 5).unwrap();
        let fused = candle_nn::rotary_emb::rope_i(&x, &cos, &sin).unwrap();
        assert!(max_abs_diff(&rope_interleaved(&x, &cos, &sin).unwrap(), &fused) < 1e-5);
    }

    #[test]
    fn gradients_flow_through_every_op() {
        let x = Var::from_tensor(&sample(&[1, 2, 4, 8], 8)).unwrap();
        let weight = sample(&[8], 9);
        let (cos, sin) = rope_tables(8, 10000.0, 4).unwrap();
        let normed = rms_norm(x.as_tensor(), &weight, 1e-5).unwrap();
        let normed = layer_norm(&normed, &weight, &weight, 1e-5).unwrap();
        let rotated = rope_interleaved(&normed, &cos, &sin).unwrap();
        let scores = rotated.matmul(&rotated.t().unwrap()).unwrap();
        let scores = scores.broadcast_add(&causal_mask(4).unwrap()).unwrap();
        let probs = softmax_last_dim(&scores).unwrap();
        let loss = probs
            .matmul(&rotated)
            .unwrap()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = loss.backward().unwrap();
        let grad = grads
            .get(x.as_tensor())
            .expect("gradient reaches the input");
        let norm: f32 = grad.sqr().unwrap().sum_all().unwrap().to_scalar().unwrap();
        assert!(norm > 0.0 && norm.is_finite());
    }
}
