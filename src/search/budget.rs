//! Budgets (`latency_us<=500`): parsing, checking them against a problem, and the range of
//! values a metric can take, which infeasible-budget errors state.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::SearchError;
use super::exact::{minimize, ExactLimits, Task};
use super::problem::Problem;

/// An upper limit on the total of one cost metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    pub metric: String,
    pub max: f64,
}

/// Relative slack allowed when comparing a sum of floats with a budget: sums of the same numbers
/// in another order differ by a few ulps, and a plan that fits in one order must fit in all.
const RELATIVE_TOLERANCE: f64 = 1e-9;

/// Whether `value` is within `max`, up to float rounding.
pub fn fits(value: f64, max: f64) -> bool {
    value <= max + RELATIVE_TOLERANCE * max.abs().max(1.0)
}

impl Budget {
    /// Parses `METRIC<=VALUE` (spaces allowed around both parts).
    pub fn parse(text: &str) -> Result<Budget, SearchError> {
        let Some((metric, value)) = text.split_once("<=") else {
            return Err(SearchError::BudgetSyntax {
                text: text.to_string(),
            });
        };
        let (metric, value) = (metric.trim(), value.trim());
        if metric.is_empty() || value.is_empty() {
            return Err(SearchError::BudgetSyntax {
                text: text.to_string(),
            });
        }
        let max: f64 = value.parse().map_err(|_| SearchError::BudgetValue {
            text: text.to_string(),
            value: value.to_string(),
        })?;
        if !max.is_finite() || max < 0.0 {
            return Err(SearchError::BudgetValue {
                text: text.to_string(),
                value: value.to_string(),
            });
        }
        Ok(Budget {
            metric: metric.to_string(),
            max,
        })
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}<={}", self.metric, self.max)
    }
}

/// Writes budgets as `a<=1, b<=2`.
pub fn list(budgets: &[Budget]) -> String {
    let texts: Vec<String> = budgets.iter().map(Budget::to_string).collect();
    texts.join(", ")
}

/// Resolves budgets to `(value slot, max)` pairs (slot 0 is the error, `1 + k` metric `k`).
pub(crate) fn slots(
    problem: &Problem,
    budgets: &[Budget],
) -> Result<Vec<(usize, f64)>, SearchError> {
    let mut resolved: Vec<(usize, f64)> = Vec::with_capacity(budgets.len());
    for budget in budgets {
        if !budget.max.is_finite() {
            return Err(SearchError::BudgetValue {
                text: budget.to_string(),
                value: budget.max.to_string(),
            });
        }
        let Some(metric) = problem.metric_index(&budget.metric) else {
            return Err(SearchError::BudgetUnknownMetric {
                text: budget.to_string(),
                metric: budget.metric.clone(),
                known: problem.metrics().join(", "),
            });
        };
        if resolved.iter().any(|&(slot, _)| slot == 1 + metric) {
            return Err(SearchError::BudgetDuplicate {
                text: budget.to_string(),
                metric: budget.metric.clone(),
            });
        }
        resolved.push((1 + metric, budget.max));
    }
    Ok(resolved)
}

/// The smallest and largest total a cost metric takes over all plans.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricRange {
    pub min: f64,
    pub max: f64,
    /// True when both ends are attained by some plan; false when transitions were too tangled
    /// for the exact solver and the ends are bounds (no plan lies outside them).
    pub attained: bool,
}

impl MetricRange {
    /// Of metric `metric` (an index into [`Problem::metrics`]).
    pub fn of(problem: &Problem, metric: usize) -> Result<MetricRange, SearchError> {
        let decisions = problem.decisions();
        let slot = 1 + metric;
        let extreme = |sign: f64| -> Result<Option<f64>, SearchError> {
            let mut weights = vec![0.0; decisions.width];
            weights[slot] = sign;
            let task = Task {
                decisions,
                weights,
                budgets: Vec::new(),
            };
            match minimize(&task, None, ExactLimits::default()) {
                Ok(choice) => Ok(choice.map(|choice| decisions.evaluate(&choice)[slot])),
                Err(SearchError::ExactTooWide { .. }) => Ok(None),
                Err(other) => Err(other),
            }
        };
        match (extreme(1.0)?, extreme(-1.0)?) {
            (Some(min), Some(max)) => Ok(MetricRange {
                min,
                max,
                attained: true,
            }),
            _ => Ok(bounds(problem, slot)),
        }
    }

    fn describe(&self, metric: &str) -> String {
        if self.attained {
            format!(
                "the smallest achievable {metric} is {} (the largest is {})",
                self.min, self.max
            )
        } else {
            format!(
                "no plan has {metric} below {} (nor above {})",
                self.min, self.max
            )
        }
    }
}

/// Per-option and per-transition extremes summed: always valid, attained without transitions.
fn bounds(problem: &Problem, slot: usize) -> MetricRange {
    let decisions = problem.decisions();
    let (min, max) = decisions.bounds(slot);
    MetricRange {
        min,
        max,
        attained: decisions.edges.is_empty(),
    }
}

/// Fails with the metric's achievable range when a budget is below its smallest value.
pub fn check_each(problem: &Problem, budgets: &[Budget]) -> Result<(), SearchError> {
    for (budget, (slot, max)) in budgets.iter().zip(slots(problem, budgets)?) {
        let range = MetricRange::of(problem, slot - 1)?;
        if !fits(range.min, max) {
            return Err(SearchError::Infeasible {
                budget: budget.to_string(),
                range: range.describe(&budget.metric),
            });
        }
    }
    Ok(())
}

/// The error for budgets that each fit alone but not together.
pub(crate) fn jointly_infeasible(problem: &Problem, budgets: &[Budget]) -> SearchError {
    let ranges: Vec<String> = budgets
        .iter()
        .filter_map(|budget| {
            let metric = problem.metric_index(&budget.metric)?;
            let range = MetricRange::of(problem, metric).ok()?;
            Some(range.describe(&budget.metric))
        })
        .collect();
    SearchError::JointlyInfeasible {
        budgets: list(budgets),
        ranges: ranges.join("; "),
    }
}
