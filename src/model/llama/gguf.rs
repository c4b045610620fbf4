//! Loading a Llama-family GGUF file: metadata → [`LlamaConfig`], tensors dequantized to f32
//! (the reference for a checkpoint published only in a quantized type is its dequantized weights).

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::{Device, Tensor};

use super::config::{ConfigFields, LlamaConfig};
use super::weights::{self, LlamaWeights};
use crate::model::SeqModelError;

/// `general.architecture` values this loader runs (they share Llama's tensor layout).
pub const SUPPORTED_GGUF_ARCHITECTURES: &[&str] = &["llama"];

/// An open GGUF file: its metadata with typed, error-naming accessors.
pub struct GgufFile {
    pub path: PathBuf,
    pub content: Content,
    reader: BufReader<File>,
}

impl GgufFile {
    pub fn open(path: &Path) -> Result<Self, SeqModelError> {
        let file = File::open(path).map_err(|error| SeqModelError::io(path, error))?;
        let mut reader = BufReader::new(file);
        let content = Content::read(&mut reader).map_err(|error| SeqModelError::Parse {
            path: path.into(),
            reason: format!("not a readable GGUF file: {error}"),
        })?;
        Ok(Self {
            path: path.into(),
            content,
            reader,
        })
    }

    pub fn value(&self, key: &str) -> Option<&Value> {
        self.content.metadata.get(key)
    }

    fn missing(&self, key: &str, expected: &str) -> SeqModelError {
        SeqModelError::MissingField {
            path: self.path.clone(),
            field: key.into(),
            expected: expected.into(),
        }
    }

    pub fn bad(&self, key: &str, value: &Value, expected: &str) -> SeqModelError {
        SeqModelError::BadField {
            path: self.path.clone(),
            field: key.into(),
            value: format!("{value:?}"),
            expected: expected.into(),
        }
    }

    pub fn string(&self, key: &str) -> Result<&str, SeqModelError> {
        let value = self
            .value(key)
            .ok_or_else(|| self.missing(key, "a string"))?;
        value
            .to_string()
            .map(String::as_str)
            .map_err(|_| self.bad(key, value, "expected a string"))
    }

    /// A non-negative integer stored in any GGUF integer type.
    pub fn integer(&self, key: &str) -> Result<usize, SeqModelError> {
        let value = self
            .value(key)
            .ok_or_else(|| self.missing(key, "an integer"))?;
        integer_of(value).ok_or_else(|| self.bad(key, value, "expected a non-negative integer"))
    }

    pub fn integer_or(&self, key: &str, default: usize) -> Result<usize, SeqModelError> {
        match self.value(key) {
            None => Ok(default),
            Some(_) => self.integer(key),
        }
    }

    pub fn float_or(&self, key: &str, default: f64) -> Result<f64, SeqModelError> {
        let Some(value) = self.value(key) else {
            return Ok(default);
        };
        let number = match value {
            Value::F32(v) => f64::from(*v),
            Value::F64(v) => *v,
            other => integer_of(other).map(|v| v as f64).unwrap_or(f64::NAN),
        };
        if number.is_finite() && number > 0.0 {
            Ok(number)
        } else {
            Err(self.bad(key, value, "expected a positive number"))
        }
    }

    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, SeqModelError> {
        match self.value(key) {
            None => Ok(default),
            Some(value) => value
                .to_bool()
                .map_err(|_| self.bad(key, value, "expected a bool")),
        }
    }

    /// An array of strings (tokens, merges).
    pub fn strings(&self, key: &str) -> Result<Vec<String>, SeqModelError> {
        let value = self
            .value(key)
            .ok_or_else(|| self.missing(key, "an array of strings"))?;
        let items = value
            .to_vec()
            .map_err(|_| self.bad(key, value, "expected an array of strings"))?;
        items
            .iter()
            .map(|item| item.to_string().cloned())
            .collect::<Result<_, _>>()
            .map_err(|_| self.bad(key, value, "expected an array of strings"))
    }

    /// An array of integers (token types).
    pub fn integers(&self, key: &str) -> Result<Option<Vec<i64>>, SeqModelError> {
        let Some(value) = self.value(key) else {
            return Ok(None);
        };
        let items = value
            .to_vec()
            .map_err(|_| self.bad(key, value, "expected an array of integers"))?;
        let numbers: Option<Vec<i64>> = items.iter().map(signed_of).collect();
        numbers
            .map(Some)
            .ok_or_else(|| self.bad(key, value, "expected an array of integers"))
    }

