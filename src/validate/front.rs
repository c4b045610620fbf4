//! Validating a front: measure its top plans and every uniform baseline, write the measured
//! values into them, and flag plans whose measured metric a baseline beats at no higher
//! predicted cost.

use std::collections::BTreeMap;

use super::error::ValidateError;
use super::evaluator::assignment_of;
use super::task::{higher_is_better, PlanTask, TaskMeasurement};
use crate::search::{Front, Measured, Plan};

/// How much to measure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValidateSettings {
    /// Frontier plans to measure: the recommended one first, then by increasing cost.
    pub top: usize,
    /// Evaluation images, or windows of a language model (all when `None`).
    pub limit: Option<usize>,
    /// Whether to time the executor (the demo skips it to stay within its time budget).
    pub time_latency: bool,
}

/// Measurements already taken in this process, by assignment, so a plan shared by several fronts
/// (e.g. a uniform baseline) is run once.
#[derive(Default)]
pub struct MeasureCache {
    done: BTreeMap<String, TaskMeasurement>,
    reference: Option<f64>,
}

/// Indices of the frontier plans to measure.
pub fn chosen_plans(front: &Front, top: usize) -> Vec<usize> {
    let mut order: Vec<usize> = front.recommended.into_iter().collect();
    order.extend((0..front.plans.len()).filter(|&i| Some(i) != front.recommended));
    order.truncate(top);
    order
}

/// Measures the chosen plans and all baselines of `front` in place; `on_plan(done, total)` after
/// each plan.
pub fn validate_front(
    front: &mut Front,
    evaluator: &dyn PlanTask,
    settings: ValidateSettings,
    cache: &mut MeasureCache,
    on_plan: &mut dyn FnMut(usize, usize),
) -> Result<(), ValidateError> {
    let chosen = chosen_plans(front, settings.top);
    let total = chosen.len() + front.baselines.len();
    let mut done = 0;
    for &index in &chosen {
        measure_plan(&mut front.plans[index].plan, evaluator, settings, cache)?;
        done += 1;
        on_plan(done, total);
    }
    for baseline in &mut front.baselines {
        measure_plan(&mut baseline.plan, evaluator, settings, cache)?;
        done += 1;
        on_plan(done, total);
    }
    flag_dominated(front);
    Ok(())
}

/// Runs `plan` (or reuses the cached run of the same assignment) and stores the result in it.
pub fn measure_plan(
    plan: &mut Plan,
    evaluator: &dyn PlanTask,
    settings: ValidateSettings,
    cache: &mut MeasureCache,
) -> Result<(), ValidateError> {
    let reference = match cache.reference {
        Some(value) => value,
        None => {
            let value = evaluator.reference(settings.limit)?;
            cache.reference = Some(value);
            value
        }
    };
    let assignment = assignment_of(plan)?;
    let key = serde_json::to_string(&assignment).unwrap_or_default();
    let measurement = match cache.done.get(&key) {
        Some(&measurement) => measurement,
        None => {
            let measurement =
                evaluator.measure(&assignment, settings.limit, settings.time_latency)?;
            cache.done.insert(key, measurement);
            measurement
        }
    };
    let timed = !measurement.latency_us.is_nan();
    plan.measured = Some(Measured {
        metric: evaluator.metric().to_string(),
        value: measurement.value,
        reference_value: reference,
        samples: measurement.samples,
        latency_us: timed.then_some(measurement.latency_us),
        latency_device: evaluator
            .latency_device()
            .filter(|_| timed)
            .map(str::to_string),
        dominated_by: None,
    });
    Ok(())
}

/// Flags each measured plan that a measured baseline within the budgets beats: measured metric
/// at least as good (as high for accuracy, as low for perplexity) and every predicted cost
/// objective at most as high, one of them strictly.
pub fn flag_dominated(front: &mut Front) {
    let baselines: Vec<(String, f64, Vec<f64>)> = front
        .baselines
        .iter()
        .filter(|b| b.within_budgets)
        .filter_map(|b| {
            let value = b.plan.measured.as_ref()?.value;
            Some((b.candidate.clone(), value, b.objectives[1..].to_vec()))
        })
        .collect();
    for entry in &mut front.plans {
        let costs = entry.objectives[1..].to_vec();
        let Some(measured) = entry.plan.measured.as_mut() else {
            continue;
        };
        // Compare on a scale where higher is better.
        let sign = if higher_is_better(&measured.metric) {
            1.0
        } else {
            -1.0
        };
        measured.dominated_by = baselines
            .iter()
            .find(|(_, value, base_costs)| {
                let (base, mine) = (sign * value, sign * measured.value);
                let no_worse = base >= mine && base_costs.iter().zip(&costs).all(|(b, c)| b <= c);
                let better = base > mine || base_costs.iter().zip(&costs).any(|(b, c)| b < c);
                no_worse && better
            })
            .map(|(name, _, _)| name.clone());
    }
}
