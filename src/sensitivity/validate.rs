//! How good are the predictions? K random mixed plans, stratified over average weight bits, each
//! measured for real; rank correlation between each predictor (sum over layers of the measured
//! per-layer error, or of a proxy) and the measured plan error.

use std::collections::BTreeMap;

use candle_core::Tensor;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use super::measure::{measure, reference_outputs, Metric};
use super::stats::{kendall, spearman, Estimate};
use super::table::{Cell, SensitivityTable};
use super::SensitivityError;
use crate::model::calibrate::DEFAULT_RANGE_METHOD;
use crate::model::{Assignment, Calibration, LayerFormats, PreparedAssignment, RunnableModel};

/// How far (in fractions of a layer's candidate list) a layer strays from its plan's target
/// position: wide enough to mix widths inside a plan, narrow enough to keep the strata apart.
const SPREAD: f64 = 0.35;

/// One sampled plan and its predicted and measured errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanSample {
    /// Candidate per layer.
    pub plan: BTreeMap<String, String>,
    /// Weight bits per element over all weights.
    pub average_bits: f64,
    /// Predictor name → predicted value (sum over layers).
    pub predicted: BTreeMap<String, f64>,
    pub measured: Estimate,
}

/// Rank agreement of one predictor with the measured errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Correlation {
    pub predictor: String,
    pub spearman: f64,
    pub kendall: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    pub model: String,
    pub samples: usize,
    pub seed: u64,
    pub correlations: Vec<Correlation>,
    pub plans: Vec<PlanSample>,
}

/// Draws `count` plans: plan k aims at position (k + u)/count of every layer's candidate list
/// sorted by bits (u uniform in [0, 1)), each layer jittered by ±SPREAD; tied layers share the
/// first member's candidate.
pub fn sample_plans(
    table: &SensitivityTable,
    count: usize,
    seed: u64,
) -> Vec<BTreeMap<String, String>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let layers = table.layers();
    (0..count)
        .map(|k| {
            let target = (k as f64 + rng.random::<f64>()) / count.max(1) as f64;
            let mut plan = BTreeMap::new();
            for layer in &layers {
                let mut cells: Vec<&Cell> = table.layer_cells(layer).collect();
                cells.sort_by(|a, b| {
                    b.weight_bits
                        .total_cmp(&a.weight_bits)
                        .then(a.index.cmp(&b.index))
                });
                let jitter = (rng.random::<f64>() * 2.0 - 1.0) * SPREAD;
                let position =
                    (target + jitter).clamp(0.0, 1.0) * (cells.len().saturating_sub(1)) as f64;
                plan.insert(
                    layer.clone(),
                    cells[position.round() as usize].candidate.clone(),
                );
            }
            apply_ties(table, &mut plan);
            plan
        })
        .collect()
}

fn apply_ties(table: &SensitivityTable, plan: &mut BTreeMap<String, String>) {
    for tie in &table.ties {
        let Some(leader) = tie.layers.first().and_then(|l| plan.get(l)).cloned() else {
            continue;
        };
        for member in &tie.layers[1..] {
            if table.layer_cells(member).any(|c| c.candidate == leader) {
                plan.insert(member.clone(), leader.clone());
            }
        }
    }
}

/// The predictors a table supports: `measured` and each proxy present in every cell.
fn predictions(table: &SensitivityTable, plan: &BTreeMap<String, String>) -> BTreeMap<String, f64> {
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    for cell in table
        .cells
        .iter()
        .filter(|c| plan.get(&c.layer) == Some(&c.candidate))
    {
        let mut add = |name: &str, value: Option<f64>| {
            if let Some(value) = value {
                *sums.entry(name.to_string()).or_default() += value;
            }
        };
        add("measured", Some(cell.error.mean));
        add("weight-mse", cell.proxies.weight_mse);
        add("fisher", cell.proxies.fisher);
        add("hessian", cell.proxies.hessian);
    }
    sums
}

fn average_bits(table: &SensitivityTable, plan: &BTreeMap<String, String>) -> f64 {
    let cells = table
        .cells
        .iter()
        .filter(|c| plan.get(&c.layer) == Some(&c.candidate));
    let (bits, elements) = cells.fold((0.0, 0.0), |(b, e), c| {
        (
            b + c.weight_bits * c.weight_elements as f64,
            e + c.weight_elements as f64,
        )
    });
    if elements == 0.0 {
        0.0
    } else {
        bits / elements
    }
}

/// Samples `count` plans, measures each on `batches`, and correlates.
pub fn validate(
    model: &dyn RunnableModel,
    table: &SensitivityTable,
    batches: &[Tensor],
    count: usize,
    seed: u64,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Validation, SensitivityError> {
    let metric: Metric =
        table
            .provenance
            .metric
            .parse()
            .map_err(|reason| SensitivityError::Invalid {
                what: "sensitivity table metric".into(),
                reason,
            })?;
    let reference = reference_outputs(model, batches, metric)?;
    let calibration = Calibration::run(model, batches, DEFAULT_RANGE_METHOD)?;
    let mut plans = Vec::new();
    for (k, plan) in sample_plans(table, count, seed).into_iter().enumerate() {
        let assignment = assignment(model, table, &plan)?;
        let prepared = PreparedAssignment::new(model, &assignment, Some(&calibration))?;
        let measured = Estimate::from_values(&measure(model, &prepared, batches, &reference)?);
        plans.push(PlanSample {
            average_bits: average_bits(table, &plan),
            predicted: predictions(table, &plan),
            measured,
            plan,
        });
        progress(k + 1, count);
    }
    Ok(Validation {
        model: table.provenance.model.clone(),
        samples: count,
        seed,
        correlations: correlations(&plans),
        plans,
    })
}

fn assignment(
    model: &dyn RunnableModel,
    table: &SensitivityTable,
    plan: &BTreeMap<String, String>,
) -> Result<Assignment, SensitivityError> {
    let mut assignment = Assignment::fp32(model.graph());
    for cell in table
        .cells
        .iter()
        .filter(|c| plan.get(&c.layer) == Some(&c.candidate))
    {
        let parse = |text: &str| {
            text.parse()
                .map_err(|e: crate::quant::QuantError| SensitivityError::Invalid {
                    what: format!("layer `{}` in the table", cell.layer),
                    reason: e.to_string(),
                })
        };
        let formats = LayerFormats {
            weight: parse(&cell.weight_format)?,
            activation: parse(&cell.activation_format)?,
        };
        assignment = assignment.with_layer(&cell.layer, formats);
    }
    Ok(assignment)
}

fn correlations(plans: &[PlanSample]) -> Vec<Correlation> {
    let measured: Vec<f64> = plans.iter().map(|p| p.measured.mean).collect();
    let names: Vec<String> = plans
        .first()
        .map(|p| p.predicted.keys().cloned().collect())
        .unwrap_or_default();
    names
        .into_iter()
        .map(|name| {
            let predicted: Vec<f64> = plans
                .iter()
                .map(|p| p.predicted.get(&name).copied().unwrap_or(0.0))
                .collect();
            Correlation {
                spearman: spearman(&predicted, &measured),
                kendall: kendall(&predicted, &measured),
                predictor: name,
            }
        })
        .collect()
}
