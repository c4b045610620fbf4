//! The exact solver: a provably optimal choice for a linear objective under any number of budgets.
//!
//! Dynamic programming over the decision groups in layer order (see [`super::frontier`]): after
//! each step it keeps every partial plan that could still be part of an optimal plan, keyed by the
//! options of the groups that transitions still link to later ones. Three rules discard partial
//! plans, each of which provably cannot remove every optimal plan:
//!
//! 1. *dominance* ([`super::states`]): same key, no better objective and no cheaper budgets;
//! 2. *feasibility*: cost so far + the least any completion can add exceeds a budget;
//! 3. *bound*: objective so far + a Lagrangian lower bound on the rest ([`super::lagrange`]) is
//!    worse than a known plan (the incumbent, usually the greedy plan).
//!
//! With one budget and no transitions this is the classic Pareto-set dynamic program for the
//! multiple-choice knapsack with reduced-cost fixing; transitions along a chain add one open
//! group to the key, which is the Viterbi recursion.

use serde::{Deserialize, Serialize};

use super::budget::fits;
use super::decisions::Decisions;
use super::error::SearchError;
use super::frontier::Frontier;
use super::lagrange::Relaxation;
use super::states::States;

/// How the exact solver proves optimality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExactMethod {
    /// The dynamic program for one budget or none, the integer program for several (falling
    /// back to the dynamic program if the simplex fails numerically).
    Auto,
    /// Always the dynamic program of this module.
    DynamicProgram,
    /// Always the integer program ([`super::ilp`]).
    IntegerProgram,
}

/// Which exact method to use, and limits that turn a hopeless dynamic program into an error
/// instead of a hang.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExactLimits {
    pub method: ExactMethod,
    /// Partial plans kept after one step (each ~40 bytes; 250k states is ~10 MB per step).
    pub max_states: usize,
    /// Option combinations of the open groups (a chain of 8-candidate layers needs 8).
    pub max_keys: usize,
}

impl Default for ExactLimits {
    fn default() -> ExactLimits {
        ExactLimits {
            method: ExactMethod::Auto,
            max_states: 250_000, // far above the ~10^3 a 200-layer problem keeps; bounds memory
            max_keys: 4096,      // three open 16-candidate groups
        }
    }
}

/// What to minimize, `Σ_v weights[v] · values[v]` over `[error, costs...]`, and the budgets,
/// `values[slot] <= max`.
pub(crate) struct Task<'a> {
    pub decisions: &'a Decisions,
    pub weights: Vec<f64>,
    pub budgets: Vec<(usize, f64)>,
}

impl Task<'_> {
    pub fn objective_of(&self, values: &[f64]) -> f64 {
        self.weights.iter().zip(values).map(|(w, v)| w * v).sum()
    }

    pub fn within_budgets(&self, values: &[f64]) -> bool {
        self.budgets
            .iter()
            .all(|&(slot, max)| fits(values[slot], max))
    }

    fn price(&self, values: &[f64]) -> (f64, Vec<f64>) {
        let costs = self.budgets.iter().map(|&(slot, _)| values[slot]).collect();
        (self.objective_of(values), costs)
    }
}

/// Objective and budget costs of every option and transition entry, laid out for the hot loop.
struct Tables {
    group_objective: Vec<Vec<f64>>,
    group_costs: Vec<Vec<f64>>,
    edge_objective: Vec<Vec<f64>>,
    edge_costs: Vec<Vec<f64>>,
    edge_cols: Vec<usize>,
}

/// The entries of one choice set: `(objective, budget costs)`.
type ChoiceSet = Vec<(f64, Vec<f64>)>;

/// Lower bounds on what the groups from a step onwards (and the edges they close) can add.
struct Bounds {
    lambda: Vec<f64>,
    /// `rest[i]`: min of `objective + λ·costs` over steps `>= i`.
    rest: Vec<f64>,
    /// `rest_costs[i][t]`: least cost `t` over steps `>= i`.
    rest_costs: Vec<Vec<f64>>,
}

/// The optimal choice, or `None` when no plan meets the budgets.
pub(crate) fn minimize(
    task: &Task,
    incumbent: Option<&[usize]>,
    limits: ExactLimits,
) -> Result<Option<Vec<usize>>, SearchError> {
    solve(task, incumbent, limits, true)
}

