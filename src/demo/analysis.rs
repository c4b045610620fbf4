//! The demo's sensitivity stage: `sensitivity::analyze` over the shipped space on the first
//! calibration images, journalled beside `sensitivity.json` so a killed demo resumes without
//! recomputing a finished cell, and skipped when a finished table of the same analysis is there.

use std::path::Path;

use super::{DemoError, DemoSettings, Progress};
use crate::report::run_dir::read_json;
use crate::sensitivity::analyze::provenance;
use crate::sensitivity::journal::{journal_path, write_table};
use crate::sensitivity::{analyze, Metric, SensitivityTable, Settings, CALIB_BATCH};
use crate::space::ResolvedSpace;
use crate::validate::Evaluator;

/// The demo's analysis: the measured KL divergence, no proxies (the demo searches on the
/// measured error; `bitplan analyze --proxy` computes them).
fn analysis_settings() -> Settings {
    Settings {
        metric: Metric::Kl,
        proxies: Vec::new(),
        hutchinson_probes: 0,
        seed: 0,
        shard: None,
    }
}

/// The sensitivity table of the demo's model over `space`, written to `dir/sensitivity.json`.
pub(super) fn sensitivity(
    evaluator: &Evaluator,
    space: &ResolvedSpace,
    settings: DemoSettings,
    dir: &Path,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<SensitivityTable, DemoError> {
    let classifier = &evaluator.classifier;
    let batches = classifier.calibration_head(CALIB_BATCH, settings.calib_images)?;
    let analysis = analysis_settings();
    let path = dir.join("sensitivity.json");
    let expected = provenance(&classifier.model, space, &batches, &analysis)?;
    if let Some(done) = finished(&path, &expected) {
        return Ok(done);
    }
    let total = space.layers.iter().map(|l| l.candidates.len()).sum();
    progress(Progress::Stage {
        name: "measuring per-layer errors",
        total,
    });
    let journal = journal_path(&path);
    let resume = journal.exists();
    let table = analyze(
        &classifier.model,
        space,
        &batches,
        &analysis,
        Some((&journal, resume)),
        &|done, _| progress(Progress::Step { done }),
    )?;
    write_table(&path, &table)?;
    Ok(table)
}

/// A finished table at `path` of exactly this analysis, if one is there.
fn finished(path: &Path, expected: &crate::sensitivity::Provenance) -> Option<SensitivityTable> {
    let table: SensitivityTable = read_json(path, "sensitivity table").ok()?;
    (table.provenance == *expected && table.shard.is_none()).then_some(table)
}
