//! Search-space files: the shipped ones parse and resolve on the reference models; malformed
//! ones give errors naming the file and line (snapshotted).

use bitplan::model::reference::load_image_classifier;
use bitplan::model::RunnableModel;
use bitplan::space::{resolve, SearchSpace};

const SHIPPED: [&str; 4] = ["int-weight-only.toml", "int-w-a.toml", "float-formats.toml", "gguf.toml"];

fn fashion_graph() -> bitplan::model::Graph {
    load_image_classifier("fashion-cnn", None).expect("fashion-cnn").model.graph().clone()
}

#[test]
fn shipped_spaces_resolve_on_fashion_cnn() {
    let graph = fashion_graph();
    for name in SHIPPED {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("search-spaces").join(name);
        let space = SearchSpace::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let resolved = resolve(&space, &graph).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(resolved.layers.len(), graph.layers.len(), "{name}");
        assert!(resolved.layers.iter().all(|l| !l.candidates.is_empty()), "{name}");
    }
}

#[test]
fn gguf_k_quants_are_excluded_where_rows_do_not_fit_with_the_reason() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("search-spaces/gguf.toml");
    let resolved = resolve(&SearchSpace::load(&path).expect("gguf"), &fashion_graph()).expect("resolves");
    let stem = &resolved.layers[0];
    assert_eq!(stem.name, "stem");
    let names: Vec<&str> = stem.candidates.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["f16"], "a 9-element row fits no GGML block");
    assert!(stem.excluded.iter().any(|e| e.candidate == "q4_k" && e.reason.contains("256")), "{:?}", stem.excluded);
}

#[test]
fn pins_and_ties_apply() {
    let text = r#"
description = "pins"
[candidates]
w8 = { weight = "int8-sym-pc", activation = "fp32" }
w4 = { weight = "int4-sym-pc", activation = "fp32" }
[op-kinds]
conv2d = ["w8", "w4"]
depthwise-conv2d = ["w8", "w4"]
linear = ["w8", "w4"]
[[pin]]
position = "last"
candidate = "w8"
[[tie]]
name = "block"
layers = ["res*.conv1", "res*.conv2"]
[[tie]]
name = "residual"
layers = ["stem", "res1.conv2"]
"#;
    let resolved = resolve(&SearchSpace::parse(text, "pins.toml").expect("parse"), &fashion_graph()).expect("resolve");
    let head = resolved.layers.last().expect("head");
    assert_eq!(head.pinned.as_deref(), Some("w8"));
    assert_eq!(head.candidates.len(), 1);
    let ties: Vec<(String, Vec<String>)> = resolved.ties.iter().map(|t| (t.name.clone(), t.layers.clone())).collect();
    let expected = [("block[1]", ["res1.conv1", "res1.conv2"]), ("block[2]", ["res2.conv1", "res2.conv2"]), ("residual", ["stem", "res1.conv2"])];
    let expected: Vec<(String, Vec<String>)> = expected.iter().map(|(n, l)| (n.to_string(), l.iter().map(|s| s.to_string()).collect())).collect();
    assert_eq!(ties, expected, "one tie set per block capture");
}

fn error(text: &str) -> String {
    match SearchSpace::parse(text, "bad.toml") {
        Err(error) => error.to_string(),
        Ok(space) => resolve(&space, &fashion_graph()).expect_err("should fail").to_string(),
    }
}

const HEAD: &str = "description = \"bad\"\n[candidates]\nw8 = { weight = \"int8-sym-pc\", activation = \"fp32\" }\n";

#[test]
fn malformed_spaces_name_file_and_line() {
    insta::assert_snapshot!("unknown_key", error(&format!("colour = \"blue\"\n{HEAD}[op-kinds]\nconv2d = [\"w8\"]\n")));
    insta::assert_snapshot!("unknown_candidate_key", error("description = \"bad\"\n[candidates]\nw8 = { weight = \"int8-sym-pc\", activation = \"fp32\", bits = 8 }\n[op-kinds]\n"));
    insta::assert_snapshot!("unknown_format", error("description = \"bad\"\n[candidates]\nw8 = { weight = \"int9-sym-pc\", activation = \"fp32\" }\n[op-kinds]\n"));
    insta::assert_snapshot!("weight_only_activation", error("description = \"bad\"\n[candidates]\nw8 = { weight = \"int8-sym-pc\", activation = \"q4_k\" }\n[op-kinds]\n"));
    insta::assert_snapshot!("unknown_op_kind", error(&format!("{HEAD}[op-kinds]\nconv3d = [\"w8\"]\n")));
    insta::assert_snapshot!("unknown_candidate", error(&format!("{HEAD}[op-kinds]\nconv2d = [\"w8\", \"w3\"]\n")));
    insta::assert_snapshot!("pattern_matches_nothing", error(&format!("{HEAD}[op-kinds]\nconv2d = [\"w8\"]\n\n[[pin]]\nlayers = \"blk.*.attn_q\"\ncandidate = \"w8\"\n")));
    insta::assert_snapshot!("tie_matches_nothing", error(&format!("{HEAD}[op-kinds]\nconv2d = [\"w8\"]\n[[tie]]\nname = \"qkv\"\nlayers = [\"stem\",\n  \"nothing*\"]\n")));
}
