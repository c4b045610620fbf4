//! Search benches on a seeded synthetic 200-layer x 8-candidate problem with two cost metrics
//! (latency_us, weight_bytes); see `search_synthetic` for how it is built.
//!
//! Before timing, prints the quality figures the goals are stated in: greedy's mean error against
//! exact across a 100-budget sweep, and the hypervolume of the NSGA-II and random fronts against
//! the exact sweep's front at the same reference point. Run: `cargo bench --bench search`.

mod search_synthetic;

use std::hint::black_box;
use std::time::Duration;

use bitplan::search::pareto::normalized_hypervolume;
use bitplan::search::{
    search, sweep, Budget, ExactLimits, ExactMethod, Front, MetricRange, NsgaConfig, Problem,
    Settings, Solver, SweepSpec,
};
use criterion::Criterion;

const LAYERS: usize = 200;
const SEED: u64 = 2024;
const SWEEP_POINTS: usize = 100;

fn settings(solver: Solver) -> Settings {
    Settings {
        solver,
        ..Settings::default()
    }
}

fn latency_sweep(solver: Solver, points: usize) -> SweepSpec {
    SweepSpec {
        metrics: vec!["latency_us".to_string()],
        points,
        budgets: Vec::new(),
        settings: settings(solver),
    }
}

/// Halfway between the least latency and the latency of the most accurate plan.
fn middle_budget(front: &Front) -> Vec<Budget> {
    let levels = &front.levels["latency_us"];
    vec![Budget {
        metric: "latency_us".to_string(),
        max: levels[levels.len() / 2],
    }]
}

fn points(front: &Front) -> Vec<Vec<f64>> {
    front
        .plans
        .iter()
        .map(|plan| plan.objectives.clone())
        .collect()
}

/// Per budget of the exact sweep: a heuristic's error over exact's, as (ratio of the mean
/// errors, mean of the ratios, worst ratio, budgets where it found no plan).
fn error_ratios(problem: &Problem, exact: &Front, solver: Solver) -> (f64, f64, f64, usize) {
    let (mut sum_exact, mut sum_other, mut worst, mut ratios, mut found) =
        (0.0, 0.0, 1.0f64, 0.0, 0);
    for &max in &exact.levels["latency_us"] {
        let budgets = vec![Budget {
            metric: "latency_us".to_string(),
            max,
        }];
        let best = search(problem, &budgets, &settings(Solver::Exact))
            .unwrap()
            .total("error");
        let Ok(plan) = search(problem, &budgets, &settings(solver)) else {
            continue;
        };
        let other = plan.total("error");
        sum_exact += best;
        sum_other += other;
        worst = worst.max(other / best);
        ratios += other / best;
        found += 1;
    }
    let missed = exact.levels["latency_us"].len() - found;
    (sum_other / sum_exact, ratios / found as f64, worst, missed)
}

