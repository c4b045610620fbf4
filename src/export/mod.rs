//! Files real runtimes load, from a model and a plan:
//!
//! - [`gguf`]: a GGUF file with per-tensor GGML types (llama.cpp and its front ends);
//! - [`llama_quantize`]: the same plan as `llama-quantize --tensor-type` overrides;
//! - [`safetensors`]: fake-quantized weights under their original names, with `plan.json` and
//!   `quantization.json` beside them (PyTorch users).
//!
//! Outputs are written to a temporary name and renamed ([`output`]), and refuse to overwrite
//! unless forced.

pub mod error;
pub mod gguf;
pub mod llama_quantize;
pub mod output;
pub mod plan;
pub mod safetensors;

pub use error::ExportError;
pub use gguf::{export_gguf, GgufExport, GgufOptions, TensorRecord};
pub use llama_quantize::LlamaQuantizeArgs;
pub use plan::{ggml_dtype, llama_type_name, ExportPlan};
