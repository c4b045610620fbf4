//! GGUF with per-tensor types: every tensor a plan covers is re-quantized from its dequantized
//! source weights to the plan's GGML type (candle's `QTensor::quantize`, the same kernels as
//! [`crate::quant::fake_quant_weight`]); every other tensor keeps its source bytes; every
//! metadata key is copied and `bitplan.*` provenance keys are added. The file is written to a
//! temporary name beside the output and renamed, so no half-written file ever has the final name.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{self, Content, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::Device;
use serde::Serialize;

use super::error::ExportError;
use super::output::{check_output, AtomicFile};
use super::plan::{ggml_dtype, ggml_format_names, llama_type_name, ExportPlan};
use crate::model::llama::GgufFile;
use crate::quant::Format;

/// Metadata key: sha256 of the plan file.
pub const KEY_PLAN_SHA256: &str = "bitplan.plan_sha256";
/// Metadata key: the bitplan version that wrote the file.
pub const KEY_VERSION: &str = "bitplan.version";
/// Metadata key (only when used): the `--fallback` format.
pub const KEY_FALLBACK_TYPE: &str = "bitplan.fallback_type";
/// Metadata key (only when used): the tensors stored in the fallback format.
pub const KEY_FALLBACK_TENSORS: &str = "bitplan.fallback_tensors";
/// candle's GGUF writer pads tensor data to 32 bytes, so that is the alignment the file declares.
const WRITER_ALIGNMENT: u32 = 32;
const ALIGNMENT_KEY: &str = "general.alignment";
/// The output head of a model that ties it to the token embedding has no tensor of its own; a
/// plan still gives the `output` layer its own format (bitplan's executor quantizes the head
/// apart from the embedding lookup), so the head is written as this tensor, which llama.cpp and
/// candle load in preference to the tied embedding.
const TIED_OUTPUT: &str = "output.weight";
const TIED_SOURCE: &str = "token_embd.weight";

/// How to export.
#[derive(Debug, Clone, Copy, Default)]
pub struct GgufOptions {
    /// Format for planned tensors whose shape the planned format cannot take.
    pub fallback: Option<Format>,
    /// Overwrite an existing output.
    pub force: bool,
}

/// What was written for one tensor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TensorRecord {
    pub name: String,
    pub shape: Vec<usize>,
    /// llama.cpp's name of the source type.
    pub source_type: String,
    /// llama.cpp's name of the written type.
    pub written_type: String,
    /// The plan's layer that covers this tensor, if any.
    pub layer: Option<String>,
    /// The format written (the plan's, or the fallback); `None` when kept from the source.
    pub format: Option<Format>,
    pub fallback: bool,
    pub bytes: usize,
}

/// The result of an export.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GgufExport {
    pub out: PathBuf,
    pub plan_sha256: String,
    pub tensors: Vec<TensorRecord>,
    pub file_bytes: u64,
}

/// One tensor's target: which layer covers it and the format to write.
#[derive(Debug, Clone, PartialEq)]
struct Target {
    layer: String,
    /// The source tensor (itself, or `token_embd.weight` for a tied output head).
    source: String,
    format: Format,
    fallback: bool,
}

/// Exports `source` under `plan` to `out` (see the module doc).
pub fn export_gguf(
    source: &Path,
    plan: &ExportPlan,
    out: &Path,
    options: GgufOptions,
) -> Result<GgufExport, ExportError> {
    check_output(out, options.force)?;
    GgufFile::open(source)?.architecture()?;
    let (content, mut reader) = read_content(source)?;
    let targets = resolve_targets(&content, source, plan, options.fallback)?;
    let mut tensors = Vec::new();
    let mut records = Vec::new();
    for name in tensor_order(&content, &targets) {
        let source_name = targets.get(&name).map_or(&name, |target| &target.source);
        let qtensor = content
            .tensor(&mut reader, source_name, &Device::Cpu)
            .map_err(|error| ExportError::tensor(&name, error))?;
        let target = targets.get(&name);
        let source_type = qtensor.dtype();
        let written = match target {
            Some(target) => requantize(&name, &qtensor, target.format)?,
            None => qtensor,
        };
        records.push(record(&name, source_type, &written, target));
        tensors.push((name, written));
    }
    let metadata = output_metadata(&content, plan, options.fallback, &records);
    let file_bytes = write_gguf(out, &metadata, &tensors)?;
    Ok(GgufExport {
        out: out.into(),
        plan_sha256: plan.sha256.clone(),
        tensors: records,
        file_bytes,
    })
}

fn read_content(path: &Path) -> Result<(Content, BufReader<File>), ExportError> {
    let file = File::open(path).map_err(|error| ExportError::io(path, error))?;
    let mut reader = BufReader::new(file);
    let content = Content::read(&mut reader).map_err(|error| ExportError::Gguf {
        path: path.into(),
        reason: error.to_string(),
    })?;
    Ok((content, reader))
}

