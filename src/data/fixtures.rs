//! Where `scripts/fetch-fixtures` puts what it downloads: `$BITPLAN_FIXTURES`, else
//! `~/.cache/bitplan/fixtures`. Both the script and this module read the same variable.

use std::path::{Path, PathBuf};

use super::DataError;

/// Environment variable naming the fixtures directory (shared with `scripts/fetch-fixtures`).
pub const FIXTURES_ENV: &str = "BITPLAN_FIXTURES";

/// The fixtures directory; it may not exist yet.
pub fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(FIXTURES_ENV).filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    Path::new(&home).join(".cache/bitplan/fixtures")
}

/// A file or directory inside the fixtures directory, or an error telling the user to run the
/// fetch script when it is not there.
pub fn fixture_path(relative: &str) -> Result<PathBuf, DataError> {
    let path = fixtures_dir().join(relative);
    if path.exists() {
        Ok(path)
    } else {
        Err(DataError::MissingFixture { path })
    }
}
