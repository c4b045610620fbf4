//! Errors of measured validation.

#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    // Boxed: the wrapped errors are large, and every measuring function returns this type.
    #[error(transparent)]
    Model(Box<crate::model::ModelError>),
    #[error(transparent)]
    Data(Box<crate::data::DataError>),
    #[error(transparent)]
    Assignment(Box<crate::model::AssignmentError>),
    #[error(transparent)]
    Tensor(Box<candle_core::Error>),
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
    #[error(transparent)]
    Hardware(Box<crate::hardware::HardwareError>),
    #[error("{field} {value} is not valid: expected {expected}")]
    Setting {
        field: &'static str,
        value: String,
        expected: String,
    },
    #[error("search space {space}, layer `{layer}`: no admitted candidate runs as a GGML/candle kernel here (admitted and priced: {admitted}); latency validation runs weight formats {runnable} with fp32 activations")]
    NoRunnableCandidate {
        space: String,
        layer: String,
        admitted: String,
        runnable: String,
    },
    #[error("model {model} has no linear layers to run")]
    NoLinearLayers { model: String },
}

macro_rules! boxed_from {
    ($($variant:ident: $source:ty),*) => {$(
        impl From<$source> for ValidateError {
            fn from(error: $source) -> Self {
                ValidateError::$variant(Box::new(error))
            }
        }
    )*};
}

boxed_from!(
    Model: crate::model::ModelError,
    Data: crate::data::DataError,
    Assignment: crate::model::AssignmentError,
    Tensor: candle_core::Error,
    Hardware: crate::hardware::HardwareError
);
