//! Tie groups: layers that must take the same candidate (Q/K/V projections, residual partners).
//!
//! Overlapping ties merge (a tie with `a, b` and one with `b, c` bind all three). Tied layers must
//! offer the same candidate names; a name one of them lacks makes the tie contradictory.

use std::collections::BTreeMap;

use super::error::SearchError;
use super::problem::LayerSpec;

/// Every layer's decision group: groups ordered by their first layer, layers ascending inside.
/// Untied layers are groups of one.
pub(crate) fn resolve_ties(
    origin: &str,
    layers: &[LayerSpec],
    ties: &[Vec<String>],
) -> Result<Vec<Vec<usize>>, SearchError> {
    let index: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .map(|(position, layer)| (layer.name.as_str(), position))
        .collect();
    let mut parent: Vec<usize> = (0..layers.len()).collect();
    for (tie, names) in ties.iter().enumerate() {
        let members = tie_members(origin, tie, names, &index)?;
        for &member in &members[1..] {
            union(&mut parent, members[0], member);
        }
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut group_of_root: BTreeMap<usize, usize> = BTreeMap::new();
    for layer in 0..layers.len() {
        let root = find(&mut parent, layer);
        let group = *group_of_root.entry(root).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[group].push(layer);
    }
    for group in &groups {
        check_same_candidates(origin, layers, group)?;
    }
    Ok(groups)
}

fn tie_members(
    origin: &str,
    tie: usize,
    names: &[String],
    index: &BTreeMap<&str, usize>,
) -> Result<Vec<usize>, SearchError> {
    let mut members = Vec::new();
    for name in names {
        let Some(&layer) = index.get(name.as_str()) else {
            return Err(SearchError::TieUnknownLayer {
                origin: origin.to_string(),
                tie,
                layer: name.clone(),
            });
        };
        if !members.contains(&layer) {
            members.push(layer);
        }
    }
    if members.len() < 2 {
        return Err(SearchError::TieTooSmall {
            origin: origin.to_string(),
            tie,
            layers: names.join(", "),
        });
    }
    Ok(members)
}

fn find(parent: &mut [usize], mut node: usize) -> usize {
    while parent[node] != node {
        parent[node] = parent[parent[node]];
        node = parent[node];
    }
    node
}

/// Joins two sets; the smaller layer index stays the root.
fn union(parent: &mut [usize], a: usize, b: usize) {
    let (root_a, root_b) = (find(parent, a), find(parent, b));
    let (low, high) = (root_a.min(root_b), root_a.max(root_b));
    parent[high] = low;
}

fn check_same_candidates(
    origin: &str,
    layers: &[LayerSpec],
    group: &[usize],
) -> Result<(), SearchError> {
    let first = &layers[group[0]];
    for &member in &group[1..] {
        let other = &layers[member];
        for (from, to) in [(first, other), (other, first)] {
            let missing = from
                .candidates
                .iter()
                .find(|candidate| !to.candidates.iter().any(|c| c.name == candidate.name));
            if let Some(candidate) = missing {
                return Err(SearchError::TieCandidatesDiffer {
                    origin: origin.to_string(),
                    first: first.name.clone(),
                    other: other.name.clone(),
                    missing_from: to.name.clone(),
                    candidate: candidate.name.clone(),
                });
            }
        }
    }
    Ok(())
}
