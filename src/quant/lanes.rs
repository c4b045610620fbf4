//! Eight-lane SIMD helpers (the `wide` crate: SSE2 or AVX on x86-64, NEON on aarch64, scalar
//! elsewhere) for the kernels' hot loops. LLVM does not vectorize float min/max reductions on its
//! own and lowers `f32::min` to several instructions per lane; these are a few per eight values.
//! Every vector helper has a scalar twin for slice tails, and the tests hold them equal.

use wide::f32x8;

/// Minimum, maximum and finiteness of a slice.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub min: f32,
    pub max: f32,
    /// False if any value is NaN or infinite.
    pub finite: bool,
}

impl Stats {
    /// Statistics of nothing: the identity of [`Stats::merge`].
    pub const EMPTY: Stats = Stats {
        min: f32::INFINITY,
        max: f32::NEG_INFINITY,
        finite: true,
    };

    /// Largest magnitude.
    pub fn amax(&self) -> f32 {
        self.max.max(-self.min).max(0.0)
    }

    /// Statistics of two slices together.
    pub fn merge(self, other: Stats) -> Stats {
        Stats {
            min: self.min.min(other.min),
            max: self.max.max(other.max),
            finite: self.finite && other.finite,
        }
    }
}

/// Eight lanes from a chunk of exactly eight values.
#[inline(always)]
pub fn load(chunk: &[f32]) -> f32x8 {
    let mut lanes = [0.0f32; 8];
    lanes.copy_from_slice(chunk);
    f32x8::new(lanes)
}

/// `out[i] = f(input[i])`: `vector` on each chunk of eight, `scalar` (the same function) on the tail.
#[inline(always)]
pub fn map_lanes(
    input: &[f32],
    out: &mut [f32],
    vector: impl Fn(f32x8) -> f32x8,
    scalar: impl Fn(f32) -> f32,
) {
    let mut inputs = input.chunks_exact(8);
    let mut outputs = out.chunks_exact_mut(8);
    for (x, y) in (&mut inputs).zip(&mut outputs) {
        y.copy_from_slice(&vector(load(x)).to_array());
    }
    for (x, y) in inputs.remainder().iter().zip(outputs.into_remainder()) {
        *y = scalar(*x);
    }
}

/// Statistics of a slice in one pass. `x·0` is 0 for every finite `x` and NaN for NaN or ±inf,
/// so the sum of those products flags any non-finite value without a branch (the lanewise
/// min/max may then be wrong, but a non-finite slice is rejected anyway).
pub fn stats(values: &[f32]) -> Stats {
    let chunks = values.chunks_exact(8);
    let tail = chunks.remainder();
    let (mut low, mut high, mut probe) = (
        f32x8::splat(f32::INFINITY),
        f32x8::splat(f32::NEG_INFINITY),
        f32x8::ZERO,
    );
    for chunk in chunks {
        let x = load(chunk);
        low = low.fast_min(x);
        high = high.fast_max(x);
        probe += x * f32x8::ZERO;
    }
    let lanes = Stats {
        min: low.to_array().into_iter().fold(f32::INFINITY, f32::min),
        max: high
            .to_array()
            .into_iter()
            .fold(f32::NEG_INFINITY, f32::max),
        finite: probe.to_array().iter().all(|&p| p == 0.0),
    };
    tail.iter().fold(lanes, |stats, &x| {
        stats.merge(Stats {
            min: x,
            max: x,
            finite: x.is_finite(),
        })
    })
}

/// Largest magnitude of a slice (0 when empty). Assumes finite values (rows are checked first).
#[inline]
pub fn amax(values: &[f32]) -> f32 {
    let chunks = values.chunks_exact(8);
    let tail = chunks.remainder();
    let lanes = chunks.fold(f32x8::ZERO, |max, chunk| max.fast_max(load(chunk).abs()));
    // A select (one `maxss`) rather than `f32::max` (NaN handling, several instructions): this
    // runs once per 16- or 32-element block.
    let larger = |max: f32, x: &f32| if x.abs() > max { x.abs() } else { max };
    lanes.to_array().iter().chain(tail).fold(0.0f32, larger)
}
