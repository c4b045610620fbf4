//! Block-scaled small floats: OCP MX (MXFP8, MXFP4) and NVIDIA NVFP4.
//!
//! MX (OCP Microscaling Formats v1.0, §6.3 "conversion"): a block of 32 elements shares the
//! power-of-two scale X = 2^e stored as E8M0, e = floor(log2(amax)) - emax_elem, where emax_elem
//! is the exponent of the element type's largest normal (8 for E4M3, 2 for E2M1); e is clamped to
//! E8M0's range [-127, 127] (an all-zero block: log2(0) = -inf clamps to -127). Elements are
//! x/X rounded to the element type, nearest-even, saturating at its max; x̂ = element·X.
//!
//! NVFP4 (NVIDIA Blackwell; as in Transformer Engine and TensorRT Model Optimizer): E2M1
//! elements, one E4M3 scale per block of 16, and one fp32 scale per tensor chosen so the largest
//! block scale lands on E4M3's max: s_enc = 448·6 / amax_tensor. For each block,
//! s_block = e4m3(amax_block / 6 · s_enc), decode scale d = s_block / s_enc, x̂ = e2m1(x/d)·d.
//! A block whose E4M3 scale rounds to 0 dequantizes to 0.

use wide::f32x8;

use super::float::{floor_log2, pow2, Minifloat, E2M1, E4M3};
use super::lanes::{amax, map_lanes};

/// Elements per MX block.
pub const MX_BLOCK: usize = 32;
/// Elements per NVFP4 block.
pub const NVFP4_BLOCK: usize = 16;

/// Smallest and largest exponent of an E8M0 scale (255 is NaN).
const E8M0_MIN_EXPONENT: i32 = -127;
const E8M0_MAX_EXPONENT: i32 = 127;

/// The shared exponent of an MX block whose largest magnitude is `amax` (spec §6.3).
pub fn mx_shared_exponent(element: &Minifloat, amax: f32) -> i32 {
    if amax == 0.0 {
        return E8M0_MIN_EXPONENT;
    }
    (floor_log2(amax) - element.max_exponent()).clamp(E8M0_MIN_EXPONENT, E8M0_MAX_EXPONENT)
}

/// Fake-quantize one row in MX blocks of 32 with `element` (E4M3 for MXFP8, E2M1 for MXFP4).
/// `input.len()` must be a multiple of 32 (the shape check guarantees it).
pub fn fake_quant_mx(element: &Minifloat, input: &[f32], out: &mut [f32]) {
    for (block, out_block) in input
        .chunks_exact(MX_BLOCK)
        .zip(out.chunks_exact_mut(MX_BLOCK))
    {
        let exponent = mx_shared_exponent(element, amax(block));
        // Both powers of two are exact in f32 for exponents in [-127, 127].
        let (scale, inverse) = (pow2(exponent), pow2(-exponent));
        let (scale8, inverse8) = (f32x8::splat(scale), f32x8::splat(inverse));
        map_lanes(
            block,
            out_block,
            |x| element.round_x8(x * inverse8) * scale8,
            |x| element.round(x * inverse) * scale,
        );
    }
}

/// NVFP4's fp32 tensor encode scale for a tensor whose largest magnitude is `amax`
/// (1 for an all-zero tensor; kept finite for tiny ones).
pub fn nvfp4_tensor_scale(amax: f32) -> f32 {
    if amax > 0.0 {
        (E4M3.max * E2M1.max / amax).min(f32::MAX)
    } else {
        1.0
    }
}

/// NVFP4's decode scale for one block: the E4M3 block scale divided by the tensor encode scale.
/// Zero when the block scale rounds to 0.
pub fn nvfp4_block_scale(tensor_scale: f32, amax: f32) -> f32 {
    E4M3.round(amax / E2M1.max * tensor_scale) / tensor_scale
}

/// NVFP4 blocks handled per batch: their scales are computed together, eight at a time.
const NVFP4_BATCH: usize = 64;

/// Fake-quantize one row in NVFP4 blocks of 16, given the tensor encode scale.
/// `input.len()` must be a multiple of 16 (the shape check guarantees it).
///
/// Works in batches of blocks: first every block's amax, then their decode scales eight lanes
/// at a time (the per-block scalar chain of divisions and rounding would otherwise stall each
/// block), then the elements. Same operations as [`nvfp4_block_scale`] block by block.
pub fn fake_quant_nvfp4(tensor_scale: f32, input: &[f32], out: &mut [f32]) {
    let batch = NVFP4_BATCH * NVFP4_BLOCK;
    for (chunk, out_chunk) in input.chunks(batch).zip(out.chunks_mut(batch)) {
        let mut amaxes = [0.0f32; NVFP4_BATCH];
        for (block_amax, block) in amaxes.iter_mut().zip(chunk.chunks_exact(NVFP4_BLOCK)) {
            *block_amax = amax(block);
        }
        let mut scales = [0.0f32; NVFP4_BATCH];
        let (six, tensor_scale8) = (f32x8::splat(E2M1.max), f32x8::splat(tensor_scale));
        map_lanes(
            &amaxes,
            &mut scales,
            |a| E4M3.round_x8(a / six * tensor_scale8) / tensor_scale8,
            |a| nvfp4_block_scale(tensor_scale, a),
        );
        let blocks = chunk
            .chunks_exact(NVFP4_BLOCK)
            .zip(out_chunk.chunks_exact_mut(NVFP4_BLOCK));
        for ((block, out_block), &scale) in blocks.zip(&scales) {
            fake_quant_nvfp4_block(scale, block, out_block);
        }
    }
}

/// The elements of one NVFP4 block with its decode scale (a zero scale zeroes the block).
#[inline(always)]
fn fake_quant_nvfp4_block(scale: f32, block: &[f32], out: &mut [f32]) {
    if scale == 0.0 {
        out.fill(0.0);
        return;
    }
    let scale8 = f32x8::splat(scale);
    map_lanes(
        block,
        out,
        |x| E2M1.round_x8(x / scale8) * scale8,
        |x| E2M1.round(x / scale) * scale,
    );
}
