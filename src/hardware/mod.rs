//! Hardware profiles and the cost model: what one layer in one candidate format costs on one
//! chip (latency, bytes, energy), plus the cost of converting activations between adjacent
//! layers. Plain data (`profile`) and pure functions (`roofline`, `cost`, `transition`); the
//! cost model never runs a model. `calibrate` measures this machine's kernels and fits the
//! `host-cpu` profile from the measurements.

pub mod curve;
pub mod error;
pub mod load;
pub mod precision;
pub mod profile;
pub mod validate;

pub use error::{FieldProblem, HardwareError};
pub use load::{load, load_file, parse, shipped_names, LoadedProfile};
pub use precision::Precision;
pub use profile::Profile;
