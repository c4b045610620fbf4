//! `export gguf` on smollm2 (fixtures; fails loudly when they are missing): a mixed plan over
//! every quantizable layer, with K-quants where the 576-wide rows need the q8_0 fallback, read
//! back with candle's GGUF reader (types, shapes, names, metadata, values bit for bit).

mod export_common;

use std::collections::HashMap;

use bitplan::data::fixture_path;
use bitplan::export::{export_gguf, GgufOptions};
use bitplan::model::llama::{GgufFile, Llama, SMOLLM2_FIXTURE};
use bitplan::model::RunnableModel;
use bitplan::quant::{Format, GgmlFormat};
use export_common::{check_export, write_plan};

/// Formats cycled over the layers: K-quants (256-blocks) and 32-block types.
const CYCLE: [&str; 6] = ["q4_k", "q8_0", "q5_0", "q6_k", "q4_0", "q3_k"];

#[test]
fn smollm2_mixed_plan_exports_and_reads_back_bit_for_bit() {
    let source = fixture_path(SMOLLM2_FIXTURE).unwrap_or_else(|error| panic!("{error}"));
    let config = GgufFile::open(&source).unwrap().config().unwrap();
    let model = Llama::load_gguf(&source).unwrap();
    let layers: Vec<(String, String)> = model
        .graph()
        .layers
        .iter()
        .enumerate()
        .map(|(i, layer)| (layer.name.clone(), CYCLE[i % CYCLE.len()].to_string()))
        .collect();
    let refs: Vec<(&str, &str)> = layers
        .iter()
        .map(|(l, f)| (l.as_str(), f.as_str()))
        .collect();
    let dir = std::env::temp_dir().join(format!("bitplan-export-smollm2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plan = write_plan(&dir.join("plan.json"), &refs);
    let out = dir.join("smollm2-mixed.gguf");
    let fallback = Format::Ggml(GgmlFormat::Q8_0);
    let options = GgufOptions {
        fallback: Some(fallback),
        force: true,
    };
    let export = export_gguf(&source, &plan, &out, options).unwrap();
    let mut planned: HashMap<&str, Format> = HashMap::new();
    for record in &export.tensors {
        if let Some(format) = record.format {
            planned.insert(record.name.as_str(), format);
        }
    }
    assert_eq!(planned.len(), layers.len(), "every layer has its tensor");
    let fallbacks = export.tensors.iter().filter(|t| t.fallback).count();
    assert!(fallbacks > 0, "576-wide rows cannot take K-quants");
    assert!(
        config.tied_output,
        "smollm2 ties its head: written as output.weight"
    );
    check_export(&source, &out, &planned);
    println!(
        "smollm2 mixed export: {} tensors, {fallbacks} fell back to q8_0, {:.1} MiB",
        export.tensors.len(),
        export.file_bytes as f64 / (1 << 20) as f64
    );
}
