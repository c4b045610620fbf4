//! The reference CNNs on their real evaluation sets: fp32 metrics, int8 per-channel weights
//! (nearly lossless) and int2 weights (visibly broken). mnist-cnn needs the fixtures
//! (scripts/fetch-fixtures); fashion-cnn is embedded.

mod common;

use bitplan::model::eval::{top1_accuracy, Accuracy};
use bitplan::model::reference::{load_image_classifier, ImageClassifier};
use bitplan::model::{Assignment, PreparedAssignment, RunnableModel};
use bitplan::quant::Format;
use common::{max_abs_diff, need};

/// mnist-cnn's published fp32 top-1 on the 10k MNIST test set (issue 3): 9905 / 10000.
const MNIST_FP32_CORRECT: usize = 9905;
/// fashion-cnn's target fp32 top-1 on the 10k Fashion-MNIST test set.
const FASHION_MIN_PERCENT: f64 = 90.0;
/// Largest change int8 per-channel weights may make to a metric, in points.
const INT8_MAX_DROP_POINTS: f64 = 0.5;
/// int2 weights must cost at least this many points: the executor really quantizes.
const INT2_MIN_DROP_POINTS: f64 = 10.0;

fn accuracy(classifier: &ImageClassifier, weight: Format) -> Accuracy {
    let graph = &classifier.model.graph;
    let assignment = Assignment::uniform(graph, weight, Format::Fp32);
    let prepared = PreparedAssignment::new(&classifier.model, &assignment, None).expect("prepare");
    let mut forward = |pixels: &candle_core::Tensor| classifier.model.forward(pixels, &prepared);
    top1_accuracy(&mut forward, &classifier.eval, None, &mut |_, _| {}).expect("evaluate")
}

fn check_quantized(classifier: &ImageClassifier, fp32: Accuracy) {
    let int8 = accuracy(classifier, "int8-sym-pc".parse().expect("format"));
    let int2 = accuracy(classifier, "int2-sym-pc".parse().expect("format"));
    let name = &classifier.model.graph.model;
    let (fp32, int8, int2) = (fp32.percent(), int8.percent(), int2.percent());
    println!("{name}: fp32 {fp32:.2}%, int8-sym-pc {int8:.2}%, int2-sym-pc {int2:.2}%");
    assert!(
        (int8 - fp32).abs() < INT8_MAX_DROP_POINTS,
        "{name}: int8 {int8} vs fp32 {fp32}"
    );
    assert!(
        fp32 - int2 > INT2_MIN_DROP_POINTS,
        "{name}: int2 {int2} vs fp32 {fp32}"
    );
}

#[test]
fn mnist_cnn_fp32_is_exactly_99_05_and_int8_keeps_it_int2_breaks_it() {
    let classifier = need(load_image_classifier("mnist-cnn", None));
    assert_eq!(classifier.eval.len(), 10_000);
    let fp32 = accuracy(&classifier, Format::Fp32);
    assert_eq!(
        fp32,
        Accuracy {
            correct: MNIST_FP32_CORRECT,
            total: 10_000
        }
    );
    check_quantized(&classifier, fp32);
}

#[test]
fn fashion_cnn_fp32_is_at_least_90_and_int8_keeps_it_int2_breaks_it() {
    let classifier = load_image_classifier("fashion-cnn", None).expect("embedded model");
    assert_eq!(classifier.eval.len(), 10_000);
    let fp32 = accuracy(&classifier, Format::Fp32);
    assert!(fp32.percent() >= FASHION_MIN_PERCENT, "{fp32:?}");
    check_quantized(&classifier, fp32);
}

/// The executor's fp32 run equals the original model (folded parameters, no executor) bit for
/// bit on real images.
#[test]
fn fp32_executor_equals_the_original_fashion_cnn() {
    let classifier = load_image_classifier("fashion-cnn", None).expect("embedded model");
    let batch = classifier
        .eval
        .batch(0, 64, &candle_core::Device::Cpu)
        .expect("batch");
    let prepared = PreparedAssignment::fp32(&classifier.model).expect("prepare");
    let ours = classifier
        .model
        .forward(&batch.pixels, &prepared)
        .expect("forward");
    let original = classifier
        .model
        .forward_fp32(&batch.pixels)
        .expect("original");
    assert_eq!(max_abs_diff(&ours, &original), 0.0);
}
