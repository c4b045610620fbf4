//! Why each layer of a plan built from tables got its candidate, in words a reviewer can check
//! against the search space and the sensitivity table: pinned by the space, tied with its
//! partners (said by [`super::Plan::build`]), among the most sensitive layers, or the chip's
//! cheapest candidate. The one place plans get these reasons.

use super::plan::Plan;
use super::problem::Problem;
use crate::sensitivity::SensitivityTable;
use crate::space::ResolvedSpace;

/// The cost metric "cheapest" refers to.
const CHEAPEST_BY: &str = "latency_us";

/// A layer's sensitivity: its largest measured mean error over the candidates it can take.
fn sensitivity(table: &SensitivityTable, layer: &str) -> Option<f64> {
    table
        .layer_cells(layer)
        .map(|cell| cell.error.mean)
        .fold(None, |max: Option<f64>, e| {
            Some(max.map_or(e, |m| m.max(e)))
        })
}

/// The candidate of `layer` with the lowest predicted latency in `problem`.
fn cheapest(problem: &Problem, layer: &str) -> Option<String> {
    let row = problem.layers().iter().find(|l| l.name == layer)?;
    let latency =
        |c: &&super::CandidateSpec| c.costs.get(CHEAPEST_BY).copied().unwrap_or(f64::INFINITY);
    row.candidates
        .iter()
        .min_by(|a, b| latency(a).total_cmp(&latency(b)))
        .map(|c| c.name.clone())
}

/// Layer names by decreasing sensitivity (pinned layers are not ranked: they had no choice).
fn ranking(table: &SensitivityTable, plan: &Plan, space: &ResolvedSpace) -> Vec<String> {
    let mut scores: Vec<(String, f64)> = plan
        .layers
        .iter()
        .filter(|l| pin(space, &l.name).is_none())
        .filter_map(|l| Some((l.name.clone(), sensitivity(table, &l.name)?)))
        .collect();
    scores.sort_by(|a, b| b.1.total_cmp(&a.1));
    scores.into_iter().map(|(name, _)| name).collect()
}

fn pin<'a>(space: &'a ResolvedSpace, layer: &str) -> Option<&'a str> {
    space
        .layers
        .iter()
        .find(|l| l.name == layer)
        .and_then(|l| l.pinned.as_deref())
}

/// Whether 0-based `rank` of `count` layers is within the top `fraction` (at least one layer).
fn within_top(rank: usize, count: usize, fraction: f64) -> bool {
    rank < ((count as f64 * fraction).ceil() as usize).max(1)
}

/// Gives every layer a reason: pins first, then the reason the search gave (ties, a baseline's
/// fallback), else the layer's sensitivity rank or that it took the cheapest candidate.
pub fn annotate_reasons(
    plan: &mut Plan,
    problem: &Problem,
    table: &SensitivityTable,
    space: &ResolvedSpace,
) {
    let ranked = ranking(table, plan, space);
    let count = ranked.len();
    for layer in plan.layers.iter_mut() {
        if let Some(pinned) = pin(space, &layer.name) {
            layer.reason = Some(format!("pinned by the space to {pinned}"));
            continue;
        }
        if layer.reason.is_some() {
            continue;
        }
        let rank = ranked.iter().position(|name| *name == layer.name);
        let is_cheapest = cheapest(problem, &layer.name).as_deref() == Some(&layer.candidate);
        // Sensitivity explains a layer only when it kept a more accurate candidate than its
        // worst one.
        let protected = sensitivity(table, &layer.name).is_some_and(|worst| layer.error < worst);
        layer.reason = Some(match rank {
            _ if is_cheapest => "cheapest candidate on this chip".to_string(),
            Some(r) if protected && within_top(r, count, 0.1) => {
                "most sensitive 10% of layers".to_string()
            }
            Some(r) if protected && within_top(r, count, 0.25) => {
                "among the 25% most sensitive layers".to_string()
            }
            Some(r) => format!(
                "sensitivity rank {} of {count}: the error/latency trade-off",
                r + 1
            ),
            None => "the error/latency trade-off".to_string(),
        });
    }
}
