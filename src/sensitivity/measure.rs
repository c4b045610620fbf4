//! The measured error: how far the outputs with some layers quantized are from the fp32 outputs,
//! one value per calibration batch.

use std::fmt;
use std::str::FromStr;

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

use super::SensitivityError;
use crate::model::{PreparedAssignment, RunnableModel};
use crate::quant::with_f32;

/// The output distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// KL(softmax(fp32) ‖ softmax(quantized)) per output row (sample, or token for LMs), in nats.
    Kl,
    /// 1 − cosine similarity of each output row (embedding models).
    Cosine,
}

impl FromStr for Metric {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "kl" => Ok(Self::Kl),
            "cosine" => Ok(Self::Cosine),
            other => Err(format!(
                "unknown metric `{other}`: valid metrics are kl, cosine"
            )),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Self::Kl => "kl",
            Self::Cosine => "cosine",
        })
    }
}

/// The fp32 output of one batch, kept as the metric needs it (f32: the model's own precision,
/// half the memory of f64 for a 49k-token vocabulary).
#[derive(Debug, Clone)]
pub struct Reference {
    metric: Metric,
    /// Row width (classes, vocabulary or embedding width).
    width: usize,
    /// Rows (output values / width).
    rows: usize,
    /// KL: softmax p of each row, flattened; cosine: the fp32 output rows, flattened.
    values: Vec<f32>,
    /// Per row. KL: (log Σ exp r, Σ p·r, Σ p) of the fp32 logits r; cosine: (‖r‖², 0, 0).
    per_row: Vec<[f64; 3]>,
}

impl Reference {
    /// The reference for `metric` from fp32 outputs `[..., width]`.
    pub fn new(metric: Metric, output: &Tensor) -> Result<Self, SensitivityError> {
        let (width, values) = flat_rows(output)?;
        let rows = values.len() / width;
        let (values, per_row) = match metric {
            Metric::Kl => {
                let mut probs = Vec::with_capacity(values.len());
                let mut per_row = Vec::with_capacity(rows);
                for row in values.chunks(width) {
                    let lse = log_sum_exp(row);
                    let p: Vec<f32> = row
                        .iter()
                        .map(|&v| (f64::from(v) - lse).exp() as f32)
                        .collect();
                    let (_, dot) = kl_sums(row, &p, row_max(row));
                    let mass = p.iter().map(|&v| f64::from(v)).sum();
                    per_row.push([lse, dot, mass]);
                    probs.extend(p);
                }
                (probs, per_row)
            }
            Metric::Cosine => {
                let per_row = values
                    .chunks(width)
                    .map(|r| [dot(r, r), 0.0, 0.0])
                    .collect();
                (values, per_row)
            }
        };
        Ok(Self {
            metric,
            width,
            rows,
            values,
            per_row,
        })
    }

    /// Mean distance of the rows of `output` (same shape as the reference) to the reference.
    pub fn distance(&self, output: &Tensor) -> Result<f64, SensitivityError> {
        let width = output.dims().last().copied().unwrap_or(1).max(1);
        if width != self.width || output.elem_count() != self.rows * self.width {
            return Err(SensitivityError::Invalid {
                what: format!("output of shape {:?}", output.dims()),
                reason: format!(
                    "the fp32 reference has {} values in rows of {}",
                    self.rows * self.width,
                    self.width
                ),
            });
        }
        // Read in place: a copy of a 128-token window's logits is 25 MB more memory traffic.
        let total = with_f32(output, |values| {
            Ok((0..self.rows)
                .map(|row| self.row_distance(row, values))
                .sum::<f64>())
        })
        .map_err(|error| SensitivityError::Invalid {
            what: format!("output of shape {:?}", output.dims()),
            reason: error.to_string(),
        })?;
        Ok(total / self.rows.max(1) as f64)
    }

