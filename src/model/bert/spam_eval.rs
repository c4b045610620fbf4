//! The task metrics of a sentence encoder on the SpamAssassin corpus: a logistic-regression probe
//! fitted on fp32 embeddings classifies spam vs ham, and quantized embeddings are compared with
//! the fp32 ones (cosine similarity, nearest-neighbour agreement).

use candle_core::{Tensor, D};
use serde::{Deserialize, Serialize};

use super::probe::{Probe, ProbeSettings};
use super::{Bert, TokenBatch};
use crate::data::spam_assassin::{self, MessageFile};
use crate::model::{ModelError, PreparedAssignment};

/// The evaluation protocol. The defaults keep one fp32 pass over train + test to about a
/// minute on two cores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpamEvalSettings {
    /// Seed of the shuffle that splits the corpus into train / test / calibration.
    pub seed: u64,
    /// Messages the probe is fitted on (fp32 embeddings).
    pub train: usize,
    /// Messages every metric is measured on.
    pub test: usize,
    /// Messages for activation-range calibration (disjoint from train and test).
    pub calibration: usize,
    /// Tokens per message (special tokens included): the subject and the first lines of the body.
    pub max_tokens: usize,
    /// Messages per forward pass (fixed so results never depend on the machine).
    pub batch_size: usize,
    pub probe: ProbeSettings,
}

impl Default for SpamEvalSettings {
    fn default() -> Self {
        Self {
            seed: 0,
            train: 400,      // enough for a stable linear probe on 384 features
            test: 400,       // ±2.4 points binomial std. error at ~90% accuracy
            calibration: 64, // activation ranges settle within a few dozen messages
            max_tokens: 128, // all-MiniLM-L6-v2's own tokenizer.json truncation
            batch_size: 16,
            probe: ProbeSettings::default(),
        }
    }
}

/// Metrics of one model run on the test messages.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SentenceMetrics {
    /// Accuracy of the fp32-fitted probe on this run's test embeddings, in percent.
    pub probe_accuracy_percent: f64,
    /// Mean cosine similarity of this run's test embeddings to the fp32 ones.
    pub mean_cosine_to_fp32: f64,
    /// Fraction of test messages whose nearest other test message (by cosine) is the same as
    /// under fp32.
    pub nearest_neighbour_agreement: f64,
    pub messages: usize,
}

/// The prepared task: the split, the fp32 test embeddings and the fitted probe.
#[derive(Debug, Clone)]
pub struct SpamTask {
    pub settings: SpamEvalSettings,
    test_texts: Vec<String>,
    test_labels: Vec<bool>,
    calibration_texts: Vec<String>,
    reference: Tensor,
    reference_neighbours: Vec<u32>,
    pub probe: Probe,
    /// Probe accuracy on the fp32 train embeddings, in percent (how well the probe fits).
    pub train_accuracy_percent: f64,
}

impl SpamTask {
    /// Splits the corpus in `files`, embeds train and test in fp32 and fits the probe.
    /// `on_batch(done, total)` after each forward pass.
    pub fn prepare(
        bert: &Bert,
        files: &[MessageFile],
        settings: SpamEvalSettings,
        on_batch: &mut dyn FnMut(usize, usize),
    ) -> Result<Self, ModelError> {
        let sizes = [settings.train, settings.test, settings.calibration];
        let [train, test, calibration] = spam_assassin::split(files, settings.seed, sizes)?;
        let read = |files: &[MessageFile]| -> Result<Vec<String>, ModelError> {
            Ok(files
                .iter()
                .map(spam_assassin::read_message)
                .collect::<Result<_, _>>()?)
        };
        let train_texts = read(&train)?;
        let test_texts = read(&test)?;
        let total = train.len() + test.len();
        let fp32 = PreparedAssignment::fp32(bert)?;
        let mut progress = |done: usize, _| on_batch(done, total);
        let train_embeddings = embed_all(bert, &fp32, &train_texts, &settings, &mut progress)?;
        let mut progress = |done: usize, _| on_batch(train.len() + done, total);
        let reference = embed_all(bert, &fp32, &test_texts, &settings, &mut progress)?;
        let train_labels: Vec<bool> = train.iter().map(|file| file.is_spam).collect();
        let train_rows = train_embeddings.to_vec2::<f32>()?;
        let probe = Probe::fit(&train_rows, &train_labels, settings.probe);
        let train_accuracy_percent = 100.0 * probe.accuracy(&train_rows, &train_labels);
        Ok(Self {
            settings,
            test_labels: test.iter().map(|file| file.is_spam).collect(),
            test_texts,
            calibration_texts: read(&calibration)?,
            reference_neighbours: nearest_neighbours(&reference)?,
            reference,
            probe,
            train_accuracy_percent,
        })
    }

    /// The metrics of the fp32 model itself, from the embeddings computed by [`SpamTask::prepare`].
    pub fn reference_metrics(&self) -> Result<SentenceMetrics, ModelError> {
        let rows = self.reference.to_vec2::<f32>()?;
        Ok(SentenceMetrics {
            probe_accuracy_percent: 100.0 * self.probe.accuracy(&rows, &self.test_labels),
            mean_cosine_to_fp32: 1.0,
            nearest_neighbour_agreement: 1.0,
            messages: rows.len(),
        })
    }