/// Tensor names in the order of their data in the source file, then an untied output head.
fn tensor_order(content: &Content, targets: &HashMap<String, Target>) -> Vec<String> {
    let mut names: Vec<(&String, u64)> = content
        .tensor_infos
        .iter()
        .map(|(name, info)| (name, info.offset))
        .collect();
    names.sort_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
    let mut names: Vec<String> = names.into_iter().map(|(name, _)| name.clone()).collect();
    if targets.contains_key(TIED_OUTPUT) && !content.tensor_infos.contains_key(TIED_OUTPUT) {
        names.push(TIED_OUTPUT.into());
    }
    names
}

/// Maps every plan layer to its tensor (`NAME` or `NAME.weight`) and the format to write there.
fn resolve_targets(
    content: &Content,
    source: &Path,
    plan: &ExportPlan,
    fallback: Option<Format>,
) -> Result<HashMap<String, Target>, ExportError> {
    if let Some(fallback) = fallback {
        check_ggml(plan, "--fallback", fallback)?;
    }
    let mut targets = HashMap::new();
    for (layer, &format) in &plan.weights {
        check_ggml(plan, layer, format)?;
        let (tensor, source_tensor) = find_tensor(content, source, plan, layer)?;
        let shape = content.tensor_infos[&source_tensor].shape.dims().to_vec();
        let target = fit_shape(&tensor, &shape, layer, format, fallback)?;
        targets.insert(
            tensor,
            Target {
                source: source_tensor,
                ..target
            },
        );
    }
    Ok(targets)
}

fn check_ggml(plan: &ExportPlan, layer: &str, format: Format) -> Result<(), ExportError> {
    match ggml_dtype(format) {
        Some(_) => Ok(()),
        None => Err(ExportError::NotGgml {
            plan: plan.path.clone(),
            layer: layer.into(),
            format,
            valid: ggml_format_names(),
        }),
    }
}

fn find_tensor(
    content: &Content,
    source: &Path,
    plan: &ExportPlan,
    layer: &str,
) -> Result<(String, String), ExportError> {
    let tried = [layer.to_string(), format!("{layer}.weight")];
    if let Some(name) = tried
        .iter()
        .find(|name| content.tensor_infos.contains_key(*name))
    {
        return Ok((name.clone(), name.clone()));
    }
    if tried[1] == TIED_OUTPUT && content.tensor_infos.contains_key(TIED_SOURCE) {
        return Ok((TIED_OUTPUT.into(), TIED_SOURCE.into()));
    }
    let mut valid: Vec<&str> = content.tensor_infos.keys().map(String::as_str).collect();
    valid.sort_unstable();
    let shown = valid.len().min(8);
    let more = valid.len() - shown;
    let mut valid = valid[..shown].join(", ");
    if more > 0 {
        valid.push_str(&format!(" and {more} more"));
    }
    Err(ExportError::UnknownTensor {
        plan: plan.path.clone(),
        source_path: source.into(),
        layer: layer.into(),
        tried: tried.join(", "),
        valid,
    })
}

fn fit_shape(
    tensor: &str,
    shape: &[usize],
    layer: &str,
    format: Format,
    fallback: Option<Format>,
) -> Result<Target, ExportError> {
    let target = |format, fallback| Target {
        layer: layer.into(),
        source: tensor.into(),
        format,
        fallback,
    };
    let Err(cause) = format.check_shape(shape) else {
        return Ok(target(format, false));
    };
    let Some(fallback) = fallback else {
        return Err(ExportError::ShapeMismatch {
            tensor: tensor.into(),
            shape: shape.to_vec(),
            format,
            cause,
        });
    };
    fallback
        .check_shape(shape)
        .map_err(|cause| ExportError::FallbackMismatch {
            tensor: tensor.into(),
            shape: shape.to_vec(),
            format,
            fallback,
            cause,
        })?;
    Ok(target(fallback, true))
}

/// Dequantizes the source tensor and quantizes it to `format`'s GGML type.
fn requantize(name: &str, source: &QTensor, format: Format) -> Result<QTensor, ExportError> {
    let dtype = ggml_dtype(format)
        .ok_or_else(|| ExportError::tensor(name, format!("{format} has no GGML type")))?;
    source
        .dequantize(&Device::Cpu)
        .and_then(|weights| QTensor::quantize(&weights, dtype))
        .map_err(|error| ExportError::tensor(name, error))
}

fn record(
    name: &str,
    source_type: GgmlDType,
    written: &QTensor,
    target: Option<&Target>,
) -> TensorRecord {
    TensorRecord {
        name: name.into(),
        shape: written.shape().dims().to_vec(),
        source_type: llama_type_name(source_type).into(),
        written_type: llama_type_name(written.dtype()).into(),
        layer: target.map(|target| target.layer.clone()),
        format: target.map(|target| target.format),
        fallback: target.is_some_and(|target| target.fallback),
        bytes: written.storage_size_in_bytes(),
    }
}

