//! Hand-computed roofline cases: each expected number is worked out in the comment above it from
//! the test profile below, and the cost model must reproduce it (to float rounding).

use bitplan::hardware::{
    dispatch, parse, price, transition_cost, Bound, Device, FormatBits, Profile, Side, Workload,
};
use bitplan::model::OpKind;

/// Relative tolerance: the only slack is binary floating point rounding of the decimal numbers.
const ROUNDING: f64 = 1e-12;

fn assert_close(actual: f64, expected: f64, what: &str) {
    let scale = expected.abs().max(1e-30);
    assert!(
        ((actual - expected) / scale).abs() < ROUNDING,
        "{what}: got {actual}, expected {expected}"
    );
}

/// int8: 2 tera-ops/s = 10^12 MAC/s, 1 pJ/MAC. fp16: 1 tera-op/s = 0.5 x 10^12 MAC/s, 2 pJ/MAC.
/// sram: 1 MiB, 1000 GB/s, 1 pJ/B, activations only. dram: 10^12 B, 100 GB/s, 10 pJ/B.
/// Per-layer overhead 2 us. No padding unless a test adds it.
const TEST_PROFILE: &str = r#"
schema = "bitplan.hardware/1"
name = "test-chip"
description = "round numbers for hand-computed cases"
class = "npu"

[[precision]]
name = "int8"
peak-tera-ops-per-s = 2.0
energy-pj-per-mac = 1.0

[[precision]]
name = "fp16"
peak-tera-ops-per-s = 1.0
energy-pj-per-mac = 2.0

[[memory]]
name = "sram"
capacity-bytes = 1048576
bandwidth-gb-per-s = 1000.0
energy-pj-per-byte = 1.0
holds = ["activations"]

[[memory]]
name = "dram"
capacity-bytes = 1e12
bandwidth-gb-per-s = 100.0
energy-pj-per-byte = 10.0
holds = ["weights", "activations"]

[overhead]
per-layer-us = 2.0

[[kernel]]
ops = ["linear"]
weight = ["int8-*"]
activation = ["int8-*"]
precision = "int8"

[[kernel]]
ops = ["linear"]
weight = ["int4-*"]
activation = ["fp16"]
precision = "fp16"
dequant = { giga-elements-per-s = 1000, reuse-rows = 64 }

[[kernel]]
ops = ["linear"]
weight = ["fp16"]
activation = ["fp16"]
precision = "fp16"

[[fallback]]
activation = "int4-*"
to = "int8-asym-pt"
reason = "no int4 activations"

[fallback-device]
name = "host"
peak-tera-ops-per-s = 0.002
bandwidth-gb-per-s = 1.0
energy-pj-per-mac = 5.0
energy-pj-per-byte = 1.0
per-layer-us = 10.0
switch-overhead-us = 50.0
link-bandwidth-gb-per-s = 2.0

[transition]
cast-overhead-us = 1.0
fuse-same-width = true
"#;

fn profile() -> Profile {
    parse(TEST_PROFILE, "test-chip.toml", Some("test-chip")).unwrap()
}

fn gemm(rows: u64, cols: u64, depth: u64) -> Workload {
    Workload {
        op: OpKind::Linear,
        groups: 1,
        rows,
        cols,
        depth,
        weight_elements: cols * depth,
        weight_elements_read: cols * depth,
        input_elements: rows * depth,
        output_elements: rows * cols,
    }
}

fn bits(weight: f64, activation: f64) -> FormatBits {
    FormatBits {
        stored_weight: weight,
        run_activation: activation,
    }
}

