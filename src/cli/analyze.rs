//! `bitplan analyze`: the sensitivity table of a model over a search space.

use std::path::PathBuf;

use anyhow::Context;
use candle_core::Tensor;
use indicatif::{ProgressBar, ProgressStyle};

use bitplan::data::spam_assassin;
use bitplan::model::bert::spam_eval::analysis_batches;
use bitplan::model::bert::{Bert, SpamEvalSettings};
use bitplan::model::llama::{LmEvalSettings, LmTask};
use bitplan::model::reference::{load_image_classifier, ImageClassifier};
use bitplan::model::sequence::SequenceModel;
use bitplan::model::RunnableModel;
use bitplan::search::{problem_from_sensitivity, ErrorColumn};
use bitplan::sensitivity::journal::{journal_path, write_atomic, write_table};
use bitplan::sensitivity::{
    analyze, Metric, Proxy, Settings, Shard, CALIB_BATCH, DEFAULT_CALIB_IMAGES, DEFAULT_PROBES,
};
use bitplan::space::{resolve, SearchSpace};

/// Measure, for every layer and every candidate of a search space, how much the model's output
/// degrades when that layer alone takes that candidate (KL divergence of the output distribution
/// for classifiers and LMs, 1 − cosine of the embeddings for sentence encoders), as mean,
/// standard error and 95% interval over calibration batches. Proxies (weight MSE/SQNR, Fisher,
/// Hessian trace) are reported beside it. Each cell runs the network only from its layer on,
/// starting from the fp32 activations cached there.
///
/// Finished cells are appended to OUT.journal; after a kill, rerun with --resume to skip them.
/// --shard k/n analyzes every n-th group of cells (one cell, or a layer's candidates that run
/// stacked in one batch); `bitplan merge` joins the shards.
#[derive(Debug, clap::Parser)]
#[command(
    after_help = "Examples:\n  bitplan analyze fashion-cnn --space search-spaces/int-weight-only.toml --out sens.json\n  bitplan analyze mnist-cnn --space search-spaces/int-w-a.toml --calib 512 --proxy weight --proxy fisher --out sens.json\n  bitplan analyze fashion-cnn --space search-spaces/gguf.toml --shard 1/2 --out shard1.json\n  bitplan analyze minilm --space search-spaces/int-weight-only.toml --out minilm-sens.json"
)]
pub struct Args {
    /// Reference model name (fashion-cnn, mnist-cnn, minilm, smollm2), weight file (.safetensors, .pth with
    /// --arch), GGUF file or Hugging Face directory (Llama or BERT family).
    pub model: String,
    /// Architecture of a weight file: fashion-cnn or mnist-cnn.
    #[arg(long)]
    pub arch: Option<String>,
    /// Search-space file (see search-spaces/).
    #[arg(long)]
    pub space: PathBuf,
    /// Calibration samples: images of the training split in batches of 32 (default 256),
    /// SpamAssassin messages outside the evaluation split for a sentence encoder (default 128,
    /// up to 64 tokens each), or token windows of an LM (default 8 windows of 128 tokens, from
    /// Moby-Dick chapters 1-99).
    #[arg(long)]
    pub calib: Option<usize>,
    /// Output distance: kl (classifiers, LMs; the default for them) or cosine (embedding
    /// models; the default for sentence encoders).
    #[arg(long)]
    pub metric: Option<Metric>,
    /// Proxies to compute beside the measured error: weight, fisher, hessian (repeatable).
    #[arg(long = "proxy")]
    pub proxies: Vec<Proxy>,
    /// Hutchinson probes per layer for the hessian proxy.
    #[arg(long, default_value_t = DEFAULT_PROBES)]
    pub probes: usize,
    /// Seed of every random choice (Hutchinson probes).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Analyze only shard K of N (K/N, 1-based).
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// Continue from OUT.journal, recomputing no finished cell.
    #[arg(long)]
    pub resume: bool,
    /// Output file (JSON).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the table as a search problem file (bitplan.problem/1: error = measured mean,
    /// cost = weight_bytes).
    #[arg(long)]
    pub problem: Option<PathBuf>,
}

fn parse_shard(text: &str) -> Result<Shard, String> {
    let bad = || format!("`{text}` is not a shard: write K/N with 1 <= K <= N, e.g. 1/4");
    let (k, n) = text.split_once('/').ok_or_else(bad)?;
    let (index, count) = (
        k.parse::<usize>().map_err(|_| bad())?,
        n.parse::<usize>().map_err(|_| bad())?,
    );
    if index == 0 || index > count {
        return Err(bad());
    }
    Ok(Shard { index, count })
}

/// A loaded model the analyzer can run: an image classifier, a sentence encoder or a decoder LM.
pub struct Loaded {
    pub model: Box<dyn RunnableModel>,
    pub batches: Vec<Tensor>,
    /// The metric that fits the model's output: cosine for embeddings, KL for logits.
    pub default_metric: Metric,
}

