//! Latency validation of the cost model against a real runtime: K random mixed plans of a
//! model's linear layers, each layer run with candle's kernel for its planned GGML type, and the
//! measured time compared with the profile's predicted `latency_us` for the same layer,
//! candidate and batch.
//!
//! What runs: each linear layer alone, `rows = batch x seq` activation rows of the layer's real
//! input width times a weight of the layer's real shape (random, seeded: timing does not depend
//! on the values). Every layer of the model gets its own weight buffer, as in the real model.
//! Weights are cold, as the profile prices them (streamed from DRAM, as calibration measured):
//! [`COLD_BYTES`] are read between two passes over a plan, so no pass finds weights the one
//! before it left in the cache. (A small model run in a tight loop keeps its weights cached and
//! runs faster than this; the cost model does not price cache-resident weights.) Every plan is
//! passed `repeats` times, the passes going round the plans (all plans once, then again), and each
//! layer's time is its fastest call (other processes and a drifting machine only ever add time).
//! Each pass runs with the stack at another offset (seeded; see
//! [`crate::hardware::calibrate::layout::on_shifted_stack`]), as calibration's passes do, so the
//! fastest call does not depend on where this process's stack happened to sit.
//! A plan's measured latency is the sum of its layers' times, like its predicted one. Tie groups
//! of the space are not applied: the cost model prices each layer alone, so any admissible mix
//! tests it.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use super::error::ValidateError;
use super::latency_summary::{summarize, LatencySummary};
use crate::hardware::calibrate::layout::{on_shifted_stack, stack_shift};
use crate::hardware::calibrate::measure::{
    activation_kernel, cache_flusher, float_dtype, flush_caches, load_average, prepare_copies,
    random_tensor, rng_for, time_call, with_page_aligned, Weight, COLD_BYTES,
};
use crate::hardware::calibrate::Kernel;
use crate::hardware::formats::QuantCatalog;
use crate::hardware::table::LayerCosts;
use crate::hardware::{cost_table_for_space, CostTable, Profile};
use crate::model::{Graph, Layer, OpKind};
use crate::space::{ResolvedLayer, ResolvedSpace};

/// The `schema` of a latency validation report.
pub const LATENCY_SCHEMA: &str = "bitplan.latency-validation/1";

/// What to measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencySettings {
    /// Random plans to draw and run (K).
    pub samples: usize,
    /// Seed of the plan draws and of the random weights and activations.
    pub seed: u64,
    /// Passes over each plan; a layer's time is the fastest of them.
    pub repeats: usize,
    /// Samples per call.
    pub batch: u64,
    /// Tokens per sample (1: one decoding step per sequence).
    pub seq: u64,
    /// How plans are drawn.
    pub draw: Draw,
}

/// How the K plans are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Draw {
    /// Plan i aims at a level t = (i + 1/2) / K between each layer's fewest and most weight bits
    /// and gives every layer a random option within a quarter of the range around it: plans
    /// spread from mostly-small to mostly-large formats, as the plans a budget sweep compares
    /// do. Options are ordered by bits per weight, never by predicted latency.
    Stratified,
    /// Every layer an independent uniform option: plans cluster around the average mix (their
    /// totals differ by a few percent), a test of the error on a sum more than of ranking.
    Uniform,
}

impl std::str::FromStr for Draw {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "stratified" => Ok(Self::Stratified),
            "uniform" => Ok(Self::Uniform),
            other => Err(format!(
                "unknown draw `{other}`: valid draws are stratified, uniform"
            )),
        }
    }
}

/// Half the width of the window of option ranks around a stratified plan's level.
const STRATIFIED_HALF_WINDOW: f64 = 0.25;

/// One layer of one plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerTiming {
    pub layer: String,
    pub candidate: String,
    pub predicted_us: f64,
    pub measured_us: f64,
}

/// One plan: its layers' candidates and times, and the load average when it started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanTiming {
    pub plan: usize,
    pub predicted_us: f64,
    pub measured_us: f64,
    /// 1, 5 and 15 minute load averages when the plan started (None off Linux).
    pub load_average: Option<[f64; 3]>,
    pub layers: Vec<LayerTiming>,
}

