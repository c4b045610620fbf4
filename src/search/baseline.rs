//! Uniform baselines: every layer on the same candidate, one plan per candidate name. A layer
//! that does not offer the candidate keeps its most accurate one, and its plan entry says so.

use std::collections::BTreeMap;

use super::budget::Budget;
use super::plan::{Baseline, Plan, PlanContext};
use super::problem::Problem;

/// One baseline per candidate name, in order of first appearance in the problem.
pub(crate) fn uniform_baselines(
    problem: &Problem,
    objectives: &[usize],
    budgets: &[Budget],
    slots: &[(usize, f64)],
) -> Vec<Baseline> {
    let mut names: Vec<&str> = Vec::new();
    for layer in problem.layers() {
        for candidate in &layer.candidates {
            if !names.contains(&candidate.name.as_str()) {
                names.push(&candidate.name);
            }
        }
    }
    names
        .into_iter()
        .map(|name| baseline(problem, name, objectives, budgets, slots))
        .collect()
}

fn baseline(
    problem: &Problem,
    name: &str,
    objectives: &[usize],
    budgets: &[Budget],
    slots: &[(usize, f64)],
) -> Baseline {
    let decisions = problem.decisions();
    let mut reasons = BTreeMap::new();
    let mut choice = Vec::with_capacity(decisions.groups.len());
    for group in &decisions.groups {
        let first = &problem.layers()[group.layers[0]];
        let offered = first.candidates.iter().position(|c| c.name == name);
        let option = offered.unwrap_or_else(|| most_accurate(group.len(), |o| group.values(o)[0]));
        if offered.is_none() {
            for &layer in &group.layers {
                let text = format!("{name} not offered; its most accurate candidate kept");
                reasons.insert(layer, text);
            }
        }
        choice.push(option);
    }
    let values = decisions.evaluate(&choice);
    let candidates = decisions.layer_candidates(&choice);
    let plan = Plan::build(
        problem,
        &candidates,
        PlanContext {
            solver: "uniform",
            seed: None,
            budgets,
            reasons,
        },
    );
    Baseline {
        candidate: name.to_string(),
        within_budgets: super::greedy::within(&values, slots),
        objectives: objectives.iter().map(|&slot| values[slot]).collect(),
        plan,
    }
}

fn most_accurate(options: usize, error: impl Fn(usize) -> f64) -> usize {
    (0..options)
        .min_by(|&a, &b| error(a).total_cmp(&error(b)))
        .unwrap_or(0)
}