#[test]
fn compute_bound_gemm() {
    let profile = profile();
    let run = dispatch(&profile, OpKind::Linear, "int8-sym-pc", "int8-asym-pt").unwrap();
    let cost = price(&profile, &gemm(1024, 1024, 1024), &run, bits(8.0, 8.0));
    // MACs 2^30 at 10^12 MAC/s: 1073.741824 us. Weights 1 MiB from dram: 10.48576 us;
    // activations 2 MiB do not fit the 1 MiB sram, so dram moves 3 MiB: 31.45728 us.
    assert_eq!(cost.bound, Bound::Compute);
    assert_close(cost.detail.compute_us, 1073.741824, "compute_us");
    assert_close(cost.detail.memory[0].us, 31.45728, "dram us");
    assert_close(cost.latency_us, 2.0 + 1073.741824, "latency_us");
    assert_eq!(cost.weight_bytes, 1_048_576);
    assert_eq!(cost.activation_bytes, 2_097_152);
    assert_eq!(cost.peak_memory_bytes, 3_145_728);
    // 2^30 MACs x 1 pJ + 3 MiB x 10 pJ = 1073741824 + 31457280 pJ.
    assert_close(cost.energy_uj, 1105.199104, "energy_uj");
}

#[test]
fn memory_bound_gemv() {
    let profile = profile();
    let run = dispatch(&profile, OpKind::Linear, "fp16", "fp16").unwrap();
    let cost = price(&profile, &gemm(1, 4096, 4096), &run, bits(16.0, 16.0));
    // 16777216 MACs at 0.5 x 10^12 MAC/s: 33.554432 us. Weights 32 MiB from dram: 335.54432 us.
    // Activations (4096 + 4096) x 2 B = 16 KiB fit the sram: 0.016384 us.
    assert_eq!(cost.bound, Bound::Memory);
    assert_close(cost.detail.compute_us, 33.554432, "compute_us");
    let levels: Vec<(&str, u64)> = cost
        .detail
        .memory
        .iter()
        .map(|l| (l.level.as_str(), l.bytes))
        .collect();
    assert_eq!(levels, vec![("sram", 16_384), ("dram", 33_554_432)]);
    assert_close(cost.detail.memory[0].us, 0.016384, "sram us");
    assert_close(cost.latency_us, 2.0 + 335.54432, "latency_us");
}

#[test]
fn weight_stream_efficiency_slows_only_the_weight_bytes() {
    let text = TEST_PROFILE.replace(
        "weight = [\"fp16\"]\nactivation = [\"fp16\"]\nprecision = \"fp16\"",
        "weight = [\"fp16\"]\nactivation = [\"fp16\"]\nprecision = \"fp16\"\nweight-stream-efficiency = 0.5",
    );
    assert_ne!(text, TEST_PROFILE, "the fp16 kernel rule was not found");
    let profile = parse(&text, "test-chip.toml", Some("test-chip")).unwrap();
    let run = dispatch(&profile, OpKind::Linear, "fp16", "fp16").unwrap();
    let cost = price(&profile, &gemm(1, 4096, 4096), &run, bits(16.0, 16.0));
    // The GEMV above with the weight stream at half the dram bandwidth: 32 MiB at 50 GB/s is
    // 671.08864 us; the 16 KiB of activations still move at the sram's full 1000 GB/s.
    assert_close(cost.detail.memory[0].us, 0.016384, "sram us");
    assert_close(cost.detail.memory[1].us, 671.08864, "dram us");
    assert_close(cost.latency_us, 2.0 + 671.08864, "latency_us");
}

#[test]
fn output_rate_tells_equal_macs_apart_by_shape() {
    let text = TEST_PROFILE.replace(
        "weight = [\"int8-*\"]\nactivation = [\"int8-*\"]\nprecision = \"int8\"",
        "weight = [\"int8-*\"]\nactivation = [\"int8-*\"]\nprecision = \"int8\"\noutput-giga-elements-per-s = 0.5",
    );
    assert_ne!(text, TEST_PROFILE, "the int8 kernel rule was not found");
    let profile = parse(&text, "test-chip.toml", Some("test-chip")).unwrap();
    let run = dispatch(&profile, OpKind::Linear, "int8-sym-pc", "int8-asym-pt").unwrap();
    let price_of = |cols, depth| price(&profile, &gemm(64, cols, depth), &run, bits(8.0, 8.0));
    // Both 64 x 4096 x 1024 = 2^28 MACs at 10^12 MAC/s: 268.435456 us. Outputs at 0.5 x 10^9
    // per second: 64 x 4096 = 262144 take 524.288 us, 64 x 1024 = 65536 take 131.072 us.
    let wide = price_of(4096, 1024);
    let deep = price_of(1024, 4096);
    assert_close(
        wide.detail.compute_us,
        268.435456 + 524.288,
        "wide compute_us",
    );
    assert_close(
        deep.detail.compute_us,
        268.435456 + 131.072,
        "deep compute_us",
    );
    assert_eq!(wide.bound, Bound::Compute);
    assert_close(
        wide.latency_us,
        2.0 + 268.435456 + 524.288,
        "wide latency_us",
    );
}

