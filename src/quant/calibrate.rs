//! Activation range calibration: statistics gathered once over batches (exact min and max, and a
//! histogram of values), then each estimator is a pure function of those statistics.
//!
//! The histogram spans [-h, h] with `BINS` equal bins, h a power of two; when a batch exceeds h,
//! h doubles and pairs of bins merge exactly, so no value is ever re-binned by interpolation.
//! Estimators: min-max; percentile; MSE-optimal clipping (the clip ratio, searched on a grid,
//! that minimizes the histogram-weighted squared error of the format's own quantizer); entropy
//! (TensorRT's KL-divergence calibration, generalized from int8 to any static format by merging
//! the bins that quantize to the same level).

use std::fmt;
use std::str::FromStr;

use candle_core::Tensor;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::QuantError;
use super::fake_quant::{ActRange, StaticQuantizer};
use super::float::{floor_log2, pow2};
use super::format::Format;
use super::rows::{check_finite, with_f32, Stats};

/// Histogram bins over [-h, h]: 4096 per sign, at least 2048 over [0, amax] (TensorRT uses 2048).
const BINS: usize = 8192;
/// Smallest histogram half-width, 2^-64, so that bin widths stay normal f32 numbers.
const MIN_HALF_WIDTH_EXPONENT: i32 = -64;
/// Largest histogram half-width, 2^127 (values beyond fall in the outer bins).
const MAX_HALF_WIDTH_EXPONENT: i32 = 127;
/// Clip ratios tried by the MSE search: 1/100, 2/100, ..., 1.
const MSE_STEPS: usize = 100;
/// Most thresholds the entropy search evaluates (evenly strided).
const ENTROPY_CANDIDATES: usize = 512;
/// Mass given to empty bins before the KL divergence (TensorRT and MXNet smooth likewise).
const KL_EPSILON: f64 = 1e-4;

/// How a static activation range is estimated from observed values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RangeMethod {
    /// Observed minimum and maximum.
    MinMax,
    /// Clip at a percentile in (0, 100] of |x| (symmetric formats) or at both tails (asymmetric).
    Percentile(f64),
    /// The clip ratio of the min-max range that minimizes the expected squared error.
    Mse,
    /// The |x| threshold minimizing the KL divergence between clipped and quantized histograms.
    Entropy,
}

impl fmt::Display for RangeMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MinMax => f.write_str("minmax"),
            Self::Percentile(p) => write!(f, "percentile:{p}"),
            Self::Mse => f.write_str("mse"),
            Self::Entropy => f.write_str("entropy"),
        }
    }
}

impl FromStr for RangeMethod {
    type Err = QuantError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = |reason: &str| QuantError::UnknownRangeMethod {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        match text.trim() {
            "minmax" => Ok(Self::MinMax),
            "mse" => Ok(Self::Mse),
            "entropy" => Ok(Self::Entropy),
            "percentile" => Err(error("a percentile needs its value")),
            other => {
                let value = other
                    .strip_prefix("percentile:")
                    .ok_or_else(|| error("not a known method"))?;
                let p: f64 = value
                    .parse()
                    .map_err(|_| error("the percentile is not a number"))?;
                if p > 0.0 && p <= 100.0 {
                    Ok(Self::Percentile(p))
                } else {
                    Err(error("the percentile is outside (0, 100]"))
                }
            }
        }
    }
}

impl Serialize for RangeMethod {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RangeMethod {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Statistics of every value observed for one activation: exact min and max, and a histogram.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RangeObserver {
    count: u64,
    min: f32,
    max: f32,
    /// The histogram spans [-half_width, half_width]; 0 until a nonzero value is seen.
    half_width: f32,
    /// Zeros seen before the first nonzero value fixed the histogram's span.
    pending_zeros: u64,
    bins: Vec<u64>,
}

impl Default for RangeObserver {
    fn default() -> Self {
        Self::new()
    }
}

impl RangeObserver {
    /// An observer that has seen nothing.
    pub fn new() -> Self {
        Self {
            count: 0,
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            half_width: 0.0,
            pending_zeros: 0,
            bins: vec![0; BINS],
        }
    }

    /// Number of values observed.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Add every value of `x` (any float dtype). NaN or infinity is an error.
    pub fn observe(&mut self, x: &Tensor) -> Result<(), QuantError> {
        with_f32(x, |data| {
            let stats = check_finite(data, x.dims())?;
            self.add(data, stats);
            Ok(())
        })
    }

