//! Writing outputs safely: refuse an existing output unless forced, and write to a temporary
//! name beside the output that is renamed only once complete, so an interrupted export never
//! leaves a half-written file under the final name (a stale temporary at worst).

use std::fs::File;
use std::path::{Path, PathBuf};

use super::error::ExportError;

/// Fails if `out` exists and `force` is not set.
pub fn check_output(out: &Path, force: bool) -> Result<(), ExportError> {
    if out.exists() && !force {
        return Err(ExportError::OutputExists { path: out.into() });
    }
    Ok(())
}

/// The temporary sibling of `out`: `.NAME.bitplan-tmp-PID` in the same directory (same file
/// system, so the final rename is atomic).
pub fn temp_sibling(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export".into());
    out.with_file_name(format!(".{name}.bitplan-tmp-{}", std::process::id()))
}

/// A file written under a temporary name and renamed to its final name by [`AtomicFile::commit`];
/// dropped uncommitted, the temporary is removed.
pub struct AtomicFile {
    out: PathBuf,
    temp: PathBuf,
    file: Option<File>,
}

impl AtomicFile {
    pub fn create(out: &Path) -> Result<Self, ExportError> {
        let temp = temp_sibling(out);
        let file = File::create(&temp).map_err(|error| ExportError::io(&temp, error))?;
        Ok(Self {
            out: out.into(),
            temp,
            file: Some(file),
        })
    }

    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// A handle to write through.
    pub fn handle(&self) -> Result<File, ExportError> {
        let file = self
            .file
            .as_ref()
            .ok_or_else(|| ExportError::io(&self.temp, "the temporary file is already closed"))?;
        file.try_clone()
            .map_err(|error| ExportError::io(&self.temp, error))
    }

    /// Syncs the data to disk and renames the temporary to the output; returns its size in bytes.
    pub fn commit(mut self) -> Result<u64, ExportError> {
        let file = self
            .file
            .take()
            .ok_or_else(|| ExportError::io(&self.temp, "the temporary file is already closed"))?;
        file.sync_all()
            .map_err(|error| ExportError::io(&self.temp, error))?;
        let bytes = file
            .metadata()
            .map_err(|error| ExportError::io(&self.temp, error))?
            .len();
        drop(file);
        std::fs::rename(&self.temp, &self.out)
            .map_err(|error| ExportError::io(&self.out, error))?;
        Ok(bytes)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            // Best effort: an uncommitted temporary is garbage.
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
