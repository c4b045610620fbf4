//! Numeric formats, reference fake-quantizers, range calibration and error metrics.
//!
//! - [`format`]: the one table of formats ([`Format`], [`FormatInfo`]), bits per element, shape checks;
//! - [`fake_quant_weight`] / [`fake_quant_activation`]: quantize → dequantize on candle tensors;
//! - kernels: [`float`] (fp8/fp4/fp16/bf16 rounding), [`int`] (integer grids), [`mx`] (MX, NVFP4),
//!   [`ggml`] (candle's GGML block types);
//! - [`calibrate`]: activation range estimators over observed batches;
//! - [`metrics`]: error between a tensor and its fake-quantized copy.

pub mod calibrate;
pub mod error;
pub mod fake_quant;
pub mod float;
pub mod format;
pub mod ggml;
pub mod int;
pub mod lanes;
pub mod metrics;
pub mod mx;
mod name;
mod rows;

pub use calibrate::{RangeMethod, RangeObserver};
pub use error::QuantError;
pub use fake_quant::{
    fake_quant_activation, fake_quant_weight, fake_quant_weight_into, ActRange, StaticQuantizer,
};
pub use format::{
    ActivationUse, Format, FormatInfo, FormatKind, GgmlFormat, IntFormat, IntGranularity, Scaling,
    INT_BITS,
};
pub use metrics::{error_metrics, ErrorMetrics};
pub use rows::with_f32;
