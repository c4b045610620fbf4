//! Calibration and evaluation data: where the fetched fixtures live and the text corpora of the
//! sequence models.

pub mod error;
pub mod fixtures;
pub mod moby_dick;
pub mod spam_assassin;

pub use error::DataError;
pub use fixtures::{fixture_path, fixtures_dir, FIXTURES_ENV};
