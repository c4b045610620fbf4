//! Perplexity equality (issue 8's proof): smollm2 exported under a mixed plan (K-quants on
//! `ffn_down`, 32-block types on the 576-wide matrices, no fallback) and run by
//! candle-transformers' `quantized_llama` gives the perplexity that `bitplan validate` measures for
//! the same plan ([`LmEvaluator`], the same as `bitplan eval smollm2 --plan`), and the KL to fp32
//! and top-1 agreement of bitplan's LM evaluation, on the same evaluation windows.
//!
//! quantized_llama returns only the last position's logits, so it is stepped one token at a time
//! through its KV cache; bitplan runs each window in one pass. Both run the dequantized weights in
//! f32 (`CANDLE_DEQUANTIZE_ALL`), so what differs is the order of floating-point operations.

mod export_common;

use std::path::Path;

use bitplan::data::fixture_path;
use bitplan::export::{export_gguf, GgufOptions};
use bitplan::model::llama::SMOLLM2_FIXTURE;
use bitplan::model::llama::{Llama, LmEvalSettings, LmMetrics, LmTask, Positions};
use bitplan::model::{Assignment, LayerFormats, PreparedAssignment, RunnableModel};
use bitplan::quant::Format;
use bitplan::validate::{LmEvaluator, PlanTask, LM_METRIC};
use candle_core::quantized::gguf_file::Content;
use candle_core::{DType, Device, IndexOp, Tensor, D};
use candle_transformers::models::quantized_llama::ModelWeights;
use export_common::write_plan;

/// Largest relative perplexity difference the issue allows.
const MAX_RELATIVE_PERPLEXITY_DIFF: f64 = 1e-3;
/// Largest relative difference of the mean KL to fp32 (measured: about 3e-5).
const MAX_RELATIVE_KL_DIFF: f64 = 1e-3;
/// Positions whose top-1 token may flip between the two runs (near-ties in the logits).
const MAX_TOP1_FLIPS: usize = 2;
/// Formats cycled over the 576-wide matrices (32-element blocks) and over `ffn_down` (rows of
/// 1536, which take 256-element K-quants).
const SHORT_ROWS: [&str; 5] = ["q4_0", "q5_0", "q8_0", "q4_1", "q5_1"];
const LONG_ROWS: [&str; 5] = ["q4_k", "q3_k", "q6_k", "q2_k", "q5_k"];

/// A short evaluation slice (same on both sides) to keep the test near a minute.
fn settings() -> LmEvalSettings {
    LmEvalSettings {
        window: 64,
        eval_windows: 4,
        ..LmEvalSettings::default()
    }
}

fn mixed_plan(model: &Llama) -> Vec<(String, String)> {
    model
        .graph()
        .layers
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            let cycle = match layer.name.ends_with("ffn_down") {
                true => LONG_ROWS,
                false => SHORT_ROWS,
            };
            (layer.name.clone(), cycle[i % cycle.len()].to_string())
        })
        .collect()
}

fn assignment_of(layers: &[(String, String)]) -> Assignment {
    let mut assignment = Assignment::default();
    for (layer, format) in layers {
        let formats = LayerFormats {
            weight: format.parse::<Format>().unwrap(),
            activation: Format::Fp32,
        };
        assignment = assignment.with_layer(layer, formats);
    }
    assignment
}

/// Running sums over predicted positions, as `LmTask::evaluate` keeps them.
#[derive(Default)]
struct Sums {
    nll: f64,
    kl: f64,
    agreeing: usize,
    count: usize,
}

/// One step: `run` and `reference` logits `[b, vocab]` of the position predicting `targets` `[b]`.
fn add_step(sums: &mut Sums, run: &Tensor, reference: &Tensor, targets: &Tensor) {
    let log_probs = candle_nn::ops::log_softmax(run, D::Minus1).unwrap();
    let reference = candle_nn::ops::log_softmax(reference, D::Minus1).unwrap();
    let picked = log_probs
        .gather(&targets.unsqueeze(1).unwrap().contiguous().unwrap(), 1)
        .unwrap();
    sums.nll -= f64::from(picked.sum_all().unwrap().to_scalar::<f32>().unwrap());
    let kl = (reference.exp().unwrap() * (&reference - &log_probs).unwrap()).unwrap();
    sums.kl += f64::from(kl.sum_all().unwrap().to_scalar::<f32>().unwrap());
    let same = reference
        .argmax(D::Minus1)
        .unwrap()
        .eq(&log_probs.argmax(D::Minus1).unwrap())
        .unwrap();
    let same = same.to_dtype(DType::U32).unwrap().sum_all().unwrap();
    sums.agreeing += same.to_scalar::<u32>().unwrap() as usize;
    sums.count += targets.elem_count();
}

