//! The order in which the exact solver decides the groups, and which earlier decisions it must
//! remember at each step because a transition still links them to a later group.
//!
//! Groups are decided in layer order. After step `i`, group `g <= i` is *open* when some
//! transition joins it to a group after `i`. On a chain only the last group is open; a residual
//! connection keeps its source open until its target is decided. The exact solver keys its
//! partial plans by the options of the open groups, so the number of keys is the product of
//! their option counts.

use super::decisions::Decisions;
use super::error::SearchError;

#[derive(Debug, Clone)]
pub(crate) struct Frontier {
    /// Per step: the open groups after it, ascending.
    pub open_after: Vec<Vec<usize>>,
    /// Per step: the edges closed by it, with the slot of their earlier group in the previous key.
    pub incoming: Vec<Vec<(usize, usize)>>,
    /// Per step: for each slot of the new key, the slot of the previous key it copies, or `None`
    /// for the option just taken.
    pub key_from: Vec<Vec<Option<usize>>>,
}

impl Frontier {
    /// Plans the steps; refuses when more than `max_keys` option combinations would stay open.
    pub fn plan(decisions: &Decisions, max_keys: usize) -> Result<Frontier, SearchError> {
        let count = decisions.groups.len();
        let mut last_partner: Vec<usize> = (0..count).collect();
        for edge in &decisions.edges {
            last_partner[edge.a] = last_partner[edge.a].max(edge.b);
        }
        let mut frontier = Frontier {
            open_after: Vec::with_capacity(count),
            incoming: Vec::with_capacity(count),
            key_from: Vec::with_capacity(count),
        };
        let mut previous: Vec<usize> = Vec::new();
        for step in 0..count {
            let open: Vec<usize> = previous
                .iter()
                .copied()
                .chain(std::iter::once(step))
                .filter(|&group| last_partner[group] > step)
                .collect();
            check_width(decisions, step, &open, max_keys)?;
            let slot_of = |group: usize| previous.iter().position(|&open| open == group);
            let incoming = decisions
                .edges
                .iter()
                .enumerate()
                .filter(|(_, edge)| edge.b == step)
                .map(|(index, edge)| (index, slot_of(edge.a).unwrap_or(0)))
                .collect();
            let key_from = open
                .iter()
                .map(|&group| if group == step { None } else { slot_of(group) })
                .collect();
            frontier.incoming.push(incoming);
            frontier.key_from.push(key_from);
            frontier.open_after.push(open.clone());
            previous = open;
        }
        Ok(frontier)
    }
}

fn check_width(
    decisions: &Decisions,
    step: usize,
    open: &[usize],
    max_keys: usize,
) -> Result<(), SearchError> {
    let combinations = open.iter().try_fold(1usize, |product, &group| {
        product.checked_mul(decisions.groups[group].len())
    });
    match combinations {
        Some(combinations) if combinations <= max_keys => Ok(()),
        _ => {
            let first_layer = decisions.groups[step].layers[0];
            Err(SearchError::ExactTooWide {
                layer: decisions.layer_names[first_layer].clone(),
                open: open.len(),
                combinations: combinations.unwrap_or(usize::MAX),
                limit: max_keys,
            })
        }
    }
}