#[test]
fn padded_shape_pays_for_whole_tiles_and_waves() {
    let text = TEST_PROFILE.replace(
        "[overhead]",
        "[padding]\ntile-m = 16\ntile-n = 16\ntile-k = 16\ncompute-units = 4\n\n[overhead]",
    );
    let profile = parse(&text, "test-chip.toml", Some("test-chip")).unwrap();
    let run = dispatch(&profile, OpKind::Linear, "int8-sym-pc", "int8-asym-pt").unwrap();
    let cost = price(&profile, &gemm(17, 33, 40), &run, bits(8.0, 8.0));
    // tiles = ceil(17/16) x ceil(33/16) = 2 x 3 = 6; waves = ceil(6/4) = 2;
    // padded = 2 waves x 4 units x 16 x 16 x ceil(40/16) x 16 = 98304 MACs (real: 22440).
    assert_eq!(cost.detail.padded_macs, 98_304);
    assert_close(cost.detail.compute_us, 0.098304, "compute_us");
    // Energy counts the 22440 useful MACs only: 22440 pJ + bytes: weights 1320 B x 10 pJ (dram),
    // activations (680 + 561) B x 1 pJ (sram).
    assert_close(
        cost.energy_uj,
        (22440.0 + 13200.0 + 1241.0) * 1e-6,
        "energy_uj",
    );
}

#[test]
fn weight_only_format_wins_at_batch_1_and_loses_at_batch_256() {
    let profile = profile();
    let int4 = dispatch(&profile, OpKind::Linear, "int4-sym-g128", "fp16").unwrap();
    let fp16 = dispatch(&profile, OpKind::Linear, "fp16", "fp16").unwrap();
    assert!(int4.dequant.is_some() && fp16.dequant.is_none());

    // Batch 1, int4: MACs 33.554432 us + one dequant pass of 2^24 elements at 10^12/s
    // (16.777216 us) = 50.331648 us of compute; weights 8 MiB from dram: 83.88608 us.
    let small = price(&profile, &gemm(1, 4096, 4096), &int4, bits(4.0, 16.0));
    assert_close(small.detail.dequant_us, 16.777216, "dequant_us at batch 1");
    assert_close(small.detail.compute_us, 50.331648, "compute_us at batch 1");
    assert_close(small.latency_us, 2.0 + 83.88608, "latency_us at batch 1");
    assert_eq!(small.bound, Bound::Memory);
    let small_fp16 = price(&profile, &gemm(1, 4096, 4096), &fp16, bits(16.0, 16.0));
    assert!(small.latency_us < small_fp16.latency_us);

    // Batch 256, int4: ceil(256/64) = 4 dequant passes: 67.108864 us; MACs 2^32 at
    // 0.5 x 10^12/s: 8589.934592 us. fp16 has no dequant, so it is faster by 67.108864 us.
    let large = price(&profile, &gemm(256, 4096, 4096), &int4, bits(4.0, 16.0));
    assert_close(
        large.detail.dequant_us,
        67.108864,
        "dequant_us at batch 256",
    );
    assert_close(
        large.latency_us,
        2.0 + 8589.934592 + 67.108864,
        "latency_us at batch 256",
    );
    assert_eq!(large.bound, Bound::Compute);
    let large_fp16 = price(&profile, &gemm(256, 4096, 4096), &fp16, bits(16.0, 16.0));
    assert_close(
        large_fp16.latency_us,
        2.0 + 8589.934592,
        "fp16 latency_us at batch 256",
    );
    assert!(large.latency_us > large_fp16.latency_us);
}

