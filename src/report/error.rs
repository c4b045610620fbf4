//! Errors of the report stage: reading and writing plan files, run directories and figures.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid {what}: {message}")]
    Parse {
        path: PathBuf,
        what: &'static str,
        message: String,
    },
    #[error("{path}: schema is `{found}`, expected `{expected}`")]
    Schema {
        path: PathBuf,
        found: String,
        expected: &'static str,
    },
    #[error("{path}: unknown plan file extension `{extension}` (valid: .toml, .json)")]
    Extension { path: PathBuf, extension: String },
    #[error("{path}: {message}")]
    Serialize { path: PathBuf, message: String },
    #[error("run directory {path}: {message}")]
    RunDir { path: PathBuf, message: String },
    #[error("figure {name}: {message}")]
    Figure { name: String, message: String },
}

impl ReportError {
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
        move |source| ReportError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
