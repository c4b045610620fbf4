//! The format table (names, bits, shape checks), the entry points' input handling and errors,
//! and the error metrics.

mod common;

use bitplan::quant::{
    error_metrics, fake_quant_activation, fake_quant_weight, ActRange, ActivationUse, Format,
    FormatKind, QuantError,
};
use candle_core::{DType, Device, Tensor};

fn format(name: &str) -> Format {
    name.parse().expect("format")
}

#[test]
fn every_name_is_unique_and_round_trips() {
    let all = Format::all();
    assert_eq!(all.len(), 8 + 6 * 2 * 5 + 10);
    let mut names: Vec<String> = all.iter().map(Format::to_string).collect();
    for (format, name) in all.iter().zip(&names) {
        assert_eq!(name.parse::<Format>().expect("parses"), *format);
        assert_eq!(
            name.to_uppercase().parse::<Format>().expect("any case"),
            *format
        );
        assert_eq!(&format.info().name, name);
        let json = serde_json::to_string(format).expect("serialize");
        assert_eq!(json, format!("\"{name}\""));
        assert_eq!(
            serde_json::from_str::<Format>(&json).expect("deserialize"),
            *format
        );
    }
    names.sort();
    names.dedup();
    assert_eq!(names.len(), all.len());
}

#[test]
fn unknown_names_list_the_valid_ones() {
    let close = "int4-g128"
        .parse::<Format>()
        .expect_err("unknown")
        .to_string();
    insta::assert_snapshot!(close, @"unknown format `int4-g128` (did you mean `int4-sym-g128`?); valid formats: fp32, fp16, bf16, fp8-e4m3, fp8-e5m2, mxfp8, mxfp4, nvfp4, int{8,6,5,4,3,2}-{sym,asym}-{pt,pc,g32,g64,g128}, q8_0, q6_k, q5_k, q5_1, q5_0, q4_k, q4_1, q4_0, q3_k, q2_k");
    let far = "posit16"
        .parse::<Format>()
        .expect_err("unknown")
        .to_string();
    assert!(
        far.starts_with("unknown format `posit16`; valid formats: fp32,"),
        "{far}"
    );
    let error = serde_json::from_str::<Format>("\"int7-sym-pt\"").expect_err("no int7");
    assert!(
        error.to_string().contains("unknown format `int7-sym-pt`"),
        "{error}"
    );
}

#[test]
fn bits_per_element_include_scales_and_zero_points() {
    let square = [4096, 4096];
    let cases = [
        ("fp32", 32.0),
        ("bf16", 16.0),
        ("fp8-e4m3", 8.0 + 32.0 / 4096.0),
        ("int4-sym-g128", 4.0 + 16.0 / 128.0),
        ("int4-asym-g128", 4.0 + 20.0 / 128.0),
        ("int3-asym-g32", 3.0 + 19.0 / 32.0),
        ("int8-sym-pc", 8.0 + 16.0 / 4096.0),
        ("int8-asym-pt", 8.0 + 24.0 / (4096.0 * 4096.0)),
        ("nvfp4", 4.5 + 32.0 / (4096.0 * 4096.0)),
    ];
    for (name, bits) in cases {
        assert_eq!(format(name).bits_per_element(&square), bits, "{name}");
    }
    // A conv weight [out, in, kh, kw] has one per-channel scale per 3*3*3 = 27 elements.
    assert_eq!(
        format("int8-sym-pc").bits_per_element(&[64, 3, 3, 3]),
        8.0 + 16.0 / 27.0
    );
    // Activations: static scales are per tensor.
    assert_eq!(
        format("fp8-e4m3").activation_bits_per_element(&[32, 4096]),
        8.0 + 32.0 / (32.0 * 4096.0)
    );
    // More bits never store less, within each scheme.
    for granularity in ["pt", "pc", "g32", "g64", "g128"] {
        let bits: Vec<f64> = [2, 3, 4, 5, 6, 8]
            .iter()
            .map(|b| format(&format!("int{b}-asym-{granularity}")).bits_per_element(&square))
            .collect();
        assert!(
            bits.windows(2).all(|pair| pair[0] < pair[1]),
            "{granularity}: {bits:?}"
        );
    }
}

#[test]
fn table_rows_are_consistent() {
    for format in Format::all() {
        let info = format.info();
        assert_eq!(
            info.needs_calibration,
            info.activation == ActivationUse::Static,
            "{format}"
        );
        assert!(
            format.bits_per_element(&[256, 256]) >= f64::from(info.element_bits),
            "{format}"
        );
        if info.kind == FormatKind::Ggml {
            assert_eq!(info.activation, ActivationUse::WeightOnly, "{format}");
        }
    }
    assert!(format("fp32").is_identity() && !format("fp16").is_identity());
    assert!(Format::activation_formats()
        .iter()
        .all(|f| !f.to_string().ends_with("-pc")));
}

#[test]
fn shape_checks_follow_the_row_view() {
    let g32 = format("int4-sym-g32");
    assert!(g32.check_shape(&[10, 64]).is_ok());
    assert!(g32.check_shape(&[10, 27]).is_err());
    assert!(g32.check_shape(&[16, 8, 2, 2]).is_ok(), "row = 8*2*2 = 32");
    assert!(g32.check_shape(&[0, 64]).is_ok(), "empty");
    assert!(
        format("int4-sym-pc").check_shape(&[10, 27]).is_ok(),
        "per-channel takes any row"
    );
    let empty = fake_quant_weight(
        g32,
        &Tensor::zeros((0, 64), DType::F32, &Device::Cpu).expect("empty"),
    )
    .expect("ok");
    assert_eq!(empty.dims(), &[0, 64]);
}

