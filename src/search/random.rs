//! The random-sampling baseline: plans drawn uniformly (every group picks any of its options with
//! equal probability) from a seeded generator. Given the evaluation budget of the evolutionary
//! solver, it shows how much the other solvers add over blind search.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::decisions::Decisions;
use super::greedy::within;
use super::pareto::dominates;

/// `samples` uniform plans from `seed`, each passed to `visit` with its value vector.
fn for_each_sample(
    decisions: &Decisions,
    samples: usize,
    seed: u64,
    mut visit: impl FnMut(&[usize], Vec<f64>),
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut choice = vec![0; decisions.groups.len()];
    for _ in 0..samples {
        for (gene, group) in choice.iter_mut().zip(&decisions.groups) {
            *gene = rng.random_range(0..group.len());
        }
        let values = decisions.evaluate(&choice);
        visit(&choice, values);
    }
}

/// The sampled plan with the least error within `budgets` (the first of equals).
pub(crate) fn best_sample(
    decisions: &Decisions,
    budgets: &[(usize, f64)],
    samples: usize,
    seed: u64,
) -> Option<Vec<usize>> {
    let mut best: Option<(f64, Vec<usize>)> = None;
    for_each_sample(decisions, samples, seed, |choice, values| {
        let better = best.as_ref().is_none_or(|(error, _)| values[0] < *error);
        if within(&values, budgets) && better {
            best = Some((values[0], choice.to_vec()));
        }
    });
    best.map(|(_, choice)| choice)
}

/// The sampled plans within `budgets` that no other sample dominates on `objectives`, in the
/// order they were drawn.
pub(crate) fn sample_front(
    decisions: &Decisions,
    objectives: &[usize],
    budgets: &[(usize, f64)],
    samples: usize,
    seed: u64,
) -> Vec<Vec<usize>> {
    let mut archive: Vec<(Vec<f64>, Vec<usize>)> = Vec::new();
    for_each_sample(decisions, samples, seed, |choice, values| {
        if !within(&values, budgets) {
            return;
        }
        let point: Vec<f64> = objectives.iter().map(|&slot| values[slot]).collect();
        let covered = archive
            .iter()
            .any(|(kept, _)| dominates(kept, &point) || *kept == point);
        if !covered {
            archive.retain(|(kept, _)| !dominates(&point, kept));
            archive.push((point, choice.to_vec()));
        }
    });
    archive.into_iter().map(|(_, choice)| choice).collect()
}
