//! `bitplan validate-sensitivity`: how well the sensitivity table predicts whole plans.

use std::path::PathBuf;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use bitplan::sensitivity::journal::write_atomic;
use bitplan::sensitivity::validate::validate;
use bitplan::sensitivity::SensitivityTable;

use super::analyze::load_model;

/// Draw K random mixed plans from the table's candidates (stratified across average weight bits),
/// measure each plan's true error on the table's calibration images, and report Spearman and
/// Kendall rank correlations between each predictor (the sum of the per-layer measured errors,
/// and of each proxy) and the measured error. Writes the per-plan data for plotting.
#[derive(Debug, clap::Parser)]
#[command(
    after_help = "Example:\n  bitplan validate-sensitivity fashion-cnn --sens sens.json --samples 50 --scatter scatter.json"
)]
pub struct Args {
    /// Reference model name or weight file (the one the table was computed for).
    pub model: String,
    #[arg(long)]
    pub arch: Option<String>,
    /// Sensitivity table from `bitplan analyze`.
    #[arg(long)]
    pub sens: PathBuf,
    /// Plans to sample and measure.
    #[arg(long, default_value_t = 50)]
    pub samples: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to write the per-plan data (predicted and measured errors, average bits).
    #[arg(long, default_value = "sensitivity-scatter.json")]
    pub scatter: PathBuf,
    /// Print the correlations as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.sens)
        .with_context(|| format!("reading {}", args.sens.display()))?;
    let table: SensitivityTable = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a sensitivity table", args.sens.display()))?;
    anyhow::ensure!(
        table.shard.is_none(),
        "{} is one shard; merge the shards first (bitplan merge)",
        args.sens.display()
    );
    let loaded = load_model(
        &args.model,
        args.arch.as_deref(),
        Some(table.provenance.calib_samples),
    )?;
    let model = loaded.model.as_ref();
    anyhow::ensure!(
        table.provenance.model == model.graph().model,
        "{} was computed for {}, not {}",
        args.sens.display(),
        table.provenance.model,
        args.model
    );
    let batches = loaded.batches;
    let bar = ProgressBar::new(args.samples as u64);
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} plans  ETA {eta}",
    )?);
    let validation = validate(
        model,
        &table,
        &batches,
        args.samples,
        args.seed,
        &mut |done, _| bar.set_position(done as u64),
    )?;
    bar.finish_and_clear();
    let mut bytes = serde_json::to_vec_pretty(&validation)?;
    bytes.push(b'\n');
    write_atomic(&args.scatter, &bytes)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&validation.correlations)?
        );
        return Ok(());
    }
    println!(
        "{} plans of {} (seed {}); per-plan data in {}",
        validation.samples,
        validation.model,
        validation.seed,
        args.scatter.display()
    );
    println!("{:<12} {:>9} {:>9}", "predictor", "spearman", "kendall");
    for correlation in &validation.correlations {
        println!(
            "{:<12} {:>9.4} {:>9.4}",
            correlation.predictor, correlation.spearman, correlation.kendall
        );
    }
    Ok(())
}
