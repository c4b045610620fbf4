//! Forward pass of each reference CNN at a fixed batch: our executor with the all-fp32
//! assignment beside a plain candle_nn implementation of the same network (same folded weights),
//! measured in the same run. And the cost of preparing an assignment (fake-quantizing every weight,
//! resolving activation ranges: once per assignment) beside one forward under it (every batch).
//!
//! `cargo bench --bench models` (mnist-cnn needs scripts/fetch-fixtures).

use std::collections::BTreeMap;

use bitplan::model::calibrate::DEFAULT_RANGE_METHOD;
use bitplan::model::cnn::CnnModel;
use bitplan::model::params::LayerParams;
use bitplan::model::reference::{load_image_classifier, ImageClassifier};
use bitplan::model::{Assignment, Calibration, PreparedAssignment, RunnableModel};
use bitplan::space::Shorthand;
use candle_core::{Device, Module, Tensor};
use candle_nn::{Conv2d, Conv2dConfig, Linear};
use criterion::{criterion_group, criterion_main, Criterion};

/// Images per forward pass.
const BATCH: usize = 64;

fn conv(
    params: &BTreeMap<String, LayerParams>,
    name: &str,
    padding: usize,
    stride: usize,
    groups: usize,
) -> Conv2d {
    let layer = &params[name];
    let config = Conv2dConfig {
        padding,
        stride,
        groups,
        ..Default::default()
    };
    Conv2d::new(layer.weight.clone(), layer.bias.clone(), config)
}

fn linear(params: &BTreeMap<String, LayerParams>, name: &str) -> Linear {
    Linear::new(params[name].weight.clone(), params[name].bias.clone())
}

/// fashion-cnn written directly with candle_nn modules.
struct PlainFashion {
    convs: BTreeMap<&'static str, Conv2d>,
    head: Linear,
}

impl PlainFashion {
    fn new(model: &CnnModel) -> Self {
        let p = &model.params;
        let convs = BTreeMap::from([
            ("stem", conv(p, "stem", 1, 2, 1)),
            ("res1.conv1", conv(p, "res1.conv1", 1, 1, 1)),
            ("res1.conv2", conv(p, "res1.conv2", 1, 1, 1)),
            ("down", conv(p, "down", 1, 2, 1)),
            ("res2.conv1", conv(p, "res2.conv1", 1, 1, 1)),
            ("res2.conv2", conv(p, "res2.conv2", 1, 1, 1)),
            ("ds.depthwise", conv(p, "ds.depthwise", 1, 1, 32)),
            ("ds.pointwise", conv(p, "ds.pointwise", 0, 1, 1)),
        ]);
        Self {
            convs,
            head: linear(p, "head"),
        }
    }

    fn forward(&self, pixels: &Tensor) -> candle_core::Result<Tensor> {
        let c = |name: &str, x: &Tensor| self.convs[name].forward(x);
        let x = ((pixels - 0.2860)? / 0.3530)?;
        let x = c("stem", &x)?.relu()?;
        let h = c("res1.conv2", &c("res1.conv1", &x)?.relu()?)?;
        let x = (x + h)?.relu()?;
        let x = c("down", &x)?.relu()?;
        let h = c("res2.conv2", &c("res2.conv1", &x)?.relu()?)?;
        let x = (x + h)?.relu()?;
        let x = c("ds.pointwise", &c("ds.depthwise", &x)?.relu()?)?.relu()?;
        self.head.forward(&x.mean((2, 3))?)
    }
}

/// mnist-cnn written directly with candle_nn modules.
struct PlainMnist {
    conv1: Conv2d,
    conv2: Conv2d,
    fc1: Linear,
    fc2: Linear,
}

impl PlainMnist {
    fn new(model: &CnnModel) -> Self {
        let p = &model.params;
        Self {
            conv1: conv(p, "features.0", 1, 1, 1),
            conv2: conv(p, "features.3", 1, 1, 1),
            fc1: linear(p, "classifier.0"),
            fc2: linear(p, "classifier.2"),
        }
    }

