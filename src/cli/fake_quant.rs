//! `bitplan fake-quant`: quantize → dequantize every floating-point tensor of a safetensors file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use bitplan::quant::{error_metrics, fake_quant_weight, Format, QuantError};
use candle_core::{Device, Tensor};
use clap::Parser;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use serde::Serialize;

/// Try one numeric format on your own weights.
///
/// Reads INPUT (safetensors), quantizes and dequantizes every floating-point tensor with FORMAT,
/// writes the results as f32 to OUTPUT, and prints each tensor's signal-to-quantization-noise
/// ratio (SQNR, dB) and its stored bits per element. Each tensor is treated as a weight: one row
/// per output channel (dim 0), per-channel scales per row, blocks and groups along the row (the
/// last dim of a 2-D tensor; see `bitplan formats`). A tensor the format cannot take (a row its
/// blocks do not divide, an integer dtype) is copied unchanged and named in a warning; with
/// --strict that is an error instead. NaN or infinity in a tensor is always an error. OUTPUT is
/// written whole or not at all.
#[derive(Debug, Parser)]
#[command(
    after_help = "Example:\n  bitplan fake-quant --format int4-sym-g128 model.safetensors model-w4.safetensors"
)]
pub struct Args {
    /// Format name, e.g. int4-sym-g128, fp8-e4m3, nvfp4, q4_k (`bitplan formats` lists them).
    #[arg(long)]
    format: String,

    /// Input safetensors file.
    input: PathBuf,

    /// Output safetensors file.
    output: PathBuf,

    /// Print a JSON report instead of a table.
    #[arg(long)]
    json: bool,

    /// Fail on a tensor the format cannot take instead of copying it unchanged.
    #[arg(long)]
    strict: bool,
}

/// What happened to one tensor.
#[derive(Debug, Serialize)]
struct TensorReport {
    name: String,
    shape: Vec<usize>,
    dtype: String,
    /// Whether the tensor was fake-quantized (else copied unchanged).
    quantized: bool,
    /// SQNR in dB of the fake-quantized tensor; null when copied (or exact).
    sqnr_db: Option<f64>,
    /// Effective stored bits per element in the format, for quantized tensors.
    bits_per_element: Option<f64>,
    /// Why the tensor was copied unchanged.
    skipped_because: Option<String>,
}

/// The whole run, as printed with --json.
#[derive(Debug, Serialize)]
struct Report {
    format: Format,
    input: PathBuf,
    output: PathBuf,
    tensors: Vec<TensorReport>,
}

/// A tensor ready to write: its dtype, shape and little-endian bytes.
struct Output {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let format: Format = args.format.parse()?;
    let input = &args.input;
    let bytes = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let file = SafeTensors::deserialize(&bytes)
        .with_context(|| format!("parsing {} as safetensors", input.display()))?;
    let (_, header) = SafeTensors::read_metadata(&bytes)
        .with_context(|| format!("parsing {}", input.display()))?;
    let mut names = file.names();
    names.sort_unstable();
    let mut reports = Vec::new();
    let mut outputs = Vec::new();
    for name in names {
        let view = file
            .tensor(name)
            .with_context(|| format!("reading tensor `{name}` of {}", input.display()))?;
        let (report, output) = process(format, name, &view, args.strict)
            .with_context(|| format!("tensor `{name}` of {}", input.display()))?;
        if let Some(reason) = &report.skipped_because {
            eprintln!("warning: tensor `{name}` copied unchanged: {reason}");
        }
        reports.push(report);
        outputs.push((name.to_string(), output));
    }
    write_atomically(&args.output, &outputs, header.metadata().clone())?;
    let report = Report {
        format,
        input: args.input.clone(),
        output: args.output.clone(),
        tensors: reports,
    };
    print_report(&report, args.json)
}

