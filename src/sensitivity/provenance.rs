//! The provenance of an analysis: what a sensitivity table was computed from (bitplan version,
//! weights and calibration data hashes, search space, metric, proxies, seed), recorded in the
//! table and its journal so that resuming and merging refuse another model, data or space.

use candle_core::{DType, Tensor};
use sha2::{Digest, Sha256};

use super::analyze::{Proxy, Settings};
use super::table::Provenance;
use super::SensitivityError;
use crate::model::RunnableModel;
use crate::quant::with_f32;
use crate::space::ResolvedSpace;

/// The provenance of analyzing `model` on `batches` over `space`.
pub fn provenance(
    model: &dyn RunnableModel,
    space: &ResolvedSpace,
    batches: &[Tensor],
    settings: &Settings,
) -> Result<Provenance, SensitivityError> {
    let graph = model.graph();
    let mut weights = Sha256::new();
    for layer in &graph.layers {
        if let Some(weight) = model.weight(&layer.name) {
            hash_tensor(&mut weights, weight)?;
        }
    }
    let mut data = Sha256::new();
    for batch in batches {
        hash_tensor(&mut data, batch)?;
    }
    let mut proxies: Vec<Proxy> = settings.proxies.clone();
    proxies.sort();
    proxies.dedup();
    Ok(Provenance {
        bitplan_version: env!("CARGO_PKG_VERSION").into(),
        model: graph.model.clone(),
        model_hash: hex(&weights.finalize()),
        calib_hash: hex(&data.finalize()),
        calib_samples: batches
            .iter()
            .map(|b| b.dims().first().copied().unwrap_or(0))
            .sum(),
        calib_batches: batches.len(),
        space: space.space.clone(),
        space_hash: space.content_sha256(),
        metric: settings.metric.to_string(),
        proxies: proxies
            .iter()
            .map(|p| format!("{p:?}").to_lowercase())
            .collect(),
        hutchinson_probes: if proxies.contains(&Proxy::Hessian) {
            settings.hutchinson_probes
        } else {
            0
        },
        seed: settings.seed,
    })
}

/// Feeds the tensor's values as little-endian f32 bytes to `hasher` (the same digest as hashing
/// all tensors' bytes concatenated, without building that buffer: 540 MB for smollm2).
fn hash_tensor(hasher: &mut Sha256, tensor: &Tensor) -> Result<(), SensitivityError> {
    // Token ids hash as their f32 values too; float tensors are read in place.
    let tensor = match tensor.dtype().is_float() {
        true => tensor.clone(),
        false => tensor.to_dtype(DType::F32)?,
    };
    with_f32(&tensor, |values| {
        if cfg!(target_endian = "little") {
            hasher.update(bytemuck::cast_slice::<f32, u8>(values));
        } else {
            for value in values {
                hasher.update(value.to_le_bytes());
            }
        }
        Ok(())
    })
    .map_err(|error| SensitivityError::Invalid {
        what: format!("hashing a tensor of shape {:?}", tensor.dims()),
        reason: error.to_string(),
    })
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
