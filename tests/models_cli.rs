//! `bitplan inspect` and `bitplan eval` as a user sees them: the layer table, results, and the
//! error for each kind of bad input (snapshots), with a non-zero exit code and no panic.

use std::path::{Path, PathBuf};
use std::process::Command;

use candle_core::{Device, Tensor};

/// A fresh scratch directory for this test binary.
fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("bitplan-models-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Runs bitplan; returns (exit code, stdout + stderr with `dir` and the fixtures dir replaced).
fn bitplan(args: &[&str], dir: &Path) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_bitplan"))
        .args(args)
        .output()
        .expect("run bitplan");
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    let fixtures = bitplan::data::fixtures_dir().display().to_string();
    let text = text
        .replace(&dir.display().to_string(), "[TMP]")
        .replace(&fixtures, "[FIXTURES]");
    (output.status.code().unwrap_or(-1), text)
}

/// Runs a command that must fail cleanly: exit code 1 and an `error:` line, no panic.
fn failure(args: &[&str], dir: &Path) -> String {
    let (code, text) = bitplan(args, dir);
    assert_eq!(code, 1, "{args:?}: {text}");
    assert!(
        text.starts_with("error: ") && !text.contains("panicked"),
        "{text}"
    );
    text
}

fn write_plan(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write plan");
    path.display().to_string()
}

#[test]
fn inspect_fashion_cnn() {
    let dir = scratch("inspect");
    let (code, text) = bitplan(&["inspect", "fashion-cnn"], &dir);
    assert_eq!(code, 0, "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn eval_fashion_cnn_fp32_and_uniform() {
    let dir = scratch("eval");
    let (code, fp32) = bitplan(&["eval", "fashion-cnn", "--limit", "500"], &dir);
    assert_eq!(code, 0, "{fp32}");
    let (code, w4a16) = bitplan(
        &[
            "eval",
            "fashion-cnn",
            "--uniform",
            "w4a16",
            "--limit",
            "500",
        ],
        &dir,
    );
    assert_eq!(code, 0, "{w4a16}");
    let (code, w8a8) = bitplan(
        &["eval", "fashion-cnn", "--uniform", "w8a8", "--limit", "500"],
        &dir,
    );
    assert_eq!(code, 0, "{w8a8}");
    insta::assert_snapshot!(format!("{fp32}{w4a16}{w8a8}"));
}

#[test]
fn eval_with_a_plan_file() {
    let dir = scratch("plan");
    let layers = [
        "stem",
        "res1.conv1",
        "res1.conv2",
        "down",
        "res2.conv1",
        "res2.conv2",
        "ds.depthwise",
        "ds.pointwise",
        "head",
    ];
    let entries: Vec<String> = layers
        .iter()
        .map(|name| format!(r#"{{"name": "{name}", "weight_format": "int8-sym-pc", "activation_format": "fp16", "predicted_error": 0.1}}"#))
        .collect();
    let body = format!(
        r#"{{"schema": "bitplan.plan/1", "model": "fashion-cnn", "layers": [{}]}}"#,
        entries.join(",")
    );
    let plan = write_plan(&dir, "plan.json", &body);
    let (code, text) = bitplan(
        &[
            "eval",
            "fashion-cnn",
            "--plan",
            &plan,
            "--limit",
            "500",
            "--json",
        ],
        &dir,
    );
    assert_eq!(code, 0, "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn bad_model_files() {
    let dir = scratch("files");
    let corrupt = dir.join("corrupt.pth");
    std::fs::write(&corrupt, b"this is not a zip archive").expect("write");
    let wrong_shape = dir.join("wrong-shape.safetensors");
    let tensors = std::collections::HashMap::from([(
        "features.0.weight".to_string(),
        Tensor::zeros((16, 1, 3, 3), candle_core::DType::F32, &Device::Cpu).expect("tensor"),
    )]);
    candle_core::safetensors::save(&tensors, &wrong_shape).expect("save");
    let fashion_weights =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/fashion-cnn/fashion-cnn.safetensors");
    let (corrupt, wrong_shape) = (
        corrupt.display().to_string(),
        wrong_shape.display().to_string(),
    );
    let fashion_weights = fashion_weights.display().to_string();
    let cases: [&[&str]; 7] = [
        &["eval", "no-such-model"],
        &["eval", "/no/such/file.pth", "--arch", "mnist-cnn"],
        &["eval", &corrupt, "--arch", "mnist-cnn"],
        &["eval", &corrupt],
        &["eval", &corrupt, "--arch", "resnet50"],
        &["inspect", &wrong_shape, "--arch", "mnist-cnn"],
        &["inspect", &fashion_weights, "--arch", "mnist-cnn"],
    ];
    let text: Vec<String> = cases.iter().map(|args| failure(args, &dir)).collect();
    let text = text.join("").replace(env!("CARGO_MANIFEST_DIR"), "[REPO]");
    insta::assert_snapshot!(text);
}

#[test]
fn bad_assignments() {
    let dir = scratch("assignments");
    let unknown_layer = write_plan(
        &dir,
        "unknown-layer.json",
        r#"{"schema": "bitplan.plan/1", "layers": [{"name": "blk.0.attn_q", "weight_format": "int8-sym-pc", "activation_format": "fp32"}]}"#,
    );
    let bad_schema = write_plan(
        &dir,
        "bad-schema.json",
        r#"{"schema": "bitplan.plan/0", "layers": []}"#,
    );
    let bad_format = write_plan(
        &dir,
        "bad-format.json",
        r#"{"schema": "bitplan.plan/1", "layers": [{"name": "stem", "weight_format": "int9-sym-pc", "activation_format": "fp32"}]}"#,
    );
    let partial = write_plan(
        &dir,
        "partial.json",
        r#"{"schema": "bitplan.plan/1", "layers": [{"name": "stem", "weight_format": "int8-sym-pc", "activation_format": "fp32"}]}"#,
    );
    let not_json = write_plan(&dir, "not-json.json", "schema = 1");
    let cases: [&[&str]; 9] = [
        &["eval", "fashion-cnn", "--plan", &unknown_layer],
        &["eval", "fashion-cnn", "--plan", &bad_schema],
        &["eval", "fashion-cnn", "--plan", &bad_format],
        &["eval", "fashion-cnn", "--plan", &partial],
        &["eval", "fashion-cnn", "--plan", &not_json],
        &["eval", "fashion-cnn", "--plan", "/no/such/plan.json"],
        &["eval", "fashion-cnn", "--uniform", "w9a9"],
        &["eval", "fashion-cnn", "--uniform", "int4-sym-g128:fp32"],
        &["eval", "fashion-cnn", "--uniform", "int8-sym-pc:q4_k"],
    ];
    let text: Vec<String> = cases.iter().map(|args| failure(args, &dir)).collect();
    insta::assert_snapshot!(text.join(""));
}
