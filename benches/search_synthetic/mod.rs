//! Seeded synthetic problems for the search benches: layers with random size, arithmetic
//! intensity and sensitivity, and eight candidates whose error and costs follow simple physics.
//!
//! - error: weight noise `s_w · 4^(8 − weight_bits)` plus activation noise
//!   `s_a · 4^(8 − activation_bits)`, scaled by 1e-4 and ±25% noise (quantization noise power
//!   falls 4x per bit);
//! - weight_bytes: `params · weight_bits / 8`;
//! - latency_us: roofline, `max(weight_bytes / bandwidth, macs / peak(activation_bits)) + 2 µs`
//!   launch overhead, 100 GB/s and 1 TMAC/s at 16-bit activations (2x at 8-bit). Layers with low
//!   arithmetic intensity are memory bound (weight bits matter), others compute bound (activation
//!   bits matter), so latency and weight_bytes disagree.
//!
//! With `transitions`, consecutive layers pay a re-quantization cost (0.5 µs) when their
//! activation formats differ: a chain.

use std::collections::BTreeMap;

use bitplan::search::{CandidateSpec, LayerSpec, Problem, TransitionSpec};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// (name, weight bits incl. scales, activation bits).
const CANDIDATES: [(&str, f64, f64); 8] = [
    ("w16a16", 16.0, 16.0),
    ("w8a16", 8.25, 16.0),
    ("w8a8", 8.25, 8.0),
    ("w6a16", 6.25, 16.0),
    ("w5a16", 5.25, 16.0),
    ("w4a16", 4.25, 16.0),
    ("w4a8", 4.25, 8.0),
    ("w3a16", 3.25, 16.0),
];
const BANDWIDTH_BYTES_PER_US: f64 = 1e5; // 100 GB/s
const MACS_PER_US_A16: f64 = 1e6; // 1 TMAC/s
const LAUNCH_US: f64 = 2.0;
const REQUANTIZE_US: f64 = 0.5;

pub fn problem(layers: usize, seed: u64, transitions: bool) -> Problem {
    let mut rng = StdRng::seed_from_u64(seed);
    let specs: Vec<LayerSpec> = (0..layers).map(|index| layer(index, &mut rng)).collect();
    let chain = if transitions {
        chain(&specs)
    } else {
        Vec::new()
    };
    Problem::new(
        &format!("synthetic-{layers}x8-seed{seed}"),
        specs,
        Vec::new(),
        chain,
    )
    .expect("synthetic problems are valid")
}

fn layer(index: usize, rng: &mut StdRng) -> LayerSpec {
    let params = 10f64.powf(rng.random_range(4.0..7.0)).round();
    let intensity = 2f64.powf(rng.random_range(0.0..8.0));
    let weight_sensitivity = 10f64.powf(rng.random_range(-3.0..0.0));
    let activation_sensitivity = 10f64.powf(rng.random_range(-3.0..0.0));
    let candidates = CANDIDATES
        .iter()
        .map(|&(name, weight_bits, activation_bits)| {
            let noise = rng.random_range(0.8..1.25);
            let error = 1e-4
                * noise
                * (weight_sensitivity * 4f64.powf(8.0 - weight_bits)
                    + activation_sensitivity * 4f64.powf(8.0 - activation_bits));
            let weight_bytes = (params * weight_bits / 8.0).round();
            let speedup = if activation_bits <= 8.0 { 2.0 } else { 1.0 };
            let compute = params * intensity / (MACS_PER_US_A16 * speedup);
            let latency = (weight_bytes / BANDWIDTH_BYTES_PER_US).max(compute) + LAUNCH_US;
            let costs: BTreeMap<String, f64> = [
                ("latency_us".to_string(), latency),
                ("weight_bytes".to_string(), weight_bytes),
            ]
            .into_iter()
            .collect();
            CandidateSpec {
                name: name.to_string(),
                error,
                weight_format: None,
                activation_format: None,
                costs,
            }
        })
        .collect();
    LayerSpec {
        name: format!("layer{index}"),
        candidates,
    }
}

fn chain(layers: &[LayerSpec]) -> Vec<TransitionSpec> {
    let activation = |name: &str| {
        CANDIDATES
            .iter()
            .find(|c| c.0 == name)
            .map_or(16.0, |c| c.2)
    };
    layers
        .windows(2)
        .map(|pair| {
            let cost = pair[0]
                .candidates
                .iter()
                .map(|from| {
                    pair[1]
                        .candidates
                        .iter()
                        .map(|to| {
                            let same = activation(&from.name) == activation(&to.name);
                            if same {
                                0.0
                            } else {
                                REQUANTIZE_US
                            }
                        })
                        .collect()
                })
                .collect();
            TransitionSpec {
                from: pair[0].name.clone(),
                to: pair[1].name.clone(),
                metric: "latency_us".to_string(),
                cost,
            }
        })
        .collect()
}
