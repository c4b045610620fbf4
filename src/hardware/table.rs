//! The cost table: every layer of a graph priced in every candidate of a search space on one
//! profile, plus transition matrices for adjacent layers. The search reads it (metric names
//! `latency_us`, `weight_bytes`, `activation_bytes`, `peak_memory_bytes`, `energy_uj`,
//! `weight_bits`); reports plot it.

use serde::{Deserialize, Serialize};

use super::cost::{price, FormatBits, LayerCost};
use super::dispatch::{dispatch_for, Dispatch};
use super::error::HardwareError;
use super::profile::Profile;
use super::transition::{transition_cost, Side};
use super::workload::Workload;
use crate::model::{Graph, Layer, OpKind};
use crate::space::ResolvedSpace;

/// The `schema` of a cost table file.
pub const SCHEMA: &str = "bitplan.cost/1";

/// The cost metrics, in the order tables, problem files and reports list them.
pub const METRICS: [&str; 6] = [
    "latency_us",
    "weight_bytes",
    "activation_bytes",
    "peak_memory_bytes",
    "energy_uj",
    "weight_bits",
];

/// Where the cost model learns how many bits a format spends per element. The quant module's
/// format table implements it ([`super::formats::QuantCatalog`]); tests may use a small map.
pub trait FormatCatalog {
    /// Bits per element, scales and zero points included, of a weight of `shape` stored in
    /// `format`; `Err(reason)` when the format cannot take that shape or is unknown.
    fn weight_bits(&self, format: &str, shape: &[usize]) -> Result<f64, String>;
    /// The same for an activation of `shape` (per sample); `Err` for weight-only formats.
    fn activation_bits(&self, format: &str, shape: &[usize]) -> Result<f64, String>;
}

/// A candidate by format names (what a search space's candidate reduces to here).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateFormats {
    pub name: String,
    pub weight_format: String,
    pub activation_format: String,
    /// Weight format for layers whose shape the preferred one cannot take (as `--uniform w4a16`
    /// falls back to per-channel where rows do not split into groups of 128).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_fallback: Option<String>,
}

/// One candidate's price on one layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateCost {
    pub candidate: String,
    #[serde(flatten)]
    pub cost: LayerCost,
    /// This layer's share of the model's average bits per weight: stored bits per element x
    /// this layer's weight elements / all layers' weight elements. Summed over layers it is the
    /// average bits per weight, so `weight_bits <= 4.5` is an average-bit budget.
    pub weight_bits: f64,
}

/// A candidate a layer cannot take, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unavailable {
    pub candidate: String,
    pub reason: String,
}

/// One layer's row of the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerCosts {
    pub name: String,
    pub op: OpKind,
    pub workload: Workload,
    /// The candidates this layer can take, in the space's order (transition matrices index this).
    pub costs: Vec<CandidateCost>,
    pub unavailable: Vec<Unavailable>,
}

/// Cost of activations crossing one edge: rows = producer's available candidates, columns =
/// consumer's, in their `costs` order (the problem file's `transitions` entries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransitionMatrix {
    pub from: String,
    pub to: String,
    pub metric: String,
    pub cost: Vec<Vec<f64>>,
}

/// The whole table, as written to `cost.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostTable {
    pub schema: String,
    pub profile: String,
    pub model: String,
    pub batch: u64,
    pub seq: u64,
    pub metrics: Vec<String>,
    pub candidates: Vec<CandidateFormats>,
    pub layers: Vec<LayerCosts>,
    pub transitions: Vec<TransitionMatrix>,
}

/// A priced (layer, candidate) with what the transitions need.
struct Priced {
    dispatch: Dispatch,
    activation_bits: f64,
}

/// Prices every layer of `graph` in every candidate at `batch` (and `seq` tokens per sample for
/// per-token models; must be 1 for others).
pub fn cost_table(
    profile: &Profile,
    graph: &Graph,
    candidates: &[CandidateFormats],
    catalog: &dyn FormatCatalog,
    batch: u64,
    seq: u64,
) -> Result<CostTable, HardwareError> {
    let per_layer = vec![candidates.to_vec(); graph.layers.len()];
    let excluded = vec![Vec::new(); graph.layers.len()];
    build(
        profile,
        graph,
        candidates,
        (&per_layer, &excluded),
        catalog,
        (batch, seq),
    )
}

