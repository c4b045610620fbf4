//! Integer quantizers with fp16 scales.
//!
//! Conventions (README "Formats"):
//! - symmetric, `b` bits: restricted range q ∈ [-(2^(b-1)-1), 2^(b-1)-1], scale = amax / (2^(b-1)-1),
//!   q = clamp(round(x / scale)), x̂ = q·scale;
//! - asymmetric, `b` bits (AWQ/GPTQ style): the range [min, max] is first widened to contain 0
//!   (as GPTQ and PyTorch's observers do, so 0 stays exact), q ∈ [0, 2^b-1],
//!   scale = (max-min)/(2^b-1), zp = clamp(round(-min/scale), 0, 2^b-1),
//!   q = clamp(round(x/scale) + zp, 0, 2^b-1), x̂ = (q-zp)·scale;
//! - the scale is rounded to fp16 (nearest even, kept within fp16's finite positive range
//!   [2^-24, 65504]) and that rounded scale is used both to quantize and to dequantize;
//! - rounding is round-half-to-even; an all-zero slice gets scale 1 and stays zero.

use half::f16;

use wide::f32x8;

use super::float::{round_even, ROUND_MAGIC};
use super::lanes::{map_lanes, stats};

/// Smallest positive fp16 (subnormal), the floor of a stored scale.
const FP16_MIN_POSITIVE: f32 = 5.960_464_5e-8;
/// Largest finite fp16, the ceiling of a stored scale.
const FP16_MAX: f32 = 65504.0;

/// The integer grid of one slice: `x̂ = (clamp(round(x/scale) + zero_point, q_min, q_max) - zero_point)·scale`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IntGrid {
    /// fp16-representable scale.
    pub scale: f32,
    /// Integer zero point (0 when symmetric).
    pub zero_point: f32,
    pub q_min: f32,
    pub q_max: f32,
}

impl IntGrid {
    /// Symmetric restricted-range grid for a slice whose largest magnitude is `amax`.
    pub fn symmetric(bits: u32, amax: f32) -> Self {
        let q_max = ((1u32 << (bits - 1)) - 1) as f32;
        let scale = if amax > 0.0 {
            fp16_scale(amax / q_max)
        } else {
            1.0
        };
        Self {
            scale,
            zero_point: 0.0,
            q_min: -q_max,
            q_max,
        }
    }

    /// Asymmetric grid for a slice spanning [min, max] (widened to contain 0).
    pub fn asymmetric(bits: u32, min: f32, max: f32) -> Self {
        let (low, high) = (min.min(0.0), max.max(0.0));
        let q_max = ((1u32 << bits) - 1) as f32;
        let span = high - low;
        let scale = if span > 0.0 {
            fp16_scale(span / q_max)
        } else {
            1.0
        };
        let zero_point = round_even((-low / scale).min(q_max)).clamp(0.0, q_max);
        Self {
            scale,
            zero_point,
            q_min: 0.0,
            q_max,
        }
    }

    /// The grid for a slice with these statistics.
    pub fn for_slice(bits: u32, symmetric: bool, min: f32, max: f32) -> Self {
        if symmetric {
            Self::symmetric(bits, max.max(-min))
        } else {
            Self::asymmetric(bits, min, max)
        }
    }

    /// Quantize and dequantize one value. The quotient is clamped to the code range before
    /// rounding, which equals rounding then clamping (the bounds are integers) and keeps it
    /// inside [`round_even`]'s domain.
    #[inline(always)]
    pub fn fake_quant(&self, x: f32) -> f32 {
        let low = self.q_min - self.zero_point;
        let high = self.q_max - self.zero_point;
        let quotient = x / self.scale;
        let clamped = if quotient < low {
            low
        } else if quotient > high {
            high
        } else {
            quotient
        };
        round_even(clamped) * self.scale
    }

    /// [`IntGrid::fake_quant`] on eight lanes, the same operations lane by lane.
    #[inline(always)]
    pub fn fake_quant_x8(&self, x: f32x8) -> f32x8 {
        let low = f32x8::splat(self.q_min - self.zero_point);
        let high = f32x8::splat(self.q_max - self.zero_point);
        let scale = f32x8::splat(self.scale);
        let clamped = (x / scale).fast_max(low).fast_min(high);
        let magic = f32x8::splat(ROUND_MAGIC);
        ((clamped + magic) - magic) * scale
    }

    /// [`IntGrid::fake_quant`] over a slice.
    pub fn fake_quant_slice(&self, input: &[f32], out: &mut [f32]) {
        map_lanes(
            input,
            out,
            |x| self.fake_quant_x8(x),
            |x| self.fake_quant(x),
        );
    }

    /// Reference: the conventions written out literally with `f32::round_ties_even`.
    pub fn fake_quant_reference(&self, x: f32) -> f32 {
        let code =
            ((x / self.scale).round_ties_even() + self.zero_point).clamp(self.q_min, self.q_max);
        (code - self.zero_point) * self.scale
    }
}

/// Round a scale to fp16 (nearest, ties to even), kept within [2^-24, 65504] so it is never 0 or inf.
pub fn fp16_scale(scale: f32) -> f32 {
    f16::from_f32(scale)
        .to_f32()
        .clamp(FP16_MIN_POSITIVE, FP16_MAX)
}

/// Fake-quantize `input` in groups of `group` consecutive elements, each with its own grid.
/// `input.len()` must be a multiple of `group` (checked by the caller's shape check).
pub fn fake_quant_groups(bits: u32, symmetric: bool, group: usize, input: &[f32], out: &mut [f32]) {
    for (chunk, out_chunk) in input.chunks_exact(group).zip(out.chunks_exact_mut(group)) {
        let chunk_stats = stats(chunk);
        IntGrid::for_slice(bits, symmetric, chunk_stats.min, chunk_stats.max)
            .fake_quant_slice(chunk, out_chunk);
    }
}
