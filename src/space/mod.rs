//! The search space: what each layer may get. [`Candidate`] (a weight format plus an activation
//! format) and the one table of shorthand names (`w8a8`, `w4a16`, ...).

pub mod candidate;

pub use candidate::{Candidate, Shorthand, SpaceError};
