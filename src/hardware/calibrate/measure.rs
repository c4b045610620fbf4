//! Timing candle's CPU kernels on this machine. Measuring only: it returns raw samples, and
//! fitting them into a profile is `fit.rs`'s job.
//!
//! Weights are random (seeded) and cycled through enough copies to exceed the last-level cache,
//! as the weights of a whole model are when it runs layer after layer; activations stay hot.
//! Each sample is a low quantile of many calls, after one warm-up pass over every copy (which
//! builds candle's repacked weight caches).

use std::time::Instant;

use candle_core::quantized::ggml_file::qtensor_from_ggml;
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

use super::measurements::{Kernel, Machine, MatmulSample, Measurements, ReadSample, SCHEMA};
use crate::alloc::{self, Setting};
use crate::hardware::error::HardwareError;

/// `seconds` is the call time at this quantile (1/10: the 10th percentile). Other processes
/// only ever add time to a call, so a low quantile estimates the uncontended kernel while staying
/// clear of the luckiest outlier.
const LOW_QUANTILE_DIVISOR: usize = 10;

/// Weight bytes cycled through (or read between timed passes) so each call finds its weights in
/// DRAM. The 32 MiB last-level cache that sysfs reports is not the whole story on the VM this was
/// written on: a q8_0 576 x 1536 weight at one row took 15 us per call when 64 MiB of copies were
/// cycled, 29 us at 128 MiB, 33 us at 256 MiB and 37-39 us from 512 MiB on (the DRAM plateau),
/// so anything below half a gigabyte measures a mixture of cache hits and DRAM.
pub const COLD_BYTES: usize = 512 << 20;

/// glibc's mmap threshold while weights are allocated: from this size on a block gets pages of
/// its own (glibc's initial threshold).
const WEIGHT_THRESHOLD_BYTES: i32 = 128 << 10;
/// ... and while kernels run: the most glibc's sliding threshold reaches on 64-bit, so a kernel's
/// temporaries come from the heap as they do in a long-running program.
const CALL_THRESHOLD_BYTES: i32 = 32 << 20;

/// Runs `allocate` with every allocation of 128 KiB or more a page-aligned mapping of its own,
/// then sends larger blocks than before to the heap. Weights prepared inside are page-aligned, as
/// in a runtime that maps a model file. glibc's default threshold slides up each time a large
/// block is freed, after which weights land in the heap at whatever offset it has free: there
/// candle's quantized kernels ran up to 3x slower (q8_0 1536 x 576 at one row: 227 us instead
/// of 73 us), and which weights were hit changed from run to run. Temporaries, though, must not
/// get pages of their own: an f32 192 x 576 matmul at 8 rows took 206 us instead of 56 us when
/// its per-call buffer was mapped and unmapped on every call. Off glibc, just `allocate()`.
pub fn with_page_aligned<T>(allocate: impl FnOnce() -> T) -> T {
    alloc::set(Setting::MmapThreshold, WEIGHT_THRESHOLD_BYTES);
    let result = allocate();
    alloc::set(Setting::MmapThreshold, CALL_THRESHOLD_BYTES);
    result
}

/// Rows of the warm-up call (see [`warm_up`]).
const WARM_UP_ROWS: usize = 2;

/// Copies of one weight at most (a tiny weight would otherwise need hundreds of thousands).
const MAX_COPIES: usize = 1 << 15;

/// What to measure.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureSettings {
    pub seed: u64,
    pub kernels: Vec<Kernel>,
    /// (cols, depth) = (output features, input features) of the weight.
    pub shapes: Vec<(usize, usize)>,
    /// Activation rows (batch x tokens) per call.
    pub rows: Vec<usize>,
    /// Shapes too large to time at every row count (a language model's output head), timed at
    /// `head_rows` only: the decoding batches where they matter.
    pub head_shapes: Vec<(usize, usize)>,
    pub head_rows: Vec<usize>,
    /// Calls per sample: at least this many ...
    pub min_calls: usize,
    /// ... and at least this long in total, seconds (capped at `max_calls`).
    pub min_seconds: f64,
    pub max_calls: usize,
    /// Weight copies are cycled until they total at least this many bytes.
    pub cold_bytes: usize,
    /// Buffer sizes for the read-bandwidth probe.
    pub read_bytes: Vec<usize>,
}

