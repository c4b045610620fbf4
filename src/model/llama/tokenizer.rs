//! Text ↔ token ids for Llama-family decoders: a Hugging Face `tokenizer.json`, or one built from
//! GGUF metadata (`tokenizer.ggml.*`: a GPT-2-style byte-level BPE from its tokens and merges).

use std::path::{Path, PathBuf};

use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer};

use super::gguf::GgufFile;
use crate::model::SeqModelError;

/// `tokenizer.ggml.pre` values understood, each the pre-tokenizer of the Hugging Face tokenizer
/// llama.cpp converted (see llama.cpp `llama-vocab.cpp`).
pub const SUPPORTED_PRE_TOKENIZERS: &[&str] = &["default", "gpt2", "smollm", "llama3", "llama-bpe"];

/// The Llama 3 split pattern (llama.cpp `LLAMA_VOCAB_PRE_TYPE_LLAMA3`).
const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// GGUF token type of control tokens (`<|endoftext|>`, `<|im_start|>`...), matched whole in text.
const TOKEN_TYPE_CONTROL: i64 = 3;
/// GGUF token type of user-defined tokens, also matched whole.
const TOKEN_TYPE_USER_DEFINED: i64 = 4;

/// A tokenizer with the model's begin-of-sequence convention.
#[derive(Debug, Clone)]
pub struct LlamaTokenizer {
    pub tokenizer: Tokenizer,
    /// Prepended to each sequence when the model expects it (`add_bos`).
    pub bos: Option<u32>,
    /// Where the tokenizer came from, for error messages.
    pub source: PathBuf,
}

impl LlamaTokenizer {
    /// Token ids of `text`, without special tokens.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, SeqModelError> {
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|error| self.error(error.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Text of `ids` (special tokens kept).
    pub fn decode(&self, ids: &[u32]) -> Result<String, SeqModelError> {
        self.tokenizer
            .decode(ids, false)
            .map_err(|error| self.error(error.to_string()))
    }

    fn error(&self, reason: String) -> SeqModelError {
        SeqModelError::Tokenizer {
            path: self.source.clone(),
            reason,
        }
    }

    /// A Hugging Face `tokenizer.json`; the BOS convention is read off its post-processor
    /// (whatever it prepends to a sequence when special tokens are requested).
    pub fn from_file(path: &Path) -> Result<Self, SeqModelError> {
        if !path.exists() {
            return Err(SeqModelError::MissingFile {
                path: path.into(),
                expected: "the Hugging Face tokenizer (tokenizer.json)".into(),
            });
        }
        let tokenizer_error = |reason: String| SeqModelError::Tokenizer {
            path: path.into(),
            reason,
        };
        let tokenizer =
            Tokenizer::from_file(path).map_err(|error| tokenizer_error(error.to_string()))?;
        let with = tokenizer
            .encode("a", true)
            .map_err(|e| tokenizer_error(e.to_string()))?;
        let without = tokenizer
            .encode("a", false)
            .map_err(|e| tokenizer_error(e.to_string()))?;
        let bos = (with.get_ids().len() > without.get_ids().len())
            .then(|| with.get_ids().first().copied())
            .flatten();
        Ok(Self {
            tokenizer,
            bos,
            source: path.into(),
        })
    }

    /// The tokenizer stored in a GGUF file's metadata.
    pub fn from_gguf(gguf: &GgufFile) -> Result<Self, SeqModelError> {
        let model = gguf.string("tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(SeqModelError::BadField {
                path: gguf.path.clone(),
                field: "tokenizer.ggml.model".into(),
                value: format!("\"{model}\""),
                expected: "supported tokenizer models: gpt2 (byte-level BPE)".into(),
            });
        }
        let tokens = gguf.strings("tokenizer.ggml.tokens")?;
        let merges = gguf.strings("tokenizer.ggml.merges")?;
        let mut tokenizer = Tokenizer::new(bpe(gguf, &tokens, &merges)?);
        tokenizer.with_pre_tokenizer(Some(pre_tokenizer(gguf)?));
        tokenizer.with_decoder(Some(ByteLevel::default()));
        let types = gguf
            .integers("tokenizer.ggml.token_type")?
            .unwrap_or_default();
        let added: Vec<AddedToken> = tokens
            .iter()
            .zip(&types)
            .filter(|(_, &kind)| kind == TOKEN_TYPE_CONTROL || kind == TOKEN_TYPE_USER_DEFINED)
            .map(|(token, &kind)| AddedToken::from(token.clone(), kind == TOKEN_TYPE_CONTROL))
            .collect();
        tokenizer
            .add_special_tokens(added)
            .map_err(|error| SeqModelError::Tokenizer {
                path: gguf.path.clone(),
                reason: format!("control tokens: {error}"),
            })?;
        let add_bos = gguf.bool_or("tokenizer.ggml.add_bos_token", false)?;
        let bos = match add_bos {
            true => Some(gguf.integer("tokenizer.ggml.bos_token_id")? as u32),
            false => None,
        };
        Ok(Self {
            tokenizer,
            bos,
            source: gguf.path.clone(),
        })
    }
}

fn bpe(gguf: &GgufFile, tokens: &[String], merges: &[String]) -> Result<BPE, SeqModelError> {
    let vocab: Vocab = tokens
        .iter()
        .enumerate()
        .map(|(id, token)| (token.clone(), id as u32))
        .collect();
    let pairs = merges
        .iter()
        .map(|merge| {
            merge
                .split_once(' ')
                .map(|(left, right)| (left.to_string(), right.to_string()))
                .ok_or_else(|| SeqModelError::BadField {
                    path: gguf.path.clone(),
                    field: "tokenizer.ggml.merges".into(),
                    value: format!("\"{merge}\""),
                    expected: "each merge is two tokens separated by one space".into(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    BPE::builder()
        .vocab_and_merges(vocab, pairs)
        .build()
        .map_err(|error| SeqModelError::Tokenizer {
            path: gguf.path.clone(),
            reason: error.to_string(),
        })
}

fn pre_tokenizer(gguf: &GgufFile) -> Result<PreTokenizerWrapper, SeqModelError> {
    let key = "tokenizer.ggml.pre";
    let pre = match gguf.value(key) {
        None => "default",
        Some(_) => gguf.string(key)?,
    };
    let byte_level = |use_regex| ByteLevel::new(false, true, use_regex);
    let wrapper = match pre {
        "default" | "gpt2" => byte_level(true).into(),
        "smollm" => Sequence::new(vec![Digits::new(true).into(), byte_level(true).into()]).into(),
        "llama3" | "llama-bpe" => {
            let pattern = SplitPattern::Regex(LLAMA3_PATTERN.into());
            let split =
                Split::new(pattern, SplitDelimiterBehavior::Isolated, false).map_err(|error| {
                    SeqModelError::Tokenizer {
                        path: gguf.path.clone(),
                        reason: error.to_string(),
                    }
                })?;
            Sequence::new(vec![split.into(), byte_level(false).into()]).into()
        }
        other => {
            return Err(SeqModelError::BadField {
                path: gguf.path.clone(),
                field: key.into(),
                value: format!("\"{other}\""),
                expected: format!(
                    "supported pre-tokenizers: {}",
                    SUPPORTED_PRE_TOKENIZERS.join(", ")
                ),
            })
        }
    };
    Ok(wrapper)
}