/// Like [`cost_table`], but each layer gets only the candidates a search space admits for it
/// ([`crate::space::resolve`]); the others are listed in the layer's `unavailable` with the
/// space's reason. The table's `candidates` are the union, in the order first met.
pub fn cost_table_for_space(
    profile: &Profile,
    graph: &Graph,
    space: &ResolvedSpace,
    catalog: &dyn FormatCatalog,
    batch: u64,
    seq: u64,
) -> Result<CostTable, HardwareError> {
    let mut union: Vec<CandidateFormats> = Vec::new();
    let mut per_layer = Vec::new();
    let mut excluded = Vec::new();
    for layer in &graph.layers {
        let resolved = space
            .layers
            .iter()
            .find(|r| r.name == layer.name)
            .ok_or_else(|| HardwareError::Layer {
                layer: layer.name.clone(),
                message: format!("search space {} does not cover this layer", space.space),
            })?;
        let formats: Vec<CandidateFormats> = resolved
            .candidates
            .iter()
            .map(CandidateFormats::from)
            .collect();
        for candidate in &formats {
            if !union.iter().any(|u| u.name == candidate.name) {
                union.push(candidate.clone());
            }
        }
        per_layer.push(formats);
        excluded.push(
            resolved
                .excluded
                .iter()
                .map(|e| Unavailable {
                    candidate: e.candidate.clone(),
                    reason: format!("search space: {}", e.reason),
                })
                .collect(),
        );
    }
    build(
        profile,
        graph,
        &union,
        (&per_layer, &excluded),
        catalog,
        (batch, seq),
    )
}

/// Per layer: the candidates to price, and those the space already excluded.
type LayerCandidates<'a> = (&'a [Vec<CandidateFormats>], &'a [Vec<Unavailable>]);

fn build(
    profile: &Profile,
    graph: &Graph,
    candidates: &[CandidateFormats],
    (per_layer, excluded): LayerCandidates,
    catalog: &dyn FormatCatalog,
    (batch, seq): (u64, u64),
) -> Result<CostTable, HardwareError> {
    let samples = samples(graph, batch, seq)?;
    let total_weights: u64 = graph.layers.iter().map(weight_elements).sum();
    let mut layers = Vec::new();
    let mut priced: Vec<Vec<Priced>> = Vec::new();
    for (index, layer) in graph.layers.iter().enumerate() {
        let work = Workload::from_layer(layer, samples)?;
        let (mut row, extras) = price_layer(
            profile,
            layer,
            &work,
            &per_layer[index],
            catalog,
            total_weights,
        )?;
        row.unavailable.extend(excluded[index].iter().cloned());
        layers.push(row);
        priced.push(extras);
    }
    let transitions = transitions(profile, graph, &layers, &priced);
    Ok(CostTable {
        schema: SCHEMA.to_string(),
        profile: profile.name.clone(),
        model: graph.model.clone(),
        batch,
        seq,
        metrics: METRICS.iter().map(|m| m.to_string()).collect(),
        candidates: candidates.to_vec(),
        layers,
        transitions,
    })
}

fn samples(graph: &Graph, batch: u64, seq: u64) -> Result<u64, HardwareError> {
    if batch == 0 || seq == 0 {
        return Err(HardwareError::Model {
            model: graph.model.clone(),
            message: format!("batch {batch} and seq {seq} must both be >= 1"),
        });
    }
    if graph.sample_unit != "token" && seq != 1 {
        return Err(HardwareError::Model {
            model: graph.model.clone(),
            message: format!(
                "--seq {seq} applies to per-token models; this model's sample unit is `{}` (use --seq 1)",
                graph.sample_unit
            ),
        });
    }
    Ok(batch * seq)
}

fn weight_elements(layer: &Layer) -> u64 {
    if layer.weight_shape.is_empty() {
        0
    } else {
        layer.weight_shape.iter().map(|&d| d as u64).product()
    }
}

fn price_layer(
    profile: &Profile,
    layer: &Layer,
    work: &Workload,
    candidates: &[CandidateFormats],
    catalog: &dyn FormatCatalog,
    total_weights: u64,
) -> Result<(LayerCosts, Vec<Priced>), HardwareError> {
    let mut costs = Vec::new();
    let mut extras = Vec::new();
    let mut unavailable = Vec::new();
    for candidate in candidates {
        match price_candidate(profile, layer, work, candidate, catalog, total_weights) {
            Ok((cost, extra)) => {
                costs.push(cost);
                extras.push(extra);
            }
            Err(reason) => unavailable.push(Unavailable {
                candidate: candidate.name.clone(),
                reason,
            }),
        }
    }
    if costs.is_empty() {
        let reasons: Vec<String> = unavailable
            .iter()
            .map(|u| format!("{}: {}", u.candidate, u.reason))
            .collect();
        return Err(HardwareError::Layer {
            layer: layer.name.clone(),
            message: format!(
                "no candidate runs on profile {}: {}",
                profile.name,
                reasons.join("; ")
            ),
        });
    }
    let row = LayerCosts {
        name: layer.name.clone(),
        op: layer.op,
        workload: work.clone(),
        costs,
        unavailable,
    };
    Ok((row, extras))
}

