//! Which kernel runs a layer: the profile's `[[kernel]]` rules, its `[[fallback]]` chain, and
//! its `[fallback-device]`, applied to one (op, weight format, activation format).
//!
//! 1. The first kernel rule whose ops, weight/activation patterns and shape conditions match
//!    wins (rules with shape conditions only match when the GEMM shape is known).
//! 2. Otherwise the first fallback rule (each used at most once) that matches rewrites the weight
//!    or activation format, and step 1 is tried again.
//! 3. Otherwise the layer runs on the fallback device (fp32), or the pair is unsupported.

use serde::{Deserialize, Serialize};

use super::error::HardwareError;
use super::precision::Precision;
use super::profile::{Dequant, FallbackRule, KernelRule, Profile};
use super::workload::Workload;
use crate::model::OpKind;

/// Where a layer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Device {
    Main,
    Fallback,
}

/// The outcome of dispatching one layer: what the cost model needs to price it.
#[derive(Debug, Clone, PartialEq)]
pub struct Dispatch {
    pub device: Device,
    pub precision: Precision,
    /// Kernel efficiency multiplier (1.0 on the fallback device).
    pub efficiency: f64,
    /// Run-time weight expansion, when the kernel or a fallback needs one.
    pub dequant: Option<Dequant>,
    /// Fixed cost of the layer, microseconds.
    pub overhead_us: f64,
    /// Fraction of the weight level's bandwidth the kernel's weight stream reaches (1.0 on the
    /// fallback device).
    pub weight_stream_efficiency: f64,
    /// The kernel's rate of finishing output elements, 10^9 per second (None: no such cost).
    pub output_giga_elements_per_s: Option<f64>,
    /// Compute efficiency by MACs for this kernel ((MACs, fraction) points; empty = 1.0).
    pub curve: Vec<(f64, f64)>,
    /// The format weights are stored (and counted) in: the candidate's, unless a fallback
    /// converted them ahead of time.
    pub stored_weight: String,
    /// The format activations actually run in after fallbacks; its bits set activation bytes.
    pub run_activation: String,
    /// The reasons of the fallbacks applied, in order.
    pub notes: Vec<String>,
}

/// The name of an op kind as profiles spell it (`depthwise-conv2d`).
pub fn op_name(op: OpKind) -> &'static str {
    match op {
        OpKind::Linear => "linear",
        OpKind::Conv2d => "conv2d",
        OpKind::DepthwiseConv2d => "depthwise-conv2d",
        OpKind::Embedding => "embedding",
        OpKind::AttentionMatmul => "attention-matmul",
    }
}

/// Whether `name` matches any of `patterns` (`*` wildcards, `[2-6]` classes).
pub fn matches_any(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|pattern| matches(pattern, name))
}

fn matches(pattern: &str, name: &str) -> bool {
    glob::Pattern::new(pattern).is_ok_and(|compiled| compiled.matches(name))
}

fn kernel_for<'p>(
    profile: &'p Profile,
    op: OpKind,
    shape: Option<(u64, u64, u64)>,
    weight: &str,
    activation: &str,
) -> Option<&'p KernelRule> {
    profile.kernel.iter().find(|rule| {
        let shape_ok = match shape {
            Some((rows, cols, depth)) => rule.fits(rows, cols, depth),
            None => !rule.is_conditional(),
        };
        rule.ops.contains(&op)
            && shape_ok
            && matches_any(&rule.weight, weight)
            && matches_any(&rule.activation, activation)
    })
}

fn fallback_applies(rule: &FallbackRule, op: OpKind, weight: &str, activation: &str) -> bool {
    let op_ok = rule.ops.is_empty() || rule.ops.contains(&op);
    let side_ok = match (&rule.weight, &rule.activation) {
        (Some(pattern), None) => matches(pattern, weight),
        (None, Some(pattern)) => matches(pattern, activation),
        _ => false,
    };
    op_ok && side_ok
}

/// Dispatches one layer call of `work`. For weightless ops (attention matmuls) pass the
/// activation format as the weight format: both operands are activations.
pub fn dispatch_for(
    profile: &Profile,
    work: &Workload,
    weight: &str,
    activation: &str,
) -> Result<Dispatch, HardwareError> {
    let shape = (work.rows, work.cols, work.depth);
    dispatch_shape(profile, work.op, Some(shape), weight, activation)
}

/// Dispatches an op whose GEMM shape is not known: rules with shape conditions are skipped.
pub fn dispatch(
    profile: &Profile,
    op: OpKind,
    weight: &str,
    activation: &str,
) -> Result<Dispatch, HardwareError> {
    dispatch_shape(profile, op, None, weight, activation)
}

fn dispatch_shape(
    profile: &Profile,
    op: OpKind,
    shape: Option<(u64, u64, u64)>,
    weight: &str,
    activation: &str,
) -> Result<Dispatch, HardwareError> {
    let mut run_weight = weight.to_string();
    let mut stored_weight = weight.to_string();
    let mut run_activation = activation.to_string();
    let mut forced_dequant: Option<Dequant> = None;
    let mut notes = Vec::new();
    let mut used = vec![false; profile.fallback.len()];
    loop {
        if let Some(rule) = kernel_for(profile, op, shape, &run_weight, &run_activation) {
            return Ok(Dispatch {
                device: Device::Main,
                precision: rule.precision,
                efficiency: rule.efficiency,
                dequant: rule.dequant.clone().or(forced_dequant),
                overhead_us: rule.overhead_us.unwrap_or(profile.overhead.per_layer_us),
                weight_stream_efficiency: rule.weight_stream_efficiency.unwrap_or(1.0),
                output_giga_elements_per_s: rule.output_giga_elements_per_s,
                curve: profile.kernel_curve(op, &rule.by_macs),
                stored_weight,
                run_activation,
                notes,
            });
        }
        let next = profile.fallback.iter().enumerate().find(|(index, rule)| {
            !used[*index] && fallback_applies(rule, op, &run_weight, &run_activation)
        });
        let Some((index, rule)) = next else { break };
        used[index] = true;
        notes.push(rule.reason.clone());
        if rule.weight.is_some() {
            run_weight = rule.to.clone();
            match &rule.dequant {
                Some(dequant) => forced_dequant = Some(dequant.clone()),
                None => stored_weight = rule.to.clone(),
            }
        } else {
            run_activation = rule.to.clone();
        }
    }
    let Some(device) = &profile.fallback_device else {
        return Err(HardwareError::Unsupported {
            profile: profile.name.clone(),
            op: op_name(op),
            weight: weight.to_string(),
            activation: activation.to_string(),
        });
    };
    notes.push(format!(
        "no kernel on {}: runs on {}",
        profile.name, device.name
    ));
    Ok(Dispatch {
        device: Device::Fallback,
        precision: Precision::Fp32,
        efficiency: 1.0,
        dequant: None,
        overhead_us: device.per_layer_us,
        weight_stream_efficiency: 1.0,
        output_giga_elements_per_s: None,
        curve: Vec::new(),
        stored_weight: weight.to_string(),
        run_activation: activation.to_string(),
        notes,
    })
}
