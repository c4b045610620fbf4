//! Gradient-based proxies. The loss is the cross-entropy of the model's logits against the fp32
//! model's own top-1 predictions (pseudo-labels, so no labels are needed), averaged per batch.
//!
//! - Fisher (the `fisher` proxy of the analysis, NVIDIA ModelOpt's form): in output space,
//!   Σ_batches Σ (∂L/∂Y)² · (Y − Y_q)², with ∂L/∂Y taken at the fp32 model (a zero variable added
//!   to the layer's output through the executor) and Y_q the output with the layer quantized.
//!   The diagonal Fisher in weight space, Σ (∂L/∂W)² · (Q(W) − W)², is kept beside it
//!   ([`fisher_diagonal`], [`fisher_score`]).
//! - Hessian trace (HAWQ-V2): Hutchinson, Tr(H) ≈ mean over Rademacher probes v of vᵀHv, with
//!   Hv = (g(W + εv) − g(W − εv)) / 2ε (central difference of gradients, no double backward).

use std::collections::BTreeMap;

use candle_core::{DType, Device, Tensor, Var, D};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

use super::SensitivityError;
use crate::model::{LayerContext, PreparedAssignment, RunnableModel};

/// Relative finite-difference step: ε = STEP · RMS(W) (central differences are O(ε²) accurate;
/// much smaller steps drown in f32 rounding of the gradients).
const FD_STEP: f64 = 1e-2;

/// The top-1 class of each output row (the pseudo-labels).
pub fn pseudo_labels(reference_logits: &Tensor) -> Result<Tensor, SensitivityError> {
    let classes = reference_logits.dims().last().copied().unwrap_or(1);
    Ok(reference_logits.reshape(((), classes))?.argmax(D::Minus1)?)
}

fn cross_entropy(logits: &Tensor, labels: &Tensor) -> Result<Tensor, SensitivityError> {
    let classes = logits.dims().last().copied().unwrap_or(1);
    let logits = logits.reshape(((), classes))?;
    // Written out (max, exp, sum, log) so autograd sees every op.
    let max = logits.max_keepdim(1)?.detach();
    let shifted = logits.broadcast_sub(&max)?;
    let log_sum = shifted.exp()?.sum_keepdim(1)?.log()?;
    let log_probs = shifted.broadcast_sub(&log_sum)?;
    let picked = log_probs.gather(&labels.unsqueeze(1)?, 1)?;
    Ok(picked.mean_all()?.neg()?)
}

/// ∂L/∂W of `layer` at weight `weight` (everything else fp32) on one batch.
pub fn layer_gradient(
    model: &dyn RunnableModel,
    layer: &str,
    weight: &Tensor,
    batch: &Tensor,
    labels: &Tensor,
) -> Result<Tensor, SensitivityError> {
    let mut prepared = PreparedAssignment::fp32(model)?;
    let var = Var::from_tensor(weight)?;
    if let Some(entry) = prepared.layers.get_mut(layer) {
        entry.weight = Some(var.as_tensor().clone());
    }
    let loss = cross_entropy(&model.forward(batch, &prepared)?, labels)?;
    let grads = loss.backward()?;
    match grads.get(var.as_tensor()) {
        Some(grad) => Ok(grad.clone()),
        None => Ok(weight.zeros_like()?),
    }
}

/// Σ over batches of (∂L/∂W)², elementwise.
pub fn fisher_diagonal(
    model: &dyn RunnableModel,
    layer: &str,
    weight: &Tensor,
    batches: &[(Tensor, Tensor)],
) -> Result<Tensor, SensitivityError> {
    let mut total = weight.zeros_like()?;
    for (batch, labels) in batches {
        total = (total + layer_gradient(model, layer, weight, batch, labels)?.sqr()?)?;
    }
    Ok(total)
}

/// Hutchinson estimate of Tr(H) of the mean-over-batches loss with respect to `layer`'s weight.
pub fn hessian_trace(
    model: &dyn RunnableModel,
    layer: &str,
    weight: &Tensor,
    batches: &[(Tensor, Tensor)],
    probes: usize,
    seed: u64,
) -> Result<f64, SensitivityError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let count = weight.elem_count();
    let rms = (weight.sqr()?.mean_all()?.to_scalar::<f32>()? as f64)
        .sqrt()
        .max(1e-8);
    let step = FD_STEP * rms;
    let mut total = 0.0;
    for _ in 0..probes {
        let signs: Vec<f32> = (0..count)
            .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
            .collect();
        let probe = Tensor::from_vec(signs, weight.dims(), &Device::Cpu)?;
        let delta = (&probe * step)?;
        let (plus, minus) = ((weight + &delta)?, (weight - &delta)?);
        let mut quadratic = 0.0;
        for (batch, labels) in batches {
            let g_plus = layer_gradient(model, layer, &plus, batch, labels)?;
            let g_minus = layer_gradient(model, layer, &minus, batch, labels)?;
            let hv = ((g_plus - g_minus)? / (2.0 * step))?;
            quadratic += (hv * &probe)?
                .sum_all()?
                .to_dtype(DType::F64)?
                .to_scalar::<f64>()?;
        }
        total += quadratic / batches.len().max(1) as f64;
    }
    Ok(total / probes.max(1) as f64)
}

