//! Element rounding of fp8 E4M3/E5M2, fp4 E2M1, fp16 and bf16, checked exhaustively against
//! tables of every representable value decoded here from the bit layouts (OCP OFP8 rev 1.0 and
//! OCP MX v1.0), independently of the library's table; plus the fp8 formats' scaling.

mod common;

use bitplan::quant::float::{round_bf16, round_even, Minifloat, BF16_MAX, E2M1, E4M3, E5M2, FP16};
use bitplan::quant::{fake_quant_activation, fake_quant_weight, ActRange, Format};

/// Relative tolerance for a value that goes through `x / s * s` in f32.
const SCALE_ROUND_TRIP_REL: f32 = 2.0 * f32::EPSILON;

/// One representable magnitude: its value and whether its bit pattern is even (ties go there).
#[derive(Clone, Copy, Debug)]
struct Code {
    value: f32,
    even: bool,
}

/// Decode every non-negative, non-NaN, finite bit pattern of a tiny float with `e` exponent
/// bits, `m` mantissa bits and the given bias; `skip` filters out NaN/inf patterns.
fn decode_all(e: u32, m: u32, bias: i32, skip: impl Fn(u32, u32) -> bool) -> Vec<Code> {
    let mut codes = Vec::new();
    for exponent in 0..(1u32 << e) {
        for mantissa in 0..(1u32 << m) {
            if skip(exponent, mantissa) {
                continue;
            }
            let fraction = f64::from(mantissa) / f64::from(1u32 << m);
            let value = if exponent == 0 {
                fraction * 2f64.powi(1 - bias)
            } else {
                (1.0 + fraction) * 2f64.powi(exponent as i32 - bias)
            };
            codes.push(Code {
                value: value as f32,
                even: mantissa % 2 == 0,
            });
        }
    }
    codes.sort_by(|a, b| a.value.total_cmp(&b.value));
    codes
}

fn e4m3_codes() -> Vec<Code> {
    // S.1111.111 is NaN; there are no infinities.
    decode_all(4, 3, 7, |e, m| e == 15 && m == 7)
}

fn e5m2_codes() -> Vec<Code> {
    // Exponent 31 is infinity / NaN, as in IEEE.
    decode_all(5, 2, 15, |e, _| e == 31)
}

fn e2m1_codes() -> Vec<Code> {
    decode_all(2, 1, 1, |_, _| false)
}

/// Every representable value maps to itself; between neighbours, values round to the nearer one,
/// midpoints to the even code; beyond the max they saturate. Checked on a dense grid, both signs.
fn check_exhaustively(format: &Minifloat, codes: &[Code]) {
    let max = codes.last().expect("codes").value;
    assert_eq!(max, format.max, "{}: max", format.name);
    for sign in [1.0f32, -1.0] {
        for code in codes {
            assert_eq!(
                format.round(sign * code.value),
                sign * code.value,
                "{}: {} is representable",
                format.name,
                code.value
            );
        }
        for pair in codes.windows(2) {
            let (low, high) = (pair[0], pair[1]);
            let midpoint = (low.value + high.value) / 2.0;
            let tie = if low.even { low.value } else { high.value };
            assert_eq!(
                format.round(sign * midpoint),
                sign * tie,
                "{}: tie at {midpoint}",
                format.name
            );
            for step in 1..64 {
                let x = low.value + (high.value - low.value) * step as f32 / 64.0;
                let expected = if x < midpoint {
                    low.value
                } else if x > midpoint {
                    high.value
                } else {
                    tie
                };
                assert_eq!(
                    format.round(sign * x),
                    sign * expected,
                    "{}: {x} between {} and {}",
                    format.name,
                    low.value,
                    high.value
                );
            }
            let just_below = f32::from_bits(midpoint.to_bits() - 1);
            let just_above = f32::from_bits(midpoint.to_bits() + 1);
            assert_eq!(
                format.round(sign * just_below),
                sign * low.value,
                "{}: below {midpoint}",
                format.name
            );
            assert_eq!(
                format.round(sign * just_above),
                sign * high.value,
                "{}: above {midpoint}",
                format.name
            );
        }
        for beyond in [max * 1.0001, max * 1.5, max * 1e6, f32::MAX] {
            assert_eq!(
                format.round(sign * beyond),
                sign * max,
                "{}: {beyond} saturates",
                format.name
            );
        }
    }
}

