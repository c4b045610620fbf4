//! Errors of the sensitivity stage.

use std::path::PathBuf;

use crate::model::ModelError;

#[derive(Debug, thiserror::Error)]
pub enum SensitivityError {
    /// Boxed: model errors are large and every result of this module carries the variant.
    #[error(transparent)]
    Model(Box<ModelError>),
    #[error(transparent)]
    Candle(Box<candle_core::Error>),
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("cannot merge {path}: {field} is {found}, but the first shard has {expected}; shards must come from the same model, calibration data, space and settings")]
    ShardMismatch {
        path: PathBuf,
        field: String,
        found: String,
        expected: String,
    },
    #[error("journal {path} was written by a different analysis ({field} differs: journal has {found}, this run has {expected}); delete it or rerun with the original settings")]
    JournalMismatch {
        path: PathBuf,
        field: String,
        found: String,
        expected: String,
    },
}

pub(crate) fn file_error(
    path: &std::path::Path,
    reason: impl std::fmt::Display,
) -> SensitivityError {
    SensitivityError::File {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

impl From<ModelError> for SensitivityError {
    fn from(error: ModelError) -> Self {
        Self::Model(Box::new(error))
    }
}

impl From<candle_core::Error> for SensitivityError {
    fn from(error: candle_core::Error) -> Self {
        Self::Candle(Box::new(error))
    }
}
