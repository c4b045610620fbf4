//! A plan as the options of llama.cpp's `llama-quantize`, for users who quantize from the
//! original high-precision GGUF: `--token-embedding-type` and `--output-tensor-type` for the two
//! tensors llama.cpp treats apart, and one `--tensor-type PATTERN=TYPE` per group of blocks that
//! share a type for the same kind of tensor (`^blk\.(0|3|7)\.attn_v\.weight$=q6_k`). Patterns are
//! anchored regular expressions (llama-quantize matches them with `std::regex_search`), so no
//! override reaches a tensor outside its group.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::error::ExportError;
use super::plan::{ggml_dtype, ggml_format_names, llama_type_name, ExportPlan};

/// Layer name of the token embedding in GGUF naming.
const TOKEN_EMBEDDING: &str = "token_embd";
/// Layer name of the output head in GGUF naming.
const OUTPUT: &str = "output";

/// The options for `llama-quantize`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LlamaQuantizeArgs {
    /// The positional type (an ftype name, `Q4_K_S`): the plan's most common type; it only
    /// reaches tensors the plan does not cover, since every covered one has an override.
    pub base_type: String,
    pub token_embedding_type: Option<String>,
    pub output_tensor_type: Option<String>,
    /// `(pattern, type)`, in the order given on the command line.
    pub tensor_types: Vec<(String, String)>,
}

impl LlamaQuantizeArgs {
    /// The options for `plan` (layer names in GGUF naming: `token_embd`, `blk.N.KIND`, `output`).
    pub fn from_plan(plan: &ExportPlan) -> Result<Self, ExportError> {
        let mut types = BTreeMap::new();
        for (layer, &format) in &plan.weights {
            let dtype = ggml_dtype(format).ok_or_else(|| ExportError::NotGgml {
                plan: plan.path.clone(),
                layer: layer.clone(),
                format,
                valid: ggml_format_names(),
            })?;
            types.insert(layer.as_str(), llama_type_name(dtype));
        }
        let take = |name: &str| types.get(name).map(|name| name.to_string());
        let (token_embedding_type, output_tensor_type) = (take(TOKEN_EMBEDDING), take(OUTPUT));
        types.remove(TOKEN_EMBEDDING);
        types.remove(OUTPUT);
        Ok(Self {
            base_type: base_type(&types),
            token_embedding_type,
            output_tensor_type,
            tensor_types: group_patterns(&types),
        })
    }

    /// The command line, shell-quoted: `llama-quantize OPTIONS SOURCE OUT BASE_TYPE`.
    pub fn command_line(&self, source: &Path, out: &Path) -> String {
        let mut words = vec!["llama-quantize".to_string()];
        if let Some(name) = &self.token_embedding_type {
            words.push(format!("--token-embedding-type {name}"));
        }
        if let Some(name) = &self.output_tensor_type {
            words.push(format!("--output-tensor-type {name}"));
        }
        for (pattern, name) in &self.tensor_types {
            words.push(format!("--tensor-type '{pattern}={name}'"));
        }
        words.push(shell_quote(&source.to_string_lossy()));
        words.push(shell_quote(&out.to_string_lossy()));
        words.push(self.base_type.clone());
        words.join(" \\\n  ")
    }
}

/// `llama-quantize`'s ftype for the most common type (ties: the first by name); `Q8_0` for an
/// empty plan. K-quants map to their `_S` variants, whose only rule is "this type everywhere".
fn base_type(types: &BTreeMap<&str, &str>) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for name in types.values() {
        *counts.entry(name).or_default() += 1;
    }
    let most = counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map_or("q8_0", |(name, _)| name);
    match most {
        "q3_k" | "q4_k" | "q5_k" => format!("{}_S", most.to_uppercase()),
        other => other.to_uppercase(),
    }
}

/// One anchored pattern per (type, tensor kind): the blocks of that kind with that type.
fn group_patterns(types: &BTreeMap<&str, &str>) -> Vec<(String, String)> {
    let mut blocks: BTreeMap<(&str, String), Vec<usize>> = BTreeMap::new();
    let mut others = Vec::new();
    for (&layer, &name) in types {
        match split_block(layer) {
            Some((block, kind)) => blocks.entry((name, kind.into())).or_default().push(block),
            None => others.push((format!("^{}\\.weight$", escape(layer)), name.to_string())),
        }
    }
    let mut patterns: Vec<(String, String)> = blocks
        .into_iter()
        .map(|((name, kind), mut numbers)| {
            numbers.sort_unstable();
            let list: Vec<String> = numbers.iter().map(usize::to_string).collect();
            let pattern = format!("^blk\\.({})\\.{}\\.weight$", list.join("|"), escape(&kind));
            (pattern, name.to_string())
        })
        .collect();
    patterns.extend(others);
    patterns
}

/// `blk.N.KIND` → `(N, KIND)`.
fn split_block(layer: &str) -> Option<(usize, &str)> {
    let rest = layer.strip_prefix("blk.")?;
    let (number, kind) = rest.split_once('.')?;
    Some((number.parse().ok()?, kind))
}

/// Escapes the ECMAScript regex metacharacters of a tensor name.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\^$.|?*+()[]{}".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn shell_quote(text: &str) -> String {
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    {
        text.into()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_dots_and_groups_blocks() {
        let types = BTreeMap::from([
            ("blk.0.attn_q", "q4_k"),
            ("blk.2.attn_q", "q4_k"),
            ("blk.1.attn_q", "q6_k"),
        ]);
        let patterns = group_patterns(&types);
        assert_eq!(
            patterns,
            vec![
                (
                    r"^blk\.(0|2)\.attn_q\.weight$".to_string(),
                    "q4_k".to_string()
                ),
                (
                    r"^blk\.(1)\.attn_q\.weight$".to_string(),
                    "q6_k".to_string()
                ),
            ]
        );
        assert_eq!(base_type(&types), "Q4_K_S");
    }
}
