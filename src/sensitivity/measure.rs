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

/// Output rows of a batch as f64 (last dim = classes or features).
pub fn rows(output: &Tensor) -> Result<Vec<Vec<f64>>, SensitivityError> {
    let width = output.dims().last().copied().unwrap_or(1);
    let flat = output
        .to_dtype(DType::F64)?
        .flatten_all()?
        .to_vec1::<f64>()?;
    Ok(flat.chunks(width.max(1)).map(<[f64]>::to_vec).collect())
}

fn log_softmax(row: &[f64]) -> Vec<f64> {
    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = row.iter().map(|v| (v - max).exp()).sum();
    let log_sum = max + sum.ln();
    row.iter().map(|v| v - log_sum).collect()
}

fn row_distance(metric: Metric, reference: &[f64], quantized: &[f64]) -> f64 {
    match metric {
        Metric::Kl => {
            let (p, q) = (log_softmax(reference), log_softmax(quantized));
            p.iter()
                .zip(&q)
                .map(|(lp, lq)| lp.exp() * (lp - lq))
                .sum::<f64>()
                .max(0.0)
        }
        Metric::Cosine => {
            let dot: f64 = reference.iter().zip(quantized).map(|(a, b)| a * b).sum();
            let na: f64 = reference.iter().map(|a| a * a).sum::<f64>().sqrt();
            let nb: f64 = quantized.iter().map(|b| b * b).sum::<f64>().sqrt();
            if na == 0.0 || nb == 0.0 {
                return if na == nb { 0.0 } else { 1.0 };
            }
            1.0 - dot / (na * nb)
        }
    }
}

/// Mean distance over the rows of one batch.
pub fn batch_distance(metric: Metric, reference: &[Vec<f64>], quantized: &[Vec<f64>]) -> f64 {
    let total: f64 = reference
        .iter()
        .zip(quantized)
        .map(|(r, q)| row_distance(metric, r, q))
        .sum();
    total / reference.len().max(1) as f64
}

/// The fp32 model's output rows for every batch (computed once, shared by all cells).
pub fn reference_outputs(
    model: &dyn RunnableModel,
    batches: &[Tensor],
) -> Result<Vec<Vec<Vec<f64>>>, SensitivityError> {
    let fp32 = PreparedAssignment::fp32(model)?;
    batches
        .iter()
        .map(|batch| rows(&model.forward(batch, &fp32)?))
        .collect()
}

/// Per-batch distance between `prepared`'s outputs and the reference outputs.
pub fn measure(
    model: &dyn RunnableModel,
    prepared: &PreparedAssignment,
    batches: &[Tensor],
    reference: &[Vec<Vec<f64>>],
    metric: Metric,
) -> Result<Vec<f64>, SensitivityError> {
    batches
        .iter()
        .zip(reference)
        .map(|(batch, reference)| {
            Ok(batch_distance(
                metric,
                reference,
                &rows(&model.forward(batch, prepared)?)?,
            ))
        })
        .collect()
}
