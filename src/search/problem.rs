//! The search problem in plain numbers: for every layer, candidates with an error and costs;
//! optional tie groups and transition costs. Schema `bitplan.problem/1`.
//!
//! A problem is built either from a problem file ([`Problem::load`], [`Problem::from_json`]) or,
//! by other stages, from tables with [`Problem::new`]: both go through the same validation, so a
//! `Problem` value is always consistent (unique names, finite non-negative costs, the same cost
//! metrics on every candidate, ties and transitions that name real layers).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::decisions::Decisions;
use super::error::{Expected, SearchError};
use super::tables::TableProvenance;
use super::ties::resolve_ties;
use super::transition::{validate_transitions, TransitionSpec};

/// The schema tag a problem file must carry.
pub const PROBLEM_SCHEMA: &str = "bitplan.problem/1";

/// Field names of a candidate that are not cost metrics.
const RESERVED_FIELDS: [&str; 4] = ["name", "error", "weight_format", "activation_format"];

/// One option for one layer: its predicted error and what it costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateSpec {
    pub name: String,
    /// Predicted error contribution of the layer in this candidate (any finite number; measured
    /// loss deltas can be slightly negative). The searcher minimizes the sum over layers.
    pub error: f64,
    /// Opaque label copied into plans (e.g. `int4-g128-sym`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_format: Option<String>,
    /// Opaque label copied into plans (e.g. `bf16`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_format: Option<String>,
    /// Cost metrics (e.g. `latency_us`, `weight_bytes`): finite, >= 0, summed over layers.
    #[serde(flatten)]
    pub costs: BTreeMap<String, f64>,
}

/// The candidates of one layer, in the order transition matrices index them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerSpec {
    pub name: String,
    pub candidates: Vec<CandidateSpec>,
}

/// A validated problem.
#[derive(Debug, Clone)]
pub struct Problem {
    origin: String,
    metrics: Vec<String>,
    layers: Vec<LayerSpec>,
    ties: Vec<Vec<String>>,
    transitions: Vec<TransitionSpec>,
    decisions: Decisions,
    /// Computed on first use: every plan's provenance carries it.
    fingerprint: OnceLock<String>,
    /// The tables it was joined from, when built by [`super::tables::problem_from_tables`].
    sources: Option<TableProvenance>,
}

/// The problem file as written on disk, for canonical serialization.
#[derive(Serialize)]
struct ProblemFileOut<'a> {
    schema: &'static str,
    layers: &'a [LayerSpec],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    ties: &'a [Vec<String>],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    transitions: &'a [TransitionSpec],
}

