//! The heuristic solvers (greedy, aimet-path, evolutionary, random) against the exact solver on
//! small random problems: they never find less error than exact, never exceed a budget, and give
//! up (an error) only with a clear message; the seeded ones repeat themselves.

mod search_common;

use bitplan::search::{search, NsgaConfig, Plan, SearchError, Settings, Solver};
use proptest::prelude::*;
use search_common::*;

const HEURISTICS: [Solver; 4] = [
    Solver::Greedy,
    Solver::AimetPath,
    Solver::Evolutionary,
    Solver::Random,
];

fn settings(solver: Solver, seed: u64) -> Settings {
    Settings {
        solver,
        seed,
        nsga: NsgaConfig {
            population: 8,
            generations: 10,
            ..NsgaConfig::default()
        },
        random_samples: 64,
        ..Settings::default()
    }
}

fn check_heuristics(generated: &Generated, seed: u64) -> Result<(), TestCaseError> {
    let problem = generated.problem();
    let budgets = generated.budgets(&problem);
    let exact = search(&problem, &budgets, &Settings::default());
    for solver in HEURISTICS {
        let outcome = search(&problem, &budgets, &settings(solver, seed));
        match (&outcome, &exact) {
            (Ok(plan), Ok(best)) => check_plan(&problem, &budgets, plan, best)?,
            (Err(SearchError::NoFeasiblePlan { .. }), Ok(_)) => {}
            (
                Err(SearchError::Infeasible { .. } | SearchError::JointlyInfeasible { .. }),
                Err(_),
            ) => {}
            (
                Err(SearchError::NoFeasiblePlan { .. }),
                Err(SearchError::JointlyInfeasible { .. }),
            ) => {}
            (outcome, exact) => {
                let outcome = outcome.as_ref().map(|plan| &plan.totals);
                let exact = exact.as_ref().map(|plan| &plan.totals);
                prop_assert!(false, "{solver}: {outcome:?}, exact: {exact:?}");
            }
        }
    }
    Ok(())
}

fn check_plan(
    problem: &bitplan::search::Problem,
    budgets: &[bitplan::search::Budget],
    plan: &Plan,
    best: &Plan,
) -> Result<(), TestCaseError> {
    let recomputed = totals(problem, &assignment(problem, plan));
    prop_assert!(
        respects(&recomputed, budgets),
        "{}: over budget {recomputed:?}",
        plan.solver
    );
    prop_assert!(
        plan.total("error")
            >= best.total("error") - SUM_TOLERANCE * best.total("error").abs().max(1.0),
        "{} beats exact: {} < {}",
        plan.solver,
        plan.total("error"),
        best.total("error")
    );
    prop_assert!(
        all_plans(problem).contains(&assignment(problem, plan)),
        "ties broken"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn heuristics_never_beat_exact_and_respect_budgets(
        generated in generated(6, true, true),
        seed in 0u64..1000,
    ) {
        check_heuristics(&generated, seed)?;
    }

    #[test]
    fn seeded_solvers_repeat_themselves(generated in generated(6, true, true), seed in 0u64..1000) {
        let problem = generated.problem();
        let budgets = generated.budgets(&problem);
        for solver in [Solver::Evolutionary, Solver::Random] {
            let first = search(&problem, &budgets, &settings(solver, seed)).ok();
            let second = search(&problem, &budgets, &settings(solver, seed)).ok();
            prop_assert_eq!(first, second);
        }
    }
}

/// On a problem with a unique optimum that a uniform start cannot reach by chance, the
/// evolutionary solver with its default size still finds the exact answer.
#[test]
fn evolutionary_finds_the_optimum_of_a_small_problem() {
    let text = std::fs::read_to_string("tests/fixtures/problem-small.json").unwrap();
    let problem = bitplan::search::Problem::from_json(&text, "problem-small.json").unwrap();
    let budgets = vec![bitplan::search::Budget::parse("latency_us<=11").unwrap()];
    let exact = search(&problem, &budgets, &Settings::default()).unwrap();
    let evolved = Settings {
        solver: Solver::Evolutionary,
        ..Settings::default()
    };
    let plan = search(&problem, &budgets, &evolved).unwrap();
    assert!(close(plan.total("error"), exact.total("error")));
}

/// Found by the sweep property test: a zero budget that only transitions break made the greedy
/// repair divide by zero and loop forever.
#[test]
fn greedy_repairs_a_zero_budget_broken_by_a_transition() {
    let layer = |name: &str| {
        format!(
            r#"{{"name": "{name}", "candidates": [{{"name": "a", "error": 0, "t": 0}},
                {{"name": "b", "error": 1, "t": 0}}]}}"#
        )
    };
    let transition = |from: &str, to: &str| {
        format!(r#"{{"from": "{from}", "to": "{to}", "metric": "t", "cost": [[5, 0], [0, 0]]}}"#)
    };
    // Two separate pairs: the repair needs two steps, and after the first the budget is still
    // broken (5 over a budget of 0).
    let text = format!(
        r#"{{"schema": "bitplan.problem/1", "layers": [{}, {}, {}, {}], "transitions": [{}, {}]}}"#,
        layer("x"),
        layer("y"),
        layer("z"),
        layer("w"),
        transition("x", "y"),
        transition("z", "w")
    );
    let problem = bitplan::search::Problem::from_json(&text, "pinned.json").unwrap();
    let budgets = vec![bitplan::search::Budget::parse("t<=0").unwrap()];
    for solver in [Solver::Exact, Solver::Greedy] {
        let settings = Settings {
            solver,
            ..Settings::default()
        };
        let plan = search(&problem, &budgets, &settings).unwrap();
        assert_eq!(plan.total("error"), 2.0, "{solver}");
        assert_eq!(plan.total("t"), 0.0, "{solver}");
    }
}
