//! The exact solver against brute force: on small random problems (with ties, with chain
//! transitions, with transitions anywhere) its plan has exactly the least error any plan within
//! the budgets has, respects budgets and ties, and reports totals that match the specs. Both
//! exact methods are checked: the dynamic program and the integer program.

mod search_common;

use bitplan::search::{
    search, ExactLimits, ExactMethod, MetricRange, Problem, SearchError, Settings,
};
use proptest::prelude::*;
use search_common::*;

fn check_exact(generated: &Generated) -> Result<(), TestCaseError> {
    for method in [
        ExactMethod::Auto,
        ExactMethod::DynamicProgram,
        ExactMethod::IntegerProgram,
    ] {
        check_method(generated, method)?;
    }
    Ok(())
}

fn check_method(generated: &Generated, method: ExactMethod) -> Result<(), TestCaseError> {
    let problem = generated.problem();
    let budgets = generated.budgets(&problem);
    let reference = brute_force(&problem, &budgets);
    let settings = Settings {
        exact: ExactLimits {
            method,
            ..ExactLimits::default()
        },
        ..Settings::default()
    };
    match (search(&problem, &budgets, &settings), reference) {
        (Ok(plan), Some(best)) => {
            let chosen = assignment(&problem, &plan);
            let recomputed = totals(&problem, &chosen);
            prop_assert!(
                close(plan.total("error"), best),
                "{method:?}: error {} but brute force finds {best}",
                plan.total("error")
            );
            prop_assert!(
                respects(&recomputed, &budgets),
                "over budget: {recomputed:?}"
            );
            for (metric, value) in &recomputed {
                prop_assert!(close(plan.totals[metric], *value), "{metric} total is off");
            }
            prop_assert!(
                all_plans(&problem).contains(&chosen),
                "ties broken: {chosen:?}"
            );
        }
        (Err(SearchError::Infeasible { .. } | SearchError::JointlyInfeasible { .. }), None) => {}
        (outcome, reference) => {
            let outcome = outcome.map(|plan| plan.totals);
            prop_assert!(
                false,
                "{method:?} gives {outcome:?}, brute force {reference:?}"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn exact_equals_brute_force_on_plain_problems(generated in generated(6, false, false)) {
        check_exact(&generated)?;
    }

    #[test]
    fn exact_equals_brute_force_with_ties(generated in generated(6, true, false)) {
        check_exact(&generated)?;
    }

    #[test]
    fn exact_equals_brute_force_with_chain_transitions(
        generated in generated(6, true, true).prop_map(Generated::chain_only)
    ) {
        check_exact(&generated)?;
    }

    #[test]
    fn exact_equals_brute_force_with_transitions_anywhere(generated in generated(6, true, true)) {
        check_exact(&generated)?;
    }

    #[test]
    fn metric_range_is_the_brute_force_range(generated in generated(5, true, true)) {
        let problem = generated.problem();
        let plans = all_plans(&problem);
        for (index, metric) in problem.metrics().iter().enumerate() {
            let values: Vec<f64> = plans.iter().map(|plan| totals(&problem, plan)[metric]).collect();
            let low = values.iter().copied().fold(f64::INFINITY, f64::min);
            let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let range = MetricRange::of(&problem, index).unwrap();
            prop_assert!(range.attained);
            prop_assert!(close(range.min, low) && close(range.max, high), "{range:?} vs {low}..{high}");
        }
    }
}

fn problem(json: &str) -> Problem {
    Problem::from_json(json, "pinned.json").unwrap()
}

fn exact_error(problem: &Problem, budget: &str) -> f64 {
    let budgets = vec![bitplan::search::Budget::parse(budget).unwrap()];
    let plan = search(problem, &budgets, &Settings::default()).unwrap();
    assert!(close(
        plan.total("error"),
        brute_force(problem, &budgets).unwrap()
    ));
    plan.total("error")
}

/// Tied layers listing their candidates in different orders: the tie binds names, not positions.
#[test]
fn tie_binds_candidate_names_not_positions() {
    let problem = problem(
        r#"{"schema": "bitplan.problem/1",
            "layers": [
              {"name": "q", "candidates": [{"name": "a", "error": 1, "t": 1}, {"name": "b", "error": 0, "t": 5}]},
              {"name": "k", "candidates": [{"name": "b", "error": 0, "t": 5}, {"name": "a", "error": 1, "t": 1}]}],
            "ties": [["q", "k"]]}"#,
    );
    // Untied, q on b and k on b would cost 10; tied by name, {a, a} costs 2 and {b, b} 10.
    assert_eq!(exact_error(&problem, "t<=9"), 2.0);
    assert_eq!(exact_error(&problem, "t<=10"), 0.0);
}

/// A transition between two layers of the same tie group is part of the group's own cost.
#[test]
fn transition_inside_a_tie_group_counts() {
    let problem = problem(
        r#"{"schema": "bitplan.problem/1",
            "layers": [
              {"name": "x", "candidates": [{"name": "a", "error": 0, "t": 1}, {"name": "b", "error": 1, "t": 1}]},
              {"name": "y", "candidates": [{"name": "b", "error": 1, "t": 1}, {"name": "a", "error": 0, "t": 1}]}],
            "ties": [["x", "y"]],
            "transitions": [{"from": "x", "to": "y", "metric": "t", "cost": [[9, 5], [0, 9]]}]}"#,
    );
    // x=a,y=a is cost[0][1] = 5 extra; x=b,y=b is cost[1][0] = 0 extra.
    assert_eq!(exact_error(&problem, "t<=6"), 2.0);
    assert_eq!(exact_error(&problem, "t<=7"), 0.0);
}

/// A transition from a later layer to an earlier one (a feedback edge) is oriented correctly.
#[test]
fn backward_transition_is_indexed_from_to() {
    let problem = problem(
        r#"{"schema": "bitplan.problem/1",
            "layers": [
              {"name": "x", "candidates": [{"name": "a", "error": 0, "t": 1}, {"name": "b", "error": 3, "t": 1}]},
              {"name": "y", "candidates": [{"name": "a", "error": 0, "t": 1}, {"name": "b", "error": 1, "t": 1}, {"name": "c", "error": 2, "t": 1}]}],
            "transitions": [{"from": "y", "to": "x", "metric": "t", "cost": [[4, 0], [4, 0], [0, 4]]}]}"#,
    );
    // Within t<=2 only (y=c, x=a) or (y=*, x=b) avoid the transition: c/a costs 2, a/b costs 3.
    assert_eq!(exact_error(&problem, "t<=2"), 2.0);
}

/// Found by the sweep property test: a zero budget on a metric some candidate spends made the
/// integer program divide its row by zero; the simplex then failed.
#[test]
fn integer_program_handles_a_zero_budget() {
    let problem = problem(
        r#"{"schema": "bitplan.problem/1",
            "layers": [
              {"name": "x", "candidates": [{"name": "a", "error": 1, "t": 0, "bytes": 1},
                                          {"name": "b", "error": 0, "t": 5, "bytes": 1}]}]}"#,
    );
    let budgets = vec![
        bitplan::search::Budget::parse("t<=0").unwrap(),
        bitplan::search::Budget::parse("bytes<=10").unwrap(),
    ];
    let settings = Settings {
        exact: ExactLimits {
            method: ExactMethod::IntegerProgram,
            ..ExactLimits::default()
        },
        ..Settings::default()
    };
    let plan = search(&problem, &budgets, &settings).unwrap();
    assert_eq!(plan.layers[0].candidate, "a");
}
