//! The journal: a JSON-lines file beside the output, one header line (provenance and shard) and
//! one line per finished cell, appended and flushed as each cell finishes, so a killed run loses
//! nothing finished. `--resume` reads it back; a torn last line (killed mid-write) is dropped.
//! The final table is written atomically (temporary file + rename).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::error::file_error;
use super::table::{Cell, Provenance, Shard};
use super::SensitivityError;

const JOURNAL_SCHEMA: &str = "bitplan.sensitivity-journal/1";

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    journal: String,
    provenance: Provenance,
    shard: Option<Shard>,
}

/// The journal path for an output path: `sens.json` → `sens.json.journal`.
pub fn journal_path(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".journal");
    PathBuf::from(name)
}

/// An open journal, appended to from any thread.
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
}

impl Journal {
    /// Opens `path`: with `resume`, reads back the finished cells of a journal written by the same
    /// analysis; without, refuses to overwrite an existing journal.
    pub fn open(
        path: &Path,
        provenance: &Provenance,
        shard: Option<Shard>,
        resume: bool,
    ) -> Result<(Self, Vec<Cell>), SensitivityError> {
        let exists = path.exists();
        if !resume {
            Self::refuse_existing(path)?;
        }
        let finished = if exists {
            read_back(path, provenance, shard)?
        } else {
            Vec::new()
        };
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| file_error(path, e))?;
        if !exists {
            let header = Header {
                journal: JOURNAL_SCHEMA.into(),
                provenance: provenance.clone(),
                shard,
            };
            let line = serde_json::to_string(&header).map_err(|e| file_error(path, e))?;
            writeln!(file, "{line}")
                .and_then(|()| file.sync_data())
                .map_err(|e| file_error(path, e))?;
        }
        Ok((
            Self {
                path: path.to_owned(),
                file: Mutex::new(file),
            },
            finished,
        ))
    }

    /// Refuses a journal already at `path` (one of an unfinished analysis, which only `--resume`
    /// may continue).
    pub fn refuse_existing(path: &Path) -> Result<(), SensitivityError> {
        if path.exists() {
            return Err(file_error(path, "a journal of an unfinished analysis is here: pass --resume to continue it, or delete it to start over"));
        }
        Ok(())
    }

    /// Appends one finished cell and flushes it to disk.
    pub fn append(&self, cell: &Cell) -> Result<(), SensitivityError> {
        let line = serde_json::to_string(cell).map_err(|e| file_error(&self.path, e))?;
        let mut file = self
            .file
            .lock()
            .map_err(|_| file_error(&self.path, "journal lock poisoned by a failed worker"))?;
        writeln!(file, "{line}")
            .and_then(|()| file.sync_data())
            .map_err(|e| file_error(&self.path, e))
    }
}

fn read_back(
    path: &Path,
    provenance: &Provenance,
    shard: Option<Shard>,
) -> Result<Vec<Cell>, SensitivityError> {
    let text = std::fs::read_to_string(path).map_err(|e| file_error(path, e))?;
    let mut lines = text.lines();
    let header: Header = lines
        .next()
        .and_then(|line| serde_json::from_str(line).ok())
        .ok_or_else(|| {
            file_error(
                path,
                "not a bitplan sensitivity journal (bad header line); delete it to start over",
            )
        })?;
    check_same(path, &header.provenance, provenance)?;
    if header.shard != shard {
        return Err(SensitivityError::JournalMismatch {
            path: path.to_owned(),
            field: "shard".into(),
            found: format!("{:?}", header.shard),
            expected: format!("{shard:?}"),
        });
    }
    let lines: Vec<&str> = lines.collect();
    let mut cells = Vec::new();
    for (number, line) in lines.iter().enumerate() {
        match serde_json::from_str::<Cell>(line) {
            Ok(cell) => cells.push(cell),
            // A run killed mid-write leaves a torn last line (and no newline after it).
            Err(_) if number + 1 == lines.len() && !text.ends_with('\n') => {}
            Err(error) => return Err(file_error(path, format!("line {}: {error}", number + 2))),
        }
    }
    Ok(cells)
}

/// Names the first provenance field that differs.
pub fn provenance_difference(
    found: &Provenance,
    expected: &Provenance,
) -> Option<(String, String, String)> {
    let (found, expected) = (
        serde_json::to_value(found).ok()?,
        serde_json::to_value(expected).ok()?,
    );
    let (found, expected) = (found.as_object()?, expected.as_object()?);
    expected.iter().find_map(|(key, value)| {
        let other = found.get(key).cloned().unwrap_or_default();
        (other != *value).then(|| (key.clone(), other.to_string(), value.to_string()))
    })
}

fn check_same(
    path: &Path,
    found: &Provenance,
    expected: &Provenance,
) -> Result<(), SensitivityError> {
    match provenance_difference(found, expected) {
        Some((field, found, expected)) => Err(SensitivityError::JournalMismatch {
            path: path.to_owned(),
            field,
            found,
            expected,
        }),
        None => Ok(()),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, synced, then renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SensitivityError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    let temporary = PathBuf::from(name);
    let mut file = File::create(&temporary).map_err(|e| file_error(&temporary, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| file_error(&temporary, e))?;
    std::fs::rename(&temporary, path).map_err(|e| file_error(path, e))
}

/// Writes the final table atomically, then removes the journal beside it (its cells are all in
/// the table now).
pub fn write_table(path: &Path, table: &super::SensitivityTable) -> Result<(), SensitivityError> {
    let mut bytes = serde_json::to_vec_pretty(table).map_err(|e| file_error(path, e))?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)?;
    let journal = journal_path(path);
    if journal.exists() {
        std::fs::remove_file(&journal).map_err(|e| file_error(&journal, e))?;
    }
    Ok(())
}

/// Where finished cells go: the journal once it is open, memory until then, or nowhere.
pub(super) enum Sink {
    Off,
    Waiting(Vec<Cell>),
    Open(Journal),
}

impl Sink {
    pub(super) fn append(&mut self, cells: &[Cell]) -> Result<(), SensitivityError> {
        match self {
            Sink::Off => {}
            Sink::Waiting(waiting) => waiting.extend(cells.iter().cloned()),
            Sink::Open(journal) => cells.iter().try_for_each(|cell| journal.append(cell))?,
        }
        Ok(())
    }

    /// Opens the journal and writes the cells that waited for it.
    pub(super) fn open(&mut self, journal: Journal) -> Result<(), SensitivityError> {
        if let Sink::Waiting(waiting) = self {
            waiting.iter().try_for_each(|cell| journal.append(cell))?;
        }
        *self = Sink::Open(journal);
        Ok(())
    }
}

pub(super) fn lock(
    sink: &Mutex<Sink>,
) -> Result<std::sync::MutexGuard<'_, Sink>, SensitivityError> {
    sink.lock().map_err(|_| SensitivityError::Invalid {
        what: "the journal".into(),
        reason: "its lock was poisoned by a failed worker".into(),
    })
}
