//! `export gguf`: a synthetic GGUF written here is exported under a plan and read back with
//! candle's GGUF reader (an independent reader of the file format): every tensor has the planned
//! type, shape and name, every source metadata key is present with its value, planned tensors
//! dequantize to bitplan's own fake-quant of the source bit for bit, other tensors keep their
//! source bytes. Then the bad inputs. smollm2 (fixtures) is in `export_smollm2.rs`.

mod common;
mod export_common;

use export_common::{check_export, write_plan, Read};

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use bitplan::export::gguf::{KEY_FALLBACK_TENSORS, KEY_FALLBACK_TYPE, KEY_PLAN_SHA256};
use bitplan::export::{export_gguf, ExportError, GgufOptions};
use bitplan::quant::Format;
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};

/// (name, shape [rows, row length], source type).
const TENSORS: [(&str, [usize; 2], GgmlDType); 5] = [
    ("token_embd.weight", [16, 256], GgmlDType::F32),
    ("blk.0.attn_q.weight", [32, 256], GgmlDType::Q8_0),
    ("blk.0.attn_norm.weight", [1, 256], GgmlDType::F32),
    ("blk.0.ffn_down.weight", [8, 96], GgmlDType::F16),
    ("output.weight", [16, 256], GgmlDType::Q4_1),
];

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bitplan-export-gguf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

fn source_metadata(architecture: &str) -> Vec<(String, Value)> {
    vec![
        (
            "general.architecture".into(),
            Value::String(architecture.into()),
        ),
        ("general.name".into(), Value::String("synthetic".into())),
        ("llama.block_count".into(), Value::U32(1)),
        (
            "llama.attention.layer_norm_rms_epsilon".into(),
            Value::F32(1e-5),
        ),
        (
            "tokenizer.ggml.tokens".into(),
            Value::Array(vec![Value::String("a".into()), Value::String("b".into())]),
        ),
    ]
}

/// Writes a GGUF with [`TENSORS`] (seeded heavy-tailed values) and the given metadata.
fn write_source(path: &Path, metadata: &[(String, Value)]) {
    let tensors: Vec<(&str, QTensor)> = TENSORS
        .iter()
        .enumerate()
        .map(|(seed, (name, shape, dtype))| {
            let count = shape[0] * shape[1];
            let values = common::heavy_tailed(seed as u64, count);
            let dims: Vec<usize> = if shape[0] == 1 {
                vec![shape[1]]
            } else {
                shape.to_vec()
            };
            let tensor = Tensor::from_vec(values, dims, &Device::Cpu).unwrap();
            (*name, QTensor::quantize(&tensor, *dtype).unwrap())
        })
        .collect();
    let metadata: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    let mut file = File::create(path).unwrap();
    gguf_file::write(&mut file, &metadata, &tensors).unwrap();
}

#[test]
fn mixed_plan_round_trips_through_candles_reader_bit_for_bit() {
    let source = scratch("mixed-source.gguf");
    write_source(&source, &source_metadata("llama"));
    let layers = [
        ("token_embd", "q8_0"),
        ("blk.0.attn_q", "q4_k"),
        ("blk.0.ffn_down", "q5_0"),
        ("output", "fp16"),
    ];
    let plan = write_plan(&scratch("mixed-plan.json"), &layers);
    let out = scratch("mixed-out.gguf");
    let export = export_gguf(&source, &plan, &out, GgufOptions::default()).unwrap();
    let planned: HashMap<&str, Format> = layers
        .iter()
        .map(|(layer, format)| {
            let name = TENSORS.iter().find(|t| t.0.starts_with(layer)).unwrap().0;
            (name, format.parse().unwrap())
        })
        .collect();
    check_export(&source, &out, &planned);
    let read = Read::open(&out);
    let sha = read.content.metadata[KEY_PLAN_SHA256]
        .to_string()
        .unwrap()
        .clone();
    let expected_sha = bitplan::export::plan::hex_sha256(&std::fs::read(&plan.path).unwrap());
    assert_eq!(sha, expected_sha);
    assert_eq!(export.plan_sha256, expected_sha);
    assert!(!read.content.metadata.contains_key(KEY_FALLBACK_TYPE));
    let bytes = std::fs::metadata(&out).unwrap().len();
    assert_eq!(export.file_bytes, bytes);
}

