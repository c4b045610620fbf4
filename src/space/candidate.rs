//! A candidate (weight format + activation format) and the ONE table of shorthand names used by
//! `--uniform` and anywhere else a candidate is named in short.

use serde::{Deserialize, Serialize};

use crate::quant::{Format, QuantError};

/// What one layer may get: a weight format plus an activation format (the layer's input).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Candidate {
    /// Display name: a shorthand (`w4a16`) or `WEIGHT:ACTIVATION`.
    pub name: String,
    pub weight: Format,
    pub activation: Format,
}

/// A shorthand candidate, with the weight format to use on layers whose weight shape does not fit
/// the preferred one (e.g. rows not a multiple of 128 for `int4-sym-g128`).
#[derive(Debug, Clone, PartialEq)]
pub struct Shorthand {
    pub candidate: Candidate,
    pub weight_fallback: Option<Format>,
    pub description: &'static str,
}

/// One row: name, weight format, activation format, weight fallback, description.
type Row = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
);

/// The shorthand table. `aN` = N-bit activations; 16-bit activations are fp16 (what "A16"
/// means on the runtimes that name it so: the activations stay in half precision).
const SHORTHANDS: &[Row] = &[
    ("fp32", "fp32", "fp32", None, "unquantized reference"),
    ("w16a16", "fp16", "fp16", None, "half precision weights and activations"),
    ("w8a16", "int8-sym-pc", "fp16", None, "int8 per-channel weights, fp16 activations"),
    ("w8a8", "int8-sym-pc", "int8-asym-pt", None, "int8 per-channel weights, int8 per-tensor activations (static range)"),
    ("w8a8-fp8", "fp8-e4m3", "fp8-e4m3", None, "FP8 E4M3 weights (per-channel scale) and activations (per-tensor scale)"),
    ("w4a16", "int4-sym-g128", "fp16", Some("int4-sym-pc"), "int4 weights in groups of 128 (per-channel where rows don't split into 128s), fp16 activations"),
    ("w4a8", "int4-sym-g128", "int8-asym-pt", Some("int4-sym-pc"), "int4 group-128 weights (per-channel fallback), int8 per-tensor activations"),
    ("w4a4-nvfp4", "nvfp4", "nvfp4", None, "NVFP4 weights and activations"),
    ("w4a4-mxfp4", "mxfp4", "mxfp4", None, "OCP MXFP4 weights and activations"),
    ("w3a16", "int3-sym-g128", "fp16", Some("int3-sym-pc"), "int3 group-128 weights (per-channel fallback), fp16 activations"),
    ("w2a16", "int2-sym-g128", "fp16", Some("int2-sym-pc"), "int2 group-128 weights (per-channel fallback), fp16 activations"),
];

/// Errors naming a candidate.
#[derive(Debug, thiserror::Error)]
pub enum SpaceError {
    #[error("unknown candidate `{text}`: use a shorthand ({valid}) or WEIGHT_FORMAT:ACTIVATION_FORMAT (e.g. int8-sym-pc:int8-asym-pt)")]
    UnknownCandidate { text: String, valid: String },
    #[error("candidate `{text}`: {cause}")]
    BadFormat { text: String, cause: QuantError },
}

impl Shorthand {
    /// Every shorthand, in table order.
    pub fn all() -> Result<Vec<Shorthand>, SpaceError> {
        SHORTHANDS.iter().map(parse_row).collect()
    }

    /// The shorthand named `name`, if any.
    pub fn find(name: &str) -> Result<Option<Shorthand>, SpaceError> {
        SHORTHANDS
            .iter()
            .find(|row| row.0 == name)
            .map(parse_row)
            .transpose()
    }

    /// A shorthand name or `WEIGHT:ACTIVATION` (explicit formats have no fallback).
    pub fn parse(text: &str) -> Result<Shorthand, SpaceError> {
        if let Some(shorthand) = Self::find(text)? {
            return Ok(shorthand);
        }
        let Some((weight, activation)) = text.split_once(':') else {
            return Err(SpaceError::UnknownCandidate {
                text: text.into(),
                valid: SHORTHANDS
                    .iter()
                    .map(|row| row.0)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        Ok(Shorthand {
            candidate: Candidate {
                name: text.into(),
                weight: parse_format(text, weight)?,
                activation: parse_format(text, activation)?,
            },
            weight_fallback: None,
            description: "explicit weight and activation formats",
        })
    }
}

fn parse_format(text: &str, name: &str) -> Result<Format, SpaceError> {
    name.parse().map_err(|cause| SpaceError::BadFormat {
        text: text.into(),
        cause,
    })
}

fn parse_row(row: &Row) -> Result<Shorthand, SpaceError> {
    let (name, weight, activation, fallback, description) = *row;
    Ok(Shorthand {
        candidate: Candidate {
            name: name.into(),
            weight: parse_format(name, weight)?,
            activation: parse_format(name, activation)?,
        },
        weight_fallback: fallback.map(|f| parse_format(name, f)).transpose()?,
        description,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_parses_and_activations_are_activation_formats() {
        let all = Shorthand::all().expect("table parses");
        assert_eq!(all.len(), SHORTHANDS.len());
        for shorthand in all {
            let activation = shorthand.candidate.activation;
            assert!(
                Format::activation_formats().contains(&activation),
                "{activation}"
            );
        }
    }

    #[test]
    fn explicit_and_unknown() {
        let explicit = Shorthand::parse("int8-sym-pc:fp16").expect("explicit");
        assert_eq!(explicit.candidate.weight.to_string(), "int8-sym-pc");
        assert!(Shorthand::parse("w9a9").is_err());
        assert!(Shorthand::parse("int9:fp16").is_err());
    }
}
