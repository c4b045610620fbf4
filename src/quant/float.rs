//! Element rounding for small floating-point types: OCP FP8 E4M3 (E4M3FN) and E5M2, OCP FP4 E2M1,
//! IEEE binary16 and bfloat16. All round to nearest, ties to even, and saturate at the type's
//! largest finite magnitude (no infinities are produced: E4M3FN and E2M1 have none, and for E5M2,
//! fp16 and bf16 saturation keeps a fake-quantized tensor finite).
//!
//! Sources: OCP 8-bit Floating Point Specification (OFP8) rev 1.0 (E4M3: bias 7, max 448 =
//! 1.75·2^8, S.1111.111 is NaN; E5M2: bias 15, max 57344 = 1.75·2^15); OCP Microscaling Formats
//! (MX) v1.0 §5.3.3 (E2M1: bias 1, values 0, 0.5, 1, 1.5, 2, 3, 4, 6).

use wide::{f32x8, i32x8, CmpGt};

use super::lanes::map_lanes;

/// A binary floating-point element type with subnormals, described by what rounding needs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Minifloat {
    pub name: &'static str,
    /// Explicit mantissa (fraction) bits.
    pub mantissa_bits: u32,
    /// Exponent of the smallest normal number, `1 - bias`.
    pub min_exponent: i32,
    /// Largest finite magnitude.
    pub max: f32,
}

/// OCP FP8 E4M3FN.
pub const E4M3: Minifloat = Minifloat {
    name: "E4M3",
    mantissa_bits: 3,
    min_exponent: -6,
    max: 448.0,
};
/// OCP FP8 E5M2.
pub const E5M2: Minifloat = Minifloat {
    name: "E5M2",
    mantissa_bits: 2,
    min_exponent: -14,
    max: 57344.0,
};
/// OCP FP4 E2M1.
pub const E2M1: Minifloat = Minifloat {
    name: "E2M1",
    mantissa_bits: 1,
    min_exponent: 0,
    max: 6.0,
};
/// IEEE binary16.
pub const FP16: Minifloat = Minifloat {
    name: "FP16",
    mantissa_bits: 10,
    min_exponent: -14,
    max: 65504.0,
};

/// Largest finite bfloat16: (2 - 2^-7)·2^127.
pub const BF16_MAX: f32 = 3.389_531_4e38;

/// Magic constant 1.5·2^23: for |v| < 2^22, `(v + M) - M` is `v` rounded to an integer, ties to
/// even, because the sum lands in [2^23, 2^24) where the f32 spacing is exactly 1.
pub const ROUND_MAGIC: f32 = 12_582_912.0;

/// Round to the nearest integer, ties to even, for |v| < 2^22 (callers clamp first). Same result
/// as `f32::round_ties_even`, but a few adds that vectorize on baseline x86-64 (no SSE4.1).
#[inline(always)]
pub fn round_even(v: f32) -> f32 {
    (v + ROUND_MAGIC) - ROUND_MAGIC
}

impl Minifloat {
    /// Exponent of the largest normal number: `emax_elem` of the MX spec (8 for E4M3, 2 for E2M1).
    pub fn max_exponent(&self) -> i32 {
        floor_log2(self.max)
    }

    /// Round `x` to this type: nearest, ties to even, saturating at ±max.
    ///
    /// The magnitude is clamped to max, then rounded with a magic addend `c = 2^(e - m + 23)`,
    /// where `e` is its exponent (at least the smallest normal one) and `m` the mantissa bits: the
    /// sum `|x| + c` lies in [c, 2c), whose f32 spacing is 2^(e - m), this type's spacing at `|x|`.
    /// Clamping first means `e <= max_exponent`, so `c` never overflows.
    #[inline(always)]
    pub fn round(&self, x: f32) -> f32 {
        let magnitude = x.abs().min(self.max);
        let biased_exponent = (magnitude.to_bits() >> 23) as i32;
        let exponent = biased_exponent.max(self.min_exponent + 127);
        let addend = f32::from_bits(((exponent + 23 - self.mantissa_bits as i32) as u32) << 23);
        ((magnitude + addend) - addend).copysign(x)
    }

    /// [`Minifloat::round`] on eight lanes, the same operations lane by lane.
    #[inline(always)]
    pub fn round_x8(&self, x: f32x8) -> f32x8 {
        let magnitude = x.abs().fast_min(f32x8::splat(self.max));
        let bits: i32x8 = bytemuck::cast(magnitude);
        let biased_exponent: i32x8 = bits >> 23_i32;
        let exponent = biased_exponent.max(i32x8::splat(self.min_exponent + 127));
        let addend_bits: i32x8 =
            (exponent + i32x8::splat(23 - self.mantissa_bits as i32)) << 23_i32;
        let addend: f32x8 = bytemuck::cast(addend_bits);
        ((magnitude + addend) - addend).copysign(x)
    }

