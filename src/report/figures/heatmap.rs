//! The sensitivity heatmap: layer x candidate, colour on a log scale of the error, each cell
//! labelled with the error and its 95% confidence interval.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::super::chart::{fail, Figure, FAMILY};
use crate::validate::SensitivityProbe;

pub const CAPTION: &str = "Sensitivity: each cell is the error of quantizing that layer alone to that candidate (colour: log10 scale, darker = more sensitive), with its 95% confidence interval; blank cells are candidates the layer cannot take.";

const LEFT: i32 = 130;
const TOP: i32 = 60;
const CELL_W: i32 = 120;
const CELL_H: i32 = 34;

pub struct Heatmap<'a> {
    pub table: &'a SensitivityProbe,
}

/// Floor of the log scale: errors below it share the lightest colour.
const FLOOR: f64 = 1e-7;

impl Heatmap<'_> {
    fn log_range(&self) -> (f64, f64) {
        let logs = self
            .table
            .layers
            .iter()
            .flat_map(|l| &l.cells)
            .map(|c| c.error.max(FLOOR).log10());
        let (lo, hi) = logs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if lo.is_finite() && hi > lo {
            (lo, hi)
        } else {
            (lo.min(0.0), lo.min(0.0) + 1.0)
        }
    }
}

impl Figure for Heatmap<'_> {
    fn name(&self) -> &str {
        "sensitivity"
    }

    fn size(&self) -> (u32, u32) {
        let width = LEFT + CELL_W * self.table.candidates.len() as i32 + 20;
        let height = TOP + CELL_H * self.table.layers.len() as i32 + 20;
        (width as u32, height as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let font = (FAMILY, 12).into_font();
        let small = (FAMILY, 10).into_font();
        let (lo, hi) = self.log_range();
        root.draw(&Text::new(self.table.metric.clone(), (10, 8), font.clone()))
            .map_err(fail)?;
        for (column, candidate) in self.table.candidates.iter().enumerate() {
            let x = LEFT + CELL_W * column as i32 + 4;
            root.draw(&Text::new(candidate.clone(), (x, TOP - 20), font.clone()))
                .map_err(fail)?;
        }
        for (row, layer) in self.table.layers.iter().enumerate() {
            let y = TOP + CELL_H * row as i32;
            root.draw(&Text::new(layer.name.clone(), (10, y + 10), font.clone()))
                .map_err(fail)?;
            for cell in &layer.cells {
                let Some(column) = self
                    .table
                    .candidates
                    .iter()
                    .position(|c| *c == cell.candidate)
                else {
                    continue;
                };
                let x = LEFT + CELL_W * column as i32;
                let t = ((cell.error.max(FLOOR).log10() - lo) / (hi - lo)).clamp(0.0, 1.0);
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
                let label = format!("{:.2e} ±{:.1e}", cell.error, cell.ci95);
                root.draw(&Text::new(
                    label,
                    (x + 4, y + 11),
                    small.clone().color(&ink),
                ))
                .map_err(fail)?;
            }
        }
        Ok(())
    }
}
