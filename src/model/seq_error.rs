//! Errors of the sequence models (BERT-family encoders, Llama-family decoders): each names the
//! file, the field or tensor, the value found and what would be valid.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SeqModelError {
    #[error("{path}: file is missing ({expected})")]
    MissingFile { path: PathBuf, expected: String },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot parse: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("{path}: field `{field}` is missing ({expected})")]
    MissingField {
        path: PathBuf,
        field: String,
        expected: String,
    },
    #[error("{path}: field `{field}` = {value}: {expected}")]
    BadField {
        path: PathBuf,
        field: String,
        value: String,
        expected: String,
    },
    #[error("{path}: tensor `{tensor}` is missing ({expected})")]
    MissingTensor {
        path: PathBuf,
        tensor: String,
        expected: String,
    },
    #[error("{path}: tensor `{tensor}` has shape {found:?}, expected {expected:?}")]
    WrongShape {
        path: PathBuf,
        tensor: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("tokenizer of {path}: {reason}")]
    Tokenizer { path: PathBuf, reason: String },
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

impl SeqModelError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            return Self::MissingFile {
                path,
                expected: "no such file".into(),
            };
        }
        Self::Io { path, source }
    }
}
