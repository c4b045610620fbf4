//! The end-to-end demo: fashion-cnn, measured per-layer errors, four chips' cost tables, one
//! swept frontier per chip, measured validation of the best plans, and the report.
//!
//! Everything is written under the run directory as it finishes (sensitivity, then per chip its
//! cost table and validated front), so `bitplan report RUN_DIR` can redraw the page from the
//! files alone.

pub mod problem;
pub mod reasons;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::hardware::formats::QuantCatalog;
use crate::hardware::{self, cost_table, HardwareError};
use crate::model::RunnableModel;
use crate::report::run_dir::write_json;
use crate::report::{
    self, chip_summaries, write_plan, ChipSummary, ReportError, RunData, RunManifest, RUN_SCHEMA,
};
use crate::search::{sweep, SearchError, Settings, SweepSpec};
use crate::space::{Shorthand, SpaceError};
use crate::validate::{
    probe_sensitivity, validate_front, Evaluator, MeasureCache, ValidateError, ValidateSettings,
};
use problem::{build_problem, candidate_formats, resolved, METRICS};

/// The demo's model (weights and test set are embedded in the binary).
pub const MODEL: &str = "fashion-cnn";
/// The chips the demo compares.
pub const PROFILES: [&str; 4] = [
    "nvidia-h100-sxm",
    "google-tpu-v5e",
    "qualcomm-hexagon-v75",
    "arm-cortex-a76",
];
/// The candidates every layer may take (shorthands; see `bitplan formats`).
pub const CANDIDATES: [&str; 6] = ["w16a16", "w8a16", "w8a8", "w8a8-fp8", "w4a16", "w4a8"];

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    // Boxed: the stages' errors are large and this type is returned all along the pipeline.
    #[error(transparent)]
    Validate(Box<ValidateError>),
    #[error(transparent)]
    Hardware(Box<HardwareError>),
    #[error(transparent)]
    Search(Box<SearchError>),
    #[error(transparent)]
    Report(Box<ReportError>),
    #[error(transparent)]
    Space(Box<SpaceError>),
}

macro_rules! boxed_from {
    ($($variant:ident: $source:ty),*) => {$(
        impl From<$source> for DemoError {
            fn from(error: $source) -> Self {
                DemoError::$variant(Box::new(error))
            }
        }
    )*};
}

boxed_from!(
    Validate: ValidateError,
    Hardware: HardwareError,
    Search: SearchError,
    Report: ReportError,
    Space: SpaceError
);

/// How much work the demo does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DemoSettings {
    /// Calibration images the per-layer probe runs on.
    pub probe_images: usize,
    /// Evaluation images for measured accuracy (all 10k when `None`).
    pub eval_limit: Option<usize>,
    /// Frontier plans validated per chip.
    pub top: usize,
    /// Budget levels of each chip's latency sweep.
    pub points: usize,
}

impl DemoSettings {
    /// The full demo: a few minutes on 2 cores.
    pub const FULL: DemoSettings = DemoSettings {
        probe_images: 1000,
        eval_limit: None,
        top: 3,
        points: 12,
    };
    /// For CI: the same pipeline on fewer images.
    pub const QUICK: DemoSettings = DemoSettings {
        probe_images: 200,
        eval_limit: Some(1000),
        top: 2,
        points: 6,
    };
}

/// Progress the caller may show: a stage starting with `total` steps, then steps done.
pub enum Progress<'a> {
    Stage { name: &'a str, total: usize },
    Step { done: usize },
}

