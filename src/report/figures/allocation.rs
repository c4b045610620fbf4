//! Per-layer allocation: one row per measured plan (each chip's validated frontier plans), one
//! column per layer, each cell coloured by the candidate the layer got.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::super::chart::{colour, fail, Figure, FAMILY};
use super::super::run_dir::RunData;
use super::points::{all_points, PointKind};
use crate::search::Plan;

pub const CAPTION: &str = "Per-layer allocation of the selected plans: rows are each chip's validated frontier plans (R = recommended), columns the layers in execution order, colours the candidate each layer got.";

const LEFT: i32 = 230;
const TOP: i32 = 90;
const CELL_W: i32 = 90;
const CELL_H: i32 = 26;

pub struct Allocation<'a> {
    rows: Vec<(String, &'a Plan)>,
    layers: Vec<String>,
    candidates: Vec<String>,
}

impl<'a> Allocation<'a> {
    pub fn new(run: &'a RunData) -> Self {
        let names: Vec<&String> = run.fronts.keys().collect();
        let rows: Vec<(String, &Plan)> = all_points(run)
            .into_iter()
            .filter(|p| p.kind != PointKind::Baseline)
            .filter(|p| p.plan.measured.is_some() || p.kind == PointKind::Recommended)
            .map(|p| {
                let mark = if p.kind == PointKind::Recommended {
                    " R"
                } else {
                    ""
                };
                let label = format!(
                    "{}{mark} {:.3}us",
                    names[p.profile],
                    p.plan.total("latency_us")
                );
                (label, p.plan)
            })
            .collect();
        let layers = rows
            .first()
            .map(|(_, plan)| plan.layers.iter().map(|l| l.name.clone()).collect())
            .unwrap_or_default();
        let mut candidates: Vec<String> = run
            .sensitivity
            .as_ref()
            .map(|s| s.candidates())
            .unwrap_or_default();
        for (_, plan) in &rows {
            for layer in &plan.layers {
                if !candidates.contains(&layer.candidate) {
                    candidates.push(layer.candidate.clone());
                }
            }
        }
        Allocation {
            rows,
            layers,
            candidates,
        }
    }

    fn candidate_colour(&self, name: &str) -> RGBColor {
        colour(self.candidates.iter().position(|c| c == name).unwrap_or(0))
    }
}

impl Figure for Allocation<'_> {
    fn name(&self) -> &str {
        "allocation"
    }

    fn size(&self) -> (u32, u32) {
        let width = LEFT + CELL_W * self.layers.len().max(4) as i32 + 20;
        let height = TOP + CELL_H * self.rows.len().max(1) as i32 + 20;
        (width as u32, height as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let font = (FAMILY, 12).into_font();
        for (index, candidate) in self.candidates.iter().enumerate() {
            let x = 10 + 120 * index as i32;
            let c = self.candidate_colour(candidate);
            root.draw(&Rectangle::new([(x, 10), (x + 14, 24)], c.filled()))
                .map_err(fail)?;
            root.draw(&Text::new(candidate.clone(), (x + 18, 10), font.clone()))
                .map_err(fail)?;
        }
        for (column, layer) in self.layers.iter().enumerate() {
            let x = LEFT + CELL_W * column as i32 + 4;
            root.draw(&Text::new(layer.clone(), (x, TOP - 22), font.clone()))
                .map_err(fail)?;
        }
        for (row, (label, plan)) in self.rows.iter().enumerate() {
            let y = TOP + CELL_H * row as i32;
            root.draw(&Text::new(label.clone(), (10, y + 6), font.clone()))
                .map_err(fail)?;
            for (column, layer) in plan.layers.iter().enumerate() {
                let x = LEFT + CELL_W * column as i32;
                let c = self.candidate_colour(&layer.candidate);
                let cell = [(x + 1, y + 1), (x + CELL_W - 1, y + CELL_H - 1)];
                root.draw(&Rectangle::new(cell, c.mix(0.85).filled()))
                    .map_err(fail)?;
                let text = Text::new(
                    layer.candidate.clone(),
                    (x + 5, y + 6),
                    font.clone().color(&WHITE),
                );
                root.draw(&text).map_err(fail)?;
            }
        }
        Ok(())
    }
}
