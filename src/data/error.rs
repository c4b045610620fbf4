//! Errors of the data module: each names the file and what was expected.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("fixture {path} is missing: run scripts/fetch-fixtures (it downloads the pinned packages into ${env}, default ~/.cache/bitplan/fixtures)", env = super::FIXTURES_ENV)]
    MissingFixture { path: PathBuf },
    #[error("cannot read {path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path}: not a valid IDX file: {reason}")]
    BadIdx { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    BadData { path: PathBuf, reason: String },
    #[error("{what}: {found} images but {labels} labels; a data set needs one label per image")]
    CountMismatch {
        what: String,
        found: usize,
        labels: usize,
    },
    #[error("batch {start}..{end} is outside the data set of {len} samples")]
    BatchOutOfRange {
        start: usize,
        end: usize,
        len: usize,
    },
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}
