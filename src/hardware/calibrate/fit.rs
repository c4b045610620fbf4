//! Fitting a profile to measurements: a pure function of the measurements file.
//!
//! The model fitted is exactly the one `cost::price` evaluates for a host-cpu layer:
//!   t = overhead + max(compute, weights / (stream · dram_bw), activations / cache_bw)
//!   compute = macs / (rate · curve(macs)) + ceil(rows / reuse_rows) · cols · depth / unpack_rate
//!             + rows · cols / output_rate
//! The second compute term is the profile's `dequant`: a kernel unpacks its weights once per
//! `reuse_rows` rows (candle's repacked kernels keep a tile of rows per unpacked weight block;
//! its generic ones unpack per row). The third is the profile's `output-giga-elements-per-s`:
//! a cost per output element beyond its MACs, which tells calls of equal MACs apart by shape
//! (many short dot products or few long ones).
//! - dram_bw: the larger of the read probe on the largest buffer and the weight bandwidth a
//!   kernel demonstrably reached (weight bytes / seconds); cache_bw: the best read of a buffer
//!   that fits the last-level cache.
//! - per kernel path (see [`paths`]): overhead, reuse_rows and stream (the fraction of dram_bw
//!   the path's weight stream reaches, the profile's `weight-stream-efficiency`) from grids; 1/rate,
//!   1/unpack_rate and 1/output_rate by least squares on relative error; then a curve of efficiency by MACs, one
//!   knot per half decade, by coordinate descent on the RMS of ln(predicted / measured).
//! - peak per precision = the best rate of its kernels; a kernel's efficiency = rate / peak.

use serde::{Deserialize, Serialize};

use super::measurements::{Kernel, MatmulSample, Measurements};
use crate::hardware::curve::interpolate;
use crate::hardware::error::HardwareError;
use crate::hardware::precision::Precision;

/// Overheads tried for each kernel path, microseconds.
const OVERHEAD_GRID_US: [f64; 12] = [
    0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 50.0,
];
/// Rows that share one weight unpacking, tried for each path (0: no unpacking term).
const REUSE_GRID: [u64; 11] = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
/// Weight-stream efficiencies tried for each kernel path.
const STREAM_GRID: [f64; 12] = [
    1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.5, 0.4, 0.3,
];
/// Multiplicative steps tried for each knot in one round of coordinate descent.
const KNOT_STEPS: [f64; 8] = [0.7, 0.8, 0.9, 0.95, 1.05, 1.1, 1.25, 1.4];
/// Rounds of coordinate descent over the knots.
const ROUNDS: usize = 6;
/// Rows of one tile in candle's generic quantized matmul (`k_quants::MATMUL_ROW_TILE`).
const ROW_TILE: u64 = 16;
/// Depths (floats) whose columns alias in the cache when gemm packs a transposed weight.
const ALIASED_DEPTH: u64 = 512;
/// Knots per decade of MACs.
const KNOTS_PER_DECADE: f64 = 2.0;

/// The fitted memory side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryFit {
    pub dram_gb_per_s: f64,
    /// How the DRAM figure was obtained (probe or a kernel's weight stream).
    pub dram_source: String,
    pub cache_gb_per_s: f64,
    pub cache_probe_bytes: usize,
    pub cache_capacity_bytes: u64,
}

/// Shape conditions of one kernel path (as in a profile's kernel rule).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conditions {
    pub min_rows: Option<u64>,
    pub cols_multiple_of: Option<u64>,
    pub depth_multiple_of: Option<u64>,
}

impl Conditions {
    fn fits(&self, rows: usize, cols: usize, depth: usize) -> bool {
        let multiple =
            |value: usize, of: Option<u64>| of.is_none_or(|of| (value as u64).is_multiple_of(of));
        self.min_rows.is_none_or(|min| rows as u64 >= min)
            && multiple(cols, self.cols_multiple_of)
            && multiple(depth, self.depth_multiple_of)
    }
}

