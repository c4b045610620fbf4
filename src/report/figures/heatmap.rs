//! The sensitivity heatmap, drawn from the sensitivity table (`bitplan.sensitivity/1`): layer x
//! candidate, colour on a log scale of the measured mean error, each cell labelled with the mean
//! and its 95% confidence interval over calibration batches.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::super::chart::{fail, Figure, FAMILY};
use crate::sensitivity::{Cell, SensitivityTable};

pub const CAPTION: &str = "Sensitivity: each cell is the measured error (mean over calibration batches) of quantizing that layer alone to that candidate, with its 95% confidence interval [low, high] (colour: log10 scale of the mean, darker = more sensitive); blank cells are candidates the space does not admit for the layer (shape misfits or pins).";

const LEFT: i32 = 130;
const TOP: i32 = 60;
const CELL_W: i32 = 150;
const CELL_H: i32 = 34;

/// Floor of the log scale: errors below it (fp16 is often exactly 0) share the lightest colour.
const FLOOR: f64 = 1e-7;

pub struct Heatmap<'a> {
    table: &'a SensitivityTable,
    layers: Vec<String>,
    candidates: Vec<String>,
}

impl<'a> Heatmap<'a> {
    pub fn new(table: &'a SensitivityTable) -> Self {
        Heatmap {
            table,
            layers: table.layers(),
            candidates: table.candidates(),
        }
    }

    fn log_range(&self) -> (f64, f64) {
        let logs = self
            .table
            .cells
            .iter()
            .map(|c| c.error.mean.max(FLOOR).log10());
        let (lo, hi) = logs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if lo.is_finite() && hi > lo {
            (lo, hi)
        } else {
            (lo.min(0.0), lo.min(0.0) + 1.0)
        }
    }

    fn draw_cell<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        cell: &Cell,
        (x, y): (i32, i32),
        (lo, hi): (f64, f64),
    ) -> Result<(), String> {
        let t = ((cell.error.mean.max(FLOOR).log10() - lo) / (hi - lo)).clamp(0.0, 1.0);
        let shade = RGBColor(
            255 - (200.0 * t) as u8,
            245 - (215.0 * t) as u8,
            240 - (200.0 * t) as u8,
        );
        root.draw(&Rectangle::new(
            [(x + 1, y + 1), (x + CELL_W - 1, y + CELL_H - 1)],
            shade.filled(),
        ))
        .map_err(fail)?;
        let ink = if t > 0.55 { WHITE } else { BLACK };
        let small = (FAMILY, 10).into_font().color(&ink);
        let error = &cell.error;
        let mean = format!("{:.2e}", error.mean);
        let interval = format!("[{:.1e}, {:.1e}]", error.ci95_low, error.ci95_high);
        root.draw(&Text::new(mean, (x + 4, y + 4), small.clone()))
            .map_err(fail)?;
        root.draw(&Text::new(interval, (x + 4, y + 18), small))
            .map_err(fail)
    }
}

impl Figure for Heatmap<'_> {
    fn name(&self) -> &str {
        "sensitivity"
    }

    fn size(&self) -> (u32, u32) {
        let width = LEFT + CELL_W * self.candidates.len() as i32 + 20;
        let height = TOP + CELL_H * self.layers.len() as i32 + 20;
        (width as u32, height as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let font = (FAMILY, 12).into_font();
        let provenance = &self.table.provenance;
        let title = format!(
            "error: {} divergence of the output from fp32, mean and 95% interval over {} calibration images in {} batches ({})",
            provenance.metric, provenance.calib_samples, provenance.calib_batches, provenance.space
        );
        root.draw(&Text::new(title, (10, 8), font.clone()))
            .map_err(fail)?;
        for (column, candidate) in self.candidates.iter().enumerate() {
            let x = LEFT + CELL_W * column as i32 + 4;
            root.draw(&Text::new(candidate.clone(), (x, TOP - 20), font.clone()))
                .map_err(fail)?;
        }
        let range = self.log_range();
        for (row, layer) in self.layers.iter().enumerate() {
            let y = TOP + CELL_H * row as i32;
            root.draw(&Text::new(layer.clone(), (10, y + 10), font.clone()))
                .map_err(fail)?;
            for cell in self.table.layer_cells(layer) {
                let Some(column) = self.candidates.iter().position(|c| *c == cell.candidate) else {
                    continue;
                };
                let x = LEFT + CELL_W * column as i32;
                self.draw_cell(root, cell, (x, y), range)?;
            }
        }
        Ok(())
    }
}
