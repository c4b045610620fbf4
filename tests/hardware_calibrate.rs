//! Calibration: measuring is separate from fitting; fitting is pure and recovers a known model
//! from synthetic measurements; the fitted profile prices a layer exactly as the fit predicted.

use bitplan::hardware::calibrate::measurements::{Machine, MatmulSample, ReadSample, SCHEMA};
use bitplan::hardware::calibrate::{fit, measure, render, Kernel, MeasureSettings, Measurements};
use bitplan::hardware::{dispatch_for, parse, price, FormatBits, Workload};
use bitplan::model::OpKind;

/// The synthetic machine: 50 GB/s DRAM, 200 GB/s cache of 32 MiB.
const DRAM_GB_PER_S: f64 = 50.0;
const CACHE_GB_PER_S: f64 = 200.0;
const CACHE_BYTES: u64 = 32 << 20;

fn machine() -> Machine {
    Machine {
        cpu: "synthetic".into(),
        logical_cpus: 2,
        threads: 2,
        last_level_cache_bytes: Some(CACHE_BYTES),
        candle_version: "0.11".into(),
    }
}

/// Seconds of a synthetic kernel: `overhead` + max(MACs / rate + weight unpacking once per 16
/// rows at `unpack` elements/s, weight bytes / DRAM), with no size dependence otherwise, so the
/// fit must find a flat curve.
fn synthetic_seconds(
    kernel: Kernel,
    shape: (usize, usize, usize),
    rate: f64,
    unpack: f64,
    overhead: f64,
) -> f64 {
    let (rows, cols, depth) = shape;
    let (block, bytes) = kernel.block();
    let weight_bytes = (cols * depth / block * bytes) as f64;
    let macs = (rows * cols * depth) as f64;
    let unpacking = if unpack > 0.0 {
        rows.div_ceil(16) as f64 * (cols * depth) as f64 / unpack
    } else {
        0.0
    };
    overhead + (macs / rate + unpacking).max(weight_bytes / (DRAM_GB_PER_S * 1e9))
}

fn synthetic() -> Measurements {
    let read = vec![
        ReadSample {
            bytes: 1 << 20,
            seconds: (1u64 << 20) as f64 / (CACHE_GB_PER_S * 1e9),
        },
        ReadSample {
            bytes: 1 << 30,
            seconds: (1u64 << 30) as f64 / (DRAM_GB_PER_S * 1e9),
        },
    ];
    let mut matmul = Vec::new();
    for (kernel, rate, unpack, overhead) in [
        (Kernel::F32, 100e9, 0.0, 10e-6),
        (Kernel::Q4K, 40e9, 5e9, 20e-6),
    ] {
        for (cols, depth) in [(512, 512), (2048, 512), (2048, 2048)] {
            for rows in [1, 4, 16, 64, 256] {
                let seconds =
                    synthetic_seconds(kernel, (rows, cols, depth), rate, unpack, overhead);
                matmul.push(MatmulSample {
                    kernel,
                    rows,
                    cols,
                    depth,
                    seconds,
                    median_seconds: seconds,
                    min_seconds: seconds,
                    repeats: 1,
                    call_seconds: vec![seconds],
                });
            }
        }
    }
    Measurements {
        schema: SCHEMA.into(),
        machine: machine(),
        seed: 3,
        complete: true,
        processes: 1,
        read,
        matmul,
    }
}

/// `synthetic()` with every time scaled by `factor` (another process's draw).
fn scaled(factor: f64) -> Measurements {
    let mut measurements = synthetic();
    for sample in &mut measurements.matmul {
        sample.seconds *= factor;
        sample.median_seconds *= factor;
        sample.min_seconds *= factor;
    }
    for sample in &mut measurements.read {
        sample.seconds *= factor;
    }
    measurements
}

