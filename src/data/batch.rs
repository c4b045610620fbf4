//! Batches of images as tensors: pixels scaled to 0..1 (`byte / 255`), layout `[n, 1, rows, cols]`.
//! Per-model normalization (mean/std) belongs to the model, not to the data.

use candle_core::{Device, Tensor};

use super::{DataError, ImageSet};

/// One batch: pixels `[n, 1, rows, cols]` f32 in 0..1 and the class labels.
#[derive(Debug, Clone)]
pub struct ImageBatch {
    pub pixels: Tensor,
    pub labels: Vec<u32>,
}

impl ImageSet {
    /// Images `start..end` as one batch.
    pub fn batch(
        &self,
        start: usize,
        end: usize,
        device: &Device,
    ) -> Result<ImageBatch, DataError> {
        if start >= end || end > self.len() {
            return Err(DataError::BatchOutOfRange {
                start,
                end,
                len: self.len(),
            });
        }
        let size = self.rows * self.cols;
        let pixels: Vec<f32> = self.pixels[start * size..end * size]
            .iter()
            .map(|&byte| f32::from(byte) / 255.0)
            .collect();
        let pixels = Tensor::from_vec(pixels, (end - start, 1, self.rows, self.cols), device)?;
        let labels = self.labels[start..end]
            .iter()
            .map(|&l| u32::from(l))
            .collect();
        Ok(ImageBatch { pixels, labels })
    }

    /// The `(start, end)` ranges of consecutive batches of `batch_size` over the first `limit`
    /// images (all when `limit` is `None`); the last batch may be shorter.
    pub fn batch_ranges(&self, batch_size: usize, limit: Option<usize>) -> Vec<(usize, usize)> {
        let len = limit.map_or(self.len(), |limit| limit.min(self.len()));
        let step = batch_size.max(1);
        (0..len)
            .step_by(step)
            .map(|start| (start, (start + step).min(len)))
            .collect()
    }
}
