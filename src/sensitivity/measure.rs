//! The measured error: how far the outputs with some layers quantized are from the fp32 outputs,
//! one value per calibration batch.

use std::fmt;
use std::str::FromStr;

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

use super::SensitivityError;
use crate::model::{PreparedAssignment, RunnableModel};

/// The output distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// KL(softmax(fp32) ‖ softmax(quantized)) per output row (sample, or token for LMs), in nats.
    Kl,
    /// 1 − cosine similarity of each output row (embedding models).
    Cosine,
}

impl FromStr for Metric {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "kl" => Ok(Self::Kl),
            "cosine" => Ok(Self::Cosine),
            other => Err(format!(
                "unknown metric `{other}`: valid metrics are kl, cosine"
            )),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Self::Kl => "kl",
            Self::Cosine => "cosine",
        })
    }
}

/// The fp32 output of one batch, kept as the metric needs it (f32: the model's own precision,
/// half the memory of f64 for a 49k-token vocabulary).
#[derive(Debug, Clone)]
pub struct Reference {
    metric: Metric,
    /// Row width (classes, vocabulary or embedding width).
    width: usize,
    /// The fp32 output rows, flattened.
    values: Vec<f32>,
    /// KL: softmax of each row, flattened; empty for cosine.
    probs: Vec<f32>,
    /// KL: log Σ exp of each row; cosine: ‖row‖² of each row.
    per_row: Vec<f64>,
}

impl Reference {
    /// The reference for `metric` from fp32 outputs `[..., width]`.
    pub fn new(metric: Metric, output: &Tensor) -> Result<Self, SensitivityError> {
        let (width, values) = flat_rows(output)?;
        let rows = values.chunks(width);
        let (probs, per_row) = match metric {
            Metric::Kl => {
                let per_row: Vec<f64> = rows.map(log_sum_exp).collect();
                let probs = values
                    .chunks(width)
                    .zip(&per_row)
                    .flat_map(|(row, lse)| {
                        row.iter().map(move |&v| (f64::from(v) - lse).exp() as f32)
                    })
                    .collect();
                (probs, per_row)
            }
            Metric::Cosine => (Vec::new(), rows.map(|row| dot(row, row)).collect()),
        };
        Ok(Self {
            metric,
            width,
            values,
            probs,
            per_row,
        })
    }

    /// Mean distance of the rows of `output` (same shape as the reference) to the reference.
    pub fn distance(&self, output: &Tensor) -> Result<f64, SensitivityError> {
        let (width, values) = flat_rows(output)?;
        if width != self.width || values.len() != self.values.len() {
            return Err(SensitivityError::Invalid {
                what: format!("output of shape {:?}", output.dims()),
                reason: format!(
                    "the fp32 reference has {} values in rows of {}",
                    self.values.len(),
                    self.width
                ),
            });
        }
        let rows = values.len() / width.max(1);
        let total: f64 = (0..rows).map(|row| self.row_distance(row, &values)).sum();
        Ok(total / rows.max(1) as f64)
    }

    fn row_distance(&self, row: usize, values: &[f32]) -> f64 {
        let span = row * self.width..(row + 1) * self.width;
        let (reference, quantized) = (&self.values[span.clone()], &values[span.clone()]);
        match self.metric {
            // KL(p‖q) = Σ p·(r − lse_r − q + lse_q), for logits r (fp32) and q: exactly 0 when
            // q equals r, since every difference is then 0.
            Metric::Kl => {
                let shift = self.per_row[row] - log_sum_exp(quantized);
                let probs = &self.probs[span];
                let kl: f64 = probs
                    .iter()
                    .zip(reference.iter().zip(quantized))
                    .map(|(&p, (&r, &q))| f64::from(p) * (f64::from(r) - f64::from(q) - shift))
                    .sum();
                kl.max(0.0)
            }
            Metric::Cosine => {
                let (aa, bb) = (self.per_row[row], dot(quantized, quantized));
                if aa == 0.0 || bb == 0.0 {
                    return if aa == bb { 0.0 } else { 1.0 };
                }
                // sqrt(aa·bb) is exactly aa when the rows are equal, so equal rows give 0.
                1.0 - dot(reference, quantized) / (aa * bb).sqrt()
            }
        }
    }
}

/// Output `[..., width]` as `(width, values)`.
fn flat_rows(output: &Tensor) -> Result<(usize, Vec<f32>), SensitivityError> {
    let width = output.dims().last().copied().unwrap_or(1).max(1);
    let values = output
        .to_dtype(DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    Ok((width, values))
}

fn log_sum_exp(row: &[f32]) -> f64 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let max = f64::from(max);
    let sum: f64 = row.iter().map(|&v| (f64::from(v) - max).exp()).sum();
    max + sum.ln()
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum()
}

/// The fp32 model's outputs for every batch (computed once, shared by all cells).
pub fn reference_outputs(
    model: &dyn RunnableModel,
    batches: &[Tensor],
    metric: Metric,
) -> Result<Vec<Reference>, SensitivityError> {
    let fp32 = PreparedAssignment::fp32(model)?;
    batches
        .iter()
        .map(|batch| Reference::new(metric, &model.forward(batch, &fp32)?))
        .collect()
}

/// Per-batch distance between `prepared`'s outputs and the reference outputs.
pub fn measure(
    model: &dyn RunnableModel,
    prepared: &PreparedAssignment,
    batches: &[Tensor],
    reference: &[Reference],
) -> Result<Vec<f64>, SensitivityError> {
    batches
        .iter()
        .zip(reference)
        .map(|(batch, reference)| reference.distance(&model.forward(batch, prepared)?))
        .collect()
}
