//! Where `search` and `sweep` get their problem: a problem file, or a sensitivity table joined
//! with one or more cost tables over a search space.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::ValueEnum;

use bitplan::hardware::table::SCHEMA as COST_SCHEMA;
use bitplan::hardware::CostTable;
use bitplan::model::any::AnyModel;
use bitplan::search::{annotate_reasons, problem_from_tables, ErrorColumn, Plan, Problem, Tables};
use bitplan::sensitivity::analyze::provenance;
use bitplan::sensitivity::table::SENSITIVITY_SCHEMA;
use bitplan::sensitivity::{Metric, SensitivityTable, Settings};
use bitplan::space::{resolve, ResolvedSpace, SearchSpace};

/// The problem's source, shared by `search` and `sweep`.
#[derive(Debug, clap::Args)]
pub struct SourceArgs {
    /// Problem file (JSON, schema bitplan.problem/1); or give --sens, --cost and --space.
    #[arg(long, value_name = "FILE", required_unless_present = "sens",
          conflicts_with_all = ["sens", "costs", "space"])]
    pub problem: Option<PathBuf>,

    /// Sensitivity table (`bitplan analyze --out`), joined with --cost over --space.
    #[arg(long, value_name = "FILE", requires_all = ["costs", "space"])]
    pub sens: Option<PathBuf>,

    /// Cost table (`bitplan cost --out`) of one hardware profile.
    #[arg(long = "cost", value_name = "FILE", requires = "sens")]
    pub costs: Vec<PathBuf>,

    /// The search-space file the sensitivity table was analyzed over.
    #[arg(long, value_name = "FILE", requires = "sens")]
    pub space: Option<PathBuf>,

    /// The model the tables describe (reference name or weight file) when it is not the one
    /// the sensitivity table names; its weights must hash to the table's model_hash.
    #[arg(long, value_name = "MODEL", requires = "sens")]
    pub model: Option<String>,

    /// Architecture of a weight file given with --model: fashion-cnn or mnist-cnn.
    #[arg(long, requires = "model")]
    pub arch: Option<String>,

    /// Which sensitivity column is a candidate's error: the measured mean, the upper end of
    /// its 95% interval, or a proxy the analysis computed.
    #[arg(long, value_enum, default_value_t = ErrorName::Mean)]
    pub error: ErrorName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ErrorName {
    Mean,
    Ci95High,
    WeightMse,
    Fisher,
    Hessian,
}

impl ErrorName {
    fn column(self) -> ErrorColumn {
        match self {
            ErrorName::Mean => ErrorColumn::Mean,
            ErrorName::Ci95High => ErrorColumn::Ci95High,
            ErrorName::WeightMse => ErrorColumn::WeightMse,
            ErrorName::Fisher => ErrorColumn::Fisher,
            ErrorName::Hessian => ErrorColumn::Hessian,
        }
    }
}

/// The problems, and for problems joined from tables what explains each layer's candidate.
pub struct Sources {
    pub problems: Vec<Problem>,
    explain: Option<(SensitivityTable, ResolvedSpace)>,
}

impl Sources {
    /// Gives every layer of a plan of `problem` its reason (pins, sensitivity rank; see
    /// `search::reasons`); plans of a problem file keep the reasons the search gave.
    pub fn annotate(&self, plan: &mut Plan, problem: &Problem) {
        if let Some((table, space)) = &self.explain {
            annotate_reasons(plan, problem, table, space);
        }
    }
}

impl SourceArgs {
    /// One problem per cost table (one for a problem file), in the order given.
    pub fn problems(&self) -> anyhow::Result<Sources> {
        if let Some(path) = &self.problem {
            return Ok(Sources {
                problems: vec![Problem::load(path)?],
                explain: None,
            });
        }
        let (Some(sens_path), Some(space_path)) = (&self.sens, &self.space) else {
            anyhow::bail!("give --problem FILE, or --sens FILE --cost FILE --space FILE");
        };
        let sens: SensitivityTable = read_json(sens_path, SENSITIVITY_SCHEMA)?;
        let space = self.resolved_space(&sens, sens_path, space_path)?;
        let sens_file = sens_path.display().to_string();
        let mut problems = Vec::new();
        for cost_path in &self.costs {
            let costs: CostTable = read_json(cost_path, COST_SCHEMA)?;
            let cost_file = cost_path.display().to_string();
            let tables = Tables {
                sensitivity: &sens,
                sensitivity_file: &sens_file,
                costs: &costs,
                cost_file: &cost_file,
                space: &space,
            };
            problems.push(problem_from_tables(tables, self.error.column())?);
        }
        Ok(Sources {
            problems,
            explain: Some((sens, space)),
        })
    }

    /// The space resolved against the model, after checking the model is the one measured.
    fn resolved_space(
        &self,
        sens: &SensitivityTable,
        sens_path: &Path,
        space_path: &Path,
    ) -> anyhow::Result<ResolvedSpace> {
        let model = self.model.as_deref().unwrap_or(&sens.provenance.model);
        let loaded = AnyModel::load(model, self.arch.as_deref())
            .with_context(|| format!("loading model {model} (give --model if it moved)"))?;
        let space = SearchSpace::load(space_path)?;
        let resolved = resolve(&space, loaded.graph())?;
        let settings = Settings {
            metric: Metric::Kl,
            proxies: Vec::new(),
            hutchinson_probes: 0,
            seed: 0,
            shard: None,
        };
        let actual = provenance(loaded.runnable(), &resolved, &[], &settings)?.model_hash;
        if actual != sens.provenance.model_hash {
            anyhow::bail!(
                "{}: measured model {} with weights sha256 {}, but {model}'s weights hash to {actual}; \
                 rerun `bitplan analyze` on this model or pass the model it measured with --model",
                sens_path.display(),
                sens.provenance.model,
                sens.provenance.model_hash
            );
        }
        Ok(resolved)
    }
}

/// Reads a JSON table and checks its `schema` tag.
fn read_json<T: serde::de::DeserializeOwned + HasSchema>(
    path: &Path,
    schema: &str,
) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value: T = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a {schema} table", path.display()))?;
    if value.schema() != schema {
        anyhow::bail!(
            "{}: schema is {:?}; expected {schema:?}",
            path.display(),
            value.schema()
        );
    }
    Ok(value)
}

trait HasSchema {
    fn schema(&self) -> &str;
}

impl HasSchema for SensitivityTable {
    fn schema(&self) -> &str {
        &self.schema
    }
}

impl HasSchema for CostTable {
    fn schema(&self) -> &str {
        &self.schema
    }
}
