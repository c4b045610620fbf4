//! Running an image classifier under a plan: top-1 accuracy on the evaluation split and the
//! executor's wall-clock latency on this CPU.
//!
//! Latency is the median over [`LATENCY_REPEATS`] timed forward passes of [`LATENCY_BATCH`]
//! evaluation images, divided by the batch size. The executor fake-quantizes (weights are
//! rounded to the format and run in f32), so this measures the host's simulated execution, not a
//! chip's native kernels: it is compared with predictions by rank, never by value.

use std::time::Instant;

use candle_core::{Device, Tensor};

use super::error::ValidateError;
use crate::model::calibrate::DEFAULT_RANGE_METHOD;
use crate::model::eval::{top1_accuracy, Accuracy};
use crate::model::reference::{load_image_classifier, ImageClassifier};
use crate::model::{Assignment, Calibration, LayerFormats, PreparedAssignment, RunnableModel};
use crate::quant::Format;
use crate::search::Plan;

/// The task metric validation measures.
pub const TASK_METRIC: &str = "top1_accuracy_percent";
/// Images per timed forward pass (small, as a deployed classifier sees).
pub const LATENCY_BATCH: usize = 32;
/// Timed passes per plan (after one untimed warm-up); the median is kept.
pub const LATENCY_REPEATS: usize = 5;
/// Where latency is measured.
pub const LATENCY_DEVICE: &str = "host-cpu (fake-quant executor)";

/// One classifier with its data and activation ranges, ready to run plans.
pub struct Evaluator {
    pub classifier: ImageClassifier,
    calibration: Calibration,
    latency_input: Tensor,
}

impl Evaluator {
    /// Loads `model` (a reference name or weight file with `arch`) and calibrates activation
    /// ranges once on its calibration images (never the evaluation split).
    pub fn new(model: &str, arch: Option<&str>) -> Result<Evaluator, ValidateError> {
        let classifier = load_image_classifier(model, arch)?;
        let batches = classifier.calibration_batches()?;
        let calibration = Calibration::run(&classifier.model, &batches, DEFAULT_RANGE_METHOD)?;
        let count = LATENCY_BATCH.min(classifier.eval.len());
        let latency_input = classifier.eval.batch(0, count, &Device::Cpu)?.pixels;
        Ok(Evaluator {
            classifier,
            calibration,
            latency_input,
        })
    }

    pub fn prepare(&self, assignment: &Assignment) -> Result<PreparedAssignment, ValidateError> {
        let graph = self.classifier.model.graph();
        assignment.validate(graph, "plan")?;
        Ok(PreparedAssignment::new(
            &self.classifier.model,
            assignment,
            Some(&self.calibration),
        )?)
    }

    /// Top-1 accuracy on the first `limit` evaluation images (all when `None`).
    #[allow(clippy::result_large_err)] // the closure's type is fixed by `top1_accuracy`
    pub fn accuracy(
        &self,
        prepared: &PreparedAssignment,
        limit: Option<usize>,
        on_batch: &mut dyn FnMut(usize, usize),
    ) -> Result<Accuracy, ValidateError> {
        let model = &self.classifier.model;
        let mut forward = |pixels: &Tensor| model.forward(pixels, prepared);
        Ok(top1_accuracy(
            &mut forward,
            &self.classifier.eval,
            limit,
            on_batch,
        )?)
    }

    /// Median wall-clock microseconds per image of a forward pass under `prepared`.
    pub fn latency_us(&self, prepared: &PreparedAssignment) -> Result<f64, ValidateError> {
        let model = &self.classifier.model;
        model.forward(&self.latency_input, prepared)?;
        let mut times = Vec::with_capacity(LATENCY_REPEATS);
        for _ in 0..LATENCY_REPEATS {
            let start = Instant::now();
            model.forward(&self.latency_input, prepared)?;
            times.push(start.elapsed().as_secs_f64() * 1e6);
        }
        times.sort_by(f64::total_cmp);
        let images = self.latency_input.dim(0)?.max(1) as f64;
        Ok(times[times.len() / 2] / images)
    }

    /// Logits of `pixels` under `prepared`.
    pub fn logits(
        &self,
        pixels: &Tensor,
        prepared: &PreparedAssignment,
    ) -> Result<Tensor, ValidateError> {
        Ok(self.classifier.model.forward(pixels, prepared)?)
    }
}

/// The assignment a plan describes: each layer's weight and activation format.
pub fn assignment_of(plan: &Plan) -> Result<Assignment, ValidateError> {
    let mut assignment = Assignment::default();
    for layer in &plan.layers {
        let weight = parse_format(&layer.name, "weight_format", &layer.weight_format)?;
        let activation = parse_format(&layer.name, "activation_format", &layer.activation_format)?;
        assignment
            .layers
            .insert(layer.name.clone(), LayerFormats { weight, activation });
    }
    Ok(assignment)
}

fn parse_format(
    layer: &str,
    field: &'static str,
    value: &Option<String>,
) -> Result<Format, ValidateError> {
    let Some(text) = value else {
        return Err(ValidateError::MissingFormat {
            layer: layer.to_string(),
            field,
        });
    };
    text.parse::<Format>()
        .map_err(|error| ValidateError::Format {
            layer: layer.to_string(),
            field,
            value: text.clone(),
            reason: error.to_string(),
        })
}