#[test]
fn processes_combine_by_their_median_and_refuse_another_plan() {
    let parts = [scaled(1.3), scaled(1.0), scaled(0.9)];
    let combined = Measurements::median_of(&parts).unwrap();
    assert_eq!(combined.processes, 3);
    let one = synthetic();
    for (got, want) in combined.matmul.iter().zip(&one.matmul) {
        assert_eq!(got.key(), want.key());
        assert_eq!(got.seconds, want.seconds);
        assert_eq!(got.median_seconds, want.median_seconds);
        assert_eq!(got.min_seconds, want.min_seconds * 0.9);
        assert_eq!(got.repeats, 3 * want.repeats);
    }
    assert_eq!(combined.read[0].seconds, one.read[0].seconds);
    // An even count takes the mean of the middle two.
    let pair = Measurements::median_of(&[scaled(1.0), scaled(3.0)]).unwrap();
    assert!((pair.matmul[0].seconds - 2.0 * one.matmul[0].seconds).abs() < 1e-15);
    // One that measured other samples, another seed or not to the end is refused, naming it.
    let mut other = synthetic();
    other.matmul.pop();
    let error = Measurements::median_of(&[synthetic(), other]).unwrap_err();
    assert!(
        error.starts_with("process 2: measured other samples"),
        "{error}"
    );
    let mut reseeded = synthetic();
    reseeded.seed = 4;
    let error = Measurements::median_of(&[synthetic(), reseeded]).unwrap_err();
    assert!(error.starts_with("process 2: taken with seed 4"), "{error}");
    let mut partial = synthetic();
    partial.complete = false;
    let error = Measurements::median_of(&[partial]).unwrap_err();
    assert_eq!(error, "process 1: measurements are not complete");
}

#[test]
fn fit_recovers_a_known_machine() {
    let fitted = fit(&synthetic()).unwrap();
    assert!((fitted.memory.dram_gb_per_s - DRAM_GB_PER_S).abs() < 1e-9);
    assert!((fitted.memory.cache_gb_per_s - CACHE_GB_PER_S).abs() < 1e-9);
    let f32_fit = fitted
        .kernels
        .iter()
        // Every synthetic depth is a multiple of 512: the aliased-depth path has the samples.
        .find(|k| k.kernel == Kernel::F32 && k.path == "several rows, aliased depth")
        .unwrap();
    assert_eq!(f32_fit.overhead_us, 10.0);
    assert!(
        (f32_fit.rate_tera_ops_per_s - 0.2).abs() < 1e-6,
        "{}",
        f32_fit.rate_tera_ops_per_s
    );
    let q4k = fitted
        .kernels
        .iter()
        .find(|k| k.kernel == Kernel::Q4K)
        .unwrap();
    assert_eq!(q4k.overhead_us, 20.0);
    let (unpack_rate, reuse_rows) = q4k.unpack.unwrap();
    assert_eq!(reuse_rows, 16);
    assert!((unpack_rate - 5.0).abs() < 1e-6, "{unpack_rate}");
    for kernel in &fitted.kernels {
        assert!(
            kernel.rms_log_error < 1e-3,
            "{:?}: {}",
            kernel.kernel,
            kernel.rms_log_error
        );
        assert_eq!(kernel.within_10_percent, 1.0);
    }
}

#[test]
fn fitting_is_pure() {
    let measurements = synthetic();
    let first = render("host-cpu", &measurements, &fit(&measurements).unwrap());
    let second = render("host-cpu", &measurements, &fit(&measurements).unwrap());
    assert_eq!(first, second);
}

#[test]
fn a_partial_measurements_file_is_not_fitted() {
    let mut measurements = synthetic();
    measurements.complete = false;
    insta::assert_snapshot!(
        "partial_measurements",
        fit(&measurements).unwrap_err().to_string()
    );
}