    fn row_distance(&self, row: usize, values: &[f32]) -> f64 {
        let span = row * self.width..(row + 1) * self.width;
        let (reference, quantized) = (&self.values[span.clone()], &values[span]);
        let [first, dot_pr, mass] = self.per_row[row];
        match self.metric {
            // KL(p‖q) = Σ p·(r − lse_r − q + lse_q) = Σ p·r − Σ p·q − (lse_r − lse_q)·Σ p, for
            // logits r (fp32) and q; `reference` holds p. Exactly 0 when q equals r: both sums
            // and both log-sum-exps come from the same code on the same values.
            Metric::Kl => {
                let max = row_max(quantized);
                let (sum_exp, dot_pq) = kl_sums(quantized, reference, max);
                let shift = first - (f64::from(max) + sum_exp.ln());
                (dot_pr - dot_pq - shift * mass).max(0.0)
            }
            Metric::Cosine => {
                let (aa, bb) = (first, dot(quantized, quantized));
                if aa == 0.0 || bb == 0.0 {
                    return if aa == bb { 0.0 } else { 1.0 };
                }
                // sqrt(aa·bb) is exactly aa when the rows are equal, so equal rows give 0.
                1.0 - dot(reference, quantized) / (aa * bb).sqrt()
            }
        }
    }
}

/// Output `[..., width]` as `(width, values)`.
fn flat_rows(output: &Tensor) -> Result<(usize, Vec<f32>), SensitivityError> {
    let width = output.dims().last().copied().unwrap_or(1).max(1);
    let values = output
        .to_dtype(DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    Ok((width, values))
}

/// The largest value of a row (in sixteen lanes, which vectorize; the maximum of any order is
/// the same value).
fn row_max(row: &[f32]) -> f32 {
    const LANES: usize = 16;
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let blocks = row.chunks_exact(LANES);
    let tail = blocks.remainder().iter().copied();
    for block in blocks {
        for (lane, &v) in lanes.iter_mut().zip(block) {
            *lane = if v > *lane { v } else { *lane };
        }
    }
    lanes
        .into_iter()
        .chain(tail)
        .fold(f32::NEG_INFINITY, f32::max)
}

/// log Σ exp of a row, from the same sums as [`kl_sums`].
fn log_sum_exp(row: &[f32]) -> f64 {
    let max = row_max(row);
    f64::from(max) + kl_sums(row, row, max).0.ln()
}

/// `(Σ exp(x − max), Σ p·x)` over a row `x` (f64 sums in eight fixed lanes and fused
/// multiply-adds, which round once wherever they run, so the result does not depend on the CPU;
/// without FMA the library's `fma` gives the same bits, slowly). The KL of a 49k-token vocabulary is a log-sum-exp per token, which
/// with the C library's `exp` and one running sum took 20 ms per 128-token window (7% of a
/// forward); eight lanes of a branch-free `exp` vectorize.
fn kl_sums(x: &[f32], p: &[f32], max: f32) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA, the only features the function enables.
        return unsafe { kl_sums_avx2(x, p, max) };
    }
    kl_sums_lanes(x, p, max)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn kl_sums_avx2(x: &[f32], p: &[f32], max: f32) -> (f64, f64) {
    kl_sums_lanes(x, p, max)
}

#[inline(always)]
fn kl_sums_lanes(x: &[f32], p: &[f32], max: f32) -> (f64, f64) {
    const LANES: usize = 8;
    let max = f64::from(max);
    let (mut exps, mut dots) = ([0.0f64; LANES], [0.0f64; LANES]);
    let (x_blocks, p_blocks) = (x.chunks_exact(LANES), p.chunks_exact(LANES));
    let tail = x_blocks.remainder().iter().zip(p_blocks.remainder());
    for (xs, ps) in x_blocks.zip(p_blocks) {
        for lane in 0..LANES {
            let v = f64::from(xs[lane]);
            exps[lane] += exp_nonpositive(v - max);
            dots[lane] = f64::from(ps[lane]).mul_add(v, dots[lane]);
        }
    }
    for (lane, (&x, &p)) in tail.enumerate() {
        let v = f64::from(x);
        exps[lane] += exp_nonpositive(v - max);
        dots[lane] = f64::from(p).mul_add(v, dots[lane]);
    }
    (exps.iter().sum(), dots.iter().sum())
}

