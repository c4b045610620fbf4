//! The convex-hull (Lagrangian) greedy for the budgeted problem: fast, near-optimal on large
//! problems, no proof.
//!
//! Each decision's options are reduced to the lower convex hull of (price, error); every group
//! starts on its cheapest hull point, and the hull steps of all groups are taken in order of error
//! saved per unit of price while every budget still holds (a step that does not fit blocks its
//! group; later, smaller steps of other groups still fill the budget). With one budget the price
//! is that budget's cost and the steps taken before the first blocked one are exactly the optimum
//! of the linear relaxation (Sinha & Zoltners 1979); with several budgets the price weighs each
//! cost by its Lagrange multiplier. Transitions are not priced but are always counted when
//! checking budgets.

use super::budget::fits;
use super::decisions::{add, Decisions};
use super::lagrange::Relaxation;

/// One hull step of one group: move from `hull[step]` to `hull[step + 1]`.
struct Increment {
    efficiency: f64,
    group: usize,
    step: usize,
}

/// The hull steps of every group, best first, from the cheapest hull point of each group.
pub(crate) struct HullPath {
    pub start: Vec<usize>,
    /// `(group, from option, to option)`, most error saved per unit of price first.
    pub moves: Vec<(usize, usize, usize)>,
}

/// The hull path for a price (any non-negative weighting of the value vector).
pub(crate) fn hull_path(decisions: &Decisions, price: &dyn Fn(&[f64]) -> f64) -> HullPath {
    let hulls: Vec<Vec<(f64, f64, usize)>> = decisions
        .groups
        .iter()
        .map(|group| {
            let points = (0..group.len()).map(|o| (price(group.values(o)), group.values(o)[0], o));
            lower_hull(points.collect())
        })
        .collect();
    let moves = increments(&hulls)
        .into_iter()
        .map(|step| {
            let hull = &hulls[step.group];
            (step.group, hull[step.step].2, hull[step.step + 1].2)
        })
        .collect();
    HullPath {
        start: hulls.iter().map(|hull| hull[0].2).collect(),
        moves,
    }
}

/// The greedy choice within `budgets` (`(value slot, max)`), or `None` when it finds none.
pub(crate) fn hull_greedy(decisions: &Decisions, budgets: &[(usize, f64)]) -> Option<Vec<usize>> {
    let weights = price_weights(decisions, budgets);
    let price = |values: &[f64]| -> f64 {
        budgets
            .iter()
            .zip(&weights)
            .map(|(&(slot, _), weight)| weight * values[slot])
            .sum()
    };
    let path = hull_path(decisions, &price);
    let mut choice = path.start;
    let mut totals = decisions.evaluate(&choice);
    if !within(&totals, budgets) {
        repair(decisions, budgets, &mut choice, &mut totals)?;
    }
    let mut blocked = vec![false; choice.len()];
    for (group, from, to) in path.moves {
        if blocked[group] || choice[group] != from {
            continue;
        }
        let change = decisions.delta(&choice, group, to);
        let mut trial = totals.clone();
        add(&mut trial, &change);
        if within(&trial, budgets) {
            choice[group] = to;
            totals = trial;
        } else {
            blocked[group] = true;
        }
    }
    Some(choice)
}

pub(crate) fn within(totals: &[f64], budgets: &[(usize, f64)]) -> bool {
    budgets.iter().all(|&(slot, max)| fits(totals[slot], max))
}

/// One budget: its own cost. Several: Lagrange multipliers of the relaxation without
/// transitions, or, when none binds there, costs relative to their budgets.
fn price_weights(decisions: &Decisions, budgets: &[(usize, f64)]) -> Vec<f64> {
    if budgets.len() <= 1 {
        return vec![1.0; budgets.len()];
    }
    let mut relaxation = Relaxation::new(budgets.len());
    for group in &decisions.groups {
        relaxation.push_set((0..group.len()).map(|option| {
            let values = group.values(option);
            let costs = budgets.iter().map(|&(slot, _)| values[slot]).collect();
            (values[0], costs)
        }));
    }
    let maxes: Vec<f64> = budgets.iter().map(|&(_, max)| max).collect();
    let lambda = relaxation.multipliers(&maxes);
    if lambda.iter().any(|&l| l > 0.0) {
        lambda
    } else {
        maxes
            .iter()
            .map(|max| 1.0 / max.max(f64::MIN_POSITIVE))
            .collect()
    }
}