#[test]
fn e4m3_rounds_to_nearest_even_and_saturates_at_448() {
    check_exhaustively(&E4M3, &e4m3_codes());
    assert_eq!(
        E4M3.round(464.0),
        448.0,
        "464 would round up to 480, which E4M3FN lacks"
    );
    assert_eq!(
        E4M3.round(2f32.powi(-10)),
        0.0,
        "half the smallest subnormal ties to zero"
    );
}

#[test]
fn e5m2_rounds_to_nearest_even_and_saturates() {
    check_exhaustively(&E5M2, &e5m2_codes());
}

#[test]
fn e2m1_rounds_to_nearest_even_and_saturates_at_6() {
    let codes = e2m1_codes();
    let values: Vec<f32> = codes.iter().map(|c| c.value).collect();
    assert_eq!(values, [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]);
    check_exhaustively(&E2M1, &codes);
    assert_eq!(E2M1.round(5.0), 4.0, "5 ties between 4 (even) and 6");
    assert_eq!(E2M1.round(2.5), 2.0, "2.5 ties between 2 (even) and 3");
}

#[test]
fn library_tables_match_the_decoded_ones() {
    for (format, codes) in [
        (E4M3, e4m3_codes()),
        (E5M2, e5m2_codes()),
        (E2M1, e2m1_codes()),
    ] {
        let decoded: Vec<f32> = codes.iter().map(|c| c.value).collect();
        assert_eq!(format.representable(), decoded, "{}", format.name);
    }
}

#[test]
fn fast_rounding_matches_the_reference_on_random_values() {
    for format in [E4M3, E5M2, E2M1, FP16] {
        let table = format.representable();
        let scale = format.max / 4.0;
        for (i, x) in common::heavy_tailed(7, 200_000).into_iter().enumerate() {
            // Spread over many binades, subnormals and overflow included.
            let x = x * scale * 2f32.powi((i % 40) as i32 - 30);
            assert_eq!(
                format.round(x),
                format.round_reference(x, &table),
                "{}: {x}",
                format.name
            );
        }
    }
}

#[test]
fn fp8_matches_the_float8_crate() {
    // float8 0.7 converts with round-to-nearest-even and saturation (SatFinite).
    for bits in (0..u32::MAX).step_by(4099) {
        let x = f32::from_bits(bits);
        if !x.is_finite() {
            continue;
        }
        assert_eq!(
            E4M3.round(x),
            float8::F8E4M3::from_f32(x).to_f32(),
            "E4M3 {x}"
        );
        assert_eq!(
            E5M2.round(x),
            float8::F8E5M2::from_f32(x).to_f32(),
            "E5M2 {x}"
        );
    }
}

#[test]
fn fp16_matches_half_and_saturates() {
    for bits in (0..u32::MAX).step_by(997) {
        let x = f32::from_bits(bits);
        if !x.is_finite() {
            continue;
        }
        let expected = if x.abs() > 65504.0 {
            65504f32.copysign(x)
        } else {
            half::f16::from_f32(x).to_f32()
        };
        // half rounds values in (65504, 65520) down to 65504 and beyond to inf; we saturate.
        let expected = if expected.is_infinite() {
            65504f32.copysign(x)
        } else {
            expected
        };
        assert_eq!(FP16.round(x), expected, "{x}");
    }
}

#[test]
fn bf16_matches_half_and_saturates() {
    for bits in (0..u32::MAX).step_by(997) {
        let x = f32::from_bits(bits);
        if !x.is_finite() {
            continue;
        }
        let converted = half::bf16::from_f32(x).to_f32();
        let expected = if converted.is_infinite() {
            BF16_MAX.copysign(x)
        } else {
            converted
        };
        assert_eq!(round_bf16(x), expected, "{x}");
    }
    assert_eq!(round_bf16(f32::MAX), BF16_MAX);
}

#[test]
fn magic_rounding_equals_round_ties_even() {
    for i in -(1 << 16)..(1 << 16) {
        let v = i as f32 / 4.0;
        assert_eq!(round_even(v), v.round_ties_even(), "{v}");
    }
    for x in common::uniform(3, 100_000, -4_000_000.0, 4_000_000.0) {
        assert_eq!(round_even(x), x.round_ties_even(), "{x}");
    }
}

