//! The sequence models behind one name: the reference models `minilm` and `smollm2`, or a path
//! to a Llama-family GGUF file or a Hugging Face directory (BERT family or Llama), loaded as the
//! encoder or decoder their files describe.

use std::path::{Path, PathBuf};

use super::bert::{self, Bert};
use super::hf_files::JsonConfig;
use super::llama::{self, Llama};
use super::{ModelError, RunnableModel, SeqModelError};
use crate::data::fixture_path;

/// Reference names of the sequence models.
pub const SEQUENCE_MODELS: [&str; 2] = ["minilm", "smollm2"];

/// A loaded sequence model.
#[derive(Debug, Clone)]
pub enum SequenceModel {
    /// A sentence encoder, evaluated on the SpamAssassin probe task.
    Encoder(Bert),
    /// A language model, evaluated on Moby-Dick perplexity.
    Decoder(Llama),
}

impl SequenceModel {
    /// Whether `model` names a sequence model: a reference name, a `.gguf` file, or a directory.
    pub fn claims(model: &str) -> bool {
        let path = Path::new(model);
        SEQUENCE_MODELS.contains(&model)
            || path.is_dir()
            || path
                .extension()
                .is_some_and(|ext| ext.eq_ignore_ascii_case("gguf"))
    }

    /// Loads a reference name (from the fixtures) or a path.
    pub fn load(model: &str) -> Result<Self, ModelError> {
        let path = Path::new(model);
        if !path.exists() {
            match model {
                "minilm" => {
                    let bert = Bert::load(&fixture_path(bert::MINILM_FIXTURE)?)?;
                    return Ok(Self::Encoder(bert.named(model)));
                }
                "smollm2" => {
                    let llama = Llama::load(&fixture_path(llama::SMOLLM2_FIXTURE)?)?;
                    return Ok(Self::Decoder(llama.named(model)));
                }
                _ => {}
            }
        }
        if path.is_dir() {
            return Self::load_dir(path);
        }
        Ok(Self::Decoder(Llama::load_gguf(path)?))
    }

    /// A Hugging Face directory: `config.json`'s `model_type` picks the family.
    fn load_dir(dir: &Path) -> Result<Self, ModelError> {
        let config_path = dir.join("config.json");
        if !config_path.exists() {
            return Err(SeqModelError::MissingFile {
                path: config_path,
                expected: "a model directory is a Hugging Face directory with config.json, \
                           model.safetensors and tokenizer.json"
                    .into(),
            }
            .into());
        }
        let config = JsonConfig::read(&config_path)?;
        let model_type = config.str_or("model_type", "")?;
        if bert::SUPPORTED_MODEL_TYPES.contains(&model_type) {
            return Ok(Self::Encoder(Bert::load(dir)?));
        }
        if llama::hf::SUPPORTED_MODEL_TYPES.contains(&model_type) {
            return Ok(Self::Decoder(Llama::load_hf_dir(dir)?));
        }
        let supported: Vec<&str> = bert::SUPPORTED_MODEL_TYPES
            .iter()
            .chain(llama::hf::SUPPORTED_MODEL_TYPES)
            .copied()
            .collect();
        Err(SeqModelError::BadField {
            path: config.path.clone(),
            field: "model_type".into(),
            value: format!("\"{model_type}\""),
            expected: format!("supported model_type: {}", supported.join(", ")),
        }
        .into())
    }

    pub fn runnable(&self) -> &dyn RunnableModel {
        match self {
            Self::Encoder(bert) => bert,
            Self::Decoder(llama) => llama,
        }
    }

    /// The file or directory the weights came from.
    pub fn source(&self) -> PathBuf {
        match self {
            Self::Encoder(bert) => bert.dir.clone(),
            Self::Decoder(llama) => llama.path.clone(),
        }
    }
}
