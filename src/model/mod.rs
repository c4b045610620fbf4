//! Models: the layer graph, loaders, built-in families and the executor that runs a model with
//! any per-layer formats.

pub mod any;
pub mod arch;
pub mod assignment;
pub mod bert;
pub mod calibrate;
pub mod cnn;
pub mod error;
pub mod eval;
pub mod executor;
pub mod fashion_cnn;
pub mod graph;
pub mod hf_files;
pub mod llama;
pub mod load;
pub mod mnist_cnn;
pub mod ops;
pub mod params;
pub mod reference;
pub mod seq_error;
pub mod seq_graph;
pub mod sequence;
pub mod spec;
pub mod train;

pub use assignment::{Assignment, AssignmentError, Fallback, LayerFormats};
pub use calibrate::Calibration;
pub use error::ModelError;
pub use executor::{InputLayout, LayerContext, PreparedAssignment, PreparedLayer, RunnableModel};
pub use graph::{Graph, Layer, OpKind};
pub use seq_error::SeqModelError;
