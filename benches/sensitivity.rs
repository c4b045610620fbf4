//! Sensitivity analysis speed: the time of `analyze` (measured error only), beside its baseline
//! measured in the same run: cells (layers × candidates) full fp32 forward passes over the same
//! calibration batches. The ratio of the two is the figure the README reports (the goal
//! is <= 0.6 for minilm and smollm2: each cell runs only from its layer's stage on).
//!
//! Both run as `bitplan analyze` runs cells: side by side, one per core, candle single-threaded
//! ([`bitplan::sensitivity::threads`]); the baseline's forwards are spread over the cores the same
//! way.
//!
//! - fashion-cnn and mnist-cnn: `int-weight-only.toml`, 128 images (one stage: no prefix reuse).
//! - minilm: `int-weight-only.toml` restricted to w8 and w2 on all 39 layers (78 cells), 32
//!   messages of <= 64 tokens (the analysis's own token limit; a quarter of its messages).
//! - smollm2: all six candidates of every 24th of the 212 layers, from the 12th (54 cells on 9
//!   layers spread evenly over the depth: a layer's candidates run side by side in one batch, as
//!   in the full table), one window of 128 tokens (the analysis's own window length). Beside it,
//!   the KL distance of one batch's logits (49k vocabulary) to the reference: the measure
//!   step's share of a cell.

use std::hint::black_box;
use std::path::Path;
use std::sync::OnceLock;

use bitplan::data::{moby_dick, spam_assassin};
use bitplan::model::bert::spam_eval::analysis_batches;
use bitplan::model::bert::SpamEvalSettings;
use bitplan::model::reference::load_image_classifier;
use bitplan::model::sequence::SequenceModel;
use bitplan::model::{PreparedAssignment, RunnableModel};
use bitplan::sensitivity::measure::Reference;
use bitplan::sensitivity::{analyze, threads, Metric, Settings};
use bitplan::space::{resolve, ResolvedSpace, SearchSpace};
use candle_core::{Device, Tensor};
use criterion::{criterion_group, criterion_main, Criterion};
use rayon::prelude::*;

/// Calibration images of fashion-cnn (4 batches of 32).
const CALIB_IMAGES: usize = 128;
/// Calibration sentences of minilm, and their token limit.
const CALIB_SENTENCES: usize = 32;
const SENTENCE_TOKENS: usize = 64;
/// Tokens of the smollm2 calibration window.
const LM_TOKENS: usize = 128;
/// Every how many layers smollm2's bench analyzes one, and the first.
const LM_LAYER_STRIDE: usize = 24;
const LM_FIRST_LAYER: usize = 12;

/// The pool cells run in, set up once per process before candle runs anything.
fn pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let cells = threads::prepare_cells_side_by_side();
        threads::cell_pool(cells).expect("thread pool")
    })
}

fn space(model: &dyn RunnableModel) -> ResolvedSpace {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("search-spaces/int-weight-only.toml");
    let space = SearchSpace::load(&path).expect("space");
    resolve(&space, model.graph()).expect("resolve")
}

fn settings(metric: Metric) -> Settings {
    Settings {
        metric,
        proxies: vec![],
        hutchinson_probes: 0,
        seed: 0,
        shard: None,
    }
}

/// The baseline and the analysis of `space` on `batches`, in one group.
fn compare(
    c: &mut Criterion,
    name: &str,
    model: &dyn RunnableModel,
    space: &ResolvedSpace,
    batches: &[Tensor],
    metric: Metric,
) {
    let cells: usize = space.layers.iter().map(|l| l.candidates.len()).sum();
    let fp32 = PreparedAssignment::fp32(model).expect("fp32");
    let settings = settings(metric);
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    group.bench_function("baseline: cells x fp32 forwards", |b| {
        b.iter(|| {
            pool().install(|| {
                (0..cells).into_par_iter().for_each(|_| {
                    for batch in batches {
                        black_box(model.forward(batch, &fp32).expect("forward"));
                    }
                })
            })
        })
    });
    group.bench_function("analyze", |b| {
        b.iter(|| {
            let table =
                pool().install(|| analyze(model, space, batches, &settings, None, &|_, _| {}));
            black_box(table.expect("analyze"))
        })
    });
    group.finish();
}

