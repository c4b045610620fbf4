//! Activation range calibration: each estimator on distributions whose answer is known, the
//! histogram's exact growth, and that MSE and entropy clipping lower the real error.

mod common;

use bitplan::quant::{fake_quant_activation, ActRange, Format, RangeMethod, RangeObserver};

/// Histogram resolution: 8192 bins over [-h, h], h the power of two >= amax.
fn bin_width(amax: f32) -> f32 {
    2.0 * amax.log2().ceil().exp2() / 8192.0
}

fn format(name: &str) -> Format {
    name.parse().expect("format")
}

fn observe(batches: &[&[f32]]) -> RangeObserver {
    let mut observer = RangeObserver::new();
    for batch in batches {
        observer
            .observe(&common::tensor(batch, &[batch.len()]))
            .expect("observe");
    }
    observer
}

/// MSE of fake-quantizing `values` as an activation with `range`.
fn activation_mse(format: Format, values: &[f32], range: ActRange) -> f64 {
    let x = common::tensor(values, &[values.len()]);
    common::mse(
        values,
        &common::values(&fake_quant_activation(format, &x, range).expect("fake quant")),
    )
}

#[test]
fn range_methods_parse_and_print() {
    for text in ["minmax", "percentile:99.99", "mse", "entropy"] {
        let method: RangeMethod = text.parse().expect("valid");
        assert_eq!(method.to_string(), text);
    }
    assert_eq!(
        "percentile:99.9".parse::<RangeMethod>().expect("valid"),
        RangeMethod::Percentile(99.9)
    );
    let errors: Vec<String> = ["percentile", "percentile:120", "percentile:x", "max"]
        .iter()
        .map(|text| {
            text.parse::<RangeMethod>()
                .expect_err("invalid")
                .to_string()
        })
        .collect();
    insta::assert_snapshot!(errors.join("\n"), @r"
    unknown range method `percentile`: a percentile needs its value; valid: minmax, percentile:P (0 < P <= 100, e.g. percentile:99.99), mse, entropy
    unknown range method `percentile:120`: the percentile is outside (0, 100]; valid: minmax, percentile:P (0 < P <= 100, e.g. percentile:99.99), mse, entropy
    unknown range method `percentile:x`: the percentile is not a number; valid: minmax, percentile:P (0 < P <= 100, e.g. percentile:99.99), mse, entropy
    unknown range method `max`: not a known method; valid: minmax, percentile:P (0 < P <= 100, e.g. percentile:99.99), mse, entropy
    ");
}

#[test]
fn minmax_is_exact_over_batches() {
    let observer = observe(&[&[0.5, -0.25], &[3.0, 1.0], &[-7.5]]);
    assert_eq!(observer.count(), 5);
    assert_eq!(
        observer.range(RangeMethod::MinMax, format("int8-asym-pt")),
        ActRange {
            min: -7.5,
            max: 3.0
        }
    );
}

#[test]
fn percentile_of_a_uniform_distribution() {
    let values = common::uniform(1, 1_000_000, -1.0, 1.0);
    let observer = observe(&[&values]);
    let tolerance = 0.002 + bin_width(1.0);
    let symmetric = observer.range(RangeMethod::Percentile(99.0), format("int8-sym-pt"));
    assert!(
        (symmetric.max - 0.99).abs() < tolerance && (symmetric.min + 0.99).abs() < tolerance,
        "{symmetric:?}"
    );
    // Asymmetric: each tail clipped at 1%: [-0.98, 0.98].
    let asymmetric = observer.range(RangeMethod::Percentile(99.0), format("int8-asym-pt"));
    assert!(
        (asymmetric.max - 0.98).abs() < tolerance && (asymmetric.min + 0.98).abs() < tolerance,
        "{asymmetric:?}"
    );
    assert_eq!(
        observer
            .range(RangeMethod::Percentile(100.0), format("int8-sym-pt"))
            .max,
        observer
            .range(RangeMethod::MinMax, format("int8-sym-pt"))
            .max
    );
}

#[test]
fn histogram_grows_by_exact_doublings() {
    // Small batch first (fine bins, merged later) or large batch first: the same statistics.
    let small = common::uniform(2, 10_000, -0.01, 0.01);
    let large = common::gaussian(3, 10_000);
    let forward = observe(&[&small, &large]);
    let backward = observe(&[&large, &small]);
    assert!(
        forward == backward,
        "observing order changed the statistics"
    );
}

#[test]
fn zeros_seen_before_any_nonzero_value_are_kept() {
    let zeros = vec![0.0f32; 1000];
    let values = common::uniform(4, 1000, -1.0, 1.0);
    let observer = observe(&[&zeros, &values]);
    assert!(
        observer == observe(&[&values, &zeros]),
        "observing order changed the statistics"
    );
    // Half the mass is at 0, so the median |x| is within a bin of 0.
    let median = observer.range(RangeMethod::Percentile(50.0), format("int8-sym-pt"));
    assert!(median.max <= bin_width(1.0), "{median:?}");
}

#[test]
fn mse_clipping_matches_the_known_gaussian_optimum() {
    // Banner et al., ACIQ (2019): the MSE-optimal clip of a unit Gaussian at 4 bits is about 2.55.
    let values = common::gaussian(5, 1_000_000);
    let observer = observe(&[&values]);
    let int4 = format("int4-sym-pt");
    let range = observer.range(RangeMethod::Mse, int4);
    assert!((2.2..2.9).contains(&range.max), "{range:?}");
    let minmax = observer.range(RangeMethod::MinMax, int4);
    assert!(activation_mse(int4, &values, range) < 0.5 * activation_mse(int4, &values, minmax));
}

#[test]
fn entropy_clipping_lowers_int8_error_on_heavy_tails() {
    let values = common::heavy_tailed(6, 1_000_000);
    let observer = observe(&[&values]);
    for name in ["int8-sym-pt", "int8-asym-pt"] {
        let format = format(name);
        let entropy = observer.range(RangeMethod::Entropy, format);
        let minmax = observer.range(RangeMethod::MinMax, format);
        assert!(
            entropy.max < minmax.max && entropy.min > minmax.min,
            "{name}: {entropy:?} clips"
        );
        assert!(
            activation_mse(format, &values, entropy) < activation_mse(format, &values, minmax),
            "{name}"
        );
    }
    // fp8's grid is logarithmic: clipping buys it little resolution, and KL keeps (nearly) all.
    let fp8 = format("fp8-e4m3");
    let entropy = observer.range(RangeMethod::Entropy, fp8);
    let minmax = observer.range(RangeMethod::MinMax, fp8);
    assert!(
        entropy.max <= minmax.max
            && entropy.min >= minmax.min
            && entropy.amax() > 0.5 * minmax.amax(),
        "{entropy:?}"
    );
}

#[test]
fn mse_never_does_worse_than_minmax_on_its_own_histogram() {
    for (seed, heavy) in [(7u64, false), (8, true)] {
        let values = if heavy {
            common::heavy_tailed(seed, 200_000)
        } else {
            common::gaussian(seed, 200_000)
        };
        let relu: Vec<f32> = values.iter().map(|v| v.max(0.0)).collect();
        let observer = observe(&[&relu]);
        for name in ["int8-asym-pt", "int4-asym-pt", "int8-sym-pt", "fp8-e5m2"] {
            let format = format(name);
            let mse = observer.range(RangeMethod::Mse, format);
            let minmax = observer.range(RangeMethod::MinMax, format);
            // Binning makes the search approximate: allow a hair above min-max.
            assert!(
                activation_mse(format, &relu, mse) <= 1.01 * activation_mse(format, &relu, minmax),
                "{name} seed {seed}"
            );
        }
    }
}

#[test]
fn dynamic_and_weight_formats_get_minmax() {
    let observer = observe(&[&common::gaussian(9, 1000)]);
    let minmax = observer.range(RangeMethod::MinMax, format("mxfp4"));
    for name in [
        "mxfp4",
        "nvfp4",
        "fp16",
        "int4-sym-g128",
        "int8-sym-pc",
        "q4_k",
    ] {
        assert_eq!(
            observer.range(RangeMethod::Entropy, format(name)),
            minmax,
            "{name}"
        );
    }
}

#[test]
fn empty_and_all_zero_observers() {
    let empty = RangeObserver::new();
    assert_eq!(
        empty.range(RangeMethod::Mse, format("int8-sym-pt")),
        ActRange { min: 0.0, max: 0.0 }
    );
    let zeros = observe(&[&[0.0; 64]]);
    for method in [
        RangeMethod::MinMax,
        RangeMethod::Percentile(99.0),
        RangeMethod::Mse,
        RangeMethod::Entropy,
    ] {
        assert_eq!(
            zeros.range(method, format("int8-sym-pt")),
            ActRange { min: 0.0, max: 0.0 }
        );
    }
}

#[test]
fn observing_nan_is_an_error() {
    let mut observer = RangeObserver::new();
    let error = observer
        .observe(&common::tensor(&[1.0, f32::INFINITY], &[2]))
        .expect_err("inf");
    insta::assert_snapshot!(error.to_string(), @"non-finite value inf at flat index 1 (tensor of shape [2]); quantization needs finite values");
    assert_eq!(
        observer.count(),
        0,
        "a failed batch leaves the statistics untouched"
    );
}

#[test]
fn observer_round_trips_through_json() {
    let observer = observe(&[&common::gaussian(10, 5000)]);
    let json = serde_json::to_string(&observer).expect("serialize");
    let back: RangeObserver = serde_json::from_str(&json).expect("deserialize");
    assert!(back == observer, "JSON round trip changed the statistics");
    assert_eq!(
        back.range(RangeMethod::Entropy, format("int8-sym-pt")),
        observer.range(RangeMethod::Entropy, format("int8-sym-pt"))
    );
}
