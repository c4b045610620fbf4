//! The report's figures. Each is a [`Figure`](super::chart::Figure) drawn from a [`RunData`];
//! `render_all` writes each as SVG and PNG and returns the SVG texts for the page.

mod accuracy;
mod allocation;
mod frontier;
mod heatmap;
mod latency;
mod points;

use std::path::Path;

use super::chart::render;
use super::error::ReportError;
use super::run_dir::RunData;

pub use points::{measured_plans, Point, PointKind};

/// A rendered figure: file stem, caption, SVG text.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub name: String,
    pub caption: String,
    pub svg: String,
}

/// Every figure the run's data supports, in page order.
pub fn render_all(run: &RunData, dir: &Path) -> Result<Vec<Rendered>, ReportError> {
    let mut out = Vec::new();
    let mut push = |name: &str, caption: &str, svg: String| {
        out.push(Rendered {
            name: name.to_string(),
            caption: caption.to_string(),
            svg,
        })
    };
    let latency = frontier::Frontier::new(run, "latency_us", "frontier-latency");
    push(
        latency.name_str(),
        &latency.caption(),
        render(&latency, dir)?,
    );
    let size = frontier::Frontier::new(run, "weight_bytes", "frontier-size");
    push(size.name_str(), &size.caption(), render(&size, dir)?);
    let allocation = allocation::Allocation::new(run);
    push("allocation", allocation::CAPTION, render(&allocation, dir)?);
    if let Some(table) = &run.sensitivity {
        let figure = heatmap::Heatmap::new(table);
        push("sensitivity", heatmap::CAPTION, render(&figure, dir)?);
    }
    if !run.costs.is_empty() {
        let figure = latency::Breakdown { run };
        push("latency-breakdown", latency::CAPTION, render(&figure, dir)?);
    }
    let figure = accuracy::PredictedMeasured { run };
    push(
        "predicted-vs-measured",
        &figure.caption(),
        render(&figure, dir)?,
    );
    Ok(out)
}
