//! `export safetensors` and `export llama-quantize` on a small safetensors model written here:
//! planned tensors are bitplan's fake-quant of the source bit for bit (f32), others unchanged,
//! `plan.json` is the plan byte for byte, `quantization.json` describes each layer; the
//! llama-quantize options give every planned tensor an anchored override.

mod common;
mod export_common;

use std::collections::HashMap;
use std::path::PathBuf;

use bitplan::export::safetensors::{export_safetensors, StoreDtype};
use bitplan::export::LlamaQuantizeArgs;
use bitplan::quant::fake_quant_weight;
use candle_core::{Device, Tensor};
use export_common::{bits, write_plan};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bitplan-export-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn write_model(path: &std::path::Path) -> HashMap<String, Tensor> {
    let tensor = |seed, shape: &[usize]| {
        let count = shape.iter().product();
        Tensor::from_vec(common::heavy_tailed(seed, count), shape, &Device::Cpu).unwrap()
    };
    let tensors = HashMap::from([
        ("fc1.weight".to_string(), tensor(1, &[8, 128])),
        ("fc1.bias".to_string(), tensor(2, &[8])),
        ("fc2.weight".to_string(), tensor(3, &[4, 64])),
    ]);
    candle_core::safetensors::save(&tensors, path).unwrap();
    tensors
}

#[test]
fn safetensors_holds_fake_quantized_weights_plan_and_description() {
    let model = scratch("model.safetensors");
    let source = write_model(&model);
    let plan = write_plan(
        &scratch("plan.json"),
        &[("fc1", "int4-sym-g32"), ("fc2", "q8_0")],
    );
    let out = scratch("fq");
    let _ = std::fs::remove_dir_all(&out);
    let file = export_safetensors(&model, &plan, &out, StoreDtype::F32, false).unwrap();
    let written =
        candle_core::safetensors::load(out.join("model.safetensors"), &Device::Cpu).unwrap();
    assert_eq!(written.len(), source.len());
    for (layer, format) in [("fc1", "int4-sym-g32"), ("fc2", "q8_0")] {
        let name = format!("{layer}.weight");
        let expected = fake_quant_weight(format.parse().unwrap(), &source[&name]).unwrap();
        assert_eq!(bits(&written[&name]), bits(&expected), "{name}");
    }
    assert_eq!(bits(&written["fc1.bias"]), bits(&source["fc1.bias"]));
    assert_eq!(
        std::fs::read(out.join("plan.json")).unwrap(),
        std::fs::read(&plan.path).unwrap()
    );
    let description: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("quantization.json")).unwrap())
            .unwrap();
    assert_eq!(description["layers"]["fc1"]["scales"], "per-block");
    assert_eq!(description["layers"]["fc1"]["group_size"], 32);
    assert_eq!(description["layers"]["fc2"]["weight_format"], "q8_0");
    assert_eq!(file.plan_sha256, plan.sha256);

    let message = export_safetensors(&model, &plan, &out, StoreDtype::F16, false)
        .unwrap_err()
        .to_string();
    assert!(message.contains("--force"), "{message}");
    export_safetensors(&model, &plan, &out, StoreDtype::F16, true).unwrap();
    let half = candle_core::safetensors::load(out.join("model.safetensors"), &Device::Cpu).unwrap();
    assert_eq!(half["fc1.weight"].dtype(), candle_core::DType::F16);

    let bad = write_plan(&scratch("bad.json"), &[("fc9", "q8_0")]);
    let message = export_safetensors(&model, &bad, &scratch("bad"), StoreDtype::F32, false)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("fc9") && message.contains("fc1.weight"),
        "{message}"
    );
}

#[test]
fn llama_quantize_options_cover_every_planned_tensor() {
    let plan = write_plan(
        &scratch("lq.json"),
        &[
            ("token_embd", "q8_0"),
            ("blk.0.attn_q", "q4_k"),
            ("blk.1.attn_q", "q4_k"),
            ("blk.0.ffn_down", "q6_k"),
            ("output", "fp16"),
        ],
    );
    let options = LlamaQuantizeArgs::from_plan(&plan).unwrap();
    assert_eq!(options.token_embedding_type.as_deref(), Some("q8_0"));
    assert_eq!(options.output_tensor_type.as_deref(), Some("f16"));
    assert_eq!(options.base_type, "Q4_K_S");
    assert_eq!(
        options.tensor_types,
        vec![
            (
                r"^blk\.(0|1)\.attn_q\.weight$".to_string(),
                "q4_k".to_string()
            ),
            (
                r"^blk\.(0)\.ffn_down\.weight$".to_string(),
                "q6_k".to_string()
            ),
        ]
    );
    let line = options.command_line("in.gguf".as_ref(), "out.gguf".as_ref());
    assert!(
        line.contains(r"--tensor-type '^blk\.(0|1)\.attn_q\.weight$=q4_k'"),
        "{line}"
    );
    assert!(
        line.ends_with("in.gguf \\\n  out.gguf \\\n  Q4_K_S"),
        "{line}"
    );

    let bad = write_plan(&scratch("lq-bad.json"), &[("blk.0.attn_q", "mxfp4")]);
    let message = LlamaQuantizeArgs::from_plan(&bad).unwrap_err().to_string();
    assert!(
        message.contains("mxfp4") && message.contains("blk.0.attn_q"),
        "{message}"
    );
}

#[test]
fn cli_prints_overrides_and_fails_clearly_on_bad_input() {
    let plan = write_plan(&scratch("cli.json"), &[("blk.0.attn_v", "q6_k")]);
    let bitplan = env!("CARGO_BIN_EXE_bitplan");
    let run = |args: &[&str]| {
        std::process::Command::new(bitplan)
            .args(args)
            .output()
            .unwrap()
    };
    let plan_arg = plan.path.to_str().unwrap();
    let ok = run(&["export", "llama-quantize", "--plan", plan_arg]);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success());
    assert!(
        stdout.contains(r"--tensor-type '^blk\.(0)\.attn_v\.weight$=q6_k'"),
        "{stdout}"
    );

    let missing = scratch("no-such.gguf");
    let out = scratch("cli-out.gguf");
    let failed = run(&[
        "export",
        "gguf",
        missing.to_str().unwrap(),
        "--plan",
        plan_arg,
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no-such.gguf"), "{stderr}");
    assert!(!out.exists());
}
