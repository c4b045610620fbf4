//! A CNN architecture as data (its layer specs, input shape, input normalization) plus one forward
//! wiring function written against [`LayerOps`], so the same wiring serves training, the fp32
//! reference, calibration and quantized execution.

use candle_core::Tensor;

use super::spec::LayerSpec;
use super::ModelError;

/// What a backend does for one quantizable layer: apply it (with whatever weights, formats,
/// recording the backend holds) to `x`. The wiring calls it by layer name.
pub trait LayerOps {
    fn apply(&mut self, layer: &LayerSpec, x: &Tensor) -> Result<Tensor, ModelError>;
}

/// The forward pass of an architecture from its (normalized) input to its logits.
pub type Wiring = fn(&CnnArch, &mut dyn LayerOps, &Tensor) -> Result<Tensor, ModelError>;

/// A convolutional classifier architecture.
#[derive(Debug)]
pub struct CnnArch {
    pub name: &'static str,
    pub layers: &'static [LayerSpec],
    /// Input per sample: `[channels, height, width]`.
    pub input_shape: [usize; 3],
    /// `(mean, std)` applied to pixels in 0..1 before the first layer (not a quantizable layer).
    pub normalize: (f32, f32),
    pub classes: usize,
    pub wiring: Wiring,
}

impl CnnArch {
    /// The spec of layer `name`.
    pub fn spec(&self, name: &str) -> Result<&LayerSpec, ModelError> {
        self.layers
            .iter()
            .find(|layer| layer.name == name)
            .ok_or_else(|| ModelError::UnknownLayer {
                model: self.name.into(),
                layer: name.into(),
                valid: self.layer_names().join(", "),
            })
    }

    pub fn layer_names(&self) -> Vec<&'static str> {
        self.layers.iter().map(|layer| layer.name).collect()
    }

    /// Applies layer `name` through `ops` (a shorthand for the wiring functions).
    pub fn layer(
        &self,
        ops: &mut dyn LayerOps,
        name: &str,
        x: &Tensor,
    ) -> Result<Tensor, ModelError> {
        ops.apply(self.spec(name)?, x)
    }

    /// Checks a batch is `[n, C, H, W]` and normalizes it: `(x − mean) / std`.
    pub fn prepare_input(&self, pixels: &Tensor) -> Result<Tensor, ModelError> {
        let dims = pixels.dims();
        if dims.len() != 4 || dims[1..] != self.input_shape {
            let [c, h, w] = self.input_shape;
            return Err(ModelError::WrongInput {
                model: self.name.into(),
                found: dims.to_vec(),
                expected: format!("{c}, {h}, {w}"),
            });
        }
        let (mean, std) = self.normalize;
        Ok(((pixels - f64::from(mean))? / f64::from(std))?)
    }

    /// Runs the wiring on a prepared input.
    pub fn run(&self, ops: &mut dyn LayerOps, input: &Tensor) -> Result<Tensor, ModelError> {
        (self.wiring)(self, ops, input)
    }
}