#[test]
fn weight_formats_are_rejected_for_activations() {
    let x = common::tensor(&[0.0; 256], &[1, 256]);
    let range = ActRange {
        min: -1.0,
        max: 1.0,
    };
    let messages: Vec<String> = ["int8-sym-pc", "q4_k"]
        .iter()
        .map(|name| {
            fake_quant_activation(format(name), &x, range)
                .expect_err("weight only")
                .to_string()
        })
        .collect();
    insta::assert_snapshot!(messages.join("\n"), @r"
    format int8-sym-pc is not an activation format (a per-channel scale belongs to a weight's output channel); valid activation formats: fp32, fp16, bf16, fp8-e4m3, fp8-e5m2, mxfp8, mxfp4, nvfp4, int{8,6,5,4,3,2}-{sym,asym}-{pt,g32,g64,g128}
    format q4_k is not an activation format (GGML types are weight formats); valid activation formats: fp32, fp16, bf16, fp8-e4m3, fp8-e5m2, mxfp8, mxfp4, nvfp4, int{8,6,5,4,3,2}-{sym,asym}-{pt,g32,g64,g128}
    ");
    let error = fake_quant_activation(
        format("int8-sym-pt"),
        &x,
        ActRange {
            min: 1.0,
            max: -1.0,
        },
    )
    .expect_err("bad range");
    insta::assert_snapshot!(error.to_string(), @"activation range [1, -1] is not valid: it needs finite bounds with min <= max");
}

#[test]
fn inputs_of_any_float_dtype_and_layout_are_accepted() {
    let values = common::gaussian(1, 64 * 128);
    let weight = common::tensor(&values, &[64, 128]);
    let reference = fake_quant_weight(format("int4-sym-g32"), &weight).expect("f32");
    // A transposed (non-contiguous) view gives the result of its contiguous copy.
    let transposed = weight.t().expect("t");
    let from_view = fake_quant_weight(format("int4-sym-g32"), &transposed).expect("view");
    let from_copy = fake_quant_weight(
        format("int4-sym-g32"),
        &transposed.contiguous().expect("copy"),
    )
    .expect("copy");
    assert_eq!(common::values(&from_view), common::values(&from_copy));
    // f16 input is converted to f32 first; output is f32 with the same shape.
    let half = weight.to_dtype(DType::F16).expect("f16");
    let from_half = fake_quant_weight(format("int8-sym-pc"), &half).expect("f16");
    assert_eq!(
        (from_half.dtype(), from_half.dims()),
        (DType::F32, reference.dims())
    );
    let integers = Tensor::zeros((4, 32), DType::U32, &Device::Cpu).expect("u32");
    let error = fake_quant_weight(format("int8-sym-pc"), &integers).expect_err("u32");
    insta::assert_snapshot!(error.to_string(), @"dtype U32 is not a floating-point dtype; only f16, bf16, f32 and f64 tensors can be quantized");
}

#[test]
fn fp32_is_the_identity_but_still_rejects_nan() {
    let values = common::gaussian(2, 100);
    let weight = common::tensor(&values, &[10, 10]);
    assert_eq!(
        common::values(&fake_quant_weight(Format::Fp32, &weight).expect("fp32")),
        values
    );
    let mut bad = values.clone();
    bad[42] = f32::NEG_INFINITY;
    let error = fake_quant_weight(Format::Fp32, &common::tensor(&bad, &[10, 10])).expect_err("inf");
    assert!(
        matches!(error, QuantError::NonFinite { index: 42, .. }),
        "{error}"
    );
}

#[test]
fn metrics_by_hand() {
    let x = common::tensor(&[1.0, 2.0, 3.0, 4.0], &[4]);
    let q = common::tensor(&[1.0, 2.0, 3.0, 5.0], &[4]);
    let metrics = error_metrics(&x, &q).expect("metrics");
    assert_eq!(metrics.mse, 0.25);
    assert_eq!(metrics.relative_mse, 1.0 / 30.0);
    assert!((metrics.sqnr_db - 10.0 * 30f64.log10()).abs() < 1e-12);
    assert!((metrics.cosine - 34.0 / (30f64 * 39.0).sqrt()).abs() < 1e-12);
    assert_eq!(metrics.max_abs, 1.0);
    let exact = error_metrics(&x, &x).expect("metrics");
    assert_eq!(
        (exact.mse, exact.relative_mse, exact.sqnr_db, exact.cosine),
        (0.0, 0.0, f64::INFINITY, 1.0)
    );
    let zeros = common::tensor(&[0.0; 4], &[4]);
    let all_zero = error_metrics(&zeros, &zeros).expect("metrics");
    assert_eq!((all_zero.relative_mse, all_zero.cosine), (0.0, 1.0));
    let error = error_metrics(&x, &common::tensor(&[1.0; 4], &[2, 2])).expect_err("shapes");
    insta::assert_snapshot!(error.to_string(), @"cannot compare tensors of shapes [4] (reference) and [2, 2] (quantized): shapes must be equal");
}

#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    let weight = common::tensor(&common::heavy_tailed(3, 96 * 512), &[96, 512]);
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    for format in Format::all() {
        let parallel = common::values(&fake_quant_weight(format, &weight).expect("parallel"));
        let serial = one_thread.install(|| fake_quant_weight(format, &weight).expect("serial"));
        assert_eq!(parallel, common::values(&serial), "{format}");
    }
}
