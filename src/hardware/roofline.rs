//! The roofline formulas, as pure functions of plain numbers. Units: MACs, bytes, seconds;
//! throughput in 10^12 operations per second (1 MAC = 2 operations), bandwidth in 10^9 bytes
//! per second, rates in 10^9 elements per second.

use serde::{Deserialize, Serialize};

use super::precision::Precision;
use super::profile::{Dequant, MemoryLevel, Padding, Profile, TensorRole};
use super::workload::Workload;

/// MACs the compute units spend on `work`, padding and wave quantization included.
///
/// Each group's M x N output is cut into tiles of tile_m x tile_n; K is padded to tile_k.
/// tiles = groups · ceil(M / tile_m) · ceil(N / tile_n); tiles run in waves of compute_units,
/// so waves = ceil(tiles / compute_units) and
/// padded = waves · compute_units · tile_m · tile_n · ceil(K / tile_k) · tile_k.
/// With all paddings 1 this is exactly groups · M · N · K.
pub fn padded_macs(work: &Workload, padding: &Padding) -> u64 {
    if work.macs() == 0 {
        return 0;
    }
    let tiles =
        work.groups * work.rows.div_ceil(padding.tile_m) * work.cols.div_ceil(padding.tile_n);
    let waves = tiles.div_ceil(padding.compute_units);
    let depth = work.depth.div_ceil(padding.tile_k) * padding.tile_k;
    waves * padding.compute_units * padding.tile_m * padding.tile_n * depth
}

/// Seconds to compute `macs` at `peak_tera_ops_per_s` and `efficiency`:
/// t = 2 · macs / (peak · 10^12 · efficiency).
pub fn compute_seconds(macs: u64, peak_tera_ops_per_s: f64, efficiency: f64) -> f64 {
    2.0 * macs as f64 / (peak_tera_ops_per_s * 1e12 * efficiency)
}

/// Seconds to move `bytes` at `bandwidth_gb_per_s` and `efficiency`:
/// t = bytes / (bandwidth · 10^9 · efficiency).
pub fn transfer_seconds(bytes: u64, bandwidth_gb_per_s: f64, efficiency: f64) -> f64 {
    bytes as f64 / (bandwidth_gb_per_s * 1e9 * efficiency)
}

/// Seconds spent expanding stored weights: every `reuse_rows` activation rows expand all the
/// weights read again, t = ceil(rows / reuse_rows) · elements / (giga_elements_per_s · 10^9).
pub fn dequant_seconds(weight_elements: u64, rows: u64, dequant: &Dequant) -> f64 {
    let passes = rows.max(1).div_ceil(dequant.reuse_rows);
    (passes * weight_elements) as f64 / (dequant.giga_elements_per_s * 1e9)
}

/// Bytes of `elements` values at `bits` per element (scales included), rounded up to bytes:
/// ceil(elements · bits / 8).
pub fn bytes_for(elements: u64, bits: f64) -> u64 {
    (elements as f64 * bits / 8.0).ceil() as u64
}

/// The level a tensor of `bytes` with `role` lives in: the innermost level that may hold the
/// role and has the capacity, else the outermost level that may hold it.
pub fn place(levels: &[MemoryLevel], role: TensorRole, bytes: u64) -> Option<usize> {
    let allowed: Vec<usize> = (0..levels.len())
        .filter(|&i| levels[i].holds(role))
        .collect();
    allowed
        .iter()
        .copied()
        .find(|&i| bytes as f64 <= levels[i].capacity_bytes)
        .or(allowed.last().copied())
}

/// Arithmetic intensity at which compute time equals memory time for one precision and level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ridge {
    pub precision: Precision,
    pub level: String,
    /// MACs per byte: peak MACs per second / bytes per second = (peak · 10^12 / 2) / (bw · 10^9).
    pub macs_per_byte: f64,
}

/// Ridge points of every precision against every memory level.
pub fn ridge_points(profile: &Profile) -> Vec<Ridge> {
    let mut ridges = Vec::new();
    for spec in &profile.precision {
        for level in &profile.memory {
            ridges.push(Ridge {
                precision: spec.name,
                level: level.name.clone(),
                macs_per_byte: spec.peak_tera_ops_per_s * 1e12
                    / 2.0
                    / (level.bandwidth_gb_per_s * 1e9),
            });
        }
    }
    ridges
}