#[test]
fn unsupported_activation_falls_back_to_int8() {
    let profile = profile();
    let run = dispatch(&profile, OpKind::Linear, "int8-sym-pc", "int4-asym-pt").unwrap();
    assert_eq!(run.device, Device::Main);
    assert_eq!(run.run_activation, "int8-asym-pt");
    assert_eq!(run.notes, vec!["no int4 activations".to_string()]);
    // It then costs exactly what native int8 costs: activations are counted at 8 bits.
    let native = dispatch(&profile, OpKind::Linear, "int8-sym-pc", "int8-asym-pt").unwrap();
    let work = gemm(1024, 1024, 1024);
    assert_eq!(
        price(&profile, &work, &run, bits(8.0, 8.0)).latency_us,
        price(&profile, &work, &native, bits(8.0, 8.0)).latency_us
    );
}

#[test]
fn op_without_kernel_runs_on_the_fallback_device() {
    let profile = profile();
    let run = dispatch(&profile, OpKind::AttentionMatmul, "fp16", "fp16").unwrap();
    assert_eq!(run.device, Device::Fallback);
    let work = Workload {
        op: OpKind::AttentionMatmul,
        weight_elements: 0,
        weight_elements_read: 0,
        ..gemm(64, 64, 64)
    };
    let cost = price(&profile, &work, &run, bits(0.0, 16.0));
    // 262144 MACs at 10^9 MAC/s: 262.144 us; 16384 B at 1 GB/s: 16.384 us; overhead 10 us.
    assert_close(cost.latency_us, 10.0 + 262.144, "latency_us");
    assert_eq!(cost.bound, Bound::Compute);
}

#[test]
fn without_fallback_device_an_unsupported_pair_is_an_error() {
    let start = TEST_PROFILE.find("[fallback-device]").unwrap();
    let end = TEST_PROFILE.find("[transition]").unwrap();
    let text = format!("{}{}", &TEST_PROFILE[..start], &TEST_PROFILE[end..]);
    let profile = parse(&text, "test-chip.toml", Some("test-chip")).unwrap();
    let error = dispatch(&profile, OpKind::Linear, "fp8-e4m3", "fp8-e4m3").unwrap_err();
    insta::assert_snapshot!("unsupported_pair", error.to_string());
}

#[test]
fn transition_between_formats() {
    let profile = profile();
    let int8 = dispatch(&profile, OpKind::Linear, "int8-sym-pc", "int8-asym-pt").unwrap();
    let int8_sym = dispatch(&profile, OpKind::Linear, "int8-sym-pc", "int8-sym-pt").unwrap();
    let fp16 = dispatch(&profile, OpKind::Linear, "fp16", "fp16").unwrap();
    let host = dispatch(&profile, OpKind::AttentionMatmul, "fp16", "fp16").unwrap();
    let side = |dispatch, activation_bits| Side {
        dispatch,
        activation_bits,
    };

    // Same format: free.
    let same = transition_cost(&profile, side(&int8, 8.0), side(&int8, 8.0), 65536);
    assert_eq!((same.latency_us, same.energy_uj), (0.0, 0.0));
    // Same width (a requantization): fused into the producer, free.
    let fused = transition_cost(&profile, side(&int8, 8.0), side(&int8_sym, 8.0), 65536);
    assert_eq!((fused.latency_us, fused.energy_uj), (0.0, 0.0));
    // int8 -> fp16 cast of 65536 values: 65536 + 131072 B in sram at 1000 GB/s = 0.196608 us,
    // plus the 1 us cast kernel; 196608 B x 1 pJ.
    let cast = transition_cost(&profile, side(&int8, 8.0), side(&fp16, 16.0), 65536);
    assert_close(cast.latency_us, 1.196608, "cast latency_us");
    assert_close(cast.energy_uj, 0.196608, "cast energy_uj");
    // int8 on the NPU -> fp16 on the host: switch 50 us + 65536 B over the 2 GB/s link
    // (32.768 us), then the cast on the host at 1 GB/s (196.608 us) + 1 us.
    let switch = transition_cost(&profile, side(&int8, 8.0), side(&host, 16.0), 65536);
    assert_close(
        switch.latency_us,
        50.0 + 32.768 + 1.0 + 196.608,
        "switch latency_us",
    );
    assert_close(
        switch.energy_uj,
        (65536.0 + 196608.0) * 1e-6,
        "switch energy_uj",
    );
}