/// Calibration sentences of a sentence encoder analyzed by default.
pub const DEFAULT_CALIB_SENTENCES: usize = 128;
/// Tokens per calibration sentence of a sentence encoder (special tokens included).
pub const CALIB_SENTENCE_TOKENS: usize = 64;

/// Loads `model` with its first `calib` calibration samples (images in batches of
/// [`CALIB_BATCH`], sentences of a sentence encoder, or token windows of an LM in its
/// evaluation batch size).
pub fn load_model(model: &str, arch: Option<&str>, calib: Option<usize>) -> anyhow::Result<Loaded> {
    if SequenceModel::claims(model) {
        let llama = match SequenceModel::load(model)? {
            SequenceModel::Decoder(llama) => llama,
            SequenceModel::Encoder(bert) => return load_encoder(bert, calib),
        };
        let defaults = LmEvalSettings::default();
        let settings = LmEvalSettings {
            calibration_windows: calib.unwrap_or(defaults.calibration_windows),
            ..defaults
        };
        let batches = LmTask::prepare(&llama, settings)?.calibration_batches()?;
        return Ok(Loaded {
            model: Box::new(llama),
            batches,
            default_metric: Metric::Kl,
        });
    }
    let classifier = load_image_classifier(model, arch)?;
    let batches = calibration_batches(&classifier, calib.unwrap_or(DEFAULT_CALIB_IMAGES))?;
    Ok(Loaded {
        model: Box::new(classifier.model),
        batches,
        default_metric: Metric::Kl,
    })
}

/// A sentence encoder with `calib` SpamAssassin messages outside its evaluation split.
fn load_encoder(bert: Bert, calib: Option<usize>) -> anyhow::Result<Loaded> {
    let calib = calib.unwrap_or(DEFAULT_CALIB_SENTENCES);
    anyhow::ensure!(calib >= 1, "--calib {calib}: must be at least 1 sentence");
    let files = spam_assassin::list_fixture()?;
    let settings = SpamEvalSettings::default();
    let tokens = CALIB_SENTENCE_TOKENS.min(bert.max_tokens());
    let batches = analysis_batches(&bert, &files, &settings, calib, tokens)?;
    Ok(Loaded {
        model: Box::new(bert),
        batches,
        default_metric: Metric::Cosine,
    })
}

/// The first `calib` calibration images in batches of [`CALIB_BATCH`].
pub fn calibration_batches(
    classifier: &ImageClassifier,
    calib: usize,
) -> anyhow::Result<Vec<Tensor>> {
    if calib == 0 || calib > classifier.calibration.len() {
        anyhow::bail!(
            "--calib {calib}: must be between 1 and {} (the calibration images of this model)",
            classifier.calibration.len()
        );
    }
    Ok(classifier.calibration_head(CALIB_BATCH, calib)?)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.problem.is_some() && args.shard.is_some() {
        anyhow::bail!(
            "--problem needs the whole table: run the shards, `bitplan merge` them, then convert"
        );
    }
    let loaded = load_model(&args.model, args.arch.as_deref(), args.calib)?;
    let metric = args.metric.unwrap_or(loaded.default_metric);
    let gradients = args
        .proxies
        .iter()
        .any(|p| matches!(p, Proxy::Fisher | Proxy::Hessian));
    if gradients && metric == Metric::Cosine {
        anyhow::bail!("--proxy fisher/hessian with --metric cosine: the gradient proxies take the cross-entropy of the outputs against the fp32 model's top class, and {}'s outputs under the cosine metric are embeddings, not classes; use --proxy weight (or --metric kl if the outputs are logits)", args.model);
    }
    let space = SearchSpace::load(&args.space)?;
    let resolved = resolve(&space, loaded.model.graph())?;
    let batches = loaded.batches;
    let settings = Settings {
        metric,
        proxies: args.proxies.clone(),
        hutchinson_probes: args.probes,
        seed: args.seed,
        shard: args.shard,
    };
    let bar = ProgressBar::new(0);
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} cells  {elapsed_precise} elapsed, ETA {eta}",
    )?);
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let journal = journal_path(&args.out);
    let table = analyze(
        loaded.model.as_ref(),
        &resolved,
        &batches,
        &settings,
        Some((&journal, args.resume)),
        &progress,
    )
    .with_context(|| format!("analyzing {} over {}", args.model, args.space.display()))?;
    bar.finish_and_clear();
    write_table(&args.out, &table)?;
    if let Some(path) = &args.problem {
        let origin = args.out.display().to_string();
        let problem = problem_from_sensitivity(&table, &origin, ErrorColumn::Mean)?;
        write_atomic(path, (problem.to_json() + "\n").as_bytes())?;
    }
    let excluded: usize = resolved.layers.iter().map(|l| l.excluded.len()).sum();
    println!("{} cells of {} ({} layers; {excluded} layer/candidate pairs excluded by shape or pins) written to {}", table.cells.len(), table.total_cells, resolved.layers.len(), args.out.display());
    Ok(())
}
