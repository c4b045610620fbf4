//! Resolving a search space against a model: per layer, the admissible candidates (a format whose
//! shape check fails for the layer is excluded there, with the reason), pins applied, tie sets.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::file::{Pattern, PinTarget, Position, SearchSpace, SpaceFileError};
use super::pattern::{captures, matches};
use super::Candidate;
use crate::model::{Graph, Layer, LayerFormats};
use crate::quant::Format;

/// A candidate a layer cannot take, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Excluded {
    pub candidate: String,
    pub reason: String,
}

/// One layer's admissible candidates, as the formats the layer actually runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedLayer {
    pub name: String,
    pub candidates: Vec<Candidate>,
    pub excluded: Vec<Excluded>,
    /// The candidate a pin forced, if any.
    pub pinned: Option<String>,
}

/// A named tie set: layers that must take the same candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TieSet {
    pub name: String,
    pub layers: Vec<String>,
}

/// A search space applied to one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedSpace {
    pub space: String,
    pub model: String,
    pub layers: Vec<ResolvedLayer>,
    pub ties: Vec<TieSet>,
}

impl ResolvedSpace {
    /// sha256 of what the space decides for its model (layers, candidates, exclusions, ties),
    /// not of the path it was read from: the same file named by another path hashes the same.
    /// Sensitivity tables record it and the table join checks it.
    pub fn content_sha256(&self) -> String {
        let content = Self {
            space: String::new(),
            ..self.clone()
        };
        let json = serde_json::to_vec(&content).unwrap_or_default();
        format!("{:x}", sha2::Sha256::digest(&json))
    }
}

impl ResolvedLayer {
    /// The formats this layer runs under candidate `name`.
    pub fn formats(&self, name: &str) -> Option<LayerFormats> {
        self.candidates
            .iter()
            .find(|c| c.name == name)
            .map(|c| LayerFormats {
                weight: c.weight,
                activation: c.activation,
            })
    }
}

/// Applies `space` to `graph`. Errors name the file and line of a pattern that matches no layer,
/// of a pin whose candidate a layer cannot take, and of a layer left with no candidate.
pub fn resolve(space: &SearchSpace, graph: &Graph) -> Result<ResolvedSpace, SpaceFileError> {
    let mut layers: Vec<ResolvedLayer> = graph
        .layers
        .iter()
        .map(|layer| admissible(space, layer))
        .collect();
    for pin in space.pins.iter().filter(|p| applies(&p.model, graph)) {
        let targets = pin_targets(space, graph, &pin.target)?;
        for index in targets {
            apply_pin(space, &mut layers[index], &pin.candidate, pin.line)?;
        }
    }
    if let Some(empty) = layers.iter().find(|l| l.candidates.is_empty()) {
        let reasons: Vec<String> = empty
            .excluded
            .iter()
            .map(|e| format!("{}: {}", e.candidate, e.reason))
            .collect();
        return Err(at(
            space,
            0,
            format!(
                "layer `{}` of {} has no admissible candidate ({})",
                empty.name,
                graph.model,
                reasons.join("; ")
            ),
        ));
    }
    let mut ties = Vec::new();
    for tie in space.ties.iter().filter(|t| applies(&t.model, graph)) {
        ties.extend(tie_sets(space, graph, &tie.name, &tie.layers)?);
    }
    Ok(ResolvedSpace {
        space: space.file.clone(),
        model: graph.model.clone(),
        layers,
        ties,
    })
}

fn at(space: &SearchSpace, line: usize, message: String) -> SpaceFileError {
    SpaceFileError::At {
        file: space.file.clone(),
        line,
        message,
    }
}

fn applies(model: &Option<String>, graph: &Graph) -> bool {
    model
        .as_deref()
        .is_none_or(|pattern| matches(pattern, &graph.model))
}

/// The layer's op-kind candidates, mapped to the formats it can run (no weight → fp32 weight,
/// token-id input → fp32 activation), duplicates and shape misfits removed.
fn admissible(space: &SearchSpace, layer: &Layer) -> ResolvedLayer {
    let names = space.op_kinds.get(&layer.op).cloned().unwrap_or_default();
    let mut resolved = ResolvedLayer {
        name: layer.name.clone(),
        candidates: Vec::new(),
        excluded: Vec::new(),
        pinned: None,
    };
    let fp32 = Candidate {
        name: "fp32".into(),
        weight: Format::Fp32,
        activation: Format::Fp32,
    };
    let listed: Vec<Candidate> = if names.is_empty() {
        vec![fp32]
    } else {
        names.iter().map(|n| space.candidates[n].clone()).collect()
    };
    for candidate in listed {
        let natural = natural(layer, &candidate);
        match check(layer, &natural) {
            Err(reason) => resolved.excluded.push(Excluded {
                candidate: candidate.name.clone(),
                reason,
            }),
            Ok(())
                if resolved
                    .candidates
                    .iter()
                    .any(|c| c.weight == natural.weight && c.activation == natural.activation) => {}
            Ok(()) => resolved.candidates.push(natural),
        }
    }
    resolved
}

