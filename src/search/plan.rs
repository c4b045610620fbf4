//! Plans (schema `bitplan.plan/1`): one candidate per layer with its contributions, the totals,
//! the budgets' slack, the solver and seed, and the provenance needed to reproduce it.
//!
//! Totals are recomputed here from the problem's layer and transition specs, independently of
//! the solvers' internal tables, so a plan file is a check on the solver as well as its answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::budget::Budget;
use super::problem::{LayerSpec, Problem};
use super::tables::TableProvenance;

/// The schema tag of a plan.
pub const PLAN_SCHEMA: &str = "bitplan.plan/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub schema: String,
    /// `exact`, `greedy`, `aimet-path`, `evolutionary`, `random`, or `uniform` for baselines.
    pub solver: String,
    /// The seed of a seeded solver; `null` for deterministic ones.
    pub seed: Option<u64>,
    pub budgets: Vec<Budget>,
    pub layers: Vec<PlanLayer>,
    /// `error` and every cost metric, summed over layers plus transitions.
    pub totals: BTreeMap<String, f64>,
    /// Per budgeted metric: budget minus total (>= 0 up to float rounding).
    pub slack: BTreeMap<String, f64>,
    /// Per metric with transitions: the part of the total they contribute.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub transition_costs: BTreeMap<String, f64>,
    pub provenance: Provenance,
    /// What `bitplan validate` measured when it ran the plan (absent before validation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<Measured>,
}

/// A plan's measured values, beside the predicted `totals`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// The task metric's name (e.g. `top1_accuracy_percent`) and its value on the evaluation split.
    pub metric: String,
    pub value: f64,
    /// The same metric with every layer in fp32, measured in the same run.
    pub reference_value: f64,
    /// Evaluation samples the metric was measured on.
    pub samples: usize,
    /// Median wall time of one forward pass per sample on `latency_device` (microseconds);
    /// absent when latency was not timed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_device: Option<String>,
    /// The uniform baseline whose measured metric and predicted cost both beat this plan's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dominated_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanLayer {
    pub name: String,
    pub candidate: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_format: Option<String>,
    pub error: f64,
    pub costs: BTreeMap<String, f64>,
    /// Why the layer has this candidate when the solver did not choose it freely.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Where the problem came from (file path or the tables it was built from).
    pub problem: String,
    /// sha256 of the canonical problem JSON.
    pub problem_sha256: String,
    pub bitplan_version: String,
    /// The sensitivity table, cost table and space a joined problem came from: model and
    /// calibration hashes, profile name and hashes, space (absent for a problem file). With the
    /// plan's `solver`, `seed` and `budgets` this is everything needed to reproduce it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<TableProvenance>,
}

impl Provenance {
    pub fn of(problem: &Problem) -> Provenance {
        Provenance {
            problem: problem.origin().to_string(),
            problem_sha256: problem.fingerprint(),
            bitplan_version: env!("CARGO_PKG_VERSION").to_string(),
            tables: problem.sources().cloned(),
        }
    }
}

/// What a plan records besides the layers' candidates.
pub struct PlanContext<'a> {
    pub solver: &'a str,
    pub seed: Option<u64>,
    pub budgets: &'a [Budget],
    /// Per layer index: a reason that replaces the default one.
    pub reasons: BTreeMap<usize, String>,
}

impl Plan {
    /// The plan giving layer `i` its candidate `candidates[i]`.
    pub fn build(problem: &Problem, candidates: &[usize], context: PlanContext) -> Plan {
        let mut reasons = context.reasons;
        let layers: Vec<PlanLayer> = problem
            .layers()
            .iter()
            .zip(candidates)
            .enumerate()
            .map(|(index, (spec, &choice))| {
                let reason = reasons
                    .remove(&index)
                    .or_else(|| default_reason(problem, index));
                layer_entry(spec, choice, reason)
            })
            .collect();
        let mut totals: BTreeMap<String, f64> = BTreeMap::new();
        totals.insert("error".to_string(), 0.0);
        for layer in &layers {
            *totals.entry("error".to_string()).or_default() += layer.error;
            for (metric, cost) in &layer.costs {
                *totals.entry(metric.clone()).or_default() += cost;
            }
        }
        let transition_costs = transition_totals(problem, candidates);
        for (metric, cost) in &transition_costs {
            *totals.entry(metric.clone()).or_default() += cost;
        }
        let slack = context
            .budgets
            .iter()
            .map(|budget| {
                let total = totals.get(&budget.metric).copied().unwrap_or(0.0);
                (budget.metric.clone(), budget.max - total)
            })
            .collect();
        Plan {
            schema: PLAN_SCHEMA.to_string(),
            solver: context.solver.to_string(),
            seed: context.seed,
            budgets: context.budgets.to_vec(),
            layers,
            totals,
            slack,
            transition_costs,
            provenance: Provenance::of(problem),
            measured: None,
        }
    }

