//! A plan file as the exporters need it: per layer the weight format, and the file's sha256 (the
//! provenance recorded in what they write). Activation formats are the runtime's business.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::quantized::GgmlDType;
use sha2::{Digest, Sha256};

use super::error::ExportError;
use crate::model::Assignment;
use crate::quant::{Format, GgmlFormat};

/// The weight formats of a plan file, by layer name, with the file's hash.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportPlan {
    pub path: PathBuf,
    /// sha256 of the plan file's bytes, lowercase hex.
    pub sha256: String,
    pub weights: BTreeMap<String, Format>,
}

impl ExportPlan {
    /// Reads a `bitplan.plan/1` file.
    pub fn read(path: &Path) -> Result<Self, ExportError> {
        let bytes = std::fs::read(path).map_err(|error| ExportError::io(path, error))?;
        let assignment = Assignment::from_plan_file(path)?;
        let weights = assignment
            .layers
            .into_iter()
            .map(|(name, formats)| (name, formats.weight))
            .collect();
        Ok(Self {
            path: path.into(),
            sha256: hex_sha256(&bytes),
            weights,
        })
    }
}

/// Lowercase hex sha256 of `bytes`.
pub fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The GGML type that stores `format` exactly, if there is one: the GGML block types, and
/// fp32, fp16 and bf16 as GGML's float types.
pub fn ggml_dtype(format: Format) -> Option<GgmlDType> {
    match format {
        Format::Fp32 => Some(GgmlDType::F32),
        Format::Fp16 => Some(GgmlDType::F16),
        Format::Bf16 => Some(GgmlDType::BF16),
        Format::Ggml(ggml) => Some(ggml.dtype()),
        _ => None,
    }
}

/// The formats [`ggml_dtype`] maps, by name, for error messages.
pub fn ggml_format_names() -> String {
    let names: Vec<String> = GgmlFormat::ALL
        .iter()
        .map(|format| Format::Ggml(*format).to_string())
        .collect();
    names.join(", ")
}

/// llama.cpp's name of a GGML type, lowercase as `llama-quantize` accepts it (`q4_k`, `f16`).
pub fn llama_type_name(dtype: GgmlDType) -> &'static str {
    match dtype {
        GgmlDType::F32 => "f32",
        GgmlDType::F16 => "f16",
        GgmlDType::BF16 => "bf16",
        GgmlDType::Q4_0 => "q4_0",
        GgmlDType::Q4_1 => "q4_1",
        GgmlDType::Q5_0 => "q5_0",
        GgmlDType::Q5_1 => "q5_1",
        GgmlDType::Q8_0 => "q8_0",
        GgmlDType::Q8_1 => "q8_1",
        GgmlDType::Q2K => "q2_k",
        GgmlDType::Q3K => "q3_k",
        GgmlDType::Q4K => "q4_k",
        GgmlDType::Q5K => "q5_k",
        GgmlDType::Q6K => "q6_k",
        GgmlDType::Q8K => "q8_k",
    }
}
