//! Task metric of the image classifiers: top-1 accuracy over an evaluation set.

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::ModelError;
use crate::data::ImageSet;

/// Images evaluated per forward pass (fixed so results never depend on the machine).
pub const EVAL_BATCH: usize = 250;

/// Correct top-1 predictions out of `total` images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accuracy {
    pub correct: usize,
    pub total: usize,
}

impl Accuracy {
    /// Accuracy in percent (0 for an empty set).
    pub fn percent(&self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        100.0 * self.correct as f64 / self.total as f64
    }
}

/// Top-1 accuracy of `forward` (pixels in 0..1 `[n,1,H,W]` → logits `[n, classes]`) on the first
/// `limit` images of `data`; `on_batch(done, total)` after each batch.
pub fn top1_accuracy(
    forward: &mut dyn FnMut(&Tensor) -> Result<Tensor, ModelError>,
    data: &ImageSet,
    limit: Option<usize>,
    on_batch: &mut dyn FnMut(usize, usize),
) -> Result<Accuracy, ModelError> {
    let ranges = data.batch_ranges(EVAL_BATCH, limit);
    let total = ranges.last().map_or(0, |&(_, end)| end);
    let mut correct = 0;
    for (start, end) in ranges {
        let batch = data.batch(start, end, &Device::Cpu)?;
        let predictions = forward(&batch.pixels)?.argmax(1)?.to_vec1::<u32>()?;
        correct += predictions
            .iter()
            .zip(&batch.labels)
            .filter(|(predicted, label)| predicted == label)
            .count();
        on_batch(end, total);
    }
    Ok(Accuracy { correct, total })
}
