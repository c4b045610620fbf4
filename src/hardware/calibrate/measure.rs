//! Timing candle's CPU kernels on this machine. Measuring only: it returns raw samples, and
//! fitting them into a profile is `fit.rs`'s job.
//!
//! Weights are random (seeded), one per sample, and every pass calls each sample once after the
//! caches are flushed, row count by row count and kernel by kernel in a shuffled order, with the
//! stack at another offset each pass: weights come from DRAM and each call follows other calls,
//! as layers run in a model; activations stay hot. Each sample is the expected fastest of
//! [`FASTEST_OF`] calls (see [`measure`]).

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::time::Instant;

use candle_core::quantized::ggml_file::qtensor_from_ggml;
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

use super::layout::{on_shifted_stack, stack_shift};
use super::measurements::{Kernel, Machine, MatmulSample, Measurements, ReadSample, SCHEMA};
use crate::alloc::{self, Setting};
use crate::hardware::error::HardwareError;

/// `seconds` is the mean, over consecutive runs of this many passes, of each run's fastest call:
/// an estimate of the fastest of this many calls, which is what `bitplan profile validate` takes
/// as a layer's time (its default `--repeats`), so that the profile predicts the statistic it is
/// checked against. Other processes only ever add time to a call, so a fast statistic estimates
/// the uncontended kernel; the mean over runs keeps it clear of the single luckiest call.
pub const FASTEST_OF: usize = 10;

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

/// Rows of the warm-up call (see [`Bench::prepare`]).
const WARM_UP_ROWS: usize = 2;

/// Passes of the read-bandwidth probe at least, and seconds of them at least (capped at
/// [`READ_MAX_PASSES`]).
const READ_MIN_PASSES: usize = 10;
const READ_MIN_SECONDS: f64 = 0.03;
const READ_MAX_PASSES: usize = 2000;

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
    /// Passes over every sample (calls per sample).
    pub passes: usize,
    /// Bytes read before each pass, so that no weight is left in the caches.
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
            passes: 20,
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
            passes: 3,
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

/// Measures everything `settings` asks for, continuing the passes `previous` already made
/// (resume). `progress(partial, done, total)` runs after the read probe and after every pass;
/// an error from it stops measuring.
///
/// Every sample gets a weight of its own, and each pass calls every sample once (in the order of
/// [`pass_order`]) after a read of `cold_bytes` that evicts the caches. So a call follows other
/// calls on other weights, as a layer follows other layers in a model, and finds its weights in
/// DRAM; and a machine that drifts during the run shifts every sample alike. Samples with the
/// same rows, depth and activation type share one input, hot in the caches, as a layer reads
/// what the layer before it wrote. Timing each sample's calls back to back instead (copies of one
/// weight, one input per sample: how this calibrated before) measured small layers 5-20% away
/// from the same layers measured in a model's order by `bitplan profile validate`.
pub fn measure(
    settings: &MeasureSettings,
    previous: Option<Measurements>,
    progress: &mut dyn FnMut(&Measurements, usize, usize) -> Result<(), HardwareError>,
) -> Result<Measurements, HardwareError> {
    let mut measurements = match previous {
        // Partial again until every pass of this plan is in.
        Some(previous) => Measurements {
            complete: false,
            ..check_resumable(previous, settings.seed)?
        },
        None => Measurements {
            schema: SCHEMA.to_string(),
            machine: machine(),
            seed: settings.seed,
            complete: false,
            processes: 1,
            read: Vec::new(),
            matmul: Vec::new(),
        },
    };
    let plan = settings.plan();
    let total = settings.passes + 1;
    if measurements.read.is_empty() {
        measurements.read = settings
            .read_bytes
            .iter()
            .map(|&bytes| read_bandwidth(bytes, settings.seed))
            .collect();
    }
    // The calls earlier runs made, per planned sample; every sample has the same passes.
    let mut calls: Vec<Vec<f64>> = plan
        .iter()
        .map(|&key| {
            let earlier = measurements.matmul.iter().find(|s| s.key() == key);
            earlier.map(|s| s.call_seconds.clone()).unwrap_or_default()
        })
        .collect();
    let done = calls.iter().map(Vec::len).min().unwrap_or(0);
    calls.iter_mut().for_each(|c| c.truncate(done));
    measurements.matmul = summarize(&plan, &calls);
    progress(&measurements, 1 + done, total)?;
    if done < settings.passes {
        let bench = with_page_aligned(|| Bench::prepare(settings, &plan)).map_err(calibration)?;
        let flusher = vec![1.0f32; settings.cold_bytes / 4];
        for pass in done..settings.passes {
            flush_caches(&flusher);
            let order = pass_order(&plan, settings.seed, pass);
            let shift = stack_shift(settings.seed, pass);
            let timed = on_shifted_stack(shift, &mut || {
                order
                    .iter()
                    .map(|&index| time_call(&bench.inputs[index], &bench.weights[index]))
                    .collect::<candle_core::Result<Vec<f64>>>()
            });
            for (&index, seconds) in order.iter().zip(timed.map_err(calibration)?) {
                calls[index].push(seconds);
            }
            measurements.matmul = summarize(&plan, &calls);
            progress(&measurements, 2 + pass, total)?;
        }
    }
    measurements.complete = true;
    Ok(measurements)
}

