//! Plumbing shared by the kernels: borrowing a tensor's f32 data, slice statistics with a
//! finiteness check, and running a row kernel over every row with rayon.

use candle_core::{DType, Device, Storage, Tensor};
use rayon::prelude::*;

use super::error::QuantError;

/// Elements per work item when a pass over the whole tensor is split across threads.
const CHUNK: usize = 1 << 16;

/// Minimum, maximum and finiteness of a slice.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub min: f32,
    pub max: f32,
    /// False if any value is NaN or infinite.
    pub finite: bool,
}

impl Stats {
    /// Largest magnitude.
    pub fn amax(&self) -> f32 {
        self.max.max(-self.min).max(0.0)
    }

    fn merge(self, other: Stats) -> Stats {
        Stats {
            min: self.min.min(other.min),
            max: self.max.max(other.max),
            finite: self.finite && other.finite,
        }
    }

    const EMPTY: Stats = Stats {
        min: f32::INFINITY,
        max: f32::NEG_INFINITY,
        finite: true,
    };
}

/// Statistics of a slice in one vectorized pass. `x·0` is 0 for every finite `x` and NaN for
/// NaN or ±inf, so the sum of those products flags any non-finite value without a branch.
pub fn stats(values: &[f32]) -> Stats {
    let mut low = [f32::INFINITY; 8];
    let mut high = [f32::NEG_INFINITY; 8];
    let mut probe = [0.0f32; 8];
    let chunks = values.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        for lane in 0..8 {
            let x = chunk[lane];
            low[lane] = if x < low[lane] { x } else { low[lane] };
            high[lane] = if x > high[lane] { x } else { high[lane] };
            probe[lane] += x * 0.0;
        }
    }
    let mut result = Stats::EMPTY;
    for lane in 0..8 {
        result = result.merge(Stats {
            min: low[lane],
            max: high[lane],
            finite: probe[lane] == 0.0,
        });
    }
    for &x in tail {
        result = result.merge(Stats {
            min: x,
            max: x,
            finite: x.is_finite(),
        });
    }
    result
}

/// Statistics of a whole tensor's data, in parallel.
pub fn tensor_stats(data: &[f32]) -> Stats {
    data.par_chunks(CHUNK)
        .map(stats)
        .reduce(|| Stats::EMPTY, Stats::merge)
}

/// The error for the first non-finite value of `data` (call once a pass found one).
pub fn non_finite_error(data: &[f32], shape: &[usize]) -> QuantError {
    let (index, value) = data
        .iter()
        .enumerate()
        .find(|(_, value)| !value.is_finite())
        .map_or((0, f32::NAN), |(i, v)| (i, *v));
    QuantError::NonFinite {
        value,
        index,
        shape: shape.to_vec(),
    }
}

/// Fails with [`QuantError::NonFinite`] if `data` holds NaN or an infinity.
pub fn check_finite(data: &[f32], shape: &[usize]) -> Result<Stats, QuantError> {
    let stats = tensor_stats(data);
    if stats.finite {
        Ok(stats)
    } else {
        Err(non_finite_error(data, shape))
    }
}

/// Run `kernel(row, row_stats, out_row)` over every row of `data` (rows of `row_len`), in
/// parallel, into a new buffer. Fails on the first non-finite value (by flat index).
pub fn map_rows<K>(
    data: &[f32],
    shape: &[usize],
    row_len: usize,
    kernel: K,
) -> Result<Vec<f32>, QuantError>
where
    K: Fn(&[f32], Stats, &mut [f32]) + Sync,
{
    let mut out = vec![0.0f32; data.len()];
    if data.is_empty() {
        return Ok(out);
    }
    let row_len = row_len.max(1);
    // Batch short rows so each task has enough work to pay for its scheduling.
    let min_rows = (CHUNK / 8 / row_len).max(1);
    let all_finite = data
        .par_chunks(row_len)
        .zip(out.par_chunks_mut(row_len))
        .with_min_len(min_rows)
        .map(|(row, out_row)| {
            let row_stats = stats(row);
            if row_stats.finite {
                kernel(row, row_stats, out_row);
            }
            row_stats.finite
        })
        .reduce(|| true, |a, b| a && b);
    if all_finite {
        Ok(out)
    } else {
        Err(non_finite_error(data, shape))
    }
}

/// Call `work` with the tensor's values as a contiguous f32 slice: borrowed without a copy when
/// the tensor is a contiguous f32 CPU tensor, else converted once.
pub fn with_f32<R>(
    tensor: &Tensor,
    work: impl FnOnce(&[f32]) -> Result<R, QuantError>,
) -> Result<R, QuantError> {
    if !tensor.dtype().is_float() {
        return Err(QuantError::NotFloat {
            dtype: tensor.dtype(),
        });
    }
    if tensor.dtype() == DType::F32 {
        let (storage, layout) = tensor.storage_and_layout();
        if let (Storage::Cpu(cpu), Some((start, end))) = (&*storage, layout.contiguous_offsets()) {
            return work(&cpu.as_slice::<f32>()?[start..end]);
        }
    }
    let values = tensor
        .to_dtype(DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    work(&values)
}

/// A tensor of `like`'s shape and device holding `values`.
pub fn tensor_like(values: Vec<f32>, like: &Tensor) -> Result<Tensor, QuantError> {
    let tensor = Tensor::from_vec(values, like.shape(), &Device::Cpu)?;
    Ok(tensor.to_device(like.device())?)
}
