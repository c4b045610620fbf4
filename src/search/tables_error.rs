//! What can go wrong joining a sensitivity table, a cost table and a search space: every message
//! names the files, the layer and candidate, and what would make them agree.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum TableError {
    #[error(
        "{sensitivity} is shard {index}/{count} of an analysis; join the shards with \
         `bitplan merge` and search over the merged table"
    )]
    Sharded {
        sensitivity: String,
        index: usize,
        count: usize,
    },

    #[error(
        "the tables describe different models: {sensitivity} measured {sensitivity_model:?}, \
         {costs} priced {cost_model:?}, {space} was resolved for {space_model:?}; \
         build all three for the same model"
    )]
    ModelMismatch {
        sensitivity: String,
        sensitivity_model: String,
        costs: String,
        cost_model: String,
        space: String,
        space_model: String,
    },

    #[error(
        "{sensitivity} was analyzed over a different search space than {space} \
         (space sha256 {recorded} in the table, {actual} now); rerun `bitplan analyze` \
         with --space {space} or pass the space it was analyzed with ({recorded_space})"
    )]
    SpaceMismatch {
        sensitivity: String,
        space: String,
        recorded_space: String,
        recorded: String,
        actual: String,
    },

    #[error("{file} has no row for layer(s) {layers} of {space}; {hint}")]
    LayersMissing {
        file: String,
        space: String,
        layers: String,
        hint: &'static str,
    },

    #[error(
        "{file} has layer(s) {layers} that the model resolved with {space} does not have; \
         the cost table was built for a different model graph"
    )]
    LayersExtra {
        file: String,
        space: String,
        layers: String,
    },

    #[error(
        "{file}: layer {layer:?} has no entry for candidate {candidate:?} \
         ({weight_format} weights, {activation_format} activations) of {space}; {hint}"
    )]
    CandidateMissing {
        file: String,
        space: String,
        layer: String,
        candidate: String,
        weight_format: String,
        activation_format: String,
        hint: &'static str,
    },

    #[error(
        "layer {layer:?}, candidate {candidate:?}: {sensitivity} measured {measured} but \
         {costs} priced {priced}; use the same formats in both (or different candidate names)"
    )]
    FormatMismatch {
        sensitivity: String,
        costs: String,
        layer: String,
        candidate: String,
        measured: String,
        priced: String,
    },

    #[error(
        "{sensitivity}: layer {layer:?}, candidate {candidate:?} has no {column} value; \
         rerun `bitplan analyze` with --proxy {proxy} or choose another --error column"
    )]
    ProxyMissing {
        sensitivity: String,
        layer: String,
        candidate: String,
        column: String,
        proxy: &'static str,
    },

    #[error(
        "{costs}: no candidate of layer {layer:?} that {space} allows runs on profile \
         {profile}: {reasons}"
    )]
    NothingRuns {
        costs: String,
        space: String,
        profile: String,
        layer: String,
        reasons: String,
    },

    #[error(
        "{costs}: transition {from:?} -> {to:?} ({metric}) has no cell [{row}][{col}]; \
         the matrix must be rows = {from}'s priced candidates, columns = {to}'s"
    )]
    TransitionShape {
        costs: String,
        from: String,
        to: String,
        metric: String,
        row: usize,
        col: usize,
    },
}
