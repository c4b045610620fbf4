//! Calibration and evaluation data: where the fetched fixtures live, IDX files (plain or gzip),
//! the raw MNIST files made by `scripts/fetch-fixtures`, and batching into tensors.

pub mod batch;
pub mod error;
pub mod fixtures;
pub mod idx;
pub mod images;

pub use batch::ImageBatch;
pub use error::DataError;
pub use fixtures::{fixture_path, fixtures_dir, FIXTURES_ENV};
pub use images::ImageSet;
