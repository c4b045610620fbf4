//! Fake-quant throughput on a 4096×4096 f32 weight, beside a plain copy of the same tensor
//! measured in the same run, on one thread and with rayon across rows (all cores).
//!
//! Every variant reads the tensor, allocates a fresh 64 MiB output and fills it, as
//! `fake_quant_weight` must: the baseline `copy` does exactly that and nothing else (like
//! `Tensor::copy`), so it is the ceiling. `memcpy-preallocated` (a copy into a buffer allocated
//! once) is shown for reference: the difference is the cost of faulting in fresh pages. GB/s = input bytes (4096·4096·4) / time per call. After criterion's
//! own report, a table of median GB/s and ratio to the copy is printed (the README's table).
//!
//! Run: `cargo bench --bench quant`

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bitplan::quant::{fake_quant_weight, Format};
use candle_core::{Device, Storage, Tensor};
use criterion::{BenchmarkGroup, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

const SIDE: usize = 4096;
const BYTES: u64 = (SIDE * SIDE * 4) as u64;
const FORMATS: [&str; 5] = ["int8-sym-pc", "int4-sym-g128", "fp8-e4m3", "nvfp4", "q4_k"];
const COPY: &str = "copy";
/// Copy into an already allocated (page-faulted) buffer: raw memory bandwidth, for reference.
const MEMCPY: &str = "memcpy-preallocated";

/// Seconds per call of every sample, keyed by (threads label, variant).
type Samples = RefCell<BTreeMap<(String, String), Vec<f64>>>;

fn weight() -> Tensor {
    let mut rng = StdRng::seed_from_u64(42);
    // Roughly Gaussian (sum of 4 uniforms), as weights are; the kernels' speed does not depend on it.
    let values: Vec<f32> = (0..SIDE * SIDE)
        .map(|_| (0..4).map(|_| rng.random::<f32>() - 0.5).sum::<f32>())
        .collect();
    Tensor::from_vec(values, (SIDE, SIDE), &Device::Cpu).expect("weight")
}

/// The baseline: read the tensor's f32 data, copy it into a fresh buffer (split across the
/// current rayon pool like the kernels' rows), wrap it in a tensor.
fn copy(tensor: &Tensor) -> Tensor {
    let (storage, layout) = tensor.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        panic!("the bench tensor is on the CPU")
    };
    let data = cpu.as_slice::<f32>().expect("f32");
    let (start, end) = layout.contiguous_offsets().expect("contiguous");
    let mut out = vec![0.0f32; end - start];
    out.par_chunks_mut(SIDE)
        .zip(data[start..end].par_chunks(SIDE))
        .for_each(|(o, i)| o.copy_from_slice(i));
    Tensor::from_vec(out, tensor.shape(), &Device::Cpu).expect("copy")
}

/// Copy the tensor's data into `out`, split across the current rayon pool.
fn memcpy(tensor: &Tensor, out: &mut [f32]) {
    let (storage, _) = tensor.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        panic!("the bench tensor is on the CPU")
    };
    let data = cpu.as_slice::<f32>().expect("f32");
    out.par_chunks_mut(SIDE)
        .zip(data.par_chunks(SIDE))
        .for_each(|(o, i)| o.copy_from_slice(i));
}

fn measure<R: Send, F: Fn() -> R + Sync>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
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
            samples
                .borrow_mut()
                .entry(key.clone())
                .or_default()
                .push(elapsed.as_secs_f64() / iterations as f64);
            elapsed
        });
    });
}

fn bench(criterion: &mut Criterion, samples: &Samples) {
    let weight = weight();
    let all_threads = rayon::current_num_threads();
    for threads in [1, all_threads] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        let label = format!("{threads} thread{}", if threads == 1 { "" } else { "s" });
        let mut group = criterion.benchmark_group(format!("fake-quant-4096x4096-{threads}t"));
        group.throughput(Throughput::Bytes(BYTES));
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(4));
        let buffer = std::sync::Mutex::new(vec![1.0f32; SIDE * SIDE]);
        measure(
            &mut group,
            samples,
            (label.clone(), MEMCPY.to_string()),
            &pool,
            || memcpy(&weight, &mut buffer.lock().expect("buffer")),
        );
        measure(
            &mut group,
            samples,
            (label.clone(), COPY.to_string()),
            &pool,
            || copy(&weight),
        );
        for name in FORMATS {
            let format: Format = name.parse().expect("format in the table");
            measure(
                &mut group,
                samples,
                (label.clone(), name.to_string()),
                &pool,
                || fake_quant_weight(format, &weight).expect("fake quant"),
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

/// Markdown table: per variant and thread count, median GB/s and the ratio to the copy.
fn print_table(samples: &Samples) {
    let samples = samples.borrow();
    let labels: Vec<String> = samples
        .keys()
        .map(|(label, _)| label.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let gb_per_s = |label: &str, variant: &str| {
        samples
            .get(&(label.to_string(), variant.to_string()))
            .map(|times| BYTES as f64 / median(times) / 1e9)
    };
    let mut header = String::from("| variant |");
    let mut rule = String::from("|---|");
    for label in &labels {
        header += &format!(" {label}: GB/s | × copy |");
        rule += "---:|---:|";
    }
    println!("\n{header}\n{rule}");
    for variant in [MEMCPY, COPY].into_iter().chain(FORMATS) {
        let mut row = format!("| {variant} |");
        for label in &labels {
            match (gb_per_s(label, variant), gb_per_s(label, COPY)) {
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
    print_table(&samples);
}
