//! Prefix reuse: a run started mid-network from the cached fp32 state gives exactly the output of
//! a full run (minilm and smollm2), and `analyze`, which runs every cell that way, gives the same
//! cells as measuring with full forward passes. Needs the fixtures (`scripts/fetch-fixtures`).

mod common;

use bitplan::data::{fixture_path, moby_dick, spam_assassin};
use bitplan::model::bert::spam_eval::analysis_batches;
use bitplan::model::bert::{Bert, SpamEvalSettings, MINILM_FIXTURE};
use bitplan::model::executor::staged_fp32;
use bitplan::model::llama::{Llama, SMOLLM2_FIXTURE};
use bitplan::model::{Assignment, LayerContext, LayerFormats, PreparedAssignment, RunnableModel};
use bitplan::quant::Format;
use bitplan::sensitivity::grad::{all_output_gradients, output_gradients, pseudo_labels};
use bitplan::sensitivity::measure::{measure, reference_outputs};
use bitplan::sensitivity::{analyze, Metric, SensitivityTable, Settings, Shard};
use bitplan::space::{resolve, ResolvedSpace, SearchSpace};
use candle_core::Tensor;
use common::max_abs_diff;

/// Largest relative difference allowed between a cell of `analyze` and the same cell measured
/// with full forward passes (the issue's bound; the runs are in fact bit-identical).
const MAX_RELATIVE_CELL_DIFF: f64 = 1e-6;

const SPACE: &str = r#"
description = "test space"
[candidates]
w4 = { weight = "int4-sym-pc", activation = "fp32" }
w2 = { weight = "int2-sym-pc", activation = "fp32" }
[op-kinds]
linear = ["w4", "w2"]
embedding = ["w4"]
"#;

fn minilm() -> (Bert, Vec<Tensor>) {
    let dir = fixture_path(MINILM_FIXTURE).unwrap_or_else(|e| panic!("{e}"));
    let bert = Bert::load(&dir).unwrap();
    let files = spam_assassin::list_fixture().unwrap_or_else(|e| panic!("{e}"));
    let batches = analysis_batches(&bert, &files, &SpamEvalSettings::default(), 24, 32).unwrap();
    (bert, batches)
}

fn smollm2() -> (Llama, Tensor) {
    let path = fixture_path(SMOLLM2_FIXTURE).unwrap_or_else(|e| panic!("{e}"));
    let llama = Llama::load(&path).unwrap();
    let text = moby_dick::chapter(1).unwrap();
    let ids: Vec<u32> = llama.tokenizer.encode(&text).unwrap()[..40].to_vec();
    let ids = Llama::ids_tensor(&ids).unwrap();
    (llama, ids)
}

/// The test space on the layers `picks` chooses from the layer count (a few layers spread over
/// the network keep the tests short).
fn space_on(model: &dyn RunnableModel, picks: fn(usize) -> Vec<usize>) -> ResolvedSpace {
    let space = SearchSpace::parse(SPACE, "test.toml").unwrap();
    let mut resolved = resolve(&space, model.graph()).unwrap();
    let keep = picks(resolved.layers.len());
    resolved.layers = keep.iter().map(|&i| resolved.layers[i].clone()).collect();
    resolved
}

/// Measured error only, seed 0.
fn settings(metric: Metric, shard: Option<Shard>) -> Settings {
    Settings {
        metric,
        proxies: vec![],
        hutchinson_probes: 0,
        seed: 0,
        shard,
    }
}

fn only(model: &dyn RunnableModel, layer: &str, format: &str) -> PreparedAssignment {
    let formats = LayerFormats {
        weight: format.parse().unwrap(),
        activation: Format::Fp32,
    };
    let assignment = Assignment::fp32(model.graph()).with_layer(layer, formats);
    PreparedAssignment::new(model, &assignment, None).unwrap()
}

