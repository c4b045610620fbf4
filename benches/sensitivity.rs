//! Sensitivity analysis speed: the time of `analyze` (measured error only) on fashion-cnn over
//! `search-spaces/int-weight-only.toml`, beside its baseline measured in the same run: layers ×
//! candidates full fp32 forward passes over the same calibration batches. The ratio of the two
//! is the figure the README reports (below 1 means reuse beats the naive count).

use std::hint::black_box;
use std::path::Path;

use bitplan::model::reference::load_image_classifier;
use bitplan::model::{PreparedAssignment, RunnableModel};
use bitplan::sensitivity::{analyze, Metric, Settings};
use bitplan::space::{resolve, SearchSpace};
use candle_core::Device;
use criterion::{criterion_group, criterion_main, Criterion};

/// Calibration images (4 batches of 32).
const CALIB_IMAGES: usize = 128;

fn bench(c: &mut Criterion) {
    let classifier = load_image_classifier("fashion-cnn", None).expect("fashion-cnn");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("search-spaces/int-weight-only.toml");
    let space = SearchSpace::load(&path).expect("space");
    let resolved = resolve(&space, classifier.model.graph()).expect("resolve");
    let batches: Vec<_> = classifier
        .calibration
        .batch_ranges(32, Some(CALIB_IMAGES))
        .into_iter()
        .map(|(s, e)| {
            classifier
                .calibration
                .batch(s, e, &Device::Cpu)
                .expect("batch")
                .pixels
        })
        .collect();
    let cells: usize = resolved.layers.iter().map(|l| l.candidates.len()).sum();
    let settings = Settings {
        metric: Metric::Kl,
        proxies: vec![],
        hutchinson_probes: 0,
        seed: 0,
        shard: None,
    };
    let fp32 = PreparedAssignment::fp32(&classifier.model).expect("fp32");
    let mut group = c.benchmark_group("sensitivity-fashion-cnn-int-weight-only");
    group.sample_size(10);
    group.bench_function("baseline: layers x candidates fp32 forwards", |b| {
        b.iter(|| {
            for _ in 0..cells {
                for batch in &batches {
                    black_box(classifier.model.forward(batch, &fp32).expect("forward"));
                }
            }
        })
    });
    group.bench_function("analyze", |b| {
        b.iter(|| {
            black_box(
                analyze(
                    &classifier.model,
                    &resolved,
                    &batches,
                    &settings,
                    None,
                    &|_, _| {},
                )
                .expect("analyze"),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
