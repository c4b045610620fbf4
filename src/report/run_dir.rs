//! A run directory: what one end-to-end run wrote, read back for the report.
//!
//! ```text
//! RUN_DIR/run.json              RunManifest (optional): model, candidates, profiles, commands
//! RUN_DIR/sensitivity.json      the SensitivityTable the plans were searched on (optional)
//! RUN_DIR/costs/PROFILE.json    the hardware stage's CostTable per profile (optional)
//! RUN_DIR/fronts/PROFILE.json   a front per profile (`bitplan sweep`/`validate` output; >= 1)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::error::ReportError;
use super::plan_file::read_front;
use crate::hardware::CostTable;
use crate::search::Front;
use crate::sensitivity::SensitivityTable;

/// The schema tag of `run.json`.
pub const RUN_SCHEMA: &str = "bitplan.run/1";

/// What a run was given, for the report's provenance table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    pub schema: String,
    pub model: String,
    /// Input name -> value (hashes, search space, settings), shown as given.
    pub inputs: BTreeMap<String, String>,
    /// Steps that produced the run, in order (missing stages are said here).
    pub notes: Vec<String>,
    /// The command that regenerates the run.
    pub command: String,
}

/// Everything the report reads.
#[derive(Debug, Clone)]
pub struct RunData {
    pub dir: PathBuf,
    pub manifest: Option<RunManifest>,
    /// The sensitivity table (`bitplan analyze` output, schema bitplan.sensitivity/1).
    pub sensitivity: Option<SensitivityTable>,
    /// Per profile name (file stem), sorted.
    pub costs: BTreeMap<String, CostTable>,
    pub fronts: BTreeMap<String, Front>,
}

impl RunData {
    pub fn load(dir: &Path) -> Result<RunData, ReportError> {
        let fronts_dir = dir.join("fronts");
        let mut fronts = BTreeMap::new();
        for (name, path) in json_files(&fronts_dir)? {
            fronts.insert(name, read_front(&path)?);
        }
        if fronts.is_empty() {
            return Err(ReportError::RunDir {
                path: dir.to_path_buf(),
                message: "no fronts/*.json: write one per profile with `bitplan sweep ... --out RUN_DIR/fronts/PROFILE.json`".into(),
            });
        }
        let mut costs = BTreeMap::new();
        for (name, path) in json_files(&dir.join("costs"))? {
            costs.insert(name, read_json(&path, "cost table")?);
        }
        Ok(RunData {
            dir: dir.to_path_buf(),
            manifest: optional(&dir.join("run.json"), "run manifest")?,
            sensitivity: optional(&dir.join("sensitivity.json"), "sensitivity table")?,
            costs,
            fronts,
        })
    }
}

fn json_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, ReportError> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(ReportError::io(dir))? {
        let path = entry.map_err(ReportError::io(dir))?.path();
        if path.extension().and_then(|e| e.to_str()) == Some("json") {
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string();
            files.push((stem, path));
        }
    }
    files.sort();
    Ok(files)
}

pub(crate) fn read_json<T: DeserializeOwned>(
    path: &Path,
    what: &'static str,
) -> Result<T, ReportError> {
    let text = std::fs::read_to_string(path).map_err(ReportError::io(path))?;
    serde_json::from_str(&text).map_err(|e| ReportError::Parse {
        path: path.to_path_buf(),
        what,
        message: e.to_string(),
    })
}

fn optional<T: DeserializeOwned>(
    path: &Path,
    what: &'static str,
) -> Result<Option<T>, ReportError> {
    if path.exists() {
        read_json(path, what).map(Some)
    } else {
        Ok(None)
    }
}

/// Writes `value` as pretty JSON.
pub fn write_json<T: Serialize>(value: &T, path: &Path) -> Result<(), ReportError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| ReportError::Serialize {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(ReportError::io(parent))?;
    }
    std::fs::write(path, text + "\n").map_err(ReportError::io(path))
}
