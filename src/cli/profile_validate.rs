//! `bitplan profile validate`: run random mixed plans for real and compare with the profile.

use std::path::{Path, PathBuf};

use anyhow::Context;
use bitplan::hardware::load;
use bitplan::model::reference::load_image_classifier;
use bitplan::model::sequence::SequenceModel;
use bitplan::model::{Graph, RunnableModel};
use bitplan::space::{resolve, SearchSpace};
use bitplan::validate::{validate_latency, Draw, ErrorSummary, LatencySettings, LatencyValidation};
use indicatif::{ProgressBar, ProgressStyle};

/// Check a profile's predicted latencies against candle on this machine.
///
/// Draws K random mixed plans (each linear layer gets a random candidate the search space admits
/// for it and candle can run: GGML types and float weights; by default stratified, plan i
/// drawn around level i/K between each layer's fewest and most bits, so the plans spread from
/// small to large formats; `--draw uniform` for independent uniform picks), runs every linear layer of each plan
/// with candle's kernel for its type on inputs of the layer's real shape (batch x seq rows; seq 1
/// is one decoding step per sequence), and compares the measured time with the profile's
/// `latency_us`, per layer and per plan (the sum over its layers). Reports the share of plans
/// predicted within ±10%, Spearman's rank correlation between predicted and measured plan
/// latencies, and the per-layer error distribution. A layer's time is its fastest of --repeats
/// calls; the load average is recorded with every plan, since other work inflates timings.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    bitplan profile validate host-cpu --model smollm2 --space search-spaces/gguf.toml --samples 50\n  \
    bitplan profile validate host-cpu --model minilm --space search-spaces/gguf.toml --samples 50 --batch 8 --json")]
pub struct Args {
    /// Profile to check: shipped name, unique fragment of one, or a path.
    profile: String,
    /// Model: smollm2, minilm, another reference name, a model path, or a graph JSON file.
    #[arg(long)]
    model: String,
    /// Search-space file giving each layer's admissible candidates.
    #[arg(long)]
    space: PathBuf,
    /// Random plans to run (K).
    #[arg(long, default_value_t = 50)]
    samples: usize,
    /// Samples (sequences) per call.
    #[arg(long, default_value_t = 1)]
    batch: u64,
    /// Tokens per sample of a sequence model (1: one decoding step).
    #[arg(long, default_value_t = 1)]
    seq: u64,
    /// Seed of the plan draws, weights and inputs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How plans are drawn: stratified from mostly-small to mostly-large formats, or every
    /// layer uniformly at random.
    #[arg(long, default_value = "stratified")]
    draw: Draw,
    /// Calls per layer and plan (passes going round all plans, so each plan's calls spread over
    /// the run); the fastest counts.
    #[arg(long, default_value_t = 10)]
    repeats: usize,
    /// Threads for candle's kernels (host-cpu is calibrated on 1).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Print the full result (every plan and layer) as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    // Read by candle and rayon when their thread pools start, which is after this point.
    std::env::set_var("CANDLE_NUM_THREADS", args.threads.to_string());
    std::env::set_var("RAYON_NUM_THREADS", args.threads.to_string());
    let profile = load(&args.profile)?.profile;
    let graph = load_graph(&args.model)?;
    let space = SearchSpace::load(&args.space)?;
    let resolved = resolve(&space, &graph)?;
    let settings = LatencySettings {
        samples: args.samples,
        seed: args.seed,
        repeats: args.repeats,
        batch: args.batch,
        seq: args.seq,
        draw: args.draw,
    };
    let bar = ProgressBar::new(args.samples as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("preparing weights");
    let mut progress = |done: usize, _total: usize| {
        bar.set_message("running plans");
        bar.set_position(done as u64);
    };
    let result = validate_latency(&profile, &graph, &resolved, &settings, &mut progress)?;
    bar.finish_and_clear();
    if args.json {
        let json = serde_json::to_string_pretty(&result).context("serializing the result")?;
        return super::stdout::print(&format!("{json}\n"));
    }
    super::stdout::print(&table(&result))
}

/// A sequence model by reference name or path, a graph JSON file, or an image classifier.
fn load_graph(model: &str) -> anyhow::Result<Graph> {
    if SequenceModel::claims(model) {
        return Ok(SequenceModel::load(model)?.runnable().graph().clone());
    }
    let path = Path::new(model);
    if path.extension().is_some_and(|ext| ext == "json") {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {model}"))?;
        return serde_json::from_str(&text).with_context(|| {
            format!("{model}: not a layer graph (write one with `bitplan inspect MODEL --json`)")
        });
    }
    Ok(load_image_classifier(model, None)?.model.graph().clone())
}

fn percent(value: f64) -> String {
    format!("{:.1}%", value * 100.0)
}

fn errors_line(label: &str, errors: &ErrorSummary) -> String {
    format!(
        "{label:<8} {:>5}  within ±10%: {:>6}  median |err| {:>6}  median err {:>+7.1}%  max |err| {:>6}\n",
        errors.count,
        percent(errors.within_10_percent),
        percent(errors.median_abs_error),
        errors.median_error * 100.0,
        percent(errors.max_abs_error),
    )
}

fn table(result: &LatencyValidation) -> String {
    let s = &result.settings;
    let summary = &result.summary;
    let load = summary
        .max_load_average
        .map(|l| format!("{l:.2}"))
        .unwrap_or_else(|| "unknown".into());
    let mut text = format!(
        "{} on {} with {}: {} plans, batch {} x seq {} = {} rows, {} thread(s), {:?} draw, seed {}, {}, {} MiB read between passes; max load average {load}\n",
        result.model, result.profile, result.space, s.samples, s.batch, s.seq, result.rows,
        result.threads, s.draw, s.seed, result.statistic, result.flush_bytes >> 20
    );
    text += &format!(
        "{:<16} {:>12} {:>12} {:>8} {:>6}\n",
        "plan", "predicted_us", "measured_us", "err", "load"
    );
    for plan in &result.plans {
        let load = plan.load_average.map(|l| format!("{:.2}", l[0]));
        text += &format!(
            "{:<16} {:>12.1} {:>12.1} {:>+7.1}% {:>6}\n",
            plan.plan,
            plan.predicted_us,
            plan.measured_us,
            (plan.predicted_us / plan.measured_us - 1.0) * 100.0,
            load.unwrap_or_default()
        );
    }
    text += "\nerror = predicted / measured - 1\n";
    text += &errors_line("plans", &summary.plans);
    text += &errors_line("layers", &summary.layers);
    let spearman = summary.spearman.map(|r| format!("{r:.3}"));
    text += &format!(
        "Spearman (predicted vs measured plan latency): {}\n\n",
        spearman.unwrap_or_else(|| "undefined (fewer than 3 plans or no spread)".into())
    );
    text += &format!(
        "{:<44} {:>6} {:>12} {:>12} {:>8} {:>8}\n",
        "candidate and layers", "count", "predicted_us", "measured_us", "med err", "±10%"
    );
    for (key, group) in &summary.groups {
        text += &format!(
            "{key:<44} {:>6} {:>12.2} {:>12.2} {:>+7.1}% {:>8}\n",
            group.errors.count,
            group.predicted_us,
            group.measured_us,
            group.errors.median_error * 100.0,
            percent(group.errors.within_10_percent)
        );
    }
    text
}