    fn forward(&self, pixels: &Tensor) -> candle_core::Result<Tensor> {
        let x = ((pixels - 0.1307)? / 0.3081)?;
        let x = self.conv1.forward(&x)?.relu()?.max_pool2d(2)?;
        let x = self.conv2.forward(&x)?.relu()?.max_pool2d(2)?;
        let x = self.fc1.forward(&x.flatten_from(1)?)?.relu()?;
        self.fc2.forward(&x)
    }
}

fn load(name: &str) -> ImageClassifier {
    load_image_classifier(name, None).unwrap_or_else(|error| panic!("{error}"))
}

fn batch(classifier: &ImageClassifier) -> Tensor {
    classifier
        .eval
        .batch(0, BATCH, &Device::Cpu)
        .expect("batch")
        .pixels
}

fn bench_fp32(c: &mut Criterion) {
    let fashion = load("fashion-cnn");
    let mnist = load("mnist-cnn");
    let plain_fashion = PlainFashion::new(&fashion.model);
    let plain_mnist = PlainMnist::new(&mnist.model);
    type Plain<'a> = Box<dyn Fn(&Tensor) -> candle_core::Result<Tensor> + 'a>;
    let cases: [(&ImageClassifier, Plain); 2] = [
        (&fashion, Box::new(|x| plain_fashion.forward(x))),
        (&mnist, Box::new(|x| plain_mnist.forward(x))),
    ];
    for (classifier, plain) in cases {
        let name = classifier.model.graph().model.clone();
        let pixels = batch(classifier);
        let prepared = PreparedAssignment::fp32(&classifier.model).expect("prepare");
        // Same network, same result (up to the depthwise conv's summation order).
        let ours = classifier
            .model
            .forward(&pixels, &prepared)
            .expect("forward");
        let theirs = plain(&pixels).expect("plain forward");
        let diff = (ours - theirs)
            .and_then(|d| d.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>())
            .expect("diff");
        assert!(diff < 1e-4, "{name}: outputs differ by {diff}");
        let mut group = c.benchmark_group(format!("{name}/forward-fp32-batch{BATCH}"));
        group.sample_size(20);
        group.bench_function("candle_nn plain", |b| {
            b.iter(|| plain(&pixels).expect("forward"))
        });
        group.bench_function("bitplan executor", |b| {
            b.iter(|| {
                classifier
                    .model
                    .forward(&pixels, &prepared)
                    .expect("forward")
            })
        });
        group.finish();
    }
}

fn bench_prepare(c: &mut Criterion) {
    for name in ["fashion-cnn", "mnist-cnn"] {
        let classifier = load(name);
        let model = &classifier.model;
        let pixels = batch(&classifier);
        let batches = classifier
            .calibration_batches()
            .expect("calibration batches");
        let calibration =
            Calibration::run(model, &batches, DEFAULT_RANGE_METHOD).expect("calibrate");
        let shorthand = Shorthand::parse("w8a8").expect("w8a8");
        let (assignment, _) = Assignment::from_shorthand(model.graph(), &shorthand);
        let prepared =
            PreparedAssignment::new(model, &assignment, Some(&calibration)).expect("prepare");
        let fp32 = PreparedAssignment::fp32(model).expect("prepare");
        let mut group = c.benchmark_group(format!("{name}/w8a8-batch{BATCH}"));
        group.sample_size(20);
        group.bench_function("prepare (once per assignment)", |b| {
            b.iter(|| {
                PreparedAssignment::new(model, &assignment, Some(&calibration)).expect("prepare")
            })
        });
        group.bench_function("forward w8a8 (per batch)", |b| {
            b.iter(|| model.forward(&pixels, &prepared).expect("forward"))
        });
        group.bench_function("forward fp32 (per batch)", |b| {
            b.iter(|| model.forward(&pixels, &fp32).expect("forward"))
        });
        group.finish();
    }
}

criterion_group!(benches, bench_fp32, bench_prepare);
criterion_main!(benches);
