//! The parts of a joined problem that link layers: tie groups (restricted to the candidates every
//! member can run) and transition matrices (re-indexed from the cost table's candidate order to
//! the problem's). See [`super::tables`].

use std::collections::{BTreeMap, BTreeSet};

use super::tables::{JoinedLayer, Tables};
use super::tables_error::TableError;
use super::transition::TransitionSpec;

/// Tied layers keep only the candidates every member can run (they must share one).
pub(super) fn restrict_ties(rows: &mut [JoinedLayer], ties: &[Vec<String>]) {
    for tie in ties {
        let members: Vec<usize> = rows
            .iter()
            .enumerate()
            .filter(|(_, row)| tie.contains(&row.spec.name))
            .map(|(index, _)| index)
            .collect();
        let common: BTreeSet<String> = members
            .iter()
            .map(|&i| names(&rows[i]))
            .reduce(|a, b| a.intersection(&b).cloned().collect())
            .unwrap_or_default();
        for &index in &members {
            let row = &mut rows[index];
            let keep: Vec<bool> = row
                .spec
                .candidates
                .iter()
                .map(|c| common.contains(&c.name))
                .collect();
            let mut flags = keep.iter();
            row.spec
                .candidates
                .retain(|_| *flags.next().unwrap_or(&false));
            let mut flags = keep.iter();
            row.cost_rows.retain(|_| *flags.next().unwrap_or(&false));
        }
    }
}

fn names(row: &JoinedLayer) -> BTreeSet<String> {
    row.spec.candidates.iter().map(|c| c.name.clone()).collect()
}

/// The cost table's transition matrices between layers of the problem, re-indexed from the
/// cost table's candidate order to the problem's.
pub(super) fn transitions(
    tables: &Tables,
    rows: &[JoinedLayer],
) -> Result<Vec<TransitionSpec>, TableError> {
    let by_name: BTreeMap<&str, &JoinedLayer> = rows
        .iter()
        .map(|row| (row.spec.name.as_str(), row))
        .collect();
    let mut specs = Vec::new();
    for matrix in &tables.costs.transitions {
        let (Some(from), Some(to)) = (
            by_name.get(matrix.from.as_str()),
            by_name.get(matrix.to.as_str()),
        ) else {
            continue;
        };
        let mut cost = Vec::new();
        for &row in &from.cost_rows {
            let mut line = Vec::new();
            for &col in &to.cost_rows {
                let cell = matrix.cost.get(row).and_then(|r| r.get(col));
                line.push(*cell.ok_or_else(|| TableError::TransitionShape {
                    costs: tables.cost_file.to_string(),
                    from: matrix.from.clone(),
                    to: matrix.to.clone(),
                    metric: matrix.metric.clone(),
                    row,
                    col,
                })?);
            }
            cost.push(line);
        }
        specs.push(TransitionSpec {
            from: matrix.from.clone(),
            to: matrix.to.clone(),
            metric: matrix.metric.clone(),
            cost,
        });
    }
    Ok(specs)
}
