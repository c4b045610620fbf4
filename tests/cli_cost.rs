//! `bitplan cost`: writes a cost table the library can read back; bad input is a clear error.

use std::process::Command;

use bitplan::hardware::CostTable;

fn bitplan(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_bitplan"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bitplan-cli-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn cost_writes_a_table_for_every_layer_and_candidate() {
    let out = scratch("fashion-h100.json");
    let (code, stdout, stderr) = bitplan(&[
        "cost",
        "fashion-cnn",
        "--profile",
        "h100",
        "--candidate",
        "w8a8",
        "--candidate",
        "w4a16",
        "--batch",
        "32",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("w8a8") && stdout.contains("w4a16"),
        "{stdout}"
    );
    let table: CostTable = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(table.schema, "bitplan.cost/1");
    assert_eq!(
        (table.profile.as_str(), table.model.as_str(), table.batch),
        ("nvidia-h100-sxm", "fashion-cnn", 32)
    );
    assert_eq!(table.layers.len(), 9);
    assert!(table.layers.iter().all(|layer| layer.costs.len() == 2));
}

#[test]
fn a_graph_json_is_a_model_too() {
    let graph = scratch("graph.json");
    let (code, stdout, stderr) = bitplan(&["inspect", "fashion-cnn", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    std::fs::write(&graph, stdout).unwrap();
    let out = scratch("from-graph.json");
    let (code, _, stderr) = bitplan(&[
        "cost",
        graph.to_str().unwrap(),
        "--profile",
        "arm-ethos-u55-256",
        "--candidate",
        "w8a8",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn an_unknown_candidate_is_an_error_listing_the_valid_ones() {
    let out = scratch("never.json");
    let (code, _, stderr) = bitplan(&[
        "cost",
        "fashion-cnn",
        "--profile",
        "h100",
        "--candidate",
        "w5a5",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("cost_unknown_candidate", stderr);
    assert!(!out.exists());
}

#[test]
fn a_candidate_no_layer_can_run_is_an_error_naming_the_layer() {
    let out = scratch("never2.json");
    let (code, _, stderr) = bitplan(&[
        "cost",
        "fashion-cnn",
        "--profile",
        "google-tpu-v5e",
        "--candidate",
        "q4_k:fp32",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("cost_no_candidate_fits", stderr);
}
