//! Sensitivity: for every quantizable layer and every candidate of a search space, how much the
//! model's output degrades when that layer alone takes that candidate (mean, standard error, 95%
//! interval over calibration batches), with cheaper proxies beside it; and how well sums of those
//! numbers predict the error of whole mixed plans ([`validate`]).

pub mod analyze;
pub mod error;
pub mod grad;
mod groups;
pub mod journal;
pub mod measure;
pub mod merge;
pub mod provenance;
pub mod stats;
pub mod table;
pub mod threads;
pub mod validate;

pub use analyze::{analyze, Proxy, Settings, CALIB_BATCH, DEFAULT_CALIB_IMAGES, DEFAULT_PROBES};
pub use error::SensitivityError;
pub use measure::Metric;
pub use table::{Cell, Provenance, SensitivityTable, Shard};
