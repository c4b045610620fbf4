//! Errors of the hardware module. Each names the file or profile, the field or layer, the bad
//! value and what would be valid.

use std::fmt;

/// One bad field of a profile: where, what, and what would be valid.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldProblem {
    /// TOML path of the field, e.g. `memory[1].bandwidth-gb-per-s`.
    pub field: String,
    /// The value found, as text.
    pub value: String,
    /// What would be valid, e.g. `a number > 0 (GB/s)`.
    pub expected: String,
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} = {}: expected {}",
            self.field, self.value, self.expected
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HardwareError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: invalid hardware profile:\n{}", list(.problems))]
    Invalid {
        file: String,
        problems: Vec<FieldProblem>,
    },
    #[error(
        "unknown hardware profile `{name}`: it is not a file, and the shipped profiles are {known}"
    )]
    UnknownProfile { name: String, known: String },
    #[error("hardware profile `{name}` is ambiguous: it matches {matches}")]
    AmbiguousProfile { name: String, matches: String },
    #[error(
        "profile {profile}: no kernel runs {op} with weight format `{weight}` and activation \
         format `{activation}`, no [[fallback]] rewrites it into one that does, and the profile \
         has no [fallback-device]"
    )]
    Unsupported {
        profile: String,
        op: &'static str,
        weight: String,
        activation: String,
    },
    #[error("layer {layer}: {message}")]
    Layer { layer: String, message: String },
    #[error("format `{format}`: {message}")]
    Format { format: String, message: String },
    #[error("{file}: {message}")]
    Write { file: String, message: String },
    #[error("calibration: {0}")]
    Calibration(String),
}

fn list(problems: &[FieldProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}
