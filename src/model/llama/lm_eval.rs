//! The task metrics of a language model on Moby-Dick: perplexity of the next token, and against
//! the fp32 reference, the mean per-token KL divergence and top-1 agreement. Calibration and
//! evaluation windows come from disjoint chapter ranges.

use candle_core::{DType, Device, IndexOp, Tensor, D};
use serde::{Deserialize, Serialize};

use super::{Llama, Positions};
use crate::data::moby_dick;
use crate::model::{ModelError, PreparedAssignment};

/// The evaluation protocol: fixed-length windows of consecutive tokens. The defaults keep a
/// quantized evaluation (reference + quantized forward of 16 × 128 tokens with a 135M model) to
/// about a minute on two cores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LmEvalSettings {
    /// Tokens per window (BOS included when the model adds one).
    pub window: usize,
    /// Evaluation windows, from `eval_chapters`.
    pub eval_windows: usize,
    /// First and last chapter evaluation windows are cut from, in order.
    pub eval_chapters: (usize, usize),
    /// Calibration windows, from `calibration_chapters`.
    pub calibration_windows: usize,
    /// First and last chapter calibration windows are cut from (disjoint from evaluation).
    pub calibration_chapters: (usize, usize),
    /// Windows per forward pass (fixed so results never depend on the machine).
    pub batch_size: usize,
}

impl Default for LmEvalSettings {
    fn default() -> Self {
        Self {
            window: 128,               // long enough for real context, short enough for 2 cores
            eval_windows: 16,          // 2032 predicted tokens
            eval_chapters: (100, 135), // the last part of the book
            calibration_windows: 8,    // ranges settle within ~1000 tokens
            calibration_chapters: (1, 99),
            batch_size: 4, // ~100 MB of logits per batch for a 49k vocabulary
        }
    }
}

/// Metrics of one run over the evaluation windows. Each window of n tokens predicts its last
/// n − 1 tokens from the ones before.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LmMetrics {
    /// `exp(mean negative log-likelihood)` of the true next tokens.
    pub perplexity: f64,
    /// The fp32 reference's perplexity on the same windows (computed in the same pass).
    pub reference_perplexity: f64,
    /// Mean over predicted positions of `KL(p_fp32 ‖ p_run)` in nats (0 for the reference).
    pub mean_kl_to_reference: f64,
    /// Fraction of predicted positions where the run's most likely token is the reference's.
    pub top1_agreement: f64,
    pub predicted_tokens: usize,
    pub windows: usize,
}

/// Running sums over predicted positions.
#[derive(Debug, Default)]
struct Sums {
    nll: f64,
    reference_nll: f64,
    kl: f64,
    agreeing: usize,
    count: usize,
}

/// The prepared task: tokenized calibration and evaluation windows.
#[derive(Debug, Clone)]
pub struct LmTask {
    pub settings: LmEvalSettings,
    pub eval: Vec<Vec<u32>>,
    pub calibration: Vec<Vec<u32>>,
}

impl LmTask {
    pub fn prepare(model: &Llama, settings: LmEvalSettings) -> Result<Self, ModelError> {
        let (eval_first, _) = settings.eval_chapters;
        let (_, calibration_last) = settings.calibration_chapters;
        if settings.window < 2 || settings.window > model.config.context_length {
            return Err(ModelError::Invalid {
                what: format!("window of {} tokens", settings.window),
                reason: format!(
                    "{} takes 2..={} tokens",
                    model.name, model.config.context_length
                ),
            });
        }
        let (calibration_first, _) = settings.calibration_chapters;
        let (_, eval_last) = settings.eval_chapters;
        let overlap = calibration_first <= eval_last && eval_first <= calibration_last;
        if overlap {
            return Err(ModelError::Invalid {
                what: format!(
                    "calibration chapters {:?} and evaluation chapters {:?}",
                    settings.calibration_chapters, settings.eval_chapters
                ),
                reason: "they must not overlap".into(),
            });
        }
        Ok(Self {
            eval: windows(
                model,
                settings.eval_chapters,
                settings.eval_windows,
                settings.window,
            )?,
            calibration: windows(
                model,
                settings.calibration_chapters,
                settings.calibration_windows,
                settings.window,
            )?,
            settings,
        })
    }

    /// Evaluation windows in batches, `[batch, window]` u32.
    pub fn eval_batches(&self) -> Result<Vec<Tensor>, ModelError> {
        batches(&self.eval, self.settings.batch_size)
    }

    /// Calibration windows in batches, `[batch, window]` u32.
    pub fn calibration_batches(&self) -> Result<Vec<Tensor>, ModelError> {
        batches(&self.calibration, self.settings.batch_size)
    }

