//! Shared fixtures of the report tests: fronts of the small search problem, measured blocks,
//! a sensitivity table, and a two-chip run directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use bitplan::report::run_dir::write_json;
use bitplan::report::write_front;
use bitplan::search::{sweep, Front, Measured, Problem, Settings, SweepSpec};
use bitplan::sensitivity::stats::Estimate;
use bitplan::sensitivity::table::{Proxies, SENSITIVITY_SCHEMA};
use bitplan::sensitivity::{Cell, Provenance, SensitivityTable};

const SMALL: &str = "tests/fixtures/problem-small.json";

pub fn scratch(group: &str, name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(group)
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn front(points: usize) -> Front {
    let problem = Problem::load(Path::new(SMALL)).unwrap();
    let spec = SweepSpec {
        metrics: vec!["latency_us".into()],
        points,
        budgets: Vec::new(),
        settings: Settings::default(),
    };
    sweep(&problem, &spec).unwrap()
}

/// A measured block with awkward floats (many digits, tiny and huge magnitudes).
pub fn measured(seed: f64) -> Measured {
    Measured {
        metric: "top1_accuracy_percent".into(),
        value: 87.123_456_789_012_3 - seed / 7.0,
        reference_value: 88.6,
        samples: 10_000,
        latency_us: Some(1.0 / 3.0 + seed * 1e-9),
        latency_device: Some("host-cpu".into()),
        dominated_by: (seed > 1.0).then(|| "w8a8".to_string()),
    }
}

/// A sensitivity table over the front's layers and two candidates (errors growing with the
/// layer and the candidate, four calibration batches each).
pub fn sensitivity(front: &Front) -> SensitivityTable {
    let plan = &front.plans[0].plan;
    let candidates = ["w8a8", "w4a16"];
    let mut cells = Vec::new();
    for (i, layer) in plan.layers.iter().enumerate() {
        for (j, candidate) in candidates.iter().enumerate() {
            let base = 1e-4 * (1 + i * (j + 1)) as f64;
            let batches = [base * 0.9, base, base * 1.1, base * 1.05];
            cells.push(Cell {
                index: cells.len(),
                layer: layer.name.clone(),
                candidate: candidate.to_string(),
                weight_format: "int8-sym-pc".into(),
                activation_format: "fp16".into(),
                weight_bits: 8.0,
                weight_elements: 64,
                error: Estimate::from_values(&batches),
                proxies: Proxies::default(),
            });
        }
    }
    SensitivityTable {
        schema: SENSITIVITY_SCHEMA.into(),
        provenance: Provenance {
            bitplan_version: "0.1.0".into(),
            model: "fixture".into(),
            model_hash: "00".into(),
            calib_hash: "11".into(),
            calib_samples: 128,
            calib_batches: 4,
            space: "fixture-space.toml".into(),
            space_hash: "22".into(),
            metric: "kl".into(),
            proxies: Vec::new(),
            hutchinson_probes: 0,
            seed: 0,
        },
        shard: None,
        total_cells: cells.len(),
        ties: Vec::new(),
        cells,
    }
}

/// Two "chips" from the small problem, some plans and all baselines measured.
pub fn fixture_run(dir: &Path) {
    for (index, chip) in ["chip-a", "chip-b"].iter().enumerate() {
        let mut front = front(5 + index);
        for (i, entry) in front.plans.iter_mut().enumerate().take(3) {
            entry.plan.measured = Some(measured(i as f64));
        }
        for (i, baseline) in front.baselines.iter_mut().enumerate() {
            baseline.plan.measured = Some(measured(4.0 + i as f64));
        }
        let fronts = dir.join("fronts");
        std::fs::create_dir_all(&fronts).unwrap();
        write_front(&front, &fronts.join(format!("{chip}.json"))).unwrap();
        if index == 0 {
            write_json(&sensitivity(&front), &dir.join("sensitivity.json")).unwrap();
        }
    }
}
