//! The search problem built from the pipeline's tables: a sensitivity table (per layer ×
//! candidate, the measured error), a cost table (the same on one hardware profile: latency,
//! bytes, energy, bits, plus transition matrices) and the search space they were built over.
//!
//! Per layer, the problem's candidates are the space's admissible candidates that the profile can
//! run (the cost table's `unavailable` ones are dropped), in the space's order. A candidate's
//! error is one column of the sensitivity table ([`ErrorColumn`]); its costs are the cost table's
//! metrics ([`crate::hardware::METRICS`]); its formats are the ones the analysis measured. Cost
//! candidates are matched to space candidates by name, else by formats (so a cost table priced
//! with `--candidate int8-sym-pc:fp32` serves a space that calls that candidate `w8`). Tie groups
//! come from the space; transition matrices are re-indexed to the problem's candidate order.
//!
//! The tables must agree: same model, the sensitivity table analyzed over this space (its
//! recorded space sha256), every layer and candidate present in both. Every disagreement is a
//! [`TableError`] that names the files, the layer and the candidate.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::error::SearchError;
use super::problem::{CandidateSpec, LayerSpec, Problem};
use super::tables_error::TableError;
use super::tables_links::{restrict_ties, transitions};
use crate::hardware::table::{CandidateCost, CandidateFormats, CostTable, LayerCosts, METRICS};
use crate::sensitivity::table::sha256_hex;
use crate::sensitivity::{Cell, SensitivityTable};
use crate::space::{Candidate, ResolvedLayer, ResolvedSpace};

/// Which number of the sensitivity table is a candidate's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorColumn {
    /// The measured output error, mean over calibration batches (the default).
    Mean,
    /// The upper end of the measured error's 95% interval (a cautious plan).
    Ci95High,
    /// Weight MSE proxy, ‖Q(W) − W‖² / n (needs `analyze --proxy weight`).
    WeightMse,
    /// Diagonal Fisher proxy (needs `analyze --proxy fisher`).
    Fisher,
    /// HAWQ-V2 Hessian-trace proxy (needs `analyze --proxy hessian`).
    Hessian,
}

impl ErrorColumn {
    fn name(self) -> &'static str {
        match self {
            ErrorColumn::Mean => "mean",
            ErrorColumn::Ci95High => "ci95-high",
            ErrorColumn::WeightMse => "weight-mse",
            ErrorColumn::Fisher => "fisher",
            ErrorColumn::Hessian => "hessian",
        }
    }

    /// The value of this column in `cell`; `Err(proxy flag)` when the proxy was not computed.
    fn value(self, cell: &Cell) -> Result<f64, &'static str> {
        let proxies = &cell.proxies;
        match self {
            ErrorColumn::Mean => Ok(cell.error.mean),
            ErrorColumn::Ci95High => Ok(cell.error.ci95_high),
            ErrorColumn::WeightMse => proxies.weight_mse.ok_or("weight"),
            ErrorColumn::Fisher => proxies.fisher.ok_or("fisher"),
            ErrorColumn::Hessian => proxies.hessian.ok_or("hessian"),
        }
    }
}

/// The three inputs, each with the file it was read from (for messages and provenance).
#[derive(Debug, Clone, Copy)]
pub struct Tables<'a> {
    pub sensitivity: &'a SensitivityTable,
    pub sensitivity_file: &'a str,
    pub costs: &'a CostTable,
    pub cost_file: &'a str,
    pub space: &'a ResolvedSpace,
}

/// Where a problem built from tables came from; plans and fronts carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableProvenance {
    pub sensitivity: String,
    pub model: String,
    pub model_hash: String,
    pub calib_hash: String,
    pub calib_samples: usize,
    pub sensitivity_metric: String,
    pub error_column: ErrorColumn,
    pub space: String,
    pub space_hash: String,
    pub costs: String,
    pub profile: String,
    /// sha256 of the cost table's canonical JSON (the profile's numbers as priced).
    pub cost_table_sha256: String,
    /// sha256 of the hardware profile's TOML text, when the caller priced it from the profile
    /// (a cost table read from a file does not say which text it came from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_sha256: Option<String>,
    pub batch: u64,
    pub seq: u64,
}

