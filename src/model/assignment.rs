//! An assignment: per layer, a weight format and an activation format (the format of the layer's
//! input). Built uniform, from a shorthand candidate (with its per-layer fallback), or from a plan
//! file; validated against a model's graph before anything runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::graph::{Graph, Layer};
use crate::quant::{Format, QuantError};
use crate::space::Shorthand;

/// The formats of one layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LayerFormats {
    pub weight: Format,
    pub activation: Format,
}

/// Formats for every quantizable layer of one model, by layer name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Assignment {
    pub layers: BTreeMap<String, LayerFormats>,
}

/// A layer that got a shorthand's fallback weight format because the preferred one does not fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fallback {
    pub layer: String,
    pub preferred: Format,
    pub used: Format,
    pub reason: String,
}

/// The plan schema this reader understands.
pub const PLAN_SCHEMA: &str = "bitplan.plan/1";

#[derive(Debug, thiserror::Error)]
pub enum AssignmentError {
    #[error(
        "{source_name}: layer `{layer}` is not a layer of model {model} (its layers: {valid})"
    )]
    UnknownLayer {
        source_name: String,
        layer: String,
        model: String,
        valid: String,
    },
    #[error("{source_name}: no formats for layer(s) {missing} of model {model}; every layer needs a weight and an activation format")]
    MissingLayers {
        source_name: String,
        missing: String,
        model: String,
    },
    #[error("{source_name}: layer `{layer}` ({what}) cannot take {role} format {format}: {cause}")]
    Inadmissible {
        source_name: String,
        layer: String,
        what: String,
        role: &'static str,
        format: Format,
        cause: Box<QuantError>,
    },
    #[error(
        "{source_name}: layer `{layer}` {reason}, so its {role} format must be fp32, not {format}"
    )]
    MustBeFp32 {
        source_name: String,
        layer: String,
        reason: &'static str,
        role: &'static str,
        format: Format,
    },
    #[error("cannot read plan {path}: {reason}")]
    PlanFile { path: PathBuf, reason: String },
}

impl Assignment {
    /// Whether any layer's activation format takes a calibrated static range.
    pub fn needs_calibration(&self) -> bool {
        self.layers
            .values()
            .any(|formats| formats.activation.info().needs_calibration)
    }

    /// Every layer fp32: the reference.
    pub fn fp32(graph: &Graph) -> Self {
        Self::uniform(graph, Format::Fp32, Format::Fp32)
    }

    /// Every layer the same formats, except where a layer cannot take one at all: weightless
    /// layers keep fp32 weights, embeddings keep fp32 "activations" (their input is token ids).
    pub fn uniform(graph: &Graph, weight: Format, activation: Format) -> Self {
        let layers = graph
            .layers
            .iter()
            .map(|layer| (layer.name.clone(), natural(layer, weight, activation)))
            .collect();
        Self { layers }
    }

    /// A shorthand candidate on every layer, using its fallback weight format on layers whose
    /// weight shape the preferred format cannot take; the fallbacks are returned so they can be
    /// reported.
    pub fn from_shorthand(graph: &Graph, shorthand: &Shorthand) -> (Self, Vec<Fallback>) {
        let candidate = &shorthand.candidate;
        let mut assignment = Self::uniform(graph, candidate.weight, candidate.activation);
        let mut fallbacks = Vec::new();
        for layer in graph.layers.iter().filter(|layer| layer.has_weight()) {
            let (Some(fallback), Err(error)) = (
                shorthand.weight_fallback,
                candidate.weight.check_shape(&layer.weight_shape),
            ) else {
                continue;
            };
            if let Some(formats) = assignment.layers.get_mut(&layer.name) {
                formats.weight = fallback;
            }
            fallbacks.push(Fallback {
                layer: layer.name.clone(),
                preferred: candidate.weight,
                used: fallback,
                reason: error.to_string(),
            });
        }
        (assignment, fallbacks)
    }

    /// The same assignment with one layer's formats replaced.
    pub fn with_layer(mut self, layer: &str, formats: LayerFormats) -> Self {
        self.layers.insert(layer.to_string(), formats);
        self
    }

