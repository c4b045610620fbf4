//! The analysis: every (layer, candidate) cell measured with only that layer quantized, proxies
//! beside it, spread over cores with rayon, each finished cell journaled.
//!
//! The fp32 reference outputs, the calibration ranges and the per-layer gradient statistics are
//! computed once and shared by all cells of a layer.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use candle_core::Tensor;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::grad::{
    all_output_gradients, hessian_trace, output_fisher_score, pseudo_labels, OutputGradient,
};
use super::groups::{groups, split_tail, CellJob};
use super::journal::{lock, Journal, Sink};
use super::measure::{Metric, Reference};
pub use super::provenance::provenance;
use super::stats::Estimate;
use super::table::{
    in_shard, Cell, Provenance, Proxies, SensitivityTable, Shard, SENSITIVITY_SCHEMA,
};
use super::SensitivityError;
use crate::model::calibrate::DEFAULT_RANGE_METHOD;
use crate::model::executor::staged_fp32;
use crate::model::{
    Assignment, Calibration, LayerContext, LayerFormats, PreparedAssignment, RunnableModel,
};
use crate::quant::{error_metrics, fake_quant_weight, Format};
use crate::space::ResolvedSpace;

/// Hutchinson probes per layer by default: the estimate's relative error falls as 1/√probes.
pub const DEFAULT_PROBES: usize = 16;

/// A proxy to compute beside the measured error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Proxy {
    /// Weight MSE and SQNR.
    Weight,
    Fisher,
    Hessian,
}

impl FromStr for Proxy {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "weight" => Ok(Self::Weight),
            "fisher" => Ok(Self::Fisher),
            "hessian" => Ok(Self::Hessian),
            other => Err(format!(
                "unknown proxy `{other}`: valid proxies are weight, fisher, hessian"
            )),
        }
    }
}

/// Images per calibration batch of an image classifier: the confidence interval is over
/// batches, so N/32 batches.
pub const CALIB_BATCH: usize = 32;
/// Calibration images analyzed by default (8 batches: a 95% interval from 7 degrees of freedom).
pub const DEFAULT_CALIB_IMAGES: usize = 256;

/// Settings of one analysis.
#[derive(Debug, Clone)]
pub struct Settings {
    pub metric: Metric,
    pub proxies: Vec<Proxy>,
    pub hutchinson_probes: usize,
    pub seed: u64,
    pub shard: Option<Shard>,
}

/// One cell's measurement: the distance per batch, and the layer's output per batch when
/// recorded.
type Measured = (Vec<f64>, Vec<Tensor>);

/// Per-layer gradient statistics shared by the layer's cells.
#[derive(Default)]
struct LayerStats {
    /// Per batch: the fp32 output and (∂L/∂Y)².
    fisher: Option<Vec<OutputGradient>>,
    trace: Option<f64>,
}

