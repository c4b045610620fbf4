//! `bitplan cost`: writes a cost table the library can read back; bad input is a clear error.

mod common;

use common::bitplan;

use bitplan::hardware::CostTable;

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

#[test]
fn a_search_space_prices_each_layer_in_its_admissible_candidates_only() {
    let out = scratch("fashion-gguf.json");
    let (code, stdout, stderr) = bitplan(&[
        "cost",
        "fashion-cnn",
        "--profile",
        "h100",
        "--space",
        "search-spaces/gguf.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("q8_0"), "{stdout}");
    let table: CostTable = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(table.layers.len(), 9);
    // The stem's rows (1 channel x 3 x 3 = 9 elements) fit no GGML block: only f16 is left.
    let stem = &table.layers[0];
    assert_eq!(stem.name, "stem");
    let priced: Vec<&str> = stem.costs.iter().map(|c| c.candidate.as_str()).collect();
    assert_eq!(priced, ["f16"]);
    assert!(stem
        .unavailable
        .iter()
        .any(|u| u.candidate == "q8_0" && u.reason.starts_with("search space:")));
    // The head's rows fit the 32-element blocks but not the 256-element K-quant super-blocks.
    let head = table.layers.iter().find(|l| l.name == "head").unwrap();
    let priced: Vec<&str> = head.costs.iter().map(|c| c.candidate.as_str()).collect();
    assert_eq!(priced, ["q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "f16"]);
    for layer in &table.layers {
        assert_eq!(
            layer.costs.len() + layer.unavailable.len(),
            11,
            "{}",
            layer.name
        );
    }
}

#[test]
fn candidate_and_space_together_are_refused() {
    let out = scratch("both.json");
    let (code, _, stderr) = bitplan(&[
        "cost",
        "fashion-cnn",
        "--profile",
        "h100",
        "--candidate",
        "w8a8",
        "--space",
        "search-spaces/gguf.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(stderr.contains("--space"), "{stderr}");
}
