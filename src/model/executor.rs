//! Running a model under an assignment. [`PreparedAssignment::new`] fake-quantizes every weight
//! to its format and resolves every activation range ONCE; [`RunnableModel::forward`] then only
//! fake-quantizes activations per batch. Models call a [`LayerContext`] at each quantizable layer,
//! which also serves calibration (observing inputs) and tests (recording outputs).

use std::collections::BTreeMap;

use candle_core::Tensor;

use super::assignment::{Assignment, LayerFormats};
use super::calibrate::Calibration;
use super::graph::Graph;
use super::ModelError;
use crate::quant::{
    fake_quant_activation, fake_quant_weight, ActRange, Format, RangeObserver, Scaling,
};

/// Receives the state at the start of each stage a staged run passes (see
/// [`RunnableModel::run_from`]); `None` when nothing captures, so that a model need not build
/// states that are more than the tensor it is running.
pub type Capture<'a> = Option<&'a mut dyn FnMut(usize, &Tensor)>;

/// Where a run reaches the start of `stage`: if it started before `stage` and something
/// captures, passes the state `state` builds.
pub fn reach(
    start: usize,
    stage: usize,
    capture: &mut Capture,
    state: impl FnOnce() -> candle_core::Result<Tensor>,
) -> candle_core::Result<()> {
    if start < stage {
        if let Some(capture) = capture {
            capture(stage, &state()?);
        }
    }
    Ok(())
}

/// A model the executor can run with any assignment.
pub trait RunnableModel: Send + Sync {
    fn graph(&self) -> &Graph;

    /// The fp32 weight of `layer` as the runtime runs it (batch norm folded); `None` for
    /// weightless layers.
    fn weight(&self, layer: &str) -> Option<&Tensor>;

    /// Runs the model on a batch (as the data module yields it, e.g. pixels in 0..1), calling
    /// `ctx.input`, `ctx.weight` and `ctx.output` at every quantizable layer; returns logits.
    fn run(&self, input: &Tensor, ctx: &mut LayerContext) -> Result<Tensor, ModelError>;

    /// How many stages a run splits into: a run can start at any stage from the state captured
    /// at its start (the residual stream before each half block of a transformer), so that a
    /// run with only late layers quantized skips the fp32 prefix. 1 (the default): no resuming.
    fn stages(&self) -> usize {
        1
    }

    /// Whether every linear layer runs through [`crate::model::ops::linear`], so that a prepared
    /// weight may be a stack `[c, out, in]` applying weight `i` to the `i`-th of `c` equal parts
    /// of the batch: the analysis runs a layer's candidates side by side in one batch, sharing
    /// one pass through the rest of the network. `false` (the default): never stacked.
    fn stacks_weights(&self) -> bool {
        false
    }

    /// The stage whose computation reaches `layer` (0 for unknown layers and one-stage models).
    fn stage_of(&self, _layer: &str) -> usize {
        0
    }

    /// Runs stages `stage..` of the network on `input` and returns logits: from `input` itself
    /// when `stage` is 0, else from `state`, the state captured at the start of `stage` by an
    /// earlier run on the same input. Passes every later stage's starting state to `capture`
    /// (when there is one).
    /// With the same assignment before `stage`, the result equals [`RunnableModel::run`]'s
    /// exactly. The default (one stage) is `run`.
    fn run_from(
        &self,
        input: &Tensor,
        stage: usize,
        _state: &Tensor,
        ctx: &mut LayerContext,
        _capture: Capture,
    ) -> Result<Tensor, ModelError> {
        if stage != 0 {
            return Err(no_stage(self.graph(), stage, self.stages()));
        }
        self.run(input, ctx)
    }

    /// Logits of a batch under a prepared assignment.
    fn forward(&self, input: &Tensor, prepared: &PreparedAssignment) -> Result<Tensor, ModelError> {
        if prepared.model != self.graph().model {
            return Err(ModelError::Invalid {
                what: format!("assignment prepared for {}", prepared.model),
                reason: format!("cannot run on model {}", self.graph().model),
            });
        }
        self.run(input, &mut LayerContext::new(prepared))
    }
}

/// The error of a run asked to start at a stage the model does not have.
pub fn no_stage(graph: &Graph, stage: usize, stages: usize) -> ModelError {
    ModelError::Invalid {
        what: format!("run of {} from stage {stage}", graph.model),
        reason: format!("the model has stages 0..{stages}"),
    }
}