    /// Metrics under `prepared` (None: the fp32 reference itself, one forward per batch) on
    /// the evaluation windows. `on_batch(done, total)` in windows after each batch.
    pub fn evaluate(
        &self,
        model: &Llama,
        prepared: Option<&PreparedAssignment>,
        on_batch: &mut dyn FnMut(usize, usize),
    ) -> Result<LmMetrics, ModelError> {
        let fp32 = PreparedAssignment::fp32(model)?;
        let mut sums = Sums::default();
        let mut done = 0;
        for ids in self.eval_batches()? {
            let reference = model.logits(&fp32, &ids, Positions::All)?;
            let run = match prepared {
                Some(prepared) => Some(model.logits(prepared, &ids, Positions::All)?),
                None => None,
            };
            accumulate(&mut sums, &ids, &reference, run.as_ref())?;
            done += ids.dim(0)?;
            on_batch(done, self.eval.len());
        }
        let count = sums.count.max(1) as f64;
        Ok(LmMetrics {
            perplexity: (sums.nll / count).exp(),
            reference_perplexity: (sums.reference_nll / count).exp(),
            mean_kl_to_reference: sums.kl / count,
            top1_agreement: sums.agreeing as f64 / count,
            predicted_tokens: sums.count,
            windows: self.eval.len(),
        })
    }
}

/// Adds one batch: `ids` `[b, n]`, logits `[b, n, vocab]` of the reference and of the run (the
/// reference itself when `run` is None).
fn accumulate(
    sums: &mut Sums,
    ids: &Tensor,
    reference: &Tensor,
    run: Option<&Tensor>,
) -> Result<(), ModelError> {
    let (_, seq) = ids.dims2()?;
    let targets = ids.i((.., 1..))?.unsqueeze(D::Minus1)?;
    let reference = log_softmax(&reference.i((.., ..seq - 1, ..))?)?;
    let run_log_probs = match run {
        Some(run) => log_softmax(&run.i((.., ..seq - 1, ..))?)?,
        None => reference.clone(),
    };
    let targets = targets.contiguous()?;
    let nll = |log_probs: &Tensor| -> candle_core::Result<f64> {
        let picked = log_probs.gather(&targets, D::Minus1)?.sum_all()?;
        Ok(-f64::from(picked.to_scalar::<f32>()?))
    };
    sums.nll += nll(&run_log_probs)?;
    sums.reference_nll += nll(&reference)?;
    if run.is_some() {
        let kl = (reference.exp()? * (&reference - &run_log_probs)?)?.sum_all()?;
        sums.kl += f64::from(kl.to_scalar::<f32>()?);
        let same = reference
            .argmax(D::Minus1)?
            .eq(&run_log_probs.argmax(D::Minus1)?)?;
        sums.agreeing += same.to_dtype(DType::U32)?.sum_all()?.to_scalar::<u32>()? as usize;
    } else {
        sums.agreeing += targets.elem_count();
    }
    sums.count += targets.elem_count();
    Ok(())
}

/// `x − logsumexp(x)` over the last dimension.
fn log_softmax(x: &Tensor) -> candle_core::Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?;
    let shifted = x.broadcast_sub(&max)?;
    let log_sum = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    shifted.broadcast_sub(&log_sum)
}

fn batches(windows: &[Vec<u32>], batch_size: usize) -> Result<Vec<Tensor>, ModelError> {
    windows
        .chunks(batch_size.max(1))
        .map(|chunk| {
            let width = chunk.first().map_or(0, Vec::len);
            let flat: Vec<u32> = chunk.concat();
            Ok(Tensor::from_vec(flat, (chunk.len(), width), &Device::Cpu)?)
        })
        .collect()
}

/// `count` consecutive windows of `len` tokens from chapters `first..=last` (tokenized one
/// chapter at a time, in order); each window starts with the model's BOS if it adds one.
fn windows(
    model: &Llama,
    (first, last): (usize, usize),
    count: usize,
    len: usize,
) -> Result<Vec<Vec<u32>>, ModelError> {
    let bos = model.tokenizer.bos;
    let body = len - usize::from(bos.is_some());
    let needed = count * body;
    let mut tokens = Vec::with_capacity(needed + 4096);
    let mut chapter = first;
    while tokens.len() < needed {
        if chapter > last {
            return Err(ModelError::Invalid {
                what: format!("{count} windows of {len} tokens"),
                reason: format!(
                    "chapters {first}..={last} hold only {} tokens for {}",
                    tokens.len(),
                    model.name
                ),
            });
        }
        tokens.extend(model.tokenizer.encode(&moby_dick::chapter(chapter)?)?);
        chapter += 1;
    }
    Ok(tokens[..needed]
        .chunks(body)
        .map(|chunk| bos.into_iter().chain(chunk.iter().copied()).collect())
        .collect())
}
