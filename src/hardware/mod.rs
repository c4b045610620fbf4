//! Hardware profiles and the cost model: what one layer in one candidate format costs on one
//! chip (latency, bytes, energy), plus the cost of converting activations between adjacent
//! layers. Plain data (`profile`) and pure functions (`roofline`, `cost`, `transition`); the
//! cost model never runs a model. `calibrate` measures this machine's kernels and fits the
//! `host-cpu` profile from the measurements.

pub mod calibrate;
pub mod cost;
pub mod curve;
pub mod dispatch;
pub mod error;
pub mod formats;
pub mod load;
pub mod precision;
pub mod profile;
pub mod roofline;
pub mod table;
pub mod transition;
pub mod validate;
pub mod workload;

pub use cost::{price, Bound, FormatBits, LayerCost};
pub use dispatch::{dispatch, dispatch_for, Device, Dispatch};
pub use error::{FieldProblem, HardwareError};
pub use load::{load, load_file, parse, shipped_names, LoadedProfile};
pub use precision::Precision;
pub use profile::Profile;
pub use table::{cost_table, cost_table_for_space, CandidateFormats, CostTable, FormatCatalog};
pub use transition::{transition_cost, Side, TransitionCost};
pub use workload::Workload;
