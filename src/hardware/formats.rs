//! The quant module's format table as the cost model's [`FormatCatalog`], and search-space
//! candidates as [`CandidateFormats`].

use super::table::{CandidateFormats, FormatCatalog};
use crate::quant::Format;
use crate::space::{Candidate, Shorthand};

/// Bits per element from `quant::Format` (scales and zero points included).
#[derive(Debug, Clone, Copy, Default)]
pub struct QuantCatalog;

fn parse(format: &str) -> Result<Format, String> {
    format.parse::<Format>().map_err(|error| error.to_string())
}

impl FormatCatalog for QuantCatalog {
    fn weight_bits(&self, format: &str, shape: &[usize]) -> Result<f64, String> {
        let format = parse(format)?;
        format
            .check_shape(shape)
            .map_err(|error| error.to_string())?;
        Ok(format.bits_per_element(shape))
    }

    fn activation_bits(&self, format: &str, shape: &[usize]) -> Result<f64, String> {
        let format = parse(format)?;
        format
            .check_activation_shape(shape)
            .map_err(|error| error.to_string())?;
        Ok(format.activation_bits_per_element(shape))
    }
}

impl From<&Candidate> for CandidateFormats {
    fn from(candidate: &Candidate) -> Self {
        CandidateFormats {
            name: candidate.name.clone(),
            weight_format: candidate.weight.to_string(),
            activation_format: candidate.activation.to_string(),
            weight_fallback: None,
        }
    }
}

impl From<&Shorthand> for CandidateFormats {
    fn from(shorthand: &Shorthand) -> Self {
        CandidateFormats {
            weight_fallback: shorthand.weight_fallback.map(|format| format.to_string()),
            ..CandidateFormats::from(&shorthand.candidate)
        }
    }
}