impl MeasureSettings {
    /// The full calibration: the shapes of the reference transformers (hidden 384 and 576,
    /// MLP 1536) plus two square GEMMs, batch x tokens from 1 to 512. About ten minutes on two
    /// cores.
    pub fn standard(seed: u64) -> MeasureSettings {
        MeasureSettings {
            seed,
            kernels: Kernel::ALL.to_vec(),
            shapes: vec![
                (384, 384),
                (1536, 384),
                (384, 1536),
                (192, 576),
                (576, 576),
                (1536, 576),
                (576, 1536),
                (512, 512),
                (2048, 2048),
                // Columns not a multiple of 16: candle's generic paths for the repacked kernels.
                (1000, 512),
            ],
            rows: vec![1, 2, 4, 8, 16, 64, 256, 512],
            // SmolLM2's output head (vocabulary 49152 x hidden 576).
            head_shapes: vec![(49152, 576)],
            head_rows: vec![1, 2, 4, 8, 16],
            min_calls: 10,
            min_seconds: 0.03,
            max_calls: 2000,
            cold_bytes: COLD_BYTES,
            read_bytes: (0..9).map(|i| 16384 << (2 * i)).collect(),
        }
    }

    /// A seconds-long run for tests: two small shapes, three row counts, few calls.
    pub fn quick(seed: u64) -> MeasureSettings {
        MeasureSettings {
            seed,
            kernels: Kernel::ALL.to_vec(),
            shapes: vec![(256, 512), (512, 256)],
            rows: vec![1, 4, 16],
            head_shapes: Vec::new(),
            head_rows: Vec::new(),
            min_calls: 3,
            min_seconds: 0.0,
            max_calls: 3,
            cold_bytes: 1 << 20,
            read_bytes: vec![1 << 16, 1 << 20],
        }
    }

    /// The matmul samples to take, in order, skipping shapes a kernel's blocks do not fit.
    pub fn plan(&self) -> Vec<(Kernel, usize, usize, usize)> {
        let mut plan = Vec::new();
        for (kernel, cols, depth) in self.groups() {
            for &rows in self.rows_for(cols, depth) {
                plan.push((kernel, rows, cols, depth));
            }
        }
        plan
    }

    /// The row counts timed for a shape.
    fn rows_for(&self, cols: usize, depth: usize) -> &[usize] {
        if self.head_shapes.contains(&(cols, depth)) {
            &self.head_rows
        } else {
            &self.rows
        }
    }

    /// (kernel, cols, depth) groups: the weights of a group are prepared once for all row counts.
    fn groups(&self) -> Vec<(Kernel, usize, usize)> {
        let mut groups = Vec::new();
        for &kernel in &self.kernels {
            for &(cols, depth) in self.shapes.iter().chain(&self.head_shapes) {
                if depth % kernel.block().0 == 0 {
                    groups.push((kernel, cols, depth));
                }
            }
        }
        groups
    }
}