    /// The architecture, checked against [`SUPPORTED_GGUF_ARCHITECTURES`].
    pub fn architecture(&self) -> Result<String, SeqModelError> {
        let key = "general.architecture";
        let architecture = self.string(key)?;
        if !SUPPORTED_GGUF_ARCHITECTURES.contains(&architecture) {
            return Err(SeqModelError::BadField {
                path: self.path.clone(),
                field: key.into(),
                value: format!("\"{architecture}\""),
                expected: format!(
                    "not a Llama-family model; supported architectures: {}",
                    SUPPORTED_GGUF_ARCHITECTURES.join(", ")
                ),
            });
        }
        Ok(architecture.into())
    }

    /// Reads the model hyper-parameters from `{arch}.*` metadata.
    pub fn config(&self) -> Result<LlamaConfig, SeqModelError> {
        let arch = self.architecture()?;
        let key = |name: &str| format!("{arch}.{name}");
        let num_heads = self.integer(&key("attention.head_count"))?;
        if let Some(value) = self.value(&key("rope.scaling.type")) {
            if !matches!(value.to_string().map(String::as_str), Ok("none")) {
                return Err(self.bad(
                    &key("rope.scaling.type"),
                    value,
                    "rope scaling is not supported",
                ));
            }
        }
        let tokens = self
            .value("tokenizer.ggml.tokens")
            .and_then(|v| v.to_vec().ok())
            .map_or(0, Vec::len);
        let config = LlamaConfig {
            vocab_size: self.integer_or(&key("vocab_size"), tokens)?,
            hidden_size: self.integer(&key("embedding_length"))?,
            intermediate_size: self.integer(&key("feed_forward_length"))?,
            num_layers: self.integer(&key("block_count"))?,
            num_heads,
            num_kv_heads: self.integer_or(&key("attention.head_count_kv"), num_heads)?,
            rms_norm_eps: self.float_or(&key("attention.layer_norm_rms_epsilon"), 1e-5)?,
            rope_base: self.float_or(&key("rope.freq_base"), 10_000.0)? as f32,
            context_length: self.integer_or(&key("context_length"), 2048)?,
            tied_output: !self.content.tensor_infos.contains_key("output.weight"),
        };
        let fields = ConfigFields {
            hidden_size: "llama.embedding_length",
            num_heads: "llama.attention.head_count",
            num_kv_heads: "llama.attention.head_count_kv",
        };
        config.validate(&self.path, &fields)?;
        let rope_dims = self.integer_or(&key("rope.dimension_count"), config.head_dim())?;
        if rope_dims != config.head_dim() {
            return Err(SeqModelError::BadField {
                path: self.path.clone(),
                field: key("rope.dimension_count"),
                value: rope_dims.to_string(),
                expected: format!(
                    "partial rotary embeddings are not supported; expected the head size {}",
                    config.head_dim()
                ),
            });
        }
        Ok(config)
    }

    /// Checks every tensor's presence and shape, then dequantizes them to f32.
    pub fn weights(&mut self, config: &LlamaConfig) -> Result<LlamaWeights, SeqModelError> {
        let expected = weights::expected_tensors(config);
        for (name, shape) in &expected {
            let info = self.content.tensor_infos.get(name).ok_or_else(|| {
                SeqModelError::MissingTensor {
                    path: self.path.clone(),
                    tensor: name.clone(),
                    expected: format!("shape {shape:?}"),
                }
            })?;
            if info.shape.dims() != shape.as_slice() {
                return Err(SeqModelError::WrongShape {
                    path: self.path.clone(),
                    tensor: name.clone(),
                    found: info.shape.dims().to_vec(),
                    expected: shape.clone(),
                });
            }
        }
        let mut tensors = HashMap::new();
        for (name, _) in &expected {
            let tensor = self
                .content
                .tensor(&mut self.reader, name, &Device::Cpu)
                .and_then(|q| q.dequantize(&Device::Cpu))
                .map_err(|error| SeqModelError::Parse {
                    path: self.path.clone(),
                    reason: format!("tensor `{name}`: {error}"),
                })?;
            tensors.insert(name.clone(), tensor);
        }
        let take = |name: &str| -> candle_core::Result<Tensor> {
            tensors
                .remove(name)
                .ok_or_else(|| candle_core::Error::Msg(format!("tensor {name} read twice")))
        };
        Ok(weights::assemble(config, take)?)
    }
}

fn integer_of(value: &Value) -> Option<usize> {
    signed_of(value).and_then(|v| usize::try_from(v).ok())
}

fn signed_of(value: &Value) -> Option<i64> {
    match value {
        Value::U8(v) => Some(i64::from(*v)),
        Value::I8(v) => Some(i64::from(*v)),
        Value::U16(v) => Some(i64::from(*v)),
        Value::I16(v) => Some(i64::from(*v)),
        Value::U32(v) => Some(i64::from(*v)),
        Value::I32(v) => Some(i64::from(*v)),
        Value::U64(v) => i64::try_from(*v).ok(),
        Value::I64(v) => Some(*v),
        _ => None,
    }
}
