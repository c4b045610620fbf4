//! `export gguf` read back by llama.cpp's own Python reader (the `gguf` package from PyPI, pinned,
//! in a virtual environment beside the fixtures): every tensor has the name, GGML type and shape
//! the export recorded, every source metadata key is present with its value, and the `bitplan.*`
//! keys hold the plan hash, version and fallbacks. Skips with a message when python3, venv or pip
//! (or PyPI) is unavailable; fails loudly when the smollm2 fixture is missing.

mod export_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use bitplan::data::{fixture_path, fixtures_dir};
use bitplan::export::gguf::{
    file_type, FILE_TYPE_KEY, KEY_FALLBACK_TENSORS, KEY_FALLBACK_TYPE, KEY_PLAN_SHA256, KEY_VERSION,
};
use bitplan::export::{export_gguf, GgufExport, GgufOptions};
use bitplan::model::llama::{Llama, SMOLLM2_FIXTURE};
use bitplan::model::RunnableModel;
use bitplan::quant::{Format, GgmlFormat};
use export_common::write_plan;
use serde_json::Value;

/// The reader under test: llama.cpp's gguf-py, pinned.
const GGUF_PACKAGE: &str = "gguf==0.19.0";
/// Formats cycled over the layers: K-quants (which the 576-wide rows cannot take, so those fall
/// back) and 32-block types.
const CYCLE: [&str; 6] = ["q4_k", "q5_1", "q5_0", "q6_k", "q4_0", "q2_k"];

/// The virtual environment's python with the pinned `gguf`, or why there is none.
fn gguf_python() -> Result<PathBuf, String> {
    let venv = fixtures_dir().join("venv-gguf-0.19.0");
    let python = venv.join("bin/python");
    let run = |program: &Path, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .map_err(|e| format!("{}: {e}", program.display()))
            .and_then(|out| match out.status.success() {
                true => Ok(()),
                false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
            })
    };
    if run(&python, &["-c", "import gguf"]).is_ok() {
        return Ok(python);
    }
    let venv_text = venv.to_string_lossy();
    run(Path::new("python3"), &["-m", "venv", &venv_text])
        .map_err(|e| format!("python3 -m venv failed: {e}"))?;
    run(
        &python,
        &[
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            GGUF_PACKAGE,
        ],
    )
    .map_err(|e| format!("pip install {GGUF_PACKAGE} failed: {e}"))?;
    Ok(python)
}

fn read_back(python: &Path, files: &[&Path]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gguf-readback.py");
    let out = Command::new(python)
        .arg(script)
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn export_mixed(dir: &Path) -> (PathBuf, PathBuf, GgufExport) {
    let source = fixture_path(SMOLLM2_FIXTURE).unwrap_or_else(|error| panic!("{error}"));
    let model = Llama::load_gguf(&source).unwrap();
    let layers: Vec<(String, &str)> = model
        .graph()
        .layers
        .iter()
        .enumerate()
        .map(|(i, layer)| (layer.name.clone(), CYCLE[i % CYCLE.len()]))
        .collect();
    let refs: Vec<(&str, &str)> = layers.iter().map(|(l, f)| (l.as_str(), *f)).collect();
    let plan = write_plan(&dir.join("plan.json"), &refs);
    let out = dir.join("smollm2-mixed.gguf");
    let options = GgufOptions {
        fallback: Some(Format::Ggml(GgmlFormat::Q8_0)),
        force: true,
    };
    let export = export_gguf(&source, &plan, &out, options).unwrap();
    (source, out, export)
}

fn check_metadata(source: &Value, exported: &Value, export: &GgufExport) {
    let exported = exported["metadata"].as_object().unwrap();
    for (key, value) in source["metadata"].as_object().unwrap() {
        if key == FILE_TYPE_KEY {
            // Kept, but describing the exported tensors (the source is Q4_1 = 3).
            let types = export.tensors.iter().map(|t| t.written_type.as_str());
            let expected = file_type(types).expect("a llama.cpp file type");
            assert_eq!(exported.get(key), Some(&Value::from(expected)), "{key}");
            assert_ne!(Some(value), exported.get(key), "{key} still the source's");
            continue;
        }
        assert_eq!(exported.get(key), Some(value), "metadata {key}");
    }
    assert_eq!(
        exported[KEY_PLAN_SHA256],
        Value::from(export.plan_sha256.clone())
    );
    assert_eq!(
        exported[KEY_VERSION],
        Value::from(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(exported[KEY_FALLBACK_TYPE], Value::from("q8_0"));
    let fallen: Vec<Value> = export
        .tensors
        .iter()
        .filter(|t| t.fallback)
        .map(|t| Value::from(t.name.clone()))
        .collect();
    assert!(!fallen.is_empty(), "576-wide rows cannot take K-quants");
    assert_eq!(exported[KEY_FALLBACK_TENSORS], Value::Array(fallen));
}

fn check_tensors(source: &Value, exported: &Value, export: &GgufExport) {
    let tensors = exported["tensors"].as_array().unwrap();
    assert_eq!(tensors.len(), export.tensors.len());
    for record in &export.tensors {
        let read = tensors
            .iter()
            .find(|t| t["name"] == record.name.as_str())
            .unwrap_or_else(|| panic!("{} not read back", record.name));
        let read_type = read["type"].as_str().unwrap();
        assert!(
            read_type.eq_ignore_ascii_case(&record.written_type),
            "{}: read {read_type}, written {}",
            record.name,
            record.written_type
        );
        assert_eq!(
            read["shape"],
            serde_json::json!(record.shape),
            "{}",
            record.name
        );
    }
    for tensor in source["tensors"].as_array().unwrap() {
        let name = tensor["name"].as_str().unwrap();
        let record = export.tensors.iter().find(|t| t.name == name).unwrap();
        if record.format.is_none() {
            assert_eq!(tensor["type"], exported_type(tensors, name), "{name} kept");
        }
    }
}

fn exported_type(tensors: &[Value], name: &str) -> Value {
    tensors.iter().find(|t| t["name"] == name).unwrap()["type"].clone()
}

#[test]
fn smollm2_mixed_export_reads_back_in_llama_cpp_gguf_py() {
    let python = match gguf_python() {
        Ok(python) => python,
        Err(why) => {
            eprintln!("SKIPPED: no {GGUF_PACKAGE} to read the export back with: {why}");
            return;
        }
    };
    let dir = std::env::temp_dir().join(format!("bitplan-export-pypi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (source, out, export) = export_mixed(&dir);
    let read = read_back(&python, &[&source, &out]);
    let source = &read[source.to_string_lossy().as_ref()];
    let exported = &read[out.to_string_lossy().as_ref()];
    check_metadata(source, exported, &export);
    check_tensors(source, exported, &export);
    println!(
        "gguf-py read back {} tensors and {} metadata keys",
        exported["tensors"].as_array().unwrap().len(),
        exported["metadata"].as_object().unwrap().len()
    );
    std::fs::remove_dir_all(&dir).ok();
}