/// Joins the tables into a validated [`Problem`] (see the module doc).
pub fn problem_from_tables(tables: Tables, column: ErrorColumn) -> Result<Problem, SearchError> {
    check_identity(&tables)?;
    check_layers(&tables)?;
    let mut rows = Vec::new();
    for layer in &tables.space.layers {
        rows.push(join_layer(&tables, layer, column)?);
    }
    let ties: Vec<Vec<String>> = tables
        .space
        .ties
        .iter()
        .map(|tie| tie.layers.clone())
        .collect();
    restrict_ties(&mut rows, &ties);
    let transitions = transitions(&tables, &rows)?;
    let layers = rows.into_iter().map(|row| row.spec).collect();
    let problem = Problem::new(&origin(&tables), layers, ties, transitions)?;
    Ok(problem.with_sources(provenance(&tables, column)))
}

/// The problem a sensitivity table alone defines: per layer its measured candidates, error from
/// `column`, and one cost, the stored weight size (`weight_bytes` = bits per element × elements /
/// 8); tie groups restricted to the candidates every member has. What `analyze --problem` writes
/// before any hardware profile is priced; [`problem_from_tables`] adds the hardware costs.
pub fn problem_from_sensitivity(
    table: &SensitivityTable,
    file: &str,
    column: ErrorColumn,
) -> Result<Problem, SearchError> {
    let mut rows = Vec::new();
    for layer in table.layers() {
        let mut spec = LayerSpec {
            name: layer.clone(),
            candidates: Vec::new(),
        };
        for cell in table.layer_cells(&layer) {
            let error = column
                .value(cell)
                .map_err(|proxy| TableError::ProxyMissing {
                    sensitivity: file.to_string(),
                    layer: cell.layer.clone(),
                    candidate: cell.candidate.clone(),
                    column: column.name().to_string(),
                    proxy,
                })?;
            let bytes = cell.weight_bits * cell.weight_elements as f64 / 8.0;
            spec.candidates.push(CandidateSpec {
                name: cell.candidate.clone(),
                error,
                weight_format: Some(cell.weight_format.clone()),
                activation_format: Some(cell.activation_format.clone()),
                costs: BTreeMap::from([("weight_bytes".to_string(), bytes)]),
            });
        }
        let cost_rows = (0..spec.candidates.len()).collect();
        rows.push(JoinedLayer { spec, cost_rows });
    }
    let ties: Vec<Vec<String>> = table.ties.iter().map(|t| t.layers.clone()).collect();
    restrict_ties(&mut rows, &ties);
    let layers = rows.into_iter().map(|row| row.spec).collect();
    Problem::new(file, layers, ties, Vec::new())
}

fn origin(tables: &Tables) -> String {
    format!(
        "{} + {} ({}) + {}",
        tables.sensitivity_file, tables.cost_file, tables.costs.profile, tables.space.space
    )
}

fn provenance(tables: &Tables, column: ErrorColumn) -> TableProvenance {
    let sens = &tables.sensitivity.provenance;
    // A cost table is plain numbers and strings: serializing it cannot fail.
    let cost_json = serde_json::to_vec(tables.costs).unwrap_or_default();
    TableProvenance {
        sensitivity: tables.sensitivity_file.to_string(),
        model: sens.model.clone(),
        model_hash: sens.model_hash.clone(),
        calib_hash: sens.calib_hash.clone(),
        calib_samples: sens.calib_samples,
        sensitivity_metric: sens.metric.clone(),
        error_column: column,
        space: tables.space.space.clone(),
        space_hash: sens.space_hash.clone(),
        costs: tables.cost_file.to_string(),
        profile: tables.costs.profile.clone(),
        cost_table_sha256: sha256_hex(&cost_json),
        profile_sha256: None,
        batch: tables.costs.batch,
        seq: tables.costs.seq,
    }
}