/// The order of one pass's calls: row count by row count, as a model runs all its layers at one
/// batch; within a row count kernel by kernel, as a plan's layers mostly run the kernel of the
/// layer before; kernels and the samples of each shuffled (seeded per pass). On smollm2 at
/// batch 8, samples shuffled across kernels measured q4_0 5% slower and q8_0 4% faster than
/// `profile validate` measured the same layers in a model's order; in runs of one kernel, every
/// kind of layer came within 1.5%.
fn pass_order(plan: &[(Kernel, usize, usize, usize)], seed: u64, pass: usize) -> Vec<usize> {
    let mut row_counts: Vec<usize> = plan.iter().map(|s| s.1).collect();
    row_counts.sort_unstable();
    row_counts.dedup();
    let mut rng = rng_for(seed, &[usize::MAX, pass]);
    let mut order = Vec::with_capacity(plan.len());
    for rows in row_counts {
        let mut kernels: Vec<Kernel> = Kernel::ALL.to_vec();
        kernels.shuffle(&mut rng);
        for kernel in kernels {
            let start = order.len();
            order.extend((0..plan.len()).filter(|&i| plan[i].1 == rows && plan[i].0 == kernel));
            order[start..].shuffle(&mut rng);
        }
    }
    order
}

/// The mean of the fastest call of each run of [`FASTEST_OF`] consecutive passes (a last,
/// shorter run counts only when there is no full one).
fn expected_fastest(calls: &[f64]) -> f64 {
    let runs: Vec<&[f64]> = match calls.len() / FASTEST_OF {
        0 => vec![calls],
        full => calls.chunks_exact(FASTEST_OF).take(full).collect(),
    };
    let fastest = |run: &&[f64]| run.iter().copied().fold(f64::INFINITY, f64::min);
    runs.iter().map(fastest).sum::<f64>() / runs.len() as f64
}

/// One sample per planned key that has calls: the expected fastest of [`FASTEST_OF`], the
/// median and the fastest.
fn summarize(plan: &[(Kernel, usize, usize, usize)], calls: &[Vec<f64>]) -> Vec<MatmulSample> {
    plan.iter()
        .zip(calls)
        .filter(|(_, calls)| !calls.is_empty())
        .map(|(&(kernel, rows, cols, depth), calls)| {
            let mut sorted = calls.clone();
            sorted.sort_by(f64::total_cmp);
            MatmulSample {
                kernel,
                rows,
                cols,
                depth,
                seconds: expected_fastest(calls),
                median_seconds: sorted[sorted.len() / 2],
                min_seconds: sorted[0],
                repeats: sorted.len(),
                call_seconds: calls.clone(),
            }
        })
        .collect()
}

/// A weight and an input per planned sample.
struct Bench {
    weights: Vec<Weight>,
    inputs: Vec<Tensor>,
}

impl Bench {
    /// Each (kernel, cols, depth) group quantizes one random (seeded) weight and copies it for
    /// each of its row counts, at distinct addresses (caches key on addresses). Then one two-row
    /// call per weight: candle builds a weight's repacked layout on its first call that takes
    /// the repacked path (q6_k takes it from two rows on; a timed call that builds it took 10x
    /// longer).
    fn prepare(
        settings: &MeasureSettings,
        plan: &[(Kernel, usize, usize, usize)],
    ) -> candle_core::Result<Bench> {
        let mut weights: Vec<Option<Weight>> = plan.iter().map(|_| None).collect();
        for (kernel, cols, depth) in settings.groups() {
            let members: Vec<usize> = (0..plan.len())
                .filter(|&i| (plan[i].0, plan[i].2, plan[i].3) == (kernel, cols, depth))
                .collect();
            let mut rng = rng_for(settings.seed, &[kernel as usize, cols, depth]);
            let master = random_tensor(&mut rng, cols, depth)?;
            let copies = prepare_copies(kernel, &master, members.len())?;
            let mut rng = rng_for(settings.seed, &[kernel as usize, depth]);
            let warm_up = random_tensor(&mut rng, WARM_UP_ROWS, depth)?;
            let warm_up = warm_up.to_dtype(float_dtype(kernel))?;
            for (index, copy) in members.into_iter().zip(copies) {
                call(&warm_up, &copy)?;
                weights[index] = Some(copy);
            }
        }
        // One input per (rows, depth, activation type), shared by the samples that take it, as
        // a model's layers read the activations the layer before wrote: hot in the caches.
        let mut shared: BTreeMap<(usize, usize, Kernel), Tensor> = BTreeMap::new();
        let mut inputs = Vec::with_capacity(plan.len());
        for &(kernel, rows, _, depth) in plan {
            let key = (rows, depth, activation_kernel(kernel));
            let input = match shared.entry(key) {
                Entry::Occupied(input) => input.get().clone(),
                Entry::Vacant(slot) => {
                    let mut rng = rng_for(settings.seed, &[rows, depth]);
                    let input = random_tensor(&mut rng, rows, depth)?;
                    slot.insert(input.to_dtype(float_dtype(kernel))?).clone()
                }
            };
            inputs.push(input);
        }
        // Every planned sample belongs to one of the groups the plan was made from.
        let weights = weights.into_iter().collect::<Option<Vec<Weight>>>();
        let weights = weights.ok_or_else(|| {
            candle_core::Error::Msg("a planned sample has no prepared weight".into())
        })?;
        Ok(Bench { weights, inputs })
    }
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

/// The kernel whose activation type `kernel` takes: f32 for every GGML type.
pub(crate) fn activation_kernel(kernel: Kernel) -> Kernel {
    match kernel {
        Kernel::F16 | Kernel::Bf16 => kernel,
        _ => Kernel::F32,
    }
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
fn read_bandwidth(bytes: usize, seed: u64) -> ReadSample {
    let mut rng = rng_for(seed, &[bytes]);
    let buffer: Vec<f32> = (0..bytes / 4)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let chunk = (buffer.len() / rayon::current_num_threads().max(1)).max(1024);
    let mut times = Vec::new();
    let mut total = 0.0;
    let mut sink = 0.0f32;
    while times.len() < READ_MIN_PASSES
        || (total < READ_MIN_SECONDS && times.len() < READ_MAX_PASSES)
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