#[test]
fn the_fitted_profile_prices_samples_as_the_fit_predicts() {
    let measurements = synthetic();
    let fitted = fit(&measurements).unwrap();
    let text = render("host-cpu", &measurements, &fitted);
    let profile = parse(&text, "host-cpu.toml", Some("host-cpu")).unwrap();
    for sample in &measurements.matmul {
        let (rows, cols, depth) = (sample.rows as u64, sample.cols as u64, sample.depth as u64);
        let work = Workload {
            op: OpKind::Linear,
            groups: 1,
            rows,
            cols,
            depth,
            weight_elements: cols * depth,
            weight_elements_read: cols * depth,
            input_elements: rows * depth,
            output_elements: rows * cols,
        };
        let run = dispatch_for(&profile, &work, sample.kernel.weight_format(), "fp32").unwrap();
        let bits = FormatBits {
            stored_weight: sample.kernel.bits_per_weight(),
            run_activation: 32.0,
        };
        let predicted = price(&profile, &work, &run, bits).latency_us * 1e-6;
        let error = (predicted / sample.seconds - 1.0).abs();
        // The rendered numbers keep 6 significant digits.
        assert!(
            error < 1e-4,
            "{:?} {rows}x{cols}x{depth}: {predicted} vs {}",
            sample.kernel,
            sample.seconds
        );
    }
}

#[test]
fn quick_measurement_runs_and_resumes_without_repeating_work() {
    let settings = MeasureSettings::quick(5);
    let mut calls = 0;
    let measured = measure(&settings, None, &mut |_, _, _| {
        calls += 1;
        Ok(())
    })
    .unwrap();
    assert!(measured.complete);
    assert_eq!(measured.matmul.len(), settings.plan().len());
    // The read probe, then one report per pass.
    assert_eq!(calls, settings.passes + 1);
    assert!(measured.matmul.iter().all(|s| s.min_seconds > 0.0
        && s.min_seconds <= s.seconds
        && s.seconds <= s.median_seconds
        && s.repeats == settings.passes
        && s.call_seconds.len() == settings.passes));
    // A k-quant needs rows of 256: the 512x256 shape (depth 256) is measured, none is skipped
    // silently, and q4_k never appears with a depth that is not a multiple of 256.
    assert!(measured
        .matmul
        .iter()
        .filter(|s| s.kernel == Kernel::Q4K)
        .all(|s| s.depth % 256 == 0));

    let again = measure(&settings, Some(measured.clone()), &mut |_, _, _| Ok(())).unwrap();
    assert_eq!(
        again.matmul, measured.matmul,
        "resuming a complete file measures nothing new"
    );
}

#[test]
fn a_calibration_killed_after_a_pass_resumes_from_that_pass() {
    let settings = MeasureSettings::quick(5);
    let mut partial = None;
    // Stop (as a kill would) once the read probe and the first pass are in.
    let stopped = measure(&settings, None, &mut |measured, done, _| {
        if done == 2 {
            partial = Some(measured.clone());
            return Err(bitplan::hardware::HardwareError::Calibration(
                "killed".into(),
            ));
        }
        Ok(())
    });
    assert!(stopped.is_err());
    let partial = partial.expect("a partial file after the first pass");
    assert!(!partial.complete);
    assert!(partial.matmul.iter().all(|s| s.call_seconds.len() == 1));
    let mut reports = Vec::new();
    let resumed = measure(&settings, Some(partial.clone()), &mut |_, done, _| {
        reports.push(done);
        Ok(())
    })
    .unwrap();
    assert!(resumed.complete);
    // The first report says one pass was already done; the passes left follow.
    assert_eq!(reports, (2..=settings.passes + 1).collect::<Vec<_>>());
    assert_eq!(resumed.read, partial.read, "the read probe is not repeated");
    for (before, after) in partial.matmul.iter().zip(&resumed.matmul) {
        assert_eq!(before.key(), after.key());
        assert_eq!(after.call_seconds.len(), settings.passes);
        assert_eq!(after.call_seconds[0], before.call_seconds[0]);
    }
}

#[test]
fn resuming_someone_elses_measurements_is_refused() {
    let settings = MeasureSettings::quick(5);
    let mut other = synthetic();
    other.complete = false;
    let error = measure(&settings, Some(other), &mut |_, _, _| Ok(())).unwrap_err();
    assert!(error.to_string().contains("cannot resume"), "{error}");
}
