//! `bitplan demo`: the whole pipeline on the embedded fashion-cnn, into reports/demo/.

use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use bitplan::demo::{run_demo, DemoSettings, Progress};

/// Run the whole pipeline on the embedded fashion-cnn and write a report, with no network.
///
/// Run bitplan end to end with no arguments and no network: fashion-cnn (embedded weights and
/// test set), the sensitivity analysis over search-spaces/int-w-a.toml (resumes after a kill),
/// cost tables on the H100, TPU v5e, Hexagon and Cortex-A76 profiles, each chip's latency/error frontier, measured validation of the best
/// plans, and the report. Prints where the report is and, per chip, the best mixed plan against
/// the best uniform format. --quick runs the same pipeline on fewer images (for CI).
#[derive(Debug, clap::Parser)]
#[command(after_help = "Examples:\n  bitplan demo\n  bitplan demo --quick --out /tmp/demo")]
pub struct Args {
    /// Where to write the run and its report.
    #[arg(long, default_value = "reports/demo")]
    out: PathBuf,
    /// Fewer calibration and evaluation images (128 and 1000), two plans per chip (for CI).
    #[arg(long)]
    quick: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let settings = if args.quick {
        DemoSettings::QUICK
    } else {
        DemoSettings::FULL
    };
    let command = format!(
        "bitplan demo{} --out {}",
        if args.quick { " --quick" } else { "" },
        args.out.display()
    );
    let style = ProgressStyle::with_template("{msg:32} {bar:30} {pos}/{len} {elapsed}")
        .context("progress bar template")?;
    // The analysis reports progress from worker threads, so the current bar sits in a mutex.
    let bar: Mutex<Option<ProgressBar>> = Mutex::new(None);
    let progress = |event: Progress| {
        let Ok(mut bar) = bar.lock() else { return };
        match event {
            Progress::Stage { name, total } => {
                if let Some(old) = bar.take() {
                    old.finish();
                }
                let next = ProgressBar::new(total as u64).with_style(style.clone());
                next.set_message(name.to_string());
                *bar = Some(next);
            }
            Progress::Step { done } => {
                if let Some(bar) = bar.as_ref() {
                    bar.set_position(done as u64);
                }
            }
        }
    };
    let (page, summaries) = run_demo(&args.out, settings, &command, &progress)?;
    let mut text = format!("report: {}\n", page.display());
    for summary in &summaries {
        text += &summary.line();
        text += "\n";
    }
    super::stdout::print(&text)
}