fn natural(layer: &Layer, candidate: &Candidate) -> Candidate {
    Candidate {
        name: candidate.name.clone(),
        weight: if layer.has_weight() {
            candidate.weight
        } else {
            Format::Fp32
        },
        activation: if layer.has_activation_input() {
            candidate.activation
        } else {
            Format::Fp32
        },
    }
}

fn check(layer: &Layer, candidate: &Candidate) -> Result<(), String> {
    if layer.has_weight() {
        candidate
            .weight
            .check_shape(&layer.weight_shape)
            .map_err(|e| format!("weight {}: {e}", candidate.weight))?;
    }
    if layer.has_activation_input() {
        candidate
            .activation
            .check_activation_shape(&layer.activation_shape())
            .map_err(|e| format!("activation {}: {e}", candidate.activation))?;
    }
    Ok(())
}

fn pin_targets(
    space: &SearchSpace,
    graph: &Graph,
    target: &PinTarget,
) -> Result<Vec<usize>, SpaceFileError> {
    let count = graph.layers.len();
    match target {
        PinTarget::Position(Position::First) => Ok((0..count.min(1)).collect()),
        PinTarget::Position(Position::Last) => Ok(count.checked_sub(1).into_iter().collect()),
        PinTarget::Pattern(pattern) => {
            let found: Vec<usize> = graph
                .layers
                .iter()
                .enumerate()
                .filter(|(_, l)| matches(&pattern.text, &l.name))
                .map(|(i, _)| i)
                .collect();
            if found.is_empty() {
                return Err(no_match(space, graph, pattern));
            }
            Ok(found)
        }
    }
}

fn no_match(space: &SearchSpace, graph: &Graph, pattern: &Pattern) -> SpaceFileError {
    let names: Vec<&str> = graph.layers.iter().map(|l| l.name.as_str()).collect();
    at(
        space,
        pattern.line,
        format!(
            "pattern `{}` matches no layer of {} (its layers: {})",
            pattern.text,
            graph.model,
            names.join(", ")
        ),
    )
}

fn apply_pin(
    space: &SearchSpace,
    layer: &mut ResolvedLayer,
    name: &str,
    line: usize,
) -> Result<(), SpaceFileError> {
    let candidate = &space.candidates[name];
    let admissible = layer.candidates.iter().find(|c| c.name == *name).cloned();
    let Some(kept) = admissible else {
        let reason = layer
            .excluded
            .iter()
            .find(|e| e.candidate == name)
            .map_or_else(
                || "it is not a candidate of the layer's op kind".to_string(),
                |e| e.reason.clone(),
            );
        return Err(at(
            space,
            line,
            format!(
                "pin to `{name}` ({}:{}): layer `{}` cannot take it: {reason}",
                candidate.weight, candidate.activation, layer.name
            ),
        ));
    };
    for dropped in layer.candidates.iter().filter(|c| c.name != name) {
        layer.excluded.push(Excluded {
            candidate: dropped.name.clone(),
            reason: format!("pinned to {name}"),
        });
    }
    layer.candidates = vec![kept];
    layer.pinned = Some(name.to_string());
    Ok(())
}

/// Tie sets of one named group: layers matched by the group's patterns, grouped by what their
/// `*`s captured (so `blk.*.attn_q` ties per block).
fn tie_sets(
    space: &SearchSpace,
    graph: &Graph,
    name: &str,
    patterns: &[Pattern],
) -> Result<Vec<TieSet>, SpaceFileError> {
    let mut sets: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for pattern in patterns {
        let mut matched = false;
        for layer in &graph.layers {
            if let Some(key) = captures(&pattern.text, &layer.name) {
                sets.entry(key).or_default().push(layer.name.clone());
                matched = true;
            }
        }
        if !matched {
            return Err(no_match(space, graph, pattern));
        }
    }
    Ok(sets
        .into_iter()
        .filter(|(_, layers)| layers.len() > 1)
        .map(|(key, layers)| TieSet {
            name: if key.is_empty() {
                name.to_string()
            } else {
                format!("{name}[{}]", key.join(","))
            },
            layers,
        })
        .collect())
}

#[cfg(test)]
mod content_hash_tests {
    use super::{ResolvedSpace, TieSet};

    fn space(path: &str, ties: Vec<TieSet>) -> ResolvedSpace {
        ResolvedSpace {
            space: path.into(),
            model: "m".into(),
            layers: Vec::new(),
            ties,
        }
    }

    #[test]
    fn the_path_does_not_change_the_hash_and_the_content_does() {
        let relative = space("search-spaces/x.toml", Vec::new());
        let absolute = space("/work/search-spaces/x.toml", Vec::new());
        assert_eq!(relative.content_sha256(), absolute.content_sha256());
        let tie = TieSet {
            name: "qkv".into(),
            layers: vec!["a".into(), "b".into()],
        };
        let tied = space("search-spaces/x.toml", vec![tie]);
        assert_ne!(relative.content_sha256(), tied.content_sha256());
    }
}
