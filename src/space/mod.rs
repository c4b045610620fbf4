//! The search space: what each layer may get. [`Candidate`] (a weight format plus an activation
//! format) and the one table of shorthand names (`w8a8`, `w4a16`, ...); search-space files
//! ([`SearchSpace`]) and their resolution against a model's graph ([`resolve`]).

pub mod candidate;
pub mod file;
pub mod pattern;
pub mod resolve;

pub use candidate::{Candidate, Shorthand, SpaceError};
pub use file::{SearchSpace, SpaceFileError};
pub use resolve::{resolve, Excluded, ResolvedLayer, ResolvedSpace, TieSet};
