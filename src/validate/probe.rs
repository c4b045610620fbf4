//! A measured per-layer error probe: for every layer and candidate, quantize that layer alone and
//! measure the mean KL divergence of the model's output from fp32 over calibration images, with a
//! 95% confidence interval (1.96 standard errors over images).
//!
//! This is what the demo feeds the search while the sensitivity stage (`bitplan analyze`) is not
//! merged; its table has its own schema so it is never mistaken for that stage's output.

use candle_core::{Device, Tensor, D};
use serde::{Deserialize, Serialize};

use super::error::ValidateError;
use super::evaluator::Evaluator;
use crate::model::{Assignment, LayerFormats, RunnableModel};
use crate::quant::Format;
use crate::space::Shorthand;

/// The schema tag of a probe table.
pub const PROBE_SCHEMA: &str = "bitplan.probe/1";

/// One layer in one candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeCell {
    pub candidate: String,
    pub weight_format: String,
    pub activation_format: String,
    /// Mean KL(fp32 ‖ quantized) of the output distribution, nats per image.
    pub error: f64,
    /// Half-width of the 95% confidence interval of `error`.
    pub ci95: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeLayer {
    pub name: String,
    pub cells: Vec<ProbeCell>,
    /// Candidates this layer cannot take, with the reason.
    pub unavailable: Vec<(String, String)>,
}

/// The whole probe (layer × candidate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensitivityProbe {
    pub schema: String,
    pub model: String,
    pub metric: String,
    pub images: usize,
    pub candidates: Vec<String>,
    pub layers: Vec<ProbeLayer>,
}

/// Probes every layer of the evaluator's model in every candidate on `images` calibration images;
/// `on_cell(done, total)` after each measurement.
pub fn probe_sensitivity(
    evaluator: &Evaluator,
    candidates: &[Shorthand],
    images: usize,
    on_cell: &mut dyn FnMut(usize, usize),
) -> Result<SensitivityProbe, ValidateError> {
    let graph = evaluator.classifier.model.graph().clone();
    let calibration = &evaluator.classifier.calibration;
    let count = images.clamp(1, calibration.len());
    let pixels = calibration.batch(0, count, &Device::Cpu)?.pixels;
    let reference =
        log_softmax(&evaluator.logits(&pixels, &evaluator.prepare(&Assignment::fp32(&graph))?)?)?;
    let total = graph.layers.len() * candidates.len();
    let mut layers = Vec::new();
    for layer in &graph.layers {
        let mut row = ProbeLayer {
            name: layer.name.clone(),
            cells: Vec::new(),
            unavailable: Vec::new(),
        };
        for shorthand in candidates {
            match formats_for(shorthand, &layer.weight_shape, &layer.input_shape) {
                Ok(formats) => {
                    let assignment = Assignment::fp32(&graph).with_layer(&layer.name, formats);
                    let prepared = evaluator.prepare(&assignment)?;
                    let quantized = log_softmax(&evaluator.logits(&pixels, &prepared)?)?;
                    let (error, ci95) = mean_kl(&reference, &quantized)?;
                    row.cells.push(ProbeCell {
                        candidate: shorthand.candidate.name.clone(),
                        weight_format: formats.weight.to_string(),
                        activation_format: formats.activation.to_string(),
                        error,
                        ci95,
                    });
                }
                Err(reason) => row
                    .unavailable
                    .push((shorthand.candidate.name.clone(), reason)),
            }
            on_cell(
                layers.len() * candidates.len() + row.cells.len() + row.unavailable.len(),
                total,
            );
        }
        layers.push(row);
    }
    Ok(SensitivityProbe {
        schema: PROBE_SCHEMA.to_string(),
        model: graph.model.clone(),
        metric: "mean KL(fp32 || quantized), nats per image".to_string(),
        images: count,
        candidates: candidates
            .iter()
            .map(|s| s.candidate.name.clone())
            .collect(),
        layers,
    })
}

/// The formats `shorthand` gives a layer of these shapes: the preferred weight format, else the
/// shorthand's fallback; `Err` when neither fits.
pub fn formats_for(
    shorthand: &Shorthand,
    weight_shape: &[usize],
    input_shape: &[usize],
) -> Result<LayerFormats, String> {
    let activation = shorthand.candidate.activation;
    let mut activation_shape = vec![1];
    activation_shape.extend_from_slice(input_shape);
    activation
        .check_activation_shape(&activation_shape)
        .map_err(|error| error.to_string())?;
    let preferred = shorthand.candidate.weight;
    let weight = match preferred.check_shape(weight_shape) {
        Ok(()) => preferred,
        Err(error) => fallback(shorthand.weight_fallback, weight_shape, error.to_string())?,
    };
    Ok(LayerFormats { weight, activation })
}

fn fallback(format: Option<Format>, shape: &[usize], reason: String) -> Result<Format, String> {
    match format {
        Some(format) if format.check_shape(shape).is_ok() => Ok(format),
        _ => Err(reason),
    }
}

fn log_softmax(logits: &Tensor) -> Result<Tensor, ValidateError> {
    Ok(candle_nn::ops::log_softmax(logits, D::Minus1)?)
}

/// Mean over images of KL(reference ‖ quantized) and its 95% CI half-width.
fn mean_kl(reference: &Tensor, quantized: &Tensor) -> Result<(f64, f64), ValidateError> {
    let per_image = (reference.exp()? * (reference - quantized)?)?
        .sum(D::Minus1)?
        .to_vec1::<f32>()?;
    let n = per_image.len().max(1) as f64;
    let mean = per_image.iter().map(|&v| v as f64).sum::<f64>() / n;
    let variance = per_image
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0).max(1.0);
    Ok((mean, 1.96 * (variance / n).sqrt()))
}