#[test]
fn same_inputs_give_byte_identical_files() {
    let source = scratch("repro-source.gguf");
    write_source(&source, &source_metadata("llama"));
    let plan = write_plan(&scratch("repro-plan.json"), &[("blk.0.attn_q", "q3_k")]);
    let (a, b) = (scratch("repro-a.gguf"), scratch("repro-b.gguf"));
    export_gguf(&source, &plan, &a, GgufOptions::default()).unwrap();
    export_gguf(&source, &plan, &b, GgufOptions::default()).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn shape_the_type_cannot_take_is_an_error_naming_the_tensor_unless_fallback() {
    let source = scratch("fallback-source.gguf");
    write_source(&source, &source_metadata("llama"));
    // ffn_down rows are 96 long: no K-quant (256) fits, q8_0 (32) does.
    let plan = write_plan(
        &scratch("fallback-plan.json"),
        &[("blk.0.ffn_down", "q4_k")],
    );
    let out = scratch("fallback-out.gguf");
    let error = export_gguf(&source, &plan, &out, GgufOptions::default()).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, ExportError::ShapeMismatch { .. }),
        "{message}"
    );
    assert!(
        message.contains("blk.0.ffn_down.weight") && message.contains("--fallback"),
        "{message}"
    );
    assert!(!out.exists(), "nothing written on error");

    let options = GgufOptions {
        fallback: Some(Format::Ggml(bitplan::quant::GgmlFormat::Q8_0)),
        force: false,
    };
    let export = export_gguf(&source, &plan, &out, options).unwrap();
    assert!(export
        .tensors
        .iter()
        .any(|t| t.fallback && t.name == "blk.0.ffn_down.weight"));
    let planned = HashMap::from([("blk.0.ffn_down.weight", "q8_0".parse().unwrap())]);
    check_export(&source, &out, &planned);
    let read = Read::open(&out);
    assert_eq!(
        read.content.metadata[KEY_FALLBACK_TYPE]
            .to_string()
            .unwrap(),
        "q8_0"
    );
    let tensors = read.content.metadata[KEY_FALLBACK_TENSORS]
        .to_vec()
        .unwrap();
    assert_eq!(tensors[0].to_string().unwrap(), "blk.0.ffn_down.weight");
}

#[test]
fn bad_inputs_are_clear_errors() {
    let source = scratch("bad-source.gguf");
    write_source(&source, &source_metadata("llama"));
    let out = scratch("bad-out.gguf");
    let options = GgufOptions::default();

    let plan = write_plan(&scratch("bad-plan-layer.json"), &[("blk.7.attn_q", "q8_0")]);
    let message = export_gguf(&source, &plan, &out, options)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("blk.7.attn_q") && message.contains("blk.0.attn_q.weight"),
        "{message}"
    );

    let plan = write_plan(
        &scratch("bad-plan-int.json"),
        &[("blk.0.attn_q", "int4-sym-g128")],
    );
    let message = export_gguf(&source, &plan, &out, options)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("int4-sym-g128") && message.contains("q4_k"),
        "{message}"
    );
    assert!(!out.exists());

    let plan = write_plan(&scratch("bad-plan-ok.json"), &[("blk.0.attn_q", "q8_0")]);
    std::fs::write(&out, b"keep me").unwrap();
    let message = export_gguf(&source, &plan, &out, options)
        .unwrap_err()
        .to_string();
    assert!(message.contains("--force"), "{message}");
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    let forced = GgufOptions {
        fallback: None,
        force: true,
    };
    export_gguf(&source, &plan, &out, forced).unwrap();
    Read::open(&out);

    let other = scratch("bad-source-arch.gguf");
    write_source(&other, &source_metadata("mamba"));
    let message = export_gguf(&other, &plan, &scratch("bad-arch-out.gguf"), options)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("mamba") && message.contains("llama"),
        "{message}"
    );

    let leftovers: Vec<_> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        // Other tests share the directory; only this test's outputs start with `.bad-`.
        .filter(|name| name.starts_with(".bad-") && name.contains("bitplan-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}
