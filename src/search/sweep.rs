//! Budget sweeps: the Pareto frontier of error against one to three cost metrics.
//!
//! The budget-driven solvers (exact, greedy, aimet-path) solve one problem per point of a grid of
//! budgets on the swept metrics, in parallel (rayon). Each metric gets `ceil(points^(1/k))`
//! levels for `k` swept metrics, evenly spaced from its smallest achievable value to its value in
//! the most accurate plan (beyond that, a larger budget cannot lower the error). The evolutionary
//! and random solvers map the front in one run. Either way only the non-dominated plans are
//! kept, uniform baselines are computed beside them, and plans a baseline dominates are flagged.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;

use super::baseline::uniform_baselines;
use super::budget::{self, Budget, MetricRange};
use super::error::SearchError;
use super::nsga2::evolve;
use super::pareto::{dominates, non_dominated, normalized_hypervolume};
use super::plan::{Baseline, Front, FrontPlan, Plan, PlanContext, Provenance, FRONT_SCHEMA};
use super::problem::Problem;
use super::random::sample_front;
use super::solver::{choose, Settings, Solver};

/// What to sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSpec {
    /// Cost metrics to map error against (1 to 3).
    pub metrics: Vec<String>,
    /// Grid points to solve for the budget-driven solvers (spread over the metrics).
    pub points: usize,
    /// Budgets every plan must honour, on metrics not swept.
    pub budgets: Vec<Budget>,
    pub settings: Settings,
}

/// A plan found by the sweep and the budgets it was solved for.
struct Found {
    choice: Vec<usize>,
    budgets: Vec<Budget>,
}

/// Maps the front of `problem` as `spec` asks.
pub fn sweep(problem: &Problem, spec: &SweepSpec) -> Result<Front, SearchError> {
    let swept = swept_slots(problem, spec)?;
    budget::check_each(problem, &spec.budgets)?;
    let fixed = budget::slots(problem, &spec.budgets)?;
    let mut objectives = vec![0];
    objectives.extend(&swept);
    let settings = &spec.settings;
    let (levels, found) = match settings.solver {
        Solver::Evolutionary => {
            let choices = evolve(
                problem.decisions(),
                &objectives,
                &fixed,
                settings.nsga,
                settings.seed,
            )?;
            (BTreeMap::new(), with_budgets(choices, &spec.budgets))
        }
        Solver::Random => {
            let (samples, seed) = (settings.random_samples, settings.seed);
            let choices = sample_front(problem.decisions(), &objectives, &fixed, samples, seed);
            (BTreeMap::new(), with_budgets(choices, &spec.budgets))
        }
        Solver::Exact | Solver::Greedy | Solver::AimetPath => {
            let levels = budget_levels(problem, spec, &swept)?;
            let found = solve_grid(problem, spec, &levels)?;
            (levels, found)
        }
    };
    let baselines = uniform_baselines(problem, &objectives, &spec.budgets, &fixed);
    Ok(assemble(
        problem,
        spec,
        &objectives,
        levels,
        found,
        baselines,
    ))
}

fn invalid(reason: String) -> SearchError {
    SearchError::Sweep { reason }
}

/// Value slots of the swept metrics, after checking them.
fn swept_slots(problem: &Problem, spec: &SweepSpec) -> Result<Vec<usize>, SearchError> {
    if spec.metrics.is_empty() || spec.metrics.len() > 3 {
        let count = spec.metrics.len();
        return Err(invalid(format!("sweep 1 to 3 metrics, not {count}")));
    }
    if spec.points == 0 {
        return Err(invalid("--points is 0; use at least 1".to_string()));
    }
    let mut slots = Vec::new();
    for metric in &spec.metrics {
        let Some(index) = problem.metric_index(metric) else {
            let known = problem.metrics().join(", ");
            return Err(invalid(format!(
                "unknown metric {metric:?}; the problem's cost metrics are [{known}]"
            )));
        };
        if slots.contains(&(1 + index)) || spec.budgets.iter().any(|b| &b.metric == metric) {
            return Err(invalid(format!(
                "metric {metric:?} is swept twice or also has a fixed budget; sweep it or budget it"
            )));
        }
        slots.push(1 + index);
    }
    Ok(slots)
}

/// Evenly spaced budget levels per swept metric, from its least value to its value in the most
/// accurate plan.
fn budget_levels(
    problem: &Problem,
    spec: &SweepSpec,
    swept: &[usize],
) -> Result<BTreeMap<String, Vec<f64>>, SearchError> {
    let decisions = problem.decisions();
    let per_metric = levels_per_metric(spec.points, swept.len());
    let accurate: Vec<usize> = decisions
        .groups
        .iter()
        .map(|group| {
            (0..group.len())
                .min_by(|&a, &b| group.values(a)[0].total_cmp(&group.values(b)[0]))
                .unwrap_or(0)
        })
        .collect();
    let accurate_values = decisions.evaluate(&accurate);
    let mut levels = BTreeMap::new();
    for (metric, &slot) in spec.metrics.iter().zip(swept) {
        let low = MetricRange::of(problem, slot - 1)?.min;
        let high = accurate_values[slot].max(low);
        let values: Vec<f64> = (0..per_metric)
            .map(|step| match per_metric {
                1 => high,
                _ => low + (high - low) * step as f64 / (per_metric - 1) as f64,
            })
            .collect();
        levels.insert(metric.clone(), values);
    }
    Ok(levels)
}

/// `ceil(points^(1/k))`: a grid of about `points` budgets over `k` metrics.
fn levels_per_metric(points: usize, metrics: usize) -> usize {
    let mut per_metric = 1usize;
    while per_metric.saturating_pow(metrics as u32) < points {
        per_metric += 1;
    }
    per_metric
}