/// Lower-left convex hull of `(price, error, option)`, from the cheapest point to the most
/// accurate one; prices strictly increase and errors strictly decrease along it.
fn lower_hull(mut points: Vec<(f64, f64, usize)>) -> Vec<(f64, f64, usize)> {
    points.sort_by(|a, b| {
        a.0.total_cmp(&b.0)
            .then(a.1.total_cmp(&b.1))
            .then(a.2.cmp(&b.2))
    });
    let mut hull: Vec<(f64, f64, usize)> = Vec::with_capacity(points.len());
    for point in points {
        if hull.last().is_some_and(|last| point.1 >= last.1) {
            continue; // costs at least as much and is no more accurate
        }
        while hull.len() >= 2 {
            let (a, b) = (hull[hull.len() - 2], hull[hull.len() - 1]);
            let cross = (b.0 - a.0) * (point.1 - a.1) - (b.1 - a.1) * (point.0 - a.0);
            if cross > 0.0 {
                break;
            }
            hull.pop();
        }
        hull.push(point);
    }
    hull
}

/// All hull steps, most error saved per unit of price first.
fn increments(hulls: &[Vec<(f64, f64, usize)>]) -> Vec<Increment> {
    let mut steps: Vec<Increment> = Vec::new();
    for (group, hull) in hulls.iter().enumerate() {
        for (step, pair) in hull.windows(2).enumerate() {
            let saved = pair[0].1 - pair[1].1;
            let paid = pair[1].0 - pair[0].0;
            let efficiency = if paid > 0.0 {
                saved / paid
            } else {
                f64::INFINITY
            };
            steps.push(Increment {
                efficiency,
                group,
                step,
            });
        }
    }
    steps.sort_by(|a, b| {
        b.efficiency
            .total_cmp(&a.efficiency)
            .then(a.group.cmp(&b.group))
            .then(a.step.cmp(&b.step))
    });
    steps
}

/// Relative amount by which `totals` exceed the budgets (0 when within; a zero budget counts
/// the absolute excess, so the sum stays finite).
pub(crate) fn violation(totals: &[f64], budgets: &[(usize, f64)]) -> f64 {
    budgets
        .iter()
        .map(|&(slot, max)| {
            let excess = (totals[slot] - max).max(0.0);
            if max > 0.0 {
                excess / max
            } else {
                excess
            }
        })
        .sum()
}

/// Moves towards feasibility one option change at a time, each time taking the change that
/// removes the most violation per unit of error added; `None` when no change helps.
fn repair(
    decisions: &Decisions,
    budgets: &[(usize, f64)],
    choice: &mut [usize],
    totals: &mut Vec<f64>,
) -> Option<()> {
    // Each step strictly lowers the violation, so no plan repeats; the cap only guards against
    // float rounding making two plans look better than each other.
    let cap = 4 * decisions
        .groups
        .iter()
        .map(|group| group.len())
        .sum::<usize>();
    for _ in 0..cap {
        if within(totals, budgets) {
            return Some(());
        }
        let current = violation(totals, budgets);
        let mut best: Option<(f64, usize, usize)> = None;
        for (group, spec) in decisions.groups.iter().enumerate() {
            for option in (0..spec.len()).filter(|&o| o != choice[group]) {
                let change = decisions.delta(choice, group, option);
                let mut trial = totals.clone();
                add(&mut trial, &change);
                let removed = current - violation(&trial, budgets);
                if !(removed > 0.0 && removed.is_finite()) {
                    continue;
                }
                let score = removed / change[0].max(0.0).max(1e-300);
                if best.as_ref().is_none_or(|b| score > b.0) {
                    best = Some((score, group, option));
                }
            }
        }
        let (_, group, option) = best?;
        choice[group] = option;
        *totals = decisions.evaluate(choice);
    }
    within(totals, budgets).then_some(())
}
