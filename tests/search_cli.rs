//! The `search` and `sweep` commands as a user runs them: plans and fronts on disk, non-zero exit
//! codes with clear messages on bad input, and byte-identical output for the same inputs and seed.

use std::path::PathBuf;
use std::process::{Command, Output};

use bitplan::search::{Front, Plan};

const BITPLAN: &str = env!("CARGO_BIN_EXE_bitplan");
const SMALL: &str = "tests/fixtures/problem-small.json";

fn run(args: &[&str]) -> Output {
    Command::new(BITPLAN)
        .args(args)
        .output()
        .expect("bitplan runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("search_cli");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

#[test]
fn search_writes_a_plan_within_budget() {
    let out = scratch("plan.json");
    let output = run(&[
        "search",
        "--problem",
        SMALL,
        "--budget",
        "latency_us<=11",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let plan: Plan = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(plan.schema, "bitplan.plan/1");
    assert_eq!(plan.layers.len(), 7);
    assert!(plan.total("latency_us") <= 11.0 + 1e-9);
    assert!(plan.slack["latency_us"] >= -1e-9);
    // Formats are copied from the problem's candidates.
    for layer in &plan.layers {
        let expected = if layer.candidate == "w8a8" {
            "int8-per-channel-sym"
        } else {
            "int4-g128-sym"
        };
        assert_eq!(
            layer.weight_format.as_deref(),
            Some(expected),
            "{}",
            layer.name
        );
    }
}

#[test]
fn infeasible_budget_exits_non_zero_with_the_smallest_value() {
    let output = run(&["search", "--problem", SMALL, "--budget", "latency_us<=5"]);
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!("cli_infeasible_budget", stderr(&output));
}

#[test]
fn malformed_problem_exits_non_zero_naming_the_file() {
    let bad = scratch("bad-problem.json");
    std::fs::write(
        &bad,
        r#"{"schema": "bitplan.problem/1", "layers": [{"name": "fc", "candidates": [{"name": "w4", "error": 0.1, "latency_us": -2}]}]}"#,
    )
    .unwrap();
    let output = run(&[
        "search",
        "--problem",
        bad.to_str().unwrap(),
        "--budget",
        "latency_us<=1",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output).replace(bad.to_str().unwrap(), "<dir>/bad-problem.json");
    insta::assert_snapshot!("cli_malformed_problem", message);
}

#[test]
fn missing_file_and_bad_usage_exit_non_zero() {
    let missing = run(&["search", "--problem", "no/such/problem.json"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("no/such/problem.json"),
        "{}",
        stderr(&missing)
    );
    let usage = run(&["sweep", "--problem", SMALL]);
    assert_eq!(
        usage.status.code(),
        Some(2),
        "clap's usage error: --metric is required"
    );
}

/// Same inputs and seed give the same bytes, for every solver (the seeded ones included).
#[test]
fn outputs_are_byte_identical_across_runs() {
    for solver in ["exact", "greedy", "aimet-path", "evolutionary", "random"] {
        let mut outputs = Vec::new();
        for attempt in 0..2 {
            let out = scratch(&format!("front-{solver}-{attempt}.json"));
            let args = [
                "sweep",
                "--problem",
                SMALL,
                "--metric",
                "latency_us",
                "--metric",
                "weight_bytes",
                "--points",
                "16",
                "--solver",
                solver,
                "--seed",
                "7",
                "--generations",
                "30",
                "--samples",
                "500",
                "--out",
                out.to_str().unwrap(),
            ];
            let output = run(&args);
            assert!(output.status.success(), "{solver}: {}", stderr(&output));
            outputs.push(std::fs::read(&out).unwrap());
        }
        assert_eq!(
            outputs[0], outputs[1],
            "{solver} output differs between runs"
        );
        let front: Front = serde_json::from_slice(&outputs[0]).unwrap();
        assert_eq!(front.schema, "bitplan.front/1");
        assert_eq!(front.metrics, ["error", "latency_us", "weight_bytes"]);
        assert!(!front.plans.is_empty());
    }
}

#[test]
fn search_prints_json_to_standard_output_without_out() {
    let output = run(&[
        "search",
        "--problem",
        SMALL,
        "--budget",
        "latency_us<=12",
        "--solver",
        "greedy",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let plan: Plan = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(plan.solver, "greedy");
    assert_eq!(plan.seed, None);
}
