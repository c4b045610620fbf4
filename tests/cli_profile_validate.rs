//! `bitplan profile validate`: the structure of its output and its errors. Timings vary from run
//! to run, so no test looks at a time; plan draws are seeded, so they are compared exactly.

mod common;

use common::bitplan;

use std::collections::BTreeSet;

use serde_json::Value;

fn repo(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// A quick validation of smollm2 (K = 3, 2 passes) as JSON.
fn validate_json(seed: &str) -> Value {
    let space = repo("search-spaces/gguf.toml");
    let args = [
        "profile",
        "validate",
        "host-cpu",
        "--model",
        "smollm2",
        "--space",
        &space,
        "--samples",
        "3",
        "--repeats",
        "2",
        "--seed",
        seed,
        "--json",
    ];
    let (code, stdout, stderr) = bitplan(&args);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

fn candidates(result: &Value) -> Vec<Vec<String>> {
    result["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|plan| {
            plan["layers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|layer| layer["candidate"].as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn json_holds_every_plan_and_linear_layer_with_admissible_candidates() {
    let result = validate_json("7");
    assert_eq!(result["schema"], "bitplan.latency-validation/1");
    assert_eq!(result["model"], "smollm2");
    assert_eq!(result["profile"], "host-cpu");
    assert_eq!(result["rows"], 1);
    let plans = result["plans"].as_array().unwrap();
    assert_eq!(plans.len(), 3);
    // 30 blocks x 7 projections + the output head; embeddings are lookups, not run.
    let k_quants: BTreeSet<&str> = ["q6_k", "q5_k", "q4_k", "q3_k", "q2_k"].into();
    for plan in plans {
        let layers = plan["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 211);
        let mut predicted = 0.0;
        for layer in layers {
            let name = layer["layer"].as_str().unwrap();
            let candidate = layer["candidate"].as_str().unwrap();
            // Only ffn_down has rows (1536) that K-quants' 256-blocks divide.
            if k_quants.contains(candidate) {
                assert!(name.ends_with("ffn_down"), "{name} got {candidate}");
            } else {
                // 32-element blocks fit every row.
                assert!(
                    ["q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "f16"].contains(&candidate),
                    "{name} got {candidate}"
                );
            }
            assert!(layer["measured_us"].as_f64().unwrap() > 0.0);
            predicted += layer["predicted_us"].as_f64().unwrap();
        }
        let total = plan["predicted_us"].as_f64().unwrap();
        assert!(
            (predicted - total).abs() <= 1e-6 * total,
            "{predicted} vs {total}"
        );
    }
    let summary = &result["summary"];
    assert_eq!(summary["plans"]["count"], 3);
    assert_eq!(summary["layers"]["count"], 633);
    let groups = summary["groups"].as_object().unwrap();
    assert!(groups.keys().any(|k| k.ends_with(" output")), "{summary}");
}

#[test]
fn plan_draws_follow_the_seed() {
    let first = validate_json("7");
    let again = validate_json("7");
    let other = validate_json("8");
    assert_eq!(candidates(&first), candidates(&again));
    assert_ne!(candidates(&first), candidates(&other));
}

#[test]
fn table_reports_plans_layers_and_spearman() {
    let space = repo("search-spaces/gguf.toml");
    let args = [
        "profile",
        "validate",
        "host-cpu",
        "--model",
        "minilm",
        "--space",
        &space,
        "--samples",
        "3",
        "--repeats",
        "2",
        "--batch",
        "2",
    ];
    let (code, stdout, stderr) = bitplan(&args);
    assert_eq!(code, 0, "{stderr}");
    for expected in [
        "minilm on host-cpu",
        "batch 2 x seq 1 = 2 rows",
        "plan             predicted_us  measured_us      err   load",
        "plans        3  within ±10%:",
        "layers     108  within ±10%:",
        "Spearman (predicted vs measured plan latency): ",
        "q8_0 encoder.layer.N.intermediate.dense",
    ] {
        assert!(
            stdout.contains(expected),
            "`{expected}` missing from:\n{stdout}"
        );
    }
}

fn failure(args: &[&str]) -> String {
    let (code, stdout, stderr) = bitplan(args);
    assert_ne!(code, 0, "should fail: {stdout}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr.replace(env!("CARGO_MANIFEST_DIR"), "<repo>")
}

#[test]
fn unknown_model_is_named_with_the_valid_ones() {
    let space = repo("search-spaces/gguf.toml");
    let stderr = failure(&[
        "profile",
        "validate",
        "host-cpu",
        "--model",
        "nosuchmodel",
        "--space",
        &space,
    ]);
    insta::assert_snapshot!("validate_unknown_model", stderr);
}

#[test]
fn zero_samples_is_refused() {
    let space = repo("search-spaces/gguf.toml");
    let stderr = failure(&[
        "profile",
        "validate",
        "host-cpu",
        "--model",
        "smollm2",
        "--space",
        &space,
        "--samples",
        "0",
    ]);
    insta::assert_snapshot!("validate_zero_samples", stderr);
}

/// A space of integer formats: host-cpu prices none of them; a profile that does (the Cortex-A76)
/// still has no candle kernel to run them with here.
#[test]
fn a_space_without_a_ggml_candidate_is_refused() {
    let dir = std::env::temp_dir().join(format!("bitplan-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let space = dir.join("int-only.toml");
    std::fs::write(
        &space,
        "description = \"integer weights only\"\n[candidates]\n\
         w8a8 = { weight = \"int8-sym-pc\", activation = \"int8-asym-pt\" }\n\
         [op-kinds]\nlinear = [\"w8a8\"]\nembedding = [\"w8a8\"]\n",
    )
    .unwrap();
    let space = space.to_str().unwrap();
    let host = failure(&[
        "profile", "validate", "host-cpu", "--model", "smollm2", "--space", space,
    ]);
    let arm = failure(&[
        "profile",
        "validate",
        "arm-cortex-a76",
        "--model",
        "smollm2",
        "--space",
        space,
    ]);
    let text = format!("host-cpu:\n{host}\narm-cortex-a76:\n{arm}").replace(space, "<space>");
    insta::assert_snapshot!("validate_no_ggml_candidate", text);
}
