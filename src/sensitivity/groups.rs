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