/// Every source key (sorted, alignment set to the writer's) plus the `bitplan.*` keys.
fn output_metadata(
    content: &Content,
    plan: &ExportPlan,
    fallback: Option<Format>,
    records: &[TensorRecord],
) -> BTreeMap<String, Value> {
    let mut metadata: BTreeMap<String, Value> = content
        .metadata
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if metadata.contains_key(ALIGNMENT_KEY) {
        metadata.insert(ALIGNMENT_KEY.into(), Value::U32(WRITER_ALIGNMENT));
    }
    let string = |text: &str| Value::String(text.into());
    metadata.insert(KEY_PLAN_SHA256.into(), string(&plan.sha256));
    metadata.insert(KEY_VERSION.into(), string(env!("CARGO_PKG_VERSION")));
    let fallen: Vec<Value> = records
        .iter()
        .filter(|record| record.fallback)
        .map(|record| string(&record.name))
        .collect();
    if let (Some(fallback), false) = (fallback, fallen.is_empty()) {
        metadata.insert(KEY_FALLBACK_TYPE.into(), string(&fallback.to_string()));
        metadata.insert(KEY_FALLBACK_TENSORS.into(), Value::Array(fallen));
    }
    // The source's file type describes the source's tensors, not ours: llama.cpp would show the
    // wrong type. Keep the key (every source key is kept) with the type the tensors now have.
    if let (Some(Value::U32(_)), Some(file_type)) = (
        metadata.get(FILE_TYPE_KEY),
        file_type(records.iter().map(|r| r.written_type.as_str())),
    ) {
        metadata.insert(FILE_TYPE_KEY.into(), Value::U32(file_type));
    }
    metadata
}

/// The metadata key of llama.cpp's `llama_ftype`.
pub const FILE_TYPE_KEY: &str = "general.file_type";

/// llama.cpp's `llama_ftype` of a file whose tensors have these (llama.cpp-named) types, guessed
/// the way its model loader guesses a missing one: the type most tensors have (ties to the
/// first seen), with the K-quants as their `_M` mixes. `None` when that type has no file type.
pub fn file_type<'a>(types: impl Iterator<Item = &'a str>) -> Option<u32> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for name in types {
        match counts.iter_mut().find(|(seen, _)| *seen == name) {
            Some((_, count)) => *count += 1,
            None => counts.push((name, 1)),
        }
    }
    let mut most: Option<(&str, usize)> = None;
    for (name, count) in counts {
        if most.is_none_or(|(_, best)| count > best) {
            most = Some((name, count));
        }
    }
    // llama.h: LLAMA_FTYPE_ALL_F32 = 0, MOSTLY_F16 = 1, Q4_0 = 2, Q4_1 = 3, Q8_0 = 7, Q5_0 = 8,
    // Q5_1 = 9, Q2_K = 10, Q3_K_M = 12, Q4_K_M = 15, Q5_K_M = 17, Q6_K = 18, BF16 = 32.
    Some(match most?.0 {
        "f32" => 0,
        "f16" => 1,
        "q4_0" => 2,
        "q4_1" => 3,
        "q8_0" => 7,
        "q5_0" => 8,
        "q5_1" => 9,
        "q2_k" => 10,
        "q3_k" => 12,
        "q4_k" => 15,
        "q5_k" => 17,
        "q6_k" => 18,
        "bf16" => 32,
        _ => return None,
    })
}

fn write_gguf(
    out: &Path,
    metadata: &BTreeMap<String, Value>,
    tensors: &[(String, QTensor)],
) -> Result<u64, ExportError> {
    let metadata: Vec<(&str, &Value)> = metadata
        .iter()
        .map(|(key, value)| (key.as_str(), value))
        .collect();
    let tensors: Vec<(&str, &QTensor)> = tensors
        .iter()
        .map(|(name, tensor)| (name.as_str(), tensor))
        .collect();
    let file = AtomicFile::create(out)?;
    let mut writer = BufWriter::new(file.handle()?);
    gguf_file::write(&mut writer, &metadata, &tensors)
        .map_err(|error| ExportError::io(file.temp_path(), error))?;
    writer
        .flush()
        .map_err(|error| ExportError::io(file.temp_path(), error))?;
    drop(writer);
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::file_type;

    #[test]
    fn the_file_type_is_the_most_common_tensor_type() {
        let types = ["f32", "q4_k", "q5_0", "q5_0", "f32", "q5_0", "q8_0"];
        assert_eq!(file_type(types.into_iter()), Some(8));
        assert_eq!(file_type(["q4_k", "q6_k"].into_iter()), Some(15));
        assert_eq!(file_type(["q8_k"].into_iter()), None);
        assert_eq!(file_type(std::iter::empty()), None);
    }
}
