//! The price of one layer call in one candidate format on one profile.
//!
//! latency_us = overhead + max(compute, memory_1, ..., memory_L)            (microseconds)
//!   compute  = 2 · padded_macs / (peak · 10^12 · kernel_eff · curve(padded_macs)) + dequant
//!              + output_elements / (output_rate · 10^9)
//!              (curve: the kernel's own `by-macs`, else the op's `[[compute-efficiency]]`;
//!              output_rate: the kernel's `output-giga-elements-per-s`, the term absent without)
//!   memory_l = (weights_l / stream + activations_l) / (bandwidth_l · 10^9 · curve_l(traffic_l))
//!              (traffic_l = weights_l + activations_l, the bytes level l serves; stream: the
//!              kernel's `weight-stream-efficiency`, default 1)
//!   bound    = compute if compute ≥ every memory_l, else memory
//! weight_bytes      = ceil(weight_elements · stored_bits / 8)              (scales included)
//! activation_bytes  = ceil((input + output elements) · run_activation_bits / 8)
//! peak_memory_bytes = weight_bytes + activation_bytes (what is live while the layer runs)
//! energy_uj = 10^-6 · (macs · pJ_per_mac(precision) + Σ_l traffic_l · pJ_per_byte_l)
//! Weights are read from the level that holds them, activations from theirs (see
//! [`super::roofline::place`]); on the fallback device everything moves at its bandwidth.
//! Energy counts useful MACs (padding does not switch the datapath) and no static power.

use serde::{Deserialize, Serialize};

use super::curve::interpolate;
use super::dispatch::{Device, Dispatch};
use super::precision::Precision;
use super::profile::{Profile, TensorRole};
use super::roofline::{
    bytes_for, compute_seconds, dequant_seconds, padded_macs, place, transfer_seconds,
};
use super::workload::Workload;

/// Bits per element of the formats a dispatched layer uses (scales and zero points included).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FormatBits {
    /// The format the weights are stored in ([`Dispatch::stored_weight`]).
    pub stored_weight: f64,
    /// The format the activations run in ([`Dispatch::run_activation`]).
    pub run_activation: f64,
}

/// What limits a layer's latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bound {
    Compute,
    Memory,
}

/// Time and bytes at one memory level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelTraffic {
    pub level: String,
    pub bytes: u64,
    pub us: f64,
}

/// How a latency came about, for reports and for checking the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostDetail {
    pub device: Device,
    pub precision: Precision,
    pub padded_macs: u64,
    pub compute_us: f64,
    pub dequant_us: f64,
    pub overhead_us: f64,
    pub memory: Vec<LevelTraffic>,
    pub stored_weight_format: String,
    pub run_activation_format: String,
    /// Fallbacks applied, in order.
    pub notes: Vec<String>,
}

/// The cost metrics of one layer call (names shared with budgets, problem files and reports).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerCost {
    pub latency_us: f64,
    pub weight_bytes: u64,
    pub activation_bytes: u64,
    pub peak_memory_bytes: u64,
    pub energy_uj: f64,
    pub bound: Bound,
    pub detail: CostDetail,
}

/// Prices `work` run as `dispatch` says on `profile`.
pub fn price(
    profile: &Profile,
    work: &Workload,
    dispatch: &Dispatch,
    bits: FormatBits,
) -> LayerCost {
    let weight_bytes = bytes_for(work.weight_elements, bits.stored_weight);
    let weight_read = bytes_for(work.weight_elements_read, bits.stored_weight);
    let activation_bytes = bytes_for(
        work.input_elements + work.output_elements,
        bits.run_activation,
    );
    let busy = match dispatch.device {
        Device::Main => main_device(
            profile,
            work,
            dispatch,
            weight_bytes,
            weight_read,
            activation_bytes,
        ),
        Device::Fallback => fallback_device(profile, work, weight_read + activation_bytes),
    };
    let Busy {
        compute_s,
        dequant_s,
        padded_macs: padded,
        mac_pj,
        memory,
        byte_energy_pj,
    } = busy;
    let memory_s = memory
        .iter()
        .map(|level| level.us * 1e-6)
        .fold(0.0, f64::max);
    let busy_s = compute_s.max(memory_s);
    let energy_pj = work.macs() as f64 * mac_pj + byte_energy_pj;
    LayerCost {
        latency_us: dispatch.overhead_us + busy_s * 1e6,
        weight_bytes,
        activation_bytes,
        peak_memory_bytes: weight_bytes + activation_bytes,
        energy_uj: energy_pj * 1e-6,
        bound: if compute_s >= memory_s {
            Bound::Compute
        } else {
            Bound::Memory
        },
        detail: CostDetail {
            device: dispatch.device,
            precision: dispatch.precision,
            padded_macs: padded,
            compute_us: compute_s * 1e6,
            dequant_us: dequant_s * 1e6,
            overhead_us: dispatch.overhead_us,
            memory,
            stored_weight_format: dispatch.stored_weight.clone(),
            run_activation_format: dispatch.run_activation.clone(),
            notes: dispatch.notes.clone(),
        },
    }
}

