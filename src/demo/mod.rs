//! The end-to-end demo: the real pipeline on fashion-cnn. The shipped search space
//! `search-spaces/int-w-a.toml` resolved against the model, the sensitivity analysis over it
//! (journalled, so a killed demo resumes), cost tables of four chips priced over the same space,
//! the search problem joined from those tables, one swept frontier per chip, measured validation
//! of the best plans on the test split, and the report.
//!
//! Everything is written under the run directory as it finishes (sensitivity, then per chip its
//! cost table and validated front), so `bitplan report RUN_DIR` can redraw the page from the
//! files alone.

mod analysis;
mod chip;
mod inputs;

use std::path::{Path, PathBuf};

use crate::hardware::HardwareError;
use crate::model::{ModelError, RunnableModel};
use crate::report::run_dir::write_json;
use crate::report::{
    self, chip_summaries, ChipSummary, ReportError, RunData, RunManifest, RUN_SCHEMA,
};
use crate::search::SearchError;
use crate::sensitivity::{SensitivityError, DEFAULT_CALIB_IMAGES};
use crate::space::{resolve, SearchSpace, SpaceFileError};
use crate::validate::{Evaluator, MeasureCache, ValidateError};

/// The demo's model (weights, calibration and test set are embedded in the binary).
pub const MODEL: &str = "fashion-cnn";
/// The chips the demo compares.
pub const PROFILES: [&str; 4] = [
    "nvidia-h100-sxm",
    "google-tpu-v5e",
    "qualcomm-hexagon-v75",
    "arm-cortex-a76",
];
/// The shipped search space the demo analyzes and searches (embedded, so the demo runs from any
/// directory): W8A8, W4A8, W4A16, W8A16, W16A16, first and last layer pinned to W8A16.
pub const SPACE_FILE: &str = "search-spaces/int-w-a.toml";
const SPACE_TEXT: &str = include_str!("../../search-spaces/int-w-a.toml");

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
    Space(Box<SpaceFileError>),
    #[error(transparent)]
    Sensitivity(Box<SensitivityError>),
    #[error(transparent)]
    Model(Box<ModelError>),
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
    Space: SpaceFileError,
    Sensitivity: SensitivityError,
    Model: ModelError
);

/// How much work the demo does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DemoSettings {
    /// Calibration images the sensitivity analysis runs on (batches of 32; the confidence
    /// interval is over batches).
    pub calib_images: usize,
    /// Evaluation images for measured accuracy (all 10k when `None`).
    pub eval_limit: Option<usize>,
    /// Frontier plans validated per chip.
    pub top: usize,
    /// Budget levels of each chip's latency sweep.
    pub points: usize,
}

impl DemoSettings {
    /// The full demo, about a minute on 2 cores: the `bitplan analyze` default calibration (256
    /// images, 8 batches) analyzes the 37 cells in about 13 s.
    pub const FULL: DemoSettings = DemoSettings {
        calib_images: DEFAULT_CALIB_IMAGES,
        eval_limit: None,
        top: 3,
        points: 12,
    };
    /// For CI: the same pipeline on fewer images.
    pub const QUICK: DemoSettings = DemoSettings {
        calib_images: 128,
        eval_limit: Some(1000),
        top: 2,
        points: 6,
    };
}

/// Progress the caller may show: a stage starting with `total` steps, then steps done. Called
/// from worker threads during the analysis.
pub enum Progress<'a> {
    Stage { name: &'a str, total: usize },
    Step { done: usize },
}

/// Runs the demo into `dir`; returns the report page and the per-chip summary.
pub fn run_demo(
    dir: &Path,
    settings: DemoSettings,
    command: &str,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(PathBuf, Vec<ChipSummary>), DemoError> {
    std::fs::create_dir_all(dir).map_err(ReportError::io(dir))?;
    progress(Progress::Stage {
        name: "calibrating fashion-cnn",
        total: 1,
    });
    let evaluator = Evaluator::new(MODEL, None)?;
    let space = SearchSpace::parse(SPACE_TEXT, SPACE_FILE)?;
    let space = resolve(&space, evaluator.classifier.model.graph())?;
    let sensitivity = analysis::sensitivity(&evaluator, &space, settings, dir, progress)?;
    let mut inputs = inputs::run_inputs(&evaluator, &sensitivity, settings);
    let mut cache = MeasureCache::default();
    for name in PROFILES {
        let stage = chip::Stage {
            evaluator: &evaluator,
            sensitivity: &sensitivity,
            space: &space,
            settings,
            dir,
        };
        let profile = chip::run_chip(&stage, name, &mut cache, progress)?;
        inputs.insert(format!("profile {name}"), profile);
    }
    let manifest = RunManifest {
        schema: RUN_SCHEMA.to_string(),
        model: MODEL.to_string(),
        inputs,
        notes: inputs::notes(settings, sensitivity.cells.len()),
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