#[test]
fn fp8_weight_scale_is_per_output_channel() {
    // Row 0 spans ±1, row 1 spans ±1000: each row's max lands on E4M3's 448.
    let weight = common::tensor(&[1.0, -0.5, 0.01, 0.3, 1000.0, -500.0, 10.0, 0.3], &[2, 4]);
    let quantized = common::values(&fake_quant_weight(Format::Fp8E4m3, &weight).expect("fp8"));
    for (row, amax) in [(0usize, 1.0f32), (1, 1000.0)] {
        let scale = amax / 448.0;
        for col in 0..4 {
            let x = common::values(&weight)[row * 4 + col];
            let expected = E4M3.round(x / scale) * scale;
            assert_eq!(quantized[row * 4 + col], expected, "row {row} col {col}");
        }
        assert!((quantized[row * 4] - amax).abs() <= amax * SCALE_ROUND_TRIP_REL);
    }
    // Row 0's 0.3 stays fine-grained; with a per-tensor scale it would be lost near 0.
    assert!((quantized[3] - 0.3).abs() < 0.3 / 16.0);
}

#[test]
fn fp8_activation_scale_comes_from_the_range_and_clips() {
    let x = common::tensor(&[0.0, 1.0, -2.0, 4.0, 100.0], &[5]);
    let range = ActRange {
        min: -2.0,
        max: 4.0,
    };
    let quantized =
        common::values(&fake_quant_activation(Format::Fp8E4m3, &x, range).expect("fp8"));
    let scale = 4.0 / 448.0;
    let expected: Vec<f32> = [0.0f32, 1.0, -2.0, 4.0, 100.0]
        .iter()
        .map(|&v| E4M3.round(v / scale) * scale)
        .collect();
    assert_eq!(quantized, expected);
    assert!(
        (quantized[4] - 4.0).abs() <= 4.0 * SCALE_ROUND_TRIP_REL,
        "beyond the range saturates at its max"
    );
}

#[test]
fn fp16_and_bf16_formats_are_casts() {
    let data = common::gaussian(11, 4096);
    let weight = common::tensor(&data, &[64, 64]);
    let fp16 = common::values(&fake_quant_weight(Format::Fp16, &weight).expect("fp16"));
    let bf16 = common::values(&fake_quant_weight(Format::Bf16, &weight).expect("bf16"));
    for ((x, h), b) in data.iter().zip(&fp16).zip(&bf16) {
        assert_eq!(*h, half::f16::from_f32(*x).to_f32());
        assert_eq!(*b, half::bf16::from_f32(*x).to_f32());
    }
}

#[test]
fn eight_lane_rounding_equals_the_scalar_rounding() {
    use bitplan::quant::float::round_bf16_x8;
    use bitplan::quant::int::IntGrid;
    use wide::f32x8;
    let lanes = |x: f32x8| x.to_array();
    let values = common::heavy_tailed(17, 80_000);
    for (i, chunk) in values.chunks_exact(8).enumerate() {
        let x = f32x8::new(chunk.try_into().expect("eight"));
        let scale = 2f32.powi((i % 48) as i32 - 24);
        let scaled = x * f32x8::splat(scale);
        for format in [E4M3, E5M2, E2M1, FP16] {
            let expected: Vec<f32> = lanes(scaled).iter().map(|&v| format.round(v)).collect();
            assert_eq!(
                lanes(format.round_x8(scaled)).to_vec(),
                expected,
                "{}",
                format.name
            );
        }
        let expected: Vec<f32> = lanes(scaled).iter().map(|&v| round_bf16(v)).collect();
        assert_eq!(lanes(round_bf16_x8(scaled)).to_vec(), expected);
        let grid = IntGrid::for_slice(4, i % 2 == 0, -scale, scale * 0.5);
        let expected: Vec<f32> = lanes(scaled).iter().map(|&v| grid.fake_quant(v)).collect();
        assert_eq!(lanes(grid.fake_quant_x8(scaled)).to_vec(), expected);
    }
    assert_eq!(
        round_bf16_x8(f32x8::splat(f32::MAX)).to_array(),
        [BF16_MAX; 8]
    );
}

#[test]
fn slice_statistics_find_every_extreme_and_every_non_finite_value() {
    use bitplan::quant::lanes::{amax, stats};
    for len in 1..40 {
        let values = common::gaussian(len as u64, len);
        let s = stats(&values);
        assert_eq!(
            s.min,
            values.iter().copied().fold(f32::INFINITY, f32::min),
            "len {len}"
        );
        assert_eq!(
            s.max,
            values.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            "len {len}"
        );
        assert!(s.finite);
        assert_eq!(
            amax(&values),
            values.iter().fold(0.0f32, |m, v| m.max(v.abs())),
            "len {len}"
        );
        for position in 0..len {
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                let mut broken = values.clone();
                broken[position] = bad;
                assert!(!stats(&broken).finite, "len {len}: {bad} at {position}");
            }
        }
    }
}
