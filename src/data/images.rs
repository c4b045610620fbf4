//! A labelled set of single-channel images stored as bytes (MNIST, Fashion-MNIST).

use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::idx::{parse_idx, read_idx_file, IdxArray};
use super::DataError;

/// `len` images of `rows × cols` bytes (0..=255) with one class label each.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    /// Where the images came from, for messages.
    pub source: String,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
}

impl ImageSet {
    /// Reads an IDX image file `[n, rows, cols]` and an IDX label file `[n]` (plain or gzip).
    pub fn from_idx_files(images: &Path, labels: &Path) -> Result<Self, DataError> {
        let image_array = read_idx_file(images)?;
        let label_array = read_idx_file(labels)?;
        Self::from_idx(image_array, label_array, images, labels)
    }

    /// Same as [`ImageSet::from_idx_files`] for bytes already in memory (embedded data);
    /// the names are used in errors.
    pub fn from_idx_bytes(
        images: &[u8],
        labels: &[u8],
        images_name: &str,
        labels_name: &str,
    ) -> Result<Self, DataError> {
        let (images_path, labels_path) = (PathBuf::from(images_name), PathBuf::from(labels_name));
        let image_array = parse_idx(images, &images_path)?;
        let label_array = parse_idx(labels, &labels_path)?;
        Self::from_idx(image_array, label_array, &images_path, &labels_path)
    }

    fn from_idx(
        images: IdxArray,
        labels: IdxArray,
        images_path: &Path,
        labels_path: &Path,
    ) -> Result<Self, DataError> {
        let &[count, rows, cols] = images.dims.as_slice() else {
            return Err(DataError::BadIdx {
                path: images_path.to_owned(),
                reason: format!("dimensions {:?}, expected [count, rows, cols]", images.dims),
            });
        };
        if labels.dims.len() != 1 {
            return Err(DataError::BadIdx {
                path: labels_path.to_owned(),
                reason: format!("dimensions {:?}, expected [count]", labels.dims),
            });
        }
        let source = images_path.display().to_string();
        Self::new(source, rows, cols, images.data, labels.data).map(|set| {
            debug_assert_eq!(set.len(), count);
            set
        })
    }

    /// Reads headerless u8 files: `images` holds `n · rows · cols` bytes, `labels` holds `n`.
    pub fn from_raw_files(
        images: &Path,
        labels: &Path,
        rows: usize,
        cols: usize,
    ) -> Result<Self, DataError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|cause| DataError::Io {
                path: path.to_owned(),
                cause,
            })
        };
        let (pixels, label_bytes) = (read(images)?, read(labels)?);
        if pixels.len() % (rows * cols) != 0 {
            return Err(DataError::BadData {
                path: images.to_owned(),
                reason: format!(
                    "{} bytes is not a whole number of {rows}x{cols} images",
                    pixels.len()
                ),
            });
        }
        Self::new(
            images.display().to_string(),
            rows,
            cols,
            pixels,
            label_bytes,
        )
    }

    fn new(
        source: String,
        rows: usize,
        cols: usize,
        pixels: Vec<u8>,
        labels: Vec<u8>,
    ) -> Result<Self, DataError> {
        let found = pixels.len() / (rows * cols).max(1);
        if found != labels.len() || rows * cols == 0 {
            return Err(DataError::CountMismatch {
                what: source,
                found,
                labels: labels.len(),
            });
        }
        Ok(Self {
            source,
            rows,
            cols,
            pixels,
            labels,
        })
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Self {
        let size = self.rows * self.cols;
        let mut pixels = Vec::with_capacity(indices.len() * size);
        for &i in indices {
            pixels.extend_from_slice(&self.pixels[i * size..(i + 1) * size]);
        }
        Self {
            source: self.source.clone(),
            rows: self.rows,
            cols: self.cols,
            pixels,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    /// The first `n` images (all of them when `n` is larger).
    pub fn take(&self, n: usize) -> Self {
        let indices: Vec<usize> = (0..n.min(self.len())).collect();
        self.select(&indices)
    }

    /// `n` images drawn without replacement with a seeded shuffle (reproducible).
    pub fn sample(&self, n: usize, seed: u64) -> Self {
        let mut indices: Vec<usize> = (0..self.len()).collect();
        indices.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        indices.truncate(n.min(self.len()));
        self.select(&indices)
    }

    /// The images as IDX arrays (`[n, rows, cols]` and `[n]`), e.g. to write a subset.
    pub fn to_idx(&self) -> (IdxArray, IdxArray) {
        let images = IdxArray {
            dims: vec![self.len(), self.rows, self.cols],
            data: self.pixels.clone(),
        };
        let labels = IdxArray {
            dims: vec![self.len()],
            data: self.labels.clone(),
        };
        (images, labels)
    }
}
