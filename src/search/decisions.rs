//! The problem as the solvers see it: tie groups collapsed into single decisions, and transitions
//! folded into per-decision-pair cost tables.
//!
//! Every plan is a *choice*: one option index per decision group. Its value vector has `1 + m`
//! entries: `[error, cost_0, ..., cost_{m-1}]`, the sum of the chosen options' values plus, for
//! every pair of groups joined by transitions, the table entry of the two chosen options.
//! Transitions between two layers of the same tie group become part of the group's options.

use std::collections::BTreeMap;

use super::problem::LayerSpec;
use super::transition::ResolvedTransition;

/// One decision: a tie group (or a single layer) and the options it can take.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    /// Layer indexes, ascending.
    pub layers: Vec<usize>,
    /// Per option: the candidate index of each layer of `layers`.
    pub choices: Vec<Vec<usize>>,
    /// Per option: `[error, costs...]`, flattened.
    values: Vec<f64>,
    width: usize,
}

impl Group {
    pub fn len(&self) -> usize {
        self.choices.len()
    }

    /// `[error, costs...]` of option `option`.
    pub fn values(&self, option: usize) -> &[f64] {
        &self.values[option * self.width..(option + 1) * self.width]
    }
}

/// Transition costs between two different groups `a < b`, for every pair of their options.
#[derive(Debug, Clone)]
pub(crate) struct Edge {
    pub a: usize,
    pub b: usize,
    cols: usize,
    /// `[(i * cols + j) * width + v]`; the error entry (`v = 0`) is always zero.
    values: Vec<f64>,
    width: usize,
}

impl Edge {
    /// `[0, costs...]` when group `a` takes option `i` and group `b` takes option `j`.
    pub fn values(&self, i: usize, j: usize) -> &[f64] {
        let start = (i * self.cols + j) * self.width;
        &self.values[start..start + self.width]
    }

    /// Every table entry, each `width` long.
    pub fn entries(&self) -> impl Iterator<Item = &[f64]> {
        self.values.chunks(self.width)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Decisions {
    /// `1 + number of cost metrics`.
    pub width: usize,
    pub groups: Vec<Group>,
    pub edges: Vec<Edge>,
    /// Per group: the edges that touch it.
    pub incident: Vec<Vec<usize>>,
    /// Layer names, for messages.
    pub layer_names: Vec<String>,
    /// Per layer: the index of its group.
    pub layer_group: Vec<usize>,
}

impl Decisions {
    pub fn compile(
        layers: &[LayerSpec],
        metrics: &[String],
        groups: &[Vec<usize>],
        transitions: &[ResolvedTransition],
    ) -> Decisions {
        let width = 1 + metrics.len();
        let mut built: Vec<Group> = groups
            .iter()
            .map(|members| build_group(layers, metrics, members))
            .collect();
        let mut group_of = vec![(0, 0); layers.len()];
        for (group, members) in groups.iter().enumerate() {
            for (slot, &layer) in members.iter().enumerate() {
                group_of[layer] = (group, slot);
            }
        }
        let mut edges: BTreeMap<(usize, usize), Edge> = BTreeMap::new();
        for transition in transitions {
            add_transition(&mut built, &mut edges, &group_of, layers, transition, width);
        }
        let edges: Vec<Edge> = edges.into_values().collect();
        let mut incident = vec![Vec::new(); built.len()];
        for (index, edge) in edges.iter().enumerate() {
            incident[edge.a].push(index);
            incident[edge.b].push(index);
        }
        Decisions {
            width,
            groups: built,
            edges,
            incident,
            layer_names: layers.iter().map(|layer| layer.name.clone()).collect(),
            layer_group: group_of.iter().map(|&(group, _)| group).collect(),
        }
    }

    /// `[error, costs...]` of a full choice.
    pub fn evaluate(&self, choice: &[usize]) -> Vec<f64> {
        let mut total = vec![0.0; self.width];
        for (group, &option) in self.groups.iter().zip(choice) {
            add(&mut total, group.values(option));
        }
        for edge in &self.edges {
            add(&mut total, edge.values(choice[edge.a], choice[edge.b]));
        }
        total
    }

    /// How the value vector changes when group `group` switches to `option`.
    pub fn delta(&self, choice: &[usize], group: usize, option: usize) -> Vec<f64> {
        let old = choice[group];
        let mut change: Vec<f64> = self.groups[group]
            .values(option)
            .iter()
            .zip(self.groups[group].values(old))
            .map(|(new, old)| new - old)
            .collect();
        for &index in &self.incident[group] {
            let edge = &self.edges[index];
            let (before, after) = if edge.a == group {
                let other = choice[edge.b];
                (edge.values(old, other), edge.values(option, other))
            } else {
                let other = choice[edge.a];
                (edge.values(other, old), edge.values(other, option))
            };
            for (slot, (new, old)) in change.iter_mut().zip(after.iter().zip(before)) {
                *slot += new - old;
            }
        }
        change
    }

    /// Bounds on value slot `slot` over all plans: per-group and per-transition-table extremes,
    /// summed. Attained when there are no transitions; always valid.
    pub fn bounds(&self, slot: usize) -> (f64, f64) {
        let extremes = |values: &mut dyn Iterator<Item = f64>| {
            values.fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), v| {
                (low.min(v), high.max(v))
            })
        };
        let (mut low, mut high) = (0.0, 0.0);
        for group in &self.groups {
            let (l, h) = extremes(&mut (0..group.len()).map(|o| group.values(o)[slot]));
            low += l;
            high += h;
        }
        for edge in &self.edges {
            let (l, h) = extremes(&mut edge.entries().map(|values| values[slot]));
            low += l;
            high += h;
        }
        (low, high)
    }

