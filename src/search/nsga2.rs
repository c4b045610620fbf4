//! NSGA-II (Deb et al. 2002) over 2 to 4 objectives at once, seeded.
//!
//! A plan is a genome of one option per decision group, evaluated with every transition, so costs
//! that do not add up along a chain are handled as well as additive ones. Each generation breeds
//! `population` children (binary tournaments on rank then crowding distance, uniform crossover,
//! per-gene mutation with rate 1/genes to a random option or a neighbour in price order), merges
//! them with the parents, drops duplicate genomes, and keeps the best `population` by
//! non-dominated rank and crowding distance. Budgets are constraints with Deb's rule: a plan
//! within budgets beats one outside; of two outside, the smaller relative excess wins.
//!
//! With `hull_seeds` (the default) the first population holds plans spread along the lower convex
//! hull of the front (see [`super::seeding`]); the rest is random.

use std::collections::BTreeSet;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use super::decisions::Decisions;
use super::error::SearchError;
use super::greedy::violation;
use super::pareto::dominates;
use super::seeding::hull_seeds;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NsgaConfig {
    pub population: usize,
    pub generations: usize,
    /// Probability that a child mixes two parents (else it copies the first, then mutates).
    pub crossover: f64,
    /// Start from convex-hull plans spread along the front as well as random ones.
    pub hull_seeds: bool,
}

impl Default for NsgaConfig {
    fn default() -> NsgaConfig {
        NsgaConfig {
            population: 100, // the benchmark size; enough for ~100 front points
            generations: 200,
            crossover: 0.9, // Deb et al. 2002
            hull_seeds: true,
        }
    }
}

#[derive(Debug, Clone)]
struct Individual {
    choice: Vec<usize>,
    objectives: Vec<f64>,
    violation: f64,
}

/// Non-dominated rank (0 is best) and crowding distance of each member of a population.
struct Ranking {
    rank: Vec<usize>,
    crowding: Vec<f64>,
}

struct Evolution<'a> {
    decisions: &'a Decisions,
    objectives: &'a [usize],
    budgets: &'a [(usize, f64)],
    config: NsgaConfig,
    rng: StdRng,
    /// Per group: options in order of the first cost objective, and each option's place in it.
    by_price: Vec<Vec<usize>>,
    place: Vec<Vec<usize>>,
}

/// The plans of the final population that are within budgets and non-dominated on the value
/// slots `objectives` (2 to 4 of them).
pub(crate) fn evolve(
    decisions: &Decisions,
    objectives: &[usize],
    budgets: &[(usize, f64)],
    config: NsgaConfig,
    seed: u64,
) -> Result<Vec<Vec<usize>>, SearchError> {
    check_config(objectives, &config)?;
    let mut evolution = Evolution::new(decisions, objectives, budgets, config, seed);
    let size = config.population;
    let population = evolution.initial_population();
    let (mut ranking, chosen) = rank(&population, size);
    let mut population = reorder(population, &chosen);
    for _ in 0..config.generations {
        let children: Vec<Individual> = (0..size)
            .map(|_| evolution.child(&population, &ranking))
            .collect();
        population.extend(children);
        let mut merged = without_duplicates(population);
        while merged.len() < size {
            let random = evolution.random_individual();
            merged.push(random);
        }
        let (next_ranking, chosen) = rank(&merged, size);
        population = reorder(merged, &chosen);
        ranking = next_ranking;
    }
    Ok(population
        .into_iter()
        .zip(&ranking.rank)
        .filter(|(individual, &rank)| rank == 0 && individual.violation == 0.0)
        .map(|(individual, _)| individual.choice)
        .collect())
}

fn check_config(objectives: &[usize], config: &NsgaConfig) -> Result<(), SearchError> {
    let reason = if !(2..=4).contains(&objectives.len()) {
        format!(
            "needs 2 to 4 objectives (error and 1 to 3 cost metrics), got {}",
            objectives.len()
        )
    } else if config.population < 4 {
        format!("population is {}; use at least 4", config.population)
    } else if !(0.0..=1.0).contains(&config.crossover) {
        format!("crossover probability is {}; use 0 to 1", config.crossover)
    } else {
        return Ok(());
    };
    Err(SearchError::Evolutionary { reason })
}

