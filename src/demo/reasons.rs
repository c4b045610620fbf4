//! Why each layer of a plan got its candidate, in words a reviewer can check against the
//! sensitivity table: the layer's rank by measured sensitivity, or that it took the chip's
//! cheapest candidate. Reasons the search already gave (ties, single candidates) are kept.

use crate::search::Plan;
use crate::validate::SensitivityProbe;

/// A layer's sensitivity: its largest measured error over the candidates it can take.
fn sensitivity(probe: &SensitivityProbe, layer: &str) -> Option<f64> {
    let row = probe.layers.iter().find(|l| l.name == layer)?;
    row.cells
        .iter()
        .map(|c| c.error)
        .fold(None, |m: Option<f64>, e| Some(m.map_or(e, |m| m.max(e))))
}

/// Fills in the reason of every layer that has none.
pub fn annotate_reasons(
    plan: &mut Plan,
    probe: &SensitivityProbe,
    cheapest: &dyn Fn(&str) -> Option<String>,
) {
    let mut scores: Vec<(String, f64)> = plan
        .layers
        .iter()
        .filter_map(|l| Some((l.name.clone(), sensitivity(probe, &l.name)?)))
        .collect();
    scores.sort_by(|a, b| b.1.total_cmp(&a.1));
    let count = scores.len().max(1) as f64;
    for layer in plan.layers.iter_mut().filter(|l| l.reason.is_none()) {
        let rank = scores.iter().position(|(name, _)| *name == layer.name);
        let share = rank.map(|r| (r + 1) as f64 / count);
        let is_cheapest = cheapest(&layer.name).as_deref() == Some(layer.candidate.as_str());
        layer.reason = Some(match share {
            Some(s) if s <= 0.1 && !is_cheapest => "most sensitive 10% of layers".to_string(),
            Some(s) if s <= 0.25 && !is_cheapest => {
                "among the 25% most sensitive layers".to_string()
            }
            _ if is_cheapest => "cheapest candidate on this chip".to_string(),
            Some(s) => format!(
                "sensitivity rank {} of {}: the error/latency trade-off",
                (s * count).round(),
                count
            ),
            None => "the error/latency trade-off".to_string(),
        });
    }
}