/// The code paths candle 0.11 takes for each kernel on x86 (checked most specific first): its
/// repacked AVX512-VNNI kernels (`quantized::repack_x86::select`: q4_k when N % 16 = 0, q6_k
/// also needing M > 1, q8_0 also K % 256 = 0), and gemm's one-row path for the float kernels.
/// Each path is fitted on its own samples; where a path does not exist on a machine the fits
/// of its samples and of the generic path simply agree.
pub fn paths(kernel: Kernel) -> Vec<(&'static str, Conditions)> {
    let generic = ("generic", Conditions::default());
    let repacked = |min_rows, depth| Conditions {
        min_rows,
        cols_multiple_of: Some(16),
        depth_multiple_of: depth,
    };
    let rows = |min_rows| Conditions {
        min_rows: Some(min_rows),
        ..Conditions::default()
    };
    // Past one tile of rows the weights are streamed once per tile (candle's generic quantized
    // matmul tiles 16 rows, `k_quants::MATMUL_ROW_TILE`), so efficiency by MACs differs between
    // few and many rows: each gets its own curve.
    let by_rows = [
        ("several row tiles", rows(ROW_TILE + 1)),
        ("one row tile", rows(2)),
    ];
    match kernel {
        Kernel::F32 | Kernel::F16 | Kernel::Bf16 => {
            // gemm's AVX-512 kernels pack the transposed weight column by column: at a depth that
            // is a multiple of 512 floats every column starts in the same cache sets, and a few
            // rows run at half the speed (2 rows of 576 x 1536: 771 us; of 1536 x 576: 383 us).
            let aliased = |min_rows| Conditions {
                min_rows: Some(min_rows),
                depth_multiple_of: Some(ALIASED_DEPTH),
                ..Conditions::default()
            };
            vec![
                ("several row tiles, aliased depth", aliased(ROW_TILE + 1)),
                by_rows[0],
                ("several rows, aliased depth", aliased(2)),
                ("several rows", rows(2)),
                generic,
            ]
        }
        Kernel::Q8_0 => [("repacked", repacked(None, Some(256)))]
            .into_iter()
            .chain(by_rows)
            .chain([generic])
            .collect(),
        Kernel::Q6K => vec![("repacked", repacked(Some(2), None)), generic],
        Kernel::Q4K => vec![("repacked", repacked(None, None)), generic],
        _ => by_rows.into_iter().chain([generic]).collect(),
    }
}

