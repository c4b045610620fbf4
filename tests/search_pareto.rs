//! Fronts and hypervolume: a swept front holds no dominated plan, honours its budgets, flags the
//! plans a uniform baseline beats and never recommends them; the exact sweep's plans are optimal
//! for their budgets; hypervolume matches hand-computed cases and inclusion-exclusion.

mod search_common;

use bitplan::search::pareto::{dominates, hypervolume, non_dominated, normalized_hypervolume};
use bitplan::search::{search, sweep, Front, NsgaConfig, SearchError, Settings, Solver, SweepSpec};
use proptest::collection::vec;
use proptest::prelude::*;
use search_common::*;

const ALL: [Solver; 5] = [
    Solver::Exact,
    Solver::Greedy,
    Solver::AimetPath,
    Solver::Evolutionary,
    Solver::Random,
];

/// Sweeps latency_us always, weight_bytes too when the problem has it and puts no budget on it.
fn spec(generated: &Generated, solver: Solver, problem: &bitplan::search::Problem) -> SweepSpec {
    let budgets: Vec<_> = generated
        .budgets(problem)
        .into_iter()
        .filter(|budget| budget.metric != METRICS[0])
        .collect();
    let swept: Vec<String> = METRICS[..generated.metrics]
        .iter()
        .filter(|metric| !budgets.iter().any(|b| b.metric == **metric))
        .map(|metric| metric.to_string())
        .collect();
    SweepSpec {
        metrics: swept,
        points: 9,
        budgets,
        settings: Settings {
            solver,
            nsga: NsgaConfig {
                population: 8,
                generations: 10,
                ..NsgaConfig::default()
            },
            random_samples: 64,
            ..Settings::default()
        },
    }
}

fn check_front(
    problem: &bitplan::search::Problem,
    spec: &SweepSpec,
    front: &Front,
) -> Result<(), TestCaseError> {
    for (i, a) in front.plans.iter().enumerate() {
        for b in &front.plans {
            prop_assert!(
                !dominates(&b.objectives, &a.objectives),
                "plans[{i}] is dominated"
            );
        }
        let recomputed = totals(problem, &assignment(problem, &a.plan));
        prop_assert!(
            respects(&recomputed, &spec.budgets),
            "plans[{i}] breaks a fixed budget"
        );
        for (metric, value) in front.metrics.iter().zip(&a.objectives) {
            prop_assert!(
                close(recomputed[metric], *value),
                "plans[{i}] {metric} is off"
            );
        }
        if let Some(name) = &a.dominated_by {
            let baseline = front
                .baselines
                .iter()
                .find(|b| &b.candidate == name)
                .unwrap();
            prop_assert!(baseline.within_budgets && dominates(&baseline.objectives, &a.objectives));
        }
    }
    if let Some(index) = front.recommended {
        prop_assert!(
            front.plans[index].dominated_by.is_none(),
            "recommended a dominated plan"
        );
    }
    prop_assert!((0.0..=1.0).contains(&front.hypervolume));
    Ok(())
}

