//! `bitplan export`: files real runtimes load, from a model and a plan.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use bitplan::data::fixture_path;
use bitplan::export::safetensors::{export_safetensors, StoreDtype};
use bitplan::export::{export_gguf, ExportPlan, GgufOptions, LlamaQuantizeArgs};
use bitplan::model::llama::SMOLLM2_FIXTURE;
use bitplan::quant::Format;

/// Write what a plan describes in files that runtimes load: a GGUF file whose tensors have the
/// plan's GGML types (llama.cpp), the matching `llama-quantize` options, or fake-quantized
/// safetensors (PyTorch).
#[derive(Debug, clap::Parser)]
#[command(
    after_help = "Examples:\n  bitplan export gguf model.gguf --plan plan.json --out model-mixed.gguf\n  bitplan export gguf model.gguf --plan plan.json --out m.gguf --fallback q8_0 --force\n  bitplan export llama-quantize --plan plan.json\n  bitplan export safetensors smollm2 --plan plan.json --out smollm2-fq/"
)]
pub struct Args {
    #[command(subcommand)]
    pub target: Target,
}

#[derive(Debug, Subcommand)]
pub enum Target {
    Gguf(GgufArgs),
    LlamaQuantize(LlamaQuantizeCliArgs),
    Safetensors(SafetensorsArgs),
}

/// Write the model's tensors under their original names, those the plan covers after the plan's
/// fake-quantization (quantize, then dequantize), as `model.safetensors` (f32 or f16), with
/// `plan.json` and `quantization.json` (per layer: format, scales layout, group size) beside it.
#[derive(Debug, clap::Parser)]
#[command(
    after_help = "Example:\n  bitplan export safetensors smollm2 --plan plan.json --out smollm2-fq/ --dtype f16"
)]
pub struct SafetensorsArgs {
    /// Model: `smollm2` (from the fixtures), a .gguf, .safetensors or PyTorch (.pth) file.
    pub model: String,
    /// Plan file (`bitplan.plan/1`) whose layer names are the model's tensor names (without `.weight`).
    #[arg(long)]
    pub plan: PathBuf,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Stored dtype: f32 (exact) or f16.
    #[arg(long, value_parser = ["f32", "f16"], default_value = "f32")]
    pub dtype: String,
    /// Replace the output directory if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Re-quantize each weight tensor a plan covers to the plan's GGML type (from the dequantized
/// source weights), keep every other tensor as it is in the source, copy every metadata key and
/// add `bitplan.plan_sha256` and `bitplan.version`. The file is written under a temporary name
/// and renamed when complete.
#[derive(Debug, clap::Parser)]
#[command(
    after_help = "Example:\n  bitplan export gguf SmolLM2.gguf --plan plan.json --out SmolLM2-mixed.gguf"
)]
pub struct GgufArgs {
    /// Source GGUF file (a Llama-family model).
    pub source: PathBuf,
    /// Plan file (`bitplan.plan/1`) whose layer names are GGUF tensor names (`blk.0.attn_q`).
    #[arg(long)]
    pub plan: PathBuf,
    /// Output GGUF file.
    #[arg(long)]
    pub out: PathBuf,
    /// Type for tensors whose row length the planned type's block does not divide (e.g. q8_0);
    /// recorded in the `bitplan.fallback_*` metadata keys. Without it, such a tensor is an error.
    #[arg(long)]
    pub fallback: Option<Format>,
    /// Overwrite the output if it exists.
    #[arg(long)]
    pub force: bool,
    /// Print the per-tensor record as JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
}

/// Print a plan as llama.cpp `llama-quantize` options (`--tensor-type PATTERN=TYPE` per group of
/// tensors sharing a type), for quantizing from the original high-precision GGUF.
#[derive(Debug, clap::Parser)]
#[command(after_help = "Example:\n  bitplan export llama-quantize --plan plan.json")]
pub struct LlamaQuantizeCliArgs {
    /// Plan file (`bitplan.plan/1`) with GGUF layer names.
    #[arg(long)]
    pub plan: PathBuf,
    /// Source path written into the printed command.
    #[arg(long, default_value = "model-f16.gguf")]
    pub source: PathBuf,
    /// Output path written into the printed command.
    #[arg(long, default_value = "model-bitplan.gguf")]
    pub out: PathBuf,
    /// Print the options as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.target {
        Target::Gguf(args) => run_gguf(args),
        Target::LlamaQuantize(args) => run_llama_quantize(args),
        Target::Safetensors(args) => run_safetensors(args),
    }
}

fn run_gguf(args: GgufArgs) -> anyhow::Result<()> {
    let plan = ExportPlan::read(&args.plan)?;
    let options = GgufOptions {
        fallback: args.fallback,
        force: args.force,
    };
    let export = export_gguf(&args.source, &plan, &args.out, options)
        .with_context(|| format!("exporting {} to GGUF", args.source.display()))?;
    if args.json {
        let json = serde_json::to_string_pretty(&export)?;
        return super::stdout::print(&format!("{json}\n"));
    }
    let planned = export.tensors.iter().filter(|t| t.format.is_some()).count();
    let fallbacks = export.tensors.iter().filter(|t| t.fallback).count();
    println!(
        "{}: {} tensors ({planned} re-quantized per plan, {fallbacks} in the fallback type), {:.2} MiB, plan sha256 {}",
        export.out.display(),
        export.tensors.len(),
        export.file_bytes as f64 / (1024.0 * 1024.0),
        export.plan_sha256
    );
    Ok(())
}

fn run_llama_quantize(args: LlamaQuantizeCliArgs) -> anyhow::Result<()> {
    let plan = ExportPlan::read(&args.plan)?;
    let options = LlamaQuantizeArgs::from_plan(&plan)?;
    let text = if args.json {
        serde_json::to_string_pretty(&options)?
    } else {
        options.command_line(&args.source, &args.out)
    };
    super::stdout::print(&format!("{text}\n"))
}

fn run_safetensors(args: SafetensorsArgs) -> anyhow::Result<()> {
    let plan = ExportPlan::read(&args.plan)?;
    let model = match args.model.as_str() {
        "smollm2" if !std::path::Path::new("smollm2").exists() => fixture_path(SMOLLM2_FIXTURE)?,
        other => PathBuf::from(other),
    };
    let dtype = if args.dtype == "f16" {
        StoreDtype::F16
    } else {
        StoreDtype::F32
    };
    let file = export_safetensors(&model, &plan, &args.out, dtype, args.force)
        .with_context(|| format!("exporting {} to safetensors", model.display()))?;
    println!(
        "{}: model.safetensors ({} fake-quantized layers, {}), plan.json, quantization.json",
        args.out.display(),
        file.layers.len(),
        args.dtype
    );
    Ok(())
}
