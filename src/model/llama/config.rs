//! The hyper-parameters of a Llama-family decoder, from GGUF metadata or a Hugging Face
//! `config.json`, validated once.

use std::path::PathBuf;

use crate::model::SeqModelError;

#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    pub rms_norm_eps: f64,
    /// Base θ of the rotary embedding frequencies `θ^(-2i/head_dim)`.
    pub rope_base: f32,
    /// Longest sequence the model was trained for.
    pub context_length: usize,
    /// The output head shares the token embedding matrix (no separate `output.weight`).
    pub tied_output: bool,
}

impl LlamaConfig {
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_heads
    }

    pub fn kv_width(&self) -> usize {
        self.num_kv_heads * self.head_dim()
    }

    /// Checks the relations between fields; `file` and `fields` name where they came from.
    pub fn validate(&self, file: &PathBuf, fields: &ConfigFields) -> Result<(), SeqModelError> {
        let bad = |field: &str, value: usize, expected: String| SeqModelError::BadField {
            path: file.clone(),
            field: field.into(),
            value: value.to_string(),
            expected,
        };
        if self.hidden_size % self.num_heads != 0 || self.head_dim() % 2 != 0 {
            return Err(bad(
                fields.num_heads,
                self.num_heads,
                format!(
                    "must divide {} = {} into an even head size",
                    fields.hidden_size, self.hidden_size
                ),
            ));
        }
        if self.num_heads % self.num_kv_heads != 0 {
            return Err(bad(
                fields.num_kv_heads,
                self.num_kv_heads,
                format!("must divide {} = {}", fields.num_heads, self.num_heads),
            ));
        }
        Ok(())
    }
}

/// Field names of one source format, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct ConfigFields {
    pub hidden_size: &'static str,
    pub num_heads: &'static str,
    pub num_kv_heads: &'static str,
}
