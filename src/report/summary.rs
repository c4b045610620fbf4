//! What each chip gains from mixed precision: at one accuracy target, the fastest validated
//! mixed plan against the fastest uniform baseline, both by predicted latency on that chip.

use serde::Serialize;

use super::run_dir::RunData;
use crate::search::{Front, Plan};

/// Accuracy target: within this many percentage points of fp32, measured on the evaluation split.
pub const ACCURACY_TOLERANCE_PP: f64 = 1.0;

/// A plan's headline numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pick {
    /// `mixed plan #INDEX` (its index in the front) or `uniform CANDIDATE`.
    pub label: String,
    pub latency_us: f64,
    pub weight_bytes: f64,
    pub accuracy_percent: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChipSummary {
    pub profile: String,
    pub fp32_accuracy_percent: f64,
    pub mixed: Option<Pick>,
    pub uniform: Option<Pick>,
}

impl ChipSummary {
    /// Predicted speed-up of the mixed plan over the uniform one (> 1: mixed is faster).
    pub fn speedup(&self) -> Option<f64> {
        let (mixed, uniform) = (self.mixed.as_ref()?, self.uniform.as_ref()?);
        (mixed.latency_us > 0.0).then(|| uniform.latency_us / mixed.latency_us)
    }

    /// One line for people.
    pub fn line(&self) -> String {
        let describe = |pick: &Option<Pick>| match pick {
            Some(p) => format!(
                "{} {:.3} us, {:.1} KiB, {:.2}%",
                p.label,
                p.latency_us,
                p.weight_bytes / 1024.0,
                p.accuracy_percent
            ),
            None => "none within the target".to_string(),
        };
        let gain = self
            .speedup()
            .map_or(String::new(), |s| format!(" -> {s:.2}x predicted speed-up"));
        format!(
            "{}: {} vs best {}{gain}",
            self.profile,
            describe(&self.mixed),
            describe(&self.uniform)
        )
    }
}

/// One summary per profile of the run.
pub fn chip_summaries(run: &RunData) -> Vec<ChipSummary> {
    run.fronts
        .iter()
        .map(|(profile, front)| chip_summary(profile, front))
        .collect()
}

fn chip_summary(profile: &str, front: &Front) -> ChipSummary {
    let reference = front
        .plans
        .iter()
        .map(|p| &p.plan)
        .chain(front.baselines.iter().map(|b| &b.plan))
        .find_map(|plan| plan.measured.as_ref().map(|m| m.reference_value))
        .unwrap_or(f64::NAN);
    let target = reference - ACCURACY_TOLERANCE_PP;
    let mixed = fastest(
        front
            .plans
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("mixed plan #{i}"), &p.plan)),
        target,
    );
    let uniform = fastest(
        front
            .baselines
            .iter()
            .filter(|b| b.within_budgets)
            .map(|b| (format!("uniform {}", b.candidate), &b.plan)),
        target,
    );
    ChipSummary {
        profile: profile.to_string(),
        fp32_accuracy_percent: reference,
        mixed,
        uniform,
    }
}

fn fastest<'a>(plans: impl Iterator<Item = (String, &'a Plan)>, target: f64) -> Option<Pick> {
    plans
        .filter_map(|(label, plan)| {
            let measured = plan.measured.as_ref()?;
            (measured.value >= target).then(|| Pick {
                label,
                latency_us: plan.total("latency_us"),
                weight_bytes: plan.total("weight_bytes"),
                accuracy_percent: measured.value,
            })
        })
        .min_by(|a, b| a.latency_us.total_cmp(&b.latency_us))
}
