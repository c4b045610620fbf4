//! Plumbing shared by the kernels: borrowing a tensor's f32 data, slice statistics with a
//! finiteness check, and running a row kernel over every row with rayon.

use candle_core::{DType, Device, Storage, Tensor};
use rayon::prelude::*;

use super::error::QuantError;
pub use super::lanes::{stats, Stats};

/// Elements per work item when a pass over the whole tensor is split across threads.
const CHUNK: usize = 1 << 16;

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
/// parallel, writing the matching rows of `out` (as long as `data`). Fails on the first
/// non-finite value (by flat index); `out` is then partly written.
pub fn map_rows<K>(
    data: &[f32],
    shape: &[usize],
    row_len: usize,
    out: &mut [f32],
    kernel: K,
) -> Result<(), QuantError>
where
    K: Fn(&[f32], Stats, &mut [f32]) + Sync,
{
    if data.is_empty() {
        return Ok(());
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
        Ok(())
    } else {
        Err(non_finite_error(data, shape))
    }
}

/// Run `kernel(row, out_row)` over every row of `data`, in parallel, for data already known to
/// be finite (a per-tensor format checked it while finding its scale): no per-row pass.
pub fn map_finite_rows<K>(data: &[f32], row_len: usize, out: &mut [f32], kernel: K)
where
    K: Fn(&[f32], &mut [f32]) + Sync,
{
    let row_len = row_len.max(1);
    let min_rows = (CHUNK / 8 / row_len).max(1);
    data.par_chunks(row_len)
        .zip(out.par_chunks_mut(row_len))
        .with_min_len(min_rows)
        .for_each(|(row, out_row)| kernel(row, out_row));
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
