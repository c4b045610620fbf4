//! MX (OCP Microscaling v1.0) and NVFP4 block formats: shared exponents on hand-made blocks,
//! hand-computed blocks, and the spec's rule written literally here (f64 log2) on random blocks.

mod common;

use bitplan::quant::float::{Minifloat, E2M1, E4M3};
use bitplan::quant::mx::{mx_shared_exponent, nvfp4_block_scale, nvfp4_tensor_scale};
use bitplan::quant::{fake_quant_activation, fake_quant_weight, ActRange, Format, QuantError};

fn fake_quant(format: Format, values: &[f32], shape: &[usize]) -> Vec<f32> {
    common::values(&fake_quant_weight(format, &common::tensor(values, shape)).expect("fake quant"))
}

/// A block of 32 starting with `head`, padded with zeros.
fn block(head: &[f32]) -> Vec<f32> {
    let mut values = head.to_vec();
    values.resize(32, 0.0);
    values
}

#[test]
fn shared_exponent_is_floor_log2_amax_minus_emax_elem() {
    // E4M3: emax_elem = 8 (448 = 1.75 * 2^8).
    assert_eq!(E4M3.max_exponent(), 8);
    assert_eq!(mx_shared_exponent(&E4M3, 1.0), -8);
    assert_eq!(mx_shared_exponent(&E4M3, 448.0), 0);
    assert_eq!(mx_shared_exponent(&E4M3, 511.0), 0);
    assert_eq!(mx_shared_exponent(&E4M3, 512.0), 1);
    assert_eq!(mx_shared_exponent(&E4M3, 0.75), -9);
    // E2M1: emax_elem = 2 (6 = 1.5 * 2^2).
    assert_eq!(E2M1.max_exponent(), 2);
    assert_eq!(mx_shared_exponent(&E2M1, 6.0), 0);
    assert_eq!(mx_shared_exponent(&E2M1, 7.9), 0);
    assert_eq!(mx_shared_exponent(&E2M1, 8.0), 1);
    assert_eq!(mx_shared_exponent(&E2M1, 1.0), -2);
    // E8M0 holds exponents -127..=127: tiny blocks clamp, zero blocks take the bottom.
    assert_eq!(mx_shared_exponent(&E4M3, 2f32.powi(-140)), -127);
    assert_eq!(mx_shared_exponent(&E4M3, f32::MAX), 119);
    assert_eq!(mx_shared_exponent(&E2M1, 0.0), -127);
}

#[test]
fn mxfp4_block_by_hand() {
    // amax 8: X = 2^(3-2) = 2. Elements 4, 1.5, 0.5, -0.6 -> -0.5, 0.1 -> 0, 3.5 -> 4 (tie to even).
    let got = fake_quant(
        Format::Mxfp4,
        &block(&[8.0, 3.0, 1.0, -1.2, 0.2, 7.0]),
        &[32],
    );
    assert_eq!(got, block(&[8.0, 3.0, 1.0, -1.0, 0.0, 8.0]));
    // amax 7.9 stays in X = 1 and saturates at 6.
    let got = fake_quant(Format::Mxfp4, &block(&[7.9, -2.5]), &[32]);
    assert_eq!(got, block(&[6.0, -2.0]));
}

#[test]
fn mxfp8_block_by_hand() {
    // amax 500: X = 1, 500 saturates to 448; 17 lies between 16 and 18 (E4M3 spacing 2 at 16).
    let got = fake_quant(Format::Mxfp8, &block(&[500.0, 17.0, 0.001]), &[32]);
    assert_eq!(got, block(&[448.0, 16.0, 0.001953125]));
    // A zero block stays zero; the next block has its own scale.
    let mut row = vec![0.0f32; 32];
    row.extend(block(&[1.0, 0.3]));
    let got = fake_quant(Format::Mxfp8, &row, &[1, 64]);
    assert!(got[..32].iter().all(|&v| v == 0.0));
    // X = 2^-8: 0.3 * 256 = 76.8 -> 80 (spacing 8 at 64), back to 0.3125.
    assert_eq!(&got[32..34], &[1.0, 0.3125]);
}

/// The spec's conversion written out with f64 logarithms.
fn mx_reference(element: &Minifloat, values: &[f32]) -> Vec<f32> {
    values
        .chunks(32)
        .flat_map(|block| {
            let amax = block.iter().fold(0.0f64, |m, &x| m.max(f64::from(x).abs()));
            let emax = f64::from(element.max).log2().floor();
            let exponent = if amax == 0.0 {
                -127.0
            } else {
                (amax.log2().floor() - emax).clamp(-127.0, 127.0)
            };
            let scale = 2f64.powf(exponent);
            block.iter().map(move |&x| {
                (f64::from(element.round((f64::from(x) / scale) as f32)) * scale) as f32
            })
        })
        .collect()
}