    /// Checks the assignment fits `graph`: no unknown layer, no layer left out, every weight
    /// format admissible for the weight's shape, every activation format a valid activation
    /// format for the layer's input. `source_name` (a file, `--uniform w4a16`) prefixes errors.
    pub fn validate(&self, graph: &Graph, source_name: &str) -> Result<(), AssignmentError> {
        if let Some(layer) = self.layers.keys().find(|name| graph.layer(name).is_none()) {
            return Err(AssignmentError::UnknownLayer {
                source_name: source_name.into(),
                layer: layer.clone(),
                model: graph.model.clone(),
                valid: layer_names(graph),
            });
        }
        let missing: Vec<&str> = graph
            .layers
            .iter()
            .filter(|layer| !self.layers.contains_key(&layer.name))
            .map(|layer| layer.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(AssignmentError::MissingLayers {
                source_name: source_name.into(),
                missing: missing.join(", "),
                model: graph.model.clone(),
            });
        }
        for layer in &graph.layers {
            check_layer(layer, &self.layers[&layer.name], source_name)?;
        }
        Ok(())
    }

    /// Reads a plan file (`{"schema": "bitplan.plan/1", "layers": [{"name", "weight_format",
    /// "activation_format", ...}]}`; other fields are ignored). Not validated against a model.
    pub fn from_plan_file(path: &Path) -> Result<Self, AssignmentError> {
        let bad = |reason: String| AssignmentError::PlanFile {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|error| bad(error.to_string()))?;
        let plan: PlanFile = serde_json::from_str(&text)
            .map_err(|error| bad(format!("not a plan JSON: {error}")))?;
        if plan.schema != PLAN_SCHEMA {
            let schema = plan.schema;
            return Err(bad(format!(
                "schema is `{schema}`, expected `{PLAN_SCHEMA}`"
            )));
        }
        let mut layers = BTreeMap::new();
        for (index, entry) in plan.layers.into_iter().enumerate() {
            let parse = |field: &str, name: &str| {
                name.parse::<Format>().map_err(|error| {
                    bad(format!(
                        "layers[{index}] (`{}`).{field}: {error}",
                        entry.name
                    ))
                })
            };
            let formats = LayerFormats {
                weight: parse("weight_format", &entry.weight_format)?,
                activation: parse("activation_format", &entry.activation_format)?,
            };
            if layers.insert(entry.name.clone(), formats).is_some() {
                return Err(bad(format!("layer `{}` appears twice", entry.name)));
            }
        }
        Ok(Self { layers })
    }
}

#[derive(Deserialize)]
struct PlanFile {
    schema: String,
    layers: Vec<PlanLayer>,
}

#[derive(Deserialize)]
struct PlanLayer {
    name: String,
    weight_format: String,
    activation_format: String,
}

fn natural(layer: &Layer, weight: Format, activation: Format) -> LayerFormats {
    LayerFormats {
        weight: if layer.has_weight() {
            weight
        } else {
            Format::Fp32
        },
        activation: if layer.has_activation_input() {
            activation
        } else {
            Format::Fp32
        },
    }
}

fn layer_names(graph: &Graph) -> String {
    let names: Vec<&str> = graph.layers.iter().map(|l| l.name.as_str()).collect();
    names.join(", ")
}

fn check_layer(
    layer: &Layer,
    formats: &LayerFormats,
    source_name: &str,
) -> Result<(), AssignmentError> {
    let must_be_fp32 = |reason, role, format| AssignmentError::MustBeFp32 {
        source_name: source_name.into(),
        layer: layer.name.clone(),
        reason,
        role,
        format,
    };
    let inadmissible = |what: String, role, format, cause| AssignmentError::Inadmissible {
        source_name: source_name.into(),
        layer: layer.name.clone(),
        what,
        role,
        format,
        cause: Box::new(cause),
    };
    if !layer.has_weight() && !formats.weight.is_identity() {
        return Err(must_be_fp32("has no weight", "weight", formats.weight));
    }
    if layer.has_weight() {
        if let Err(error) = formats.weight.check_shape(&layer.weight_shape) {
            let what = format!("weight {:?}", layer.weight_shape);
            return Err(inadmissible(what, "weight", formats.weight, error));
        }
    }
    if !layer.has_activation_input() {
        if !formats.activation.is_identity() {
            return Err(must_be_fp32(
                "takes token ids",
                "activation",
                formats.activation,
            ));
        }
        return Ok(());
    }
    let shape = layer.activation_shape();
    let what = if shape == layer.input_shape {
        format!("input {shape:?}")
    } else {
        format!(
            "input {:?}, quantized channels-last as {shape:?}",
            layer.input_shape
        )
    };
    formats
        .activation
        .check_activation_shape(&shape)
        .map_err(|error| inadmissible(what, "activation", formats.activation, error))
}
