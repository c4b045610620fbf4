//! The figures a latency validation reports: per plan (sum over layers) and per layer, the
//! relative error of the prediction, err = predicted / measured - 1.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::latency::{LayerTiming, PlanTiming};
use super::rank::spearman;
use crate::hardware::calibrate::measurements::median;

/// A prediction counts as good within this relative error (the issue's ±10%).
pub const WITHIN: f64 = 0.10;

/// Distribution of relative errors (predicted / measured - 1) over some set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorSummary {
    pub count: usize,
    /// Share with |err| <= 10%, 0..1.
    pub within_10_percent: f64,
    pub median_abs_error: f64,
    /// Median of the signed error: > 0 when the model over-predicts.
    pub median_error: f64,
    pub max_abs_error: f64,
}

impl ErrorSummary {
    pub fn of(errors: &[f64]) -> ErrorSummary {
        let mut absolute: Vec<f64> = errors.iter().map(|e| e.abs()).collect();
        let within = absolute.iter().filter(|&&e| e <= WITHIN).count();
        ErrorSummary {
            count: errors.len(),
            within_10_percent: within as f64 / errors.len().max(1) as f64,
            median_abs_error: median(&mut absolute),
            median_error: median(&mut errors.to_vec()),
            max_abs_error: absolute.iter().copied().fold(0.0, f64::max),
        }
    }
}

/// Layers of one candidate and weight shape: where a fit is off shows up here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub candidate: String,
    /// Measured median, microseconds.
    pub measured_us: f64,
    pub predicted_us: f64,
    pub errors: ErrorSummary,
}

/// The headline figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub plans: ErrorSummary,
    /// Spearman's rank correlation between predicted and measured plan latencies (None when
    /// fewer than 3 plans or all plans predict the same).
    pub spearman: Option<f64>,
    pub layers: ErrorSummary,
    /// Per (candidate, layer group) where a layer group is the layers sharing a name pattern
    /// once block numbers are dropped (`blk.N.ffn_down`).
    pub groups: BTreeMap<String, GroupSummary>,
    /// Highest 1-minute load average seen at the start of a plan.
    pub max_load_average: Option<f64>,
}

fn error(predicted: f64, measured: f64) -> f64 {
    predicted / measured - 1.0
}

/// A layer's name with its numbers replaced by N: `blk.3.ffn_down` -> `blk.N.ffn_down`.
fn layer_group(name: &str) -> String {
    name.split('.')
        .map(|part| {
            if part.chars().all(|c| c.is_ascii_digit()) {
                "N"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

pub fn summarize(plans: &[PlanTiming]) -> LatencySummary {
    let plan_errors: Vec<f64> = plans
        .iter()
        .map(|p| error(p.predicted_us, p.measured_us))
        .collect();
    let predicted: Vec<f64> = plans.iter().map(|p| p.predicted_us).collect();
    let measured: Vec<f64> = plans.iter().map(|p| p.measured_us).collect();
    let layers: Vec<&LayerTiming> = plans.iter().flat_map(|p| &p.layers).collect();
    let layer_errors: Vec<f64> = layers
        .iter()
        .map(|l| error(l.predicted_us, l.measured_us))
        .collect();
    LatencySummary {
        plans: ErrorSummary::of(&plan_errors),
        spearman: spearman(&predicted, &measured),
        layers: ErrorSummary::of(&layer_errors),
        groups: groups(&layers),
        max_load_average: plans
            .iter()
            .filter_map(|p| p.load_average.map(|l| l[0]))
            .reduce(f64::max),
    }
}

fn groups(layers: &[&LayerTiming]) -> BTreeMap<String, GroupSummary> {
    let mut members: BTreeMap<String, Vec<&LayerTiming>> = BTreeMap::new();
    for layer in layers {
        let key = format!("{} {}", layer.candidate, layer_group(&layer.layer));
        members.entry(key).or_default().push(layer);
    }
    members
        .into_iter()
        .map(|(key, timings)| {
            let errors: Vec<f64> = timings
                .iter()
                .map(|l| error(l.predicted_us, l.measured_us))
                .collect();
            let mut measured: Vec<f64> = timings.iter().map(|l| l.measured_us).collect();
            let mut predicted: Vec<f64> = timings.iter().map(|l| l.predicted_us).collect();
            let summary = GroupSummary {
                candidate: timings[0].candidate.clone(),
                measured_us: median(&mut measured),
                predicted_us: median(&mut predicted),
                errors: ErrorSummary::of(&errors),
            };
            (key, summary)
        })
        .collect()
}
