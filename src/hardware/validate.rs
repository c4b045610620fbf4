//! Profile validation: ranges, units and cross references, checked once after parsing so the
//! cost model receives only sound profiles. Every problem names the TOML field, the value found
//! and the allowed range; all problems of a file are reported together.

use std::collections::HashSet;

use super::dispatch::op_name;
use super::error::{FieldProblem, HardwareError};
use super::profile::{
    ComputeEfficiency, Dequant, FallbackDevice, FallbackRule, KernelRule, MemoryLevel, Profile,
    TensorRole, SCHEMA,
};

/// Collects problems with their field paths.
struct Checker {
    problems: Vec<FieldProblem>,
}

impl Checker {
    fn problem(&mut self, field: &str, value: impl ToString, expected: &str) {
        self.problems.push(FieldProblem {
            field: field.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        });
    }

    /// A finite number strictly above zero.
    fn positive(&mut self, field: &str, value: f64, unit: &str) {
        if !(value.is_finite() && value > 0.0) {
            self.problem(field, value, &format!("a number > 0 ({unit})"));
        }
    }

    /// A finite number at or above zero.
    fn non_negative(&mut self, field: &str, value: f64, unit: &str) {
        if !(value.is_finite() && value >= 0.0) {
            self.problem(field, value, &format!("a number >= 0 ({unit})"));
        }
    }

    /// An efficiency fraction in (0, 1].
    fn fraction(&mut self, field: &str, value: f64) {
        if !(value.is_finite() && value > 0.0 && value <= 1.0) {
            self.problem(field, value, "a fraction in (0, 1]");
        }
    }

    fn non_empty<T>(&mut self, field: &str, items: &[T], what: &str) {
        if items.is_empty() {
            self.problem(field, "[]", &format!("at least one {what}"));
        }
    }

    /// A format-name pattern (`*` wildcards).
    fn pattern(&mut self, field: &str, pattern: &str) {
        if pattern.is_empty() || glob::Pattern::new(pattern).is_err() {
            self.problem(
                field,
                format!("{pattern:?}"),
                "a format name or pattern such as \"int4-*\"",
            );
        }
    }

    /// An efficiency curve: sizes > 0 strictly increasing, fractions in (0, 1].
    fn curve(&mut self, field: &str, points: &[(f64, f64)], size_key: &str) {
        for (index, &(size, fraction)) in points.iter().enumerate() {
            self.positive(&format!("{field}[{index}].{size_key}"), size, size_key);
            self.fraction(&format!("{field}[{index}].fraction"), fraction);
            if index > 0 && size <= points[index - 1].0 {
                self.problem(
                    &format!("{field}[{index}].{size_key}"),
                    size,
                    &format!("a value above the previous point's {}", points[index - 1].0),
                );
            }
        }
    }
}

/// Checks a parsed profile. `file` is used in the error (a path, or `built-in NAME`).
pub fn validate(profile: &Profile, file: &str) -> Result<(), HardwareError> {
    let mut check = Checker {
        problems: Vec::new(),
    };
    if profile.schema != SCHEMA {
        check.problem(
            "schema",
            format!("{:?}", profile.schema),
            &format!("\"{SCHEMA}\""),
        );
    }
    if profile.name.trim().is_empty() {
        check.problem("name", "\"\"", "a non-empty name");
    }
    check_precisions(&mut check, profile);
    check_memory(&mut check, &profile.memory);
    check_compute_efficiency(&mut check, &profile.compute_efficiency);
    check_padding(&mut check, profile);
    check.non_negative(
        "overhead.per-layer-us",
        profile.overhead.per_layer_us,
        "microseconds",
    );
    check.non_empty("kernel", &profile.kernel, "[[kernel]] rule");
    for (index, rule) in profile.kernel.iter().enumerate() {
        check_kernel(&mut check, profile, index, rule);
    }
    for (index, rule) in profile.fallback.iter().enumerate() {
        check_fallback(&mut check, index, rule);
    }
    if let Some(device) = &profile.fallback_device {
        check_fallback_device(&mut check, device);
    }
    check.non_negative(
        "transition.cast-overhead-us",
        profile.transition.cast_overhead_us,
        "microseconds",
    );
    if check.problems.is_empty() {
        Ok(())
    } else {
        Err(HardwareError::Invalid {
            file: file.to_string(),
            problems: check.problems,
        })
    }
}