/// The fp32 run of a batch with every stage's starting state: `(logits, states)`, where
/// `states[0]` is the input itself and `states[s]` the state at the start of stage `s`.
pub fn staged_fp32(
    model: &dyn RunnableModel,
    input: &Tensor,
    fp32: &PreparedAssignment,
) -> Result<(Tensor, Vec<Tensor>), ModelError> {
    let mut states = vec![input.clone()];
    let mut capture = |stage: usize, state: &Tensor| {
        if stage == states.len() {
            states.push(state.clone());
        }
    };
    let mut ctx = LayerContext::new(fp32);
    let logits = model.run_from(input, 0, input, &mut ctx, Some(&mut capture))?;
    if states.len() != model.stages() {
        return Err(ModelError::Invalid {
            what: format!("staged run of {}", model.graph().model),
            reason: format!(
                "captured {} stage states, the model declares {} stages",
                states.len(),
                model.stages()
            ),
        });
    }
    Ok((logits, states))
}

/// Where a layer's input keeps the dim that block formats should run along.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputLayout {
    /// `[n, ..., k]`: the reduction dim is already last (linear, matmul).
    ReductionLast,
    /// `[n, C, H, W]`: blocks run along channels, so quantize as `[n, H, W, C]`.
    ChannelsFirst,
}

/// One layer of a prepared assignment.
#[derive(Debug, Clone)]
pub struct PreparedLayer {
    pub formats: LayerFormats,
    /// The weight fake-quantized to `formats.weight` (the original when fp32).
    pub weight: Option<Tensor>,
    /// Calibrated range per activation operand (one for most layers, two for an attention
    /// matmul); empty when the activation format takes no static range.
    pub activation_ranges: Vec<ActRange>,
}

/// An assignment made ready to run: built once, used for any number of batches.
#[derive(Debug, Clone)]
pub struct PreparedAssignment {
    pub model: String,
    pub layers: BTreeMap<String, PreparedLayer>,
}

impl PreparedAssignment {
    /// Validates `assignment` against the model, fake-quantizes each weight, and takes each
    /// static activation format's range from `calibration` (required when any layer needs one).
    pub fn new(
        model: &dyn RunnableModel,
        assignment: &Assignment,
        calibration: Option<&Calibration>,
    ) -> Result<Self, ModelError> {
        let graph = model.graph();
        assignment.validate(graph, "assignment")?;
        let mut layers = BTreeMap::new();
        for layer in &graph.layers {
            let formats = assignment.layers[&layer.name];
            let weight = match model.weight(&layer.name) {
                Some(_) if formats.weight.is_identity() => model.weight(&layer.name).cloned(),
                Some(weight) => {
                    Some(fake_quant_weight(formats.weight, weight).map_err(|error| {
                        quant_error(&layer.name, "weight", formats.weight, error)
                    })?)
                }
                None => None,
            };
            let activation_ranges = ranges(&layer.name, formats.activation, calibration)?;
            let prepared = PreparedLayer {
                formats,
                weight,
                activation_ranges,
            };
            layers.insert(layer.name.clone(), prepared);
        }
        Ok(Self {
            model: graph.model.clone(),
            layers,
        })
    }

    /// Every layer in fp32: runs the original model.
    pub fn fp32(model: &dyn RunnableModel) -> Result<Self, ModelError> {
        Self::new(model, &Assignment::fp32(model.graph()), None)
    }

    pub fn layer(&self, name: &str) -> Result<&PreparedLayer, ModelError> {
        self.layers
            .get(name)
            .ok_or_else(|| ModelError::UnknownLayer {
                model: self.model.clone(),
                layer: name.into(),
                valid: self.layers.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }
}

fn quant_error(
    layer: &str,
    role: &str,
    format: Format,
    error: crate::quant::QuantError,
) -> ModelError {
    ModelError::Invalid {
        what: format!("layer `{layer}` {role} format {format}"),
        reason: error.to_string(),
    }
}

fn ranges(
    layer: &str,
    format: Format,
    calibration: Option<&Calibration>,
) -> Result<Vec<ActRange>, ModelError> {
    if !format.info().needs_calibration {
        return Ok(Vec::new());
    }
    let calibration = calibration.ok_or_else(|| ModelError::Invalid {
        what: format!("layer `{layer}` activation format {format}"),
        reason: "needs a calibrated range; calibrate the model first".into(),
    })?;
    calibration.ranges(layer, format)
}

/// What a model calls at each quantizable layer.
pub struct LayerContext<'a> {
    prepared: &'a PreparedAssignment,
    observers: Option<&'a mut BTreeMap<String, Vec<RangeObserver>>>,
    outputs: Option<&'a mut BTreeMap<String, Tensor>>,
    /// Added to layers' outputs: zero variables whose gradient is ∂L/∂Y (gradient proxies).
    offsets: Option<&'a BTreeMap<String, Tensor>>,
    /// The first failure adding an offset (a shape that does not match the output).
    error: Option<ModelError>,
}

impl<'a> LayerContext<'a> {
    pub fn new(prepared: &'a PreparedAssignment) -> Self {
        Self {
            prepared,
            observers: None,
            outputs: None,
            offsets: None,
            error: None,
        }
    }