/// For the layers `picks` chooses (given the layer count): run from the layer's stage equals the
/// full run bit for bit, and the fp32 staged run equals the plain forward.
fn check_resumed_runs_equal_full_runs(
    model: &dyn RunnableModel,
    input: &Tensor,
    picks: fn(usize) -> Vec<usize>,
) {
    let fp32 = PreparedAssignment::fp32(model).unwrap();
    let (logits, states) = staged_fp32(model, input, &fp32).unwrap();
    assert!(model.stages() > 2, "{} has stages", model.graph().model);
    assert_eq!(states.len(), model.stages());
    let plain = model.forward(input, &fp32).unwrap();
    assert_eq!(max_abs_diff(&logits, &plain), 0.0);
    let layers = &model.graph().layers;
    let picks = picks(layers.len());
    let mut stages_seen = Vec::new();
    for pick in picks {
        let layer = &layers[pick].name;
        let stage = model.stage_of(layer);
        stages_seen.push(stage);
        let prepared = only(model, layer, "int4-sym-pc");
        let full = model.forward(input, &prepared).unwrap();
        let mut ctx = LayerContext::new(&prepared);
        let resumed = model
            .run_from(input, stage, &states[stage], &mut ctx, None)
            .unwrap();
        assert_eq!(
            max_abs_diff(&full, &resumed),
            0.0,
            "layer {layer} stage {stage}"
        );
        assert!(
            max_abs_diff(&full, &plain) > 0.0,
            "layer {layer} changes the output"
        );
    }
    assert!(
        stages_seen.windows(2).all(|w| w[0] <= w[1]),
        "{stages_seen:?}"
    );
    assert!(stages_seen.last() > stages_seen.first(), "{stages_seen:?}");
    let beyond = model.stages();
    let error = model
        .run_from(input, beyond, input, &mut LayerContext::new(&fp32), None)
        .unwrap_err()
        .to_string();
    assert!(error.contains(&format!("stage {beyond}")), "{error}");
}

#[test]
fn minilm_resumed_runs_equal_full_runs() {
    let (bert, batches) = minilm();
    // Every layer: each of a block's six linear layers has a stage of its own.
    check_resumed_runs_equal_full_runs(&bert, &batches[0], |layers| (0..layers).collect());
}

#[test]
fn smollm2_resumed_runs_equal_full_runs() {
    let (llama, ids) = smollm2();
    let spread = |layers: usize| vec![0, layers / 3, layers / 2 + 1, layers - 1];
    check_resumed_runs_equal_full_runs(&llama, &ids, spread);
}

/// `analyze` (runs from each layer's stage) against full forward passes, cell by cell.
fn check_cells_equal_full_forwards(model: &dyn RunnableModel, batches: &[Tensor], metric: Metric) {
    let resolved = space_on(model, |count| vec![0, count / 2, count - 1]);
    let settings = settings(metric, None);
    let table = analyze(model, &resolved, batches, &settings, None, &|_, _| {}).unwrap();
    let reference = reference_outputs(model, batches, metric).unwrap();
    assert_eq!(table.cells.len(), 5);
    for cell in &table.cells {
        let prepared = only(model, &cell.layer, &cell.weight_format);
        let values = measure(model, &prepared, batches, &reference).unwrap();
        let full = values.iter().sum::<f64>() / values.len() as f64;
        let relative = (cell.error.mean - full).abs() / full.abs().max(f64::MIN_POSITIVE);
        assert!(full > 0.0, "{} {}", cell.layer, cell.candidate);
        assert!(
            relative <= MAX_RELATIVE_CELL_DIFF,
            "{} {}: analyze {} vs full forwards {full}",
            cell.layer,
            cell.candidate,
            cell.error.mean
        );
    }
}

#[test]
fn minilm_cells_equal_full_forward_measurements() {
    let (bert, batches) = minilm();
    check_cells_equal_full_forwards(&bert, &batches[..2], Metric::Cosine);
}

#[test]
fn smollm2_cells_equal_full_forward_measurements() {
    let (llama, ids) = smollm2();
    check_cells_equal_full_forwards(&llama, &[ids], Metric::Kl);
}

#[test]
fn minilm_table_is_identical_with_one_and_two_threads() {
    let (bert, batches) = minilm();
    let resolved = space_on(&bert, |count| vec![1, count / 3, count - 2]);
    let settings = settings(Metric::Cosine, None);
    let run = |threads| on_threads(threads, &bert, &resolved, &batches[..2], &settings);
    assert_eq!(run(1), run(2));
}

