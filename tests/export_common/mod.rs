//! Helpers of the export tests: plan files and the read-back check through candle's GGUF reader.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use bitplan::export::gguf::FILE_TYPE_KEY;
use bitplan::export::{ggml_dtype, ExportPlan};
use bitplan::quant::{fake_quant_weight, Format};
use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::QTensor;
use candle_core::{Device, Tensor};

pub fn write_plan(path: &Path, layers: &[(&str, &str)]) -> ExportPlan {
    let layers: Vec<serde_json::Value> = layers
        .iter()
        .map(|(name, format)| {
            serde_json::json!({"name": name, "candidate": format, "weight_format": format,
                "activation_format": "fp32", "error": 0.0, "costs": {}})
        })
        .collect();
    let plan = serde_json::json!({"schema": "bitplan.plan/1", "layers": layers});
    std::fs::write(path, serde_json::to_string_pretty(&plan).unwrap()).unwrap();
    ExportPlan::read(path).unwrap()
}

pub struct Read {
    pub content: Content,
    pub file: File,
}

impl Read {
    pub fn open(path: &Path) -> Self {
        let mut file = File::open(path).unwrap();
        let content = Content::read(&mut file).unwrap();
        Self { content, file }
    }

    pub fn tensor(&mut self, name: &str) -> QTensor {
        self.content
            .tensor(&mut self.file, name, &Device::Cpu)
            .unwrap()
    }
}

pub fn bits(tensor: &Tensor) -> Vec<u32> {
    let values: Vec<f32> = tensor.flatten_all().unwrap().to_vec1().unwrap();
    values.iter().map(|v| v.to_bits()).collect()
}

/// Checks `out` against `source` under `planned` (tensor name → format written).
pub fn check_export(source: &Path, out: &Path, planned: &HashMap<&str, Format>) {
    let mut source = Read::open(source);
    let mut exported = Read::open(out);
    for (key, value) in &source.content.metadata {
        let copied = exported
            .content
            .metadata
            .get(key)
            .unwrap_or_else(|| panic!("{key} lost"));
        if key == FILE_TYPE_KEY {
            // Kept, but set to the exported tensors' type (checked in export_gguf_pypi).
            assert!(matches!(copied, Value::U32(_)), "{key}: {copied:?}");
            continue;
        }
        assert_eq!(
            format!("{copied:?}"),
            format!("{value:?}"),
            "metadata {key}"
        );
    }
    let mut names: Vec<String> = exported.content.tensor_infos.keys().cloned().collect();
    names.sort();
    for name in source.content.tensor_infos.keys() {
        assert!(names.contains(name), "{name} missing from the export");
    }
    for name in &names {
        // A tied output head is written as its own tensor, from the token embedding.
        let source_name = match source.content.tensor_infos.contains_key(name) {
            true => name.clone(),
            false => {
                assert_eq!(name, "output.weight", "unexpected tensor {name}");
                "token_embd.weight".to_string()
            }
        };
        let original = source.tensor(&source_name);
        let written = exported.tensor(name);
        assert_eq!(written.shape(), original.shape(), "{name} shape");
        match planned.get(name.as_str()) {
            Some(&format) => {
                assert_eq!(written.dtype(), ggml_dtype(format).unwrap(), "{name} type");
                let reference = original.dequantize(&Device::Cpu).unwrap();
                let expected = fake_quant_weight(format, &reference).unwrap();
                let got = written.dequantize(&Device::Cpu).unwrap();
                assert_eq!(bits(&got), bits(&expected), "{name}: {format} bit for bit");
            }
            None => {
                assert_eq!(written.dtype(), original.dtype(), "{name} kept its type");
                assert_eq!(
                    written.data().unwrap(),
                    original.data().unwrap(),
                    "{name} bytes"
                );
            }
        }
    }
}
