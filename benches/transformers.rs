//! Forward pass of the sequence reference models in fp32, ours (differentiable, through the
//! executor) beside candle-transformers' own forward of the same weights, in the same run:
//! - minilm: a batch of 8 texts × 128 tokens, our encoder vs `bert::BertModel`;
//! - smollm2: 1 window × 128 tokens, last-position logits, ours vs `quantized_llama` running the
//!   dequantized weights in f32 (`CANDLE_DEQUANTIZE_ALL=1`), the same reference we use.
//!
//! Also: preparing an int8 assignment (fake-quantizing every weight, done once per assignment)
//! against one forward, to show where that cost sits. Needs the fixtures
//! (`scripts/fetch-fixtures`). Run: `cargo bench --bench transformers`.

use std::time::Duration;

use bitplan::data::{fixture_path, moby_dick};
use bitplan::model::bert::{Bert, MINILM_FIXTURE};
use bitplan::model::llama::{Llama, Positions, SMOLLM2_FIXTURE};
use bitplan::model::{Assignment, PreparedAssignment, RunnableModel};
use bitplan::quant::Format;
use candle_core::{DType, Device, Tensor};
use criterion::{criterion_group, criterion_main, Criterion};

const MINILM_BATCH: usize = 8;
const TOKENS: usize = 128;

fn fixture(relative: &str) -> std::path::PathBuf {
    fixture_path(relative).unwrap_or_else(|error| panic!("{error}"))
}

fn int8_weights(model: &dyn RunnableModel) -> Assignment {
    Assignment::uniform(model.graph(), "int8-sym-pc".parse().unwrap(), Format::Fp32)
}

fn minilm(c: &mut Criterion) {
    let dir = fixture(MINILM_FIXTURE);
    let bert = Bert::load(&dir).unwrap();
    // Long enough texts that every row is truncated to exactly TOKENS tokens.
    let text = moby_dick::chapter(1).unwrap();
    let texts: Vec<&str> = (0..MINILM_BATCH).map(|i| &text[i * 400..]).collect();
    let batch = bert.tokenize_truncated(&texts, TOKENS).unwrap();
    assert_eq!(batch.ids.dims(), [MINILM_BATCH, TOKENS]);
    let fp32 = PreparedAssignment::fp32(&bert).unwrap();

    let config: candle_transformers::models::bert::Config =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let files = [dir.join("model.safetensors")];
    let vb =
        unsafe { candle_nn::VarBuilder::from_mmaped_safetensors(&files, DType::F32, &Device::Cpu) }
            .unwrap();
    let theirs = candle_transformers::models::bert::BertModel::load(vb, &config).unwrap();

    let mut group = c.benchmark_group("minilm_forward_8x128");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(15));
    group.bench_function("bitplan_fp32", |b| {
        b.iter(|| bert.hidden_states(&fp32, &batch).unwrap())
    });
    group.bench_function("candle_transformers", |b| {
        b.iter(|| {
            theirs
                .forward(&batch.ids, &batch.type_ids, Some(&batch.mask))
                .unwrap()
        })
    });
    group.bench_function("prepare_int8_weights", |b| {
        b.iter(|| PreparedAssignment::new(&bert, &int8_weights(&bert), None).unwrap())
    });
    group.finish();
}

fn smollm2(c: &mut Criterion) {
    // candle's QMatMul reads this once per thread: it then multiplies with dequantized f32 weights.
    std::env::set_var("CANDLE_DEQUANTIZE_ALL", "1");
    let path = fixture(SMOLLM2_FIXTURE);
    let llama = Llama::load(&path).unwrap();
    let ids = llama
        .tokenizer
        .encode(&moby_dick::chapter(1).unwrap())
        .unwrap();
    let ids = Tensor::new(&ids[..TOKENS], &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let fp32 = PreparedAssignment::fp32(&llama).unwrap();

    let mut file = std::fs::File::open(&path).unwrap();
    let content = candle_core::quantized::gguf_file::Content::read(&mut file).unwrap();
    let mut theirs = candle_transformers::models::quantized_llama::ModelWeights::from_gguf(
        content,
        &mut file,
        &Device::Cpu,
    )
    .unwrap();

    let mut group = c.benchmark_group("smollm2_forward_1x128");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(20));
    group.bench_function("bitplan_fp32", |b| {
        b.iter(|| llama.logits(&fp32, &ids, Positions::Last).unwrap())
    });
    group.bench_function("candle_transformers_quantized_llama", |b| {
        b.iter(|| theirs.forward(&ids, 0).unwrap())
    });
    group.bench_function("prepare_int8_weights", |b| {
        b.iter(|| PreparedAssignment::new(&llama, &int8_weights(&llama), None).unwrap())
    });
    group.finish();
}

criterion_group!(benches, minilm, smollm2);
criterion_main!(benches);
