//! GGML block types through candle's `quantized` module: each row is quantized to candle's block
//! structs and dequantized back, so the result is exactly what candle (and llama.cpp's reference
//! `quantize_row_*`) stores. Blocks never straddle rows: a row must be a multiple of the block
//! size (32, or 256 for the K-quants), which [`super::Format::check_shape`] enforces.

use super::format::GgmlFormat;
use candle_core::quantized::k_quants::{
    BlockQ2K, BlockQ3K, BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ5_1, BlockQ6K,
    BlockQ8_0, GgmlType,
};

/// Quantize `input` (a multiple of the block size long) to `format`'s blocks and back into `out`.
pub fn fake_quant_row(format: GgmlFormat, input: &[f32], out: &mut [f32]) {
    match format {
        GgmlFormat::Q8_0 => round_trip::<BlockQ8_0>(input, out),
        GgmlFormat::Q6K => round_trip::<BlockQ6K>(input, out),
        GgmlFormat::Q5K => round_trip::<BlockQ5K>(input, out),
        GgmlFormat::Q5_1 => round_trip::<BlockQ5_1>(input, out),
        GgmlFormat::Q5_0 => round_trip::<BlockQ5_0>(input, out),
        GgmlFormat::Q4K => round_trip::<BlockQ4K>(input, out),
        GgmlFormat::Q4_1 => round_trip::<BlockQ4_1>(input, out),
        GgmlFormat::Q4_0 => round_trip::<BlockQ4_0>(input, out),
        GgmlFormat::Q3K => round_trip::<BlockQ3K>(input, out),
        GgmlFormat::Q2K => round_trip::<BlockQ2K>(input, out),
    }
}

fn round_trip<B: GgmlType>(input: &[f32], out: &mut [f32]) {
    let mut blocks = vec![B::zeros(); input.len() / B::BLCK_SIZE];
    B::from_float(input, &mut blocks);
    B::to_float(&blocks, out);
}