impl<'a> Evolution<'a> {
    fn new(
        decisions: &'a Decisions,
        objectives: &'a [usize],
        budgets: &'a [(usize, f64)],
        config: NsgaConfig,
        seed: u64,
    ) -> Evolution<'a> {
        let price_slot = objectives[1];
        let by_price: Vec<Vec<usize>> = decisions
            .groups
            .iter()
            .map(|group| {
                let mut order: Vec<usize> = (0..group.len()).collect();
                order.sort_by(|&a, &b| {
                    let (x, y) = (group.values(a)[price_slot], group.values(b)[price_slot]);
                    x.total_cmp(&y).then(a.cmp(&b))
                });
                order
            })
            .collect();
        let place = by_price
            .iter()
            .map(|order| {
                let mut place = vec![0; order.len()];
                for (position, &option) in order.iter().enumerate() {
                    place[option] = position;
                }
                place
            })
            .collect();
        Evolution {
            decisions,
            objectives,
            budgets,
            config,
            rng: StdRng::seed_from_u64(seed),
            by_price,
            place,
        }
    }

    fn evaluate(&self, choice: Vec<usize>) -> Individual {
        let values = self.decisions.evaluate(&choice);
        Individual {
            objectives: self.objectives.iter().map(|&slot| values[slot]).collect(),
            violation: violation(&values, self.budgets),
            choice,
        }
    }

    fn random_individual(&mut self) -> Individual {
        let choice = self
            .decisions
            .groups
            .iter()
            .map(|group| self.rng.random_range(0..group.len()))
            .collect();
        self.evaluate(choice)
    }

    fn initial_population(&mut self) -> Vec<Individual> {
        let size = self.config.population;
        let mut choices: Vec<Vec<usize>> = Vec::new();
        if self.config.hull_seeds {
            choices = hull_seeds(self.decisions, self.objectives, size / 2, &mut self.rng);
        }
        let mut population: Vec<Individual> = choices
            .into_iter()
            .map(|choice| self.evaluate(choice))
            .collect();
        population = without_duplicates(population);
        while population.len() < size {
            let random = self.random_individual();
            population.push(random);
        }
        population
    }

    fn tournament(&mut self, ranking: &Ranking) -> usize {
        let size = ranking.rank.len();
        let (a, b) = (
            self.rng.random_range(0..size),
            self.rng.random_range(0..size),
        );
        let better_b = ranking.rank[b] < ranking.rank[a]
            || (ranking.rank[b] == ranking.rank[a] && ranking.crowding[b] > ranking.crowding[a]);
        if better_b {
            b
        } else {
            a
        }
    }

    fn child(&mut self, population: &[Individual], ranking: &Ranking) -> Individual {
        let first = &population[self.tournament(ranking)].choice;
        let second = &population[self.tournament(ranking)].choice;
        let mut genome = first.clone();
        if self.rng.random_bool(self.config.crossover) {
            for (gene, &other) in genome.iter_mut().zip(second) {
                if self.rng.random_bool(0.5) {
                    *gene = other;
                }
            }
        }
        self.mutate(&mut genome);
        self.evaluate(genome)
    }

    fn mutate(&mut self, genome: &mut [usize]) {
        let rate = 1.0 / genome.len().max(1) as f64;
        for (group, gene) in genome.iter_mut().enumerate() {
            let options = self.by_price[group].len();
            if options < 2 || !self.rng.random_bool(rate) {
                continue;
            }
            if self.rng.random_bool(0.5) {
                let other = self.rng.random_range(0..options - 1);
                *gene = if other >= *gene { other + 1 } else { other };
            } else {
                let place = self.place[group][*gene];
                let step_up = place == 0 || (place + 1 < options && self.rng.random_bool(0.5));
                let next = if step_up { place + 1 } else { place - 1 };
                *gene = self.by_price[group][next];
            }
        }
    }
}