/// The whole validation, as `bitplan profile validate --json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyValidation {
    pub schema: String,
    pub model: String,
    pub profile: String,
    pub space: String,
    pub settings: LatencySettings,
    /// Activation rows per call (batch x seq).
    pub rows: u64,
    /// Threads candle's kernels ran on.
    pub threads: usize,
    /// How a layer's time is taken from its repeated calls.
    pub statistic: String,
    /// Bytes read between two passes over a plan, so that every pass finds its weights in DRAM.
    pub flush_bytes: usize,
    pub summary: LatencySummary,
    pub plans: Vec<PlanTiming>,
}

/// A linear layer with the candidates it can run, each with its predicted latency.
struct RunLayer {
    name: String,
    cols: usize,
    depth: usize,
    /// (candidate, kernel, predicted latency us), ordered by bits per weight (ties: as the
    /// space lists them).
    options: Vec<(String, Kernel, f64)>,
}

/// Draws and runs `settings.samples` random plans of `graph`'s linear layers under `space`, and
/// compares them with `profile`'s predictions. `progress(done, total)` runs after each plan.
pub fn validate_latency(
    profile: &Profile,
    graph: &Graph,
    space: &ResolvedSpace,
    settings: &LatencySettings,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<LatencyValidation, ValidateError> {
    check_settings(settings)?;
    let table = cost_table_for_space(
        profile,
        graph,
        space,
        &QuantCatalog,
        settings.batch,
        settings.seq,
    )?;
    let layers = runnable_layers(graph, &table, space)?;
    let plans = draw_plans(&layers, settings.samples, settings.seed, settings.draw);
    let rows = (settings.batch * settings.seq) as usize;
    let bench = with_page_aligned(|| Bench::prepare(&layers, &plans, rows, settings.seed))?;
    // Passes go round the plans (every plan once, then again), so that each plan's fastest
    // calls come from moments spread over the whole run: a machine that drifts during the run
    // (whole runs differ by up to 8% here) then shifts no plan against the others, as it did
    // when plans drawn in order of level were each passed back to back.
    let total = plans.len() * settings.repeats;
    progress(0, total);
    let mut fastest = vec![vec![f64::INFINITY; layers.len()]; plans.len()];
    let mut load_averages = vec![None; plans.len()];
    for pass in 0..settings.repeats {
        for (index, plan) in plans.iter().enumerate() {
            if pass == 0 {
                load_averages[index] = load_average();
            }
            let shift = stack_shift(settings.seed, pass * plans.len() + index);
            on_shifted_stack(shift, &mut || {
                bench.pass(plan, &layers, &mut fastest[index])
            })?;
            progress(pass * plans.len() + index + 1, total);
        }
    }
    let timings: Vec<PlanTiming> = plans
        .iter()
        .zip(&fastest)
        .zip(load_averages)
        .enumerate()
        .map(|(index, ((plan, fastest), load))| timing(index, plan, &layers, fastest, load))
        .collect();
    Ok(LatencyValidation {
        schema: LATENCY_SCHEMA.to_string(),
        model: graph.model.clone(),
        profile: profile.name.clone(),
        space: space.space.clone(),
        settings: settings.clone(),
        rows: rows as u64,
        threads: candle_core::utils::get_num_threads(),
        statistic: format!("fastest of {} calls per layer", settings.repeats),
        flush_bytes: COLD_BYTES,
        summary: summarize(&timings),
        plans: timings,
    })
}

fn check_settings(settings: &LatencySettings) -> Result<(), ValidateError> {
    let bad = |field: &'static str, value: String| ValidateError::Setting {
        field,
        value,
        expected: ">= 1".into(),
    };
    if settings.samples == 0 {
        return Err(bad("--samples", "0".into()));
    }
    if settings.repeats == 0 {
        return Err(bad("--repeats", "0".into()));
    }
    if settings.batch == 0 || settings.seq == 0 {
        let value = format!("batch {} seq {}", settings.batch, settings.seq);
        return Err(bad("--batch/--seq", value));
    }
    Ok(())
}

