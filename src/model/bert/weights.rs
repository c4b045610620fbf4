//! The tensors of a BERT-family encoder, loaded from `model.safetensors` with shapes checked
//! against `config.json`. Quantizable layers keep their stable names (the Hugging Face tensor name
//! without `.weight` and without a `bert.`/`roberta.` prefix).

use candle_core::Tensor;

use super::BertConfig;
use crate::model::hf_files::TensorFile;
use crate::model::SeqModelError;

/// A linear layer `y = x·Wᵀ + b`, weight `[out, in]`.
#[derive(Debug, Clone)]
pub struct Dense {
    pub name: String,
    pub weight: Tensor,
    pub bias: Tensor,
}

/// An embedding table `[rows, hidden]`.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub weight: Tensor,
}

#[derive(Debug, Clone)]
pub struct Norm {
    pub weight: Tensor,
    pub bias: Tensor,
}

#[derive(Debug, Clone)]
pub struct Embeddings {
    pub word: Table,
    pub position: Table,
    pub token_type: Table,
    pub norm: Norm,
}

/// One post-norm encoder block.
#[derive(Debug, Clone)]
pub struct Block {
    pub query: Dense,
    pub key: Dense,
    pub value: Dense,
    pub attention_output: Dense,
    pub attention_norm: Norm,
    pub intermediate: Dense,
    pub output: Dense,
    pub output_norm: Norm,
}

impl Block {
    /// The block's linear layers in execution order.
    pub fn dense_layers(&self) -> [&Dense; 6] {
        [
            &self.query,
            &self.key,
            &self.value,
            &self.attention_output,
            &self.intermediate,
            &self.output,
        ]
    }
}

#[derive(Debug, Clone)]
pub struct BertWeights {
    pub embeddings: Embeddings,
    pub blocks: Vec<Block>,
}

/// Reads the tensors of `config` out of `file`; names may carry a `bert.`/`roberta.`/`model.`
/// prefix (checkpoints saved from task heads do).
pub fn load(file: &mut TensorFile, config: &BertConfig) -> Result<BertWeights, SeqModelError> {
    let prefix = ["", "bert.", "roberta.", "model."]
        .into_iter()
        .find(|prefix| file.contains(&format!("{prefix}embeddings.word_embeddings.weight")))
        .unwrap_or("");
    let mut loader = Loader { file, prefix };
    let hidden = config.hidden_size;
    let embeddings = Embeddings {
        word: loader.table("embeddings.word_embeddings", config.vocab_size, hidden)?,
        position: loader.table(
            "embeddings.position_embeddings",
            config.max_position_embeddings,
            hidden,
        )?,
        token_type: loader.table(
            "embeddings.token_type_embeddings",
            config.type_vocab_size,
            hidden,
        )?,
        norm: loader.norm("embeddings.LayerNorm", hidden)?,
    };
    let blocks = (0..config.num_hidden_layers)
        .map(|index| loader.block(index, config))
        .collect::<Result<_, _>>()?;
    Ok(BertWeights { embeddings, blocks })
}

struct Loader<'a> {
    file: &'a mut TensorFile,
    prefix: &'a str,
}

impl Loader<'_> {
    fn tensor(&mut self, name: &str, shape: &[usize]) -> Result<Tensor, SeqModelError> {
        self.file.take(&format!("{}{name}", self.prefix), shape)
    }

    fn table(&mut self, name: &str, rows: usize, hidden: usize) -> Result<Table, SeqModelError> {
        Ok(Table {
            weight: self.tensor(&format!("{name}.weight"), &[rows, hidden])?,
            name: name.into(),
        })
    }

    fn dense(&mut self, name: &str, inputs: usize, outputs: usize) -> Result<Dense, SeqModelError> {
        Ok(Dense {
            weight: self.tensor(&format!("{name}.weight"), &[outputs, inputs])?,
            bias: self.tensor(&format!("{name}.bias"), &[outputs])?,
            name: name.into(),
        })
    }

    /// Layer norms are `weight`/`bias` in current checkpoints, `gamma`/`beta` in old ones.
    fn norm(&mut self, name: &str, hidden: usize) -> Result<Norm, SeqModelError> {
        let old_style = self.file.contains(&format!("{}{name}.gamma", self.prefix));
        let (weight, bias) = if old_style {
            ("gamma", "beta")
        } else {
            ("weight", "bias")
        };
        Ok(Norm {
            weight: self.tensor(&format!("{name}.{weight}"), &[hidden])?,
            bias: self.tensor(&format!("{name}.{bias}"), &[hidden])?,
        })
    }

    fn block(&mut self, index: usize, config: &BertConfig) -> Result<Block, SeqModelError> {
        let (hidden, inner) = (config.hidden_size, config.intermediate_size);
        let layer = format!("encoder.layer.{index}");
        Ok(Block {
            query: self.dense(&format!("{layer}.attention.self.query"), hidden, hidden)?,
            key: self.dense(&format!("{layer}.attention.self.key"), hidden, hidden)?,
            value: self.dense(&format!("{layer}.attention.self.value"), hidden, hidden)?,
            attention_output: self.dense(
                &format!("{layer}.attention.output.dense"),
                hidden,
                hidden,
            )?,
            attention_norm: self.norm(&format!("{layer}.attention.output.LayerNorm"), hidden)?,
            intermediate: self.dense(&format!("{layer}.intermediate.dense"), hidden, inner)?,
            output: self.dense(&format!("{layer}.output.dense"), inner, hidden)?,
            output_norm: self.norm(&format!("{layer}.output.LayerNorm"), hidden)?,
        })
    }
}