    fn add(&mut self, data: &[f32], stats: Stats) {
        if data.is_empty() {
            return;
        }
        self.count += data.len() as u64;
        self.min = self.min.min(stats.min);
        self.max = self.max.max(stats.max);
        self.grow_to(stats.amax());
        if self.half_width == 0.0 {
            self.pending_zeros += data.len() as u64;
            return;
        }
        self.bins[BINS / 2] += std::mem::take(&mut self.pending_zeros);
        // Bins per unit is a power of two, so `value * per_unit` is exact and the bin of a value
        // is the same whether it is binned now or at a finer width and merged later.
        let per_unit = BINS as f32 / (2.0 * self.half_width);
        for &value in data {
            let index = (value * per_unit).floor() as i64 + (BINS / 2) as i64;
            self.bins[index.clamp(0, BINS as i64 - 1) as usize] += 1;
        }
    }

    /// Widen the histogram (by exact doublings) until it covers `amax`.
    fn grow_to(&mut self, amax: f32) {
        if amax == 0.0 {
            return;
        }
        if self.half_width == 0.0 {
            let exponent = floor_log2(amax) + i32::from(pow2(floor_log2(amax)) < amax);
            self.half_width =
                pow2(exponent.clamp(MIN_HALF_WIDTH_EXPONENT, MAX_HALF_WIDTH_EXPONENT));
            return;
        }
        while self.half_width < amax && floor_log2(self.half_width) < MAX_HALF_WIDTH_EXPONENT {
            // Old bin i covers [-h + i·2h/B, ...) = new bin B/4 + i/2 once the span is 2h.
            let mut merged = vec![0u64; BINS];
            for (index, &count) in self.bins.iter().enumerate() {
                merged[BINS / 4 + index / 2] += count;
            }
            self.bins = merged;
            self.half_width *= 2.0;
        }
    }

    /// The range `method` estimates for `format`. Formats without a static range (dynamic or
    /// weight-only) get min-max, which they ignore; an observer that saw nothing gives [0, 0].
    pub fn range(&self, method: RangeMethod, format: Format) -> ActRange {
        if self.count == 0 {
            return ActRange { min: 0.0, max: 0.0 };
        }
        let minmax = ActRange {
            min: self.min,
            max: self.max,
        };
        if self.half_width == 0.0 || StaticQuantizer::new(format, minmax).is_none() {
            return minmax;
        }
        let histogram = Histogram {
            bins: &self.bins,
            half_width: self.half_width,
            minmax,
        };
        let symmetric = match format {
            Format::Int(int) => int.symmetric(),
            _ => true,
        };
        match method {
            RangeMethod::MinMax => minmax,
            RangeMethod::Percentile(p) => histogram.percentile_range(p, symmetric),
            RangeMethod::Mse => histogram.mse_range(format, symmetric),
            RangeMethod::Entropy => histogram.entropy_range(format),
        }
    }
}

/// A read-only view of an observer's histogram.
struct Histogram<'a> {
    bins: &'a [u64],
    half_width: f32,
    minmax: ActRange,
}

impl Histogram<'_> {
    fn bin_width(&self) -> f64 {
        2.0 * f64::from(self.half_width) / BINS as f64
    }

    /// Centre of bin `index`, clamped into the observed range.
    fn center(&self, index: usize) -> f32 {
        let center = -f64::from(self.half_width) + (index as f64 + 0.5) * self.bin_width();
        (center as f32).clamp(self.minmax.min, self.minmax.max)
    }

    /// |x| histogram: bin k covers [k·w, (k+1)·w) for the bin width w.
    fn magnitudes(&self) -> Vec<u64> {
        let half = BINS / 2;
        (0..half)
            .map(|k| self.bins[half + k] + self.bins[half - 1 - k])
            .collect()
    }

    /// Clip the observed range to [-amax, amax].
    fn clip(&self, amax: f32) -> ActRange {
        ActRange {
            min: self.minmax.min.max(-amax),
            max: self.minmax.max.min(amax),
        }
    }

    fn percentile_range(&self, percentile: f64, symmetric: bool) -> ActRange {
        let fraction = percentile / 100.0;
        if symmetric {
            return self.clip(quantile(&self.magnitudes(), 0.0, self.bin_width(), fraction) as f32);
        }
        let start = -f64::from(self.half_width);
        let low = quantile(self.bins, start, self.bin_width(), 1.0 - fraction) as f32;
        let high = quantile(self.bins, start, self.bin_width(), fraction) as f32;
        let min = self.minmax.min.max(low).min(self.minmax.max);
        ActRange {
            min,
            max: self.minmax.max.min(high).max(min),
        }
    }

    /// Expected squared error of `format` with `range` over the histogram (values at bin centres).
    fn squared_error(&self, format: Format, range: ActRange) -> f64 {
        let Some(quantizer) = StaticQuantizer::new(format, range) else {
            return f64::INFINITY;
        };
        self.bins
            .iter()
            .enumerate()
            .filter(|(_, &count)| count > 0)
            .map(|(index, &count)| {
                let x = self.center(index);
                count as f64 * f64::from(x - quantizer.fake_quant(x)).powi(2)
            })
            .sum()
    }

