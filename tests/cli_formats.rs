//! The `formats` and `fake-quant` commands, run as the real binary: output, files written,
//! warnings, and the error messages users see (snapshots, with the temporary directory filtered).

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bitplan::quant::{fake_quant_weight, Format};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

fn bitplan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bitplan"))
        .args(args)
        .output()
        .expect("run bitplan")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// stderr with the test's temporary directory replaced by `[TMP]`.
fn stderr(output: &Output, dir: &Path) -> String {
    String::from_utf8_lossy(&output.stderr).replace(&dir.display().to_string(), "[TMP]")
}

/// A fresh directory for one test.
fn temp_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli_formats-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A small checkpoint: a weight, a bias whose length no group of 128 divides, a bf16 embedding,
/// and an integer buffer.
fn write_checkpoint(path: &Path, weight: &[f32]) {
    let bias = f32_bytes(&common::gaussian(2, 64));
    let weight = f32_bytes(weight);
    let embed: Vec<u8> = common::gaussian(3, 8 * 128)
        .iter()
        .flat_map(|v| half::bf16::from_f32(*v).to_le_bytes())
        .collect();
    let ids: Vec<u8> = [3i64, 1, 4, 1]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let tensors = vec![
        (
            "layer.weight",
            TensorView::new(Dtype::F32, vec![64, 256], &weight).expect("view"),
        ),
        (
            "layer.bias",
            TensorView::new(Dtype::F32, vec![64], &bias).expect("view"),
        ),
        (
            "embed",
            TensorView::new(Dtype::BF16, vec![8, 128], &embed).expect("view"),
        ),
        (
            "ids",
            TensorView::new(Dtype::I64, vec![4], &ids).expect("view"),
        ),
    ];
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize_to_file(tensors, Some(metadata), path).expect("write checkpoint");
}

#[test]
fn formats_prints_the_table() {
    let output = bitplan(&["formats"]);
    assert!(output.status.success());
    insta::assert_snapshot!(stdout(&output));
}

#[test]
fn formats_json_has_every_row_with_its_bits() {
    let output = bitplan(&["formats", "--json", "--shape", "768,3072"]);
    assert!(output.status.success());
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(rows.len(), Format::all().len());
    let g128 = rows
        .iter()
        .find(|row| row["name"] == "int4-sym-g128")
        .expect("int4-sym-g128");
    assert_eq!(g128["bits_per_element"], 4.125);
    let pc = rows
        .iter()
        .find(|row| row["name"] == "int8-sym-pc")
        .expect("int8-sym-pc");
    assert_eq!(pc["bits_per_element"], 8.0 + 16.0 / 3072.0);
}

#[test]
fn fake_quant_writes_quantized_tensors_and_copies_the_rest() {
    let dir = temp_dir("happy");
    let (input, output_path) = (dir.join("in.safetensors"), dir.join("out.safetensors"));
    let weight = common::gaussian(1, 64 * 256);
    write_checkpoint(&input, &weight);
    let args = ["fake-quant", "--format", "int4-sym-g128", "--json"];
    let output = bitplan(
        &[
            &args[..],
            &[
                input.to_str().expect("path"),
                output_path.to_str().expect("path"),
            ],
        ]
        .concat(),
    );
    assert!(output.status.success(), "{}", stderr(&output, &dir));
    insta::assert_snapshot!(stderr(&output, &dir), @r"
    warning: tensor `ids` copied unchanged: dtype I64 is not floating point
    warning: tensor `layer.bias` copied unchanged: int4-sym-g128 cannot take shape [64]: row length 64 (a 1-D tensor is one row) is not a multiple of the block size 128
    ");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json report");
    let tensors = report["tensors"].as_array().expect("tensors");
    let names: Vec<&str> = tensors
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["embed", "ids", "layer.bias", "layer.weight"]);
    let sqnr = tensors[3]["sqnr_db"].as_f64().expect("sqnr");
    assert!(
        (17.0..23.0).contains(&sqnr),
        "int4 g128 on a Gaussian: about 20 dB, got {sqnr}"
    );

    let bytes = std::fs::read(&output_path).expect("output written");
    let file = SafeTensors::deserialize(&bytes).expect("valid safetensors");
    let written = file.tensor("layer.weight").expect("weight");
    assert_eq!(written.dtype(), Dtype::F32);
    let expected = fake_quant_weight(
        Format::Int(int4_g128()),
        &common::tensor(&weight, &[64, 256]),
    )
    .expect("fq");
    assert_eq!(
        written.data(),
        f32_bytes(&common::values(&expected)).as_slice()
    );
    assert_eq!(
        file.tensor("embed").expect("embed").dtype(),
        Dtype::F32,
        "quantized bf16 is written as f32"
    );
    assert_eq!(
        file.tensor("ids").expect("ids").dtype(),
        Dtype::I64,
        "copied unchanged"
    );
    let (_, metadata) = SafeTensors::read_metadata(&bytes).expect("metadata");
    assert_eq!(
        metadata
            .metadata()
            .as_ref()
            .and_then(|m| m.get("format"))
            .map(String::as_str),
        Some("pt")
    );
}

