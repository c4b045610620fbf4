//! Which cells of an analysis run together: a layer's candidates stacked in one batch where the
//! model allows it, every other cell alone.

use crate::model::{OpKind, RunnableModel};
use crate::space::{Candidate, ResolvedSpace};

/// One cell to measure.
#[derive(Debug, Clone)]
pub(super) struct CellJob {
    pub index: usize,
    pub layer: String,
    pub candidate: Candidate,
}

/// Most candidates of one layer run side by side in one batch (memory: each adds a batch of
/// activations, and for a 49k-token LM a batch of logits).
const MAX_STACK: usize = 8;

/// The cells in the groups that run together: consecutive candidates of one layer with the same
/// activation format, stacked in one batch (see [`RunnableModel::stacks_weights`]) where the
/// model can and something runs after the layer's stage; every other cell alone. Groups depend
/// only on the model and the space, never on which cells are pending, so a resumed or sharded
/// run computes every cell exactly as a whole run does.
pub(super) fn groups(model: &dyn RunnableModel, space: &ResolvedSpace) -> Vec<Vec<CellJob>> {
    let graph = model.graph();
    let stacks = |job: &CellJob| {
        let layer = graph.layer(&job.layer);
        model.stacks_weights()
            && layer.is_some_and(|l| l.op == OpKind::Linear && l.weight_shape.len() == 2)
            && model.stage_of(&job.layer) + 1 < model.stages()
    };
    let mut groups: Vec<Vec<CellJob>> = Vec::new();
    for job in jobs(space) {
        let joins = groups.last().is_some_and(|group| {
            let first = &group[0];
            stacks(&job)
                && first.layer == job.layer
                && first.candidate.activation == job.candidate.activation
                && group.len() < MAX_STACK
        });
        match groups.last_mut() {
            Some(group) if joins => group.push(job),
            _ => groups.push(vec![job]),
        }
    }
    groups
}

/// `groups` in the same order with the last `workers` groups of several cells each split in
/// two, so that workers taking them in turn finish close together: the groups run longest
/// first, and a whole last group left one worker idle while the other ran it (up to a sixth of
/// smollm2's bench). A split changes no cell's value: a cell computes the same numbers stacked
/// with any number of others or alone.
pub(super) fn split_tail<'a>(groups: &[&'a [CellJob]], workers: usize) -> Vec<&'a [CellJob]> {
    let mut split = 0;
    let mut runs: Vec<&[CellJob]> = Vec::with_capacity(groups.len() + workers);
    for group in groups.iter().rev() {
        if split < workers && group.len() > 1 {
            let (first, second) = group.split_at(group.len().div_ceil(2));
            runs.extend([second, first]);
            split += 1;
        } else {
            runs.push(group);
        }
    }
    runs.reverse();
    runs
}

fn jobs(space: &ResolvedSpace) -> Vec<CellJob> {
    let all = space.layers.iter().flat_map(|layer| {
        layer
            .candidates
            .iter()
            .map(move |candidate| (layer.name.clone(), candidate.clone()))
    });
    all.enumerate()
        .map(|(index, (layer, candidate))| CellJob {
            index,
            layer,
            candidate,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::Format;

    fn job(index: usize) -> CellJob {
        CellJob {
            index,
            layer: format!("layer{}", index / 6),
            candidate: Candidate {
                name: format!("c{index}"),
                weight: Format::Fp32,
                activation: Format::Fp32,
            },
        }
    }

    #[test]
    fn the_last_groups_split_in_two_and_every_cell_runs_once_in_order() {
        let jobs: Vec<CellJob> = (0..19).map(job).collect();
        let groups: Vec<&[CellJob]> = vec![&jobs[0..6], &jobs[6..12], &jobs[12..18], &jobs[18..]];
        let sizes = |runs: &[&[CellJob]]| runs.iter().map(|r| r.len()).collect::<Vec<_>>();
        // The single-cell last group cannot split; the two before it do.
        let runs = split_tail(&groups, 2);
        assert_eq!(sizes(&runs), [6, 3, 3, 3, 3, 1]);
        let order: Vec<usize> = runs
            .iter()
            .flat_map(|r| r.iter().map(|j| j.index))
            .collect();
        assert_eq!(order, (0..19).collect::<Vec<_>>());
        assert_eq!(sizes(&split_tail(&groups, 0)), [6, 6, 6, 1]);
    }
}
