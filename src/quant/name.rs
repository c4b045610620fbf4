//! Format names: `Display` and `FromStr` (the stable names used in files and on the command
//! line), serde as that name, and the compact list of valid names used in error messages.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::QuantError;
use super::format::{Format, INT_BITS};

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Fp32 => "fp32",
            Self::Fp16 => "fp16",
            Self::Bf16 => "bf16",
            Self::Fp8E4m3 => "fp8-e4m3",
            Self::Fp8E5m2 => "fp8-e5m2",
            Self::Mxfp8 => "mxfp8",
            Self::Mxfp4 => "mxfp4",
            Self::Nvfp4 => "nvfp4",
            Self::Int(int) => {
                let sign = if int.symmetric() { "sym" } else { "asym" };
                return write!(f, "int{}-{sign}-{}", int.bits(), int.granularity().suffix());
            }
            Self::Ggml(ggml) => ggml.name(),
        };
        f.write_str(name)
    }
}

impl FromStr for Format {
    type Err = QuantError;

    /// Parses a stable name, ignoring ASCII case (`Q4_K` is `q4_k`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let all = Self::all();
        let names: Vec<String> = all.iter().map(Format::to_string).collect();
        if let Some(index) = names
            .iter()
            .position(|name| name.eq_ignore_ascii_case(text.trim()))
        {
            return Ok(all[index]);
        }
        let closest = names
            .iter()
            .map(|name| (strsim::levenshtein(name, &text.to_ascii_lowercase()), name))
            .min();
        let suggestion = match closest {
            Some((distance, name)) if distance <= (text.len() / 2).max(2) => {
                format!(" (did you mean `{name}`?)")
            }
            _ => String::new(),
        };
        Err(QuantError::UnknownFormat {
            name: text.to_string(),
            suggestion,
            valid: join_names(&all),
        })
    }
}

/// Names of `formats`, with the integer ones folded into their naming scheme.
pub(crate) fn join_names(formats: &[Format]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut int_suffixes: Vec<&str> = Vec::new();
    let mut int_signs: Vec<&str> = Vec::new();
    for format in formats {
        match format {
            Format::Int(int) => {
                let sign = if int.symmetric() { "sym" } else { "asym" };
                if !int_signs.contains(&sign) {
                    int_signs.push(sign);
                }
                if !int_suffixes.contains(&int.granularity().suffix()) {
                    int_suffixes.push(int.granularity().suffix());
                }
                if !parts.iter().any(|part| part.starts_with("int{")) {
                    parts.push("int{".to_string());
                }
            }
            other => parts.push(other.to_string()),
        }
    }
    let bits: Vec<String> = INT_BITS.iter().map(u32::to_string).collect();
    let int_pattern = format!(
        "int{{{}}}-{{{}}}-{{{}}}",
        bits.join(","),
        int_signs.join(","),
        int_suffixes.join(",")
    );
    parts
        .into_iter()
        .map(|part| {
            if part == "int{" {
                int_pattern.clone()
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Serialize for Format {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Format {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}