/// Solves every grid point in parallel; infeasible points are skipped.
fn solve_grid(
    problem: &Problem,
    spec: &SweepSpec,
    levels: &BTreeMap<String, Vec<f64>>,
) -> Result<Vec<Found>, SearchError> {
    let mut grid: Vec<Vec<Budget>> = vec![spec.budgets.clone()];
    for metric in &spec.metrics {
        let values = levels.get(metric).cloned().unwrap_or_default();
        grid = grid
            .into_iter()
            .flat_map(|budgets| {
                values.iter().map(move |&max| {
                    let mut budgets = budgets.clone();
                    budgets.push(Budget {
                        metric: metric.clone(),
                        max,
                    });
                    budgets
                })
            })
            .collect();
    }
    let solved: Vec<Option<Found>> = grid
        .into_par_iter()
        .map(|budgets| {
            let choice = choose(problem, &budgets, &spec.settings)?;
            Ok(choice.map(|choice| Found { choice, budgets }))
        })
        .collect::<Result<_, SearchError>>()?;
    Ok(solved.into_iter().flatten().collect())
}

fn with_budgets(choices: Vec<Vec<usize>>, budgets: &[Budget]) -> Vec<Found> {
    choices
        .into_iter()
        .map(|choice| Found {
            choice,
            budgets: budgets.to_vec(),
        })
        .collect()
}

fn assemble(
    problem: &Problem,
    spec: &SweepSpec,
    objectives: &[usize],
    levels: BTreeMap<String, Vec<f64>>,
    found: Vec<Found>,
    baselines: Vec<Baseline>,
) -> Front {
    let decisions = problem.decisions();
    let settings = &spec.settings;
    let plans = front_plans(problem, settings, objectives, found, &baselines);
    let bounds: Vec<(f64, f64)> = objectives
        .iter()
        .map(|&slot| decisions.bounds(slot))
        .collect();
    let ideal: Vec<f64> = bounds.iter().map(|b| b.0).collect();
    let reference: Vec<f64> = bounds.iter().map(|b| b.1).collect();
    let front_points: Vec<Vec<f64>> = plans.iter().map(|p| p.objectives.clone()).collect();
    let mut metrics = vec!["error".to_string()];
    metrics.extend(spec.metrics.iter().cloned());
    Front {
        schema: FRONT_SCHEMA.to_string(),
        solver: settings.solver.name().to_string(),
        seed: settings.solver.is_seeded().then_some(settings.seed),
        metrics,
        budgets: spec.budgets.clone(),
        levels,
        hypervolume: normalized_hypervolume(&front_points, &ideal, &reference),
        recommended: recommend(&plans, &ideal, &reference),
        ideal_point: ideal,
        reference_point: reference,
        plans,
        baselines,
        provenance: Provenance::of(problem),
    }
}

/// The distinct, non-dominated plans found, by increasing cost, each flagged when a baseline
/// dominates it.
fn front_plans(
    problem: &Problem,
    settings: &Settings,
    objectives: &[usize],
    found: Vec<Found>,
    baselines: &[Baseline],
) -> Vec<FrontPlan> {
    let decisions = problem.decisions();
    let mut seen = BTreeSet::new();
    let found: Vec<Found> = found
        .into_iter()
        .filter(|entry| seen.insert(entry.choice.clone()))
        .collect();
    let points: Vec<Vec<f64>> = found
        .iter()
        .map(|entry| {
            let values = decisions.evaluate(&entry.choice);
            objectives.iter().map(|&slot| values[slot]).collect()
        })
        .collect();
    let mut kept = non_dominated(&points);
    kept.sort_by(|&a, &b| cost_then_error(&points[a], &points[b]));
    kept.into_iter()
        .map(|index| {
            let entry = &found[index];
            let context = PlanContext {
                solver: settings.solver.name(),
                seed: settings.solver.is_seeded().then_some(settings.seed),
                budgets: &entry.budgets,
                reasons: BTreeMap::new(),
            };
            let candidates = decisions.layer_candidates(&entry.choice);
            FrontPlan {
                dominated_by: dominating_baseline(baselines, &points[index]),
                objectives: points[index].clone(),
                plan: Plan::build(problem, &candidates, context),
            }
        })
        .collect()
}

/// Orders by the cost objectives, then by error.
fn cost_then_error(a: &[f64], b: &[f64]) -> std::cmp::Ordering {
    let costs = a[1..].iter().zip(&b[1..]);
    costs
        .fold(std::cmp::Ordering::Equal, |order, (x, y)| {
            order.then(x.total_cmp(y))
        })
        .then(a[0].total_cmp(&b[0]))
}

fn dominating_baseline(baselines: &[Baseline], point: &[f64]) -> Option<String> {
    baselines
        .iter()
        .find(|baseline| baseline.within_budgets && dominates(&baseline.objectives, point))
        .map(|baseline| baseline.candidate.clone())
}

/// The undominated plan nearest the ideal point, every objective scaled to its box.
fn recommend(plans: &[FrontPlan], ideal: &[f64], reference: &[f64]) -> Option<usize> {
    let distance = |objectives: &[f64]| -> f64 {
        objectives
            .iter()
            .zip(ideal.iter().zip(reference))
            .filter(|(_, (low, high))| high > low)
            .map(|(value, (low, high))| ((value - low) / (high - low)).powi(2))
            .sum()
    };
    plans
        .iter()
        .enumerate()
        .filter(|(_, plan)| plan.dominated_by.is_none())
        .min_by(|(_, a), (_, b)| distance(&a.objectives).total_cmp(&distance(&b.objectives)))
        .map(|(index, _)| index)
}
