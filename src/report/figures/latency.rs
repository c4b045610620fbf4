//! Latency breakdown: for each chip's recommended plan, each layer's predicted latency as a bar,
//! coloured by what bounds it (compute or memory), from the hardware stage's cost table.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::super::chart::{fail, Figure, FAMILY};
use super::super::run_dir::RunData;
use crate::hardware::Bound;

pub const CAPTION: &str = "Predicted latency per layer of each chip's recommended plan (bar length relative to that chip's slowest layer; value in microseconds). Blue: compute-bound; orange: memory-bound.";

const COMPUTE: RGBColor = RGBColor(31, 119, 180);
const MEMORY: RGBColor = RGBColor(255, 127, 14);
const LEFT: i32 = 120;
const BAR_W: i32 = 330;
const ROW_H: i32 = 20;
const PANEL_W: i32 = LEFT + BAR_W + 110;

pub struct Breakdown<'a> {
    pub run: &'a RunData,
}

/// Per layer of the profile's recommended plan: name, latency, bound.
fn bars(run: &RunData, profile: &str) -> Vec<(String, f64, Option<Bound>)> {
    let Some(front) = run.fronts.get(profile) else {
        return Vec::new();
    };
    let Some(plan) = front.recommended.map(|i| &front.plans[i].plan) else {
        return Vec::new();
    };
    let table = run.costs.get(profile);
    plan.layers
        .iter()
        .map(|layer| {
            let bound = table
                .and_then(|t| t.layers.iter().find(|row| row.name == layer.name))
                .and_then(|row| row.costs.iter().find(|c| c.candidate == layer.candidate))
                .map(|c| c.cost.bound);
            let latency = layer.costs.get("latency_us").copied().unwrap_or(0.0);
            (layer.name.clone(), latency, bound)
        })
        .collect()
}

impl Figure for Breakdown<'_> {
    fn name(&self) -> &str {
        "latency-breakdown"
    }

    fn size(&self) -> (u32, u32) {
        let layers = self
            .run
            .fronts
            .keys()
            .map(|p| bars(self.run, p).len())
            .max()
            .unwrap_or(1);
        let width = PANEL_W * self.run.fronts.len().clamp(1, 2) as i32;
        let rows = self.run.fronts.len().div_ceil(2).max(1) as i32;
        (width as u32, (rows * (50 + ROW_H * layers as i32)) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let font = (FAMILY, 12).into_font();
        let layers = self
            .run
            .fronts
            .keys()
            .map(|p| bars(self.run, p).len())
            .max()
            .unwrap_or(1);
        for (index, profile) in self.run.fronts.keys().enumerate() {
            let x0 = PANEL_W * (index % 2) as i32;
            let y0 = (50 + ROW_H * layers as i32) * (index / 2) as i32;
            let rows = bars(self.run, profile);
            let total: f64 = rows.iter().map(|r| r.1).sum();
            let title = format!("{profile} (recommended plan, total {total:.3} us)");
            root.draw(&Text::new(
                title,
                (x0 + 10, y0 + 10),
                (FAMILY, 14).into_font(),
            ))
            .map_err(fail)?;
            let max = rows.iter().map(|r| r.1).fold(0.0, f64::max).max(1e-12);
            for (row, (name, latency, bound)) in rows.iter().enumerate() {
                let y = y0 + 36 + ROW_H * row as i32;
                root.draw(&Text::new(name.clone(), (x0 + 10, y + 3), font.clone()))
                    .map_err(fail)?;
                let length = ((latency / max) * BAR_W as f64).round() as i32;
                let c = if *bound == Some(Bound::Memory) {
                    MEMORY
                } else {
                    COMPUTE
                };
                let bar = [
                    (x0 + LEFT, y + 2),
                    (x0 + LEFT + length.max(1), y + ROW_H - 3),
                ];
                root.draw(&Rectangle::new(bar, c.filled())).map_err(fail)?;
                let value = format!("{latency:.4}");
                root.draw(&Text::new(
                    value,
                    (x0 + LEFT + length + 6, y + 3),
                    font.clone(),
                ))
                .map_err(fail)?;
            }
        }
        Ok(())
    }
}