fn report_quality(problem: &Problem) {
    let exact = sweep(problem, &latency_sweep(Solver::Exact, SWEEP_POINTS)).unwrap();
    for solver in [Solver::Greedy, Solver::AimetPath] {
        let (of_means, mean, worst, missed) = error_ratios(problem, &exact, solver);
        println!(
            "quality {solver:>10}: error / exact over {SWEEP_POINTS} budgets: ratio of means {of_means:.5}, \
             mean ratio {mean:.5}, worst {worst:.5}, no plan found for {missed} budgets"
        );
    }
    // The exact front's own box: its least and greatest error and latency.
    let exact_points = points(&exact);
    let low: Vec<f64> = (0..2)
        .map(|d| {
            exact_points
                .iter()
                .map(|p| p[d])
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    let high: Vec<f64> = (0..2)
        .map(|d| {
            exact_points
                .iter()
                .map(|p| p[d])
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .collect();
    let tight = |front: &Front| normalized_hypervolume(&points(front), &low, &high);
    println!(
        "quality      exact: {} front plans, hypervolume {:.6} (problem box), {:.6} (exact front's box)",
        exact.plans.len(),
        exact.hypervolume,
        tight(&exact)
    );
    let mut unseeded = latency_sweep(Solver::Evolutionary, SWEEP_POINTS);
    unseeded.settings.nsga = NsgaConfig {
        hull_seeds: false,
        ..NsgaConfig::default()
    };
    let candidates = [
        (
            "evolutionary",
            latency_sweep(Solver::Evolutionary, SWEEP_POINTS),
        ),
        ("evolutionary (no hull seeds)", unseeded),
        ("random", latency_sweep(Solver::Random, SWEEP_POINTS)),
    ];
    for (name, spec) in candidates {
        let front = sweep(problem, &spec).unwrap();
        println!(
            "quality {name}: {} front plans, hypervolume / exact's: {:.5} (problem box), {:.5} (exact front's box)",
            front.plans.len(),
            front.hypervolume / exact.hypervolume,
            tight(&front) / tight(&exact)
        );
    }
}

fn bench_single_budget(
    criterion: &mut Criterion,
    problem: &Problem,
    chain: &Problem,
    budgets: &[Budget],
) {
    let mut group = criterion.benchmark_group("one_budget");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    for solver in [Solver::Exact, Solver::Greedy, Solver::AimetPath] {
        group.bench_function(solver.name(), |b| {
            b.iter(|| search(black_box(problem), budgets, &settings(solver)).unwrap())
        });
    }
    group.bench_function("exact_chain_transitions", |b| {
        b.iter(|| search(black_box(chain), budgets, &settings(Solver::Exact)).unwrap())
    });
    group.bench_function("greedy_chain_transitions", |b| {
        b.iter(|| search(black_box(chain), budgets, &settings(Solver::Greedy)).unwrap())
    });
    group.finish();
}

/// Two budgets at once (a quarter of the way up each metric's range): one run each, timed with
/// `Instant`, since the integer program takes seconds.
fn report_two_budgets(problem: &Problem) {
    let budgets: Vec<Budget> = ["latency_us", "weight_bytes"]
        .iter()
        .enumerate()
        .map(|(index, metric)| {
            let range = MetricRange::of(problem, index).unwrap();
            Budget {
                metric: metric.to_string(),
                max: range.min + 0.25 * (range.max - range.min),
            }
        })
        .collect();
    let mut errors = Vec::new();
    for solver in [Solver::Exact, Solver::Greedy] {
        let start = std::time::Instant::now();
        let plan = search(problem, &budgets, &settings(solver)).unwrap();
        errors.push(plan.total("error"));
        println!(
            "two budgets ({}): {solver} error {:.6e} in {:.3?}",
            bitplan::search::budget::list(&budgets),
            errors[errors.len() - 1],
            start.elapsed()
        );
    }
    println!(
        "two budgets: greedy error / exact {:.5}",
        errors[1] / errors[0]
    );
}

fn bench_exact_methods(criterion: &mut Criterion, problem: &Problem, budgets: &[Budget]) {
    let mut group = criterion.benchmark_group("one_budget_method");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    for method in [ExactMethod::DynamicProgram, ExactMethod::IntegerProgram] {
        let settings = Settings {
            exact: ExactLimits {
                method,
                ..ExactLimits::default()
            },
            ..Settings::default()
        };
        group.bench_function(format!("{method:?}"), |b| {
            b.iter(|| search(black_box(problem), budgets, &settings).unwrap())
        });
    }
    group.finish();
}

fn bench_fronts(criterion: &mut Criterion, problem: &Problem) {
    let mut group = criterion.benchmark_group("front");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for solver in [Solver::Exact, Solver::Greedy] {
        let spec = latency_sweep(solver, SWEEP_POINTS);
        group.bench_function(format!("{solver}_sweep_{SWEEP_POINTS}"), |b| {
            b.iter(|| sweep(black_box(problem), &spec).unwrap())
        });
    }
    let spec = latency_sweep(Solver::Evolutionary, SWEEP_POINTS);
    group.bench_function("evolutionary_pop100_gen200", |b| {
        b.iter(|| sweep(black_box(problem), &spec).unwrap())
    });
    let spec = latency_sweep(Solver::Random, SWEEP_POINTS);
    group.bench_function("random_20000", |b| {
        b.iter(|| sweep(black_box(problem), &spec).unwrap())
    });
    group.finish();
}

fn main() {
    let problem = search_synthetic::problem(LAYERS, SEED, false);
    let chain = search_synthetic::problem(LAYERS, SEED, true);
    report_quality(&problem);
    report_two_budgets(&problem);
    let exact = sweep(&problem, &latency_sweep(Solver::Exact, 3)).unwrap();
    let budgets = middle_budget(&exact);
    println!("one_budget: {}", budgets[0]);
    let mut criterion = Criterion::default().configure_from_args();
    bench_single_budget(&mut criterion, &problem, &chain, &budgets);
    bench_exact_methods(&mut criterion, &problem, &budgets);
    bench_fronts(&mut criterion, &problem);
    criterion.final_summary();
}