/// The table `analyze` writes on a pool of `threads` workers, as JSON.
fn on_threads(
    threads: usize,
    model: &dyn RunnableModel,
    space: &ResolvedSpace,
    batches: &[Tensor],
    settings: &Settings,
) -> String {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let table = pool
        .install(|| analyze(model, space, batches, settings, None, &|_, _| {}))
        .unwrap();
    serde_json::to_string(&table).unwrap()
}

/// The last groups are split in two per worker (see `split_tail`): with one worker smollm2's first
/// group runs stacked and its second split, with two both split, and the tables are identical.
#[test]
fn smollm2_table_is_identical_stacked_and_split() {
    let (llama, ids) = smollm2();
    let resolved = space_on(&llama, |count| vec![5, count / 2]);
    let settings = settings(Metric::Kl, None);
    let batches = [ids];
    let run = |threads| on_threads(threads, &llama, &resolved, &batches, &settings);
    assert_eq!(run(1), run(2));
}

/// A layer's candidates run stacked in one batch (smollm2): a kill that leaves part of a group
/// in the journal, then `--resume`, and two shards merged, each give the table of one whole run.
#[test]
fn smollm2_stacked_groups_resume_and_shard_to_the_same_table() {
    let (llama, ids) = smollm2();
    let resolved = space_on(&llama, |count| vec![5, count / 2]);
    let batches = [ids];
    let dir = std::env::temp_dir().join(format!("bitplan-stacked-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let journal = dir.join("sens.json.journal");
    let run = |shard, journal: Option<(&std::path::Path, bool)>| {
        analyze(
            &llama,
            &resolved,
            &batches,
            &settings(Metric::Kl, shard),
            journal,
            &|_, _| {},
        )
        .unwrap()
    };
    let whole = run(None, Some((&journal, false)));
    assert_eq!(whole.cells.len(), 4);
    let json = |table: &SensitivityTable| serde_json::to_string(&table.cells).unwrap();
    // Keep the header and the first cell of the first group.
    let text = std::fs::read_to_string(&journal).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&journal, format!("{}\n", lines[..2].join("\n"))).unwrap();
    let resumed = run(None, Some((&journal, true)));
    assert_eq!(json(&whole), json(&resumed));
    let written = std::fs::read_to_string(&journal).unwrap().lines().count();
    assert_eq!(written, 1 + 4, "each cell journaled once");
    // Shards take whole groups.
    let shards: Vec<SensitivityTable> = (1..=2)
        .map(|index| run(Some(Shard { index, count: 2 }), None))
        .collect();
    assert_eq!(shards[0].cells.len(), 2);
    let mut cells: Vec<_> = shards.into_iter().flat_map(|s| s.cells).collect();
    cells.sort_by_key(|cell| cell.index);
    assert_eq!(
        serde_json::to_string(&cells).unwrap(),
        serde_json::to_string(&whole.cells).unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The LM forward is differentiable end to end (own norms, softmax and rotary embedding): one
/// backward pass gives ∂L/∂Y at every quantizable layer, the embedding included, and each equals
/// the gradient of a pass for that layer alone.
#[test]
fn smollm2_output_gradients_reach_every_layer_in_one_pass() {
    let (llama, ids) = smollm2();
    let fp32 = PreparedAssignment::fp32(&llama).unwrap();
    let labels = pseudo_labels(&llama.forward(&ids, &fp32).unwrap()).unwrap();
    let batches = [(ids, labels)];
    let names: Vec<String> = llama
        .graph()
        .layers
        .iter()
        .map(|l| l.name.clone())
        .collect();
    let all = all_output_gradients(&llama, &names, &batches).unwrap();
    for name in &names {
        let squared = &all[name][0].squared_gradient;
        let total = squared.sum_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(total > 0.0, "no gradient reaches {name}");
    }
    for name in [&names[0], &names[names.len() / 2], &names[names.len() - 1]] {
        let alone = &output_gradients(&llama, name, &batches).unwrap()[0];
        let joint = &all[name][0];
        assert_eq!(
            max_abs_diff(&alone.squared_gradient, &joint.squared_gradient),
            0.0
        );
        assert_eq!(max_abs_diff(&alone.output, &joint.output), 0.0);
    }
}