    /// The same decisions with the groups in `order` (new position -> old group). Only for
    /// problems without transitions, whose groups can be decided in any order.
    pub fn permuted(&self, order: &[usize]) -> Decisions {
        let groups: Vec<Group> = order.iter().map(|&g| self.groups[g].clone()).collect();
        let mut layer_group = vec![0; self.layer_group.len()];
        for (position, group) in groups.iter().enumerate() {
            for &layer in &group.layers {
                layer_group[layer] = position;
            }
        }
        Decisions {
            width: self.width,
            incident: vec![Vec::new(); groups.len()],
            groups,
            edges: Vec::new(),
            layer_names: self.layer_names.clone(),
            layer_group,
        }
    }

    /// The candidate index of every layer under `choice`.
    pub fn layer_candidates(&self, choice: &[usize]) -> Vec<usize> {
        let mut candidates = vec![0; self.layer_names.len()];
        for (group, &option) in self.groups.iter().zip(choice) {
            for (&layer, &candidate) in group.layers.iter().zip(&group.choices[option]) {
                candidates[layer] = candidate;
            }
        }
        candidates
    }
}

pub(crate) fn add(total: &mut [f64], values: &[f64]) {
    for (slot, value) in total.iter_mut().zip(values) {
        *slot += value;
    }
}

fn build_group(layers: &[LayerSpec], metrics: &[String], members: &[usize]) -> Group {
    let width = 1 + metrics.len();
    let first = &layers[members[0]];
    let mut choices = Vec::with_capacity(first.candidates.len());
    let mut values = vec![0.0; first.candidates.len() * width];
    for (option, candidate) in first.candidates.iter().enumerate() {
        // Tie validation guarantees every member offers the same candidate names.
        let choice: Vec<usize> = members
            .iter()
            .map(|&layer| {
                let offered = &layers[layer].candidates;
                offered
                    .iter()
                    .position(|c| c.name == candidate.name)
                    .unwrap_or(0)
            })
            .collect();
        let slot = &mut values[option * width..(option + 1) * width];
        for (&layer, &index) in members.iter().zip(&choice) {
            let chosen = &layers[layer].candidates[index];
            slot[0] += chosen.error;
            for (metric, name) in metrics.iter().enumerate() {
                slot[1 + metric] += chosen.costs.get(name).copied().unwrap_or(0.0);
            }
        }
        choices.push(choice);
    }
    Group {
        layers: members.to_vec(),
        choices,
        values,
        width,
    }
}

fn add_transition(
    groups: &mut [Group],
    edges: &mut BTreeMap<(usize, usize), Edge>,
    group_of: &[(usize, usize)],
    layers: &[LayerSpec],
    transition: &ResolvedTransition,
    width: usize,
) {
    let cols = layers[transition.to].candidates.len();
    let (from_group, from_slot) = group_of[transition.from];
    let (to_group, to_slot) = group_of[transition.to];
    let slot = 1 + transition.metric;
    if from_group == to_group {
        let group = &mut groups[from_group];
        for option in 0..group.len() {
            let (row, col) = (
                group.choices[option][from_slot],
                group.choices[option][to_slot],
            );
            group.values[option * width + slot] += transition.at(row, col, cols);
        }
        return;
    }
    let (a, b) = (from_group.min(to_group), from_group.max(to_group));
    let (rows_a, cols_b) = (groups[a].len(), groups[b].len());
    let edge = edges.entry((a, b)).or_insert_with(|| Edge {
        a,
        b,
        cols: cols_b,
        values: vec![0.0; rows_a * cols_b * width],
        width,
    });
    for i in 0..rows_a {
        for j in 0..cols_b {
            let (from_option, to_option) = if from_group == a { (i, j) } else { (j, i) };
            let row = groups[from_group].choices[from_option][from_slot];
            let col = groups[to_group].choices[to_option][to_slot];
            edge.values[(i * cols_b + j) * width + slot] += transition.at(row, col, cols);
        }
    }
}