/// Same model everywhere, a whole (merged) table, analyzed over this very space.
fn check_identity(tables: &Tables) -> Result<(), TableError> {
    let sens = tables.sensitivity;
    if let Some(shard) = sens.shard {
        return Err(TableError::Sharded {
            sensitivity: tables.sensitivity_file.to_string(),
            index: shard.index,
            count: shard.count,
        });
    }
    let model = &sens.provenance.model;
    if model != &tables.costs.model || model != &tables.space.model {
        return Err(TableError::ModelMismatch {
            sensitivity: tables.sensitivity_file.to_string(),
            sensitivity_model: model.clone(),
            costs: tables.cost_file.to_string(),
            cost_model: tables.costs.model.clone(),
            space: tables.space.space.clone(),
            space_model: tables.space.model.clone(),
        });
    }
    // The same hash `bitplan analyze` records.
    let actual = tables.space.content_sha256();
    if actual != sens.provenance.space_hash {
        return Err(TableError::SpaceMismatch {
            sensitivity: tables.sensitivity_file.to_string(),
            space: tables.space.space.clone(),
            recorded_space: sens.provenance.space.clone(),
            recorded: sens.provenance.space_hash.clone(),
            actual,
        });
    }
    Ok(())
}

/// Every layer of the space in both tables, and no layer of the cost table outside the space.
fn check_layers(tables: &Tables) -> Result<(), TableError> {
    let space: Vec<&str> = tables
        .space
        .layers
        .iter()
        .map(|l| l.name.as_str())
        .collect();
    let sens: BTreeSet<String> = tables.sensitivity.layers().into_iter().collect();
    let costs: BTreeSet<&str> = tables
        .costs
        .layers
        .iter()
        .map(|l| l.name.as_str())
        .collect();
    let missing = |present: &dyn Fn(&str) -> bool| -> Vec<&str> {
        space
            .iter()
            .copied()
            .filter(|name| !present(name))
            .collect()
    };
    let missing_sens = missing(&|name| sens.contains(name));
    if !missing_sens.is_empty() {
        return Err(TableError::LayersMissing {
            file: tables.sensitivity_file.to_string(),
            space: tables.space.space.clone(),
            layers: missing_sens.join(", "),
            hint: "rerun `bitplan analyze` over this space",
        });
    }
    let missing_costs = missing(&|name| costs.contains(name));
    if !missing_costs.is_empty() {
        return Err(TableError::LayersMissing {
            file: tables.cost_file.to_string(),
            space: tables.space.space.clone(),
            layers: missing_costs.join(", "),
            hint: "rerun `bitplan cost` for this model",
        });
    }
    let extra: Vec<&str> = costs
        .iter()
        .copied()
        .filter(|name| !space.contains(name))
        .collect();
    if !extra.is_empty() {
        return Err(TableError::LayersExtra {
            file: tables.cost_file.to_string(),
            space: tables.space.space.clone(),
            layers: extra.join(", "),
        });
    }
    Ok(())
}

/// One layer of the problem, with each candidate's row index in the cost table's `costs`.
pub(super) struct JoinedLayer {
    pub spec: LayerSpec,
    pub cost_rows: Vec<usize>,
}

fn join_layer(
    tables: &Tables,
    layer: &ResolvedLayer,
    column: ErrorColumn,
) -> Result<JoinedLayer, TableError> {
    // check_layers guarantees the row exists.
    let Some(row) = tables.costs.layers.iter().find(|r| r.name == layer.name) else {
        return Err(missing_row(tables, &layer.name));
    };
    let mut spec = LayerSpec {
        name: layer.name.clone(),
        candidates: Vec::new(),
    };
    let mut cost_rows = Vec::new();
    for candidate in &layer.candidates {
        let cell = sensitivity_cell(tables, &layer.name, candidate)?;
        let priced = cost_candidate(tables, cell)?;
        if let Some(index) = row.costs.iter().position(|c| c.candidate == priced.name) {
            spec.candidates
                .push(candidate_spec(tables, cell, &row.costs[index], column)?);
            cost_rows.push(index);
        } else if !row.unavailable.iter().any(|u| u.candidate == priced.name) {
            return Err(candidate_missing(
                tables,
                cell,
                "rerun `bitplan cost` with it",
            ));
        }
    }
    if spec.candidates.is_empty() {
        return Err(nothing_runs(tables, row));
    }
    Ok(JoinedLayer { spec, cost_rows })
}

fn missing_row(tables: &Tables, layer: &str) -> TableError {
    TableError::LayersMissing {
        file: tables.cost_file.to_string(),
        space: tables.space.space.clone(),
        layers: layer.to_string(),
        hint: "rerun `bitplan cost` for this model",
    }
}

