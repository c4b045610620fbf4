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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sensitivity::stats::Estimate;
    use crate::sensitivity::table::{Cell, Provenance, Proxies, SENSITIVITY_SCHEMA};
    use crate::space::TieSet;

    fn cell(index: usize, layer: &str, candidate: &str, mean: f64, bits: f64) -> Cell {
        Cell {
            index,
            layer: layer.into(),
            candidate: candidate.into(),
            weight_format: "int8-sym-pc".into(),
            activation_format: "fp32".into(),
            weight_bits: bits,
            weight_elements: 16,
            error: Estimate::from_values(&[mean]),
            proxies: Proxies::default(),
        }
    }

    #[test]
    fn one_problem_layer_per_table_layer_with_error_and_bytes() {
        let provenance = Provenance {
            bitplan_version: "0".into(),
            model: "m".into(),
            model_hash: String::new(),
            calib_hash: String::new(),
            calib_samples: 1,
            calib_batches: 1,
            space: "s".into(),
            space_hash: String::new(),
            metric: "kl".into(),
            proxies: vec![],
            hutchinson_probes: 0,
            seed: 0,
        };
        let table = SensitivityTable {
            schema: SENSITIVITY_SCHEMA.into(),
            provenance,
            shard: None,
            total_cells: 3,
            ties: vec![TieSet {
                name: "t".into(),
                layers: vec!["a".into(), "b".into()],
            }],
            cells: vec![
                cell(0, "a", "w8", 0.5, 8.0),
                cell(1, "a", "w4", 2.0, 4.0),
                cell(2, "b", "w8", 1.0, 8.0),
            ],
        };
        let problem = to_problem(&table);
        assert_eq!(problem.layers.len(), 2);
        assert_eq!(problem.layers[0].candidates[1].error, 2.0);
        assert_eq!(problem.layers[0].candidates[1].weight_bytes, 8.0);
        assert_eq!(problem.ties, vec![vec!["a".to_string(), "b".to_string()]]);
    }
}
