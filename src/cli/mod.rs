//! Command-line front end: clap definitions, settings resolution, progress bars, messages and
//! exit codes. The library never prints; this module does.

use std::process::ExitCode;

use bitplan::sensitivity::threads;
use clap::{Parser, Subcommand};

mod analyze;
mod cost;
mod demo;
mod diff;
mod eval;
mod eval_seq;
mod export;
mod fake_quant;
mod formats;
mod inspect;
mod merge;
mod profile;
mod profile_validate;
mod report;
mod search;
mod stdout;
mod sweep;
mod tables;
mod train_reference;
mod validate;
mod validate_sensitivity;

/// bitplan: choose a numeric format for every layer of a network so it fits a chip.
///
/// bitplan measures how much error each layer suffers in each candidate format, predicts what
/// each format costs on a hardware profile, and searches for the plans that trade the two best
/// (the Pareto frontier), with uniform baselines beside them.
#[derive(Debug, Parser)]
#[command(
    name = "bitplan",
    version,
    about,
    long_about,
    after_help = "Examples:\n  bitplan demo                      # the whole pipeline on the embedded fashion-cnn\n  bitplan formats                   # every numeric format bitplan knows\n  bitplan inspect fashion-cnn       # a model's quantizable layers"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Demo(demo::Args),
    Formats(formats::Args),
    FakeQuant(fake_quant::Args),
    Inspect(inspect::Args),
    Eval(eval::Args),
    /// Measure each layer's error under each candidate of a search space (sensitivity table).
    Analyze(analyze::Args),
    /// Join sensitivity shards (analyze --shard k/n) into one table.
    Merge(merge::Args),
    /// Check how well a sensitivity table predicts the error of random mixed plans.
    ValidateSensitivity(validate_sensitivity::Args),
    /// List, show, check and calibrate hardware profiles.
    Profile(profile::Args),
    /// Predict each layer's latency, bytes and energy in each candidate on a hardware profile.
    Cost(cost::Args),
    Search(search::Args),
    Sweep(sweep::Args),
    Validate(validate::Args),
    Report(report::Args),
    Diff(diff::Args),
    /// Write a plan as files runtimes load: GGUF with per-tensor types, llama-quantize options,
    /// fake-quantized safetensors.
    Export(export::Args),
    TrainReference(train_reference::Args),
}

/// Exit status for a command that failed on its input or its work (clap uses 2 for usage errors).
const EXIT_FAILURE: u8 = 1;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome: anyhow::Result<()> = match cli.command {
        Command::Analyze(args) => in_cell_pool(|| analyze::run(args)),
        command => run(command),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Runs `command` with the analysis's cells side by side, one per core (see
/// [`bitplan::sensitivity::threads`]).
fn in_cell_pool(command: impl FnOnce() -> anyhow::Result<()> + Send) -> anyhow::Result<()> {
    let cells = threads::prepare_cells_side_by_side();
    threads::cell_pool(cells)?.install(command)
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Formats(args) => formats::run(args),
        Command::FakeQuant(args) => fake_quant::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Eval(args) => eval::run(args),
        Command::TrainReference(args) => train_reference::run(args),
        Command::Search(args) => search::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Report(args) => report::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Cost(args) => cost::run(args),
        Command::Profile(args) => profile::run(args),
        Command::Analyze(args) => analyze::run(args),
        Command::Merge(args) => merge::run(args),
        Command::ValidateSensitivity(args) => validate_sensitivity::run(args),
        Command::Export(args) => export::run(args),
    }
}