/// The kernel a layer runs with for these formats, as candle runs them: GGML block types with
/// fp32 activations through `QMatMul`; float weights in their own type with activations of the
/// same type; fp16 or bf16 weights with fp32 activations as an f32 matmul (`QMatMul`
/// dequantizes F16 and BF16 tensors to f32 when it loads them).
fn runnable(weight: &str, activation: &str) -> Option<Kernel> {
    let kernel = Kernel::for_weight_format(weight)?;
    match kernel {
        Kernel::F32 | Kernel::F16 | Kernel::Bf16 if activation == weight => Some(kernel),
        Kernel::F16 | Kernel::Bf16 if activation == "fp32" => Some(Kernel::F32),
        _ => (activation == "fp32").then_some(kernel),
    }
}

fn runnable_layers(
    graph: &Graph,
    table: &CostTable,
    space: &ResolvedSpace,
) -> Result<Vec<RunLayer>, ValidateError> {
    let layers: Vec<RunLayer> = graph
        .layers
        .iter()
        .zip(&table.layers)
        .zip(&space.layers)
        .filter(|((layer, _), _)| layer.op == OpKind::Linear)
        .map(|((layer, costs), resolved)| run_layer(layer, costs, resolved, &space.space))
        .collect::<Result<_, _>>()?;
    if layers.is_empty() {
        return Err(ValidateError::NoLinearLayers {
            model: graph.model.clone(),
        });
    }
    Ok(layers)
}

/// One linear layer's runnable candidates with their predicted latencies.
fn run_layer(
    layer: &Layer,
    costs: &LayerCosts,
    resolved: &ResolvedLayer,
    space: &str,
) -> Result<RunLayer, ValidateError> {
    // The formats this layer runs under each candidate (the space resolves them per layer).
    let formats = |name: &str| {
        let candidate = resolved.candidates.iter().find(|c| c.name == name)?;
        Some((
            candidate.weight.to_string(),
            candidate.activation.to_string(),
            candidate.weight.bits_per_element(&layer.weight_shape),
        ))
    };
    let mut ranked: Vec<(f64, (String, Kernel, f64))> = costs
        .costs
        .iter()
        .filter_map(|cost| {
            let (weight, activation, bits) = formats(&cost.candidate)?;
            let kernel = runnable(&weight, &activation)?;
            Some((bits, (cost.candidate.clone(), kernel, cost.cost.latency_us)))
        })
        .collect();
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
    let options: Vec<(String, Kernel, f64)> = ranked.into_iter().map(|(_, o)| o).collect();
    if options.is_empty() {
        let admitted: Vec<String> = costs
            .costs
            .iter()
            .map(|cost| match formats(&cost.candidate) {
                Some((weight, activation, _)) => {
                    format!("{} ({weight}:{activation})", cost.candidate)
                }
                None => cost.candidate.clone(),
            })
            .collect();
        return Err(ValidateError::NoRunnableCandidate {
            space: space.to_string(),
            layer: layer.name.clone(),
            admitted: admitted.join(", "),
            runnable: Kernel::ALL.map(Kernel::weight_format).join(", "),
        });
    }
    let &[cols, depth] = layer.weight_shape.as_slice() else {
        return Err(ValidateError::Candidate {
            candidate: layer.name.clone(),
            reason: format!(
                "a linear layer's weight is [out, in], not {:?}",
                layer.weight_shape
            ),
        });
    };
    Ok(RunLayer {
        name: layer.name.clone(),
        cols,
        depth,
        options,
    })
}

/// `samples` plans, each an option index per layer (see [`Draw`]).
fn draw_plans(layers: &[RunLayer], samples: usize, seed: u64, draw: Draw) -> Vec<Vec<usize>> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..samples)
        .map(|plan| {
            let level = (plan as f64 + 0.5) / samples as f64;
            layers
                .iter()
                .map(|layer| {
                    let count = layer.options.len();
                    match draw {
                        Draw::Uniform => rng.random_range(0..count),
                        Draw::Stratified => {
                            let offset = rng.random_range(-1.0..1.0) * STRATIFIED_HALF_WINDOW;
                            let rank = (level + offset).clamp(0.0, 1.0);
                            (rank * (count - 1) as f64).round() as usize
                        }
                    }
                })
                .collect()
        })
        .collect()
}

