//! `export gguf` on smollm2 (fixtures; fails loudly when they are missing): a mixed plan over
//! every quantizable layer, with K-quants where the 576-wide rows need the q8_0 fallback, read
//! back with candle's GGUF reader (types, shapes, names, metadata, values bit for bit), then run
//! by candle-transformers' `quantized_llama`: its logits equal bitplan's executor under the same
//! plan (with the fallbacks the export used).

mod common;
mod export_common;

use std::collections::HashMap;

use bitplan::data::fixture_path;
use bitplan::export::{export_gguf, GgufOptions};
use bitplan::model::llama::Positions;
use bitplan::model::llama::{GgufFile, Llama, SMOLLM2_FIXTURE};
use bitplan::model::{Assignment, LayerFormats, PreparedAssignment, RunnableModel};
use bitplan::quant::{Format, GgmlFormat};
use candle_core::{Device, IndexOp};
use common::max_abs;
use export_common::{check_export, write_plan};

/// Formats cycled over the layers: K-quants (256-blocks) and 32-block types.
const CYCLE: [&str; 6] = ["q4_k", "q8_0", "q5_0", "q6_k", "q4_0", "q3_k"];
/// Largest |bitplan − candle| over the last position's logits, relative to the largest |candle|
/// logit: both run the same dequantized weights in f32 (as `models_smollm2.rs` measures for fp32).
const MAX_RELATIVE_DIFF_VS_CANDLE: f32 = 1e-4;

#[test]
fn smollm2_mixed_plan_exports_reads_back_bit_for_bit_and_runs_in_candle() {
    // QMatMul reads this once per thread: candle then runs the dequantized f32 weights.
    std::env::set_var("CANDLE_DEQUANTIZE_ALL", "1");
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

    // The exported file in quantized_llama against bitplan's executor under the same formats.
    let mut assignment = Assignment::default();
    for record in &export.tensors {
        if let (Some(layer), Some(weight)) = (&record.layer, record.format) {
            let formats = LayerFormats {
                weight,
                activation: Format::Fp32,
            };
            assignment = assignment.with_layer(layer, formats);
        }
    }
    let prepared = PreparedAssignment::new(&model, &assignment, None).unwrap();
    let text = bitplan::data::moby_dick::chapter(1).unwrap();
    let ids: Vec<u32> = model.tokenizer.encode(&text).unwrap()[..32].to_vec();
    let ids = Llama::ids_tensor(&ids).unwrap();
    let ours = model.logits(&prepared, &ids, Positions::All).unwrap();
    let mut file = std::fs::File::open(&out).unwrap();
    let content = candle_core::quantized::gguf_file::Content::read(&mut file).unwrap();
    let mut theirs = candle_transformers::models::quantized_llama::ModelWeights::from_gguf(
        content,
        &mut file,
        &Device::Cpu,
    )
    .unwrap();
    let theirs_last = theirs.forward(&ids, 0).unwrap();
    let ours_last = ours.i((.., 31, ..)).unwrap();
    let diff = max_abs(&(&ours_last - &theirs_last).unwrap()) / max_abs(&theirs_last);
    println!(
        "smollm2 mixed export in quantized_llama vs bitplan: last-position max rel diff {diff:.3e}"
    );
    assert!(diff <= MAX_RELATIVE_DIFF_VS_CANDLE, "{diff}");
}