fn check_precisions(check: &mut Checker, profile: &Profile) {
    check.non_empty("precision", &profile.precision, "[[precision]] row");
    let mut seen = HashSet::new();
    for (index, spec) in profile.precision.iter().enumerate() {
        let field = format!("precision[{index}]");
        if !seen.insert(spec.name) {
            check.problem(
                &format!("{field}.name"),
                spec.name,
                "each precision listed once",
            );
        }
        check.positive(
            &format!("{field}.peak-tera-ops-per-s"),
            spec.peak_tera_ops_per_s,
            "10^12 operations per second",
        );
        check.non_negative(
            &format!("{field}.energy-pj-per-mac"),
            spec.energy_pj_per_mac,
            "picojoules",
        );
    }
}

fn check_memory(check: &mut Checker, levels: &[MemoryLevel]) {
    check.non_empty("memory", levels, "[[memory]] level");
    for (index, level) in levels.iter().enumerate() {
        let field = format!("memory[{index}]");
        check.positive(
            &format!("{field}.capacity-bytes"),
            level.capacity_bytes,
            "bytes",
        );
        check.positive(
            &format!("{field}.bandwidth-gb-per-s"),
            level.bandwidth_gb_per_s,
            "GB/s",
        );
        check.non_negative(
            &format!("{field}.energy-pj-per-byte"),
            level.energy_pj_per_byte,
            "picojoules",
        );
        check.non_empty(
            &format!("{field}.holds"),
            &level.holds,
            "of \"weights\", \"activations\"",
        );
        check.curve(
            &format!("{field}.transfer-efficiency"),
            &level.curve(),
            "bytes",
        );
    }
    for role in [TensorRole::Weights, TensorRole::Activations] {
        if !levels.is_empty() && !levels.iter().any(|level| level.holds(role)) {
            let name = if role == TensorRole::Weights {
                "weights"
            } else {
                "activations"
            };
            check.problem(
                "memory[*].holds",
                format!("no level holding {name}"),
                &format!("one level whose holds lists \"{name}\""),
            );
        }
    }
}

fn check_compute_efficiency(check: &mut Checker, entries: &[ComputeEfficiency]) {
    let mut seen = HashSet::new();
    for (index, entry) in entries.iter().enumerate() {
        let field = format!("compute-efficiency[{index}]");
        check.non_empty(&format!("{field}.ops"), &entry.ops, "op kind");
        for op in &entry.ops {
            if !seen.insert(*op) {
                check.problem(
                    &format!("{field}.ops"),
                    op_name(*op),
                    "each op kind in one compute-efficiency entry",
                );
            }
        }
        let points: Vec<(f64, f64)> = entry.by_macs.iter().map(|p| (p.macs, p.fraction)).collect();
        check.non_empty(&format!("{field}.by-macs"), &points, "point");
        check.curve(&format!("{field}.by-macs"), &points, "macs");
    }
}

fn check_padding(check: &mut Checker, profile: &Profile) {
    let padding = &profile.padding;
    for (key, value) in [
        ("tile-m", padding.tile_m),
        ("tile-n", padding.tile_n),
        ("tile-k", padding.tile_k),
        ("compute-units", padding.compute_units),
    ] {
        if value == 0 {
            check.problem(&format!("padding.{key}"), value, "an integer >= 1");
        }
    }
}