    /// Embeds the test messages under `prepared` and measures them against fp32.
    pub fn evaluate(
        &self,
        bert: &Bert,
        prepared: &PreparedAssignment,
        on_batch: &mut dyn FnMut(usize, usize),
    ) -> Result<SentenceMetrics, ModelError> {
        let embeddings = embed_all(bert, prepared, &self.test_texts, &self.settings, on_batch)?;
        let rows = embeddings.to_vec2::<f32>()?;
        let cosines = (&embeddings * &self.reference)?.sum(D::Minus1)?;
        let neighbours = nearest_neighbours(&embeddings)?;
        let agreeing = neighbours
            .iter()
            .zip(&self.reference_neighbours)
            .filter(|(a, b)| a == b)
            .count();
        let messages = rows.len();
        Ok(SentenceMetrics {
            probe_accuracy_percent: 100.0 * self.probe.accuracy(&rows, &self.test_labels),
            mean_cosine_to_fp32: f64::from(cosines.mean_all()?.to_scalar::<f32>()?),
            nearest_neighbour_agreement: agreeing as f64 / messages.max(1) as f64,
            messages,
        })
    }

    /// Tokenized calibration batches (messages outside train and test).
    pub fn calibration_batches(&self, bert: &Bert) -> Result<Vec<TokenBatch>, ModelError> {
        batches(bert, &self.calibration_texts, &self.settings)
    }

    /// Fraction of spam among the test messages.
    pub fn test_spam_fraction(&self) -> f64 {
        let spam = self.test_labels.iter().filter(|&&is_spam| is_spam).count();
        spam as f64 / self.test_labels.len().max(1) as f64
    }
}

/// Calibration batches for a sensitivity analysis, packed ([`TokenBatch::pack`]): `count`
/// messages outside the probe's train and test messages (the same seeded split as
/// [`SpamTask::prepare`], so never the evaluation messages), truncated to `max_tokens`, in order
/// of token count (little padding) in batches of `settings.batch_size`.
pub fn analysis_batches(
    bert: &Bert,
    files: &[MessageFile],
    settings: &SpamEvalSettings,
    count: usize,
    max_tokens: usize,
) -> Result<Vec<Tensor>, ModelError> {
    let sizes = [settings.train, settings.test, count];
    let [_, _, calibration] = spam_assassin::split(files, settings.seed, sizes)?;
    let mut texts = calibration
        .iter()
        .map(spam_assassin::read_message)
        .collect::<Result<Vec<_>, _>>()?;
    let borrowed: Vec<&str> = texts.iter().map(String::as_str).collect();
    let counts = bert.token_counts(&borrowed, max_tokens)?;
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&index| counts[index]);
    texts = order.iter().map(|&index| texts[index].clone()).collect();
    let settings = SpamEvalSettings {
        max_tokens,
        ..*settings
    };
    batches(bert, &texts, &settings)?
        .iter()
        .map(|batch| Ok(batch.pack()?))
        .collect()
}

fn batches(
    bert: &Bert,
    texts: &[String],
    settings: &SpamEvalSettings,
) -> Result<Vec<TokenBatch>, ModelError> {
    texts
        .chunks(settings.batch_size.max(1))
        .map(|chunk| {
            let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
            Ok(bert.tokenize_truncated(&chunk, settings.max_tokens)?)
        })
        .collect()
}

/// Unit-length embeddings `[texts, hidden]`, in the order of `texts`. Texts are batched in
/// order of token count so that little of each batch is padding.
fn embed_all(
    bert: &Bert,
    prepared: &PreparedAssignment,
    texts: &[String],
    settings: &SpamEvalSettings,
    on_batch: &mut dyn FnMut(usize, usize),
) -> Result<Tensor, ModelError> {
    let borrowed: Vec<&str> = texts.iter().map(String::as_str).collect();
    let counts = bert.token_counts(&borrowed, settings.max_tokens)?;
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&index| counts[index]);
    let sorted: Vec<String> = order.iter().map(|&index| texts[index].clone()).collect();
    let mut parts = Vec::new();
    let mut done = 0;
    for batch in batches(bert, &sorted, settings)? {
        done += batch.ids.dim(0)?;
        parts.push(bert.embed(prepared, &batch)?);
        on_batch(done, texts.len());
    }
    let mut position = vec![0u32; texts.len()];
    for (sorted_index, &original) in order.iter().enumerate() {
        position[original] = sorted_index as u32;
    }
    let position = Tensor::new(position.as_slice(), &candle_core::Device::Cpu)?;
    Ok(Tensor::cat(&parts, 0)?.index_select(&position, 0)?)
}

/// For each row, the index of the most cosine-similar other row (rows are unit length).
fn nearest_neighbours(embeddings: &Tensor) -> Result<Vec<u32>, ModelError> {
    let count = embeddings.dim(0)?;
    let similarity = embeddings.matmul(&embeddings.t()?)?;
    let diagonal = (Tensor::eye(count, similarity.dtype(), similarity.device())? * 1e9)?;
    Ok((similarity - diagonal)?
        .argmax(D::Minus1)?
        .to_vec1::<u32>()?)
}