/// [`minimize`], deciding the groups in their order unless `reorder` lets it put the decisive
/// ones first. The reordered problem is solved with `reorder` off: its groups are in the order
/// [`decisive_first`] chose, but its relaxation, summed in that order, can round differently and
/// propose another order, and another, without end (a random sweep problem recursed until its
/// stack overflowed, about one test run in sixty).
fn solve(
    task: &Task,
    incumbent: Option<&[usize]>,
    limits: ExactLimits,
    reorder: bool,
) -> Result<Option<Vec<usize>>, SearchError> {
    let decisions = task.decisions;
    let tables = build_tables(task);
    let incumbent = incumbent.filter(|choice| task.within_budgets(&decisions.evaluate(choice)));
    let upper = incumbent
        .map(|choice| task.objective_of(&decisions.evaluate(choice)))
        .unwrap_or(f64::INFINITY);
    let bounds = build_bounds(task, &tables);
    if reorder {
        if let Some(order) = decisive_first(task, &tables, &bounds, upper) {
            return minimize_in_order(task, &order, incumbent, limits);
        }
    }
    let frontier = Frontier::plan(decisions, limits.max_keys)?;
    let mut states = States::new(0, task.budgets.len());
    states.push(0.0, &vec![0.0; task.budgets.len()], &[], 0, 0);
    let mut trace: Vec<(Vec<u32>, Vec<u32>)> = Vec::with_capacity(decisions.groups.len());
    for step in 0..decisions.groups.len() {
        let context = Step {
            task,
            tables: &tables,
            bounds: &bounds,
            frontier: &frontier,
            step,
            upper,
        };
        states = context.advance(&states, limits)?;
        trace.push((states.parent.clone(), states.option.clone()));
    }
    Ok(pick(task, &states, &trace, incumbent))
}

/// Solves with the groups decided in `order` (new position -> group) and maps the answer back.
fn minimize_in_order(
    task: &Task,
    order: &[usize],
    incumbent: Option<&[usize]>,
    limits: ExactLimits,
) -> Result<Option<Vec<usize>>, SearchError> {
    let permuted = task.decisions.permuted(order);
    let inner = Task {
        decisions: &permuted,
        weights: task.weights.clone(),
        budgets: task.budgets.clone(),
    };
    let start: Option<Vec<usize>> = incumbent.map(|c| order.iter().map(|&g| c[g]).collect());
    let choice = solve(&inner, start.as_deref(), limits, false)?;
    Ok(choice.map(|permuted_choice| {
        let mut choice = vec![0; order.len()];
        for (position, &group) in order.iter().enumerate() {
            choice[group] = permuted_choice[position];
        }
        choice
    }))
}

/// Without transitions the groups may be decided in any order. Partial plans multiply at the
/// groups with several options close to the relaxation's optimum, so deciding those last keeps
/// the number of partial plans low for most of the run. `None` when the order would not change.
fn decisive_first(task: &Task, tables: &Tables, bounds: &Bounds, upper: f64) -> Option<Vec<usize>> {
    if !task.decisions.edges.is_empty() || !upper.is_finite() || task.budgets.is_empty() {
        return None;
    }
    let relaxed_budget: f64 = task
        .budgets
        .iter()
        .zip(&bounds.lambda)
        .map(|(&(_, max), lambda)| lambda * max)
        .sum();
    let gap = upper - (bounds.rest[0] - relaxed_budget);
    let budgets = task.budgets.len();
    let close_options = |group: usize| -> usize {
        let objective = &tables.group_objective[group];
        let priced: Vec<f64> = (0..objective.len())
            .map(|option| {
                let costs = &tables.group_costs[group][option * budgets..(option + 1) * budgets];
                objective[option]
                    + costs
                        .iter()
                        .zip(&bounds.lambda)
                        .map(|(c, l)| c * l)
                        .sum::<f64>()
            })
            .collect();
        let least = priced.iter().copied().fold(f64::INFINITY, f64::min);
        priced.iter().filter(|&&value| value - least <= gap).count()
    };
    let mut order: Vec<usize> = (0..task.decisions.groups.len()).collect();
    let counts: Vec<usize> = order.iter().map(|&group| close_options(group)).collect();
    order.sort_by_key(|&group| counts[group]);
    let unchanged = order
        .iter()
        .enumerate()
        .all(|(position, &group)| position == group);
    (!unchanged).then_some(order)
}

