//! The points figures plot: every plan and baseline of every front.

use super::super::run_dir::RunData;
use crate::search::Plan;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointKind {
    Plan,
    Recommended,
    Baseline,
}

/// One plan of one profile.
#[derive(Debug, Clone)]
pub struct Point<'a> {
    /// Index of the profile in the run (its colour).
    pub profile: usize,
    pub kind: PointKind,
    /// The baseline's candidate, empty for frontier plans.
    pub label: String,
    pub plan: &'a Plan,
}

/// Every plan and baseline of `run`.
pub fn all_points(run: &RunData) -> Vec<Point<'_>> {
    let mut points = Vec::new();
    for (profile, front) in run.fronts.values().enumerate() {
        for (index, entry) in front.plans.iter().enumerate() {
            let kind = if front.recommended == Some(index) {
                PointKind::Recommended
            } else {
                PointKind::Plan
            };
            points.push(Point {
                profile,
                kind,
                label: String::new(),
                plan: &entry.plan,
            });
        }
        for baseline in &front.baselines {
            points.push(Point {
                profile,
                kind: PointKind::Baseline,
                label: baseline.candidate.clone(),
                plan: &baseline.plan,
            });
        }
    }
    points
}

/// The measured points only.
pub fn measured_plans(run: &RunData) -> Vec<Point<'_>> {
    all_points(run)
        .into_iter()
        .filter(|p| p.plan.measured.is_some())
        .collect()
}

/// `(min, max)` of `values` widened so a range is never empty; positive-only when `log`.
pub fn range(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for value in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        lo = lo.min(value);
        hi = hi.max(value);
    }
    if !lo.is_finite() {
        return if log { (1.0, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        (lo / 1.3, hi * 1.3)
    } else {
        let pad = ((hi - lo) * 0.08).max(hi.abs() * 0.01).max(1e-9);
        (lo - pad, hi + pad)
    }
}
