//! Errors of the `quant` module: each names the format, the shape or value at fault, and what
//! would be valid.

use thiserror::Error;

/// Everything that can go wrong while quantizing, calibrating or measuring error.
#[derive(Debug, Error)]
pub enum QuantError {
    /// A format name that is not in the table.
    #[error("unknown format `{name}`{suggestion}; valid formats: {valid}")]
    UnknownFormat {
        name: String,
        /// " (did you mean `...`?)" when a valid name is close, else empty.
        suggestion: String,
        valid: String,
    },

    /// A tensor shape the format cannot take (row length not a multiple of its block or group).
    #[error("format {format} cannot take a tensor of shape {shape:?}: {reason}")]
    NotAdmissible {
        format: String,
        shape: Vec<usize>,
        reason: String,
    },

    /// A format used for activations that is only valid for weights.
    #[error(
        "format {format} is not an activation format ({reason}); valid activation formats: {valid}"
    )]
    NotActivationFormat {
        format: String,
        reason: String,
        valid: String,
    },

    /// NaN or infinity in a tensor to quantize or observe.
    #[error("non-finite value {value} at flat index {index} (tensor of shape {shape:?}); quantization needs finite values")]
    NonFinite {
        value: f32,
        index: usize,
        shape: Vec<usize>,
    },

    /// Slices passed to `fake_quant_weight_into` whose lengths do not match the shape.
    #[error("shape {shape:?} has {} elements, but the input slice has {input} and the output slice {output}", shape.iter().product::<usize>())]
    LengthMismatch {
        shape: Vec<usize>,
        input: usize,
        output: usize,
    },

    /// A tensor whose dtype is not floating point.
    #[error("dtype {dtype:?} is not a floating-point dtype; only f16, bf16, f32 and f64 tensors can be quantized")]
    NotFloat { dtype: candle_core::DType },

    /// A calibrated activation range that is not a finite interval.
    #[error(
        "activation range [{min}, {max}] is not valid: it needs finite bounds with min <= max"
    )]
    InvalidRange { min: f32, max: f32 },

    /// Two tensors compared by `error_metrics` that do not have the same shape.
    #[error("cannot compare tensors of shapes {reference:?} (reference) and {quantized:?} (quantized): shapes must be equal")]
    ShapeMismatch {
        reference: Vec<usize>,
        quantized: Vec<usize>,
    },

    /// A range method string that does not parse.
    #[error("unknown range method `{text}`: {reason}; valid: minmax, percentile:P (0 < P <= 100, e.g. percentile:99.99), mse, entropy")]
    UnknownRangeMethod { text: String, reason: String },

    /// An error from candle (tensor creation, dtype conversion, GGML quantization).
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}
