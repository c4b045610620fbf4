//! Models: the layer graph, loaders, built-in families and the executor that runs a model with
//! any per-layer formats.

pub mod bert;
pub mod graph;
pub mod hf_files;
pub mod hook;
pub mod llama;
pub mod ops;
pub mod seq_error;
pub mod seq_graph;
pub mod seq_quant;

pub use graph::{Graph, Layer, OpKind};
pub use hook::{Fp32, LayerHook};
pub use seq_error::SeqModelError;
