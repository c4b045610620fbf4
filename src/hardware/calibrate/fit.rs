//! Fitting a profile to measurements: a pure function of the measurements file.
//!
//! The model fitted is exactly the one `cost::price` evaluates for a host-cpu layer:
//!   t = overhead_k + max(compute, weights / dram_bw, activations / cache_bw)
//!   compute = padded_macs / (rate_k · curve_k(padded_macs))
//! - dram_bw: the parallel read bandwidth of the largest buffer (far beyond the last-level cache);
//!   cache_bw: the best read bandwidth of a buffer that fits the cache.
//! - per kernel k: the overhead (from a grid), the best MAC rate rate_k, and a curve of
//!   efficiency by MACs with one knot per half decade, each knot fitted by coordinate descent to
//!   minimise the root-mean-square of ln(predicted / measured) over the kernel's samples.
//! - peak per precision = the best rate of its kernels; each kernel's efficiency = rate_k / peak.

use serde::{Deserialize, Serialize};

use super::measurements::{Kernel, MatmulSample, Measurements};
use crate::hardware::error::HardwareError;
use crate::hardware::precision::Precision;

/// Overheads tried for each kernel, microseconds.
const OVERHEAD_GRID_US: [f64; 16] = [
    0.0, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 75.0, 100.0, 150.0, 200.0,
];
/// Multiplicative steps tried for each knot in one round of coordinate descent.
const KNOT_STEPS: [f64; 8] = [0.7, 0.8, 0.9, 0.95, 1.05, 1.1, 1.25, 1.4];
/// Rounds of coordinate descent over the knots.
const ROUNDS: usize = 6;
/// Knots per decade of MACs.
const KNOTS_PER_DECADE: f64 = 2.0;

/// The fitted memory side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryFit {
    pub dram_gb_per_s: f64,
    /// The buffer size the DRAM figure was read from.
    pub dram_probe_bytes: usize,
    pub cache_gb_per_s: f64,
    pub cache_probe_bytes: usize,
    pub cache_capacity_bytes: u64,
}

/// One kernel's fitted terms and how well they reproduce its samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KernelFit {
    pub kernel: Kernel,
    pub precision: Precision,
    /// Best MAC rate, 10^12 operations per second (1 MAC = 2 operations).
    pub rate_tera_ops_per_s: f64,
    /// rate / the precision's peak.
    pub efficiency: f64,
    pub overhead_us: f64,
    /// (MACs, fraction) knots.
    pub curve: Vec<(f64, f64)>,
    pub samples: usize,
    /// Root-mean-square of ln(predicted / measured).
    pub rms_log_error: f64,
    /// Fraction of samples predicted within ±10%.
    pub within_10_percent: f64,
}

/// Everything `render` needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fitted {
    pub memory: MemoryFit,
    /// Peak per precision, 10^12 operations per second.
    pub peaks: Vec<(Precision, f64)>,
    pub kernels: Vec<KernelFit>,
}

impl Fitted {
    /// One line: samples, share within ±10%, worst kernel.
    pub fn summary(&self) -> String {
        let samples: usize = self.kernels.iter().map(|k| k.samples).sum();
        let within: f64 = self
            .kernels
            .iter()
            .map(|k| k.within_10_percent * k.samples as f64)
            .sum::<f64>()
            / samples.max(1) as f64;
        format!(
            "{samples} samples, {:.0}% predicted within ±10%",
            within * 100.0
        )
    }
}

/// The precision a kernel's multiply-accumulates run in.
pub fn precision_of(kernel: Kernel) -> Precision {
    match kernel {
        Kernel::F32 => Precision::Fp32,
        Kernel::F16 => Precision::Fp16,
        Kernel::Bf16 => Precision::Bf16,
        // candle quantizes activations to 8 bits and runs integer dot products.
        _ => Precision::Int8,
    }
}

