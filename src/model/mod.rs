//! Models: the layer graph, loaders, built-in families and the executor that runs a model with
//! any per-layer formats.

pub mod graph;

pub use graph::{Graph, Layer, OpKind};
