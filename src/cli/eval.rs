//! `bitplan eval`: a model's task metric in fp32, under a uniform candidate, or under a plan.

use std::path::PathBuf;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use bitplan::model::calibrate::DEFAULT_RANGE_METHOD;
use bitplan::model::eval::{top1_accuracy, Accuracy};
use bitplan::model::reference::{load_image_classifier, ImageClassifier};
use bitplan::model::sequence::SequenceModel;
use bitplan::model::{Assignment, Calibration, Fallback, Graph, PreparedAssignment, RunnableModel};
use bitplan::quant::RangeMethod;
use bitplan::space::Shorthand;

/// Evaluate a model's task metric in fp32, under a uniform candidate, or under a plan.
///
/// fashion-cnn and mnist-cnn: top-1 accuracy on their 10k test images; minilm (or any BERT-family
/// directory): spam-vs-ham accuracy of a logistic probe fitted on fp32 embeddings of SpamAssassin
/// mail, plus cosine similarity and nearest-neighbour agreement with fp32; smollm2 (or any
/// Llama-family GGUF file or directory): perplexity on Moby-Dick windows, plus mean per-token KL
/// divergence and top-1 agreement with fp32.
///
/// --uniform takes a shorthand (fp32, w16a16, w8a16, w8a8, w8a8-fp8, w4a16, w4a8, w4a4-nvfp4,
/// w4a4-mxfp4, w3a16, w2a16) or WEIGHT_FORMAT:ACTIVATION_FORMAT (names from `bitplan formats`).
/// --plan reads a plan JSON ({"schema": "bitplan.plan/1", "layers": [{"name", "weight_format",
/// "activation_format"}]}). Static activation ranges are calibrated on 1000 training images
/// (CNNs), 64 messages outside the probe's split (minilm) or 8 windows of 128 tokens from
/// chapters 1-99 (smollm2, which is evaluated on chapters 100-135).
#[derive(Debug, clap::Parser)]
#[command(
    after_help = "Examples:\n  bitplan eval fashion-cnn\n  bitplan eval mnist-cnn --uniform w8a8\n  bitplan eval fashion-cnn --uniform int4-sym-pc:fp16 --json\n  bitplan eval my.pth --arch mnist-cnn --plan plan.json --limit 1000\n  bitplan eval smollm2 --uniform w8a16\n  bitplan eval minilm --uniform w8a8 --json"
)]
pub struct Args {
    /// Reference model name (fashion-cnn, mnist-cnn, minilm, smollm2), weight file (.safetensors,
    /// .pth, with --arch), Llama-family .gguf file, or Hugging Face model directory.
    model: String,
    /// Architecture of a weight file: fashion-cnn or mnist-cnn.
    #[arg(long)]
    arch: Option<String>,
    /// The same candidate on every layer (shorthand or WEIGHT:ACTIVATION).
    #[arg(long, conflicts_with = "plan")]
    uniform: Option<String>,
    /// A plan file giving each layer's formats.
    #[arg(long)]
    plan: Option<PathBuf>,
    /// Evaluate only the first N images (test messages for minilm, windows for smollm2).
    #[arg(long)]
    limit: Option<usize>,
    /// How static activation ranges are estimated: minmax, percentile:P, mse, entropy.
    #[arg(long, default_value_t = DEFAULT_RANGE_METHOD)]
    range_method: RangeMethod,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report {
    model: String,
    weights: String,
    assignment: String,
    range_method: Option<String>,
    fallbacks: Vec<Fallback>,
    accuracy: Accuracy,
    accuracy_percent: f64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.arch.is_none() && SequenceModel::claims(&args.model) {
        let settings = super::eval_seq::Settings {
            model: &args.model,
            limit: args.limit,
            range_method: args.range_method,
            json: args.json,
        };
        let resolve = |graph: &Graph| resolve_assignment(&args, graph);
        return super::eval_seq::run(&settings, &resolve);
    }
    let classifier = load_image_classifier(&args.model, args.arch.as_deref())?;
    let (assignment, label, fallbacks) = resolve_assignment(&args, classifier.model.graph())?;
    let calibration = if assignment.needs_calibration() {
        let batches = classifier.calibration_batches()?;
        Some(Calibration::run(
            &classifier.model,
            &batches,
            args.range_method,
        )?)
    } else {
        None
    };
    let prepared = PreparedAssignment::new(&classifier.model, &assignment, calibration.as_ref())
        .with_context(|| format!("preparing {label} for {}", args.model))?;
    let accuracy = evaluate(&classifier, &prepared, args.limit)?;
    let report = Report {
        model: classifier.model.graph().model.clone(),
        weights: classifier.weights.clone(),
        assignment: label,
        range_method: calibration.map(|c| c.method.to_string()),
        fallbacks,
        accuracy,
        accuracy_percent: accuracy.percent(),
    };
    print_report(&report, args.json)
}

fn resolve_assignment(
    args: &Args,
    graph: &Graph,
) -> anyhow::Result<(Assignment, String, Vec<Fallback>)> {
    if let Some(text) = &args.uniform {
        let shorthand = Shorthand::parse(text)?;
        let (assignment, fallbacks) = Assignment::from_shorthand(graph, &shorthand);
        let label = format!("uniform {text}");
        assignment.validate(graph, &format!("--uniform {text}"))?;
        return Ok((assignment, label, fallbacks));
    }
    if let Some(path) = &args.plan {
        let assignment = Assignment::from_plan_file(path)?;
        assignment.validate(graph, &path.display().to_string())?;
        return Ok((assignment, format!("plan {}", path.display()), Vec::new()));
    }
    Ok((Assignment::fp32(graph), "fp32".into(), Vec::new()))
}

fn evaluate(
    classifier: &ImageClassifier,
    prepared: &PreparedAssignment,
    limit: Option<usize>,
) -> anyhow::Result<Accuracy> {
    let total = limit.map_or(classifier.eval.len(), |l| l.min(classifier.eval.len()));
    let bar = ProgressBar::new(total as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} images, {elapsed} (eta {eta})")
            .context("progress bar template")?,
    );
    let mut forward = |pixels: &candle_core::Tensor| classifier.model.forward(pixels, prepared);
    let accuracy = top1_accuracy(&mut forward, &classifier.eval, limit, &mut |done, _| {
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    Ok(accuracy)
}

fn print_report(report: &Report, json: bool) -> anyhow::Result<()> {
    if json {
        let text = serde_json::to_string_pretty(report).context("serializing the result")?;
        return super::stdout::print(&format!("{text}\n"));
    }
    let mut text = fallback_notes(&report.fallbacks);
    let range = report
        .range_method
        .as_ref()
        .map_or(String::new(), |method| {
            format!(", activation ranges {method}")
        });
    text += &format!(
        "{} ({}), {}{range}: top-1 accuracy {:.2}% ({}/{})\n",
        report.model,
        report.weights,
        report.assignment,
        report.accuracy_percent,
        report.accuracy.correct,
        report.accuracy.total
    );
    super::stdout::print(&text)
}

/// One note per (preferred, used) pair: which layers fell back and why.
fn fallback_notes(fallbacks: &[Fallback]) -> String {
    let mut groups: Vec<(String, String, Vec<&str>)> = Vec::new();
    for fallback in fallbacks {
        let (preferred, used) = (fallback.preferred.to_string(), fallback.used.to_string());
        match groups.iter_mut().find(|g| g.0 == preferred && g.1 == used) {
            Some(group) => group.2.push(&fallback.layer),
            None => groups.push((preferred, used, vec![&fallback.layer])),
        }
    }
    groups
        .into_iter()
        .map(|(preferred, used, layers)| {
            format!(
                "note: {used} instead of {preferred} on {} layer(s) whose weight rows (all dims after the first) do not split into its groups: {}\n",
                layers.len(),
                layers.join(", ")
            )
        })
        .collect()
}
