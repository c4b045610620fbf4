//! Shared by the search tests: small random problems (proptest strategies), and the brute-force
//! reference that enumerates every plan.

#![allow(dead_code)] // each test file uses a different part

use std::collections::BTreeMap;

use bitplan::search::{Budget, CandidateSpec, LayerSpec, Problem, TransitionSpec};
use proptest::collection::vec;
use proptest::prelude::*;

/// Relative tolerance when comparing sums of the same numbers added in different orders.
pub const SUM_TOLERANCE: f64 = 1e-9;

pub const METRICS: [&str; 2] = ["latency_us", "weight_bytes"];
const NAMES: [&str; 4] = ["a", "b", "c", "d"];

/// Raw numbers a small problem is read from; shrinking shrinks the problem.
#[derive(Debug, Clone)]
pub struct Generated {
    pub layers: usize,
    pub metrics: usize,
    pub candidates: Vec<usize>,
    pub orders: Vec<usize>,
    /// `[layer][candidate][error, cost...]`.
    pub values: Vec<Vec<Vec<f64>>>,
    pub ties: Vec<(usize, usize)>,
    /// `(from, to, metric, matrix pool)`.
    pub transitions: Vec<(usize, usize, usize, Vec<f64>)>,
    /// Per metric, where the budget sits between its least and greatest value (< 0: infeasible).
    pub budget_fractions: Vec<f64>,
    pub budget_count: usize,
}

/// Costs are often small integers so that equal costs and equal sums happen.
fn number() -> impl Strategy<Value = f64> {
    prop_oneof![(0u8..6).prop_map(f64::from), 0.0f64..10.0]
}

pub fn generated(
    max_layers: usize,
    with_ties: bool,
    with_transitions: bool,
) -> impl Strategy<Value = Generated> {
    let tie_count = if with_ties { 0..4usize } else { 0..1usize };
    let transition_count = if with_transitions {
        0..6usize
    } else {
        0..1usize
    };
    (
        1..=max_layers,
        1..=2usize,
        vec(1..=4usize, max_layers),
        vec(0..24usize, max_layers),
        vec(vec(vec(number(), 3), 4), max_layers),
        vec((0..max_layers, 0..max_layers), tie_count),
        vec(
            (0..max_layers, 0..max_layers, 0..2usize, vec(0u8..4, 16)),
            transition_count,
        ),
        vec(-0.2f64..1.1, 2),
        0..=2usize,
    )
        .prop_map(
            |(
                layers,
                metrics,
                candidates,
                orders,
                values,
                ties,
                transitions,
                budget_fractions,
                budget_count,
            )| {
                let transitions = transitions
                    .into_iter()
                    .map(|(from, to, metric, pool)| {
                        (from, to, metric, pool.into_iter().map(f64::from).collect())
                    })
                    .collect();
                Generated {
                    layers,
                    metrics,
                    candidates,
                    orders,
                    values,
                    ties,
                    transitions,
                    budget_fractions,
                    budget_count,
                }
            },
        )
}

/// The `index`-th permutation of `0..count` (index taken modulo `count!`).
fn permutation(count: usize, index: usize) -> Vec<usize> {
    let mut pool: Vec<usize> = (0..count).collect();
    let mut index = index % (1..=count).product::<usize>().max(1);
    let mut order = Vec::with_capacity(count);
    for remaining in (1..=count).rev() {
        let factorial: usize = (1..remaining).product::<usize>().max(1);
        order.push(pool.remove(index / factorial));
        index %= factorial;
    }
    order
}

impl Generated {
    pub fn layer_specs(&self) -> Vec<LayerSpec> {
        (0..self.layers)
            .map(|layer| {
                let count = self.candidates[layer];
                let candidates = permutation(count, self.orders[layer])
                    .into_iter()
                    .enumerate()
                    .map(|(slot, name)| {
                        let values = &self.values[layer][slot];
                        let costs = (0..self.metrics)
                            .map(|m| (METRICS[m].to_string(), values[1 + m]))
                            .collect();
                        CandidateSpec {
                            name: NAMES[name].to_string(),
                            error: values[0],
                            weight_format: None,
                            activation_format: None,
                            costs,
                        }
                    })
                    .collect();
                LayerSpec {
                    name: format!("layer{layer}"),
                    candidates,
                }
            })
            .collect()
    }

    pub fn tie_names(&self) -> Vec<Vec<String>> {
        self.ties
            .iter()
            .map(|&(a, b)| (a % self.layers, b % self.layers))
            .filter(|&(a, b)| a != b && self.candidates[a] == self.candidates[b])
            .map(|(a, b)| vec![format!("layer{a}"), format!("layer{b}")])
            .collect()
    }

