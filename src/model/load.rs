//! Reading named tensors from model files: safetensors, and PyTorch zip checkpoints (`.pth`, `.pt`)
//! through candle's pickle reader. Every error names the file.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};

use super::ModelError;

/// All tensors of a safetensors file or PyTorch zip checkpoint, by name.
pub fn read_tensors(path: &Path) -> Result<HashMap<String, Tensor>, ModelError> {
    if !path.exists() {
        return Err(ModelError::Load {
            path: path.to_owned(),
            reason: "no such file".into(),
        });
    }
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let loaded = match extension {
        "safetensors" => candle_core::safetensors::load(path, &Device::Cpu),
        "pth" | "pt" | "bin" => candle_core::pickle::read_all(path).map(|v| v.into_iter().collect()),
        other => {
            return Err(ModelError::Load {
                path: path.to_owned(),
                reason: format!(
                    "unknown extension `.{other}`: expected .safetensors or a PyTorch zip checkpoint (.pth, .pt, .bin)"
                ),
            })
        }
    };
    let tensors = loaded.map_err(|error| ModelError::Load {
        path: path.to_owned(),
        reason: format!("not a readable {extension} file ({error})"),
    })?;
    if tensors.is_empty() {
        return Err(ModelError::Load {
            path: path.to_owned(),
            reason: "the file holds no tensors".into(),
        });
    }
    Ok(tensors)
}

/// Tensors of a safetensors file already in memory (embedded weights); `name` is used in errors.
pub fn read_safetensors_bytes(
    bytes: &[u8],
    name: &str,
) -> Result<HashMap<String, Tensor>, ModelError> {
    candle_core::safetensors::load_buffer(bytes, &Device::Cpu).map_err(|error| ModelError::Load {
        path: name.into(),
        reason: format!("not a readable safetensors buffer ({error})"),
    })
}
