//! The exact solver for several budgets at once: a 0-1 integer program solved by good_lp with
//! the pure-Rust microlp solver (simplex and branch and bound, run to a zero optimality gap).
//!
//! One binary `x[g][o]` per option of every decision group, `Σ_o x[g][o] = 1`; the objective and
//! every budget are linear in `x`. A transition entry that costs something on a budgeted metric
//! gets a variable `y ∈ [0, 1]` with `y >= x[a][i] + x[b][j] - 1`: it must be 1 when both options
//! are taken, and nothing gains from raising it otherwise, because transitions only add cost.
//! Rows are scaled to coefficients of at most 1 and the objective by its largest coefficient, so
//! the simplex's absolute tolerances mean the same on microseconds and on bytes.
//!
//! Measured on the synthetic 200 x 8 problem with two budgets: 4 to 8 s here, while the dynamic
//! program of [`super::exact`] (fast with one budget) does not finish in minutes, because partial
//! plans must then be non-dominated in three values and the Lagrangian bound is weak.

use good_lp::solvers::microlp::MicroLpProblem;
use good_lp::{
    microlp, variable, Expression, ProblemVariables, ResolutionError, Solution, SolutionStatus,
    SolverModel, Variable, WithInitialSolution,
};

use super::budget::fits;
use super::error::SearchError;
use super::exact::Task;

/// The least-objective choice within the task's budgets, or `None` when none exists. The task's
/// objective must not reward transitions (true of the error objective: they carry no error).
pub(crate) fn minimize_ilp(
    task: &Task,
    incumbent: Option<&[usize]>,
) -> Result<Option<Vec<usize>>, SearchError> {
    let (model, options) = build_model(task);
    let model = match incumbent {
        Some(choice) => {
            let start = options.iter().zip(choice).flat_map(|(chosen, &pick)| {
                let ones = chosen.iter().enumerate();
                ones.map(move |(o, &x)| (x, f64::from(u8::from(o == pick))))
            });
            model.with_initial_solution(start.collect::<Vec<_>>())
        }
        None => model,
    };
    // microlp asserts on numerical states it cannot handle; that is a failed solve (the caller
    // falls back to the dynamic program), not a reason to abort the whole run.
    let solved = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| model.solve()));
    let solution = match solved {
        Ok(Ok(solution)) => solution,
        Ok(Err(ResolutionError::Infeasible)) => return Ok(None),
        Ok(Err(other)) => return Err(failed(other.to_string())),
        Err(_) => return Err(failed("microlp panicked".to_string())),
    };
    if !matches!(solution.status(), SolutionStatus::Optimal) {
        return Err(failed("stopped before proving optimality".to_string()));
    }
    let choice: Vec<usize> = options
        .iter()
        .map(|chosen| {
            let value = |option: usize| solution.value(chosen[option]);
            (0..chosen.len())
                .max_by(|&a, &b| value(a).total_cmp(&value(b)))
                .unwrap_or(0)
        })
        .collect();
    check_within(task, &choice)?;
    Ok(Some(choice))
}

/// The integer program and the option variables of every group.
fn build_model(task: &Task) -> (MicroLpProblem, Vec<Vec<Variable>>) {
    let decisions = task.decisions;
    let mut variables = ProblemVariables::new();
    let options: Vec<Vec<Variable>> = decisions
        .groups
        .iter()
        .map(|group| variables.add_vector(variable().binary(), group.len()))
        .collect();
    let scale = objective_scale(task);
    let scales = row_scales(task);
    let mut objective = Expression::from(0.0);
    let mut rows: Vec<Expression> = vec![Expression::from(0.0); task.budgets.len()];
    for (group, chosen) in decisions.groups.iter().zip(&options) {
        for (option, &x) in chosen.iter().enumerate() {
            let values = group.values(option);
            objective += (task.objective_of(values) / scale) * x;
            for ((row, &(slot, _)), divisor) in rows.iter_mut().zip(&task.budgets).zip(&scales) {
                *row += (values[slot] / divisor) * x;
            }
        }
    }
    let links = transition_terms(task, &options, &mut variables, &mut rows, &scales);
    let mut model = variables.minimise(objective).using(microlp);
    for chosen in &options {
        let one: Expression = chosen.iter().map(|&x| Expression::from(x)).sum();
        model = model.with(one.eq(1.0));
    }
    for (y, a, b) in links {
        model = model.with(Expression::from(y).geq(Expression::from(a) + b - 1.0));
    }
    for ((row, &(_, max)), divisor) in rows.into_iter().zip(&task.budgets).zip(&scales) {
        model = model.with(row.leq(max / divisor));
    }
    (model, options)
}

/// Per budget row, a divisor that keeps its coefficients and bound at most 1 (and finite, even
/// for a zero budget): the larger of the budget and the row's largest coefficient.
fn row_scales(task: &Task) -> Vec<f64> {
    let decisions = task.decisions;
    task.budgets
        .iter()
        .map(|&(slot, max)| {
            let options = decisions
                .groups
                .iter()
                .flat_map(|group| (0..group.len()).map(move |o| group.values(o)[slot]));
            let entries = decisions
                .edges
                .iter()
                .flat_map(|edge| edge.entries().map(move |v| v[slot]));
            let largest = options.chain(entries).fold(max.abs(), f64::max);
            if largest > 0.0 {
                largest
            } else {
                1.0
            }
        })
        .collect()
}

fn failed(reason: String) -> SearchError {
    SearchError::Ilp { reason }
}

/// The largest objective coefficient (1 when all are zero).
fn objective_scale(task: &Task) -> f64 {
    let largest = task
        .decisions
        .groups
        .iter()
        .flat_map(|group| (0..group.len()).map(|o| task.objective_of(group.values(o)).abs()))
        .fold(0.0, f64::max);
    if largest > 0.0 {
        largest
    } else {
        1.0
    }
}

/// Adds a `y` per costly transition entry to the budget rows; returns `(y, x_a, x_b)` links.
fn transition_terms(
    task: &Task,
    options: &[Vec<Variable>],
    variables: &mut ProblemVariables,
    rows: &mut [Expression],
    scales: &[f64],
) -> Vec<(Variable, Variable, Variable)> {
    let mut links = Vec::new();
    for edge in &task.decisions.edges {
        for (i, &xa) in options[edge.a].iter().enumerate() {
            for (j, &xb) in options[edge.b].iter().enumerate() {
                let values = edge.values(i, j);
                if task.budgets.iter().all(|&(slot, _)| values[slot] == 0.0) {
                    continue;
                }
                let y = variables.add(variable().min(0.0).max(1.0));
                for ((row, &(slot, _)), divisor) in rows.iter_mut().zip(&task.budgets).zip(scales) {
                    *row += (values[slot] / divisor) * y;
                }
                links.push((y, xa, xb));
            }
        }
    }
    links
}

/// The solver works to float tolerances; the plan it returns must fit the budgets exactly.
fn check_within(task: &Task, choice: &[usize]) -> Result<(), SearchError> {
    let values = task.decisions.evaluate(choice);
    for &(slot, max) in &task.budgets {
        if !fits(values[slot], max) {
            return Err(failed(format!(
                "its plan exceeds a budget by {} (a float tolerance of the solver)",
                values[slot] - max
            )));
        }
    }
    Ok(())
}
