//! `bitplan validate`: run a front's plans for real and write the measured values into them.

use std::path::PathBuf;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use bitplan::model::sequence::SequenceModel;
use bitplan::report::{read_front, write_front};
use bitplan::validate::{
    higher_is_better, validate_front, Evaluator, LmEvaluator, MeasureCache, PlanTask,
    ValidateSettings,
};

/// Measure a front's best plans and its uniform baselines for real.
///
/// Measure a front's top plans and all its uniform baselines: for image classifiers top-1
/// accuracy on the model's evaluation split (never its calibration data) and the executor's
/// latency on this CPU; for decoder language models perplexity on the held-out chapters (the
/// value `bitplan eval MODEL --plan` reports). Writes the front with a `measured` block in every
/// measured plan, and flags plans a uniform baseline beats (measured metric at least as good at
/// no higher predicted cost).
#[derive(Debug, clap::Parser)]
#[command(
    after_help = "Example:\n  bitplan validate fashion-cnn --plans front.json --top 3 --out front-validated.json\n  bitplan validate smollm2 --plans front.json --top 2 --limit 4"
)]
pub struct Args {
    /// Reference model name (fashion-cnn, mnist-cnn, smollm2), weight file with --arch, or a
    /// Llama-family GGUF file or Hugging Face directory.
    model: String,
    /// Architecture of a weight file: fashion-cnn or mnist-cnn.
    #[arg(long)]
    arch: Option<String>,
    /// The front file (`bitplan sweep` output).
    #[arg(long)]
    plans: PathBuf,
    /// Frontier plans to measure: the recommended one first, then by increasing cost.
    #[arg(long, default_value_t = 3)]
    top: usize,
    /// Evaluate only the first N images (or 128-token windows of an LM) of the evaluation split.
    #[arg(long)]
    limit: Option<usize>,
    /// Where to write the validated front [default: PLANS with `-validated` before `.json`].
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut front = read_front(&args.plans)?;
    let evaluator: Box<dyn PlanTask> = if args.arch.is_none() && SequenceModel::claims(&args.model)
    {
        Box::new(LmEvaluator::new(&args.model).with_context(|| format!("loading {}", args.model))?)
    } else {
        Box::new(
            Evaluator::new(&args.model, args.arch.as_deref())
                .with_context(|| format!("loading {}", args.model))?,
        )
    };
    let total = args.top.min(front.plans.len()) + front.baselines.len();
    let bar = ProgressBar::new(total as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} plans, {elapsed} (eta {eta})")
            .context("progress bar template")?,
    );
    let settings = ValidateSettings {
        top: args.top,
        limit: args.limit,
        time_latency: true,
    };
    validate_front(
        &mut front,
        evaluator.as_ref(),
        settings,
        &mut MeasureCache::default(),
        &mut |done, _| bar.set_position(done as u64),
    )?;
    bar.finish_and_clear();
    let out = args.out.unwrap_or_else(|| {
        let stem = args
            .plans
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("front");
        args.plans.with_file_name(format!("{stem}-validated.json"))
    });
    write_front(&front, &out)?;
    let mut text = String::new();
    for (index, entry) in front.plans.iter().enumerate() {
        if let Some(m) = &entry.plan.measured {
            let flag = m
                .dominated_by
                .as_ref()
                .map_or(String::new(), |b| format!("  DOMINATED by uniform {b}"));
            text += &format!(
                "plan #{index}: predicted error {:.3e}, measured {} (fp32 {}){flag}\n",
                entry.plan.total("error"),
                shown(&m.metric, m.value),
                shown(&m.metric, m.reference_value)
            );
        }
    }
    for baseline in &front.baselines {
        if let Some(m) = &baseline.plan.measured {
            text += &format!(
                "uniform {}: measured {}\n",
                baseline.candidate,
                shown(&m.metric, m.value)
            );
        }
    }
    text += &format!("wrote {}\n", out.display());
    super::stdout::print(&text)
}

/// A measured value with its unit: accuracy in percent, perplexity as is.
fn shown(metric: &str, value: f64) -> String {
    match higher_is_better(metric) {
        true => format!("{value:.2}%"),
        false => format!("{metric} {value:.4}"),
    }
}
