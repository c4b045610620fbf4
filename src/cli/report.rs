//! `bitplan report`: the HTML page and figures of a run directory.

use std::path::PathBuf;

use bitplan::report::write_report;

/// Draw a run directory's report: one self-contained HTML page plus SVG and PNG figures.
///
/// Draw a run directory's report: RUN_DIR/index.html (one self-contained file, inline SVG and
/// CSS) and every figure as SVG and PNG under RUN_DIR/figures/. The run directory holds
/// fronts/PROFILE.json (from `bitplan sweep`, validated or not) and optionally run.json,
/// sensitivity.json and costs/PROFILE.json.
#[derive(Debug, clap::Parser)]
#[command(after_help = "Example:\n  bitplan report reports/demo")]
pub struct Args {
    /// The run directory.
    run_dir: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let page = write_report(&args.run_dir)?;
    super::stdout::print(&format!("wrote {}\n", page.display()))
}
