//! The measurements file written by `bitplan profile calibrate`: raw timings of candle's CPU
//! kernels on this machine. Fitting (`fit.rs`) is a pure function of this file, so a fit can be
//! redone, diffed or moved to another machine without measuring again.

use serde::{Deserialize, Serialize};

/// The `schema` of a measurements file.
pub const SCHEMA: &str = "bitplan.measurements/1";

/// A candle CPU kernel that calibration times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Kernel {
    /// `x.matmul(w.t())` in f32 (candle's gemm).
    #[serde(rename = "f32")]
    F32,
    /// The same in f16 (inputs and weights f16).
    #[serde(rename = "f16")]
    F16,
    /// The same in bf16.
    #[serde(rename = "bf16")]
    Bf16,
    /// `QMatMul::forward` with GGML weights; activations f32, quantized on the fly by candle.
    #[serde(rename = "q8_0")]
    Q8_0,
    #[serde(rename = "q6_k")]
    Q6K,
    #[serde(rename = "q5_k")]
    Q5K,
    #[serde(rename = "q4_k")]
    Q4K,
    #[serde(rename = "q3_k")]
    Q3K,
    #[serde(rename = "q2_k")]
    Q2K,
    #[serde(rename = "q4_0")]
    Q4_0,
}

impl Kernel {
    /// Every kernel, in the order they are measured.
    pub const ALL: [Kernel; 10] = [
        Kernel::F32,
        Kernel::F16,
        Kernel::Bf16,
        Kernel::Q8_0,
        Kernel::Q6K,
        Kernel::Q5K,
        Kernel::Q4K,
        Kernel::Q3K,
        Kernel::Q2K,
        Kernel::Q4_0,
    ];

    /// The kernel that runs weights stored in bitplan format `format` (`q4_k`, `fp16`, ...).
    pub fn for_weight_format(format: &str) -> Option<Kernel> {
        Kernel::ALL
            .into_iter()
            .find(|kernel| kernel.weight_format() == format)
    }

    /// The bitplan format name of the kernel's weights (`fp32`, `q4_k`, ...).
    pub fn weight_format(self) -> &'static str {
        match self {
            Kernel::F32 => "fp32",
            Kernel::F16 => "fp16",
            Kernel::Bf16 => "bf16",
            Kernel::Q8_0 => "q8_0",
            Kernel::Q6K => "q6_k",
            Kernel::Q5K => "q5_k",
            Kernel::Q4K => "q4_k",
            Kernel::Q3K => "q3_k",
            Kernel::Q2K => "q2_k",
            Kernel::Q4_0 => "q4_0",
        }
    }

    /// Weights per GGML block and bytes per block (ggml's type traits); 1 and the element size
    /// for the float kernels.
    pub fn block(self) -> (usize, usize) {
        match self {
            Kernel::F32 => (1, 4),
            Kernel::F16 | Kernel::Bf16 => (1, 2),
            Kernel::Q8_0 => (32, 34),
            Kernel::Q6K => (256, 210),
            Kernel::Q5K => (256, 176),
            Kernel::Q4K => (256, 144),
            Kernel::Q3K => (256, 110),
            Kernel::Q2K => (256, 84),
            Kernel::Q4_0 => (32, 18),
        }
    }

    /// Stored bits per weight, block scales included.
    pub fn bits_per_weight(self) -> f64 {
        let (weights, bytes) = self.block();
        bytes as f64 * 8.0 / weights as f64
    }
}

/// One timed matmul: `rows` x `depth` activations times a `cols` x `depth` weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatmulSample {
    pub kernel: Kernel,
    pub rows: usize,
    pub cols: usize,
    pub depth: usize,
    /// Seconds per call: the expected fastest of ten calls (what the fit uses; see `measure.rs`).
    pub seconds: f64,
    /// Median seconds per call.
    pub median_seconds: f64,
    /// Fastest call, seconds.
    pub min_seconds: f64,
    pub repeats: usize,
    /// Every call's seconds, one per pass in pass order (a partial file resumes from them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub call_seconds: Vec<f64>,
}

