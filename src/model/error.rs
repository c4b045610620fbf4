//! Errors of the model module: each names the model or file, the layer or tensor, what was found
//! and what would be valid.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{file}: tensor `{tensor}` is missing (needed by layer `{layer}` of {arch})")]
    MissingTensor {
        file: String,
        arch: String,
        layer: String,
        tensor: String,
    },
    #[error("{file}: tensor `{tensor}` has shape {found:?}, {arch} expects {expected:?}")]
    WrongShape {
        file: String,
        arch: String,
        tensor: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("cannot load {path}: {reason}")]
    Load { path: PathBuf, reason: String },
    #[error("unknown model `{name}`: valid reference models are {valid}; a file path needs --arch ({archs})")]
    UnknownModel {
        name: String,
        valid: String,
        archs: String,
    },
    #[error("unknown architecture `{name}` for {path}: valid architectures are {valid}")]
    UnknownArch {
        name: String,
        path: PathBuf,
        valid: String,
    },
    #[error("{path}: cannot tell the architecture of this file; pass --arch ({valid})")]
    ArchNeeded { path: PathBuf, valid: String },
    #[error("model {model} has no layer `{layer}` (its layers: {valid})")]
    UnknownLayer {
        model: String,
        layer: String,
        valid: String,
    },
    #[error("input batch has shape {found:?}, model {model} expects [batch, {expected}]")]
    WrongInput {
        model: String,
        found: Vec<usize>,
        expected: String,
    },
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
    #[error(transparent)]
    Assignment(#[from] super::AssignmentError),
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Sequence(#[from] super::SeqModelError),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}
