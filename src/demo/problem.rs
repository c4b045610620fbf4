//! Joining the stages: the quant format table as the cost model's format catalog, and a search
//! problem built from a measured per-layer error table and a cost table.

use std::collections::BTreeMap;

use crate::hardware::{CandidateFormats, CostTable};
use crate::search::{CandidateSpec, LayerSpec, Problem, SearchError, TransitionSpec};
use crate::space::Shorthand;
use crate::validate::SensitivityProbe;

/// The cost metrics the demo searches over.
pub const METRICS: [&str; 2] = ["latency_us", "weight_bytes"];

/// The shorthand's candidate with its weight fallback applied everywhere (the demo's model has no
/// layer whose rows split into groups of 128, so the fallback is what every layer would get).
pub fn resolved(shorthand: &Shorthand) -> Shorthand {
    let mut resolved = shorthand.clone();
    if let Some(fallback) = shorthand.weight_fallback {
        resolved.candidate.weight = fallback;
        resolved.weight_fallback = None;
    }
    resolved
}

pub fn candidate_formats(shorthand: &Shorthand) -> CandidateFormats {
    CandidateFormats::from(shorthand)
}

/// Per layer, the candidates both the probe measured and the cost table priced (in the cost
/// table's order), with the probe's error and the table's costs. Transition matrices are kept
/// for the searched metrics when both layers kept all of the table's candidates.
#[allow(clippy::result_large_err)] // the search stage's own error, as `Problem::new` returns it
pub fn build_problem(
    origin: &str,
    probe: &SensitivityProbe,
    costs: &CostTable,
) -> Result<Problem, SearchError> {
    let mut layers = Vec::new();
    let mut complete = BTreeMap::new();
    for row in &costs.layers {
        let measured = probe.layers.iter().find(|l| l.name == row.name);
        let mut candidates = Vec::new();
        for priced in &row.costs {
            let Some(cell) =
                measured.and_then(|l| l.cells.iter().find(|c| c.candidate == priced.candidate))
            else {
                continue;
            };
            let cost = &priced.cost;
            let metrics = BTreeMap::from([
                (METRICS[0].to_string(), cost.latency_us),
                (METRICS[1].to_string(), cost.weight_bytes as f64),
            ]);
            candidates.push(CandidateSpec {
                name: priced.candidate.clone(),
                error: cell.error,
                weight_format: Some(cell.weight_format.clone()),
                activation_format: Some(cell.activation_format.clone()),
                costs: metrics,
            });
        }
        complete.insert(row.name.clone(), candidates.len() == row.costs.len());
        layers.push(LayerSpec {
            name: row.name.clone(),
            candidates,
        });
    }
    let transitions = costs
        .transitions
        .iter()
        .filter(|t| METRICS.contains(&t.metric.as_str()))
        .filter(|t| complete.get(&t.from) == Some(&true) && complete.get(&t.to) == Some(&true))
        .map(|t| TransitionSpec {
            from: t.from.clone(),
            to: t.to.clone(),
            metric: t.metric.clone(),
            cost: t.cost.clone(),
        })
        .collect();
    Problem::new(origin, layers, Vec::new(), transitions)
}
