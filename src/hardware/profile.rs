//! The hardware profile schema (`hardware-profiles/*.toml`): plain data, parsed with serde.
//!
//! Units are in the field names (`bandwidth-gb-per-s`, `capacity-bytes`, `per-layer-us`), so a
//! unit typo is an unknown field and is rejected. "Tera-ops" count one multiply-accumulate as two
//! operations, as datasheets do. The meaning of every field is documented in
//! `hardware-profiles/README.md`; `validate.rs` checks ranges and cross references.

use serde::{Deserialize, Serialize};

use super::precision::Precision;
use crate::model::OpKind;

/// The `schema` value every profile carries; bumped when a field changes meaning.
pub const SCHEMA: &str = "bitplan.hardware/1";

/// One chip, as the cost model sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Profile {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Stable name; equals the file stem (`nvidia-h100-sxm`).
    pub name: String,
    pub description: String,
    pub class: ChipClass,
    /// Peak dense throughput and MAC energy per execution precision.
    pub precision: Vec<PrecisionSpec>,
    /// Memory levels, innermost (fastest) first.
    pub memory: Vec<MemoryLevel>,
    /// Fraction of peak reached by op kind and problem size; an op with no entry gets 1.0.
    #[serde(default)]
    pub compute_efficiency: Vec<ComputeEfficiency>,
    /// GEMM tile sizes and the number of compute units that run tiles in parallel.
    #[serde(default)]
    pub padding: Padding,
    pub overhead: Overhead,
    /// Which (op, weight format, activation format) run natively, in which precision.
    /// The first rule that matches wins.
    pub kernel: Vec<KernelRule>,
    /// Rewrites tried in order when no kernel rule matches.
    #[serde(default)]
    pub fallback: Vec<FallbackRule>,
    /// Where layers the chip cannot run at all go (e.g. the host CPU beside an NPU).
    #[serde(default)]
    pub fallback_device: Option<FallbackDevice>,
    pub transition: Transition,
}

/// The kind of chip; informational, and used by reports to group profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChipClass {
    Gpu,
    Systolic,
    Npu,
    Cpu,
}

/// One row of `[[precision]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PrecisionSpec {
    pub name: Precision,
    /// Dense peak in 10^12 operations per second (1 MAC = 2 operations).
    pub peak_tera_ops_per_s: f64,
    /// Energy of one multiply-accumulate in this precision, picojoules.
    pub energy_pj_per_mac: f64,
}

/// What a memory level may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TensorRole {
    Weights,
    Activations,
}

/// One row of `[[memory]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MemoryLevel {
    pub name: String,
    pub capacity_bytes: f64,
    /// Peak bandwidth in 10^9 bytes per second.
    pub bandwidth_gb_per_s: f64,
    /// Energy to move one byte to or from this level, picojoules.
    pub energy_pj_per_byte: f64,
    /// Tensors this level may hold; a tensor lives in the innermost level that may hold it and
    /// has the capacity, else in the outermost one that may hold it.
    pub holds: Vec<TensorRole>,
    /// Fraction of peak bandwidth reached by transfer size; empty means 1.0 everywhere.
    #[serde(default)]
    pub transfer_efficiency: Vec<TransferPoint>,
}

/// A point of a memory level's efficiency curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TransferPoint {
    pub bytes: f64,
    pub fraction: f64,
}

/// One row of `[[compute-efficiency]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ComputeEfficiency {
    pub ops: Vec<OpKind>,
    pub by_macs: Vec<MacsPoint>,
}

/// A point of a compute efficiency curve (MACs of one layer call, padding included).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MacsPoint {
    pub macs: f64,
    pub fraction: f64,
}

/// `[padding]`: how GEMMs are cut into tiles. Defaults (all 1) mean no padding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Padding {
    /// Tile rows (the batch × tokens × pixels dimension).
    pub tile_m: u64,
    /// Tile columns (output features).
    pub tile_n: u64,
    /// Tile depth (reduction dimension).
    pub tile_k: u64,
    /// Units that each run one tile at a time (SMs, MXUs, cores); tiles run in waves of this many.
    pub compute_units: u64,
}

impl Default for Padding {
    fn default() -> Self {
        Padding {
            tile_m: 1,
            tile_n: 1,
            tile_k: 1,
            compute_units: 1,
        }
    }
}

/// `[overhead]`: fixed costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Overhead {
    /// Kernel launch / per-layer dispatch cost, microseconds, added to every layer.
    pub per_layer_us: f64,
}

/// One row of `[[kernel]]`: a native kernel and the format pairs it takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KernelRule {
    pub ops: Vec<OpKind>,
    /// Weight format name patterns (`*` matches any run of characters: `int4-*`).
    pub weight: Vec<String>,
    /// Activation format name patterns.
    pub activation: Vec<String>,
    /// The precision the multiply-accumulates run in (a row of `[[precision]]`).
    pub precision: Precision,
    /// Multiplier on the precision's peak for this kernel, in (0, 1].
    #[serde(default = "one")]
    pub efficiency: f64,
    /// Present when the kernel expands stored weights before multiplying them.
    #[serde(default)]
    pub dequant: Option<Dequant>,
    /// Replaces `[overhead] per-layer-us` for this kernel.
    #[serde(default)]
    pub overhead_us: Option<f64>,
    /// Fraction of the weights' memory level bandwidth this kernel reaches while it streams its
    /// weights, in (0, 1] (default 1): a one-thread dot-product kernel keeps fewer loads in
    /// flight than a parallel read, so it waits longer for the same bytes.
    #[serde(default)]
    pub weight_stream_efficiency: Option<f64>,
    /// Rate at which the kernel finishes output elements beyond their multiply-accumulates
    /// (storing a result, reducing a dot product's lanes), 10^9 elements per second: adds
    /// rows · cols / (rate · 10^9) seconds to compute. Fitted for CPU kernels, whose calls with
    /// many short dot products take longer than calls of the same MACs with few long ones (f32
    /// at 8 rows: 1536 x 384 took 331 us, 384 x 1536 270 us). Absent: no such cost.
    #[serde(default)]
    pub output_giga_elements_per_s: Option<f64>,
    /// Replaces the op's `[[compute-efficiency]]` curve for this kernel (fitted profiles give
    /// each kernel its own).
    #[serde(default)]
    pub by_macs: Vec<MacsPoint>,
    /// The rule applies only to GEMMs with at least this many rows (M).
    #[serde(default)]
    pub min_rows: Option<u64>,
    /// ... whose output columns (N) are a multiple of this.
    #[serde(default)]
    pub cols_multiple_of: Option<u64>,
    /// ... whose reduction length (K) is a multiple of this.
    #[serde(default)]
    pub depth_multiple_of: Option<u64>,
}

