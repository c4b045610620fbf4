//! Loading a Hugging Face Llama directory (`config.json`, safetensors, `tokenizer.json`) into the
//! GGUF naming and layout the rest of bitplan uses.

use std::path::Path;

use candle_core::Tensor;

use super::config::{ConfigFields, LlamaConfig};
use super::weights::{self, LlamaWeights};
use crate::model::hf_files::{JsonConfig, TensorFile};
use crate::model::SeqModelError;

/// `model_type` values this loader runs.
pub const SUPPORTED_MODEL_TYPES: &[&str] = &["llama"];

pub fn config(path: &Path) -> Result<LlamaConfig, SeqModelError> {
    let json = JsonConfig::read(path)?;
    let model_type = json.str_or("model_type", "")?;
    if !SUPPORTED_MODEL_TYPES.contains(&model_type) {
        return Err(json.bad(
            "model_type",
            &model_type.into(),
            &format!(
                "a Llama-family decoder; supported model_type: {}",
                SUPPORTED_MODEL_TYPES.join(", ")
            ),
        ));
    }
    for field in ["rope_scaling"] {
        if let Some(value) = json.get(field) {
            return Err(json.bad(field, value, "not supported (only plain rotary embeddings)"));
        }
    }
    for field in ["attention_bias", "mlp_bias"] {
        if json.bool_or(field, false)? {
            return Err(json.bad(
                field,
                &true.into(),
                "biases are not supported in Llama layers",
            ));
        }
    }
    let num_heads = json.usize("num_attention_heads")?;
    let config = LlamaConfig {
        vocab_size: json.usize("vocab_size")?,
        hidden_size: json.usize("hidden_size")?,
        intermediate_size: json.usize("intermediate_size")?,
        num_layers: json.usize("num_hidden_layers")?,
        num_heads,
        num_kv_heads: json.usize_or("num_key_value_heads", num_heads)?,
        rms_norm_eps: json.f64_or("rms_norm_eps", 1e-6)?,
        rope_base: json.f64_or("rope_theta", 10_000.0)? as f32,
        context_length: json.usize_or("max_position_embeddings", 2048)?,
        tied_output: json.bool_or("tie_word_embeddings", false)?,
    };
    let fields = ConfigFields {
        hidden_size: "hidden_size",
        num_heads: "num_attention_heads",
        num_kv_heads: "num_key_value_heads",
    };
    config.validate(&json.path, &fields)?;
    if let Some(head_dim) = json.get("head_dim") {
        if head_dim.as_u64() != Some(config.head_dim() as u64) {
            return Err(json.bad(
                "head_dim",
                head_dim,
                &format!(
                    "must be hidden_size / num_attention_heads = {}",
                    config.head_dim()
                ),
            ));
        }
    }
    Ok(config)
}

/// Hugging Face name of the tensor bitplan calls `gguf_name` (`blk.N.attn_q.weight` →
/// `model.layers.N.self_attn.q_proj.weight`).
pub fn hf_name(gguf_name: &str) -> String {
    const TOP: [(&str, &str); 3] = [
        ("token_embd.weight", "model.embed_tokens.weight"),
        ("output_norm.weight", "model.norm.weight"),
        ("output.weight", "lm_head.weight"),
    ];
    if let Some((_, hf)) = TOP.iter().find(|(gguf, _)| *gguf == gguf_name) {
        return (*hf).into();
    }
    const BLOCK: [(&str, &str); 9] = [
        ("attn_norm", "input_layernorm"),
        ("attn_q", "self_attn.q_proj"),
        ("attn_k", "self_attn.k_proj"),
        ("attn_v", "self_attn.v_proj"),
        ("attn_output", "self_attn.o_proj"),
        ("ffn_norm", "post_attention_layernorm"),
        ("ffn_gate", "mlp.gate_proj"),
        ("ffn_up", "mlp.up_proj"),
        ("ffn_down", "mlp.down_proj"),
    ];
    let rest = gguf_name.strip_prefix("blk.").unwrap_or(gguf_name);
    let (index, tail) = rest.split_once('.').unwrap_or((rest, ""));
    let (kind, suffix) = tail.split_once('.').unwrap_or((tail, ""));
    let hf_kind = BLOCK
        .iter()
        .find(|(g, _)| *g == kind)
        .map_or(kind, |(_, hf)| hf);
    format!("model.layers.{index}.{hf_kind}.{suffix}")
}

/// llama.cpp's `permute` (convert_hf_to_gguf.py): Hugging Face stores each head's query/key rows
/// as two halves rotated together; GGUF interleaves them in pairs. `[out, in]` with `heads`
/// heads. `inverse` undoes it (GGUF → Hugging Face).
pub fn permute_rotary_rows(
    weight: &Tensor,
    heads: usize,
    inverse: bool,
) -> candle_core::Result<Tensor> {
    let (out, inputs) = weight.dims2()?;
    let half = out / heads / 2;
    let split = if inverse {
        (heads, half, 2, inputs)
    } else {
        (heads, 2, half, inputs)
    };
    weight
        .reshape(split)?
        .transpose(1, 2)?
        .contiguous()?
        .reshape((out, inputs))
}

pub fn weights(dir: &Path, config: &LlamaConfig) -> Result<LlamaWeights, SeqModelError> {
    let mut file = TensorFile::load_dir(dir)?;
    let mut tensors = std::collections::HashMap::new();
    for (name, shape) in weights::expected_tensors(config) {
        let mut tensor = file.take(&hf_name(&name), &shape)?;
        if name.ends_with("attn_q.weight") {
            tensor = permute_rotary_rows(&tensor, config.num_heads, false)?;
        } else if name.ends_with("attn_k.weight") {
            tensor = permute_rotary_rows(&tensor, config.num_kv_heads, false)?;
        }
        tensors.insert(name, tensor);
    }
    let take = |name: &str| -> candle_core::Result<Tensor> {
        tensors
            .remove(name)
            .ok_or_else(|| candle_core::Error::Msg(format!("tensor {name} read twice")))
    };
    Ok(weights::assemble(config, take)?)
}