fn fashion_cnn(c: &mut Criterion) {
    cnn(c, "fashion-cnn");
}

fn mnist_cnn(c: &mut Criterion) {
    cnn(c, "mnist-cnn");
}

fn cnn(c: &mut Criterion, model: &str) {
    pool();
    let classifier = load_image_classifier(model, None).expect(model);
    let resolved = space(&classifier.model);
    let batches: Vec<_> = classifier
        .calibration
        .batch_ranges(32, Some(CALIB_IMAGES))
        .into_iter()
        .map(|(s, e)| {
            let batch = classifier.calibration.batch(s, e, &Device::Cpu);
            batch.expect("batch").pixels
        })
        .collect();
    let name = format!("sensitivity-{model}-int-weight-only");
    compare(c, &name, &classifier.model, &resolved, &batches, Metric::Kl);
}

fn minilm(c: &mut Criterion) {
    pool();
    let bert = match SequenceModel::load("minilm").expect("minilm") {
        SequenceModel::Encoder(bert) => bert,
        SequenceModel::Decoder(_) => panic!("minilm is an encoder"),
    };
    let files = spam_assassin::list_fixture().expect("SpamAssassin fixture");
    let settings = SpamEvalSettings::default();
    let batches = analysis_batches(&bert, &files, &settings, CALIB_SENTENCES, SENTENCE_TOKENS)
        .expect("batches");
    let mut resolved = space(&bert);
    for layer in &mut resolved.layers {
        layer
            .candidates
            .retain(|c| c.name == "w8" || c.name == "w2");
    }
    let name = "sensitivity-minilm-w8-w2";
    compare(c, name, &bert, &resolved, &batches, Metric::Cosine);
}

fn smollm2(c: &mut Criterion) {
    pool();
    let llama = match SequenceModel::load("smollm2").expect("smollm2") {
        SequenceModel::Decoder(llama) => llama,
        SequenceModel::Encoder(_) => panic!("smollm2 is a decoder"),
    };
    let text = moby_dick::chapter(1).expect("Moby-Dick fixture");
    let ids = llama.tokenizer.encode(&text).expect("tokens")[..LM_TOKENS].to_vec();
    let batches = vec![bitplan::model::llama::Llama::ids_tensor(&ids).expect("ids")];
    let mut resolved = space(&llama);
    let kept = resolved.layers.iter().enumerate();
    let kept = kept.filter(|(i, _)| i % LM_LAYER_STRIDE == LM_FIRST_LAYER);
    resolved.layers = kept.map(|(_, layer)| layer.clone()).collect();
    compare(
        c,
        "sensitivity-smollm2-every-24th-layer",
        &llama,
        &resolved,
        &batches,
        Metric::Kl,
    );
    let fp32 = PreparedAssignment::fp32(&llama).expect("fp32");
    let logits = llama.forward(&batches[0], &fp32).expect("forward");
    let reference = Reference::new(Metric::Kl, &logits).expect("reference");
    let shifted = (&logits * 1.01).expect("logits");
    let mut group = c.benchmark_group("sensitivity-smollm2-measure-step");
    group.sample_size(10);
    group.bench_function("one fp32 forward", |b| {
        b.iter(|| black_box(llama.forward(&batches[0], &fp32).expect("forward")))
    });
    group.bench_function("KL of one batch's logits", |b| {
        b.iter(|| black_box(reference.distance(&shifted).expect("distance")))
    });
    group.finish();
}

criterion_group!(benches, fashion_cnn, mnist_cnn, minilm, smollm2);
criterion_main!(benches);
