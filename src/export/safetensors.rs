//! Fake-quantized safetensors: every tensor of the model file under its original name, the ones a
//! plan covers after the plan's fake-quantization (quantize → dequantize), all stored as f32 or
//! f16; `plan.json` (the plan file, byte for byte) and `quantization.json` (per layer: format,
//! scales layout, group size) beside them. The directory is filled under a temporary name and
//! renamed when complete.
//!
//! Tensors are taken as the file stores them: a GGUF file's tensors dequantized, a safetensors or
//! PyTorch file's as they are (batch norms are not folded into convolutions first).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::Content;
use candle_core::{DType, Device, Tensor};
use serde::Serialize;

use super::error::ExportError;
use super::output::{check_output, temp_sibling};
use super::plan::ExportPlan;
use crate::model::load::read_tensors;
use crate::quant::{fake_quant_weight, Format, Scaling};

/// The dtype tensors are stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StoreDtype {
    /// Exact: a fake-quantized value is stored as computed.
    #[default]
    F32,
    /// Half the size; rounds values a format finer than fp16 produced.
    F16,
}

/// One layer's entry of `quantization.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerQuantization {
    pub tensor: String,
    pub weight_format: Format,
    /// `none`, `per-tensor`, `per-channel` (one scale per row, dim 0) or `per-block` (along
    /// the row: the product of all dims after the first).
    pub scales: &'static str,
    /// Elements per scale for per-block formats.
    pub group_size: Option<usize>,
    pub bits_per_weight: f64,
}

/// `quantization.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuantizationFile {
    pub schema: &'static str,
    pub plan_sha256: String,
    pub dtype: StoreDtype,
    pub layers: BTreeMap<String, LayerQuantization>,
}

/// Exports `model` (a .gguf, .safetensors or PyTorch file) under `plan` into the directory `out`.
pub fn export_safetensors(
    model: &Path,
    plan: &ExportPlan,
    out: &Path,
    dtype: StoreDtype,
    force: bool,
) -> Result<QuantizationFile, ExportError> {
    check_output(out, force)?;
    let mut tensors = read_model(model)?;
    let mut layers = BTreeMap::new();
    for (layer, &format) in &plan.weights {
        let name = [layer.clone(), format!("{layer}.weight")]
            .into_iter()
            .find(|name| tensors.contains_key(name))
            .ok_or_else(|| unknown_layer(plan, model, layer, &tensors))?;
        let weight = &tensors[&name];
        let weight_f32 = weight
            .to_dtype(DType::F32)
            .map_err(|error| ExportError::tensor(&name, error))?;
        let quantized =
            fake_quant_weight(format, &weight_f32).map_err(|cause| ExportError::ShapeMismatch {
                tensor: name.clone(),
                shape: weight.dims().to_vec(),
                format,
                cause,
            })?;
        let entry = describe(&name, format, weight.dims());
        tensors.insert(name, quantized);
        layers.insert(layer.clone(), entry);
    }
    let file = QuantizationFile {
        schema: "bitplan.quantization/1",
        plan_sha256: plan.sha256.clone(),
        dtype,
        layers,
    };
    write_dir(out, &tensors, dtype, plan, &file)?;
    Ok(file)
}

fn read_model(model: &Path) -> Result<HashMap<String, Tensor>, ExportError> {
    let is_gguf = model
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("gguf"));
    if !is_gguf {
        return read_tensors(model).map_err(|error| ExportError::io(model, error));
    }
    let mut file = std::fs::File::open(model).map_err(|error| ExportError::io(model, error))?;
    let content = Content::read(&mut file).map_err(|error| ExportError::Gguf {
        path: model.into(),
        reason: error.to_string(),
    })?;
    let mut tensors = HashMap::new();
    for name in content.tensor_infos.keys() {
        let tensor = content
            .tensor(&mut file, name, &Device::Cpu)
            .and_then(|q| q.dequantize(&Device::Cpu))
            .map_err(|error| ExportError::tensor(name, error))?;
        tensors.insert(name.clone(), tensor);
    }
    Ok(tensors)
}

fn unknown_layer(
    plan: &ExportPlan,
    model: &Path,
    layer: &str,
    tensors: &HashMap<String, Tensor>,
) -> ExportError {
    let mut valid: Vec<&str> = tensors.keys().map(String::as_str).collect();
    valid.sort_unstable();
    let shown = valid.len().min(8);
    ExportError::UnknownTensor {
        plan: plan.path.clone(),
        source_path: model.into(),
        layer: layer.into(),
        tried: format!("{layer}, {layer}.weight"),
        valid: format!("{} ({} in all)", valid[..shown].join(", "), valid.len()),
    }
}

fn describe(tensor: &str, format: Format, shape: &[usize]) -> LayerQuantization {
    let info = format.info();
    let (scales, group_size) = match info.scaling {
        Scaling::None => ("none", None),
        Scaling::PerTensor => ("per-tensor", None),
        Scaling::PerChannel => ("per-channel", None),
        Scaling::Block { size } => ("per-block", Some(size)),
    };
    LayerQuantization {
        tensor: tensor.into(),
        weight_format: format,
        scales,
        group_size,
        bits_per_weight: format.bits_per_element(shape),
    }
}

fn write_dir(
    out: &Path,
    tensors: &HashMap<String, Tensor>,
    dtype: StoreDtype,
    plan: &ExportPlan,
    file: &QuantizationFile,
) -> Result<(), ExportError> {
    let temp = temp_sibling(out);
    let result = fill_dir(&temp, tensors, dtype, plan, file).and_then(|()| {
        if out.exists() {
            std::fs::remove_dir_all(out).map_err(|error| ExportError::io(out, error))?;
        }
        std::fs::rename(&temp, out).map_err(|error| ExportError::io(out, error))
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&temp);
    }
    result
}

fn fill_dir(
    dir: &Path,
    tensors: &HashMap<String, Tensor>,
    dtype: StoreDtype,
    plan: &ExportPlan,
    file: &QuantizationFile,
) -> Result<(), ExportError> {
    std::fs::create_dir_all(dir).map_err(|error| ExportError::io(dir, error))?;
    let candle_dtype = match dtype {
        StoreDtype::F32 => DType::F32,
        StoreDtype::F16 => DType::F16,
    };
    let mut stored = HashMap::new();
    for (name, tensor) in tensors {
        let converted = tensor
            .to_dtype(candle_dtype)
            .map_err(|error| ExportError::tensor(name, error))?;
        stored.insert(name.clone(), converted);
    }
    let weights: PathBuf = dir.join("model.safetensors");
    candle_core::safetensors::save(&stored, &weights)
        .map_err(|error| ExportError::io(&weights, error))?;
    let plan_copy = dir.join("plan.json");
    std::fs::copy(&plan.path, &plan_copy).map_err(|error| ExportError::io(&plan_copy, error))?;
    let json = serde_json::to_string_pretty(file).map_err(|error| ExportError::io(dir, error))?;
    let quantization = dir.join("quantization.json");
    std::fs::write(&quantization, json).map_err(|error| ExportError::io(&quantization, error))
}
