//! Errors of the exporters: each names the file, the tensor or field, the bad value and what
//! would be valid.

use std::path::PathBuf;

use crate::model::{AssignmentError, SeqModelError};
use crate::quant::{Format, QuantError};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Plan(#[from] AssignmentError),
    #[error(transparent)]
    Model(#[from] SeqModelError),
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("{path}: not a readable GGUF file: {reason}")]
    Gguf { path: PathBuf, reason: String },
    #[error("{path} exists; pass --force to overwrite it")]
    OutputExists { path: PathBuf },
    #[error(
        "plan {plan}: layer `{layer}` names no tensor of {source_path} (tried {tried}; tensors there include: {valid})"
    )]
    UnknownTensor {
        plan: PathBuf,
        source_path: PathBuf,
        layer: String,
        tried: String,
        valid: String,
    },
    #[error(
        "plan {plan}: layer `{layer}` has weight format {format}, which a GGUF file cannot store; valid: fp32, fp16, bf16 and the GGML types {valid}"
    )]
    NotGgml {
        plan: PathBuf,
        layer: String,
        format: Format,
        valid: String,
    },
    #[error(
        "tensor `{tensor}` {shape:?} cannot take {format}: {cause}; pass --fallback TYPE (e.g. q8_0) to store such tensors in another type"
    )]
    ShapeMismatch {
        tensor: String,
        shape: Vec<usize>,
        format: Format,
        cause: QuantError,
    },
    #[error(
        "tensor `{tensor}` {shape:?}: neither {format} nor the fallback {fallback} fits: {cause}"
    )]
    FallbackMismatch {
        tensor: String,
        shape: Vec<usize>,
        format: Format,
        fallback: Format,
        cause: QuantError,
    },
    #[error("tensor `{tensor}`: {reason}")]
    Tensor { tensor: String, reason: String },
    #[error(transparent)]
    Quant(#[from] QuantError),
}

impl ExportError {
    pub(crate) fn io(path: &std::path::Path, error: impl std::fmt::Display) -> Self {
        Self::Io {
            path: path.into(),
            reason: error.to_string(),
        }
    }

    pub(crate) fn tensor(tensor: &str, error: impl std::fmt::Display) -> Self {
        Self::Tensor {
            tensor: tensor.into(),
            reason: error.to_string(),
        }
    }
}
