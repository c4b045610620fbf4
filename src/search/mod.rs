//! Search: choose one candidate per layer to minimize error under budgets, and map the whole
//! trade-off. The searcher never touches a tensor: its input is a [`Problem`] of plain numbers
//! (read from a `bitplan.problem/1` file, or built from sensitivity and cost tables with
//! [`Problem::new`], or joined from tables with [`problem_from_tables`]); its outputs are [`Plan`]s and [`Front`]s.
//!
//! Solvers ([`Solver`]): `exact` (provably optimal, [`exact`]), `greedy` (convex hull,
//! [`greedy`]), `aimet-path` (AIMET's sensitivity-ordered baseline), `evolutionary` (NSGA-II,
//! [`nsga2`]) and `random` (a sampling baseline). [`sweep()`] maps fronts.

mod aimet;
mod baseline;
pub mod budget;
mod decisions;
pub mod error;
pub mod exact;
mod frontier;
pub mod greedy;
mod ilp;
mod lagrange;
pub mod nsga2;
pub mod pareto;
pub mod plan;
pub mod problem;
mod random;
pub mod reasons;
mod seeding;
pub mod solver;
mod states;
pub mod sweep;
pub mod tables;
pub mod tables_error;
mod tables_links;
mod ties;
pub mod transition;

pub use budget::{Budget, MetricRange};
pub use error::SearchError;
pub use exact::{ExactLimits, ExactMethod};
pub use nsga2::NsgaConfig;
pub use plan::{
    Baseline, Front, FrontPlan, Measured, Plan, PlanLayer, Provenance, FRONT_SCHEMA, PLAN_SCHEMA,
};
pub use problem::{CandidateSpec, LayerSpec, Problem, PROBLEM_SCHEMA};
pub use reasons::annotate_reasons;
pub use solver::{search, Settings, Solver};
pub use sweep::{sweep, SweepSpec};
pub use tables::{
    problem_from_sensitivity, problem_from_tables, ErrorColumn, TableProvenance, Tables,
};
pub use tables_error::TableError;
pub use transition::TransitionSpec;
