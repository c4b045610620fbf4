//! Errors of measured validation.

#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Assignment(#[from] crate::model::AssignmentError),
    #[error(transparent)]
    Tensor(#[from] candle_core::Error),
    #[error("plan layer `{layer}`: {field} `{value}` is not a format bitplan can run: {reason} (see `bitplan formats`)")]
    Format {
        layer: String,
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error(
        "plan layer `{layer}` has no {field}; a plan to validate needs both formats on every layer"
    )]
    MissingFormat { layer: String, field: &'static str },
    #[error("candidate `{candidate}`: {reason}")]
    Candidate { candidate: String, reason: String },
}
