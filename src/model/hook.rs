//! How a sequence-model forward reaches its quantizable layers: every weight and every layer input
//! passes through a [`LayerHook`], so one forward serves the fp32 reference, range calibration
//! (observe inputs) and quantized execution (fake-quantized weights and inputs).

use candle_core::Tensor;

/// What a backend does at each quantizable layer of a sequence model, called by layer name.
pub trait LayerHook {
    /// The weight layer `layer` runs with, given its fp32 original (e.g. a fake-quantized copy
    /// prepared once per assignment, or `fp32` itself).
    fn weight(&self, layer: &str, fp32: &Tensor) -> candle_core::Result<Tensor>;
    /// The input activation of `layer` as the layer consumes it (fake-quantized with the layer's
    /// calibrated range, recorded by a calibrator, or unchanged). Not called for embeddings, whose
    /// input is token ids.
    fn input(&mut self, layer: &str, x: &Tensor) -> candle_core::Result<Tensor>;
}

/// The all-fp32 reference: original weights, unchanged inputs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fp32;

impl LayerHook for Fp32 {
    fn weight(&self, _layer: &str, fp32: &Tensor) -> candle_core::Result<Tensor> {
        Ok(fp32.clone())
    }

    fn input(&mut self, _layer: &str, x: &Tensor) -> candle_core::Result<Tensor> {
        Ok(x.clone())
    }
}