#[derive(Deserialize)]
struct SchemaOnly {
    schema: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProblem {
    #[allow(dead_code)] // checked before the full parse, kept so the field is not "unknown"
    schema: String,
    layers: Vec<RawLayer>,
    #[serde(default)]
    ties: Vec<Vec<String>>,
    #[serde(default)]
    transitions: Vec<TransitionSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    name: String,
    candidates: Vec<RawCandidate>,
}

/// Costs stay raw JSON until checked, so a wrong type is reported with the field's name.
#[derive(Deserialize)]
struct RawCandidate {
    name: String,
    error: serde_json::Value,
    weight_format: Option<String>,
    activation_format: Option<String>,
    #[serde(flatten)]
    costs: BTreeMap<String, serde_json::Value>,
}

impl Problem {
    /// Reads and validates a problem file.
    pub fn load(path: &Path) -> Result<Problem, SearchError> {
        let text = std::fs::read_to_string(path).map_err(|source| SearchError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Problem::from_json(&text, &path.display().to_string())
    }

    /// Parses and validates problem JSON; `origin` names the source in error messages.
    pub fn from_json(text: &str, origin: &str) -> Result<Problem, SearchError> {
        let json_error = |source| SearchError::Json {
            origin: origin.to_string(),
            source,
        };
        let tag: SchemaOnly = serde_json::from_str(text).map_err(json_error)?;
        let found = match tag.schema {
            Some(serde_json::Value::String(schema)) if schema == PROBLEM_SCHEMA => None,
            Some(serde_json::Value::String(schema)) => Some(format!("{schema:?}")),
            Some(other) => Some(other.to_string()),
            None => Some("missing".to_string()),
        };
        if let Some(found) = found {
            return Err(SearchError::Schema {
                origin: origin.to_string(),
                found,
                expected: PROBLEM_SCHEMA,
            });
        }
        let raw: RawProblem = serde_json::from_str(text).map_err(json_error)?;
        let layers = raw
            .layers
            .into_iter()
            .map(|layer| layer_from_raw(layer, origin))
            .collect::<Result<Vec<_>, _>>()?;
        Problem::new(origin, layers, raw.ties, raw.transitions)
    }

    /// Builds a problem from plain values (e.g. a sensitivity table joined with a cost table).
    /// `ties` are groups of layer names that must take the same candidate name.
    pub fn new(
        origin: &str,
        layers: Vec<LayerSpec>,
        ties: Vec<Vec<String>>,
        transitions: Vec<TransitionSpec>,
    ) -> Result<Problem, SearchError> {
        let metrics = validate_layers(origin, &layers)?;
        let groups = resolve_ties(origin, &layers, &ties)?;
        let edges = validate_transitions(origin, &layers, &metrics, &transitions)?;
        let decisions = Decisions::compile(&layers, &metrics, &groups, &edges);
        Ok(Problem {
            origin: origin.to_string(),
            metrics,
            layers,
            ties,
            transitions,
            decisions,
            fingerprint: OnceLock::new(),
            sources: None,
        })
    }

    /// The same problem, recording the tables it was built from (plans and fronts carry them).
    pub fn with_sources(self, sources: TableProvenance) -> Problem {
        Problem {
            sources: Some(sources),
            ..self
        }
    }

    /// The tables the problem was built from, if any.
    pub fn sources(&self) -> Option<&TableProvenance> {
        self.sources.as_ref()
    }

    /// Where the problem came from (the file path, or what built it).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The cost metric names, sorted.
    pub fn metrics(&self) -> &[String] {
        &self.metrics
    }

    pub fn metric_index(&self, metric: &str) -> Option<usize> {
        self.metrics.iter().position(|known| known == metric)
    }

    pub fn layers(&self) -> &[LayerSpec] {
        &self.layers
    }

    pub fn ties(&self) -> &[Vec<String>] {
        &self.ties
    }

    pub fn transitions(&self) -> &[TransitionSpec] {
        &self.transitions
    }

    pub(crate) fn decisions(&self) -> &Decisions {
        &self.decisions
    }

    /// The problem file text, canonical: sorted metric keys, no insignificant whitespace.
    pub fn to_json(&self) -> String {
        let file = ProblemFileOut {
            schema: PROBLEM_SCHEMA,
            layers: &self.layers,
            ties: &self.ties,
            transitions: &self.transitions,
        };
        // Serializing plain strings, finite floats and maps with string keys cannot fail.
        serde_json::to_string(&file).unwrap_or_default()
    }

    /// sha256 of [`Problem::to_json`], hex: identifies the problem in plan provenance.
    pub fn fingerprint(&self) -> String {
        self.fingerprint
            .get_or_init(|| {
                let digest = Sha256::digest(self.to_json().as_bytes());
                digest.iter().map(|byte| format!("{byte:02x}")).collect()
            })
            .clone()
    }
}

fn layer_from_raw(raw: RawLayer, origin: &str) -> Result<LayerSpec, SearchError> {
    let candidates = raw
        .candidates
        .into_iter()
        .map(|candidate| candidate_from_raw(candidate, &raw.name, origin))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(LayerSpec {
        name: raw.name,
        candidates,
    })
}

fn candidate_from_raw(
    raw: RawCandidate,
    layer: &str,
    origin: &str,
) -> Result<CandidateSpec, SearchError> {
    let number = |field: &str, value: &serde_json::Value| {
        value
            .as_f64()
            .ok_or_else(|| SearchError::BadCandidateValue {
                origin: origin.to_string(),
                layer: layer.to_string(),
                candidate: raw.name.clone(),
                field: field.to_string(),
                value: value.to_string(),
                expected: Expected::Number,
            })
    };
    let error = number("error", &raw.error)?;
    let costs = raw
        .costs
        .iter()
        .map(|(metric, value)| Ok((metric.clone(), number(metric, value)?)))
        .collect::<Result<BTreeMap<_, _>, SearchError>>()?;
    Ok(CandidateSpec {
        name: raw.name.clone(),
        error,
        weight_format: raw.weight_format,
        activation_format: raw.activation_format,
        costs,
    })
}

/// Checks names and numbers; returns the cost metric names (sorted).
fn validate_layers(origin: &str, layers: &[LayerSpec]) -> Result<Vec<String>, SearchError> {
    let first = layers
        .first()
        .and_then(|layer| layer.candidates.first())
        .map(|candidate| candidate.costs.keys().cloned().collect::<Vec<_>>());
    let Some(metrics) = first else {
        return match layers.first() {
            None => Err(SearchError::NoLayers {
                origin: origin.to_string(),
            }),
            Some(layer) => Err(SearchError::NoCandidates {
                origin: origin.to_string(),
                layer: layer.name.clone(),
            }),
        };
    };
    let mut seen = std::collections::BTreeSet::new();
    for layer in layers {
        if !seen.insert(layer.name.as_str()) {
            return Err(SearchError::DuplicateLayer {
                origin: origin.to_string(),
                layer: layer.name.clone(),
            });
        }
        validate_layer(origin, layer, &metrics)?;
    }
    Ok(metrics)
}

fn validate_layer(origin: &str, layer: &LayerSpec, metrics: &[String]) -> Result<(), SearchError> {
    if layer.candidates.is_empty() {
        return Err(SearchError::NoCandidates {
            origin: origin.to_string(),
            layer: layer.name.clone(),
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    for candidate in &layer.candidates {
        if !seen.insert(candidate.name.as_str()) {
            return Err(SearchError::DuplicateCandidate {
                origin: origin.to_string(),
                layer: layer.name.clone(),
                candidate: candidate.name.clone(),
            });
        }
        validate_candidate(origin, &layer.name, candidate, metrics)?;
    }
    Ok(())
}

fn validate_candidate(
    origin: &str,
    layer: &str,
    candidate: &CandidateSpec,
    metrics: &[String],
) -> Result<(), SearchError> {
    let bad = |field: &str, value: f64, expected: Expected| SearchError::BadCandidateValue {
        origin: origin.to_string(),
        layer: layer.to_string(),
        candidate: candidate.name.clone(),
        field: field.to_string(),
        value: value.to_string(),
        expected,
    };
    if !candidate.error.is_finite() {
        return Err(bad("error", candidate.error, Expected::FiniteNumber));
    }
    if let Some(reserved) = RESERVED_FIELDS
        .iter()
        .find(|field| candidate.costs.contains_key(**field))
    {
        let value = candidate.costs[*reserved];
        return Err(bad(reserved, value, Expected::UnreservedName));
    }
    for (metric, &value) in &candidate.costs {
        if !value.is_finite() || value < 0.0 {
            return Err(bad(metric, value, Expected::FiniteCost));
        }
    }
    check_metric_names(origin, layer, candidate, metrics)
}

fn check_metric_names(
    origin: &str,
    layer: &str,
    candidate: &CandidateSpec,
    metrics: &[String],
) -> Result<(), SearchError> {
    if candidate.costs.is_empty() {
        return Err(SearchError::NoMetrics {
            origin: origin.to_string(),
            layer: layer.to_string(),
            candidate: candidate.name.clone(),
        });
    }
    if candidate.costs.keys().eq(metrics.iter()) {
        return Ok(());
    }
    let names: Vec<&str> = candidate.costs.keys().map(String::as_str).collect();
    Err(SearchError::MetricMismatch {
        origin: origin.to_string(),
        layer: layer.to_string(),
        candidate: candidate.name.clone(),
        found: names.join(", "),
        expected: metrics.join(", "),
    })
}
