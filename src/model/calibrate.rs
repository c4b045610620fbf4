//! Calibration: run the fp32 model on calibration batches, observe every quantizable layer's
//! input, and turn the statistics into static activation ranges with a [`RangeMethod`].

use std::collections::BTreeMap;

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use super::executor::{LayerContext, PreparedAssignment, RunnableModel};
use super::ModelError;
use crate::quant::{ActRange, Format, RangeMethod, RangeObserver};

/// Default range method: percentile clipping ignores the rare outliers that would waste int8 levels.
pub const DEFAULT_RANGE_METHOD: RangeMethod = RangeMethod::Percentile(99.99);

/// Observed input statistics of every layer (per activation operand) and the range method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub model: String,
    pub method: RangeMethod,
    /// Samples (images, or tokens for sequence models' batches) observed.
    pub batches: usize,
    pub observers: BTreeMap<String, Vec<RangeObserver>>,
}

impl Calibration {
    /// Runs `model` in fp32 on each batch and observes every layer input.
    pub fn run(
        model: &dyn RunnableModel,
        batches: &[Tensor],
        method: RangeMethod,
    ) -> Result<Self, ModelError> {
        let fp32 = PreparedAssignment::fp32(model)?;
        let mut observers = BTreeMap::new();
        for batch in batches {
            let mut ctx = LayerContext::new(&fp32).observing(&mut observers);
            model.run(batch, &mut ctx)?;
        }
        Ok(Self {
            model: model.graph().model.clone(),
            method,
            batches: batches.len(),
            observers,
        })
    }

    /// The range of each activation operand of `layer` for `format`.
    pub fn ranges(&self, layer: &str, format: Format) -> Result<Vec<ActRange>, ModelError> {
        let observers = self.observers.get(layer).filter(|o| !o.is_empty());
        let observers = observers.ok_or_else(|| ModelError::Invalid {
            what: format!("calibration of {}", self.model),
            reason: format!(
                "layer `{layer}` was never observed (no calibration batches reached it)"
            ),
        })?;
        Ok(observers
            .iter()
            .map(|observer| observer.range(self.method, format))
            .collect())
    }
}