/// Fits `measurements` (which must be complete).
pub fn fit(measurements: &Measurements) -> Result<Fitted, HardwareError> {
    if !measurements.complete {
        return Err(HardwareError::Calibration(
            "the measurements file is partial (complete = false): finish it with --resume first"
                .into(),
        ));
    }
    let memory = fit_memory(measurements)?;
    let mut kernels = Vec::new();
    for kernel in Kernel::ALL {
        let samples: Vec<&MatmulSample> = measurements
            .matmul
            .iter()
            .filter(|s| s.kernel == kernel)
            .collect();
        if !samples.is_empty() {
            kernels.push(fit_kernel(kernel, &samples, &memory));
        }
    }
    if kernels.is_empty() {
        return Err(HardwareError::Calibration(
            "the measurements hold no matmul samples".into(),
        ));
    }
    let mut peaks: Vec<(Precision, f64)> = Vec::new();
    for fit in &kernels {
        match peaks.iter_mut().find(|(p, _)| *p == fit.precision) {
            Some((_, peak)) => *peak = peak.max(fit.rate_tera_ops_per_s),
            None => peaks.push((fit.precision, fit.rate_tera_ops_per_s)),
        }
    }
    for fit in &mut kernels {
        let peak = peaks
            .iter()
            .find(|(p, _)| *p == fit.precision)
            .map(|(_, v)| *v)
            .unwrap_or(1.0);
        fit.efficiency = fit.rate_tera_ops_per_s / peak;
    }
    Ok(Fitted {
        memory,
        peaks,
        kernels,
    })
}

fn fit_memory(measurements: &Measurements) -> Result<MemoryFit, HardwareError> {
    let rate = |bytes: usize, seconds: f64| bytes as f64 / seconds / 1e9;
    let largest = measurements
        .read
        .iter()
        .max_by_key(|s| s.bytes)
        .ok_or_else(|| {
            HardwareError::Calibration("the measurements hold no read-bandwidth samples".into())
        })?;
    let capacity = measurements.machine.last_level_cache_bytes.unwrap_or(0);
    let cached = measurements
        .read
        .iter()
        .filter(|s| (s.bytes as u64) * 2 <= capacity)
        .max_by(|a, b| rate(a.bytes, a.seconds).total_cmp(&rate(b.bytes, b.seconds)))
        .unwrap_or(largest);
    Ok(MemoryFit {
        dram_gb_per_s: rate(largest.bytes, largest.seconds),
        dram_probe_bytes: largest.bytes,
        cache_gb_per_s: rate(cached.bytes, cached.seconds),
        cache_probe_bytes: cached.bytes,
        cache_capacity_bytes: capacity.max(cached.bytes as u64 * 2),
    })
}

/// A sample reduced to what the model sees.
struct Point {
    macs: f64,
    memory_s: f64,
    seconds: f64,
}

fn point(kernel: Kernel, sample: &MatmulSample, memory: &MemoryFit) -> Point {
    let (block, block_bytes) = kernel.block();
    let weight_bytes = (sample.cols * sample.depth / block * block_bytes) as f64;
    let activation_bytes = (4 * sample.rows * (sample.depth + sample.cols)) as f64;
    let weights_s = weight_bytes / (memory.dram_gb_per_s * 1e9);
    let activation_bandwidth = if activation_bytes <= memory.cache_capacity_bytes as f64 {
        memory.cache_gb_per_s
    } else {
        memory.dram_gb_per_s
    };
    let activations_s = activation_bytes / (activation_bandwidth * 1e9);
    Point {
        macs: (sample.rows * sample.cols * sample.depth) as f64,
        memory_s: weights_s.max(activations_s),
        seconds: sample.seconds,
    }
}

/// Seconds the model predicts for `point` (rate in MACs per second).
fn predict(point: &Point, overhead_s: f64, rate: f64, curve: &[(f64, f64)]) -> f64 {
    let fraction = crate::hardware::curve::interpolate(curve, point.macs);
    overhead_s + (point.macs / (rate * fraction)).max(point.memory_s)
}

fn rms_log_error(points: &[Point], overhead_s: f64, rate: f64, curve: &[(f64, f64)]) -> f64 {
    let sum: f64 = points
        .iter()
        .map(|p| {
            (predict(p, overhead_s, rate, curve) / p.seconds)
                .ln()
                .powi(2)
        })
        .sum();
    (sum / points.len() as f64).sqrt()
}