/// Σ fisher · (Q(W) − W)².
pub fn fisher_score(
    fisher: &Tensor,
    weight: &Tensor,
    quantized: &Tensor,
) -> Result<f64, SensitivityError> {
    let error = (quantized - weight)?.sqr()?;
    Ok((fisher * error)?
        .sum_all()?
        .to_dtype(DType::F64)?
        .to_scalar::<f64>()?)
}

/// One batch's fp32 output `Y` of a layer and `(∂L/∂Y)²`, elementwise.
#[derive(Debug, Clone)]
pub struct OutputGradient {
    pub output: Tensor,
    pub squared_gradient: Tensor,
}

/// `Y` and `(∂L/∂Y)²` of `layer` on every batch, everything fp32.
pub fn output_gradients(
    model: &dyn RunnableModel,
    layer: &str,
    batches: &[(Tensor, Tensor)],
) -> Result<Vec<OutputGradient>, SensitivityError> {
    let mut all = all_output_gradients(model, &[layer.to_string()], batches)?;
    Ok(all.remove(layer).unwrap_or_default())
}

/// `Y` and `(∂L/∂Y)²` of each of `layers` on every batch, everything fp32: per batch one run
/// that records every output and one run with a zero variable added to each layer's output,
/// whose single backward pass gives every layer's ∂L/∂Y (adding zeros changes no value, so each
/// is the gradient a run for that layer alone would give). Batches run in parallel.
pub fn all_output_gradients(
    model: &dyn RunnableModel,
    layers: &[String],
    batches: &[(Tensor, Tensor)],
) -> Result<BTreeMap<String, Vec<OutputGradient>>, SensitivityError> {
    let fp32 = PreparedAssignment::fp32(model)?;
    let per_batch = batches
        .par_iter()
        .map(|(batch, labels)| {
            let mut outputs = BTreeMap::new();
            model.run(batch, &mut LayerContext::new(&fp32).recording(&mut outputs))?;
            let mut offsets = BTreeMap::new();
            for layer in layers {
                let output = outputs
                    .get(layer)
                    .ok_or_else(|| SensitivityError::Invalid {
                        what: format!("layer `{layer}`"),
                        reason: "the model does not report its output (LayerContext::output)"
                            .into(),
                    })?;
                let offset = Var::zeros(output.shape(), output.dtype(), output.device())?;
                offsets.insert(layer.clone(), offset.as_tensor().clone());
            }
            let mut ctx = LayerContext::new(&fp32).offsetting(&offsets);
            let logits = model.run(batch, &mut ctx)?;
            if let Some(error) = ctx.take_error() {
                return Err(error.into());
            }
            let grads = cross_entropy(&logits, labels)?.backward()?;
            layers
                .iter()
                .map(|layer| {
                    let output = outputs[layer].detach();
                    let squared_gradient = match grads.get(&offsets[layer]) {
                        Some(gradient) => gradient.sqr()?,
                        None => output.zeros_like()?,
                    };
                    Ok(OutputGradient {
                        output,
                        squared_gradient,
                    })
                })
                .collect::<Result<Vec<_>, SensitivityError>>()
        })
        .collect::<Result<Vec<_>, SensitivityError>>()?;
    let mut by_layer: BTreeMap<String, Vec<OutputGradient>> = BTreeMap::new();
    for gradients in per_batch {
        for (layer, gradient) in layers.iter().zip(gradients) {
            by_layer.entry(layer.clone()).or_default().push(gradient);
        }
    }
    Ok(by_layer)
}

/// Σ over batches of Σ (∂L/∂Y)² · (Y − Y_q)², for the quantized outputs `Y_q` of each batch.
pub fn output_fisher_score(
    gradients: &[OutputGradient],
    quantized_outputs: &[Tensor],
) -> Result<f64, SensitivityError> {
    let mut total = 0.0;
    for (gradient, quantized) in gradients.iter().zip(quantized_outputs) {
        let error = (&gradient.output - quantized)?.sqr()?;
        total += (&gradient.squared_gradient * error)?
            .sum_all()?
            .to_dtype(DType::F64)?
            .to_scalar::<f64>()?;
    }
    Ok(total)
}
