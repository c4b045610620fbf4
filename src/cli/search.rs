//! `bitplan search`: one plan, the least predicted error within the budgets.

use std::path::{Path, PathBuf};

use super::tables::SourceArgs;

use anyhow::Context;
use clap::ValueEnum;

use bitplan::search::{search, Budget, ExactLimits, ExactMethod, NsgaConfig, Settings, Solver};

/// Choose a candidate for every layer: the least predicted error within the budgets.
///
/// Reads a problem file (schema bitplan.problem/1: for every layer, candidates with a predicted
/// error and cost metrics such as latency_us or weight_bytes; optional tie groups and transition
/// costs), or joins a sensitivity table (--sens), a cost table (--cost) and the search space
/// they were built over (--space) into that problem, runs one solver, and writes a plan (schema bitplan.plan/1): per layer the chosen
/// candidate and its error and costs, the totals, the slack left in every budget, the solver and
/// seed, and the problem's sha256. A budget the problem cannot meet is an error that states the
/// smallest achievable value.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  bitplan search --problem tests/fixtures/problem-small.json \
                        --budget 'latency_us<=9' --out plan.json\n  \
                        bitplan search --sens sens.json --cost cost.json --space space.toml \
                        --budget 'weight_bits<=4.5' --out plan.json"
)]
pub struct Args {
    #[command(flatten)]
    pub source: SourceArgs,

    /// A budget on one cost metric, METRIC<=VALUE; repeat for several.
    #[arg(long = "budget", value_name = "METRIC<=VALUE")]
    pub budgets: Vec<String>,

    #[command(flatten)]
    pub solver: SolverArgs,

    /// Where to write the plan; standard output when absent.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Solver selection and tuning, shared by `search` and `sweep`.
#[derive(Debug, clap::Args)]
pub struct SolverArgs {
    /// exact: provably optimal; greedy: convex-hull greedy; aimet-path: AIMET's
    /// sensitivity-ordered baseline; evolutionary: NSGA-II; random: sampling baseline.
    #[arg(long, value_enum, default_value_t = SolverName::Exact)]
    pub solver: SolverName,

    /// How the exact solver proves optimality: auto (dynamic program for one budget, integer
    /// program for several), dp (dynamic program) or ilp (integer program, good_lp + microlp).
    #[arg(long, value_enum, default_value_t = ExactMethodName::Auto)]
    pub exact_method: ExactMethodName,

    /// Seed of the evolutionary and random solvers (the others ignore it).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// NSGA-II population size.
    #[arg(long, default_value_t = NsgaConfig::default().population)]
    pub population: usize,

    /// NSGA-II generations.
    #[arg(long, default_value_t = NsgaConfig::default().generations)]
    pub generations: usize,

    /// Plans the random solver draws.
    #[arg(long, default_value_t = Settings::default().random_samples)]
    pub samples: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExactMethodName {
    Auto,
    Dp,
    Ilp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SolverName {
    Exact,
    Greedy,
    AimetPath,
    Evolutionary,
    Random,
}

impl SolverArgs {
    /// The library settings these arguments select.
    pub fn settings(&self) -> Settings {
        let solver = match self.solver {
            SolverName::Exact => Solver::Exact,
            SolverName::Greedy => Solver::Greedy,
            SolverName::AimetPath => Solver::AimetPath,
            SolverName::Evolutionary => Solver::Evolutionary,
            SolverName::Random => Solver::Random,
        };
        let defaults = Settings::default();
        Settings {
            solver,
            seed: self.seed,
            nsga: NsgaConfig {
                population: self.population,
                generations: self.generations,
                ..defaults.nsga
            },
            random_samples: self.samples,
            exact: ExactLimits {
                method: match self.exact_method {
                    ExactMethodName::Auto => ExactMethod::Auto,
                    ExactMethodName::Dp => ExactMethod::DynamicProgram,
                    ExactMethodName::Ilp => ExactMethod::IntegerProgram,
                },
                ..defaults.exact
            },
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut sources = args.source.problems()?;
    let problems = &mut sources.problems;
    if problems.len() != 1 {
        anyhow::bail!(
            "search takes one --cost table ({} given); map several profiles with `bitplan sweep`",
            problems.len()
        );
    }
    let problem = problems.remove(0);
    let budgets = parse_budgets(&args.budgets)?;
    let mut plan = search(&problem, &budgets, &args.solver.settings())?;
    sources.annotate(&mut plan, &problem);
    let Some(out) = &args.out else {
        return print(&(to_json(&plan)? + "\n"));
    };
    write_json(out, &plan)?;
    let totals: Vec<String> = plan
        .totals
        .iter()
        .map(|(metric, value)| format!("{metric} {value}"))
        .collect();
    let mut text = format!("{} plan: {}\n", plan.solver, totals.join(", "));
    for (metric, slack) in &plan.slack {
        text += &format!("  slack {metric}: {slack}\n");
    }
    text += &format!("wrote {}\n", out.display());
    print(&text)
}

/// Writes to standard output; a reader that went away (`| head`) is not an error.
pub fn print(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(error).context("writing to standard output")
        }
        _ => Ok(()),
    }
}

pub fn parse_budgets(texts: &[String]) -> anyhow::Result<Vec<Budget>> {
    texts
        .iter()
        .map(|text| Budget::parse(text).map_err(anyhow::Error::from))
        .collect()
}

pub fn to_json(value: &impl serde::Serialize) -> anyhow::Result<String> {
    serde_json::to_string_pretty(value).context("serializing the result")
}

/// Writes JSON next to `path` first, then renames it over `path`: a killed run never leaves a
/// half-written file.
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let text = to_json(value)? + "\n";
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))
}