fn price_candidate(
    profile: &Profile,
    layer: &Layer,
    work: &Workload,
    candidate: &CandidateFormats,
    catalog: &dyn FormatCatalog,
    total_weights: u64,
) -> Result<(CandidateCost, Priced), String> {
    let has_weight = work.weight_elements > 0;
    // A weightless op multiplies two activations: both run in the activation format.
    let weight_format = if has_weight {
        admissible_weight(candidate, &layer.weight_shape, catalog)?
    } else {
        candidate.activation_format.clone()
    };
    catalog.activation_bits(&candidate.activation_format, &layer.input_shape)?;
    let mut dispatched = dispatch_for(profile, work, &weight_format, &candidate.activation_format)
        .map_err(|e| e.to_string())?;
    if has_weight && weight_format != candidate.weight_format {
        let note = format!(
            "{} does not fit weight shape {:?}: {weight_format} instead",
            candidate.weight_format, layer.weight_shape
        );
        dispatched.notes.insert(0, note);
    }
    let weight_bits = if has_weight {
        catalog.weight_bits(&dispatched.stored_weight, &layer.weight_shape)?
    } else {
        0.0
    };
    let activation_bits =
        catalog.activation_bits(&dispatched.run_activation, &layer.input_shape)?;
    let bits = FormatBits {
        stored_weight: weight_bits,
        run_activation: activation_bits,
    };
    let cost = price(profile, work, &dispatched, bits);
    let share = if total_weights == 0 {
        0.0
    } else {
        weight_bits * work.weight_elements as f64 / total_weights as f64
    };
    let priced = CandidateCost {
        candidate: candidate.name.clone(),
        cost,
        weight_bits: share,
    };
    Ok((
        priced,
        Priced {
            dispatch: dispatched,
            activation_bits,
        },
    ))
}

/// The candidate's weight format, or its fallback where the preferred one does not fit `shape`.
fn admissible_weight(
    candidate: &CandidateFormats,
    shape: &[usize],
    catalog: &dyn FormatCatalog,
) -> Result<String, String> {
    match catalog.weight_bits(&candidate.weight_format, shape) {
        Ok(_) => Ok(candidate.weight_format.clone()),
        Err(reason) => match &candidate.weight_fallback {
            Some(fallback) => catalog
                .weight_bits(fallback, shape)
                .map(|_| fallback.clone()),
            None => Err(reason),
        },
    }
}

fn transitions(
    profile: &Profile,
    graph: &Graph,
    layers: &[LayerCosts],
    priced: &[Vec<Priced>],
) -> Vec<TransitionMatrix> {
    let mut matrices = Vec::new();
    for (from, layer) in graph.layers.iter().enumerate() {
        for consumer in &layer.outputs_to {
            let Some(to) = graph.layers.iter().position(|l| &l.name == consumer) else {
                continue;
            };
            let elements = layers[from].workload.output_elements;
            let mut latency = Vec::new();
            let mut energy = Vec::new();
            for producer in &priced[from] {
                let cells: Vec<_> = priced[to]
                    .iter()
                    .map(|consumer| {
                        let p = Side {
                            dispatch: &producer.dispatch,
                            activation_bits: producer.activation_bits,
                        };
                        let c = Side {
                            dispatch: &consumer.dispatch,
                            activation_bits: consumer.activation_bits,
                        };
                        transition_cost(profile, p, c, elements)
                    })
                    .collect();
                latency.push(cells.iter().map(|cell| cell.latency_us).collect());
                energy.push(cells.iter().map(|cell| cell.energy_uj).collect());
            }
            for (metric, cost) in [("latency_us", latency), ("energy_uj", energy)] {
                matrices.push(TransitionMatrix {
                    from: layer.name.clone(),
                    to: consumer.clone(),
                    metric: metric.to_string(),
                    cost,
                });
            }
        }
    }
    matrices
}
