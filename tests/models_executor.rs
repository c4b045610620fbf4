//! Per-layer assignment plumbing on tiny random models of both CNN architectures: fp32 is the
//! original model bit for bit, quantizing one layer changes exactly the outputs downstream of it,
//! the same assignment twice gives identical outputs, and bad assignments are refused.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use bitplan::model::arch::CnnArch;
use bitplan::model::cnn::CnnModel;
use bitplan::model::{
    fashion_cnn, mnist_cnn, Assignment, Calibration, Graph, LayerContext, LayerFormats,
    PreparedAssignment, RunnableModel,
};
use bitplan::quant::{fake_quant_weight, Format, RangeMethod};
use candle_core::Tensor;
use common::{max_abs_diff, random_model, random_pixels};

const ARCHS: [&CnnArch; 2] = [&fashion_cnn::ARCH, &mnist_cnn::ARCH];

fn format(name: &str) -> Format {
    name.parse().expect("format name")
}

/// Every layer's output under `prepared`.
fn layer_outputs(
    model: &CnnModel,
    input: &Tensor,
    prepared: &PreparedAssignment,
) -> BTreeMap<String, Tensor> {
    let mut outputs = BTreeMap::new();
    let mut ctx = LayerContext::new(prepared).recording(&mut outputs);
    model.run(input, &mut ctx).expect("forward");
    outputs
}

/// `layer` and every layer its output reaches, following `outputs_to`.
fn downstream(graph: &Graph, layer: &str) -> BTreeSet<String> {
    let mut reached = BTreeSet::from([layer.to_string()]);
    let mut frontier = vec![layer.to_string()];
    while let Some(name) = frontier.pop() {
        for next in &graph.layer(&name).expect("layer").outputs_to {
            if reached.insert(next.clone()) {
                frontier.push(next.clone());
            }
        }
    }
    reached
}

fn calibration(model: &CnnModel, seed: u64) -> Calibration {
    let batches = vec![random_pixels(model.arch, 8, seed)];
    Calibration::run(model, &batches, RangeMethod::MinMax).expect("calibration")
}

#[test]
fn fp32_assignment_reproduces_the_original_model_exactly() {
    for arch in ARCHS {
        let model = random_model(arch, 1);
        let input = random_pixels(arch, 4, 2);
        let prepared = PreparedAssignment::fp32(&model).expect("prepare");
        let ours = model.forward(&input, &prepared).expect("forward");
        let original = model.forward_fp32(&input).expect("original");
        assert_eq!(max_abs_diff(&ours, &original), 0.0, "{}", arch.name);
    }
}

/// Quantizing one layer's weight (int4 per channel) or input (int8 per tensor) changes that
/// layer's output and everything downstream of it, and nothing else, bit for bit.
#[test]
fn quantizing_one_layer_changes_only_outputs_downstream_of_it() {
    let probes = [
        LayerFormats {
            weight: format("int4-sym-pc"),
            activation: Format::Fp32,
        },
        LayerFormats {
            weight: Format::Fp32,
            activation: format("int8-asym-pt"),
        },
    ];
    for arch in ARCHS {
        let model = random_model(arch, 3);
        let input = random_pixels(arch, 4, 4);
        let calibration = calibration(&model, 5);
        let fp32 = PreparedAssignment::fp32(&model).expect("prepare fp32");
        let reference = layer_outputs(&model, &input, &fp32);
        for layer in &model.graph.layers {
            let affected = downstream(&model.graph, &layer.name);
            for formats in probes {
                let assignment = Assignment::fp32(&model.graph).with_layer(&layer.name, formats);
                let prepared = PreparedAssignment::new(&model, &assignment, Some(&calibration))
                    .expect("prepare");
                let outputs = layer_outputs(&model, &input, &prepared);
                for (name, output) in &outputs {
                    let diff = max_abs_diff(output, &reference[name]);
                    let what = format!(
                        "{}: {formats:?} on {} -> output of {name}",
                        arch.name, layer.name
                    );
                    if affected.contains(name) {
                        assert!(diff > 0.0, "{what} should change");
                    } else {
                        assert_eq!(diff, 0.0, "{what} should not change");
                    }
                }
            }
        }
    }
}

