//! Lagrangian relaxation of the budgeted problem, shared by the exact solver (for its lower
//! bounds) and the greedy solver (for its exchange rates between budgets).
//!
//! Relax every budget `Σ cost_t <= max_t` into the objective with a price `λ_t >= 0` and let each
//! decision (and each transition table) pick independently:
//!
//! `L(λ) = Σ_sets min_option (objective + Σ_t λ_t · cost_t) − Σ_t λ_t · max_t`
//!
//! For *every* `λ >= 0`, `L(λ)` is at most the objective of any plan within budgets, so a poor `λ`
//! only weakens bounds, never makes them wrong. `L` is concave and piecewise linear; we maximize
//! it one coordinate at a time by bisection on the sign of its (right) derivative.

/// Independent choice sets: every set picks one entry `(objective, costs per constraint)`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Relaxation {
    constraints: usize,
    objective: Vec<f64>,
    costs: Vec<f64>,
    set_ends: Vec<usize>,
}

/// Bisection steps per coordinate: 2^-60 relative precision, far below any useful bound gain.
const BISECTION_STEPS: usize = 60;
/// Rounds of coordinate ascent when there are several budgets.
const ASCENT_ROUNDS: usize = 4;

impl Relaxation {
    pub fn new(constraints: usize) -> Relaxation {
        Relaxation {
            constraints,
            ..Relaxation::default()
        }
    }

    /// Adds one choice set from `(objective, costs)` entries.
    pub fn push_set(&mut self, entries: impl IntoIterator<Item = (f64, Vec<f64>)>) {
        for (objective, costs) in entries {
            self.objective.push(objective);
            self.costs.extend_from_slice(&costs[..self.constraints]);
        }
        self.set_ends.push(self.objective.len());
    }

    fn sets(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        let starts = std::iter::once(0).chain(self.set_ends.iter().copied());
        starts.zip(self.set_ends.iter().copied()).map(|(s, e)| s..e)
    }

    fn entry_costs(&self, entry: usize) -> &[f64] {
        &self.costs[entry * self.constraints..(entry + 1) * self.constraints]
    }

    /// `Σ_sets min (objective + λ·costs)` and the summed costs of the minimizers (ties broken
    /// towards the cheaper entry in coordinate `focus`, which gives the right derivative).
    fn relaxed(&self, lambda: &[f64], focus: usize) -> (f64, Vec<f64>) {
        let mut value = 0.0;
        let mut used = vec![0.0; self.constraints];
        for set in self.sets() {
            let mut best: Option<(f64, usize)> = None;
            for entry in set {
                let costs = self.entry_costs(entry);
                let priced = self.objective[entry]
                    + lambda.iter().zip(costs).map(|(l, c)| l * c).sum::<f64>();
                let better = match best {
                    None => true,
                    Some((score, chosen)) => {
                        priced < score
                            || (priced == score && costs[focus] < self.entry_costs(chosen)[focus])
                    }
                };
                if better {
                    best = Some((priced, entry));
                }
            }
            if let Some((score, chosen)) = best {
                value += score;
                for (slot, cost) in used.iter_mut().zip(self.entry_costs(chosen)) {
                    *slot += cost;
                }
            }
        }
        (value, used)
    }

    /// Multipliers that (approximately) maximize `L(λ)` for the budgets `maxes`.
    pub fn multipliers(&self, maxes: &[f64]) -> Vec<f64> {
        let mut lambda = vec![0.0; self.constraints];
        if self.constraints == 0 || self.set_ends.is_empty() {
            return lambda;
        }
        let rounds = if self.constraints == 1 {
            1
        } else {
            ASCENT_ROUNDS
        };
        for _ in 0..rounds {
            for focus in 0..self.constraints {
                lambda[focus] = self.best_coordinate(&lambda, focus, maxes[focus]);
            }
        }
        lambda
    }

    /// Over-budget amount of the relaxed minimizers in coordinate `focus` at `λ_focus = value`.
    fn slope(&self, lambda: &[f64], focus: usize, value: f64, max: f64) -> f64 {
        let mut trial = lambda.to_vec();
        trial[focus] = value;
        self.relaxed(&trial, focus).1[focus] - max
    }

    fn best_coordinate(&self, lambda: &[f64], focus: usize, max: f64) -> f64 {
        if self.slope(lambda, focus, 0.0, max) <= 0.0 {
            return 0.0;
        }
        let mut high = self.scale(focus);
        let mut doublings = 0;
        while self.slope(lambda, focus, high, max) > 0.0 {
            high *= 2.0;
            doublings += 1;
            if doublings > 200 {
                return high; // even the cheapest entries exceed the budget
            }
        }
        let mut low = 0.0;
        for _ in 0..BISECTION_STEPS {
            let middle = 0.5 * (low + high);
            if self.slope(lambda, focus, middle, max) > 0.0 {
                low = middle;
            } else {
                high = middle;
            }
        }
        high
    }

    /// A natural unit for `λ_focus`: objective spread over cost spread.
    fn scale(&self, focus: usize) -> f64 {
        let (mut objective_spread, mut cost_spread) = (0.0, 0.0);
        for set in self.sets() {
            let objective = &self.objective[set.clone()];
            objective_spread += spread(objective.iter().copied());
            cost_spread += spread(set.map(|entry| self.entry_costs(entry)[focus]));
        }
        if objective_spread > 0.0 && cost_spread > 0.0 {
            objective_spread / cost_spread
        } else {
            1.0
        }
    }
}

fn spread(values: impl Iterator<Item = f64>) -> f64 {
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), value| {
        (low.min(value), high.max(value))
    });
    if high > low {
        high - low
    } else {
        0.0
    }
}