/// Measures everything `settings` asks for, skipping samples `previous` already holds (resume).
/// `progress(partial, done, total)` runs after every sample; an error from it stops measuring.
pub fn measure(
    settings: &MeasureSettings,
    previous: Option<Measurements>,
    progress: &mut dyn FnMut(&Measurements, usize, usize) -> Result<(), HardwareError>,
) -> Result<Measurements, HardwareError> {
    let mut measurements = match previous {
        // Partial again until every sample of this plan is in.
        Some(previous) => Measurements {
            complete: false,
            ..check_resumable(previous, settings.seed)?
        },
        None => Measurements {
            schema: SCHEMA.to_string(),
            machine: machine(),
            seed: settings.seed,
            complete: false,
            read: Vec::new(),
            matmul: Vec::new(),
        },
    };
    let plan = settings.plan();
    let total = plan.len() + 1;
    if measurements.read.is_empty() {
        measurements.read = settings
            .read_bytes
            .iter()
            .map(|&bytes| read_bandwidth(bytes, settings))
            .collect();
    }
    let mut done_count = 1;
    progress(&measurements, done_count, total)?;
    for (kernel, cols, depth) in settings.groups() {
        let rows_here = settings.rows_for(cols, depth);
        let todo: Vec<usize> = rows_here
            .iter()
            .copied()
            .filter(|&rows| {
                !measurements.matmul.iter().any(|s| {
                    s.kernel == kernel && s.rows == rows && s.cols == cols && s.depth == depth
                })
            })
            .collect();
        done_count += rows_here.len() - todo.len();
        if todo.is_empty() {
            continue;
        }
        let weights = with_page_aligned(|| {
            let weights = prepare_weights(settings, kernel, cols, depth)?;
            warm_up(settings, kernel, &weights, depth)?;
            Ok(weights)
        })
        .map_err(calibration)?;
        for rows in todo {
            let sample =
                time_matmul(settings, kernel, &weights, rows, cols, depth).map_err(calibration)?;
            measurements.matmul.push(sample);
            done_count += 1;
            progress(&measurements, done_count, total)?;
        }
    }
    measurements.complete = true;
    Ok(measurements)
}

fn calibration(error: candle_core::Error) -> HardwareError {
    HardwareError::Calibration(error.to_string())
}

fn check_resumable(previous: Measurements, seed: u64) -> Result<Measurements, HardwareError> {
    let here = machine();
    if previous.schema != SCHEMA || previous.seed != seed || previous.machine != here {
        return Err(HardwareError::Calibration(format!(
            "cannot resume: the partial measurements are schema {} seed {} on {:?}, this run is {SCHEMA} seed {seed} on {:?}",
            previous.schema, previous.seed, previous.machine, here
        )));
    }
    Ok(previous)
}

/// The CPU model (from /proc/cpuinfo where there is one) and the logical CPU count.
pub fn machine() -> Machine {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|name| name.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let logical_cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    Machine {
        cpu,
        logical_cpus,
        threads: candle_core::utils::get_num_threads(),
        last_level_cache_bytes: last_level_cache(),
        candle_version: "0.11".to_string(),
    }
}

/// The size of the highest-level cache of CPU 0 from Linux's sysfs (`32768K` -> 33554432).
fn last_level_cache() -> Option<u64> {
    let base = std::path::Path::new("/sys/devices/system/cpu/cpu0/cache");
    let mut best: Option<(u32, u64)> = None;
    for index in 0..16 {
        let dir = base.join(format!("index{index}"));
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .ok()
                .map(|s| s.trim().to_string())
        };
        let (Some(level), Some(size)) = (read("level"), read("size")) else {
            continue;
        };
        let level: u32 = level.parse().ok()?;
        let bytes = match size.strip_suffix('K') {
            Some(kib) => kib.parse::<u64>().ok()? * 1024,
            None => match size.strip_suffix('M') {
                Some(mib) => mib.parse::<u64>().ok()? << 20,
                None => size.parse().ok()?,
            },
        };
        if best.is_none_or(|(l, _)| level > l) {
            best = Some((level, bytes));
        }
    }
    best.map(|(_, bytes)| bytes)
}

/// A seeded generator per sample, so each sample's data does not depend on the ones before it.
pub(crate) fn rng_for(seed: u64, salt: &[usize]) -> StdRng {
    let mixed = salt.iter().fold(seed, |acc, &x| {
        acc.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(x as u64)
    });
    StdRng::seed_from_u64(mixed)
}

