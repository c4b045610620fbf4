//! Plan files: the search stage's [`Plan`] written as TOML (for people) or JSON (for machines),
//! chosen by the file extension. Both carry the schema tag `bitplan.plan/1` and round-trip
//! losslessly: floats are written with the shortest text that reads back to the same bits.

use std::path::Path;

use super::error::ReportError;
use crate::search::{Front, Plan, FRONT_SCHEMA, PLAN_SCHEMA};

/// The two encodings of a plan file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Toml,
    Json,
}

impl Encoding {
    /// The encoding named by `path`'s extension.
    pub fn of(path: &Path) -> Result<Encoding, ReportError> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => Ok(Encoding::Toml),
            Some("json") => Ok(Encoding::Json),
            other => Err(ReportError::Extension {
                path: path.to_path_buf(),
                extension: other.unwrap_or("").to_string(),
            }),
        }
    }
}

/// The plan as text in `encoding`.
pub fn plan_to_string(plan: &Plan, encoding: Encoding, path: &Path) -> Result<String, ReportError> {
    let bad = |message: String| ReportError::Serialize {
        path: path.to_path_buf(),
        message,
    };
    match encoding {
        Encoding::Toml => toml::to_string_pretty(plan).map_err(|e| bad(e.to_string())),
        Encoding::Json => serde_json::to_string_pretty(plan)
            .map(|text| text + "\n")
            .map_err(|e| bad(e.to_string())),
    }
}

/// Parses plan text; `path` names it in errors.
pub fn plan_from_str(text: &str, encoding: Encoding, path: &Path) -> Result<Plan, ReportError> {
    let bad = |message: String| ReportError::Parse {
        path: path.to_path_buf(),
        what: "plan file",
        message,
    };
    let plan: Plan = match encoding {
        Encoding::Toml => toml::from_str(text).map_err(|e| bad(e.to_string()))?,
        Encoding::Json => serde_json::from_str(text).map_err(|e| bad(e.to_string()))?,
    };
    if plan.schema != PLAN_SCHEMA {
        return Err(ReportError::Schema {
            path: path.to_path_buf(),
            found: plan.schema,
            expected: PLAN_SCHEMA,
        });
    }
    Ok(plan)
}

/// Writes `plan` to `path` (`.toml` or `.json`).
pub fn write_plan(plan: &Plan, path: &Path) -> Result<(), ReportError> {
    let text = plan_to_string(plan, Encoding::of(path)?, path)?;
    std::fs::write(path, text).map_err(ReportError::io(path))
}

/// Reads a plan file (`.toml` or `.json`).
pub fn read_plan(path: &Path) -> Result<Plan, ReportError> {
    let encoding = Encoding::of(path)?;
    let text = std::fs::read_to_string(path).map_err(ReportError::io(path))?;
    plan_from_str(&text, encoding, path)
}

/// Reads a front file (`bitplan sweep`'s JSON output).
pub fn read_front(path: &Path) -> Result<Front, ReportError> {
    let text = std::fs::read_to_string(path).map_err(ReportError::io(path))?;
    let front: Front = serde_json::from_str(&text).map_err(|e| ReportError::Parse {
        path: path.to_path_buf(),
        what: "front file",
        message: e.to_string(),
    })?;
    if front.schema != FRONT_SCHEMA {
        return Err(ReportError::Schema {
            path: path.to_path_buf(),
            found: front.schema,
            expected: FRONT_SCHEMA,
        });
    }
    Ok(front)
}

/// Writes a front as pretty JSON.
pub fn write_front(front: &Front, path: &Path) -> Result<(), ReportError> {
    let text = serde_json::to_string_pretty(front).map_err(|e| ReportError::Serialize {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    std::fs::write(path, text + "\n").map_err(ReportError::io(path))
}