fn nothing_runs(tables: &Tables, row: &LayerCosts) -> TableError {
    let reasons: Vec<String> = row
        .unavailable
        .iter()
        .map(|u| format!("{}: {}", u.candidate, u.reason))
        .collect();
    TableError::NothingRuns {
        costs: tables.cost_file.to_string(),
        space: tables.space.space.clone(),
        profile: tables.costs.profile.clone(),
        layer: row.name.clone(),
        reasons: reasons.join("; "),
    }
}

fn sensitivity_cell<'a>(
    tables: &Tables<'a>,
    layer: &str,
    candidate: &Candidate,
) -> Result<&'a Cell, TableError> {
    let sens = tables.sensitivity;
    sens.cells
        .iter()
        .find(|cell| cell.layer == layer && cell.candidate == candidate.name)
        .ok_or_else(|| TableError::CandidateMissing {
            file: tables.sensitivity_file.to_string(),
            space: tables.space.space.clone(),
            layer: layer.to_string(),
            candidate: candidate.name.clone(),
            weight_format: candidate.weight.to_string(),
            activation_format: candidate.activation.to_string(),
            hint: "rerun `bitplan analyze` over this space",
        })
}

fn candidate_missing(tables: &Tables, cell: &Cell, hint: &'static str) -> TableError {
    TableError::CandidateMissing {
        file: tables.cost_file.to_string(),
        space: tables.space.space.clone(),
        layer: cell.layer.clone(),
        candidate: cell.candidate.clone(),
        weight_format: cell.weight_format.clone(),
        activation_format: cell.activation_format.clone(),
        hint,
    }
}

/// Whether the cost candidate prices the formats the analysis measured (a weightless layer
/// measures no weight format, so only the activation format counts there).
fn formats_agree(priced: &CandidateFormats, cell: &Cell) -> bool {
    let weight = cell.weight_elements == 0
        || priced.weight_format == cell.weight_format
        || priced.weight_fallback.as_deref() == Some(cell.weight_format.as_str());
    weight && priced.activation_format == cell.activation_format
}

/// The cost table's candidate for a measured cell: the same name (formats must agree), else the
/// first with the same formats.
fn cost_candidate<'a>(
    tables: &Tables<'a>,
    cell: &Cell,
) -> Result<&'a CandidateFormats, TableError> {
    let candidates = &tables.costs.candidates;
    if let Some(named) = candidates.iter().find(|c| c.name == cell.candidate) {
        if formats_agree(named, cell) {
            return Ok(named);
        }
        return Err(TableError::FormatMismatch {
            sensitivity: tables.sensitivity_file.to_string(),
            costs: tables.cost_file.to_string(),
            layer: cell.layer.clone(),
            candidate: cell.candidate.clone(),
            measured: format!("{}:{}", cell.weight_format, cell.activation_format),
            priced: format!("{}:{}", named.weight_format, named.activation_format),
        });
    }
    candidates
        .iter()
        .find(|c| formats_agree(c, cell))
        .ok_or_else(|| {
            candidate_missing(
                tables,
                cell,
                "rerun `bitplan cost` with --candidate WEIGHT:ACTIVATION for it",
            )
        })
}

fn candidate_spec(
    tables: &Tables,
    cell: &Cell,
    priced: &CandidateCost,
    column: ErrorColumn,
) -> Result<CandidateSpec, TableError> {
    let error = column
        .value(cell)
        .map_err(|proxy| TableError::ProxyMissing {
            sensitivity: tables.sensitivity_file.to_string(),
            layer: cell.layer.clone(),
            candidate: cell.candidate.clone(),
            column: column.name().to_string(),
            proxy,
        })?;
    let costs = METRICS
        .iter()
        .map(|metric| (metric.to_string(), metric_value(priced, metric)))
        .collect::<BTreeMap<_, _>>();
    Ok(CandidateSpec {
        name: cell.candidate.clone(),
        error,
        weight_format: Some(cell.weight_format.clone()),
        activation_format: Some(cell.activation_format.clone()),
        costs,
    })
}

/// One of [`METRICS`] of a priced candidate.
fn metric_value(priced: &CandidateCost, metric: &str) -> f64 {
    let cost = &priced.cost;
    match metric {
        "latency_us" => cost.latency_us,
        "weight_bytes" => cost.weight_bytes as f64,
        "activation_bytes" => cost.activation_bytes as f64,
        "peak_memory_bytes" => cost.peak_memory_bytes as f64,
        "energy_uj" => cost.energy_uj,
        _ => priced.weight_bits,
    }
}
