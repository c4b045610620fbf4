//! Error metrics between a tensor and its fake-quantized copy, accumulated in f64.

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use super::error::QuantError;
use super::rows::with_f32;

/// How far a quantized tensor `q` is from its reference `x` (n elements).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorMetrics {
    /// Σ(x-q)² / n.
    pub mse: f64,
    /// Σ(x-q)² / Σx²; 0 when both are 0, +inf when only the signal is 0.
    pub relative_mse: f64,
    /// Signal-to-quantization-noise ratio, 10·log10(Σx² / Σ(x-q)²) dB; +inf when q = x.
    pub sqnr_db: f64,
    /// Σxq / (‖x‖‖q‖); 1 when both are all zero, 0 when exactly one is.
    pub cosine: f64,
    /// max |x-q|.
    pub max_abs: f64,
}

/// Error metrics of `quantized` against `reference` (same shape; any float dtypes).
pub fn error_metrics(reference: &Tensor, quantized: &Tensor) -> Result<ErrorMetrics, QuantError> {
    if reference.dims() != quantized.dims() {
        return Err(QuantError::ShapeMismatch {
            reference: reference.dims().to_vec(),
            quantized: quantized.dims().to_vec(),
        });
    }
    with_f32(reference, |x| {
        with_f32(quantized, |q| Ok(slice_metrics(x, q)))
    })
}

/// Error metrics of two equally long slices.
pub fn slice_metrics(reference: &[f32], quantized: &[f32]) -> ErrorMetrics {
    let (mut signal, mut noise, mut cross, mut power_q, mut max_abs) =
        (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for (&x, &q) in reference.iter().zip(quantized) {
        let (x, q) = (f64::from(x), f64::from(q));
        let error = x - q;
        signal += x * x;
        noise += error * error;
        cross += x * q;
        power_q += q * q;
        max_abs = max_abs.max(error.abs());
    }
    let count = reference.len().max(1) as f64;
    let relative_mse = ratio(noise, signal);
    let cosine = match (signal > 0.0, power_q > 0.0) {
        (true, true) => cross / (signal.sqrt() * power_q.sqrt()),
        (false, false) => 1.0,
        _ => 0.0,
    };
    ErrorMetrics {
        mse: noise / count,
        relative_mse,
        sqnr_db: -10.0 * relative_mse.log10(),
        cosine,
        max_abs,
    }
}

/// `numerator / denominator` with 0/0 = 0.
fn ratio(numerator: f64, denominator: f64) -> f64 {
    if numerator == 0.0 {
        0.0
    } else {
        numerator / denominator
    }
}
