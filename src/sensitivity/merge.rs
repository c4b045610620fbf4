//! Joining shard outputs into one table, refusing shards of a different analysis.

use std::path::PathBuf;

use super::journal::provenance_difference;
use super::table::SensitivityTable;
use super::SensitivityError;

/// Merges shard tables (with the paths they came from, for errors) into one table.
pub fn merge(
    shards: Vec<(PathBuf, SensitivityTable)>,
) -> Result<SensitivityTable, SensitivityError> {
    let Some((first_path, first)) = shards.first().cloned() else {
        return Err(SensitivityError::Invalid {
            what: "bitplan merge".into(),
            reason: "no shard files given".into(),
        });
    };
    let count = first.shard.map_or(1, |s| s.count);
    let mut seen = vec![false; count];
    let mut cells = Vec::new();
    for (path, table) in shards {
        if let Some((field, found, expected)) =
            provenance_difference(&table.provenance, &first.provenance)
        {
            return Err(SensitivityError::ShardMismatch {
                path,
                field,
                found,
                expected,
            });
        }
        let shard = table.shard.ok_or_else(|| SensitivityError::Invalid {
            what: path.display().to_string(),
            reason: "is a complete table, not a shard (written without --shard)".into(),
        })?;
        if shard.count != count || table.total_cells != first.total_cells {
            return Err(SensitivityError::ShardMismatch {
                path,
                field: "shard count".into(),
                found: shard.count.to_string(),
                expected: count.to_string(),
            });
        }
        if std::mem::replace(&mut seen[shard.index - 1], true) {
            return Err(SensitivityError::Invalid {
                what: path.display().to_string(),
                reason: format!("shard {}/{count} given twice", shard.index),
            });
        }
        cells.extend(table.cells);
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(SensitivityError::Invalid {
            what: first_path.display().to_string(),
            reason: format!("shard {}/{count} is missing", missing + 1),
        });
    }
    cells.sort_by_key(|cell| cell.index);
    if cells.len() != first.total_cells {
        return Err(SensitivityError::Invalid {
            what: "merged shards".into(),
            reason: format!(
                "hold {} cells, expected {} (an unfinished shard?)",
                cells.len(),
                first.total_cells
            ),
        });
    }
    Ok(SensitivityTable {
        shard: None,
        cells,
        ..first
    })
}