pub(crate) fn random_tensor(
    rng: &mut StdRng,
    rows: usize,
    cols: usize,
) -> candle_core::Result<Tensor> {
    let data: Vec<f32> = (0..rows * cols)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    Tensor::from_vec(data, (rows, cols), &Device::Cpu)
}

/// A weight prepared for one kernel.
pub(crate) enum Weight {
    Float(Tensor),
    Quantized(QMatMul),
}

fn ggml_type(kernel: Kernel) -> Option<GgmlDType> {
    match kernel {
        Kernel::F32 | Kernel::F16 | Kernel::Bf16 => None,
        Kernel::Q8_0 => Some(GgmlDType::Q8_0),
        Kernel::Q6K => Some(GgmlDType::Q6K),
        Kernel::Q5K => Some(GgmlDType::Q5K),
        Kernel::Q4K => Some(GgmlDType::Q4K),
        Kernel::Q3K => Some(GgmlDType::Q3K),
        Kernel::Q2K => Some(GgmlDType::Q2K),
        Kernel::Q4_0 => Some(GgmlDType::Q4_0),
    }
}

pub(crate) fn float_dtype(kernel: Kernel) -> DType {
    match kernel {
        Kernel::F16 => DType::F16,
        Kernel::Bf16 => DType::BF16,
        _ => DType::F32,
    }
}

/// Copies of one prepared weight at distinct addresses (caches key on addresses, so identical
/// contents do not share lines): quantized once, then rebuilt from the raw GGML bytes.
pub(crate) fn prepare_copies(
    kernel: Kernel,
    weight: &Tensor,
    copies: usize,
) -> candle_core::Result<Vec<Weight>> {
    let Some(dtype) = ggml_type(kernel) else {
        let converted = weight.to_dtype(float_dtype(kernel))?;
        return (0..copies)
            .map(|_| Ok(Weight::Float(converted.copy()?)))
            .collect();
    };
    let quantized = QTensor::quantize(weight, dtype)?;
    let bytes = quantized.data()?.into_owned();
    let dims = weight.dims().to_vec();
    (0..copies)
        .map(|_| {
            let copy = qtensor_from_ggml(dtype, &bytes, dims.clone(), &Device::Cpu)?;
            Ok(Weight::Quantized(QMatMul::from_qtensor(copy)?))
        })
        .collect()
}

/// One call: what a linear layer does with these weights.
pub(crate) fn call(input: &Tensor, weight: &Weight) -> candle_core::Result<Tensor> {
    match weight {
        Weight::Float(w) => input.matmul(&w.t()?),
        Weight::Quantized(q) => q.forward(input),
    }
}

/// Copies of one random (seeded) weight, enough of them to exceed `cold_bytes`, each prepared
/// for `kernel` (quantized, or converted to the kernel's float type).
fn prepare_weights(
    settings: &MeasureSettings,
    kernel: Kernel,
    cols: usize,
    depth: usize,
) -> candle_core::Result<Vec<Weight>> {
    let mut rng = rng_for(settings.seed, &[kernel as usize, cols, depth]);
    let weight_bytes = (cols * depth / kernel.block().0 * kernel.block().1).max(1);
    let copies = settings
        .cold_bytes
        .div_ceil(weight_bytes)
        .clamp(1, MAX_COPIES);
    let master = random_tensor(&mut rng, cols, depth)?;
    prepare_copies(kernel, &master, copies)
}

/// One two-row call per copy, before any is timed: candle builds a weight's repacked layout on
/// its first call that takes the repacked path (q6_k takes it from two rows on; a timed call
/// that builds it took 10x longer). Once per weight, not per row count: a pass over half a
/// gigabyte of copies at 256 rows takes tens of seconds.
fn warm_up(
    settings: &MeasureSettings,
    kernel: Kernel,
    weights: &[Weight],
    depth: usize,
) -> candle_core::Result<()> {
    let mut rng = rng_for(settings.seed, &[kernel as usize, depth]);
    let input = random_tensor(&mut rng, WARM_UP_ROWS, depth)?.to_dtype(float_dtype(kernel))?;
    for weight in weights {
        call(&input, weight)?;
    }
    Ok(())
}

