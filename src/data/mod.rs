//! Calibration and evaluation data: where the fetched fixtures live, IDX files (plain or gzip),
//! the raw MNIST files made by `scripts/fetch-fixtures`, batching into tensors, and the text
//! corpora of the sequence models (SpamAssassin, Moby-Dick).

pub mod batch;
pub mod error;
pub mod fixtures;
pub mod idx;
pub mod images;
pub mod moby_dick;
pub mod spam_assassin;

pub use batch::ImageBatch;
pub use error::DataError;
pub use fixtures::{fixture_path, fixtures_dir, FIXTURES_ENV};
pub use images::ImageSet;
