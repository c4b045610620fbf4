//! Everything that can go wrong while reading a problem, parsing budgets or solving.
//!
//! Every message names where the bad value came from (`origin`: the problem file, or whatever
//! built the problem), the layer / field / candidate, the value, and what would be valid.

use std::fmt;

use thiserror::Error;

/// What a bad candidate field should have held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    Number,
    FiniteNumber,
    FiniteCost,
    UnreservedName,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::Number => "a number",
            Expected::FiniteNumber => "a finite number",
            Expected::FiniteCost => "a finite cost >= 0",
            Expected::UnreservedName => {
                "no cost metric named name, error, weight_format or activation_format"
            }
        })
    }
}

#[derive(Debug, Error)]
pub enum SearchError {
    #[error("{path}: cannot read the problem file: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },

    #[error("{origin}: not a valid problem file: {source}")]
    Json {
        origin: String,
        source: serde_json::Error,
    },

    #[error("{origin}: schema is {found}; this version of bitplan reads {expected:?}")]
    Schema {
        origin: String,
        found: String,
        expected: &'static str,
    },

    #[error("{origin}: the problem has no layers; give at least one layer with one candidate")]
    NoLayers { origin: String },

    #[error("{origin}: layer {layer:?} appears more than once; layer names must be unique")]
    DuplicateLayer { origin: String, layer: String },

    #[error("{origin}: layer {layer:?} has no candidates; give at least one")]
    NoCandidates { origin: String, layer: String },

    #[error("{origin}: layer {layer:?} lists candidate {candidate:?} more than once")]
    DuplicateCandidate {
        origin: String,
        layer: String,
        candidate: String,
    },

    #[error(
        "{origin}: layer {layer:?}, candidate {candidate:?}: field {field:?} is {value}; \
         expected {expected}"
    )]
    BadCandidateValue {
        origin: String,
        layer: String,
        candidate: String,
        field: String,
        value: String,
        expected: Expected,
    },

    #[error(
        "{origin}: layer {layer:?}, candidate {candidate:?} has no cost metric; every field of a \
         candidate other than name, error, weight_format and activation_format is a cost metric \
         (e.g. \"latency_us\": 3.1), and there must be at least one"
    )]
    NoMetrics {
        origin: String,
        layer: String,
        candidate: String,
    },

    #[error(
        "{origin}: layer {layer:?}, candidate {candidate:?} has cost metrics [{found}] but the \
         first candidate of the first layer has [{expected}]; every candidate must give the same \
         cost metrics"
    )]
    MetricMismatch {
        origin: String,
        layer: String,
        candidate: String,
        found: String,
        expected: String,
    },

    #[error("{origin}: ties[{tie}] names layer {layer:?}, which is not a layer of the problem")]
    TieUnknownLayer {
        origin: String,
        tie: usize,
        layer: String,
    },

    #[error(
        "{origin}: ties[{tie}] names fewer than two distinct layers ({layers}); a tie needs two"
    )]
    TieTooSmall {
        origin: String,
        tie: usize,
        layers: String,
    },

    #[error(
        "{origin}: contradictory tie: layers {first:?} and {other:?} must take the same candidate, \
         but {missing_from:?} has no candidate {candidate:?}; tied layers must offer the same \
         candidate names"
    )]
    TieCandidatesDiffer {
        origin: String,
        first: String,
        other: String,
        missing_from: String,
        candidate: String,
    },

    #[error("{origin}: transitions[{index}]: {field} names layer {layer:?}, which is not a layer of the problem")]
    TransitionUnknownLayer {
        origin: String,
        index: usize,
        field: &'static str,
        layer: String,
    },

    #[error("{origin}: transitions[{index}] goes from layer {layer:?} to itself; use two different layers")]
    TransitionSelf {
        origin: String,
        index: usize,
        layer: String,
    },

    #[error("{origin}: transitions[{index}]: metric {metric:?} is not a cost metric of the candidates; known: [{known}]")]
    TransitionUnknownMetric {
        origin: String,
        index: usize,
        metric: String,
        known: String,
    },

    #[error(
        "{origin}: transitions[{index}] ({from:?} -> {to:?}): the cost matrix is {found}; expected \
         {rows} rows (candidates of {from:?}) of {cols} values (candidates of {to:?})"
    )]
    TransitionShape {
        origin: String,
        index: usize,
        from: String,
        to: String,
        found: String,
        rows: usize,
        cols: usize,
    },

    #[error(
        "{origin}: transitions[{index}] ({from:?} -> {to:?}): cost[{row}][{col}] is {value}; \
         expected a finite number >= 0"
    )]
    TransitionBadValue {
        origin: String,
        index: usize,
        from: String,
        to: String,
        row: usize,
        col: usize,
        value: f64,
    },

    #[error(
        "{origin}: transitions[{index}] repeats transitions[{first}] ({from:?} -> {to:?}, metric \
         {metric:?}); give each pair and metric once"
    )]
    TransitionDuplicate {
        origin: String,
        index: usize,
        first: usize,
        from: String,
        to: String,
        metric: String,
    },

    #[error("budget {text:?}: expected METRIC<=VALUE, e.g. \"latency_us<=500\"")]
    BudgetSyntax { text: String },

    #[error("budget {text:?}: {value:?} is not a finite number >= 0")]
    BudgetValue { text: String, value: String },

    #[error(
        "budget {text:?}: unknown metric {metric:?}; the problem's cost metrics are [{known}]"
    )]
    BudgetUnknownMetric {
        text: String,
        metric: String,
        known: String,
    },

    #[error("budget {text:?} repeats a budget on {metric:?}; give one budget per metric")]
    BudgetDuplicate { text: String, metric: String },

    #[error("budget {budget} is infeasible: {range}")]
    Infeasible { budget: String, range: String },

    #[error("budgets {budgets} cannot be met together, although each can alone ({ranges})")]
    JointlyInfeasible { budgets: String, ranges: String },

    #[error("solver {solver} found no plan within budgets {budgets}; the exact solver may still find one")]
    NoFeasiblePlan { solver: String, budgets: String },

    #[error(
        "the exact solver cannot handle these transitions: at layer {layer:?} it would track the \
         candidates of {open} earlier decisions at once ({combinations} combinations, limit \
         {limit}); transitions must be close to a chain in layer order. Use --solver evolutionary"
    )]
    ExactTooWide {
        layer: String,
        open: usize,
        combinations: usize,
        limit: usize,
    },

    #[error(
        "the exact solver kept {states} partial plans at layer {layer:?} (limit {limit}); the \
         problem is too large for a proof of optimality. Use --solver greedy or evolutionary"
    )]
    ExactTooLarge {
        layer: String,
        states: usize,
        limit: usize,
    },

    #[error("the exact solver's integer program failed: {reason}")]
    Ilp { reason: String },

    #[error(transparent)]
    Tables(#[from] super::tables_error::TableError),

    #[error("sweep: {reason}")]
    Sweep { reason: String },

    #[error("evolutionary solver: {reason}")]
    Evolutionary { reason: String },
}