/// Runs the demo into `dir`; returns the report page and the per-chip summary.
pub fn run_demo(
    dir: &Path,
    settings: DemoSettings,
    command: &str,
    progress: &mut dyn FnMut(Progress),
) -> Result<(PathBuf, Vec<ChipSummary>), DemoError> {
    std::fs::create_dir_all(dir).map_err(ReportError::io(dir))?;
    let shorthands: Vec<Shorthand> = CANDIDATES
        .iter()
        .map(|name| Shorthand::parse(name).map(|s| resolved(&s)))
        .collect::<Result<_, _>>()?;
    progress(Progress::Stage {
        name: "calibrating fashion-cnn",
        total: 1,
    });
    let evaluator = Evaluator::new(MODEL, None)?;
    let graph = evaluator.classifier.model.graph().clone();
    let total = graph.layers.len() * shorthands.len();
    progress(Progress::Stage {
        name: "measuring per-layer errors",
        total,
    });
    let probe = probe_sensitivity(
        &evaluator,
        &shorthands,
        settings.probe_images,
        &mut |done, _| progress(Progress::Step { done }),
    )?;
    write_json(&probe, &dir.join("sensitivity.json"))?;
    let formats: Vec<_> = shorthands.iter().map(candidate_formats).collect();
    let mut inputs = base_inputs(&evaluator, &graph, settings);
    let mut cache = MeasureCache::default();
    for name in PROFILES {
        let loaded = hardware::load(name)?;
        inputs.insert(
            format!("profile {name}"),
            format!(
                "{} (sha256 {})",
                loaded.origin,
                sha256(loaded.text.as_bytes())
            ),
        );
        let costs = cost_table(&loaded.profile, &graph, &formats, &QuantCatalog, 1, 1)?;
        write_json(&costs, &dir.join("costs").join(format!("{name}.json")))?;
        let problem = build_problem(&format!("{MODEL} on {name} (demo)"), &probe, &costs)?;
        let spec = SweepSpec {
            metrics: vec![METRICS[0].to_string()],
            points: settings.points,
            budgets: Vec::new(),
            settings: Settings::default(),
        };
        let mut front = sweep(&problem, &spec)?;
        let cheapest = |layer: &str| {
            let row = problem.layers().iter().find(|l| l.name == layer)?;
            let latency = |c: &&crate::search::CandidateSpec| {
                c.costs.get(METRICS[0]).copied().unwrap_or(f64::INFINITY)
            };
            row.candidates
                .iter()
                .min_by(|a, b| latency(a).total_cmp(&latency(b)))
                .map(|c| c.name.clone())
        };
        for entry in &mut front.plans {
            reasons::annotate_reasons(&mut entry.plan, &probe, &cheapest);
        }
        let chip_inputs = chip_inputs(&inputs, name);
        front.provenance.inputs = chip_inputs.clone();
        for plan in front
            .plans
            .iter_mut()
            .map(|p| &mut p.plan)
            .chain(front.baselines.iter_mut().map(|b| &mut b.plan))
        {
            plan.provenance.inputs = chip_inputs.clone();
        }
        let total = settings.top.min(front.plans.len()) + front.baselines.len();
        progress(Progress::Stage {
            name: &format!("validating {name}"),
            total,
        });
        let validate = ValidateSettings {
            top: settings.top,
            limit: settings.eval_limit,
            time_latency: true,
        };
        validate_front(
            &mut front,
            &evaluator,
            validate,
            &mut cache,
            &mut |done, _| progress(Progress::Step { done }),
        )?;
        write_json(&front, &dir.join("fronts").join(format!("{name}.json")))?;
        if let Some(index) = front.recommended {
            let plans = dir.join("plans");
            std::fs::create_dir_all(&plans).map_err(ReportError::io(&plans))?;
            for extension in ["toml", "json"] {
                write_plan(
                    &front.plans[index].plan,
                    &plans.join(format!("{name}-recommended.{extension}")),
                )?;
            }
        }
    }
    let manifest = RunManifest {
        schema: RUN_SCHEMA.to_string(),
        model: MODEL.to_string(),
        inputs,
        notes: notes(),
        command: command.to_string(),
    };
    write_json(&manifest, &dir.join("run.json"))?;
    progress(Progress::Stage {
        name: "drawing the report",
        total: 1,
    });
    let page = report::write_report(dir)?;
    let summaries = chip_summaries(&RunData::load(dir)?);
    Ok((page, summaries))
}

fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn base_inputs(
    evaluator: &Evaluator,
    graph: &crate::model::Graph,
    settings: DemoSettings,
) -> BTreeMap<String, String> {
    let classifier = &evaluator.classifier;
    let graph_json = serde_json::to_string(graph).unwrap_or_default();
    BTreeMap::from([
        ("model weights".to_string(), classifier.weights.clone()),
        (
            "model graph sha256".to_string(),
            sha256(graph_json.as_bytes()),
        ),
        (
            "calibration data".to_string(),
            format!(
                "{} ({} images, sha256 {})",
                classifier.calibration.source,
                classifier.calibration.len(),
                sha256(&classifier.calibration.pixels)
            ),
        ),
        (
            "evaluation data".to_string(),
            format!(
                "{} ({} images used, sha256 {})",
                classifier.eval.source,
                settings
                    .eval_limit
                    .unwrap_or(classifier.eval.len())
                    .min(classifier.eval.len()),
                sha256(&classifier.eval.pixels)
            ),
        ),
        (
            "search space".to_string(),
            format!(
                "every layer: {} (int4 weights per channel)",
                CANDIDATES.join(", ")
            ),
        ),
        (
            "solver".to_string(),
            format!(
                "exact, {} latency budget levels per chip, objectives error and latency_us",
                settings.points
            ),
        ),
        (
            "per-layer error".to_string(),
            format!(
                "measured probe: mean KL(fp32 || quantized) over {} calibration images",
                settings.probe_images
            ),
        ),
    ])
}

fn chip_inputs(inputs: &BTreeMap<String, String>, profile: &str) -> BTreeMap<String, String> {
    inputs
        .iter()
        .filter(|(key, _)| {
            !key.starts_with("profile ") || key.as_str() == format!("profile {profile}")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn notes() -> Vec<String> {
    vec![
        "Per-layer errors come from validate::probe_sensitivity (one layer quantized at a time, mean output KL on calibration images), because the sensitivity stage (`bitplan analyze`, search-spaces/*.toml) is not merged yet; the search space is the fixed candidate list above instead of a shipped search-space file.".to_string(),
        "Latency, bytes and bound per layer are the hardware stage's roofline predictions at batch 1; measured latency is the fake-quant executor on this CPU, comparable by rank only.".to_string(),
        "Measured accuracy is top-1 on the Fashion-MNIST test split, never used for calibration or the probe.".to_string(),
    ]
}
