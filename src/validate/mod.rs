//! Measured validation: run chosen plans for real (task metric on the evaluation split, wall-clock
//! latency of the executor on this CPU) and check how far predictions are from reality.
//!
//! [`Evaluator`] runs one image classifier under any plan, [`LmEvaluator`] one decoder LM; [`validate_front`] measures a front's
//! top plans and its uniform baselines and flags plans a baseline beats; [`validate_latency`]
//! runs random mixed plans layer by layer and compares them with a profile's predicted latency;
//! [`spearman`] is the rank correlation reports quote.

pub mod error;
pub mod evaluator;
pub mod front;
pub mod latency;
pub mod latency_summary;
pub mod rank;
pub mod task;

pub use error::ValidateError;
pub use evaluator::{Evaluator, TASK_METRIC};
pub use front::{chosen_plans, measure_plan, validate_front, MeasureCache, ValidateSettings};
pub use latency::{validate_latency, Draw, LatencySettings, LatencyValidation};
pub use latency_summary::{ErrorSummary, LatencySummary};
pub use rank::spearman;
pub use task::{higher_is_better, LmEvaluator, PlanTask, TaskMeasurement, LM_METRIC};