    /// Also add `offsets[layer]` to the output of each layer it names (models continue with
    /// what [`LayerContext::output`] returns); check [`LayerContext::take_error`] after the run.
    pub fn offsetting(mut self, offsets: &'a BTreeMap<String, Tensor>) -> Self {
        self.offsets = Some(offsets);
        self
    }

    /// The first error met adding an output offset, if any.
    pub fn take_error(&mut self) -> Option<ModelError> {
        self.error.take()
    }

    /// Also feed every layer input (before quantization) to per-layer range observers.
    pub fn observing(mut self, observers: &'a mut BTreeMap<String, Vec<RangeObserver>>) -> Self {
        self.observers = Some(observers);
        self
    }

    /// Also keep every layer's output (tests: which outputs an assignment changes).
    pub fn recording(mut self, outputs: &'a mut BTreeMap<String, Tensor>) -> Self {
        self.outputs = Some(outputs);
        self
    }

    /// Layer `layer`'s (first) input, fake-quantized to its activation format.
    pub fn input(
        &mut self,
        layer: &str,
        x: &Tensor,
        layout: InputLayout,
    ) -> Result<Tensor, ModelError> {
        self.operand(layer, 0, x, layout)
    }

    /// Activation operand `index` of `layer` (attention matmuls have two), fake-quantized.
    pub fn operand(
        &mut self,
        layer: &str,
        index: usize,
        x: &Tensor,
        layout: InputLayout,
    ) -> Result<Tensor, ModelError> {
        let prepared = self.prepared.layer(layer)?;
        if let Some(observers) = self.observers.as_deref_mut() {
            let slots = observers.entry(layer.to_string()).or_default();
            if slots.len() <= index {
                slots.resize_with(index + 1, RangeObserver::new);
            }
            slots[index]
                .observe(x)
                .map_err(|error| ModelError::Invalid {
                    what: format!("calibrating the input of layer `{layer}`"),
                    reason: error.to_string(),
                })?;
        }
        let format = prepared.formats.activation;
        if format.is_identity() {
            return Ok(x.clone());
        }
        // Dynamic formats ignore the range; static ones were calibrated at prepare time.
        let range = prepared
            .activation_ranges
            .get(index)
            .copied()
            .unwrap_or(ActRange { min: 0.0, max: 0.0 });
        let blocked = matches!(format.info().scaling, Scaling::Block { .. });
        let quantize = |t: &Tensor| {
            fake_quant_activation(format, t, range)
                .map_err(|error| quant_error(layer, "activation", format, error))
        };
        if layout == InputLayout::ChannelsFirst && blocked && x.rank() == 4 {
            let channels_last = x.permute((0, 2, 3, 1))?;
            return Ok(quantize(&channels_last)?
                .permute((0, 3, 1, 2))?
                .contiguous()?);
        }
        quantize(x)
    }

    /// Layer `layer`'s weight under the assignment (fake-quantized at prepare time).
    pub fn weight(&self, layer: &str) -> Result<&'a Tensor, ModelError> {
        let prepared = self.prepared.layer(layer)?;
        prepared.weight.as_ref().ok_or_else(|| ModelError::Invalid {
            what: format!("layer `{layer}`"),
            reason: "has no weight".into(),
        })
    }

    /// Records `layer`'s output when recording; returns the output the network continues
    /// with: `y` itself, or `y + offset` when offsetting `layer`.
    pub fn output(&mut self, layer: &str, y: &Tensor) -> Tensor {
        if let Some(outputs) = self.outputs.as_deref_mut() {
            outputs.insert(layer.to_string(), y.clone());
        }
        let Some(offset) = self.offsets.and_then(|offsets| offsets.get(layer)) else {
            return y.clone();
        };
        match y + offset {
            Ok(shifted) => shifted,
            Err(error) => {
                self.error.get_or_insert(ModelError::Invalid {
                    what: format!("output offset of layer `{layer}`"),
                    reason: error.to_string(),
                });
                y.clone()
            }
        }
    }
}
