//! One chip of the demo: its cost table over the search space, the search problem joined from
//! the tables, the swept latency frontier with each layer's reason, measured validation of the
//! best plans on the test split, and the recommended plan as TOML and JSON.

use std::path::Path;

use super::{DemoError, DemoSettings, Progress};
use crate::hardware::formats::QuantCatalog;
use crate::hardware::{self, cost_table_for_space};
use crate::model::RunnableModel;
use crate::report::run_dir::write_json;
use crate::report::{write_plan, ReportError};
use crate::search::{
    annotate_reasons, problem_from_tables, sweep, ErrorColumn, Problem, Settings, SweepSpec, Tables,
};
use crate::sensitivity::table::sha256_hex;
use crate::sensitivity::SensitivityTable;
use crate::space::ResolvedSpace;
use crate::validate::{validate_front, Evaluator, MeasureCache, ValidateSettings};

/// The cost metric each chip's frontier is swept over.
const SWEPT: &str = "latency_us";

/// What every chip shares.
pub(super) struct Stage<'a> {
    pub evaluator: &'a Evaluator,
    pub sensitivity: &'a SensitivityTable,
    pub space: &'a ResolvedSpace,
    pub settings: DemoSettings,
    pub dir: &'a Path,
}

/// Runs chip `name`; returns the profile's origin and hash for the run's inputs.
pub(super) fn run_chip(
    stage: &Stage,
    name: &str,
    cache: &mut MeasureCache,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<String, DemoError> {
    let loaded = hardware::load(name)?;
    let profile_sha256 = sha256_hex(loaded.text.as_bytes());
    let problem = problem(stage, name, &loaded.profile, &profile_sha256)?;
    let spec = SweepSpec {
        metrics: vec![SWEPT.to_string()],
        points: stage.settings.points,
        budgets: Vec::new(),
        settings: Settings::default(),
    };
    let mut front = sweep(&problem, &spec)?;
    for entry in &mut front.plans {
        annotate_reasons(&mut entry.plan, &problem, stage.sensitivity, stage.space);
    }
    let total = stage.settings.top.min(front.plans.len()) + front.baselines.len();
    progress(Progress::Stage {
        name: &format!("validating {name}"),
        total,
    });
    let validate = ValidateSettings {
        top: stage.settings.top,
        limit: stage.settings.eval_limit,
        time_latency: true,
    };
    validate_front(
        &mut front,
        stage.evaluator,
        validate,
        cache,
        &mut |done, _| progress(Progress::Step { done }),
    )?;
    write_json(
        &front,
        &stage.dir.join("fronts").join(format!("{name}.json")),
    )?;
    if let Some(index) = front.recommended {
        let plans = stage.dir.join("plans");
        std::fs::create_dir_all(&plans).map_err(ReportError::io(&plans))?;
        for extension in ["toml", "json"] {
            let path = plans.join(format!("{name}-recommended.{extension}"));
            write_plan(&front.plans[index].plan, &path)?;
        }
    }
    Ok(format!("{} (sha256 {profile_sha256})", loaded.origin))
}

/// The chip's cost table (written to `costs/NAME.json`) joined with the sensitivity table.
fn problem(
    stage: &Stage,
    name: &str,
    profile: &hardware::Profile,
    profile_sha256: &str,
) -> Result<Problem, DemoError> {
    let graph = stage.evaluator.classifier.model.graph();
    let costs = cost_table_for_space(profile, graph, stage.space, &QuantCatalog, 1, 1)?;
    let cost_file = format!("costs/{name}.json");
    write_json(&costs, &stage.dir.join(&cost_file))?;
    let tables = Tables {
        sensitivity: stage.sensitivity,
        sensitivity_file: "sensitivity.json",
        costs: &costs,
        cost_file: &cost_file,
        space: stage.space,
    };
    let problem = problem_from_tables(tables, ErrorColumn::Mean)?;
    let Some(mut sources) = problem.sources().cloned() else {
        return Ok(problem);
    };
    sources.profile_sha256 = Some(profile_sha256.to_string());
    Ok(problem.with_sources(sources))
}
