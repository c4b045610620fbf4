//! The built-in reference models and their data: `fashion-cnn` (weights and test set embedded in
//! the binary) and `mnist-cnn` (from the fixtures fetched by `scripts/fetch-fixtures`).

use crate::data::{fixture_path, DataError, ImageSet};

const FASHION_TEST_IMAGES: &[u8] =
    include_bytes!("../../assets/fashion-cnn/t10k-images-idx3-ubyte.gz");
const FASHION_TEST_LABELS: &[u8] =
    include_bytes!("../../assets/fashion-cnn/t10k-labels-idx1-ubyte.gz");
/// The first 1000 images of the Fashion-MNIST training set, for activation-range calibration.
const FASHION_CALIB_IMAGES: &[u8] =
    include_bytes!("../../assets/fashion-cnn/calib-images-idx3-ubyte.gz");
const FASHION_CALIB_LABELS: &[u8] =
    include_bytes!("../../assets/fashion-cnn/calib-labels-idx1-ubyte.gz");

/// The 10k Fashion-MNIST test images (embedded).
pub fn fashion_test_set() -> Result<ImageSet, DataError> {
    ImageSet::from_idx_bytes(
        FASHION_TEST_IMAGES,
        FASHION_TEST_LABELS,
        "assets/fashion-cnn/t10k-images-idx3-ubyte.gz",
        "assets/fashion-cnn/t10k-labels-idx1-ubyte.gz",
    )
}

/// The first 1000 Fashion-MNIST training images (embedded), for calibration.
pub fn fashion_calibration_set() -> Result<ImageSet, DataError> {
    ImageSet::from_idx_bytes(
        FASHION_CALIB_IMAGES,
        FASHION_CALIB_LABELS,
        "assets/fashion-cnn/calib-images-idx3-ubyte.gz",
        "assets/fashion-cnn/calib-labels-idx1-ubyte.gz",
    )
}

/// One split (`train`, `valid`, `test`) of MNIST as converted by `scripts/fetch-fixtures`.
pub fn mnist_split(split: &str) -> Result<ImageSet, DataError> {
    let images = fixture_path(&format!("mnist-raw/{split}-images.u8"))?;
    let labels = fixture_path(&format!("mnist-raw/{split}-labels.u8"))?;
    ImageSet::from_raw_files(&images, &labels, 28, 28)
}