/// One kernel path's fitted terms and how well they reproduce its samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KernelFit {
    pub kernel: Kernel,
    pub path: String,
    pub conditions: Conditions,
    pub precision: Precision,
    /// MAC rate, 10^12 operations per second (1 MAC = 2 operations).
    pub rate_tera_ops_per_s: f64,
    /// rate / the precision's peak.
    pub efficiency: f64,
    pub overhead_us: f64,
    /// Fraction of the DRAM bandwidth the path's weight stream reaches.
    pub weight_stream_efficiency: f64,
    /// Weight unpacking: (10^9 elements per second, rows per unpacking), if the path has it.
    pub unpack: Option<(f64, u64)>,
    /// Output elements finished per second beyond their MACs, 10^9, if the path has the term.
    pub output_giga_per_s: Option<f64>,
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
    /// One line: samples and the share predicted within ±10%.
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
        let mut rest: Vec<&MatmulSample> = measurements
            .matmul
            .iter()
            .filter(|s| s.kernel == kernel)
            .collect();
        for (path, conditions) in paths(kernel) {
            let (mine, others): (Vec<_>, Vec<_>) = rest
                .into_iter()
                .partition(|s| conditions.fits(s.rows, s.cols, s.depth));
            rest = others;
            if !mine.is_empty() {
                kernels.push(fit_path(kernel, path, conditions, &mine, &memory));
            }
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

fn weight_bytes(sample: &MatmulSample) -> f64 {
    let (block, bytes) = sample.kernel.block();
    (sample.cols * sample.depth / block * bytes) as f64
}

fn fit_memory(measurements: &Measurements) -> Result<MemoryFit, HardwareError> {
    let rate = |bytes: f64, seconds: f64| bytes / seconds / 1e9;
    let largest = measurements
        .read
        .iter()
        .max_by_key(|s| s.bytes)
        .ok_or_else(|| {
            HardwareError::Calibration("the measurements hold no read-bandwidth samples".into())
        })?;
    let probe = rate(largest.bytes as f64, largest.seconds);
    let streamed = measurements
        .matmul
        .iter()
        .map(|s| (rate(weight_bytes(s), s.seconds), s))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let (dram_gb_per_s, dram_source) = match streamed {
        Some((bandwidth, sample)) if bandwidth > probe => (
            bandwidth,
            format!(
                "weight stream of the {} kernel, {} x {} x {} (above the {:.1} GB/s read probe)",
                sample.kernel.weight_format(),
                sample.rows,
                sample.cols,
                sample.depth,
                probe
            ),
        ),
        _ => (
            probe,
            format!("parallel read of a {} byte buffer", largest.bytes),
        ),
    };
    let capacity = measurements.machine.last_level_cache_bytes.unwrap_or(0);
    let cached = measurements
        .read
        .iter()
        .filter(|s| (s.bytes as u64) * 2 <= capacity)
        .max_by(|a, b| rate(a.bytes as f64, a.seconds).total_cmp(&rate(b.bytes as f64, b.seconds)))
        .unwrap_or(largest);
    Ok(MemoryFit {
        dram_gb_per_s,
        dram_source,
        cache_gb_per_s: rate(cached.bytes as f64, cached.seconds),
        cache_probe_bytes: cached.bytes,
        cache_capacity_bytes: capacity.max(cached.bytes as u64 * 2),
    })
}

/// A sample reduced to what the model sees.
struct Point {
    rows: f64,
    weights: f64,
    macs: f64,
    /// Output elements (rows x cols).
    outputs: f64,
    /// Weight bytes at the full DRAM bandwidth, seconds.
    weights_s: f64,
    /// Activation bytes at their level's bandwidth, seconds.
    activations_s: f64,
    seconds: f64,
}

fn point(sample: &MatmulSample, memory: &MemoryFit) -> Point {
    let activation_bytes = (4 * sample.rows * (sample.depth + sample.cols)) as f64;
    let weights_s = weight_bytes(sample) / (memory.dram_gb_per_s * 1e9);
    let activation_bandwidth = if activation_bytes <= memory.cache_capacity_bytes as f64 {
        memory.cache_gb_per_s
    } else {
        memory.dram_gb_per_s
    };
    Point {
        rows: sample.rows as f64,
        weights: (sample.cols * sample.depth) as f64,
        macs: (sample.rows * sample.cols * sample.depth) as f64,
        outputs: (sample.rows * sample.cols) as f64,
        weights_s,
        activations_s: activation_bytes / (activation_bandwidth * 1e9),
        seconds: sample.seconds,
    }
}

/// The terms of one path's model.
#[derive(Debug, Clone)]
struct Model {
    overhead_s: f64,
    /// Fraction of the DRAM bandwidth the weight stream reaches.
    stream: f64,
    /// Seconds per MAC (1 / rate).
    per_mac: f64,
    /// Seconds per unpacked weight element (1 / unpack rate); 0 without unpacking.
    per_unpack: f64,
    reuse_rows: u64,
    /// Seconds per output element beyond its MACs (1 / output rate); 0 without.
    per_output: f64,
    curve: Vec<(f64, f64)>,
}

impl Model {
    fn unpacked(&self, point: &Point) -> f64 {
        if self.reuse_rows == 0 {
            0.0
        } else {
            (point.rows / self.reuse_rows as f64).ceil() * point.weights
        }
    }

    fn memory_s(&self, point: &Point) -> f64 {
        (point.weights_s / self.stream).max(point.activations_s)
    }

    fn predict(&self, point: &Point) -> f64 {
        let fraction = interpolate(&self.curve, point.macs);
        let compute = point.macs * self.per_mac / fraction
            + self.unpacked(point) * self.per_unpack
            + point.outputs * self.per_output;
        self.overhead_s + compute.max(self.memory_s(point))
    }

    fn rms_log_error(&self, points: &[Point]) -> f64 {
        let sum: f64 = points
            .iter()
            .map(|p| (self.predict(p) / p.seconds).ln().powi(2))
            .sum();
        (sum / points.len() as f64).sqrt()
    }
}

fn fit_path(
    kernel: Kernel,
    path: &str,
    conditions: Conditions,
    samples: &[&MatmulSample],
    memory: &MemoryFit,
) -> KernelFit {
    let points: Vec<Point> = samples.iter().map(|s| point(s, memory)).collect();
    let fastest = points
        .iter()
        .map(|p| p.seconds)
        .fold(f64::INFINITY, f64::min);
    // Per stream efficiency: the best overhead and reuse by the linear fit, then its curve; the
    // stream whose fitted curve reproduces the samples best wins.
    let mut best: Option<(f64, Model)> = None;
    for stream in STREAM_GRID {
        let Some(mut model) = best_linear_fit(&points, fastest, stream) else {
            continue;
        };
        model.curve = initial_knots(&points);
        fit_knots(&mut model, &points);
        let error = model.rms_log_error(&points);
        if best.as_ref().is_none_or(|(e, _)| error < *e) {
            best = Some((error, model));
        }
    }
    let model = best.map(|(_, model)| model).unwrap_or_else(|| {
        let mut model = Model {
            overhead_s: 0.0,
            stream: 1.0,
            per_mac: fastest / points.iter().map(|p| p.macs).fold(1.0, f64::max),
            per_unpack: 0.0,
            reuse_rows: 0,
            per_output: 0.0,
            curve: initial_knots(&points),
        };
        fit_knots(&mut model, &points);
        model
    });
    let within = points
        .iter()
        .filter(|p| (model.predict(p) / p.seconds - 1.0).abs() <= 0.10)
        .count() as f64
        / points.len() as f64;
    KernelFit {
        kernel,
        path: path.to_string(),
        conditions,
        precision: precision_of(kernel),
        rate_tera_ops_per_s: 2.0 / model.per_mac / 1e12,
        efficiency: 1.0,
        overhead_us: model.overhead_s * 1e6,
        weight_stream_efficiency: model.stream,
        unpack: (model.reuse_rows > 0 && model.per_unpack > 0.0)
            .then(|| (1.0 / model.per_unpack / 1e9, model.reuse_rows)),
        output_giga_per_s: (model.per_output > 0.0).then(|| 1.0 / model.per_output / 1e9),
        rms_log_error: model.rms_log_error(&points),
        curve: model.curve,
        samples: points.len(),
        within_10_percent: within,
    }
}

/// The overhead and reuse (from the grids) whose linear fit at `stream` has the least error.
fn best_linear_fit(points: &[Point], fastest: f64, stream: f64) -> Option<Model> {
    let mut best: Option<(f64, Model)> = None;
    let overheads = OVERHEAD_GRID_US
        .iter()
        .copied()
        .filter(|&o| o * 1e-6 < fastest);
    for overhead_us in overheads {
        for reuse_rows in REUSE_GRID {
            let Some(model) = linear_fit(points, overhead_us * 1e-6, reuse_rows, stream) else {
                continue;
            };
            let error = model.rms_log_error(points);
            if best.as_ref().is_none_or(|(e, _)| error < *e) {
                best = Some((error, model));
            }
        }
    }
    best.map(|(_, model)| model)
}

/// Least squares on relative error for
/// t - overhead = per_mac · macs + per_unpack · unpacked + per_output · outputs,
/// every coefficient kept >= 0 and per_mac > 0 (of the subsets of terms whose solution obeys
/// that, the one with the least squared error); None when no MAC rate fits.
fn linear_fit(points: &[Point], overhead_s: f64, reuse_rows: u64, stream: f64) -> Option<Model> {
    let probe = Model {
        overhead_s,
        stream,
        per_mac: 0.0,
        per_unpack: 0.0,
        reuse_rows,
        per_output: 0.0,
        curve: Vec::new(),
    };
    // Samples at the memory roof say nothing about compute; leave them out when enough remain.
    let compute_bound: Vec<&Point> = points
        .iter()
        .filter(|p| p.seconds - overhead_s > 1.1 * probe.memory_s(p))
        .collect();
    let used: Vec<&Point> = if compute_bound.len() >= 2 {
        compute_bound
    } else {
        points.iter().collect()
    };
    // Rows of the weighted system: (macs / t, unpacked / t, outputs / t) -> (t - overhead) / t.
    let rows: Vec<([f64; 3], f64)> = used
        .iter()
        .map(|p| {
            let terms = [p.macs, probe.unpacked(p), p.outputs].map(|term| term / p.seconds);
            (terms, (p.seconds - overhead_s) / p.seconds)
        })
        .collect();
    let subsets: [&[usize]; 4] = [&[0, 1, 2], &[0, 1], &[0, 2], &[0]];
    let (_, [per_mac, per_unpack, per_output]) = subsets
        .iter()
        .filter(|terms| reuse_rows > 0 || !terms.contains(&1))
        .filter_map(|terms| {
            let solution = least_squares(&rows, terms)?;
            let valid = solution[0] > 0.0 && solution.iter().all(|&c| c >= 0.0);
            valid.then(|| (squared_error(&rows, &solution), solution))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))?;
    let reuse_rows = if per_unpack > 0.0 { reuse_rows } else { 0 };
    Some(Model {
        overhead_s,
        stream,
        per_mac,
        per_unpack,
        reuse_rows,
        per_output,
        curve: Vec::new(),
    })
}

/// The least-squares coefficients of the columns `terms` of `rows` (the others 0), from the
/// normal equations by Gauss–Jordan elimination with partial pivoting; None when singular.
fn least_squares(rows: &[([f64; 3], f64)], terms: &[usize]) -> Option<[f64; 3]> {
    let n = terms.len();
    // [AᵀA | Aᵀy] over the chosen columns.
    let mut system = vec![vec![0.0; n + 1]; n];
    for (x, y) in rows {
        for (row, &ti) in system.iter_mut().zip(terms) {
            for (cell, &tj) in row.iter_mut().zip(terms) {
                *cell += x[ti] * x[tj];
            }
            row[n] += x[ti] * y;
        }
    }
    let scale = (0..n).map(|i| system[i][i]).fold(0.0, f64::max);
    for column in 0..n {
        let pivot = (column..n)
            .max_by(|&a, &b| system[a][column].abs().total_cmp(&system[b][column].abs()))?;
        if system[pivot][column].abs() <= 1e-12 * scale {
            return None;
        }
        system.swap(column, pivot);
        let lead = system[column].clone();
        for (index, row) in system.iter_mut().enumerate() {
            if index != column {
                let factor = row[column] / lead[column];
                for (cell, &l) in row.iter_mut().zip(&lead) {
                    *cell -= factor * l;
                }
            }
        }
    }
    // Row i now holds column i's pivot alone.
    let mut solution = [0.0; 3];
    for (i, (row, &term)) in system.iter().zip(terms).enumerate() {
        solution[term] = row[n] / row[i];
    }
    Some(solution)
}

/// Σ (predicted − y)² of the weighted system for `solution`.
fn squared_error(rows: &[([f64; 3], f64)], solution: &[f64; 3]) -> f64 {
    rows.iter()
        .map(|(x, y)| {
            let predicted: f64 = x.iter().zip(solution).map(|(a, b)| a * b).sum();
            (predicted - y).powi(2)
        })
        .sum()
}

/// Knots every half decade of MACs where samples are (a sample belongs to its nearest half
/// decade), all starting at 1.0; a knot without samples would be free to drift.
fn initial_knots(points: &[Point]) -> Vec<(f64, f64)> {
    let mut steps: Vec<i64> = points
        .iter()
        .map(|p| (p.macs.log10() * KNOTS_PER_DECADE).round() as i64)
        .collect();
    steps.sort_unstable();
    steps.dedup();
    steps
        .into_iter()
        .map(|step| (10f64.powf(step as f64 / KNOTS_PER_DECADE).round(), 1.0))
        .collect()
}

/// Coordinate descent on each knot's fraction, kept in (0, 1] by rescaling the MAC rate so the
/// largest fraction is 1.
fn fit_knots(model: &mut Model, points: &[Point]) {
    for _ in 0..ROUNDS {
        for knot in 0..model.curve.len() {
            let mut best_error = model.rms_log_error(points);
            let start = model.curve[knot].1;
            for step in KNOT_STEPS {
                let previous = model.curve[knot].1;
                model.curve[knot].1 = (start * step).max(1e-4);
                let error = model.rms_log_error(points);
                if error < best_error {
                    best_error = error;
                } else {
                    model.curve[knot].1 = previous;
                }
            }
        }
    }
    let top = model.curve.iter().map(|(_, f)| *f).fold(0.0, f64::max);
    if top > 0.0 {
        for knot in &mut model.curve {
            knot.1 /= top;
        }
        model.per_mac /= top;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first path (most specific first) whose conditions a call fits.
    fn path_of(kernel: Kernel, rows: usize, cols: usize, depth: usize) -> &'static str {
        let paths = paths(kernel);
        let found = paths.iter().find(|(_, c)| c.fits(rows, cols, depth));
        found.map_or("none", |(name, _)| *name)
    }

    #[test]
    fn float_paths_split_aliased_depths_by_rows() {
        assert_eq!(path_of(Kernel::F32, 1, 576, 1536), "generic");
        assert_eq!(path_of(Kernel::F32, 8, 1536, 576), "several rows");
        assert_eq!(
            path_of(Kernel::F32, 8, 576, 1536),
            "several rows, aliased depth"
        );
        assert_eq!(path_of(Kernel::F32, 64, 1536, 576), "several row tiles");
        assert_eq!(
            path_of(Kernel::F16, 64, 576, 1536),
            "several row tiles, aliased depth"
        );
        // Quantized kernels have no such path.
        assert_eq!(path_of(Kernel::Q4_0, 8, 576, 1536), "one row tile");
    }
}
