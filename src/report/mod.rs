//! Reports: plan files (TOML and JSON), plan diffs, figures (SVG and PNG through plotters, PNG
//! text drawn with the vendored DejaVu Sans so no system font is needed) and the self-contained
//! HTML page. This is the only code that writes reports.

pub mod chart;
pub mod diff;
pub mod error;
pub mod figures;
pub mod html;
pub mod plan_file;
pub mod run_dir;
pub mod summary;

pub use diff::{diff, PlanDiff};
pub use error::ReportError;
pub use plan_file::{read_front, read_plan, write_front, write_plan, Encoding};
pub use run_dir::{RunData, RunManifest, RUN_SCHEMA};
pub use summary::{chip_summaries, ChipSummary, ACCURACY_TOLERANCE_PP};

use std::path::{Path, PathBuf};

/// Writes every figure (SVG and PNG under `RUN_DIR/figures/`) and `RUN_DIR/index.html`; returns
/// the page's path.
pub fn write_report(dir: &Path) -> Result<PathBuf, ReportError> {
    let run = RunData::load(dir)?;
    let figures_dir = dir.join("figures");
    std::fs::create_dir_all(&figures_dir).map_err(ReportError::io(&figures_dir))?;
    let figures = figures::render_all(&run, &figures_dir)?;
    let page = html::page(&run, &figures);
    let path = dir.join("index.html");
    std::fs::write(&path, page).map_err(ReportError::io(&path))?;
    Ok(path)
}
