//! Choosing a solver and running it for one plan: the least error within budgets.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::aimet::sensitivity_path;
use super::budget::{self, Budget};
use super::decisions::Decisions;
use super::error::SearchError;
use super::exact::{minimize, ExactLimits, ExactMethod, Task};
use super::greedy::hull_greedy;
use super::ilp::minimize_ilp;
use super::nsga2::{evolve, NsgaConfig};
use super::plan::{Plan, PlanContext};
use super::problem::Problem;
use super::random::best_sample;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Solver {
    /// Provably optimal (dynamic programming with bounds).
    Exact,
    /// Convex-hull / Lagrangian greedy.
    Greedy,
    /// AIMET's sensitivity-ordered path (a baseline).
    AimetPath,
    /// NSGA-II.
    Evolutionary,
    /// Uniform random sampling (a baseline).
    Random,
}

impl Solver {
    pub fn name(self) -> &'static str {
        match self {
            Solver::Exact => "exact",
            Solver::Greedy => "greedy",
            Solver::AimetPath => "aimet-path",
            Solver::Evolutionary => "evolutionary",
            Solver::Random => "random",
        }
    }

    /// Whether the seed changes the answer.
    pub fn is_seeded(self) -> bool {
        matches!(self, Solver::Evolutionary | Solver::Random)
    }
}

impl fmt::Display for Solver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything that selects and tunes a solver.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub solver: Solver,
    /// Used by the seeded solvers only.
    pub seed: u64,
    pub nsga: NsgaConfig,
    /// Plans the random baseline draws.
    pub random_samples: usize,
    pub exact: ExactLimits,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            solver: Solver::Exact,
            seed: 0,
            nsga: NsgaConfig::default(),
            random_samples: 20_000, // the default NSGA-II's evaluations (100 x 200)
            exact: ExactLimits::default(),
        }
    }
}

/// The plan with the least error the solver finds within `budgets`.
pub fn search(
    problem: &Problem,
    budgets: &[Budget],
    settings: &Settings,
) -> Result<Plan, SearchError> {
    budget::check_each(problem, budgets)?;
    let choice = match choose(problem, budgets, settings)? {
        Some(choice) => choice,
        None if settings.solver == Solver::Exact => {
            return Err(budget::jointly_infeasible(problem, budgets));
        }
        None => {
            return Err(SearchError::NoFeasiblePlan {
                solver: settings.solver.to_string(),
                budgets: budget::list(budgets),
            })
        }
    };
    let candidates = problem.decisions().layer_candidates(&choice);
    Ok(Plan::build(
        problem,
        &candidates,
        PlanContext {
            solver: settings.solver.name(),
            seed: settings.solver.is_seeded().then_some(settings.seed),
            budgets,
            reasons: Default::default(),
        },
    ))
}

/// The solver's choice within `budgets`, `None` when it finds no plan within them.
pub(crate) fn choose(
    problem: &Problem,
    budgets: &[Budget],
    settings: &Settings,
) -> Result<Option<Vec<usize>>, SearchError> {
    let decisions = problem.decisions();
    let slots = budget::slots(problem, budgets)?;
    Ok(match settings.solver {
        Solver::Exact => exact_choice(decisions, &slots, settings.exact)?,
        Solver::Greedy => hull_greedy(decisions, &slots),
        Solver::AimetPath => sensitivity_path(decisions, &slots),
        Solver::Evolutionary => evolutionary_choice(decisions, &slots, settings)?,
        Solver::Random => best_sample(decisions, &slots, settings.random_samples, settings.seed),
    })
}

/// The least-error choice within `budgets`, proven optimal; the greedy plan is the incumbent.
/// One budget (or none): the dynamic program; several: the integer program (see [`super::ilp`]
/// for why).
pub(crate) fn exact_choice(
    decisions: &Decisions,
    budgets: &[(usize, f64)],
    limits: ExactLimits,
) -> Result<Option<Vec<usize>>, SearchError> {
    let mut weights = vec![0.0; decisions.width];
    weights[0] = 1.0;
    let task = Task {
        decisions,
        weights,
        budgets: budgets.to_vec(),
    };
    let incumbent = hull_greedy(decisions, budgets);
    match limits.method {
        ExactMethod::DynamicProgram => minimize(&task, incumbent.as_deref(), limits),
        ExactMethod::IntegerProgram => minimize_ilp(&task, incumbent.as_deref()),
        ExactMethod::Auto if budgets.len() < 2 => minimize(&task, incumbent.as_deref(), limits),
        ExactMethod::Auto => match minimize_ilp(&task, incumbent.as_deref()) {
            // A numerical failure of the simplex is not an answer: the dynamic program is exact
            // for any number of budgets, only slower.
            Err(SearchError::Ilp { .. }) => minimize(&task, incumbent.as_deref(), limits),
            outcome => outcome,
        },
    }
}

/// NSGA-II on error and the budgeted metrics (at most three; the first metric when none), then
/// the least-error plan of its front.
fn evolutionary_choice(
    decisions: &Decisions,
    budgets: &[(usize, f64)],
    settings: &Settings,
) -> Result<Option<Vec<usize>>, SearchError> {
    let mut objectives = vec![0];
    objectives.extend(budgets.iter().map(|&(slot, _)| slot).take(3));
    if objectives.len() == 1 {
        objectives.push(1);
    }
    let front = evolve(
        decisions,
        &objectives,
        budgets,
        settings.nsga,
        settings.seed,
    )?;
    Ok(front
        .into_iter()
        .min_by(|a, b| decisions.evaluate(a)[0].total_cmp(&decisions.evaluate(b)[0])))
}
