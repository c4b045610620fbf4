//! The analysis on fashion-cnn with a small calibration set: fp32 cells are exactly 0, the table
//! does not depend on the thread count, a killed run resumes to the same table without
//! recomputing finished cells, and shards merged equal one run.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use bitplan::model::reference::load_image_classifier;
use bitplan::model::RunnableModel;
use bitplan::sensitivity::journal::{journal_path, write_table};
use bitplan::sensitivity::merge::merge;
use bitplan::sensitivity::{analyze, Metric, Proxy, SensitivityTable, Settings, Shard};
use bitplan::space::{resolve, ResolvedSpace, SearchSpace};
use candle_core::{Device, Tensor};

/// Two batches of 32 images: enough for a standard error, small enough to keep tests quick.
const CALIB_IMAGES: usize = 64;

const SPACE: &str = r#"
description = "test space"
[candidates]
fp32 = { weight = "fp32", activation = "fp32" }
w4 = { weight = "int4-sym-pc", activation = "fp32" }
w8a8 = { weight = "int8-sym-pc", activation = "int8-asym-pt" }
[op-kinds]
conv2d = ["fp32", "w4", "w8a8"]
depthwise-conv2d = ["fp32", "w4"]
linear = ["fp32", "w4"]
"#;

fn setup() -> (bitplan::model::reference::ImageClassifier, ResolvedSpace, Vec<Tensor>) {
    let classifier = load_image_classifier("fashion-cnn", None).expect("fashion-cnn");
    let space = SearchSpace::parse(SPACE, "test.toml").expect("space");
    let resolved = resolve(&space, classifier.model.graph()).expect("resolves");
    let batches = classifier
        .calibration
        .batch_ranges(32, Some(CALIB_IMAGES))
        .into_iter()
        .map(|(s, e)| classifier.calibration.batch(s, e, &Device::Cpu).expect("batch").pixels)
        .collect();
    (classifier, resolved, batches)
}

fn settings(shard: Option<Shard>) -> Settings {
    Settings { metric: Metric::Kl, proxies: vec![Proxy::Weight, Proxy::Fisher], hutchinson_probes: 0, seed: 3, shard }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bitplan-sens-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn run(threads: usize, shard: Option<Shard>, journal: Option<(&Path, bool)>) -> SensitivityTable {
    let (classifier, resolved, batches) = setup();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
    pool.install(|| analyze(&classifier.model, &resolved, &batches, &settings(shard), journal, &|_, _| {})).expect("analysis")
}

fn json(table: &SensitivityTable) -> String {
    serde_json::to_string(table).expect("json")
}

#[test]
fn fp32_cells_are_exactly_zero_and_quantized_ones_are_not() {
    let table = run(2, None, None);
    for cell in &table.cells {
        if cell.candidate == "fp32" {
            assert_eq!(cell.error.mean, 0.0, "{}", cell.layer);
            assert_eq!(cell.error.ci95_high, 0.0, "{}", cell.layer);
        } else {
            assert!(cell.error.mean > 0.0, "{} {}", cell.layer, cell.candidate);
        }
        assert_eq!(cell.error.n, CALIB_IMAGES / 32);
    }
}

#[test]
fn identical_with_one_and_two_threads() {
    assert_eq!(json(&run(1, None, None)), json(&run(2, None, None)));
}

#[test]
fn kill_and_resume_gives_the_same_table_and_recomputes_nothing_finished() {
    let dir = temp_dir("resume");
    let out = dir.join("sens.json");
    let journal = journal_path(&out);
    let full = run(2, None, Some((&journal, false)));
    // Simulate a kill: keep the header and 5 finished cells, then a torn half line.
    let text = std::fs::read_to_string(&journal).expect("journal");
    let lines: Vec<&str> = text.lines().collect();
    let kept = 5;
    let torn = &lines[kept + 1][..lines[kept + 1].len() / 2];
    std::fs::write(&journal, format!("{}\n{torn}", lines[..=kept].join("\n"))).expect("truncate");
    // Without --resume, an existing journal is refused.
    let (classifier, resolved, batches) = setup();
    assert!(analyze(&classifier.model, &resolved, &batches, &settings(None), Some((&journal, false)), &|_, _| {}).is_err());
    let computed = AtomicUsize::new(0);
    let first_done = AtomicUsize::new(usize::MAX);
    let progress = |done: usize, _total: usize| {
        if first_done.load(Ordering::SeqCst) == usize::MAX {
            first_done.store(done, Ordering::SeqCst);
        } else {
            computed.fetch_add(1, Ordering::SeqCst);
        }
    };
    let resumed = analyze(&classifier.model, &resolved, &batches, &settings(None), Some((&journal, true)), &progress).expect("resume");
    assert_eq!(first_done.load(Ordering::SeqCst), kept);
    assert_eq!(computed.load(Ordering::SeqCst), full.cells.len() - kept);
    assert_eq!(json(&full), json(&resumed));
    write_table(&out, &resumed).expect("write");
    assert!(!journal.exists(), "the journal is removed once the table is written");
}

#[test]
fn shards_merged_equal_one_run_and_foreign_shards_are_refused() {
    let full = run(2, None, None);
    let shards: Vec<(PathBuf, SensitivityTable)> = (1..=3)
        .map(|index| (PathBuf::from(format!("shard{index}.json")), run(2, Some(Shard { index, count: 3 }), None)))
        .collect();
    assert!(shards.iter().all(|(_, s)| s.cells.len() < full.cells.len()));
    assert_eq!(json(&merge(shards.clone()).expect("merge")), json(&full));
    let mut foreign = shards.clone();
    foreign[1].1.provenance.calib_hash = "0000".into();
    let error = merge(foreign).expect_err("foreign shard").to_string();
    assert!(error.contains("shard2.json") && error.contains("calib_hash"), "{error}");
    assert!(merge(shards[..2].to_vec()).expect_err("missing shard").to_string().contains("shard 3/3 is missing"));
}
