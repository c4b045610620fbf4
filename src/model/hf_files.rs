//! Reading the files of a Hugging Face model directory: `config.json` fields with errors that name
//! the file and field, and `model.safetensors` (or a sharded index) as f32 tensors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use serde_json::Value;

use super::SeqModelError;

/// A parsed `config.json`, remembering its path for error messages.
#[derive(Debug, Clone)]
pub struct JsonConfig {
    pub path: PathBuf,
    pub value: Value,
}

impl JsonConfig {
    pub fn read(path: &Path) -> Result<Self, SeqModelError> {
        let text = std::fs::read_to_string(path).map_err(|error| SeqModelError::io(path, error))?;
        let value = serde_json::from_str(&text).map_err(|error| SeqModelError::Parse {
            path: path.into(),
            reason: error.to_string(),
        })?;
        Ok(Self {
            path: path.into(),
            value,
        })
    }

    pub fn get(&self, field: &str) -> Option<&Value> {
        self.value.get(field).filter(|value| !value.is_null())
    }

    pub fn usize(&self, field: &str) -> Result<usize, SeqModelError> {
        let value = self.required(field, "a positive integer")?;
        value
            .as_u64()
            .filter(|&number| number > 0)
            .map(|number| number as usize)
            .ok_or_else(|| self.bad(field, value, "expected a positive integer"))
    }

    pub fn usize_or(&self, field: &str, default: usize) -> Result<usize, SeqModelError> {
        match self.get(field) {
            None => Ok(default),
            Some(_) => self.usize(field),
        }
    }

    pub fn f64_or(&self, field: &str, default: f64) -> Result<f64, SeqModelError> {
        match self.get(field) {
            None => Ok(default),
            Some(value) => value
                .as_f64()
                .filter(|number| number.is_finite() && *number > 0.0)
                .ok_or_else(|| self.bad(field, value, "expected a positive number")),
        }
    }

    pub fn str_or<'a>(&'a self, field: &str, default: &'a str) -> Result<&'a str, SeqModelError> {
        match self.get(field) {
            None => Ok(default),
            Some(value) => value
                .as_str()
                .ok_or_else(|| self.bad(field, value, "expected a string")),
        }
    }

    pub fn bool_or(&self, field: &str, default: bool) -> Result<bool, SeqModelError> {
        match self.get(field) {
            None => Ok(default),
            Some(value) => value
                .as_bool()
                .ok_or_else(|| self.bad(field, value, "expected true or false")),
        }
    }

    /// The first entry of `architectures`, if the field is present.
    pub fn architecture(&self) -> Option<&str> {
        self.get("architectures")?.as_array()?.first()?.as_str()
    }

    fn required(&self, field: &str, expected: &str) -> Result<&Value, SeqModelError> {
        self.get(field).ok_or_else(|| SeqModelError::MissingField {
            path: self.path.clone(),
            field: field.into(),
            expected: expected.into(),
        })
    }

    pub fn bad(&self, field: &str, value: &Value, expected: &str) -> SeqModelError {
        SeqModelError::BadField {
            path: self.path.clone(),
            field: field.into(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}

/// The f32 tensors of a model directory, with the file they came from for error messages.
#[derive(Debug)]
pub struct TensorFile {
    pub path: PathBuf,
    pub tensors: HashMap<String, Tensor>,
}

impl TensorFile {
    /// Loads `model.safetensors`, or every shard listed in `model.safetensors.index.json`,
    /// converting f16/bf16 to f32.
    pub fn load_dir(dir: &Path) -> Result<Self, SeqModelError> {
        let single = dir.join("model.safetensors");
        let index = dir.join("model.safetensors.index.json");
        let shards = if single.exists() {
            vec![single.clone()]
        } else if index.exists() {
            shard_files(&index)?
        } else {
            return Err(SeqModelError::MissingFile {
                path: single,
                expected: "the weights as safetensors (model.safetensors or \
                           model.safetensors.index.json with its shards)"
                    .into(),
            });
        };
        let mut tensors = HashMap::new();
        for shard in &shards {
            let loaded = candle_core::safetensors::load(shard, &Device::Cpu).map_err(|error| {
                SeqModelError::Parse {
                    path: shard.clone(),
                    reason: error.to_string(),
                }
            })?;
            for (name, tensor) in loaded {
                tensors.insert(name, tensor.to_dtype(DType::F32)?);
            }
        }
        let path = if shards.len() == 1 { single } else { index };
        Ok(Self { path, tensors })
    }

    /// Takes tensor `name`, checking its shape.
    pub fn take(&mut self, name: &str, shape: &[usize]) -> Result<Tensor, SeqModelError> {
        let tensor = self
            .tensors
            .remove(name)
            .ok_or_else(|| SeqModelError::MissingTensor {
                path: self.path.clone(),
                tensor: name.into(),
                expected: format!("shape {shape:?}"),
            })?;
        if tensor.dims() != shape {
            return Err(SeqModelError::WrongShape {
                path: self.path.clone(),
                tensor: name.into(),
                found: tensor.dims().to_vec(),
                expected: shape.to_vec(),
            });
        }
        Ok(tensor)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }
}

fn shard_files(index: &Path) -> Result<Vec<PathBuf>, SeqModelError> {
    let config = JsonConfig::read(index)?;
    let map = config
        .get("weight_map")
        .and_then(Value::as_object)
        .ok_or_else(|| SeqModelError::MissingField {
            path: index.into(),
            field: "weight_map".into(),
            expected: "an object mapping tensor names to shard files".into(),
        })?;
    let mut files: Vec<PathBuf> = Vec::new();
    for (tensor, file) in map {
        let file = file
            .as_str()
            .ok_or_else(|| config.bad(&format!("weight_map.{tensor}"), file, "a file name"))?;
        let path = index.with_file_name(file);
        if !files.contains(&path) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
