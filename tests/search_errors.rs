//! Malformed problems, bad budgets and infeasible budgets give errors that name the file, the
//! layer or field, the bad value and what would be valid (snapshots of the messages).

use bitplan::search::{
    search, sweep, Budget, CandidateSpec, LayerSpec, Problem, Settings, SweepSpec,
};

const SMALL: &str = include_str!("fixtures/problem-small.json");

fn problem_error(json: &str) -> String {
    Problem::from_json(json, "bad.json")
        .unwrap_err()
        .to_string()
}

/// `{"schema": ..., "layers": [...]}` with the given layers and extra top-level fields.
fn with_layers(layers: &str, extra: &str) -> String {
    format!(r#"{{"schema": "bitplan.problem/1", "layers": [{layers}]{extra}}}"#)
}

const TWO_LAYERS: &str = r#"
    {"name": "a", "candidates": [{"name": "w8", "error": 0.1, "t": 2}, {"name": "w4", "error": 0.5, "t": 1}]},
    {"name": "b", "candidates": [{"name": "w8", "error": 0.2, "t": 2}, {"name": "w4", "error": 0.9, "t": 1}]}"#;

#[test]
fn malformed_problem_files() {
    let one = r#"{"name": "a", "candidates": [{"name": "w8", "error": 0.1, "t": 2}]}"#;
    let cases: Vec<(&str, String)> = vec![
        ("not_json", "{ layers: ".to_string()),
        (
            "wrong_schema",
            r#"{"schema": "bitplan.problem/9", "layers": []}"#.to_string(),
        ),
        ("missing_schema", r#"{"layers": []}"#.to_string()),
        (
            "unknown_top_level_field",
            with_layers(one, r#", "budget": 3"#),
        ),
        ("no_layers", with_layers("", "")),
        ("duplicate_layer", with_layers(&format!("{one}, {one}"), "")),
        (
            "no_candidates",
            with_layers(r#"{"name": "a", "candidates": []}"#, ""),
        ),
        (
            "duplicate_candidate",
            with_layers(
                r#"{"name": "a", "candidates": [{"name": "w8", "error": 0, "t": 1}, {"name": "w8", "error": 1, "t": 0}]}"#,
                "",
            ),
        ),
        (
            "error_not_a_number",
            with_layers(
                r#"{"name": "a", "candidates": [{"name": "w8", "error": "low", "t": 1}]}"#,
                "",
            ),
        ),
        (
            "negative_cost",
            with_layers(
                r#"{"name": "a", "candidates": [{"name": "w8", "error": 0, "t": -1}]}"#,
                "",
            ),
        ),
        (
            "cost_not_a_number",
            with_layers(
                r#"{"name": "a", "candidates": [{"name": "w8", "error": 0, "t": "fast"}]}"#,
                "",
            ),
        ),
        (
            "no_cost_metric",
            with_layers(
                r#"{"name": "a", "candidates": [{"name": "w8", "error": 0}]}"#,
                "",
            ),
        ),
        (
            "metric_mismatch",
            with_layers(
                r#"{"name": "a", "candidates": [{"name": "w8", "error": 0, "t": 1}, {"name": "w4", "error": 1, "bytes": 1}]}"#,
                "",
            ),
        ),
        (
            "tie_unknown_layer",
            with_layers(TWO_LAYERS, r#", "ties": [["a", "c"]]"#),
        ),
        (
            "tie_of_one_layer",
            with_layers(TWO_LAYERS, r#", "ties": [["a", "a"]]"#),
        ),
        (
            "contradictory_tie",
            with_layers(
                &format!(
                    r#"{TWO_LAYERS}, {{"name": "c", "candidates": [{{"name": "w8", "error": 0, "t": 1}}]}}"#
                ),
                r#", "ties": [["a", "b"], ["b", "c"]]"#,
            ),
        ),
        (
            "transition_unknown_layer",
            with_layers(
                TWO_LAYERS,
                r#", "transitions": [{"from": "a", "to": "z", "metric": "t", "cost": [[0, 1], [1, 0]]}]"#,
            ),
        ),
        (
            "transition_to_itself",
            with_layers(
                TWO_LAYERS,
                r#", "transitions": [{"from": "a", "to": "a", "metric": "t", "cost": [[0, 1], [1, 0]]}]"#,
            ),
        ),
        (
            "transition_unknown_metric",
            with_layers(
                TWO_LAYERS,
                r#", "transitions": [{"from": "a", "to": "b", "metric": "energy_uj", "cost": [[0, 1], [1, 0]]}]"#,
            ),
        ),
        (
            "transition_bad_matrix_size",
            with_layers(
                TWO_LAYERS,
                r#", "transitions": [{"from": "a", "to": "b", "metric": "t", "cost": [[0, 1, 2], [1, 0]]}]"#,
            ),
        ),
        (
            "transition_negative_cost",
            with_layers(
                TWO_LAYERS,
                r#", "transitions": [{"from": "a", "to": "b", "metric": "t", "cost": [[0, 1], [-1, 0]]}]"#,
            ),
        ),
        (
            "transition_repeated",
            with_layers(
                TWO_LAYERS,
                r#", "transitions": [{"from": "a", "to": "b", "metric": "t", "cost": [[0, 1], [1, 0]]},
                                     {"from": "a", "to": "b", "metric": "t", "cost": [[0, 1], [1, 0]]}]"#,
            ),
        ),
    ];
    for (name, json) in cases {
        insta::assert_snapshot!(name, problem_error(&json));
    }
}

/// NaN cannot be written in JSON, but tables built by other stages can hold it.
#[test]
fn nan_from_a_table() {
    let candidate = CandidateSpec {
        name: "w4".to_string(),
        error: f64::NAN,
        weight_format: None,
        activation_format: None,
        costs: [("latency_us".to_string(), 1.0)].into_iter().collect(),
    };
    let layers = vec![LayerSpec {
        name: "fc1".to_string(),
        candidates: vec![candidate],
    }];
    let error = Problem::new("sensitivity.json + costs.json", layers, vec![], vec![]).unwrap_err();
    insta::assert_snapshot!("nan_from_a_table", error.to_string());
}

fn small() -> Problem {
    Problem::from_json(SMALL, "problem-small.json").unwrap()
}

#[test]
fn bad_budgets() {
    let parse = [
        "latency_us",
        "latency_us<",
        "<=5",
        "latency_us<=fast",
        "latency_us<=-1",
        "latency_us<=inf",
    ];
    for (index, text) in parse.iter().enumerate() {
        let message = Budget::parse(text).unwrap_err().to_string();
        insta::assert_snapshot!(format!("budget_syntax_{index}"), message);
    }
    let problem = small();
    let solve = |texts: &[&str]| {
        let budgets: Vec<Budget> = texts.iter().map(|t| Budget::parse(t).unwrap()).collect();
        search(&problem, &budgets, &Settings::default())
            .unwrap_err()
            .to_string()
    };
    insta::assert_snapshot!("budget_unknown_metric", solve(&["energy_uj<=5"]));
    insta::assert_snapshot!(
        "budget_repeated",
        solve(&["latency_us<=15", "latency_us<=12"])
    );
    insta::assert_snapshot!("budget_infeasible", solve(&["latency_us<=5"]));
}

/// Fast-but-big against slow-but-small: each budget can be met alone, not both.
#[test]
fn budgets_that_conflict() {
    let layer = |name: &str| {
        format!(
            r#"{{"name": "{name}", "candidates": [{{"name": "fast", "error": 0, "t": 1, "bytes": 10}},
                {{"name": "small", "error": 0, "t": 10, "bytes": 1}}]}}"#
        )
    };
    let json = with_layers(&format!("{}, {}", layer("x"), layer("y")), "");
    let problem = Problem::from_json(&json, "conflict.json").unwrap();
    let budgets = vec![
        Budget::parse("t<=10").unwrap(),
        Budget::parse("bytes<=10").unwrap(),
    ];
    let error = search(&problem, &budgets, &Settings::default()).unwrap_err();
    insta::assert_snapshot!("budgets_jointly_infeasible", error.to_string());
    let greedy = Settings {
        solver: bitplan::search::Solver::Greedy,
        ..Settings::default()
    };
    let error = search(&problem, &budgets, &greedy).unwrap_err();
    insta::assert_snapshot!("budgets_greedy_finds_none", error.to_string());
}

#[test]
fn bad_sweeps() {
    let problem = small();
    let spec = |metrics: &[&str], budgets: &[&str], points: usize| SweepSpec {
        metrics: metrics.iter().map(|m| m.to_string()).collect(),
        points,
        budgets: budgets.iter().map(|b| Budget::parse(b).unwrap()).collect(),
        settings: Settings::default(),
    };
    let error = |spec: SweepSpec| sweep(&problem, &spec).unwrap_err().to_string();
    insta::assert_snapshot!("sweep_unknown_metric", error(spec(&["energy_uj"], &[], 10)));
    insta::assert_snapshot!(
        "sweep_budgeted_metric",
        error(spec(&["latency_us"], &["latency_us<=10"], 10))
    );
    insta::assert_snapshot!("sweep_no_points", error(spec(&["latency_us"], &[], 0)));
    insta::assert_snapshot!(
        "sweep_infeasible_budget",
        error(spec(&["latency_us"], &["weight_bytes<=1"], 10))
    );
}

/// A transition graph too tangled for the exact solver: every layer linked to every later one.
#[test]
fn transitions_too_wide_for_exact() {
    let layers: Vec<String> = (0..8)
        .map(|i| {
            let candidates: Vec<String> = (0..4)
                .map(|c| format!(r#"{{"name": "c{c}", "error": {c}, "t": {}}}"#, 4 - c))
                .collect();
            format!(
                r#"{{"name": "l{i}", "candidates": [{}]}}"#,
                candidates.join(", ")
            )
        })
        .collect();
    let mut transitions = Vec::new();
    for from in 0..8 {
        for to in from + 1..8 {
            let row = "[0, 1, 1, 1]";
            transitions.push(format!(
                r#"{{"from": "l{from}", "to": "l{to}", "metric": "t", "cost": [{row}, {row}, {row}, {row}]}}"#
            ));
        }
    }
    let json = with_layers(
        &layers.join(", "),
        &format!(r#", "transitions": [{}]"#, transitions.join(", ")),
    );
    let problem = Problem::from_json(&json, "dense.json").unwrap();
    let budgets = vec![Budget::parse("t<=40").unwrap()];
    let error = search(&problem, &budgets, &Settings::default()).unwrap_err();
    insta::assert_snapshot!("exact_too_wide", error.to_string());
    // The evolutionary solver handles it.
    let evolutionary = Settings {
        solver: bitplan::search::Solver::Evolutionary,
        ..Settings::default()
    };
    assert!(search(&problem, &budgets, &evolutionary).is_ok());
}
