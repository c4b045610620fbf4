//! `minilm` (all-MiniLM-L6-v2): fp32 forward against candle-transformers' BertModel, bad input.
//! Needs the fixtures (`scripts/fetch-fixtures`); fails with that hint when they are missing.

use std::path::PathBuf;

use bitplan::data::fixture_path;
use bitplan::model::bert::{Bert, MINILM_FIXTURE};
use bitplan::model::Fp32;
use candle_core::{DType, Device, Tensor};

/// Largest |ours − candle| allowed, relative to the largest |candle| value.
const MAX_RELATIVE_DIFF_VS_CANDLE: f32 = 1e-5;

fn minilm_dir() -> PathBuf {
    fixture_path(MINILM_FIXTURE).unwrap_or_else(|error| panic!("{error}"))
}

fn max_abs(t: &Tensor) -> f32 {
    t.abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar()
        .unwrap()
}

const SENTENCES: [&str; 3] = [
    "The quick brown fox jumps over the lazy dog.",
    "Limited offer: buy cheap watches now!!!",
    "Call me Ishmael.",
];

#[test]
fn fp32_matches_candle_transformers_bert() {
    let dir = minilm_dir();
    let bert = Bert::load(&dir).unwrap();
    let batch = bert.tokenize(&SENTENCES).unwrap();
    let ours = bert.hidden_states(&mut Fp32, &batch).unwrap();

    let config_text = std::fs::read_to_string(dir.join("config.json")).unwrap();
    let config: candle_transformers::models::bert::Config =
        serde_json::from_str(&config_text).unwrap();
    let weights = [dir.join("model.safetensors")];
    let vb = unsafe {
        candle_nn::VarBuilder::from_mmaped_safetensors(&weights, DType::F32, &Device::Cpu).unwrap()
    };
    let model = candle_transformers::models::bert::BertModel::load(vb, &config).unwrap();
    let theirs = model
        .forward(&batch.ids, &batch.type_ids, Some(&batch.mask))
        .unwrap();

    let relative = max_abs(&(&ours - &theirs).unwrap()) / max_abs(&theirs);
    println!("minilm fp32 hidden states vs candle-transformers: max relative diff {relative:.3e}");
    assert!(
        relative <= MAX_RELATIVE_DIFF_VS_CANDLE,
        "relative diff {relative:e}"
    );

    let pooled_ours = bitplan::model::bert::mean_pool_normalize(&ours, &batch.mask).unwrap();
    let pooled_theirs = bitplan::model::bert::mean_pool_normalize(&theirs, &batch.mask).unwrap();
    let relative = max_abs(&(&pooled_ours - &pooled_theirs).unwrap()) / max_abs(&pooled_theirs);
    println!(
        "minilm fp32 sentence embeddings vs candle-transformers: max relative diff {relative:.3e}"
    );
    assert!(relative <= MAX_RELATIVE_DIFF_VS_CANDLE);
}

#[test]
fn fp32_spam_probe() {
    use bitplan::model::bert::{SpamEvalSettings, SpamTask};
    let bert = Bert::load(&minilm_dir()).unwrap();
    let files = bitplan::data::spam_assassin::list_fixture().unwrap_or_else(|e| panic!("{e}"));
    let start = std::time::Instant::now();
    let task =
        SpamTask::prepare(&bert, &files, SpamEvalSettings::default(), &mut |_, _| {}).unwrap();
    println!("prepare {:?}", start.elapsed());
    let start = std::time::Instant::now();
    let metrics = task.evaluate(&bert, &mut Fp32, &mut |_, _| {}).unwrap();
    println!(
        "evaluate {:?} {metrics:?} train {} spam {}",
        start.elapsed(),
        task.train_accuracy_percent,
        task.test_spam_fraction()
    );
}