#[test]
fn the_same_assignment_twice_gives_identical_outputs() {
    for arch in ARCHS {
        let model = random_model(arch, 6);
        let input = random_pixels(arch, 4, 7);
        let calibration = calibration(&model, 8);
        let assignment =
            Assignment::uniform(&model.graph, format("int4-sym-pc"), format("int8-asym-pt"));
        let first =
            PreparedAssignment::new(&model, &assignment, Some(&calibration)).expect("prepare");
        let second =
            PreparedAssignment::new(&model, &assignment, Some(&calibration)).expect("prepare");
        let a = model.forward(&input, &first).expect("forward");
        let b = model.forward(&input, &second).expect("forward");
        let c = model.forward(&input, &first).expect("forward");
        assert_eq!(max_abs_diff(&a, &b), 0.0, "{}", arch.name);
        assert_eq!(max_abs_diff(&a, &c), 0.0, "{}", arch.name);
    }
}

/// The prepared weights are the weight fake-quantized once, with the quant module's reference.
#[test]
fn prepared_weights_are_fake_quantized_once_at_prepare_time() {
    let model = random_model(&mnist_cnn::ARCH, 9);
    let weight_format = format("int4-sym-pc");
    let assignment = Assignment::uniform(&model.graph, weight_format, Format::Fp16);
    let prepared = PreparedAssignment::new(&model, &assignment, None).expect("prepare");
    for layer in &model.graph.layers {
        let expected = fake_quant_weight(weight_format, model.weight(&layer.name).expect("weight"))
            .expect("fake quant");
        let got = prepared.layers[&layer.name]
            .weight
            .as_ref()
            .expect("prepared weight");
        assert_eq!(max_abs_diff(got, &expected), 0.0, "{}", layer.name);
    }
}

#[test]
fn block_formats_quantize_conv_inputs_along_channels() {
    // fashion-cnn's res2 / ds layers have 32 input channels: MXFP8 blocks of 32 fit there only
    // because conv inputs are quantized channels-last; width 7 would not.
    let model = random_model(&fashion_cnn::ARCH, 10);
    let assignment = Assignment::fp32(&model.graph).with_layer(
        "res2.conv1",
        LayerFormats {
            weight: Format::Fp32,
            activation: Format::Mxfp8,
        },
    );
    let prepared = PreparedAssignment::new(&model, &assignment, None).expect("32 channels fit");
    let input = random_pixels(model.arch, 2, 11);
    model.forward(&input, &prepared).expect("forward");
    let bad = Assignment::fp32(&model.graph).with_layer(
        "res1.conv1",
        LayerFormats {
            weight: Format::Fp32,
            activation: Format::Mxfp8,
        },
    );
    let error = PreparedAssignment::new(&model, &bad, None).expect_err("16 channels do not");
    let message = error.to_string();
    assert!(
        message.contains("res1.conv1") && message.contains("mxfp8"),
        "{message}"
    );
}

#[test]
fn bad_assignments_name_the_layer_and_the_format() {
    let model = random_model(&fashion_cnn::ARCH, 12);
    let graph = &model.graph;
    let cases = [
        (
            Assignment::fp32(graph).with_layer(
                "blk.99",
                LayerFormats {
                    weight: Format::Fp32,
                    activation: Format::Fp32,
                },
            ),
            vec!["blk.99", "fashion-cnn"],
        ),
        (
            Assignment::fp32(graph).with_layer(
                "stem",
                LayerFormats {
                    weight: format("int4-sym-g128"),
                    activation: Format::Fp32,
                },
            ),
            vec!["stem", "int4-sym-g128", "[16, 1, 3, 3]"],
        ),
        (
            Assignment::fp32(graph).with_layer(
                "head",
                LayerFormats {
                    weight: Format::Fp32,
                    activation: format("q4_k"),
                },
            ),
            vec!["head", "q4_k", "activation"],
        ),
        (
            {
                let mut assignment = Assignment::fp32(graph);
                assignment.layers.remove("stem");
                assignment
            },
            vec!["stem", "no formats"],
        ),
    ];
    for (assignment, needles) in cases {
        let error = PreparedAssignment::new(&model, &assignment, None).expect_err("invalid");
        let message = error.to_string();
        for needle in needles {
            assert!(message.contains(needle), "`{needle}` not in: {message}");
        }
    }
}

#[test]
fn static_activation_formats_need_calibration() {
    let model = random_model(&mnist_cnn::ARCH, 13);
    let assignment = Assignment::uniform(&model.graph, Format::Fp32, format("int8-asym-pt"));
    let error = PreparedAssignment::new(&model, &assignment, None).expect_err("no calibration");
    assert!(error.to_string().contains("calibrat"), "{error}");
}