/// e^x for x ≤ 0 to about one ulp, with no branch or call, so that loops over it vectorize:
/// x = n·ln 2 + r with |r| ≤ ln 2 / 2 (Cody–Waite: n·LN2_HI is exact), e^r by its Taylor series
/// to r¹³ (the next term is below 4·10⁻¹⁸ relative), times 2ⁿ built from its bits. Below −700
/// (e^x < 10⁻³⁰⁴, nothing beside the row maximum's 1) x is held at −700.
#[inline(always)]
fn exp_nonpositive(x: f64) -> f64 {
    // 1.5·2⁵²: adding it rounds to an integer, whose value the low bits then hold.
    const ROUND: f64 = 6_755_399_441_055_744.0;
    const LN2_HI: f64 = 0.693_145_751_953_125;
    const LN2_LO: f64 = 1.428_606_820_309_417_2e-6;
    let x = x.max(-700.0);
    let shifted = x * std::f64::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, x));
    let mut poly: f64 = 1.0 / 6_227_020_800.0;
    for factorial in [
        479_001_600.0,
        39_916_800.0,
        3_628_800.0,
        362_880.0,
        40_320.0,
        5_040.0,
        720.0,
        120.0,
        24.0,
        6.0,
        2.0,
        1.0,
        1.0,
    ] {
        poly = poly.mul_add(r, 1.0 / factorial);
    }
    let exponent = (shifted.to_bits() as i64).wrapping_sub(ROUND.to_bits() as i64) + 1023;
    poly * f64::from_bits((exponent as u64) << 52)
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum()
}

/// The fp32 model's outputs for every batch (computed once, shared by all cells).
pub fn reference_outputs(
    model: &dyn RunnableModel,
    batches: &[Tensor],
    metric: Metric,
) -> Result<Vec<Reference>, SensitivityError> {
    let fp32 = PreparedAssignment::fp32(model)?;
    batches
        .iter()
        .map(|batch| Reference::new(metric, &model.forward(batch, &fp32)?))
        .collect()
}

/// Per-batch distance between `prepared`'s outputs and the reference outputs.
pub fn measure(
    model: &dyn RunnableModel,
    prepared: &PreparedAssignment,
    batches: &[Tensor],
    reference: &[Reference],
) -> Result<Vec<f64>, SensitivityError> {
    batches
        .iter()
        .zip(reference)
        .map(|(batch, reference)| reference.distance(&model.forward(batch, prepared)?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn exp_is_within_two_ulps_of_the_c_library_on_its_range() {
        for i in 0..=700_000 {
            let x = -(i as f64) / 1000.0 - 1e-4 * (i % 7) as f64;
            let (fast, exact) = (exp_nonpositive(x), x.exp());
            let ulp = f64::EPSILON * exact;
            assert!(
                (fast - exact).abs() <= 2.0 * ulp,
                "x = {x}: {fast} vs {exact}"
            );
        }
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert!(exp_nonpositive(-1e6) < 1e-300);
    }

    /// KL(softmax(r) ‖ softmax(q)) computed plainly in f64, per row, averaged.
    fn plain_kl(r: &[f32], q: &[f32], width: usize) -> f64 {
        let log_softmax = |row: &[f32]| {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            let lse = max
                + row
                    .iter()
                    .map(|&v| (v as f64 - max).exp())
                    .sum::<f64>()
                    .ln();
            row.iter().map(|&v| v as f64 - lse).collect::<Vec<f64>>()
        };
        let rows = r.len() / width;
        let total: f64 = r
            .chunks(width)
            .zip(q.chunks(width))
            .map(|(a, b)| {
                let (la, lb) = (log_softmax(a), log_softmax(b));
                la.iter()
                    .zip(&lb)
                    .map(|(x, y)| x.exp() * (x - y))
                    .sum::<f64>()
            })
            .sum();
        total / rows as f64
    }

    #[test]
    fn kl_matches_the_plain_computation_and_is_zero_for_equal_logits() {
        // 3 rows of 1001 (not a multiple of the lanes), logits of LM scale.
        let width = 1001;
        let r: Vec<f32> = (0..3 * width)
            .map(|i| ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) * 20.0)
            .collect();
        let logits = Tensor::from_vec(r.clone(), (3, width), &Device::Cpu).unwrap();
        let reference = Reference::new(Metric::Kl, &logits).unwrap();
        assert_eq!(reference.distance(&logits).unwrap(), 0.0);
        for scale in [1e-4f32, 1e-2, 1.0] {
            let q: Vec<f32> = r
                .iter()
                .enumerate()
                .map(|(i, &v)| v + scale * ((i * 104_729 % 997) as f32 / 997.0 - 0.5))
                .collect();
            let quantized = Tensor::from_vec(q.clone(), (3, width), &Device::Cpu).unwrap();
            let (fast, plain) = (
                reference.distance(&quantized).unwrap(),
                plain_kl(&r, &q, width),
            );
            assert!(plain > 0.0);
            assert!(
                (fast - plain).abs() <= 1e-6 * plain + 1e-12,
                "scale {scale}: {fast} vs {plain}"
            );
        }
    }
}