    pub fn transition_specs(&self) -> Vec<TransitionSpec> {
        let mut seen = Vec::new();
        let mut specs = Vec::new();
        for (from, to, metric, pool) in &self.transitions {
            let (from, to, metric) = (from % self.layers, to % self.layers, metric % self.metrics);
            if from == to || seen.contains(&(from, to, metric)) {
                continue;
            }
            seen.push((from, to, metric));
            let (rows, cols) = (self.candidates[from], self.candidates[to]);
            let cost = (0..rows)
                .map(|r| (0..cols).map(|c| pool[r * 4 + c]).collect())
                .collect();
            specs.push(TransitionSpec {
                from: format!("layer{from}"),
                to: format!("layer{to}"),
                metric: METRICS[metric].to_string(),
                cost,
            });
        }
        specs
    }

    /// Only transitions between consecutive layers (a chain).
    pub fn chain_only(mut self) -> Generated {
        let links = self.layers.saturating_sub(1).max(1);
        for transition in &mut self.transitions {
            let from = transition.0 % links;
            transition.0 = from;
            transition.1 = from + 1; // a one-layer problem gets from == to, which is skipped
        }
        self
    }

    pub fn problem(&self) -> Problem {
        Problem::new(
            "generated",
            self.layer_specs(),
            self.tie_names(),
            self.transition_specs(),
        )
        .expect("generated problems are valid")
    }

    /// Budgets placed by `budget_fractions` between each metric's brute-force extremes.
    pub fn budgets(&self, problem: &Problem) -> Vec<Budget> {
        let plans = all_plans(problem);
        (0..self.budget_count.min(self.metrics))
            .map(|m| {
                let metric = METRICS[m];
                let values = plans.iter().map(|plan| totals(problem, plan)[metric]);
                let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                    (l.min(v), h.max(v))
                });
                let fraction = self.budget_fractions[m];
                let max = match fraction < 0.0 {
                    true if low > 0.0 => low * (1.0 + fraction),
                    true => -1.0,
                    false => low + fraction * (high - low),
                };
                Budget {
                    metric: metric.to_string(),
                    max,
                }
            })
            .collect()
    }
}

/// Every assignment of candidates to layers that respects the ties.
pub fn all_plans(problem: &Problem) -> Vec<Vec<usize>> {
    let layers = problem.layers();
    let mut plans: Vec<Vec<usize>> = vec![Vec::new()];
    for layer in layers {
        plans = plans
            .into_iter()
            .flat_map(|plan| {
                (0..layer.candidates.len()).map(move |c| {
                    let mut plan = plan.clone();
                    plan.push(c);
                    plan
                })
            })
            .collect();
    }
    let index: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .map(|(i, layer)| (layer.name.as_str(), i))
        .collect();
    plans
        .into_iter()
        .filter(|plan| {
            problem.ties().iter().all(|tie| {
                let names: Vec<&str> = tie
                    .iter()
                    .map(|layer| {
                        let i = index[layer.as_str()];
                        layers[i].candidates[plan[i]].name.as_str()
                    })
                    .collect();
                names.windows(2).all(|pair| pair[0] == pair[1])
            })
        })
        .collect()
}

/// `error` and every metric of an assignment, straight from the specs.
pub fn totals(problem: &Problem, plan: &[usize]) -> BTreeMap<String, f64> {
    let layers = problem.layers();
    let mut totals = BTreeMap::new();
    totals.insert("error".to_string(), 0.0);
    for (layer, &choice) in layers.iter().zip(plan) {
        let candidate = &layer.candidates[choice];
        *totals.get_mut("error").unwrap() += candidate.error;
        for (metric, cost) in &candidate.costs {
            *totals.entry(metric.clone()).or_insert(0.0) += cost;
        }
    }
    let index = |name: &str| layers.iter().position(|layer| layer.name == name).unwrap();
    for transition in problem.transitions() {
        let cost = transition.cost[plan[index(&transition.from)]][plan[index(&transition.to)]];
        *totals.get_mut(&transition.metric).unwrap() += cost;
    }
    totals
}

pub fn within(value: f64, max: f64) -> bool {
    value <= max + SUM_TOLERANCE * max.abs().max(1.0)
}

pub fn respects(totals: &BTreeMap<String, f64>, budgets: &[Budget]) -> bool {
    budgets
        .iter()
        .all(|budget| within(totals[&budget.metric], budget.max))
}

/// The least error within the budgets over every plan, by enumeration.
pub fn brute_force(problem: &Problem, budgets: &[Budget]) -> Option<f64> {
    all_plans(problem)
        .iter()
        .map(|plan| totals(problem, plan))
        .filter(|totals| respects(totals, budgets))
        .map(|totals| totals["error"])
        .min_by(f64::total_cmp)
}

/// Candidate index per layer of a plan file.
pub fn assignment(problem: &Problem, plan: &bitplan::search::Plan) -> Vec<usize> {
    problem
        .layers()
        .iter()
        .zip(&plan.layers)
        .map(|(layer, chosen)| {
            layer
                .candidates
                .iter()
                .position(|c| c.name == chosen.candidate)
                .unwrap()
        })
        .collect()
}

pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= SUM_TOLERANCE * a.abs().max(b.abs()).max(1.0)
}
