//! `smollm2` (SmolLM2-135M-Instruct, GGUF Q4_1 dequantized): tokenizer from GGUF metadata, fp32
//! forward against candle-transformers' quantized_llama on the same file, perplexity on
//! Moby-Dick, bad input. Needs the fixtures (`scripts/fetch-fixtures`).

use std::path::PathBuf;

use bitplan::data::fixture_path;
use bitplan::model::llama::{Llama, LmEvalSettings, LmTask, Positions, SMOLLM2_FIXTURE};
use bitplan::model::Fp32;
use candle_core::{Device, IndexOp, Tensor};

/// Largest |ours − candle| over all logits, relative to the largest |candle| logit. Both run the
/// same dequantized weights in f32; the difference is summation order in norms and softmax.
const MAX_RELATIVE_DIFF_VS_CANDLE: f32 = 1e-4;

fn smollm2_path() -> PathBuf {
    fixture_path(SMOLLM2_FIXTURE).unwrap_or_else(|error| panic!("{error}"))
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

#[test]
fn tokenizer_from_gguf_round_trips() {
    let model = Llama::load(&smollm2_path()).unwrap();
    let texts = [
        "Call me Ishmael. Some years ago—never mind how long precisely—",
        "In 1851, 3 whales & 20 sailors: \"Thar she blows!\"\n\n  Indented line.",
        "<|im_start|>user\nHello<|im_end|>",
    ];
    for text in texts {
        let ids = model.tokenizer.encode(text).unwrap();
        assert_eq!(model.tokenizer.decode(&ids).unwrap(), text);
    }
    let the = model.tokenizer.encode(" the").unwrap();
    assert_eq!(the.len(), 1, "' the' is one BPE token");
    let digits = model.tokenizer.encode("1851").unwrap();
    assert_eq!(
        digits.len(),
        4,
        "digits are split one by one (smollm pre-tokenizer)"
    );
    let chat = model.tokenizer.encode("<|im_start|>").unwrap();
    assert_eq!(chat, vec![1], "control tokens match whole");
}

#[test]
fn fp32_matches_candle_quantized_llama_on_dequantized_weights() {
    // QMatMul reads this once per thread: candle then runs the dequantized f32 weights.
    std::env::set_var("CANDLE_DEQUANTIZE_ALL", "1");
    let path = smollm2_path();
    let model = Llama::load(&path).unwrap();
    let text = bitplan::data::moby_dick::chapter(1).unwrap();
    let ids: Vec<u32> = model.tokenizer.encode(&text).unwrap()[..48].to_vec();
    let ids = Llama::ids_tensor(&ids).unwrap();
    let ours = model.logits(&mut Fp32, &ids, Positions::All).unwrap();

    let mut file = std::fs::File::open(&path).unwrap();
    let content = candle_core::quantized::gguf_file::Content::read(&mut file).unwrap();
    let mut theirs_model = candle_transformers::models::quantized_llama::ModelWeights::from_gguf(
        content,
        &mut file,
        &Device::Cpu,
    )
    .unwrap();
    // Whole-sequence forward: candle returns the last position's logits.
    let theirs_last = theirs_model.forward(&ids, 0).unwrap();
    let ours_last = ours.i((.., 47, ..)).unwrap();
    let scale = max_abs(&theirs_last);
    let last_diff = max_abs(&(&ours_last - &theirs_last).unwrap()) / scale;
    // Token by token with candle's KV cache: logits at every position.
    theirs_model.clear_kv_cache();
    let mut worst = 0f32;
    for position in 0..48 {
        let step = theirs_model
            .forward(&ids.i((.., position..position + 1)).unwrap(), position)
            .unwrap();
        let diff =
            max_abs(&(&ours.i((.., position, ..)).unwrap() - &step).unwrap()) / max_abs(&step);
        worst = worst.max(diff);
    }
    println!("smollm2 fp32 vs candle quantized_llama (dequantized): last-position max rel diff {last_diff:.3e}, all 48 positions (KV cache) {worst:.3e}, logit scale {scale:.2}");
    assert!(last_diff <= MAX_RELATIVE_DIFF_VS_CANDLE);
    assert!(worst <= MAX_RELATIVE_DIFF_VS_CANDLE);
}

#[test]
fn fp32_perplexity() {
    let model = Llama::load(&smollm2_path()).unwrap();
    let start = std::time::Instant::now();
    let task = LmTask::prepare(&model, LmEvalSettings::default()).unwrap();
    println!("prepare {:?}", start.elapsed());
    let start = std::time::Instant::now();
    let metrics = task.evaluate(&model, None, &mut |_, _| {}).unwrap();
    println!("fp32 {:?} {metrics:?}", start.elapsed());
    let start = std::time::Instant::now();
    let metrics = task
        .evaluate(&model, Some(&mut Fp32), &mut |_, _| {})
        .unwrap();
    println!("fp32 as run {:?} {metrics:?}", start.elapsed());
}
