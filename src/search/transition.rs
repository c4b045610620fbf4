//! Transition costs: what it costs when two adjacent layers take given candidates (a format
//! conversion, a re-layout, a kernel switch). The matrix is indexed `[from candidate][to candidate]`
//! in each layer's candidate order and adds to one cost metric.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::SearchError;
use super::problem::LayerSpec;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionSpec {
    pub from: String,
    pub to: String,
    /// The cost metric the matrix adds to (e.g. `latency_us`).
    pub metric: String,
    /// `cost[i][j]`: added when `from` takes its candidate `i` and `to` its candidate `j`.
    pub cost: Vec<Vec<f64>>,
}

/// A transition with names resolved to indexes and its matrix flattened row-major.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedTransition {
    pub from: usize,
    pub to: usize,
    pub metric: usize,
    pub cost: Vec<f64>,
}

impl ResolvedTransition {
    /// Cost when `from` takes candidate `row` and `to` takes candidate `col`.
    pub fn at(&self, row: usize, col: usize, cols: usize) -> f64 {
        self.cost[row * cols + col]
    }
}

pub(crate) fn validate_transitions(
    origin: &str,
    layers: &[LayerSpec],
    metrics: &[String],
    transitions: &[TransitionSpec],
) -> Result<Vec<ResolvedTransition>, SearchError> {
    let index: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .map(|(position, layer)| (layer.name.as_str(), position))
        .collect();
    let mut seen: BTreeMap<(usize, usize, usize), usize> = BTreeMap::new();
    let mut resolved = Vec::with_capacity(transitions.len());
    for (position, spec) in transitions.iter().enumerate() {
        let transition = resolve(origin, position, spec, &index, layers, metrics)?;
        let key = (transition.from, transition.to, transition.metric);
        if let Some(&first) = seen.get(&key) {
            return Err(SearchError::TransitionDuplicate {
                origin: origin.to_string(),
                index: position,
                first,
                from: spec.from.clone(),
                to: spec.to.clone(),
                metric: spec.metric.clone(),
            });
        }
        seen.insert(key, position);
        resolved.push(transition);
    }
    Ok(resolved)
}

fn resolve(
    origin: &str,
    position: usize,
    spec: &TransitionSpec,
    index: &BTreeMap<&str, usize>,
    layers: &[LayerSpec],
    metrics: &[String],
) -> Result<ResolvedTransition, SearchError> {
    let layer = |field: &'static str, name: &String| {
        index
            .get(name.as_str())
            .copied()
            .ok_or_else(|| SearchError::TransitionUnknownLayer {
                origin: origin.to_string(),
                index: position,
                field,
                layer: name.clone(),
            })
    };
    let from = layer("from", &spec.from)?;
    let to = layer("to", &spec.to)?;
    if from == to {
        return Err(SearchError::TransitionSelf {
            origin: origin.to_string(),
            index: position,
            layer: spec.from.clone(),
        });
    }
    let metric = metrics
        .iter()
        .position(|known| *known == spec.metric)
        .ok_or_else(|| SearchError::TransitionUnknownMetric {
            origin: origin.to_string(),
            index: position,
            metric: spec.metric.clone(),
            known: metrics.join(", "),
        })?;
    let (rows, cols) = (layers[from].candidates.len(), layers[to].candidates.len());
    let cost = flatten_matrix(origin, position, spec, rows, cols)?;
    Ok(ResolvedTransition {
        from,
        to,
        metric,
        cost,
    })
}

fn flatten_matrix(
    origin: &str,
    position: usize,
    spec: &TransitionSpec,
    rows: usize,
    cols: usize,
) -> Result<Vec<f64>, SearchError> {
    let shape_ok = spec.cost.len() == rows && spec.cost.iter().all(|row| row.len() == cols);
    if !shape_ok {
        let lengths: Vec<String> = spec.cost.iter().map(|row| row.len().to_string()).collect();
        return Err(SearchError::TransitionShape {
            origin: origin.to_string(),
            index: position,
            from: spec.from.clone(),
            to: spec.to.clone(),
            found: format!(
                "{} rows of [{}] values",
                spec.cost.len(),
                lengths.join(", ")
            ),
            rows,
            cols,
        });
    }
    for (row, values) in spec.cost.iter().enumerate() {
        for (col, &value) in values.iter().enumerate() {
            if !value.is_finite() || value < 0.0 {
                return Err(SearchError::TransitionBadValue {
                    origin: origin.to_string(),
                    index: position,
                    from: spec.from.clone(),
                    to: spec.to.clone(),
                    row,
                    col,
                    value,
                });
            }
        }
    }
    Ok(spec.cost.iter().flatten().copied().collect())
}