/// Prepared weights (one per layer and kernel any plan uses), inputs (one per width) and the
/// buffer read between passes.
struct Bench {
    weights: BTreeMap<(usize, Kernel), Weight>,
    inputs: BTreeMap<(usize, Kernel), candle_core::Tensor>,
    flusher: Vec<f32>,
}

impl Bench {
    fn prepare(
        layers: &[RunLayer],
        plans: &[Vec<usize>],
        rows: usize,
        seed: u64,
    ) -> Result<Bench, ValidateError> {
        // Layers needing each (kernel, cols, depth): quantized once, then copied per layer.
        let mut groups: BTreeMap<(Kernel, usize, usize), Vec<usize>> = BTreeMap::new();
        for (index, layer) in layers.iter().enumerate() {
            for (option, (_, kernel, _)) in layer.options.iter().enumerate() {
                if plans.iter().any(|plan| plan[index] == option) {
                    let key = (*kernel, layer.cols, layer.depth);
                    groups.entry(key).or_default().push(index);
                }
            }
        }
        let mut bench = Bench {
            weights: BTreeMap::new(),
            inputs: BTreeMap::new(),
            flusher: cache_flusher(),
        };
        for ((kernel, cols, depth), members) in groups {
            let mut rng = rng_for(seed, &[kernel as usize, cols, depth]);
            let master = random_tensor(&mut rng, cols, depth)?;
            let copies = prepare_copies(kernel, &master, members.len())?;
            let keys = members.iter().map(|&index| (index, kernel));
            bench.weights.extend(keys.zip(copies));
            bench.input(kernel, rows, depth, seed)?;
        }
        bench.warm_up(layers)?;
        Ok(bench)
    }

    fn input(
        &mut self,
        kernel: Kernel,
        rows: usize,
        depth: usize,
        seed: u64,
    ) -> Result<(), ValidateError> {
        let key = (depth, activation_kernel(kernel));
        if let Entry::Vacant(slot) = self.inputs.entry(key) {
            let mut rng = rng_for(seed, &[rows, depth]);
            slot.insert(random_tensor(&mut rng, rows, depth)?.to_dtype(float_dtype(kernel))?);
        }
        Ok(())
    }

    /// One call per weight: candle builds its repacked weight layouts on the first call.
    fn warm_up(&self, layers: &[RunLayer]) -> Result<(), ValidateError> {
        for (&(index, kernel), weight) in &self.weights {
            let input = &self.inputs[&(layers[index].depth, activation_kernel(kernel))];
            time_call(input, weight)?;
        }
        Ok(())
    }

    /// One pass over a plan's layers after a cache flush, keeping each layer's fastest call.
    fn pass(
        &self,
        plan: &[usize],
        layers: &[RunLayer],
        fastest: &mut [f64],
    ) -> Result<(), ValidateError> {
        flush_caches(&self.flusher);
        for (position, layer) in layers.iter().enumerate() {
            let kernel = layer.options[plan[position]].1;
            let input = &self.inputs[&(layer.depth, activation_kernel(kernel))];
            let seconds = time_call(input, &self.weights[&(position, kernel)])?;
            fastest[position] = fastest[position].min(seconds);
        }
        Ok(())
    }
}

/// A plan's timing from each layer's fastest call.
fn timing(
    index: usize,
    plan: &[usize],
    layers: &[RunLayer],
    fastest: &[f64],
    load_average: Option<[f64; 3]>,
) -> PlanTiming {
    let timings: Vec<LayerTiming> = layers
        .iter()
        .zip(plan)
        .zip(fastest)
        .map(|((layer, &option), &seconds)| LayerTiming {
            layer: layer.name.clone(),
            candidate: layer.options[option].0.clone(),
            predicted_us: layer.options[option].2,
            measured_us: seconds * 1e6,
        })
        .collect();
    PlanTiming {
        plan: index,
        predicted_us: timings.iter().map(|t| t.predicted_us).sum(),
        measured_us: timings.iter().map(|t| t.measured_us).sum(),
        load_average,
        layers: timings,
    }
}