fn int4_g128() -> bitplan::quant::IntFormat {
    match "int4-sym-g128".parse::<Format>().expect("format") {
        Format::Int(int) => int,
        other => panic!("{other} is not an integer format"),
    }
}

#[test]
fn fake_quant_strict_refuses_tensors_it_would_copy() {
    let dir = temp_dir("strict");
    let input = dir.join("in.safetensors");
    write_checkpoint(&input, &common::gaussian(1, 64 * 256));
    let output_path = dir.join("out.safetensors");
    let output = bitplan(&[
        "fake-quant",
        "--strict",
        "--format",
        "int4-sym-g128",
        input.to_str().expect("path"),
        output_path.to_str().expect("path"),
    ]);
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!(stderr(&output, &dir), @"error: tensor `ids` of [TMP]/in.safetensors: dtype I64 is not floating point (without --strict it would be copied unchanged)");
    assert!(!output_path.exists(), "nothing is written on failure");
}

#[test]
fn fake_quant_names_the_tensor_holding_nan() {
    let dir = temp_dir("nan");
    let input = dir.join("in.safetensors");
    let mut weight = common::gaussian(1, 64 * 256);
    weight[300] = f32::NAN;
    write_checkpoint(&input, &weight);
    let output = bitplan(&[
        "fake-quant",
        "--format",
        "fp8-e4m3",
        input.to_str().expect("path"),
        "out.safetensors",
    ]);
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!(stderr(&output, &dir), @r"
    warning: tensor `ids` copied unchanged: dtype I64 is not floating point
    error: tensor `layer.weight` of [TMP]/in.safetensors: non-finite value NaN at flat index 300 (tensor of shape [64, 256]); quantization needs finite values
    ");
}

#[test]
fn fake_quant_rejects_unknown_formats_and_missing_files() {
    let dir = temp_dir("errors");
    let output = bitplan(&[
        "fake-quant",
        "--format",
        "q4_km",
        "in.safetensors",
        "out.safetensors",
    ]);
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!(stderr(&output, &dir), @"error: unknown format `q4_km` (did you mean `q4_k`?); valid formats: fp32, fp16, bf16, fp8-e4m3, fp8-e5m2, mxfp8, mxfp4, nvfp4, int{8,6,5,4,3,2}-{sym,asym}-{pt,pc,g32,g64,g128}, q8_0, q6_k, q5_k, q5_1, q5_0, q4_k, q4_1, q4_0, q3_k, q2_k");
    let missing = dir.join("missing.safetensors");
    let output = bitplan(&[
        "fake-quant",
        "--format",
        "q4_k",
        missing.to_str().expect("path"),
        "out.safetensors",
    ]);
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!(stderr(&output, &dir), @"error: reading [TMP]/missing.safetensors: No such file or directory (os error 2)");
}

#[test]
fn help_explains_with_an_example() {
    for command in ["formats", "fake-quant"] {
        let output = bitplan(&[command, "--help"]);
        assert!(output.status.success());
        let text = stdout(&output);
        assert!(text.contains("Example"), "{command}: {text}");
    }
}
