//! `bitplan sweep`: the Pareto frontier of error against cost metrics, with uniform baselines.

use std::path::PathBuf;

use bitplan::search::{sweep, Problem, SweepSpec};

use super::search::{parse_budgets, print, to_json, write_json, SolverArgs};

/// Map the trade-off: the plans no other plan beats on error and cost at once.
///
/// Reads a problem file (schema bitplan.problem/1) and maps the Pareto frontier of predicted
/// error against one to three cost metrics. The exact, greedy and aimet-path solvers solve a
/// grid of budgets (in parallel) from each metric's smallest achievable value to its value in
/// the most accurate plan; evolutionary and random map the front in one run. Uniform baselines
/// (every layer on the same candidate) are computed beside the front; plans a baseline beats
/// are flagged and never recommended. Writes a front (schema bitplan.front/1) with the
/// hypervolume and the recommended plan.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  bitplan sweep --problem tests/fixtures/problem-small.json \
                        --metric latency_us --points 20 --out front.json"
)]
pub struct Args {
    /// Problem file (JSON, schema bitplan.problem/1).
    #[arg(long, value_name = "FILE")]
    pub problem: PathBuf,

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

    /// Where to write the front; standard output when absent.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let problem = Problem::load(&args.problem)?;
    let spec = SweepSpec {
        metrics: args.metrics.clone(),
        points: args.points,
        budgets: parse_budgets(&args.budgets)?,
        settings: args.solver.settings(),
    };
    let front = sweep(&problem, &spec)?;
    let Some(out) = &args.out else {
        return print(&(to_json(&front)? + "\n"));
    };
    write_json(out, &front)?;
    let flagged = front
        .plans
        .iter()
        .filter(|plan| plan.dominated_by.is_some())
        .count();
    let mut text = format!(
        "{} front: {} plans ({flagged} beaten by a uniform baseline), {} baselines, \
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
    text += &format!("wrote {}\n", out.display());
    print(&text)
}