/// The best final state, traced back to a choice, unless the incumbent is strictly better.
fn pick(
    task: &Task,
    states: &States,
    trace: &[(Vec<u32>, Vec<u32>)],
    incumbent: Option<&[usize]>,
) -> Option<Vec<usize>> {
    let best = (0..states.len()).min_by(|&a, &b| {
        states.objective[a]
            .total_cmp(&states.objective[b])
            .then(a.cmp(&b))
    });
    let Some(best) = best else {
        return incumbent.map(<[usize]>::to_vec);
    };
    if let Some(choice) = incumbent {
        let known = task.objective_of(&task.decisions.evaluate(choice));
        if known < states.objective[best] {
            return Some(choice.to_vec());
        }
    }
    let mut choice = vec![0; trace.len()];
    let mut state = best;
    for (step, (parent, option)) in trace.iter().enumerate().rev() {
        choice[step] = option[state] as usize;
        state = parent[state] as usize;
    }
    Some(choice)
}

fn build_tables(task: &Task) -> Tables {
    let decisions = task.decisions;
    let mut tables = Tables {
        group_objective: Vec::new(),
        group_costs: Vec::new(),
        edge_objective: Vec::new(),
        edge_costs: Vec::new(),
        edge_cols: Vec::new(),
    };
    for group in &decisions.groups {
        let priced: Vec<_> = (0..group.len())
            .map(|o| task.price(group.values(o)))
            .collect();
        tables
            .group_objective
            .push(priced.iter().map(|p| p.0).collect());
        tables
            .group_costs
            .push(priced.into_iter().flat_map(|p| p.1).collect());
    }
    for edge in &decisions.edges {
        let priced: Vec<_> = edge.entries().map(|values| task.price(values)).collect();
        tables
            .edge_objective
            .push(priced.iter().map(|p| p.0).collect());
        tables
            .edge_costs
            .push(priced.into_iter().flat_map(|p| p.1).collect());
        tables.edge_cols.push(decisions.groups[edge.b].len());
    }
    tables
}

fn build_bounds(task: &Task, tables: &Tables) -> Bounds {
    let decisions = task.decisions;
    let budgets = task.budgets.len();
    let count = decisions.groups.len();
    let sets = |objective: &[f64], costs: &[f64]| -> ChoiceSet {
        let chunks = costs.chunks(budgets.max(1));
        let costs = chunks.map(|c| c[..budgets].to_vec());
        objective.iter().copied().zip(costs).collect()
    };
    // Each step's choice set and the choice sets of the edges it closes.
    let mut per_step: Vec<Vec<ChoiceSet>> = vec![Vec::new(); count];
    for (group, step) in per_step.iter_mut().enumerate() {
        step.push(sets(
            &tables.group_objective[group],
            &tables.group_costs[group],
        ));
    }
    for (edge, spec) in decisions.edges.iter().enumerate() {
        per_step[spec.b].push(sets(&tables.edge_objective[edge], &tables.edge_costs[edge]));
    }
    let mut relaxation = Relaxation::new(budgets);
    for set in per_step.iter().flatten() {
        relaxation.push_set(set.iter().cloned());
    }
    let maxes: Vec<f64> = task.budgets.iter().map(|&(_, max)| max).collect();
    let lambda = relaxation.multipliers(&maxes);
    let mut rest = vec![0.0; count + 1];
    let mut rest_costs = vec![vec![0.0; budgets]; count + 1];
    for step in (0..count).rev() {
        let (priced, cheapest) = step_minimum(&per_step[step], &lambda);
        rest[step] = rest[step + 1] + priced;
        for (t, cost) in cheapest.iter().enumerate() {
            rest_costs[step][t] = rest_costs[step + 1][t] + cost;
        }
    }
    Bounds {
        lambda,
        rest,
        rest_costs,
    }
}

