//! The sensitivity table (schema `bitplan.sensitivity/1`): per (layer, candidate) the measured
//! error with its confidence interval and the proxies, plus the provenance that identifies the
//! analysis (used to refuse mixing journals and shards of different analyses).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::stats::Estimate;
use crate::space::TieSet;

pub const SENSITIVITY_SCHEMA: &str = "bitplan.sensitivity/1";

/// What identifies an analysis: two tables with equal provenance measured the same thing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub bitplan_version: String,
    pub model: String,
    /// sha256 of every layer's fp32 weight (layer order, little-endian f32).
    pub model_hash: String,
    /// sha256 of the calibration batches (little-endian f32).
    pub calib_hash: String,
    pub calib_samples: usize,
    pub calib_batches: usize,
    pub space: String,
    /// sha256 of the resolved space (layers, candidates, ties).
    pub space_hash: String,
    pub metric: String,
    pub proxies: Vec<String>,
    pub hutchinson_probes: usize,
    pub seed: u64,
}

/// Which slice of the cells a table holds: cells with `index % count == index_1based - 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 1-based.
    pub index: usize,
    pub count: usize,
}

/// Proxy values of one cell (absent when the proxy was not requested).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Proxies {
    /// ‖Q(W) − W‖² / n.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_mse: Option<f64>,
    /// 10·log10(‖W‖² / ‖Q(W) − W‖²) dB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_sqnr_db: Option<f64>,
    /// Diagonal empirical Fisher: Σ_batches Σ_i (∂L/∂W_i)² · (Q(W)_i − W_i)².
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fisher: Option<f64>,
    /// HAWQ-V2: Tr(H)/n · ‖Q(W) − W‖², Tr(H) by Hutchinson probes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hessian: Option<f64>,
}

/// One measured (layer, candidate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Position in the full cell list (layer order, then candidate order).
    pub index: usize,
    pub layer: String,
    pub candidate: String,
    pub weight_format: String,
    pub activation_format: String,
    /// Stored weight bits per element of this layer in this candidate (0 for weightless layers).
    pub weight_bits: f64,
    /// Elements of the weight (0 for weightless layers).
    pub weight_elements: usize,
    pub error: Estimate,
    pub proxies: Proxies,
}

/// The analysis result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensitivityTable {
    pub schema: String,
    pub provenance: Provenance,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// Cells in the full list (all shards together).
    pub total_cells: usize,
    pub ties: Vec<TieSet>,
    pub cells: Vec<Cell>,
}

impl SensitivityTable {
    /// The cells of `layer`, in candidate order.
    pub fn layer_cells<'a>(&'a self, layer: &'a str) -> impl Iterator<Item = &'a Cell> + 'a {
        self.cells.iter().filter(move |cell| cell.layer == layer)
    }

    /// Candidate names in the order first met (the space's order).
    pub fn candidates(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for cell in &self.cells {
            if !names.contains(&cell.candidate) {
                names.push(cell.candidate.clone());
            }
        }
        names
    }

    /// Layer names in table order.
    pub fn layers(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for cell in &self.cells {
            if names.last() != Some(&cell.layer) {
                names.push(cell.layer.clone());
            }
        }
        names
    }
}

/// Hex sha256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether shard `shard` holds item `index` (the analysis shards groups of cells).
pub fn in_shard(shard: Option<Shard>, index: usize) -> bool {
    shard.is_none_or(|shard| index % shard.count == shard.index - 1)
}
