//! Measured validation: run chosen plans for real (task metric on the evaluation split, wall-clock
//! latency of the executor on this CPU) and check how far predictions are from reality.
//!
//! [`Evaluator`] runs one image classifier under any plan; [`validate_front`] measures a front's
//! top plans and its uniform baselines and flags plans a baseline beats; [`spearman`] is the rank
//! correlation reports quote.

pub mod error;
pub mod evaluator;
pub mod front;
pub mod rank;

pub use error::ValidateError;
pub use evaluator::{Evaluator, TASK_METRIC};
pub use front::{chosen_plans, measure_plan, validate_front, MeasureCache, ValidateSettings};
pub use rank::spearman;