/// Fake-quantize one tensor, or decide to copy it unchanged.
fn process(
    format: Format,
    name: &str,
    view: &TensorView,
    strict: bool,
) -> anyhow::Result<(TensorReport, Output)> {
    let shape = view.shape().to_vec();
    let mut report = TensorReport {
        name: name.to_string(),
        shape: shape.clone(),
        dtype: format!("{:?}", view.dtype()),
        quantized: false,
        sqnr_db: None,
        bits_per_element: None,
        skipped_because: None,
    };
    let unchanged = Output {
        dtype: view.dtype(),
        shape: shape.clone(),
        bytes: view.data().to_vec(),
    };
    let Some(values) = to_f32(view) else {
        let reason = format!("dtype {:?} is not floating point", view.dtype());
        return skip(report, unchanged, reason, strict);
    };
    let original = Tensor::from_vec(values, shape.as_slice(), &Device::Cpu)?;
    let quantized = match fake_quant_weight(format, &original) {
        Err(QuantError::NotAdmissible { reason, .. }) => {
            // NaN or infinity is an error even in a tensor the format cannot take.
            fake_quant_weight(Format::Fp32, &original)?;
            return skip(
                report,
                unchanged,
                format!("{format} cannot take shape {shape:?}: {reason}"),
                strict,
            );
        }
        other => other?,
    };
    let metrics = error_metrics(&original, &quantized)?;
    report.quantized = true;
    report.sqnr_db = metrics.sqnr_db.is_finite().then_some(metrics.sqnr_db);
    report.bits_per_element = Some(format.bits_per_element(&shape));
    let values = quantized.flatten_all()?.to_vec1::<f32>()?;
    let bytes = values
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect();
    Ok((
        report,
        Output {
            dtype: Dtype::F32,
            shape,
            bytes,
        },
    ))
}

fn skip(
    mut report: TensorReport,
    unchanged: Output,
    reason: String,
    strict: bool,
) -> anyhow::Result<(TensorReport, Output)> {
    if strict {
        bail!("{reason} (without --strict it would be copied unchanged)");
    }
    report.skipped_because = Some(reason);
    Ok((report, unchanged))
}

/// The tensor's values as f32, or `None` for a dtype that is not floating point.
fn to_f32(view: &TensorView) -> Option<Vec<f32>> {
    let data = view.data();
    let values = match view.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
        _ => return None,
    };
    Some(values)
}

/// Write to a temporary file next to `path`, then rename it into place.
fn write_atomically(
    path: &Path,
    outputs: &[(String, Output)],
    metadata: Option<HashMap<String, String>>,
) -> anyhow::Result<()> {
    let mut views = Vec::with_capacity(outputs.len());
    for (name, output) in outputs {
        let view = TensorView::new(output.dtype, output.shape.clone(), &output.bytes)
            .with_context(|| format!("building tensor `{name}` for {}", path.display()))?;
        views.push((name.as_str(), view));
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    safetensors::serialize_to_file(views, metadata, &temporary)
        .with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("renaming {} to {}", temporary.display(), path.display()))
}

fn print_report(report: &Report, json: bool) -> anyhow::Result<()> {
    if json {
        let json = serde_json::to_string_pretty(report).context("serializing the report")?;
        return super::stdout::print(&format!("{json}\n"));
    }
    let mut text = format!(
        "{:<40} {:<18} {:>10} {:>9}\n",
        "tensor", "shape", "SQNR dB", "bits/elem"
    );
    for tensor in &report.tensors {
        let shape = format!("{:?}", tensor.shape);
        let (sqnr, bits) = match (tensor.quantized, tensor.sqnr_db, tensor.bits_per_element) {
            (false, _, _) => ("copied".to_string(), "-".to_string()),
            (true, sqnr, bits) => (
                sqnr.map_or("exact".to_string(), |db| format!("{db:.2}")),
                bits.map_or("-".to_string(), |b| format!("{b:.3}")),
            ),
        };
        text += &format!(
            "{:<40} {:<18} {:>10} {:>9}\n",
            tensor.name, shape, sqnr, bits
        );
    }
    let quantized = report
        .tensors
        .iter()
        .filter(|tensor| tensor.quantized)
        .count();
    text += &format!(
        "\n{} of {} tensors fake-quantized to {}, written as f32 to {}\n",
        quantized,
        report.tensors.len(),
        report.format,
        report.output.display()
    );
    super::stdout::print(&text)
}