impl MatmulSample {
    /// (kernel, rows, cols, depth), as a calibration plan lists samples.
    pub fn key(&self) -> (Kernel, usize, usize, usize) {
        (self.kernel, self.rows, self.cols, self.depth)
    }
}

/// One timed parallel read of a buffer of `bytes` (median seconds per pass).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadSample {
    pub bytes: usize,
    pub seconds: f64,
}

/// What the measurements were taken on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cpu: String,
    pub logical_cpus: usize,
    /// Threads candle's kernels ran on (CANDLE_NUM_THREADS / RAYON_NUM_THREADS, else all CPUs).
    pub threads: usize,
    /// Size of the highest cache level (from /sys on Linux), bytes.
    pub last_level_cache_bytes: Option<u64>,
    pub candle_version: String,
}

/// A measurements file. `complete` is false while measuring; a partial file resumes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurements {
    pub schema: String,
    pub machine: Machine,
    pub seed: u64,
    pub complete: bool,
    /// Processes whose measurements this file is the median of (1: measured in one).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub processes: usize,
    pub read: Vec<ReadSample>,
    pub matmul: Vec<MatmulSample>,
}

fn one() -> usize {
    1
}

fn is_one(value: &usize) -> bool {
    *value == 1
}

impl Measurements {
    /// The per-sample median of complete measurements taken in separate processes with the same
    /// plan (same seed and settings). Kernel speed on a machine depends on the process's memory
    /// layout, which one process draws once; the median over processes does not carry one draw.
    /// Per sample: `seconds` and `median_seconds` are medians over the processes, `min_seconds`
    /// the fastest call of any, `repeats` the calls of all; the calls themselves stay in the
    /// processes' files.
    pub fn median_of(parts: &[Measurements]) -> Result<Measurements, String> {
        let first = parts
            .first()
            .ok_or("no measurements to take the median of")?;
        for (index, part) in parts.iter().enumerate() {
            let which = format!("process {}", index + 1);
            if !part.complete {
                return Err(format!("{which}: measurements are not complete"));
            }
            if part.seed != first.seed || part.machine != first.machine {
                return Err(format!(
                    "{which}: taken with seed {} on {:?}, where process 1 was seed {} on {:?}",
                    part.seed, part.machine, first.seed, first.machine
                ));
            }
            let keys =
                |m: &Measurements| m.matmul.iter().map(MatmulSample::key).collect::<Vec<_>>();
            let reads = |m: &Measurements| m.read.iter().map(|r| r.bytes).collect::<Vec<_>>();
            if keys(part) != keys(first) || reads(part) != reads(first) {
                return Err(format!(
                    "{which}: measured other samples than process 1 (another plan)"
                ));
            }
        }
        let matmul = (0..first.matmul.len())
            .map(|i| {
                let samples: Vec<&MatmulSample> = parts.iter().map(|p| &p.matmul[i]).collect();
                MatmulSample {
                    seconds: median(&mut samples.iter().map(|s| s.seconds).collect::<Vec<_>>()),
                    median_seconds: median(
                        &mut samples.iter().map(|s| s.median_seconds).collect::<Vec<_>>(),
                    ),
                    min_seconds: samples
                        .iter()
                        .map(|s| s.min_seconds)
                        .fold(f64::INFINITY, f64::min),
                    repeats: samples.iter().map(|s| s.repeats).sum(),
                    call_seconds: Vec::new(),
                    ..first.matmul[i].clone()
                }
            })
            .collect();
        let read = (0..first.read.len())
            .map(|i| ReadSample {
                bytes: first.read[i].bytes,
                seconds: median(&mut parts.iter().map(|p| p.read[i].seconds).collect::<Vec<_>>()),
            })
            .collect();
        Ok(Measurements {
            processes: parts.iter().map(|p| p.processes).sum(),
            read,
            matmul,
            ..first.clone()
        })
    }
}

/// The median of `values` (the mean of the middle two for an even count; NaN for none).
pub(crate) fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}
