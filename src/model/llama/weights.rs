//! The tensors of a Llama-family decoder in GGUF naming and layout (`[out, in]` matrices, query
//! and key rows in llama.cpp's interleaved rotary order), whatever file they came from.

use candle_core::Tensor;

use super::LlamaConfig;

/// A weight matrix `[out, in]` (or an embedding table `[vocab, hidden]`) with its stable layer
/// name, the GGUF tensor name without `.weight` (e.g. `blk.3.attn_q`).
#[derive(Debug, Clone)]
pub struct Matrix {
    pub name: String,
    pub weight: Tensor,
}

#[derive(Debug, Clone)]
pub struct LlamaBlock {
    pub attn_norm: Tensor,
    pub attn_q: Matrix,
    pub attn_k: Matrix,
    pub attn_v: Matrix,
    pub attn_output: Matrix,
    pub ffn_norm: Tensor,
    pub ffn_gate: Matrix,
    pub ffn_up: Matrix,
    pub ffn_down: Matrix,
}

impl LlamaBlock {
    /// The block's matrices in execution order.
    pub fn matrices(&self) -> [&Matrix; 7] {
        [
            &self.attn_q,
            &self.attn_k,
            &self.attn_v,
            &self.attn_output,
            &self.ffn_gate,
            &self.ffn_up,
            &self.ffn_down,
        ]
    }
}

#[derive(Debug, Clone)]
pub struct LlamaWeights {
    pub token_embd: Matrix,
    pub blocks: Vec<LlamaBlock>,
    pub output_norm: Tensor,
    /// The output head; shares `token_embd`'s tensor when the model ties them, but is its own
    /// quantizable layer (`output`) either way, as llama.cpp writes it.
    pub output: Matrix,
}

/// Every tensor name (GGUF naming) with the shape it must have, in load order; `output.weight`
/// is absent when the model ties it to the embeddings.
pub fn expected_tensors(config: &LlamaConfig) -> Vec<(String, Vec<usize>)> {
    let (hidden, ffn, kv) = (
        config.hidden_size,
        config.intermediate_size,
        config.kv_width(),
    );
    let mut tensors = vec![(
        "token_embd.weight".to_string(),
        vec![config.vocab_size, hidden],
    )];
    for index in 0..config.num_layers {
        let shapes = [
            ("attn_norm", vec![hidden]),
            ("attn_q", vec![hidden, hidden]),
            ("attn_k", vec![kv, hidden]),
            ("attn_v", vec![kv, hidden]),
            ("attn_output", vec![hidden, hidden]),
            ("ffn_norm", vec![hidden]),
            ("ffn_gate", vec![ffn, hidden]),
            ("ffn_up", vec![ffn, hidden]),
            ("ffn_down", vec![hidden, ffn]),
        ];
        for (name, shape) in shapes {
            tensors.push((format!("blk.{index}.{name}.weight"), shape));
        }
    }
    tensors.push(("output_norm.weight".into(), vec![hidden]));
    if !config.tied_output {
        tensors.push(("output.weight".into(), vec![config.vocab_size, hidden]));
    }
    tensors
}

/// Assembles the weights from a source of tensors by GGUF name (already shape-checked).
pub fn assemble(
    config: &LlamaConfig,
    mut take: impl FnMut(&str) -> candle_core::Result<Tensor>,
) -> candle_core::Result<LlamaWeights> {
    let mut matrix = |name: &str| -> candle_core::Result<Matrix> {
        Ok(Matrix {
            weight: take(&format!("{name}.weight"))?,
            name: name.into(),
        })
    };
    let token_embd = matrix("token_embd")?;
    let mut blocks = Vec::with_capacity(config.num_layers);
    for index in 0..config.num_layers {
        let prefix = format!("blk.{index}");
        blocks.push(LlamaBlock {
            attn_norm: matrix(&format!("{prefix}.attn_norm"))?.weight,
            attn_q: matrix(&format!("{prefix}.attn_q"))?,
            attn_k: matrix(&format!("{prefix}.attn_k"))?,
            attn_v: matrix(&format!("{prefix}.attn_v"))?,
            attn_output: matrix(&format!("{prefix}.attn_output"))?,
            ffn_norm: matrix(&format!("{prefix}.ffn_norm"))?.weight,
            ffn_gate: matrix(&format!("{prefix}.ffn_gate"))?,
            ffn_up: matrix(&format!("{prefix}.ffn_up"))?,
            ffn_down: matrix(&format!("{prefix}.ffn_down"))?,
        });
    }
    let output_norm = matrix("output_norm")?.weight;
    let output = if config.tied_output {
        Matrix {
            name: "output".into(),
            weight: token_embd.weight.clone(),
        }
    } else {
        matrix("output")?
    };
    Ok(LlamaWeights {
        token_embd,
        blocks,
        output_norm,
        output,
    })
}
