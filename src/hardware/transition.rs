//! The cost of handing activations from one layer to the next when the two layers run them in
//! different formats, or on different devices.
//!
//! A producer writes its output in the activation format it runs in; a consumer reads its input
//! in its own. For `elements` values crossing the edge:
//! - device switch (one side on the fallback device):
//!   switch_overhead_us + 10^6 · bytes(producer format) / (link_bandwidth · 10^9);
//! - format change (unless `fuse-same-width` and both formats have the same bits per element,
//!   when the requantization folds into the producer's epilogue):
//!   cast_overhead_us + 10^6 · (bytes(src) + bytes(dst)) / (bandwidth · 10^9 · curve(bytes)) at the
//!   level activations of that size live in (the fallback device's bandwidth if the consumer
//!   runs there). Energy is the bytes moved times that level's pJ per byte, times 10^-6 µJ/pJ.

use serde::{Deserialize, Serialize};

use super::curve::interpolate;
use super::dispatch::{Device, Dispatch};
use super::profile::{Profile, TensorRole};
use super::roofline::{bytes_for, place, transfer_seconds};

/// Extra cost on one edge for one (producer candidate, consumer candidate) pair.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct TransitionCost {
    pub latency_us: f64,
    pub energy_uj: f64,
}

/// One side of an edge: how the layer runs and the bits per element of its activation format.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    pub dispatch: &'a Dispatch,
    pub activation_bits: f64,
}

/// The cost of `elements` activations crossing from `producer` to `consumer`.
pub fn transition_cost(
    profile: &Profile,
    producer: Side,
    consumer: Side,
    elements: u64,
) -> TransitionCost {
    let mut cost = TransitionCost::default();
    if producer.dispatch.device != consumer.dispatch.device {
        if let Some(device) = &profile.fallback_device {
            let bytes = bytes_for(elements, producer.activation_bits);
            let seconds = transfer_seconds(bytes, device.link_bandwidth_gb_per_s, 1.0);
            cost.latency_us += device.switch_overhead_us + seconds * 1e6;
            cost.energy_uj += bytes as f64 * device.energy_pj_per_byte * 1e-6;
        }
    }
    let same_format = producer.dispatch.run_activation == consumer.dispatch.run_activation;
    let fused =
        profile.transition.fuse_same_width && producer.activation_bits == consumer.activation_bits;
    if same_format || fused {
        return cost;
    }
    let bytes = bytes_for(elements, producer.activation_bits)
        + bytes_for(elements, consumer.activation_bits);
    let (bandwidth, efficiency, pj_per_byte) = cast_level(profile, consumer.dispatch.device, bytes);
    cost.latency_us +=
        profile.transition.cast_overhead_us + transfer_seconds(bytes, bandwidth, efficiency) * 1e6;
    cost.energy_uj += bytes as f64 * pj_per_byte * 1e-6;
    cost
}

/// (bandwidth GB/s, efficiency, pJ per byte) of where a cast of `bytes` runs.
fn cast_level(profile: &Profile, device: Device, bytes: u64) -> (f64, f64, f64) {
    if let (Device::Fallback, Some(fallback)) = (device, &profile.fallback_device) {
        return (
            fallback.bandwidth_gb_per_s,
            1.0,
            fallback.energy_pj_per_byte,
        );
    }
    match place(&profile.memory, TensorRole::Activations, bytes) {
        Some(index) => {
            let level = &profile.memory[index];
            (
                level.bandwidth_gb_per_s,
                interpolate(&level.curve(), bytes as f64),
                level.energy_pj_per_byte,
            )
        }
        // validate() guarantees a level holding activations.
        None => (f64::NAN, 1.0, 0.0),
    }
}