impl KernelRule {
    /// Whether the rule has shape conditions.
    pub fn is_conditional(&self) -> bool {
        self.min_rows.is_some()
            || self.cols_multiple_of.is_some()
            || self.depth_multiple_of.is_some()
    }

    /// Whether a GEMM of `rows` x `cols` x `depth` meets the rule's shape conditions.
    pub fn fits(&self, rows: u64, cols: u64, depth: u64) -> bool {
        let multiple =
            |value: u64, of: Option<u64>| of.is_none_or(|of| of > 0 && value.is_multiple_of(of));
        self.min_rows.is_none_or(|min| rows >= min)
            && multiple(cols, self.cols_multiple_of)
            && multiple(depth, self.depth_multiple_of)
    }
}

fn one() -> f64 {
    1.0
}

/// Cost of expanding stored weights to the execution precision.
///
/// The kernel expands every weight it reads once per `reuse-rows` activation rows (a GPU
/// weight-only GEMM re-expands a weight tile for every M tile; a CPU dot-product kernel
/// re-expands it for every row), so the cost grows with batch:
/// t = ceil(rows / reuse_rows) · weight_elements / (giga_elements_per_s · 10^9) seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Dequant {
    pub giga_elements_per_s: f64,
    pub reuse_rows: u64,
}

/// One row of `[[fallback]]`: run a format the chip lacks as another one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FallbackRule {
    /// Ops the rule applies to; empty means all.
    #[serde(default)]
    pub ops: Vec<OpKind>,
    /// Pattern of weight formats to rewrite (exactly one of `weight` / `activation`).
    #[serde(default)]
    pub weight: Option<String>,
    /// Pattern of activation formats to rewrite.
    #[serde(default)]
    pub activation: Option<String>,
    /// The format name the matched side is run as.
    pub to: String,
    /// Weight rewrites only. With `dequant`, weights stay stored in their own format and are
    /// expanded to `to` at run time at this cost; without it, they are converted ahead of time
    /// and stored (and counted) as `to`.
    #[serde(default)]
    pub dequant: Option<Dequant>,
    /// Why the chip needs this (shown in cost tables).
    pub reason: String,
}

/// `[fallback-device]`: a second processor for what no kernel or fallback covers. It computes
/// in fp32 with weights expanded from their stored format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FallbackDevice {
    pub name: String,
    pub peak_tera_ops_per_s: f64,
    pub bandwidth_gb_per_s: f64,
    pub energy_pj_per_mac: f64,
    pub energy_pj_per_byte: f64,
    pub per_layer_us: f64,
    /// Cost of handing a tensor between the main device and this one, microseconds.
    pub switch_overhead_us: f64,
    /// Bandwidth of that hand-over, 10^9 bytes per second.
    pub link_bandwidth_gb_per_s: f64,
}

/// `[transition]`: converting activations between adjacent layers' formats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Transition {
    /// Launch cost of a separate cast/requantize kernel, microseconds.
    pub cast_overhead_us: f64,
    /// When true, a change between two formats of the same bits per element (a requantization
    /// to a new scale) is folded into the producer's epilogue and costs nothing.
    pub fuse_same_width: bool,
}

impl Profile {
    /// The `[[precision]]` row for `precision`, if the profile has one.
    pub fn precision_spec(&self, precision: Precision) -> Option<&PrecisionSpec> {
        self.precision.iter().find(|spec| spec.name == precision)
    }

    /// The efficiency curve for `op` run by `kernel`: the kernel's own curve if it has one, else
    /// the op's, as (MACs, fraction) points; empty (1.0 everywhere) if neither exists.
    pub fn kernel_curve(&self, op: OpKind, kernel_by_macs: &[MacsPoint]) -> Vec<(f64, f64)> {
        if kernel_by_macs.is_empty() {
            self.compute_curve(op)
        } else {
            kernel_by_macs
                .iter()
                .map(|p| (p.macs, p.fraction))
                .collect()
        }
    }

    /// The efficiency curve for `op`, as (MACs, fraction) points; empty if the op has none.
    pub fn compute_curve(&self, op: OpKind) -> Vec<(f64, f64)> {
        self.compute_efficiency
            .iter()
            .find(|entry| entry.ops.contains(&op))
            .map(|entry| entry.by_macs.iter().map(|p| (p.macs, p.fraction)).collect())
            .unwrap_or_default()
    }
}

impl MemoryLevel {
    pub fn holds(&self, role: TensorRole) -> bool {
        self.holds.contains(&role)
    }

    /// The transfer efficiency curve as (bytes, fraction) points.
    pub fn curve(&self) -> Vec<(f64, f64)> {
        self.transfer_efficiency
            .iter()
            .map(|p| (p.bytes, p.fraction))
            .collect()
    }
}