    fn mse_range(&self, format: Format, symmetric: bool) -> ActRange {
        let amax = self.minmax.amax();
        let candidates = (1..=MSE_STEPS).map(|step| {
            let ratio = step as f32 / MSE_STEPS as f32;
            if symmetric {
                self.clip(amax * ratio)
            } else {
                ActRange {
                    min: self.minmax.min * ratio,
                    max: self.minmax.max * ratio,
                }
            }
        });
        // `<=` keeps the widest of equally good ranges (least clipping).
        let mut best = (f64::INFINITY, self.minmax);
        for range in candidates {
            let error = self.squared_error(format, range);
            if error <= best.0 {
                best = (error, range);
            }
        }
        best.1
    }

    fn entropy_range(&self, format: Format) -> ActRange {
        let magnitudes = self.magnitudes();
        let used = magnitudes
            .iter()
            .rposition(|&count| count > 0)
            .map_or(1, |last| last + 1);
        let first = (used / 16).max(1);
        let stride = ((used - first) / ENTROPY_CANDIDATES).max(1);
        let width = self.bin_width();
        let mut best = (f64::INFINITY, self.minmax);
        for bins in (first..=used).rev().step_by(stride) {
            let threshold = (bins as f64 * width) as f32;
            let range = self.clip(threshold);
            let divergence = clipped_divergence(&magnitudes, bins, width, format, range);
            // Strictly smaller: candidates run from wide to narrow, so ties keep the widest.
            if divergence < best.0 {
                best = (divergence, range);
            }
        }
        best.1
    }
}

/// The value below which `fraction` of a histogram's mass lies (bins start at `start`, each
/// `width` wide), interpolating linearly inside the bin that crosses it.
fn quantile(bins: &[u64], start: f64, width: f64, fraction: f64) -> f64 {
    let total: u64 = bins.iter().sum();
    let target = fraction.clamp(0.0, 1.0) * total as f64;
    let mut below = 0.0;
    for (index, &count) in bins.iter().enumerate() {
        let count = count as f64;
        if count > 0.0 && below + count >= target {
            let inside = ((target - below) / count).clamp(0.0, 1.0);
            return start + (index as f64 + inside) * width;
        }
        below += count;
    }
    start + bins.len() as f64 * width
}

/// KL(P‖Q) for clipping the |x| histogram at `bins` bins: P is the clipped histogram with the
/// outliers added to its last bin; Q merges the (unclipped-part) bins that `format` maps to the
/// same level and spreads each level's mass evenly over its bins where P is nonzero.
fn clipped_divergence(
    magnitudes: &[u64],
    bins: usize,
    width: f64,
    format: Format,
    range: ActRange,
) -> f64 {
    let Some(quantizer) = StaticQuantizer::new(format, range) else {
        return f64::INFINITY;
    };
    let mut p: Vec<f64> = magnitudes[..bins].iter().map(|&c| c as f64).collect();
    p[bins - 1] += magnitudes[bins..].iter().sum::<u64>() as f64;
    let mut q = vec![0.0; bins];
    let level = |index: usize| quantizer.fake_quant(((index as f64 + 0.5) * width) as f32);
    let mut start = 0;
    while start < bins {
        let value = level(start);
        let end = (start..bins).find(|&i| level(i) != value).unwrap_or(bins);
        let mass: f64 = magnitudes[start..end].iter().map(|&c| c as f64).sum();
        let support = (start..end).filter(|&i| p[i] > 0.0).count();
        for i in (start..end).filter(|&i| p[i] > 0.0) {
            q[i] = mass / support as f64;
        }
        start = end;
    }
    kl_divergence(&smooth(&p), &smooth(&q))
}

/// Normalize, give every empty bin `KL_EPSILON` of mass, and renormalize, so that no bin is 0.
fn smooth(counts: &[f64]) -> Vec<f64> {
    let total: f64 = counts.iter().sum();
    if total == 0.0 {
        return vec![1.0 / counts.len() as f64; counts.len()];
    }
    let zeros = counts.iter().filter(|&&c| c == 0.0).count();
    let norm = 1.0 + KL_EPSILON * zeros as f64;
    counts
        .iter()
        .map(|&c| if c == 0.0 { KL_EPSILON } else { c / total } / norm)
        .collect()
}

fn kl_divergence(p: &[f64], q: &[f64]) -> f64 {
    p.iter()
        .zip(q)
        .filter(|(&pi, _)| pi > 0.0)
        .map(|(&pi, &qi)| pi * (pi / qi.max(f64::MIN_POSITIVE)).ln())
        .sum()
}