/// What keeps a device busy during one layer call.
struct Busy {
    /// MAC time plus dequantization and output time, seconds.
    compute_s: f64,
    dequant_s: f64,
    padded_macs: u64,
    mac_pj: f64,
    memory: Vec<LevelTraffic>,
    byte_energy_pj: f64,
}

fn main_device(
    profile: &Profile,
    work: &Workload,
    dispatch: &Dispatch,
    weight_bytes: u64,
    weight_read: u64,
    activation_bytes: u64,
) -> Busy {
    // validate() guarantees every kernel precision has a [[precision]] row.
    let spec = profile.precision_spec(dispatch.precision);
    let (peak, mac_pj) = spec
        .map(|s| (s.peak_tera_ops_per_s, s.energy_pj_per_mac))
        .unwrap_or((f64::NAN, 0.0));
    let padded = padded_macs(work, &profile.padding);
    let curve = interpolate(&dispatch.curve, padded as f64);
    let dequant_s = dispatch
        .dequant
        .as_ref()
        .map(|dequant| dequant_seconds(work.weight_elements_read, work.rows, dequant))
        .unwrap_or(0.0);
    let mac_s = if padded == 0 {
        0.0
    } else {
        compute_seconds(padded, peak, dispatch.efficiency * curve)
    };
    let output_s = dispatch
        .output_giga_elements_per_s
        .map(|rate| work.output_elements as f64 / (rate * 1e9))
        .unwrap_or(0.0);
    // (weight bytes, activation bytes) served by each level.
    let mut traffic = vec![(0u64, 0u64); profile.memory.len()];
    if let Some(level) = place(&profile.memory, TensorRole::Weights, weight_bytes) {
        traffic[level].0 += weight_read;
    }
    if let Some(level) = place(&profile.memory, TensorRole::Activations, activation_bytes) {
        traffic[level].1 += activation_bytes;
    }
    let mut memory = Vec::new();
    let mut byte_energy_pj = 0.0;
    for (level, &(weights, activations)) in profile.memory.iter().zip(&traffic) {
        let bytes = weights + activations;
        if bytes == 0 {
            continue;
        }
        let efficiency = interpolate(&level.curve(), bytes as f64);
        let bandwidth = level.bandwidth_gb_per_s;
        let stream = dispatch.weight_stream_efficiency;
        let seconds = transfer_seconds(weights, bandwidth, efficiency * stream)
            + transfer_seconds(activations, bandwidth, efficiency);
        memory.push(LevelTraffic {
            level: level.name.clone(),
            bytes,
            us: seconds * 1e6,
        });
        byte_energy_pj += bytes as f64 * level.energy_pj_per_byte;
    }
    Busy {
        compute_s: mac_s + dequant_s + output_s,
        dequant_s,
        padded_macs: padded,
        mac_pj,
        memory,
        byte_energy_pj,
    }
}

fn fallback_device(profile: &Profile, work: &Workload, bytes: u64) -> Busy {
    // dispatch() only picks the fallback device when the profile has one.
    let Some(device) = &profile.fallback_device else {
        return Busy {
            compute_s: f64::NAN,
            dequant_s: 0.0,
            padded_macs: 0,
            mac_pj: 0.0,
            memory: Vec::new(),
            byte_energy_pj: 0.0,
        };
    };
    let macs = work.macs();
    let compute_s = compute_seconds(macs, device.peak_tera_ops_per_s, 1.0);
    let seconds = transfer_seconds(bytes, device.bandwidth_gb_per_s, 1.0);
    let memory = vec![LevelTraffic {
        level: device.name.clone(),
        bytes,
        us: seconds * 1e6,
    }];
    Busy {
        compute_s,
        dequant_s: 0.0,
        padded_macs: macs,
        mac_pj: device.energy_pj_per_mac,
        memory,
        byte_energy_pj: bytes as f64 * device.energy_pj_per_byte,
    }
}