fn without_duplicates(population: Vec<Individual>) -> Vec<Individual> {
    let mut seen: BTreeSet<Vec<usize>> = BTreeSet::new();
    population
        .into_iter()
        .filter(|individual| seen.insert(individual.choice.clone()))
        .collect()
}

/// Deb's constrained domination.
fn beats(a: &Individual, b: &Individual) -> bool {
    match (a.violation > 0.0, b.violation > 0.0) {
        (false, true) => true,
        (true, false) => false,
        (true, true) => a.violation < b.violation,
        (false, false) => dominates(&a.objectives, &b.objectives),
    }
}

/// Fronts of the fast non-dominated sort, best first, members ascending.
fn fronts(population: &[Individual]) -> Vec<Vec<usize>> {
    let size = population.len();
    let mut beaten_by = vec![0usize; size];
    let mut beats_list: Vec<Vec<usize>> = vec![Vec::new(); size];
    for a in 0..size {
        for b in a + 1..size {
            if beats(&population[a], &population[b]) {
                beats_list[a].push(b);
                beaten_by[b] += 1;
            } else if beats(&population[b], &population[a]) {
                beats_list[b].push(a);
                beaten_by[a] += 1;
            }
        }
    }
    let mut fronts = Vec::new();
    let mut current: Vec<usize> = (0..size).filter(|&i| beaten_by[i] == 0).collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &member in &current {
            for &loser in &beats_list[member] {
                beaten_by[loser] -= 1;
                if beaten_by[loser] == 0 {
                    next.push(loser);
                }
            }
        }
        next.sort_unstable();
        fronts.push(current);
        current = next;
    }
    fronts
}

/// Crowding distance of each member of one front (infinite at the ends of every objective).
fn crowding(population: &[Individual], front: &[usize]) -> Vec<f64> {
    let mut distance = vec![0.0; front.len()];
    let objectives = population[front[0]].objectives.len();
    for objective in 0..objectives {
        let value = |slot: usize| population[front[slot]].objectives[objective];
        let mut order: Vec<usize> = (0..front.len()).collect();
        order.sort_by(|&a, &b| value(a).total_cmp(&value(b)).then(a.cmp(&b)));
        let (low, high) = (value(order[0]), value(order[order.len() - 1]));
        distance[order[0]] = f64::INFINITY;
        distance[order[order.len() - 1]] = f64::INFINITY;
        if high <= low {
            continue;
        }
        for window in order.windows(3) {
            distance[window[1]] += (value(window[2]) - value(window[0])) / (high - low);
        }
    }
    distance
}

/// Picks the best `size` members by rank then crowding; returns their ranking and indexes.
fn rank(population: &[Individual], size: usize) -> (Ranking, Vec<usize>) {
    let mut ranking = Ranking {
        rank: Vec::with_capacity(size),
        crowding: Vec::with_capacity(size),
    };
    let mut chosen = Vec::with_capacity(size);
    for (level, front) in fronts(population).into_iter().enumerate() {
        if chosen.len() >= size {
            break;
        }
        let distance = crowding(population, &front);
        let mut order: Vec<usize> = (0..front.len()).collect();
        order.sort_by(|&a, &b| distance[b].total_cmp(&distance[a]).then(a.cmp(&b)));
        for slot in order.into_iter().take(size - chosen.len()) {
            chosen.push(front[slot]);
            ranking.rank.push(level);
            ranking.crowding.push(distance[slot]);
        }
    }
    (ranking, chosen)
}

fn reorder(population: Vec<Individual>, chosen: &[usize]) -> Vec<Individual> {
    let mut slots: Vec<Option<Individual>> = population.into_iter().map(Some).collect();
    chosen
        .iter()
        .filter_map(|&index| slots[index].take())
        .collect()
}
