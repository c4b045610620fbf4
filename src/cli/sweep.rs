//! `bitplan sweep`: the Pareto frontier of error against cost metrics, with uniform baselines.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use bitplan::search::{sweep, Front, Problem, SearchError, SweepSpec};

use super::search::{parse_budgets, print, to_json, write_json, SolverArgs};
use super::tables::SourceArgs;

/// Map the trade-off: the plans no other plan beats on error and cost at once.
///
/// Reads a problem file (schema bitplan.problem/1) and maps the Pareto frontier of predicted
/// error against one to three cost metrics. The exact, greedy and aimet-path solvers solve a
/// grid of budgets (in parallel) from each metric's smallest achievable value to its value in
/// the most accurate plan; evolutionary and random map the front in one run. Uniform baselines
/// (every layer on the same candidate) are computed beside the front; plans a baseline beats
/// are flagged and never recommended. Writes a front (schema bitplan.front/1) with the
/// hypervolume and the recommended plan.
///
/// Instead of a problem file, give a sensitivity table (--sens), the search space it was
/// analyzed over (--space) and one cost table per hardware profile (--cost, repeatable): the
/// fronts of all profiles are computed in parallel, one front file per profile. With one --cost
/// the front goes to --out; with several, profile P's front goes to OUT's name with `.P` before
/// the extension (front.json -> front.nvidia-h100-sxm.json). Each front's provenance names the
/// tables, model and space hashes, profile and cost-table sha256.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  bitplan sweep --problem tests/fixtures/problem-small.json \
                        --metric latency_us --points 20 --out front.json\n  \
                        bitplan sweep --sens sens.json --space space.toml --cost a76.json \
                        --cost h100.json --metric energy_uj --out front.json"
)]
pub struct Args {
    #[command(flatten)]
    pub source: SourceArgs,

    /// A cost metric to map error against; repeat for two or three.
    #[arg(long = "metric", value_name = "METRIC", required = true)]
    pub metrics: Vec<String>,

    /// Budget grid points for the exact, greedy and aimet-path solvers.
    #[arg(long, default_value_t = 50)]
    pub points: usize,

    /// A fixed budget on a metric not swept, METRIC<=VALUE; repeat for several.
    #[arg(long = "budget", value_name = "METRIC<=VALUE")]
    pub budgets: Vec<String>,

    #[command(flatten)]
    pub solver: SolverArgs,

    /// Where to write the front (one file per profile with several --cost); standard output
    /// when absent (one front after another, in --cost order).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let sources = args.source.problems()?;
    let problems = &sources.problems;
    let spec = SweepSpec {
        metrics: args.metrics.clone(),
        points: args.points,
        budgets: parse_budgets(&args.budgets)?,
        settings: args.solver.settings(),
    };
    // Profiles are independent: map their fronts in parallel (each sweep is parallel too).
    let mut fronts: Vec<Front> = problems
        .par_iter()
        .map(|problem| sweep(problem, &spec))
        .collect::<Result<_, SearchError>>()?;
    for (problem, front) in problems.iter().zip(&mut fronts) {
        for entry in &mut front.plans {
            sources.annotate(&mut entry.plan, problem);
        }
    }
    let Some(out) = &args.out else {
        let mut text = String::new();
        for front in &fronts {
            text += &(to_json(front)? + "\n");
        }
        return print(&text);
    };
    let mut text = String::new();
    for (problem, front) in problems.iter().zip(&fronts) {
        let path = front_path(out, problem, fronts.len());
        write_json(&path, front)?;
        text += &summary(front, &path);
    }
    print(&text)
}

/// `out` itself for one front; `out` with `.PROFILE` before the extension for several.
fn front_path(out: &Path, problem: &Problem, fronts: usize) -> PathBuf {
    let Some(profile) = problem.sources().map(|sources| &sources.profile) else {
        return out.to_path_buf();
    };
    if fronts == 1 {
        return out.to_path_buf();
    }
    let stem = out.file_stem().unwrap_or_default().to_string_lossy();
    let name = match out.extension() {
        Some(ext) => format!("{stem}.{profile}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{profile}"),
    };
    out.with_file_name(name)
}

fn summary(front: &Front, path: &Path) -> String {
    let flagged = front
        .plans
        .iter()
        .filter(|plan| plan.dominated_by.is_some())
        .count();
    let profile = front
        .provenance
        .tables
        .as_ref()
        .map(|tables| format!(" on {}", tables.profile))
        .unwrap_or_default();
    let mut text = format!(
        "{} front{profile}: {} plans ({flagged} beaten by a uniform baseline), {} baselines, \
         hypervolume {:.6}\n",
        front.solver,
        front.plans.len(),
        front.baselines.len(),
        front.hypervolume
    );
    text += &match front.recommended {
        Some(index) => {
            let plan = &front.plans[index];
            let values: Vec<String> = front
                .metrics
                .iter()
                .zip(&plan.objectives)
                .map(|(metric, value)| format!("{metric} {value}"))
                .collect();
            format!("recommended: plans[{index}] ({})\n", values.join(", "))
        }
        None => "recommended: none (every plan is beaten by a uniform baseline)\n".to_string(),
    };
    text + &format!("wrote {}\n", path.display())
}
