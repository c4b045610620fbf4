//! What changed between two plans: layers whose candidate changed, and every total that moved.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::search::Plan;

/// One layer whose candidate differs (a layer present in only one plan has `None` on the other).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerChange {
    pub layer: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// One total that differs: `before` and `after` (absent metrics count as missing, not zero).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TotalChange {
    pub metric: String,
    pub before: Option<f64>,
    pub after: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct PlanDiff {
    pub layers: Vec<LayerChange>,
    pub totals: Vec<TotalChange>,
}

impl PlanDiff {
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty() && self.totals.is_empty()
    }
}

/// The differences from `before` to `after`, layers in `before`'s order then new ones.
pub fn diff(before: &Plan, after: &Plan) -> PlanDiff {
    let find = |plan: &Plan, name: &str| {
        plan.layers
            .iter()
            .find(|layer| layer.name == name)
            .map(|layer| layer.candidate.clone())
    };
    let mut names: Vec<&str> = before.layers.iter().map(|l| l.name.as_str()).collect();
    for layer in &after.layers {
        if !names.contains(&layer.name.as_str()) {
            names.push(&layer.name);
        }
    }
    let layers = names
        .into_iter()
        .filter_map(|name| {
            let (old, new) = (find(before, name), find(after, name));
            (old != new).then(|| LayerChange {
                layer: name.to_string(),
                before: old,
                after: new,
            })
        })
        .collect();
    let metrics: BTreeSet<&String> = before.totals.keys().chain(after.totals.keys()).collect();
    let totals = metrics
        .into_iter()
        .filter_map(|metric| {
            let (old, new) = (before.totals.get(metric), after.totals.get(metric));
            (old != new).then(|| TotalChange {
                metric: metric.clone(),
                before: old.copied(),
                after: new.copied(),
            })
        })
        .collect();
    PlanDiff { layers, totals }
}
