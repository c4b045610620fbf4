//! Starting plans for the evolutionary solver, spread along the lower convex hull of the front.
//!
//! For a price that weighs the cost objectives, the convex-hull path ([`super::greedy::hull_path`])
//! lists the moves from the cheapest plan to the most accurate one, best error-per-price first.
//! Every prefix of that path is a plan on the convex hull of (price, error): the supported points
//! of the Pareto front, ignoring transitions. Evenly spaced prefixes give plans spread from one end
//! of the front to the other; with several cost objectives, several price directions (each cost
//! alone, then seeded random mixes) cover the front's surface. Evolution then fills the gaps
//! between hull points, which no weighted sum can reach, and accounts for transitions.

use rand::rngs::StdRng;
use rand::RngExt;

use super::decisions::Decisions;
use super::greedy::hull_path;

/// Plans per price direction when there are several cost objectives.
const PLANS_PER_DIRECTION: usize = 10;

/// About `count` plans on the hull; `objectives[0]` is the error slot, the others cost slots.
pub(crate) fn hull_seeds(
    decisions: &Decisions,
    objectives: &[usize],
    count: usize,
    rng: &mut StdRng,
) -> Vec<Vec<usize>> {
    let costs = &objectives[1..];
    let spreads: Vec<f64> = costs.iter().map(|&slot| spread(decisions, slot)).collect();
    let (directions, per_direction) = if costs.len() == 1 {
        (1, count)
    } else {
        let per_direction = PLANS_PER_DIRECTION.min(count).max(2);
        (
            count.div_ceil(per_direction).max(costs.len()),
            per_direction,
        )
    };
    let mut seeds = Vec::with_capacity(directions * per_direction);
    for direction in 0..directions {
        let weights: Vec<f64> = (0..costs.len())
            .map(|k| {
                let share = match costs.len() {
                    1 => 1.0,
                    _ if direction < costs.len() => f64::from(u8::from(k == direction)),
                    _ => rng.random::<f64>(),
                };
                share / spreads[k]
            })
            .collect();
        let price = |values: &[f64]| -> f64 {
            costs
                .iter()
                .zip(&weights)
                .map(|(&slot, w)| w * values[slot])
                .sum()
        };
        seeds.extend(prefixes(decisions, &price, per_direction));
    }
    seeds
}

/// `count` evenly spaced prefixes of the hull path (both ends included).
fn prefixes(decisions: &Decisions, price: &dyn Fn(&[f64]) -> f64, count: usize) -> Vec<Vec<usize>> {
    let path = hull_path(decisions, price);
    let moves = path.moves.len();
    let mut plans = Vec::with_capacity(count);
    let mut choice = path.start;
    let mut applied = 0;
    for index in 0..count {
        let target = if count > 1 {
            (index * moves + (count - 1) / 2) / (count - 1)
        } else {
            moves
        };
        for &(group, _, to) in &path.moves[applied..target.max(applied)] {
            choice[group] = to;
        }
        applied = applied.max(target);
        plans.push(choice.clone());
    }
    plans
}

/// Sum over groups of the spread of one value slot (1 when it never varies), a natural unit.
fn spread(decisions: &Decisions, slot: usize) -> f64 {
    let total: f64 = decisions
        .groups
        .iter()
        .map(|group| {
            let values = (0..group.len()).map(|o| group.values(o)[slot]);
            let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(v), h.max(v))
            });
            high - low
        })
        .sum();
    if total > 0.0 {
        total
    } else {
        1.0
    }
}