fn fit_kernel(kernel: Kernel, samples: &[&MatmulSample], memory: &MemoryFit) -> KernelFit {
    let points: Vec<Point> = samples.iter().map(|s| point(kernel, s, memory)).collect();
    let fastest = points
        .iter()
        .map(|p| p.seconds)
        .fold(f64::INFINITY, f64::min);
    let mut best: Option<(f64, f64, f64, Vec<(f64, f64)>)> = None;
    for overhead_us in OVERHEAD_GRID_US
        .iter()
        .copied()
        .filter(|&o| o * 1e-6 < fastest)
    {
        let (rate, curve) = fit_curve(&points, overhead_us * 1e-6);
        let error = rms_log_error(&points, overhead_us * 1e-6, rate, &curve);
        if best.as_ref().is_none_or(|(e, ..)| error < *e) {
            best = Some((error, overhead_us, rate, curve));
        }
    }
    let (error, overhead_us, rate, curve) = best.unwrap_or((f64::NAN, 0.0, 1.0, Vec::new()));
    let within = points
        .iter()
        .filter(|p| (predict(p, overhead_us * 1e-6, rate, &curve) / p.seconds - 1.0).abs() <= 0.10)
        .count() as f64
        / points.len() as f64;
    KernelFit {
        kernel,
        precision: precision_of(kernel),
        rate_tera_ops_per_s: 2.0 * rate / 1e12,
        efficiency: 1.0,
        overhead_us,
        curve,
        samples: points.len(),
        rms_log_error: error,
        within_10_percent: within,
    }
}

/// For a given overhead: the best MAC rate and the efficiency knots.
fn fit_curve(points: &[Point], overhead_s: f64) -> (f64, Vec<(f64, f64)>) {
    // The rate each sample implies if it were compute-bound; the best of them is the kernel's rate.
    let implied: Vec<f64> = points
        .iter()
        .map(|p| p.macs / (p.seconds - overhead_s).max(1e-12))
        .collect();
    let rate = implied.iter().copied().fold(0.0, f64::max);
    let mut curve = initial_knots(points, &implied, rate);
    for _ in 0..ROUNDS {
        for knot in 0..curve.len() {
            let mut best_error = rms_log_error(points, overhead_s, rate, &curve);
            let start = curve[knot].1;
            for step in KNOT_STEPS {
                let candidate = (start * step).clamp(1e-4, 1.0);
                let previous = curve[knot].1;
                curve[knot].1 = candidate;
                let error = rms_log_error(points, overhead_s, rate, &curve);
                if error < best_error {
                    best_error = error;
                } else {
                    curve[knot].1 = previous;
                }
            }
        }
    }
    (rate, curve)
}

/// Knots every half decade of MACs over the samples' range, each starting at the median
/// fraction implied by the samples nearest to it.
fn initial_knots(points: &[Point], implied: &[f64], rate: f64) -> Vec<(f64, f64)> {
    let logs: Vec<f64> = points.iter().map(|p| p.macs.log10()).collect();
    let low = (logs.iter().copied().fold(f64::INFINITY, f64::min) * KNOTS_PER_DECADE).floor();
    let high = (logs.iter().copied().fold(f64::NEG_INFINITY, f64::max) * KNOTS_PER_DECADE).ceil();
    let mut knots = Vec::new();
    let mut step = low;
    while step <= high {
        let center = step / KNOTS_PER_DECADE;
        let mut near: Vec<f64> = logs
            .iter()
            .zip(implied)
            .filter(|(log, _)| (*log - center).abs() <= 0.5 / KNOTS_PER_DECADE)
            .map(|(_, r)| (r / rate).clamp(1e-4, 1.0))
            .collect();
        if !near.is_empty() {
            near.sort_by(f64::total_cmp);
            knots.push((10f64.powf(center).round(), near[near.len() / 2]));
        }
        step += 1.0;
    }
    knots
}