#[test]
fn mx_matches_the_literal_spec_rule() {
    for seed in 0..16 {
        let mut values = common::heavy_tailed(seed, 32 * 64);
        // Blocks spanning 2^-30 .. 2^30.
        for (index, chunk) in values.chunks_mut(32).enumerate() {
            let factor = 2f32.powi(index as i32 - 32);
            chunk.iter_mut().for_each(|v| *v *= factor);
        }
        for (format, element) in [(Format::Mxfp8, E4M3), (Format::Mxfp4, E2M1)] {
            assert_eq!(
                fake_quant(format, &values, &[64, 32]),
                mx_reference(&element, &values),
                "{format} seed {seed}"
            );
        }
    }
}

#[test]
fn nvfp4_two_level_scales_by_hand() {
    // Tensor amax 6: tensor scale 448*6/6 = 448.
    assert_eq!(nvfp4_tensor_scale(6.0), 448.0);
    let mut row = vec![0.0f32; 32];
    row[..4].copy_from_slice(&[6.0, 5.0, 2.5, 0.25]);
    row[16..18].copy_from_slice(&[0.6, -0.3]);
    let got = fake_quant(Format::Nvfp4, &row, &[32]);
    // Block 0: scale e4m3(6/6*448) = 448, decode 1: 5 -> 4 and 2.5 -> 2 and 0.25 -> 0 (ties to even).
    assert_eq!(&got[..4], &[6.0, 4.0, 2.0, 0.0]);
    // Block 1: e4m3(0.6/6*448 = 44.8) = 44 (spacing 4 in [32, 64)), decode d = 44/448;
    // 0.6/d = 6.11 -> 6, -0.3/d = -3.05 -> -3.
    let d = 44.0f32 / 448.0;
    assert_eq!(nvfp4_block_scale(448.0, 0.6), d);
    assert_eq!(&got[16..18], &[6.0 * d, -3.0 * d]);
}

#[test]
fn nvfp4_block_whose_scale_rounds_to_zero_becomes_zero() {
    let mut row = vec![0.0f32; 32];
    row[0] = 6000.0;
    row[16] = 1e-5; // 1e-5/6 * 448*6/6000 = 7.5e-7, below half of E4M3's smallest subnormal 2^-9.
    let got = fake_quant(Format::Nvfp4, &row, &[32]);
    assert!((got[0] - 6000.0).abs() < 1e-2, "{}", got[0]);
    assert_eq!(got[16], 0.0);
}

#[test]
fn block_formats_count_their_scales() {
    assert_eq!(Format::Mxfp8.bits_per_element(&[64, 64]), 8.25);
    assert_eq!(Format::Mxfp4.bits_per_element(&[64, 64]), 4.25);
    assert_eq!(
        Format::Nvfp4.bits_per_element(&[64, 64]),
        4.5 + 32.0 / 4096.0
    );
}

#[test]
fn activations_use_dynamic_blocks_along_the_last_dim() {
    let values = common::gaussian(9, 4 * 64);
    let x = common::tensor(&values, &[4, 64]);
    let ignored = ActRange {
        min: -1e-3,
        max: 1e-3,
    };
    for format in [Format::Mxfp8, Format::Mxfp4, Format::Nvfp4] {
        let got = common::values(&fake_quant_activation(format, &x, ignored).expect("dynamic"));
        assert_eq!(
            got,
            fake_quant(format, &values, &[4, 64]),
            "{format}: the range is ignored"
        );
    }
    let error = fake_quant_activation(Format::Mxfp8, &common::tensor(&values, &[16, 16]), ignored);
    assert!(matches!(error, Err(QuantError::NotAdmissible { .. })));
    insta::assert_snapshot!(error.expect_err("last dim 16").to_string(), @"format mxfp8 cannot take a tensor of shape [16, 16]: row length 16 (the last dim) is not a multiple of the block size 32");
}

/// NVFP4 written out literally: tensor amax, encode scale, per block E4M3 scale, E2M1 elements.
fn nvfp4_reference(values: &[f32]) -> Vec<f32> {
    let amax = values.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
    let encode = if amax == 0.0 { 1.0 } else { 448.0 * 6.0 / amax };
    values
        .chunks(16)
        .flat_map(|block| {
            let block_amax = block.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
            let decode = E4M3.round(block_amax / 6.0 * encode) / encode;
            block.iter().map(move |&x| {
                if decode == 0.0 {
                    0.0
                } else {
                    E2M1.round(x / decode) * decode
                }
            })
        })
        .collect()
}

#[test]
fn nvfp4_matches_the_literal_two_level_rule() {
    for seed in 0..8 {
        let mut values = common::heavy_tailed(seed, 48 * 64);
        for (index, chunk) in values.chunks_mut(16).enumerate() {
            let factor = 2f32.powi((index % 24) as i32 - 12);
            chunk.iter_mut().for_each(|v| *v *= factor);
        }
        assert_eq!(
            fake_quant(Format::Nvfp4, &values, &[48, 64]),
            nvfp4_reference(&values),
            "seed {seed}"
        );
    }
}
