//! GGML block types: the row-wise wrapper equals candle's `QTensor::quantize` → `dequantize`
//! on the whole tensor, shapes that do not fit are errors (never panics), bits are the true ones.

mod common;

use bitplan::quant::{fake_quant_weight, Format, GgmlFormat, QuantError};
use candle_core::quantized::QTensor;
use candle_core::Device;

#[test]
fn wrapper_equals_candle_round_trip() {
    for (seed, shape) in [
        (1u64, vec![8usize, 512]),
        (2, vec![4, 2, 256]),
        (3, vec![256]),
    ] {
        let count: usize = shape.iter().product();
        for heavy in [false, true] {
            let values = if heavy {
                common::heavy_tailed(seed, count)
            } else {
                common::gaussian(seed, count)
            };
            let weight = common::tensor(&values, &shape);
            for format in GgmlFormat::ALL {
                let ours = common::values(
                    &fake_quant_weight(Format::Ggml(format), &weight).expect("ggml"),
                );
                let candle = QTensor::quantize(&weight, format.dtype())
                    .and_then(|q| q.dequantize(&Device::Cpu))
                    .expect("candle round trip");
                assert_eq!(
                    ours,
                    common::values(&candle),
                    "{} on {shape:?}",
                    format.name()
                );
            }
        }
    }
}

#[test]
fn conv_weights_are_rows_of_their_flattened_kernel() {
    // [out, in, kh, kw] = [8, 16, 4, 4]: rows of 256 fit q4_k although the last dim is 4.
    let values = common::gaussian(4, 8 * 256);
    let conv = common::tensor(&values, &[8, 16, 4, 4]);
    let matrix = common::tensor(&values, &[8, 256]);
    let format = Format::Ggml(GgmlFormat::Q4K);
    let ours = common::values(&fake_quant_weight(format, &conv).expect("conv"));
    assert_eq!(
        ours,
        common::values(&fake_quant_weight(format, &matrix).expect("matrix"))
    );
}

#[test]
fn shapes_that_do_not_fit_the_block_are_errors() {
    let q4k = Format::Ggml(GgmlFormat::Q4K);
    let q8 = Format::Ggml(GgmlFormat::Q8_0);
    assert!(q8.check_shape(&[2, 32]).is_ok());
    assert!(q4k.check_shape(&[2, 32]).is_err());
    let error = fake_quant_weight(q4k, &common::tensor(&[0.5; 400], &[4, 100]));
    assert!(matches!(error, Err(QuantError::NotAdmissible { .. })));
    insta::assert_snapshot!(error.expect_err("row of 100").to_string(), @"format q4_k cannot take a tensor of shape [4, 100]: row length 100 (the product of all dims after the first) is not a multiple of the block size 256");
    let error = fake_quant_weight(q8, &common::tensor(&[0.5; 48], &[48]));
    insta::assert_snapshot!(error.expect_err("row of 48").to_string(), @"format q8_0 cannot take a tensor of shape [48]: row length 48 (a 1-D tensor is one row) is not a multiple of the block size 32");
}

#[test]
fn bits_per_weight_are_the_true_block_sizes() {
    let expected = [
        (GgmlFormat::Q8_0, 8.5),
        (GgmlFormat::Q6K, 6.5625),
        (GgmlFormat::Q5K, 5.5),
        (GgmlFormat::Q5_1, 6.0),
        (GgmlFormat::Q5_0, 5.5),
        (GgmlFormat::Q4K, 4.5),
        (GgmlFormat::Q4_1, 5.0),
        (GgmlFormat::Q4_0, 4.5),
        (GgmlFormat::Q3K, 3.4375),
        (GgmlFormat::Q2K, 2.625),
    ];
    for (format, bits) in expected {
        let dtype = format.dtype();
        assert_eq!(
            bits,
            (dtype.type_size() * 8) as f64 / dtype.block_size() as f64,
            "{}",
            format.name()
        );
        assert_eq!(
            Format::Ggml(format).bits_per_element(&[4096, 4096]),
            bits,
            "{}",
            format.name()
        );
    }
}

#[test]
fn nan_is_an_error_not_a_panic() {
    let mut values = common::gaussian(6, 256);
    values[77] = f32::NAN;
    let error = fake_quant_weight(
        Format::Ggml(GgmlFormat::Q4K),
        &common::tensor(&values, &[1, 256]),
    );
    insta::assert_snapshot!(error.expect_err("NaN").to_string(), @"non-finite value NaN at flat index 77 (tensor of shape [1, 256]); quantization needs finite values");
}