fn time_matmul(
    settings: &MeasureSettings,
    kernel: Kernel,
    weights: &[Weight],
    rows: usize,
    cols: usize,
    depth: usize,
) -> candle_core::Result<MatmulSample> {
    let mut rng = rng_for(settings.seed, &[kernel as usize, rows, cols, depth]);
    let input = random_tensor(&mut rng, rows, depth)?.to_dtype(float_dtype(kernel))?;
    let mut times = Vec::new();
    let mut total = 0.0;
    while times.len() < settings.min_calls
        || (total < settings.min_seconds && times.len() < settings.max_calls)
    {
        let seconds = time_call(&input, &weights[times.len() % weights.len()])?;
        times.push(seconds);
        total += seconds;
    }
    times.sort_by(f64::total_cmp);
    Ok(MatmulSample {
        kernel,
        rows,
        cols,
        depth,
        seconds: times[times.len() / LOW_QUANTILE_DIVISOR],
        median_seconds: times[times.len() / 2],
        min_seconds: times[0],
        repeats: times.len(),
    })
}

/// Seconds one call takes, the output dropped outside the timed span.
pub(crate) fn time_call(input: &Tensor, weight: &Weight) -> candle_core::Result<f64> {
    let start = Instant::now();
    let output = call(input, weight)?;
    let seconds = start.elapsed().as_secs_f64();
    drop(output);
    Ok(seconds)
}

/// The 1, 5 and 15 minute load averages from /proc/loadavg (None where there is none): recorded
/// beside timings, since other processes on a shared machine inflate them.
pub fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().ok());
    Some([fields.next()??, fields.next()??, fields.next()??])
}

/// Read bandwidth over a buffer of `bytes`, summed in parallel on all cores as candle's matmul
/// workers read weights: the median of repeated passes.
fn read_bandwidth(bytes: usize, settings: &MeasureSettings) -> ReadSample {
    let mut rng = rng_for(settings.seed, &[bytes]);
    let buffer: Vec<f32> = (0..bytes / 4)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let chunk = (buffer.len() / rayon::current_num_threads().max(1)).max(1024);
    let mut times = Vec::new();
    let mut total = 0.0;
    let mut sink = 0.0f32;
    while times.len() < settings.min_calls.max(5)
        || (total < settings.min_seconds && times.len() < settings.max_calls)
    {
        let start = Instant::now();
        sink += buffer.par_chunks(chunk).map(sum_lanes).sum::<f32>();
        let seconds = start.elapsed().as_secs_f64();
        times.push(seconds);
        total += seconds;
    }
    std::hint::black_box(sink);
    times.sort_by(f64::total_cmp);
    ReadSample {
        bytes,
        seconds: times[times.len() / 2],
    }
}

/// A buffer of [`COLD_BYTES`] to read between timed passes: reading it evicts whatever the
/// caches held (see [`flush_caches`]).
pub(crate) fn cache_flusher() -> Vec<f32> {
    vec![1.0f32; COLD_BYTES / 4]
}

/// Reads all of `buffer` (from [`cache_flusher`]), so that the next calls find their weights in
/// DRAM, as a model larger than the caches finds them layer after layer.
pub(crate) fn flush_caches(buffer: &[f32]) {
    std::hint::black_box(sum_lanes(std::hint::black_box(buffer)));
}

/// Sum with 16 independent accumulators, so the loop is limited by loads, not add latency.
fn sum_lanes(part: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 16];
    let mut chunks = part.chunks_exact(16);
    for chunk in &mut chunks {
        for (lane, value) in lanes.iter_mut().zip(chunk) {
            *lane += value;
        }
    }
    lanes.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}
