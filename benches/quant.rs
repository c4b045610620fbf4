//! Fake-quant throughput on a 4096×4096 f32 weight, beside a plain copy of the same data measured
//! in the same run, on one thread and with rayon across rows (all cores).
//!
//! Two pairs, each format against the copy that does the same memory work:
//! - tensor API: `fake_quant_weight` reads the tensor and allocates a fresh 64 MiB output, so the
//!   baseline `copy` reads the tensor into a fresh buffer and wraps it (like `Tensor::copy`);
//! - slice API: `fake_quant_weight_into` writes into a buffer allocated once, so the baseline
//!   `memcpy` copies into a buffer allocated once. The gap between the two copies is the cost of
//!   faulting in fresh pages; the slice pair isolates the kernels.
//!
//! GB/s = input bytes (4096·4096·4) / median time per call. After criterion's own report, two
//! markdown tables of GB/s and ratio to the matching copy are printed (the README's tables).
//!
//! Run: `cargo bench --bench quant`

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bitplan::quant::{fake_quant_weight, fake_quant_weight_into, Format};
use candle_core::{Device, Storage, Tensor};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

const SIDE: usize = 4096;
const BYTES: u64 = (SIDE * SIDE * 4) as u64;
const FORMATS: [&str; 5] = ["int8-sym-pc", "int4-sym-g128", "fp8-e4m3", "nvfp4", "q4_k"];
const COPY: &str = "copy";
const MEMCPY: &str = "memcpy";
/// Suffix of the slice-API variants.
const INTO: &str = " (into)";

/// Seconds per call of every sample, keyed by (threads label, variant).
type Samples = RefCell<BTreeMap<(String, String), Vec<f64>>>;

/// Roughly Gaussian values (sum of 4 uniforms), as weights are; speed does not depend on them.
fn weight_values() -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(42);
    (0..SIDE * SIDE)
        .map(|_| (0..4).map(|_| rng.random::<f32>() - 0.5).sum::<f32>())
        .collect()
}

/// Copy `data` into `out`, split across the current rayon pool in rows, as the kernels are.
fn copy_rows(data: &[f32], out: &mut [f32]) {
    out.par_chunks_mut(SIDE)
        .zip(data.par_chunks(SIDE))
        .for_each(|(o, i)| o.copy_from_slice(i));
}

/// The tensor-API baseline: borrow the tensor's data (as `fake_quant_weight` does), copy it
/// into a fresh buffer, wrap that in a tensor.
fn copy(tensor: &Tensor) -> Tensor {
    let (storage, layout) = tensor.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        panic!("the bench tensor is on the CPU")
    };
    let (start, end) = layout.contiguous_offsets().expect("contiguous");
    let data = &cpu.as_slice::<f32>().expect("f32")[start..end];
    let mut out = vec![0.0f32; data.len()];
    copy_rows(data, &mut out);
    Tensor::from_vec(out, tensor.shape(), &Device::Cpu).expect("copy")
}

fn measure<R: Send, F: Fn() -> R + Sync>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    samples: &Samples,
    key: (String, String),
    pool: &rayon::ThreadPool,
    work: F,
) {
    group.bench_function(&key.1, |bencher| {
        bencher.iter_custom(|iterations| {
            let start = Instant::now();
            for _ in 0..iterations {
                std::hint::black_box(pool.install(&work));
            }
            let elapsed = start.elapsed();
            let per_call = elapsed.as_secs_f64() / iterations as f64;
            samples
                .borrow_mut()
                .entry(key.clone())
                .or_default()
                .push(per_call);
            elapsed
        });
    });
}

fn bench(criterion: &mut Criterion, samples: &Samples) {
    let values = weight_values();
    let weight = Tensor::from_vec(values.clone(), (SIDE, SIDE), &Device::Cpu).expect("weight");
    let buffer = Mutex::new(vec![1.0f32; SIDE * SIDE]);
    for threads in [1, rayon::current_num_threads()] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        let label = format!("{threads} thread{}", if threads == 1 { "" } else { "s" });
        let key = |variant: &str| (label.clone(), variant.to_string());
        let mut group = criterion.benchmark_group(format!("fake-quant-4096x4096-{threads}t"));
        group.throughput(Throughput::Bytes(BYTES));
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(3));
        measure(&mut group, samples, key(COPY), &pool, || copy(&weight));
        measure(&mut group, samples, key(MEMCPY), &pool, || {
            copy_rows(&values, &mut buffer.lock().expect("buffer"))
        });
        for name in FORMATS {
            let format: Format = name.parse().expect("format in the table");
            measure(&mut group, samples, key(name), &pool, || {
                fake_quant_weight(format, &weight).expect("fake quant")
            });
            measure(
                &mut group,
                samples,
                key(&format!("{name}{INTO}")),
                &pool,
                || {
                    let mut out = buffer.lock().expect("buffer");
                    fake_quant_weight_into(format, &values, &[SIDE, SIDE], &mut out)
                        .expect("fake quant")
                },
            );
        }
        group.finish();
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// A markdown table of GB/s and ratio to `baseline` for `variants` (plus `suffix`), per thread count.
fn print_table(samples: &Samples, baseline: &str, suffix: &str) {
    let samples = samples.borrow();
    let labels: BTreeSet<&String> = samples.keys().map(|(label, _)| label).collect();
    let gb_per_s = |label: &str, variant: &str| {
        samples
            .get(&(label.to_string(), variant.to_string()))
            .map(|times| BYTES as f64 / median(times) / 1e9)
    };
    let mut header = String::from("| variant |");
    let mut rule = String::from("|---|");
    for label in &labels {
        header += &format!(" {label}: GB/s | × {baseline} |");
        rule += "---:|---:|";
    }
    println!("\n{header}\n{rule}");
    let variants = std::iter::once(baseline.to_string())
        .chain(FORMATS.iter().map(|name| format!("{name}{suffix}")));
    for variant in variants {
        let mut row = format!("| {variant} |");
        for label in &labels {
            match (gb_per_s(label, &variant), gb_per_s(label, baseline)) {
                (Some(speed), Some(copy)) => row += &format!(" {speed:.2} | {:.2} |", speed / copy),
                _ => row += " - | - |",
            }
        }
        println!("{row}");
    }
}

fn main() {
    let samples = Samples::default();
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion, &samples);
    criterion.final_summary();
    println!("\nTensor API (fresh output tensor), against a copy into a fresh buffer:");
    print_table(&samples, COPY, "");
    println!("\nSlice API (output buffer allocated once), against a memcpy into a buffer allocated once:");
    print_table(&samples, MEMCPY, INTO);
}
