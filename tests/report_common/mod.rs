//! Shared fixtures of the report tests: fronts of the small search problem, measured blocks,
//! a per-layer error table, and a two-chip run directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use bitplan::report::run_dir::write_json;
use bitplan::report::write_front;
use bitplan::search::{sweep, Front, Measured, Problem, Settings, SweepSpec};
use bitplan::validate::{ProbeCell, ProbeLayer, SensitivityProbe, PROBE_SCHEMA};

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

pub fn probe(front: &Front) -> SensitivityProbe {
    let plan = &front.plans[0].plan;
    let candidates = vec!["w8a8".to_string(), "w4a16".to_string()];
    let layers = plan
        .layers
        .iter()
        .enumerate()
        .map(|(i, layer)| ProbeLayer {
            name: layer.name.clone(),
            cells: candidates
                .iter()
                .enumerate()
                .map(|(j, c)| ProbeCell {
                    candidate: c.clone(),
                    weight_format: "int8-sym-pc".into(),
                    activation_format: "fp16".into(),
                    error: 1e-4 * (1 + i * (j + 1)) as f64,
                    ci95: 1e-5,
                })
                .collect(),
            unavailable: Vec::new(),
        })
        .collect();
    SensitivityProbe {
        schema: PROBE_SCHEMA.into(),
        model: "fixture".into(),
        metric: "fixture error".into(),
        images: 10,
        candidates,
        layers,
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
            write_json(&probe(&front), &dir.join("sensitivity.json")).unwrap();
        }
    }
}
