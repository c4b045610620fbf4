//! Partial plans of the exact solver after one step, stored column-wise, and the dominance rule
//! that keeps their number small.
//!
//! Two partial plans with the same key (the options of the still-open groups) have identical
//! futures. If one has an objective and every budgeted cost no larger than the other's, the other
//! can never lead to a strictly better plan and is dropped. Sorting by (key, costs, objective)
//! makes the survivors, and therefore the solver's answer, independent of hash orders or threads.

use std::cmp::Ordering;

/// What sorting needs of one state, gathered so comparisons touch one small array.
struct Record {
    code: u64,
    first_cost: f64,
    objective: f64,
    index: u32,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct States {
    pub key_width: usize,
    pub constraints: usize,
    pub objective: Vec<f64>,
    pub costs: Vec<f64>,
    pub keys: Vec<u32>,
    /// Index of the state of the previous step this one extends.
    pub parent: Vec<u32>,
    /// Option taken at this step.
    pub option: Vec<u32>,
}

impl States {
    pub fn new(key_width: usize, constraints: usize) -> States {
        States {
            key_width,
            constraints,
            ..States::default()
        }
    }

    pub fn len(&self) -> usize {
        self.objective.len()
    }

    pub fn key(&self, state: usize) -> &[u32] {
        &self.keys[state * self.key_width..(state + 1) * self.key_width]
    }

    pub fn cost(&self, state: usize) -> &[f64] {
        &self.costs[state * self.constraints..(state + 1) * self.constraints]
    }

    pub fn push(&mut self, objective: f64, costs: &[f64], key: &[u32], parent: u32, option: u32) {
        self.objective.push(objective);
        self.costs.extend_from_slice(costs);
        self.keys.extend_from_slice(key);
        self.parent.push(parent);
        self.option.push(option);
    }

    fn copy_from(&mut self, other: &States, state: usize) {
        self.push(
            other.objective[state],
            other.cost(state),
            other.key(state),
            other.parent[state],
            other.option[state],
        );
    }

    /// The key as one number (mixed radix over the open groups' option counts), so sorting
    /// compares integers instead of slices.
    fn key_code(&self, state: usize, radix: &[usize]) -> u64 {
        let key = self.key(state);
        key.iter().zip(radix).fold(0u64, |code, (&option, &base)| {
            code * base as u64 + u64::from(option)
        })
    }

    /// Orders records by (key, costs, objective, index): a total order, so the unstable sort is
    /// deterministic.
    fn order(&self, a: &Record, b: &Record) -> Ordering {
        a.code
            .cmp(&b.code)
            .then_with(|| a.first_cost.total_cmp(&b.first_cost))
            .then_with(|| {
                let (x, y) = (self.cost(a.index as usize), self.cost(b.index as usize));
                let pairs = x.iter().zip(y).skip(1);
                pairs.fold(Ordering::Equal, |order, (x, y)| {
                    order.then_with(|| x.total_cmp(y))
                })
            })
            .then_with(|| a.objective.total_cmp(&b.objective))
            .then(a.index.cmp(&b.index))
    }

    fn dominates(&self, a: usize, b: usize) -> bool {
        self.objective[a] <= self.objective[b]
            && self.cost(a).iter().zip(self.cost(b)).all(|(x, y)| x <= y)
    }

    /// The non-dominated states, sorted by (key, costs, objective). `radix` holds the option
    /// count of each key slot.
    pub fn without_dominated(self, radix: &[usize]) -> States {
        let mut records: Vec<Record> = (0..self.len())
            .map(|state| Record {
                code: self.key_code(state, radix),
                first_cost: self.cost(state).first().copied().unwrap_or(0.0),
                objective: self.objective[state],
                index: state as u32,
            })
            .collect();
        records.sort_unstable_by(|a, b| self.order(a, b));
        let mut kept = States::new(self.key_width, self.constraints);
        let mut group: Vec<usize> = Vec::new();
        for (position, record) in records.iter().enumerate() {
            if position == 0 || records[position - 1].code != record.code {
                group.clear();
            }
            let state = record.index as usize;
            if self.survives(state, &group) {
                group.push(state);
                kept.copy_from(&self, state);
            }
        }
        kept
    }

    /// Whether `state` survives the states already kept under its key (all sorted before it).
    fn survives(&self, state: usize, kept: &[usize]) -> bool {
        match (self.constraints, kept.last()) {
            (_, None) => true,
            // Sorted by objective: the first is the best.
            (0, Some(_)) => false,
            // Sorted by cost: survivors need a strictly smaller objective than the last kept.
            (1, Some(&last)) => self.objective[state] < self.objective[last],
            _ => !kept.iter().any(|&other| self.dominates(other, state)),
        }
    }
}