/// For one step's choice sets: the least priced value and the least cost per budget.
fn step_minimum(sets: &[ChoiceSet], lambda: &[f64]) -> (f64, Vec<f64>) {
    let mut priced = 0.0;
    let mut cheapest = vec![0.0; lambda.len()];
    for set in sets {
        let value = |(objective, costs): &(f64, Vec<f64>)| {
            objective + lambda.iter().zip(costs).map(|(l, c)| l * c).sum::<f64>()
        };
        priced += set.iter().map(value).fold(f64::INFINITY, f64::min);
        for (t, slot) in cheapest.iter_mut().enumerate() {
            *slot += set
                .iter()
                .map(|entry| entry.1[t])
                .fold(f64::INFINITY, f64::min);
        }
    }
    (priced, cheapest)
}

/// Everything one step of the recursion reads.
struct Step<'a> {
    task: &'a Task<'a>,
    tables: &'a Tables,
    bounds: &'a Bounds,
    frontier: &'a Frontier,
    step: usize,
    upper: f64,
}

impl Step<'_> {
    /// The surviving states after this step; an error when too many survive.
    fn advance(&self, previous: &States, limits: ExactLimits) -> Result<States, SearchError> {
        let decisions = self.task.decisions;
        let radix: Vec<usize> = self.frontier.open_after[self.step]
            .iter()
            .map(|&group| decisions.groups[group].len())
            .collect();
        let states = self.expand(previous).without_dominated(&radix);
        if states.len() > limits.max_states {
            let layer = decisions.groups[self.step].layers[0];
            return Err(SearchError::ExactTooLarge {
                layer: decisions.layer_names[layer].clone(),
                states: states.len(),
                limit: limits.max_states,
            });
        }
        Ok(states)
    }

    /// Every extension of every state by one option of this step's group that passes the
    /// feasibility and bound tests.
    fn expand(&self, previous: &States) -> States {
        let step = self.step;
        let budgets = self.task.budgets.len();
        let key_from = &self.frontier.key_from[step];
        let mut next = States::new(key_from.len(), budgets);
        let options = self.tables.group_objective[step].len();
        let mut costs = vec![0.0; budgets];
        let mut key = vec![0u32; key_from.len()];
        for state in 0..previous.len() {
            let old_key = previous.key(state);
            for option in 0..options {
                let objective = self.extend(previous, state, option, &mut costs);
                if !self.promising(objective, &costs) {
                    continue;
                }
                for (slot, source) in key.iter_mut().zip(key_from) {
                    *slot = source.map_or(option as u32, |from| old_key[from]);
                }
                next.push(objective, &costs, &key, state as u32, option as u32);
            }
        }
        next
    }

    /// Objective and costs (written to `costs`) of `state` extended by `option`.
    fn extend(&self, previous: &States, state: usize, option: usize, costs: &mut [f64]) -> f64 {
        let tables = self.tables;
        let budgets = costs.len();
        let mut objective = previous.objective[state] + tables.group_objective[self.step][option];
        let own = &tables.group_costs[self.step][option * budgets..(option + 1) * budgets];
        for ((slot, before), add) in costs.iter_mut().zip(previous.cost(state)).zip(own) {
            *slot = before + add;
        }
        for &(edge, key_slot) in &self.frontier.incoming[self.step] {
            let earlier = previous.key(state)[key_slot] as usize;
            let entry = earlier * tables.edge_cols[edge] + option;
            objective += tables.edge_objective[edge][entry];
            let added = &tables.edge_costs[edge][entry * budgets..(entry + 1) * budgets];
            for (slot, add) in costs.iter_mut().zip(added) {
                *slot += add;
            }
        }
        objective
    }

    /// False when the partial plan can no longer meet the budgets or beat the incumbent.
    fn promising(&self, objective: f64, costs: &[f64]) -> bool {
        let next = self.step + 1;
        let budgets = &self.task.budgets;
        let rest_costs = &self.bounds.rest_costs[next];
        let feasible = budgets
            .iter()
            .zip(costs.iter().zip(rest_costs))
            .all(|(&(_, max), (cost, rest))| fits(cost + rest, max));
        if !feasible || self.upper.is_infinite() {
            return feasible;
        }
        let relaxed: f64 = budgets
            .iter()
            .zip(costs.iter().zip(&self.bounds.lambda))
            .map(|(&(_, max), (cost, lambda))| lambda * (cost - max))
            .sum();
        let lower = objective + relaxed + self.bounds.rest[next];
        lower <= self.upper + 1e-9 * self.upper.abs().max(1.0)
    }
}
