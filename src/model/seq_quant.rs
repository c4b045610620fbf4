//! Running a sequence model under per-layer formats through [`LayerHook`]s: a calibrator that
//! observes every layer input, and a prepared run holding weights fake-quantized once per
//! assignment plus the calibrated input ranges.

use std::collections::{BTreeMap, HashMap};

use candle_core::Tensor;

use super::LayerHook;
use crate::quant::{
    fake_quant_activation, fake_quant_weight, ActRange, Format, QuantError, RangeMethod,
    RangeObserver,
};

/// Formats of one layer: its weight and its input activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerFormats {
    pub weight: Format,
    pub activation: Format,
}

/// Records every layer input's statistics during fp32 forwards over calibration batches.
#[derive(Debug, Default)]
pub struct Calibrator {
    observers: BTreeMap<String, RangeObserver>,
}

impl Calibrator {
    pub fn new() -> Self {
        Self::default()
    }

    /// The range `method` estimates for each observed layer input in its activation format.
    pub fn ranges(
        &self,
        formats: &BTreeMap<String, LayerFormats>,
        method: RangeMethod,
    ) -> BTreeMap<String, ActRange> {
        self.observers
            .iter()
            .filter_map(|(layer, observer)| {
                let format = formats.get(layer)?.activation;
                Some((layer.clone(), observer.range(method, format)))
            })
            .collect()
    }
}

impl LayerHook for Calibrator {
    fn weight(&self, _layer: &str, fp32: &Tensor) -> candle_core::Result<Tensor> {
        Ok(fp32.clone())
    }

    fn input(&mut self, layer: &str, x: &Tensor) -> candle_core::Result<Tensor> {
        let observer = self.observers.entry(layer.to_string()).or_default();
        observer.observe(x).map_err(|error| wrap(layer, error))?;
        Ok(x.clone())
    }
}

/// Weights fake-quantized once, and the static input ranges, for one assignment.
#[derive(Debug, Clone, Default)]
pub struct QuantizedRun {
    weights: HashMap<String, Tensor>,
    inputs: HashMap<String, (Format, ActRange)>,
}

impl QuantizedRun {
    /// Fake-quantizes each of `weights` (layer name → fp32 weight) to its format in `formats`;
    /// layers missing from `formats`, or in fp32, run unchanged.
    pub fn prepare(
        weights: &[(String, Tensor)],
        formats: &BTreeMap<String, LayerFormats>,
        ranges: &BTreeMap<String, ActRange>,
    ) -> Result<Self, QuantError> {
        let mut run = Self::default();
        for (layer, weight) in weights {
            let Some(format) = formats.get(layer) else {
                continue;
            };
            if !format.weight.is_identity() {
                run.weights
                    .insert(layer.clone(), fake_quant_weight(format.weight, weight)?);
            }
            if !format.activation.is_identity() {
                let range = ranges
                    .get(layer)
                    .copied()
                    .unwrap_or(ActRange { min: 0.0, max: 0.0 });
                run.inputs.insert(layer.clone(), (format.activation, range));
            }
        }
        Ok(run)
    }
}

impl LayerHook for QuantizedRun {
    fn weight(&self, layer: &str, fp32: &Tensor) -> candle_core::Result<Tensor> {
        Ok(self.weights.get(layer).unwrap_or(fp32).clone())
    }

    fn input(&mut self, layer: &str, x: &Tensor) -> candle_core::Result<Tensor> {
        match self.inputs.get(layer) {
            Some(&(format, range)) => {
                fake_quant_activation(format, x, range).map_err(|error| wrap(layer, error))
            }
            None => Ok(x.clone()),
        }
    }
}

fn wrap(layer: &str, error: QuantError) -> candle_core::Error {
    candle_core::Error::Msg(format!("layer {layer}: {error}"))
}
