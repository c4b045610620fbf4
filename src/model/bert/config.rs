//! The hyper-parameters of a BERT-family encoder, read from `config.json` and validated once.

use std::path::Path;

use crate::model::hf_files::JsonConfig;
use crate::model::SeqModelError;

/// `model_type` values this loader runs (all share BERT's post-norm encoder and tensor layout).
pub const SUPPORTED_MODEL_TYPES: &[&str] = &["bert", "roberta", "xlm-roberta"];

/// The feed-forward activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Exact GELU, `x·Φ(x)` (`"gelu"`).
    GeluErf,
    /// Tanh approximation (`"gelu_new"`, `"gelu_pytorch_tanh"`).
    GeluTanh,
    Relu,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BertConfig {
    pub model_type: String,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub activation: Activation,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    /// First position id: 0 for BERT, `pad_token_id + 1` for RoBERTa-style models.
    pub position_offset: usize,
}

impl BertConfig {
    pub fn read(path: &Path) -> Result<Self, SeqModelError> {
        let json = JsonConfig::read(path)?;
        let model_type = model_type(&json)?;
        let hidden_act = json.str_or("hidden_act", "gelu")?;
        let activation = match hidden_act {
            "gelu" => Activation::GeluErf,
            "gelu_new" | "gelu_pytorch_tanh" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            other => {
                return Err(json.bad(
                    "hidden_act",
                    &other.into(),
                    "supported: gelu, gelu_new, gelu_pytorch_tanh, relu",
                ))
            }
        };
        let position_type = json.str_or("position_embedding_type", "absolute")?;
        if position_type != "absolute" {
            return Err(json.bad(
                "position_embedding_type",
                &position_type.into(),
                "only absolute position embeddings are supported",
            ));
        }
        let pad_token_id = json
            .get("pad_token_id")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        let position_offset = match model_type.as_str() {
            "bert" => 0,
            _ => pad_token_id as usize + 1,
        };
        let config = Self {
            vocab_size: json.usize("vocab_size")?,
            hidden_size: json.usize("hidden_size")?,
            num_hidden_layers: json.usize("num_hidden_layers")?,
            num_attention_heads: json.usize("num_attention_heads")?,
            intermediate_size: json.usize("intermediate_size")?,
            activation,
            max_position_embeddings: json.usize("max_position_embeddings")?,
            type_vocab_size: json.usize_or("type_vocab_size", 2)?,
            layer_norm_eps: json.f64_or("layer_norm_eps", 1e-12)?,
            position_offset,
            model_type,
        };
        if config.hidden_size % config.num_attention_heads != 0 {
            return Err(json.bad(
                "num_attention_heads",
                &config.num_attention_heads.into(),
                &format!("must divide hidden_size = {}", config.hidden_size),
            ));
        }
        Ok(config)
    }

    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// Longest input the position table allows.
    pub fn max_tokens(&self) -> usize {
        self.max_position_embeddings - self.position_offset
    }
}

fn model_type(json: &JsonConfig) -> Result<String, SeqModelError> {
    let expected = format!(
        "a BERT-family encoder; supported model_type: {}",
        SUPPORTED_MODEL_TYPES.join(", ")
    );
    let Some(value) = json.get("model_type") else {
        return Err(SeqModelError::MissingField {
            path: json.path.clone(),
            field: "model_type".into(),
            expected,
        });
    };
    let name = value.as_str().unwrap_or_default();
    if !SUPPORTED_MODEL_TYPES.contains(&name) {
        return Err(json.bad("model_type", value, &expected));
    }
    if let Some(architecture) = json.architecture() {
        let known = ["Bert", "Roberta", "XLMRoberta"];
        if !known.iter().any(|prefix| architecture.starts_with(prefix)) {
            return Err(json.bad(
                "architectures",
                &architecture.into(),
                "a BERT-family class (Bert*, Roberta*, XLMRoberta*)",
            ));
        }
    }
    Ok(name.into())
}