    /// The plan's total of `metric` (`error` or a cost metric).
    pub fn total(&self, metric: &str) -> f64 {
        self.totals.get(metric).copied().unwrap_or(0.0)
    }
}

fn layer_entry(spec: &LayerSpec, choice: usize, reason: Option<String>) -> PlanLayer {
    let candidate = &spec.candidates[choice];
    PlanLayer {
        name: spec.name.clone(),
        candidate: candidate.name.clone(),
        weight_format: candidate.weight_format.clone(),
        activation_format: candidate.activation_format.clone(),
        error: candidate.error,
        costs: candidate.costs.clone(),
        reason,
    }
}

fn transition_totals(problem: &Problem, candidates: &[usize]) -> BTreeMap<String, f64> {
    let index: BTreeMap<&str, usize> = problem
        .layers()
        .iter()
        .enumerate()
        .map(|(position, layer)| (layer.name.as_str(), position))
        .collect();
    let mut totals = BTreeMap::new();
    for transition in problem.transitions() {
        let (Some(&from), Some(&to)) = (
            index.get(transition.from.as_str()),
            index.get(transition.to.as_str()),
        ) else {
            continue; // validated at construction: cannot happen
        };
        let cost = transition.cost[candidates[from]][candidates[to]];
        *totals.entry(transition.metric.clone()).or_default() += cost;
    }
    totals
}

/// Ties and single-candidate layers explain themselves.
fn default_reason(problem: &Problem, layer: usize) -> Option<String> {
    let decisions = problem.decisions();
    let group = &decisions.groups[decisions.layer_group[layer]];
    let partners: Vec<&str> = group
        .layers
        .iter()
        .filter(|&&other| other != layer)
        .map(|&other| problem.layers()[other].name.as_str())
        .collect();
    if !partners.is_empty() {
        return Some(format!("tied with {}", partners.join(", ")));
    }
    if problem.layers()[layer].candidates.len() == 1 {
        return Some("the only candidate".to_string());
    }
    None
}

/// The schema tag of a front.
pub const FRONT_SCHEMA: &str = "bitplan.front/1";

/// A Pareto frontier of error against one or more cost metrics (schema `bitplan.front/1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Front {
    pub schema: String,
    pub solver: String,
    pub seed: Option<u64>,
    /// The objectives, in the order of every `objectives` array: `error`, then the swept metrics.
    pub metrics: Vec<String>,
    /// Fixed budgets every plan of the sweep honours.
    pub budgets: Vec<Budget>,
    /// Per swept metric, the budget levels tried (empty for the evolutionary and random solvers,
    /// which map the front in one run).
    pub levels: BTreeMap<String, Vec<f64>>,
    /// Per objective, a value no plan beats (sum of per-layer minima).
    pub ideal_point: Vec<f64>,
    /// Per objective, a value no plan exceeds (sum of per-layer maxima): the hypervolume's
    /// reference point, the same for every solver on one problem.
    pub reference_point: Vec<f64>,
    /// Fraction of the box `[ideal_point, reference_point]` the plans dominate (0 to 1).
    pub hypervolume: f64,
    /// Index into `plans` of the plan closest to the ideal point in the normalized box, among
    /// plans no baseline dominates; `null` when every plan is dominated.
    pub recommended: Option<usize>,
    /// Non-dominated plans, by increasing cost (first swept metric first), then error.
    pub plans: Vec<FrontPlan>,
    /// Uniform plans: every layer on the same candidate, one per candidate name.
    pub baselines: Vec<Baseline>,
    pub provenance: Provenance,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrontPlan {
    /// The plan's values of `metrics`.
    pub objectives: Vec<f64>,
    /// The candidate of a uniform baseline (within the budgets) that dominates this plan.
    /// Such a plan is never recommended.
    pub dominated_by: Option<String>,
    #[serde(flatten)]
    pub plan: Plan,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// The candidate every layer takes (layers without it keep their most accurate one).
    pub candidate: String,
    /// Whether the baseline honours the fixed budgets; only such baselines flag plans.
    pub within_budgets: bool,
    pub objectives: Vec<f64>,
    #[serde(flatten)]
    pub plan: Plan,
}