fn check_kernel(check: &mut Checker, profile: &Profile, index: usize, rule: &KernelRule) {
    let field = format!("kernel[{index}]");
    check.non_empty(&format!("{field}.ops"), &rule.ops, "op kind");
    check.non_empty(&format!("{field}.weight"), &rule.weight, "format pattern");
    check.non_empty(
        &format!("{field}.activation"),
        &rule.activation,
        "format pattern",
    );
    for (i, pattern) in rule.weight.iter().enumerate() {
        check.pattern(&format!("{field}.weight[{i}]"), pattern);
    }
    for (i, pattern) in rule.activation.iter().enumerate() {
        check.pattern(&format!("{field}.activation[{i}]"), pattern);
    }
    if profile.precision_spec(rule.precision).is_none() {
        let defined: Vec<String> = profile
            .precision
            .iter()
            .map(|s| s.name.to_string())
            .collect();
        check.problem(
            &format!("{field}.precision"),
            format!("\"{}\"", rule.precision),
            &format!(
                "a precision with a [[precision]] row (defined: {})",
                defined.join(", ")
            ),
        );
    }
    check.fraction(&format!("{field}.efficiency"), rule.efficiency);
    if let Some(stream) = rule.weight_stream_efficiency {
        check.fraction(&format!("{field}.weight-stream-efficiency"), stream);
    }
    if let Some(dequant) = &rule.dequant {
        check_dequant(check, &format!("{field}.dequant"), dequant);
    }
    if let Some(rate) = rule.output_giga_elements_per_s {
        check.positive(
            &format!("{field}.output-giga-elements-per-s"),
            rate,
            "10^9 elements per second",
        );
    }
    for (key, value) in [
        ("min-rows", rule.min_rows),
        ("cols-multiple-of", rule.cols_multiple_of),
        ("depth-multiple-of", rule.depth_multiple_of),
    ] {
        if value == Some(0) {
            check.problem(&format!("{field}.{key}"), 0, "an integer >= 1");
        }
    }
    let points: Vec<(f64, f64)> = rule.by_macs.iter().map(|p| (p.macs, p.fraction)).collect();
    check.curve(&format!("{field}.by-macs"), &points, "macs");
    if let Some(overhead) = rule.overhead_us {
        check.non_negative(&format!("{field}.overhead-us"), overhead, "microseconds");
    }
}

fn check_dequant(check: &mut Checker, field: &str, dequant: &Dequant) {
    check.positive(
        &format!("{field}.giga-elements-per-s"),
        dequant.giga_elements_per_s,
        "10^9 elements per second",
    );
    if dequant.reuse_rows == 0 {
        check.problem(&format!("{field}.reuse-rows"), 0, "an integer >= 1");
    }
}

fn check_fallback(check: &mut Checker, index: usize, rule: &FallbackRule) {
    let field = format!("fallback[{index}]");
    match (&rule.weight, &rule.activation) {
        (Some(pattern), None) => {
            check.pattern(&format!("{field}.weight"), pattern);
            if let Some(dequant) = &rule.dequant {
                check_dequant(check, &format!("{field}.dequant"), dequant);
            }
        }
        (None, Some(pattern)) => {
            check.pattern(&format!("{field}.activation"), pattern);
            if rule.dequant.is_some() {
                check.problem(
                    &format!("{field}.dequant"),
                    "set",
                    "no dequant on an activation rewrite",
                );
            }
        }
        _ => check.problem(
            &field,
            "weight and activation both set or both missing",
            "exactly one of weight, activation",
        ),
    }
    if rule.to.trim().is_empty() {
        check.problem(&format!("{field}.to"), "\"\"", "a format name");
    }
    if rule.reason.trim().is_empty() {
        check.problem(&format!("{field}.reason"), "\"\"", "a sentence saying why");
    }
}

fn check_fallback_device(check: &mut Checker, device: &FallbackDevice) {
    let field = "fallback-device";
    check.positive(
        &format!("{field}.peak-tera-ops-per-s"),
        device.peak_tera_ops_per_s,
        "10^12 operations per second",
    );
    check.positive(
        &format!("{field}.bandwidth-gb-per-s"),
        device.bandwidth_gb_per_s,
        "GB/s",
    );
    check.non_negative(
        &format!("{field}.energy-pj-per-mac"),
        device.energy_pj_per_mac,
        "picojoules",
    );
    check.non_negative(
        &format!("{field}.energy-pj-per-byte"),
        device.energy_pj_per_byte,
        "picojoules",
    );
    check.non_negative(
        &format!("{field}.per-layer-us"),
        device.per_layer_us,
        "microseconds",
    );
    check.non_negative(
        &format!("{field}.switch-overhead-us"),
        device.switch_overhead_us,
        "microseconds",
    );
    check.positive(
        &format!("{field}.link-bandwidth-gb-per-s"),
        device.link_bandwidth_gb_per_s,
        "GB/s",
    );
}