/// Every plan of an exact sweep has the least error brute force finds within its budgets.
fn check_exact_plans(
    problem: &bitplan::search::Problem,
    front: &Front,
) -> Result<(), TestCaseError> {
    for plan in &front.plans {
        let best = brute_force(problem, &plan.plan.budgets).unwrap();
        prop_assert!(
            close(plan.plan.total("error"), best),
            "not optimal for {:?}",
            plan.plan.budgets
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn fronts_hold_no_dominated_plan(generated in generated(5, true, true)) {
        let problem = generated.problem();
        for solver in ALL {
            let spec = spec(&generated, solver, &problem);
            match sweep(&problem, &spec) {
                Ok(front) => {
                    check_front(&problem, &spec, &front)?;
                    if solver == Solver::Exact {
                        check_exact_plans(&problem, &front)?;
                    }
                }
                Err(error) => {
                    // Only a fixed budget below the least achievable value.
                    prop_assert!(matches!(error, SearchError::Infeasible { .. }), "{error}");
                }
            }
        }
    }

    #[test]
    fn hypervolume_equals_inclusion_exclusion(
        points in vec(vec(0.0f64..4.0, 3), 1..6),
        dims in 1usize..=3,
    ) {
        let points: Vec<Vec<f64>> = points.into_iter().map(|p| p[..dims].to_vec()).collect();
        let reference = vec![4.0; dims];
        let expected = inclusion_exclusion(&points, &reference);
        let computed = hypervolume(&points, &reference);
        prop_assert!((computed - expected).abs() <= 1e-9 * expected.max(1.0), "{computed} vs {expected}");
    }
}

/// Σ over non-empty subsets S of (-1)^(|S|+1) · volume of the box their common corner dominates.
fn inclusion_exclusion(points: &[Vec<f64>], reference: &[f64]) -> f64 {
    let mut total = 0.0;
    for mask in 1u32..(1 << points.len()) {
        let members: Vec<&Vec<f64>> = (0..points.len())
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| &points[i])
            .collect();
        let volume: f64 = (0..reference.len())
            .map(|d| {
                let corner = members
                    .iter()
                    .map(|p| p[d])
                    .fold(f64::NEG_INFINITY, f64::max);
                (reference[d] - corner).max(0.0)
            })
            .product();
        let sign = if members.len() % 2 == 1 { 1.0 } else { -1.0 };
        total += sign * volume;
    }
    total
}

#[test]
fn hypervolume_of_a_staircase_by_hand() {
    // Slices along the second objective: 1 x (4-3) + 1 x (4-2) + 1 x (4-1) = 6.
    let points = vec![vec![1.0, 3.0], vec![2.0, 2.0], vec![3.0, 1.0]];
    assert_eq!(hypervolume(&points, &[4.0, 4.0]), 6.0);
    // A dominated point and a point outside the reference box add nothing.
    let more = vec![
        vec![1.0, 3.0],
        vec![2.0, 2.0],
        vec![3.0, 1.0],
        vec![3.0, 3.0],
        vec![0.0, 5.0],
    ];
    assert_eq!(hypervolume(&more, &[4.0, 4.0]), 6.0);
}

#[test]
fn hypervolume_of_two_boxes_in_three_dimensions_by_hand() {
    // [0,2]x[0,2]x[1,2] (4) plus [1,2]x[1,2]x[0,2] (2) minus their overlap [1,2]^3 (1) = 5.
    let points = vec![vec![0.0, 0.0, 1.0], vec![1.0, 1.0, 0.0]];
    assert_eq!(hypervolume(&points, &[2.0, 2.0, 2.0]), 5.0);
    // Normalized to the box [0, 2]^3 (volume 8): 5/8.
    assert_eq!(normalized_hypervolume(&points, &[0.0; 3], &[2.0; 3]), 0.625);
}

#[test]
fn non_dominated_keeps_the_first_of_equal_points() {
    let points = vec![
        vec![1.0, 2.0],
        vec![1.0, 2.0],
        vec![2.0, 1.0],
        vec![2.0, 2.0],
    ];
    assert_eq!(non_dominated(&points), vec![0, 2]);
}

/// A front from the example problem: the exact sweep's plans match single exact searches.
#[test]
fn exact_sweep_plans_equal_single_searches() {
    let text = std::fs::read_to_string("tests/fixtures/problem-small.json").unwrap();
    let problem = bitplan::search::Problem::from_json(&text, "problem-small.json").unwrap();
    let spec = SweepSpec {
        metrics: vec!["latency_us".to_string()],
        points: 12,
        budgets: Vec::new(),
        settings: Settings::default(),
    };
    let front = sweep(&problem, &spec).unwrap();
    assert!(front.plans.len() >= 5);
    for plan in &front.plans {
        let single = search(&problem, &plan.plan.budgets, &Settings::default()).unwrap();
        assert_eq!(single.total("error"), plan.plan.total("error"));
    }
    assert_eq!(front.baselines.len(), 3);
}
