//! What validation measures a plan with: an image classifier's top-1 accuracy on its test split
//! ([`Evaluator`]) or a language model's perplexity on held-out chapters ([`LmEvaluator`]).
//! [`crate::validate::validate_front`] takes either through [`PlanTask`].

use super::error::ValidateError;
use super::evaluator::{Evaluator, LATENCY_DEVICE, TASK_METRIC};
use crate::model::calibrate::DEFAULT_RANGE_METHOD;
use crate::model::llama::{Llama, LmEvalSettings, LmTask};
use crate::model::sequence::SequenceModel;
use crate::model::{Assignment, Calibration, Graph, ModelError, PreparedAssignment, RunnableModel};

/// The metric of language models: perplexity of the evaluation windows (lower is better).
pub const LM_METRIC: &str = "perplexity";

/// Whether a larger value of `metric` is better (accuracy) or worse (perplexity).
pub fn higher_is_better(metric: &str) -> bool {
    metric != LM_METRIC
}

/// One plan's measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaskMeasurement {
    pub value: f64,
    pub samples: usize,
    /// Median host microseconds per sample, NaN when not timed.
    pub latency_us: f64,
}

/// A model with its evaluation data, ready to measure plans.
pub trait PlanTask {
    fn graph(&self) -> &Graph;
    /// The metric's name, as written into `Measured::metric`.
    fn metric(&self) -> &'static str;
    /// Where latency is timed, when this task times it.
    fn latency_device(&self) -> Option<&'static str>;
    /// The metric of the fp32 model on the first `limit` samples.
    fn reference(&self, limit: Option<usize>) -> Result<f64, ValidateError>;
    /// The metric (and, with `time_latency`, the latency) of `assignment`.
    fn measure(
        &self,
        assignment: &Assignment,
        limit: Option<usize>,
        time_latency: bool,
    ) -> Result<TaskMeasurement, ValidateError>;
}

impl PlanTask for Evaluator {
    fn graph(&self) -> &Graph {
        self.classifier.model.graph()
    }

    fn metric(&self) -> &'static str {
        TASK_METRIC
    }

    fn latency_device(&self) -> Option<&'static str> {
        Some(LATENCY_DEVICE)
    }

    fn reference(&self, limit: Option<usize>) -> Result<f64, ValidateError> {
        let fp32 = self.prepare(&Assignment::fp32(self.graph()))?;
        Ok(self.accuracy(&fp32, limit, &mut |_, _| {})?.percent())
    }

    fn measure(
        &self,
        assignment: &Assignment,
        limit: Option<usize>,
        time_latency: bool,
    ) -> Result<TaskMeasurement, ValidateError> {
        let prepared = self.prepare(assignment)?;
        let accuracy = self.accuracy(&prepared, limit, &mut |_, _| {})?;
        let latency_us = match time_latency {
            true => self.latency_us(&prepared)?,
            false => f64::NAN,
        };
        Ok(TaskMeasurement {
            value: accuracy.percent(),
            samples: accuracy.total,
            latency_us,
        })
    }
}

/// A decoder LM (smollm2, a Llama GGUF or directory) and its evaluation windows: perplexity on
/// Moby-Dick chapters 100–135 as `bitplan eval MODEL --plan` measures it, activation ranges (when
/// a plan needs them) from chapters 1–99.
pub struct LmEvaluator {
    pub llama: Llama,
    task: LmTask,
}

impl LmEvaluator {
    /// Loads `model`; refuses encoders (their task metric is not a perplexity).
    pub fn new(model: &str) -> Result<Self, ValidateError> {
        let llama = match SequenceModel::load(model)? {
            SequenceModel::Decoder(llama) => llama,
            SequenceModel::Encoder(_) => {
                return Err(ModelError::Invalid {
                    what: format!("model {model}"),
                    reason: "is an encoder; `validate` measures image classifiers (top-1) and \
                             decoder language models (perplexity)"
                        .into(),
                }
                .into())
            }
        };
        Self::with_settings(llama, LmEvalSettings::default())
    }

    /// `llama` evaluated with other window settings (tests use shorter windows).
    pub fn with_settings(llama: Llama, settings: LmEvalSettings) -> Result<Self, ValidateError> {
        let task = LmTask::prepare(&llama, settings)?;
        Ok(Self { llama, task })
    }

    /// The task cut to the first `limit` evaluation windows.
    fn limited(&self, limit: Option<usize>) -> LmTask {
        let mut task = self.task.clone();
        if let Some(limit) = limit {
            task.eval.truncate(limit.max(1));
            task.settings.eval_windows = task.eval.len();
        }
        task
    }
}

impl PlanTask for LmEvaluator {
    fn graph(&self) -> &Graph {
        self.llama.graph()
    }

    fn metric(&self) -> &'static str {
        LM_METRIC
    }

    fn latency_device(&self) -> Option<&'static str> {
        None
    }

    fn reference(&self, limit: Option<usize>) -> Result<f64, ValidateError> {
        let metrics = self
            .limited(limit)
            .evaluate(&self.llama, None, &mut |_, _| {})?;
        Ok(metrics.reference_perplexity)
    }

    fn measure(
        &self,
        assignment: &Assignment,
        limit: Option<usize>,
        _time_latency: bool,
    ) -> Result<TaskMeasurement, ValidateError> {
        assignment.validate(self.graph(), "plan")?;
        let calibration = match assignment.needs_calibration() {
            true => Some(Calibration::run(
                &self.llama,
                &self.task.calibration_batches()?,
                DEFAULT_RANGE_METHOD,
            )?),
            false => None,
        };
        let prepared = PreparedAssignment::new(&self.llama, assignment, calibration.as_ref())?;
        let task = self.limited(limit);
        let metrics = task.evaluate(&self.llama, Some(&prepared), &mut |_, _| {})?;
        Ok(TaskMeasurement {
            value: metrics.perplexity,
            samples: metrics.predicted_tokens,
            latency_us: f64::NAN,
        })
    }
}
