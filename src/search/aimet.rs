//! AIMET's sensitivity-ordered path, as a baseline for the greedy and exact solvers.
//!
//! AIMET's automatic mixed precision (phase 2, `_create_pareto_front_list`) starts with every
//! quantizer group on the most accurate candidate, sorts all (group, candidate) pairs by how much
//! accuracy the model keeps with only that group on that candidate (least sensitive first), and
//! applies them cumulatively, giving a path of plans from accurate to cheap; it then picks the
//! point on the path that meets its target. Here the sensitivity of a (group, candidate) pair is
//! the group's predicted error in that candidate, and the target is the budgets: the answer is
//! the first plan on the path within every budget. It ignores cost when ordering, which is why
//! it is a baseline and not a solver we recommend.

use super::decisions::{add, Decisions};
use super::greedy::within;

/// The first plan on the sensitivity-ordered path within `budgets`, or `None`.
pub(crate) fn sensitivity_path(
    decisions: &Decisions,
    budgets: &[(usize, f64)],
) -> Option<Vec<usize>> {
    let mut choice: Vec<usize> = decisions
        .groups
        .iter()
        .map(|group| {
            (0..group.len())
                .min_by(|&a, &b| group.values(a)[0].total_cmp(&group.values(b)[0]))
                .unwrap_or(0)
        })
        .collect();
    let mut totals = decisions.evaluate(&choice);
    if within(&totals, budgets) {
        return Some(choice);
    }
    let mut path: Vec<(f64, usize, usize)> = Vec::new();
    for (group, spec) in decisions.groups.iter().enumerate() {
        for option in (0..spec.len()).filter(|&o| o != choice[group]) {
            path.push((spec.values(option)[0], group, option));
        }
    }
    path.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    for (_, group, option) in path {
        let change = decisions.delta(&choice, group, option);
        add(&mut totals, &change);
        choice[group] = option;
        if within(&totals, budgets) {
            return Some(choice);
        }
    }
    None
}
