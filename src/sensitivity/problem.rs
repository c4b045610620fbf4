//! The sensitivity table as a search problem file (schema `bitplan.problem/1`, read by
//! `search::Problem`): per layer, its candidates with the measured mean error as the error column
//! and the weight storage as a cost (`weight_bytes` = stored bits per element × elements / 8).
//! Hardware costs (latency, energy) are added by the hardware stage's cost table.

use serde::Serialize;

use super::table::SensitivityTable;

/// The problem schema this writes.
pub const PROBLEM_SCHEMA: &str = "bitplan.problem/1";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProblemCandidate {
    pub name: String,
    pub error: f64,
    pub weight_format: String,
    pub activation_format: String,
    pub weight_bytes: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProblemLayer {
    pub name: String,
    pub candidates: Vec<ProblemCandidate>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProblemFile {
    pub schema: &'static str,
    pub layers: Vec<ProblemLayer>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ties: Vec<Vec<String>>,
}

/// The problem of choosing one candidate per layer of `table`.
pub fn to_problem(table: &SensitivityTable) -> ProblemFile {
    let layers = table
        .layers()
        .into_iter()
        .map(|layer| ProblemLayer {
            candidates: table
                .layer_cells(&layer)
                .map(|cell| ProblemCandidate {
                    name: cell.candidate.clone(),
                    error: cell.error.mean,
                    weight_format: cell.weight_format.clone(),
                    activation_format: cell.activation_format.clone(),
                    weight_bytes: cell.weight_bits * cell.weight_elements as f64 / 8.0,
                })
                .collect(),
            name: layer,
        })
        .collect();
    ProblemFile {
        schema: PROBLEM_SCHEMA,
        layers,
        ties: table.ties.iter().map(|tie| tie.layers.clone()).collect(),
    }
}