/// The exported file in quantized_llama over the task's evaluation windows, against bitplan's
/// fp32 reference logits.
fn candle_metrics(out: &Path, model: &Llama, task: &LmTask) -> (LmMetrics, usize) {
    let mut file = std::fs::File::open(out).unwrap();
    let content = Content::read(&mut file).unwrap();
    let mut theirs = ModelWeights::from_gguf(content, &mut file, &Device::Cpu).unwrap();
    let fp32 = PreparedAssignment::fp32(model).unwrap();
    let mut sums = Sums::default();
    for ids in task.eval_batches().unwrap() {
        let (_, seq) = ids.dims2().unwrap();
        let reference = model.logits(&fp32, &ids, Positions::All).unwrap();
        for position in 0..seq - 1 {
            let step = ids.i((.., position..position + 1)).unwrap();
            let run = theirs.forward(&step, position).unwrap();
            let reference = reference.i((.., position, ..)).unwrap();
            let targets = ids.i((.., position + 1)).unwrap();
            add_step(&mut sums, &run, &reference, &targets);
        }
    }
    let count = sums.count as f64;
    let metrics = LmMetrics {
        perplexity: (sums.nll / count).exp(),
        reference_perplexity: f64::NAN,
        mean_kl_to_reference: sums.kl / count,
        top1_agreement: sums.agreeing as f64 / count,
        predicted_tokens: sums.count,
        windows: task.eval.len(),
    };
    (metrics, sums.agreeing)
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

#[test]
fn smollm2_mixed_export_in_quantized_llama_has_the_perplexity_bitplan_reports() {
    // QMatMul reads this once per thread: candle then runs the dequantized f32 weights.
    std::env::set_var("CANDLE_DEQUANTIZE_ALL", "1");
    let source = fixture_path(SMOLLM2_FIXTURE).unwrap_or_else(|error| panic!("{error}"));
    let evaluator =
        LmEvaluator::with_settings(Llama::load_gguf(&source).unwrap(), settings()).unwrap();
    let model = &evaluator.llama;
    let layers = mixed_plan(model);
    let refs: Vec<(&str, &str)> = layers
        .iter()
        .map(|(l, f)| (l.as_str(), f.as_str()))
        .collect();
    let dir = std::env::temp_dir().join(format!("bitplan-export-ppl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plan = write_plan(&dir.join("plan.json"), &refs);
    let out = dir.join("smollm2-mixed.gguf");
    let options = GgufOptions {
        fallback: None,
        force: true,
    };
    let export = export_gguf(&source, &plan, &out, options).unwrap();
    assert!(export.tensors.iter().all(|t| !t.fallback), "no fallback");

    let task = LmTask::prepare(model, settings()).unwrap();
    let assignment = assignment_of(&layers);
    let prepared = PreparedAssignment::new(model, &assignment, None).unwrap();
    let ours = task
        .evaluate(model, Some(&prepared), &mut |_, _| {})
        .unwrap();
    // What `bitplan validate smollm2` writes into the plan.
    assert_eq!(evaluator.metric(), LM_METRIC);
    let validated = evaluator.measure(&assignment, None, false).unwrap();
    assert_eq!(validated.value, ours.perplexity);
    assert_eq!(validated.samples, ours.predicted_tokens);
    let (theirs, theirs_agreeing) = candle_metrics(&out, model, &task);
    let ours_agreeing = (ours.top1_agreement * ours.predicted_tokens as f64).round() as usize;
    println!(
        "smollm2 mixed export ({:.1} MiB), {} windows of {} tokens ({} predicted):\n  \
         bitplan: perplexity {:.5}, KL {:.6}, top-1 {:.4} (fp32 perplexity {:.5})\n  \
         quantized_llama: perplexity {:.5}, KL {:.6}, top-1 {:.4}\n  \
         relative perplexity difference {:.3e}",
        export.file_bytes as f64 / (1 << 20) as f64,
        ours.windows,
        settings().window,
        ours.predicted_tokens,
        ours.perplexity,
        ours.mean_kl_to_reference,
        ours.top1_agreement,
        ours.reference_perplexity,
        theirs.perplexity,
        theirs.mean_kl_to_reference,
        theirs.top1_agreement,
        relative(theirs.perplexity, ours.perplexity)
    );
    assert_eq!(theirs.predicted_tokens, ours.predicted_tokens);
    assert!(
        ours.perplexity > ours.reference_perplexity,
        "the mixed plan costs perplexity"
    );
    assert!(relative(theirs.perplexity, validated.value) <= MAX_RELATIVE_PERPLEXITY_DIFF);
    let kl_diff = relative(theirs.mean_kl_to_reference, ours.mean_kl_to_reference);
    assert!(
        kl_diff <= MAX_RELATIVE_KL_DIFF,
        "KL differs by {kl_diff:.3e}"
    );
    assert!(theirs_agreeing.abs_diff(ours_agreeing) <= MAX_TOP1_FLIPS);
    std::fs::remove_dir_all(&dir).ok();
}