/// Runs the analysis. With `journal`, finished cells are appended there and, with `resume`, the
/// cells already in it are not recomputed. `progress(done, total)` is called after each cell
/// (and once at the start, with the cells already finished).
pub fn analyze(
    model: &dyn RunnableModel,
    space: &ResolvedSpace,
    batches: &[Tensor],
    settings: &Settings,
    journal: Option<(&Path, bool)>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<SensitivityTable, SensitivityError> {
    if batches.is_empty() {
        return Err(SensitivityError::Invalid {
            what: "calibration data".into(),
            reason: "no batches: pass --calib N with N >= 1".into(),
        });
    }
    // Resuming checks the journal against the provenance before anything runs. Otherwise the
    // weights' hash (longer than smollm2's fp32 pass) runs beside the fp32 passes and the first
    // cells, and the journal opens when it is done: cells finished before wait in memory.
    let resume_from = journal.filter(|(path, resume)| *resume && path.exists());
    if let Some((path, false)) = journal {
        Journal::refuse_existing(path)?;
    }
    let sink = Mutex::new(match journal {
        Some(_) => Sink::Waiting(Vec::new()),
        None => Sink::Off,
    });
    let hashed: OnceLock<Result<Provenance, SensitivityError>> = OnceLock::new();
    let outcome = rayon::scope(|scope| {
        let (finished, staged) = match resume_from {
            Some((path, _)) => {
                let (provenance, staged) = rayon::join(
                    || provenance(model, space, batches, settings),
                    || staged_passes(model, batches, settings.metric),
                );
                let provenance = provenance?;
                let (opened, finished) = Journal::open(path, &provenance, settings.shard, true)?;
                lock(&sink)?.open(opened)?;
                let _ = hashed.set(Ok(provenance));
                (finished, staged?)
            }
            None => {
                scope.spawn(|_| {
                    let opened = provenance(model, space, batches, settings).and_then(|p| {
                        if let Some((path, _)) = journal {
                            let (opened, _) = Journal::open(path, &p, settings.shard, false)?;
                            lock(&sink)?.open(opened)?;
                        }
                        Ok(p)
                    });
                    let _ = hashed.set(opened);
                });
                (Vec::new(), staged_passes(model, batches, settings.metric)?)
            }
        };
        run_cells(
            model, space, batches, settings, finished, staged, &sink, progress,
        )
    });
    let (total_cells, finished) = outcome?;
    let provenance = match hashed.into_inner() {
        Some(result) => result?,
        None => unreachable_provenance()?,
    };
    drop(sink);
    Ok(SensitivityTable {
        schema: SENSITIVITY_SCHEMA.into(),
        provenance,
        shard: settings.shard,
        total_cells,
        ties: space.ties.clone(),
        cells: finished,
    })
}

/// The provenance is set on every path through [`analyze`]'s scope; this names the bug if not.
fn unreachable_provenance() -> Result<Provenance, SensitivityError> {
    Err(SensitivityError::Invalid {
        what: "the analysis's provenance".into(),
        reason: "the weights' hash did not run (a bug in bitplan)".into(),
    })
}

/// Runs every pending cell (all cells of the shard but `finished`), each group's cells going to
/// `sink` as the group finishes. Returns the table's total cells and every finished cell in
/// index order.
#[allow(clippy::too_many_arguments)]
fn run_cells(
    model: &dyn RunnableModel,
    space: &ResolvedSpace,
    batches: &[Tensor],
    settings: &Settings,
    mut finished: Vec<Cell>,
    staged: Vec<Staged>,
    sink: &Mutex<Sink>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<(usize, Vec<Cell>), SensitivityError> {
    let all = groups(model, space);
    let total_cells = all.iter().map(Vec::len).sum();
    // A shard takes whole groups: every n-th.
    let mine: Vec<Vec<CellJob>> = all
        .into_iter()
        .enumerate()
        .filter(|(index, _)| in_shard(settings.shard, *index))
        .map(|(_, group)| group)
        .collect();
    let mine_cells: usize = mine.iter().map(Vec::len).sum();
    let done_indices: BTreeSet<usize> = finished.iter().map(|c| c.index).collect();
    // A group with any cell left runs whole (the finished cells come out the same and are
    // not written again).
    let pending: Vec<&[CellJob]> = mine
        .iter()
        .filter(|group| group.iter().any(|job| !done_indices.contains(&job.index)))
        .map(Vec::as_slice)
        .collect();
    let done = AtomicUsize::new(done_indices.len());
    progress(done.load(Ordering::SeqCst), mine_cells);
    let pending_jobs: Vec<CellJob> = pending.iter().flat_map(|g| g.iter().cloned()).collect();
    let context = Context::new(model, space, batches, settings, &pending_jobs, staged)?;
    let run_group = |group: &[CellJob]| -> Result<Vec<Cell>, SensitivityError> {
        let cells = context.cells(group)?;
        let new: Vec<Cell> = cells
            .into_iter()
            .filter(|cell| !done_indices.contains(&cell.index))
            .collect();
        lock(sink)?.append(&new)?;
        progress(
            done.fetch_add(new.len(), Ordering::SeqCst) + new.len(),
            mine_cells,
        );
        Ok(new)
    };
    // Each worker takes the next group in order, and the order is by stage, so the longest runs
    // go first and the last ones to finish are short (rayon's halving of the list left one
    // worker with the early, long groups: smollm2's bench took 7.7 s where 5.9 s of work was).
    let runs: Vec<&[CellJob]> = split_tail(&pending, rayon::current_num_threads())
        .into_iter()
        .filter(|run| run.iter().any(|job| !done_indices.contains(&job.index)))
        .collect();
    let next = AtomicUsize::new(0);
    let outcomes = rayon::broadcast(|_| {
        let mut cells = Vec::new();
        while let Some(group) = runs.get(next.fetch_add(1, Ordering::SeqCst)) {
            match run_group(group) {
                Ok(new) => cells.extend(new),
                Err(error) => {
                    // The other workers stop at their next group.
                    next.store(runs.len(), Ordering::SeqCst);
                    return Err(error);
                }
            }
        }
        Ok(cells)
    });
    let mut computed = Vec::new();
    for outcome in outcomes {
        computed.extend(outcome?);
    }
    finished.extend(computed);
    finished.sort_by_key(|cell| cell.index);
    Ok((total_cells, finished))
}

/// One calibration batch's fp32 run: its outputs, the reference the cells are measured
/// against, and the state at the start of every stage (see [`staged_fp32`]).
struct Staged {
    outputs: Tensor,
    reference: Reference,
    states: Vec<Tensor>,
}

/// The fp32 run of every batch, with its reference for `metric`.
fn staged_passes(
    model: &dyn RunnableModel,
    batches: &[Tensor],
    metric: Metric,
) -> Result<Vec<Staged>, SensitivityError> {
    let fp32 = PreparedAssignment::fp32(model)?;
    batches
        .par_iter()
        .map(|batch| {
            let (outputs, states) = staged_fp32(model, batch, &fp32)?;
            let reference = Reference::new(metric, &outputs)?;
            Ok(Staged {
                outputs,
                reference,
                states,
            })
        })
        .collect()
}

/// What every cell shares: reference outputs, the fp32 state at the start of every stage of
/// every batch (a cell runs only the stages from its layer's on), calibration, layer statistics.
struct Context<'a> {
    model: &'a dyn RunnableModel,
    batches: &'a [Tensor],
    settings: &'a Settings,
    reference: Vec<Reference>,
    /// `states[batch][stage]`: what a run from `stage` starts from.
    states: Vec<Vec<Tensor>>,
    calibration: Option<Calibration>,
    stats: BTreeMap<String, LayerStats>,
}

impl<'a> Context<'a> {
    fn new(
        model: &'a dyn RunnableModel,
        space: &ResolvedSpace,
        batches: &'a [Tensor],
        settings: &'a Settings,
        pending: &[CellJob],
        staged: Vec<Staged>,
    ) -> Result<Self, SensitivityError> {
        let needs_ranges = space
            .layers
            .iter()
            .flat_map(|l| &l.candidates)
            .any(|c| c.activation.info().needs_calibration);
        let calibration = if needs_ranges {
            Some(Calibration::run(model, batches, DEFAULT_RANGE_METHOD)?)
        } else {
            None
        };
        let stats = if settings.proxies.iter().any(|p| *p != Proxy::Weight) {
            all_layer_stats(model, batches, &staged, settings, pending)?
        } else {
            BTreeMap::new()
        };
        let (reference, states) = staged.into_iter().map(|s| (s.reference, s.states)).unzip();
        Ok(Self {
            model,
            batches,
            settings,
            reference,
            states,
            calibration,
            stats,
        })
    }

    /// Per copy, the per-batch distance to the reference with `prepared`, run from `layer`'s
    /// stage, and (when `record`) the layer's own output per batch (for the Fisher proxy).
    /// `copies` > 1: each batch runs `copies` times side by side in one batch, for a layer
    /// whose prepared weight is a stack of that many weights.
    fn measure(
        &self,
        layer: &str,
        prepared: &PreparedAssignment,
        copies: usize,
        record: bool,
    ) -> Result<Vec<Measured>, SensitivityError> {
        let stage = self.model.stage_of(layer);
        let runs = self.batches.iter().zip(&self.states).zip(&self.reference);
        let mut measured = vec![(Vec::new(), Vec::new()); copies];
        for ((batch, states), reference) in runs {
            let repeat = |t: &Tensor| match copies {
                1 => Ok(t.clone()),
                _ => Tensor::cat(&vec![t; copies], 0),
            };
            let (input, state) = (repeat(batch)?, repeat(&states[stage])?);
            let mut outputs = BTreeMap::new();
            let mut ctx = LayerContext::new(prepared);
            if record {
                ctx = ctx.recording(&mut outputs);
            }
            let output = self.model.run_from(&input, stage, &state, &mut ctx, None)?;
            drop(ctx);
            for (slot, part) in measured.iter_mut().zip(output.chunk(copies, 0)?) {
                slot.0.push(reference.distance(&part)?);
            }
            if let Some(recorded) = outputs.remove(layer) {
                for (slot, part) in measured.iter_mut().zip(recorded.chunk(copies, 0)?) {
                    slot.1.push(part);
                }
            }
        }
        Ok(measured)
    }

    /// The cells of one group (see [`groups`]): one run for all of them.
    fn cells(&self, group: &[CellJob]) -> Result<Vec<Cell>, SensitivityError> {
        let graph = self.model.graph();
        let first = &group[0];
        let formats = |job: &CellJob| LayerFormats {
            weight: job.candidate.weight,
            activation: job.candidate.activation,
        };
        let prepared = match group {
            [job] => {
                let assignment = Assignment::fp32(graph).with_layer(&job.layer, formats(job));
                PreparedAssignment::new(self.model, &assignment, self.calibration.as_ref())?
            }
            _ => {
                // The activation format the group shares; the weight a stack of the candidates'.
                let shared = LayerFormats {
                    weight: Format::Fp32,
                    activation: first.candidate.activation,
                };
                let assignment = Assignment::fp32(graph).with_layer(&first.layer, shared);
                let mut prepared =
                    PreparedAssignment::new(self.model, &assignment, self.calibration.as_ref())?;
                let weights = group
                    .iter()
                    .map(|job| quantized_weight(self.model, job))
                    .collect::<Result<Vec<_>, _>>()?;
                if let Some(entry) = prepared.layers.get_mut(&first.layer) {
                    entry.weight = Some(Tensor::stack(&weights, 0)?);
                }
                prepared
            }
        };
        let record = self
            .stats
            .get(&first.layer)
            .is_some_and(|s| s.fisher.is_some());
        let measured = self.measure(&first.layer, &prepared, group.len(), record)?;
        let layer = graph.layer(&first.layer);
        group
            .iter()
            .zip(measured)
            .map(|(job, (values, layer_outputs))| {
                let weight_bits = layer.filter(|l| l.has_weight()).map_or(0.0, |l| {
                    job.candidate.weight.bits_per_element(&l.weight_shape)
                });
                Ok(Cell {
                    index: job.index,
                    layer: job.layer.clone(),
                    candidate: job.candidate.name.clone(),
                    weight_format: job.candidate.weight.to_string(),
                    activation_format: job.candidate.activation.to_string(),
                    weight_bits,
                    weight_elements: layer.map_or(0, |l| l.weight_shape.iter().product()),
                    error: Estimate::from_values(&values),
                    proxies: self.proxies(job, &layer_outputs)?,
                })
            })
            .collect()
    }

    fn proxies(
        &self,
        job: &CellJob,
        layer_outputs: &[Tensor],
    ) -> Result<Proxies, SensitivityError> {
        let mut proxies = Proxies::default();
        // Quantizing the weight again costs as much as a small forward (a 30k-row embedding).
        let wanted = !self.settings.proxies.is_empty();
        let Some(weight) = self.model.weight(&job.layer).filter(|_| wanted) else {
            return Ok(proxies);
        };
        let quantized = quantized_weight(self.model, job)?;
        let metrics = error_metrics(weight, &quantized).map_err(|e| SensitivityError::Invalid {
            what: format!("layer `{}`", job.layer),
            reason: e.to_string(),
        })?;
        if self.settings.proxies.contains(&Proxy::Weight) {
            proxies.weight_mse = Some(metrics.mse);
            // +inf (an unchanged weight) has no JSON number: left out.
            proxies.weight_sqnr_db = metrics.sqnr_db.is_finite().then_some(metrics.sqnr_db);
        }
        let stats = self.stats.get(&job.layer);
        if let Some(gradients) = stats.and_then(|s| s.fisher.as_ref()) {
            proxies.fisher = Some(output_fisher_score(gradients, layer_outputs)?);
        }
        if let Some(trace) = stats.and_then(|s| s.trace) {
            // Tr(H)/n · ‖Q(W) − W‖², and ‖Q(W) − W‖² = n · mse.
            proxies.hessian = Some(trace * metrics.mse);
        }
        Ok(proxies)
    }
}

/// The cell's layer weight fake-quantized to its candidate's weight format.
fn quantized_weight(model: &dyn RunnableModel, job: &CellJob) -> Result<Tensor, SensitivityError> {
    let invalid = |reason: String| SensitivityError::Invalid {
        what: format!(
            "layer `{}` weight format {}",
            job.layer, job.candidate.weight
        ),
        reason,
    };
    let weight = model
        .weight(&job.layer)
        .ok_or_else(|| invalid("the layer has no weight".into()))?;
    fake_quant_weight(job.candidate.weight, weight).map_err(|e| invalid(e.to_string()))
}

/// Gradient statistics of every pending layer, with the fp32 model's predictions as labels.
fn all_layer_stats(
    model: &dyn RunnableModel,
    batches: &[Tensor],
    staged: &[Staged],
    settings: &Settings,
    pending: &[CellJob],
) -> Result<BTreeMap<String, LayerStats>, SensitivityError> {
    let mut layers: Vec<(usize, String)> = Vec::new();
    for job in pending {
        if !layers.iter().any(|(_, name)| *name == job.layer) {
            let position = model
                .graph()
                .layers
                .iter()
                .position(|l| l.name == job.layer)
                .unwrap_or(0);
            layers.push((position, job.layer.clone()));
        }
    }
    let labelled = batches
        .iter()
        .zip(staged)
        .map(|(batch, staged)| Ok((batch.clone(), pseudo_labels(&staged.outputs)?)))
        .collect::<Result<Vec<_>, SensitivityError>>()?;
    layers.retain(|(_, layer)| model.weight(layer).is_some());
    // One backward pass per batch gives every layer's ∂L/∂Y.
    let mut fisher = if settings.proxies.contains(&Proxy::Fisher) {
        let names: Vec<String> = layers.iter().map(|(_, name)| name.clone()).collect();
        all_output_gradients(model, &names, &labelled)?
    } else {
        BTreeMap::new()
    };
    let mut stats: BTreeMap<String, LayerStats> = layers
        .par_iter()
        .map(|(position, layer)| {
            Ok((
                layer.clone(),
                layer_stats(model, layer, *position, &labelled, settings)?,
            ))
        })
        .collect::<Result<_, SensitivityError>>()?;
    for (layer, entry) in &mut stats {
        entry.fisher = fisher.remove(layer);
    }
    Ok(stats)
}

/// A layer's Hessian trace, when asked for.
fn layer_stats(
    model: &dyn RunnableModel,
    layer: &str,
    position: usize,
    batches: &[(Tensor, Tensor)],
    settings: &Settings,
) -> Result<LayerStats, SensitivityError> {
    let mut stats = LayerStats::default();
    let Some(weight) = model.weight(layer) else {
        return Ok(stats);
    };
    if settings.proxies.contains(&Proxy::Hessian) {
        // A per-layer seed, so the estimate does not depend on which thread runs which layer.
        let seed = settings.seed ^ (position as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        stats.trace = Some(hessian_trace(
            model,
            layer,
            weight,
            batches,
            settings.hutchinson_probes,
            seed,
        )?);
    }
    Ok(stats)
}