    /// Every non-negative finite value of this type, ascending: `k·2^(emin-m)` for the subnormals,
    /// `(1 + k/2^m)·2^e` for the normals, up to `max`.
    pub fn representable(&self) -> Vec<f32> {
        let steps = 1u32 << self.mantissa_bits;
        let quantum = (self.min_exponent - self.mantissa_bits as i32) as f64;
        let mut values: Vec<f32> = (0..steps)
            .map(|k| (f64::from(k) * quantum.exp2()) as f32)
            .collect();
        for exponent in self.min_exponent..=self.max_exponent() {
            for k in 0..steps {
                let value = (1.0 + f64::from(k) / f64::from(steps)) * f64::from(exponent).exp2();
                if value <= f64::from(self.max) {
                    values.push(value as f32);
                }
            }
        }
        values
    }

    /// Reference rounding: the nearest entry of [`Minifloat::representable`], ties to the even
    /// entry (entry index parity is mantissa parity), saturating at ±max. Slow and plain; the fast
    /// [`Minifloat::round`] is tested against it.
    pub fn round_reference(&self, x: f32, table: &[f32]) -> f32 {
        let magnitude = x.abs().min(self.max);
        let above = table
            .partition_point(|&value| value < magnitude)
            .min(table.len() - 1);
        let below = above.saturating_sub(usize::from(table[above] > magnitude));
        let (low, high) = (table[below], table[above]);
        let chosen = if magnitude - low < high - magnitude {
            low
        } else if high - magnitude < magnitude - low {
            high
        } else if below % 2 == 0 {
            low
        } else {
            high
        };
        chosen.copysign(x)
    }
}

/// Round `x` to bfloat16, nearest, ties to even, saturating at ±[`BF16_MAX`]: add half an ulp
/// (minus one unless the kept lsb is odd) to the bit pattern and truncate the low 16 bits.
#[inline(always)]
pub fn round_bf16(x: f32) -> f32 {
    let bits = x.to_bits();
    let rounded = f32::from_bits(bits.wrapping_add(0x7FFF + ((bits >> 16) & 1)) & 0xFFFF_0000);
    if rounded.abs() > BF16_MAX {
        BF16_MAX.copysign(x)
    } else {
        rounded
    }
}

/// [`round_bf16`] on eight lanes.
#[inline(always)]
pub fn round_bf16_x8(x: f32x8) -> f32x8 {
    let bits: i32x8 = bytemuck::cast(x);
    let odd: i32x8 = (bits >> 16_i32) & i32x8::splat(1);
    let rounded_bits = (bits + i32x8::splat(0x7FFF) + odd) & i32x8::splat(0xFFFF_0000_u32 as i32);
    let rounded: f32x8 = bytemuck::cast(rounded_bits);
    let max = f32x8::splat(BF16_MAX);
    rounded.abs().cmp_gt(max).blend(max.copysign(x), rounded)
}

/// `out[i] = element.round(input[i] / scale) * scale`: one scale for the whole slice.
pub fn fake_quant_scaled(element: &Minifloat, scale: f32, input: &[f32], out: &mut [f32]) {
    let scale8 = f32x8::splat(scale);
    map_lanes(
        input,
        out,
        |x| element.round_x8(x / scale8) * scale8,
        |x| element.round(x / scale) * scale,
    );
}

/// `out[i] = element.round(input[i])`: a plain cast to the element type and back.
pub fn fake_quant_cast(element: &Minifloat, input: &[f32], out: &mut [f32]) {
    map_lanes(input, out, |x| element.round_x8(x), |x| element.round(x));
}

/// `out[i] = round_bf16(input[i])`.
pub fn fake_quant_bf16(input: &[f32], out: &mut [f32]) {
    map_lanes(input, out, round_bf16_x8, round_bf16);
}

/// The scale that maps `amax` onto the element type's max; 1 for an all-zero slice.
pub fn max_scale(element: &Minifloat, amax: f32) -> f32 {
    if amax > 0.0 {
        amax / element.max
    } else {
        1.0
    }
}

/// `floor(log2(x))` for a positive finite `x`, exact, subnormals included.
pub fn floor_log2(x: f32) -> i32 {
    let bits = x.to_bits() & 0x7FFF_FFFF;
    let biased = (bits >> 23) as i32;
    if biased == 0 {
        // Subnormal: x = fraction · 2^-149.
        -149 + (31 - (bits & 0x007F_FFFF).leading_zeros() as i32)
    } else {
        biased - 127
    }
}

/// `2^exponent` as f32, exact for exponent in [-149, 127] (subnormal below -126); exponents
/// outside that range are clamped into it.
pub fn pow2(exponent: i32) -> f32 {
    let exponent = exponent.clamp(-149, 127);
    if exponent >= -126 {
        f32::from_bits(((exponent + 127) as u32) << 23)
    } else {
        f32::from_bits(1u32 << (exponent + 149))
    }
}
