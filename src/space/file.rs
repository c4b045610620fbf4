//! Search-space files (`search-spaces/*.toml`): named candidates, the candidates allowed per op
//! kind, layers pinned to one candidate by name pattern or position, and named tie groups.
//!
//! Parsing checks everything that does not need a model (unknown keys, unknown format and
//! candidate names) and keeps each pattern's line, so [`super::resolve`] can name the line of a
//! pattern that matches no layer.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::Candidate;
use crate::model::OpKind;
use crate::quant::Format;

/// An error in a search-space file, with the line it is on (1-based; 0 when it has none).
#[derive(Debug, thiserror::Error)]
pub enum SpaceFileError {
    #[error("cannot read search space {file}: {reason}")]
    Read { file: String, reason: String },
    #[error("{file}:{line}: {message}")]
    At {
        file: String,
        line: usize,
        message: String,
    },
}

/// Where a pin applies: layers matching a name pattern, or the first/last quantizable layer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Position {
    First,
    Last,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawSpace {
    description: String,
    candidates: BTreeMap<String, RawCandidate>,
    op_kinds: BTreeMap<OpKind, Vec<Spanned<String>>>,
    #[serde(default)]
    pin: Vec<RawPin>,
    #[serde(default)]
    tie: Vec<RawTie>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCandidate {
    weight: Spanned<String>,
    activation: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPin {
    layers: Option<Spanned<String>>,
    position: Option<Spanned<Position>>,
    candidate: Spanned<String>,
    model: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawTie {
    name: String,
    layers: Vec<Spanned<String>>,
    model: Option<String>,
}

/// A layer-name pattern with the line it was written on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub text: String,
    pub line: usize,
}

/// Which layers a pin names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinTarget {
    Pattern(Pattern),
    Position(Position),
}

/// Layers forced to one candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Pin {
    pub target: PinTarget,
    pub candidate: String,
    /// Applies only to models whose name matches this pattern (all models when `None`).
    pub model: Option<String>,
    pub line: usize,
}

/// Layers that must share a candidate. Layers whose `*` captures agree form one tie set.
#[derive(Debug, Clone, PartialEq)]
pub struct Tie {
    pub name: String,
    pub layers: Vec<Pattern>,
    pub model: Option<String>,
}

/// A parsed, checked search space.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchSpace {
    /// The file it came from (used in every error and in provenance).
    pub file: String,
    pub description: String,
    /// Candidates by name.
    pub candidates: BTreeMap<String, Candidate>,
    /// Candidate names allowed per op kind, in file order; op kinds absent here stay fp32.
    pub op_kinds: BTreeMap<OpKind, Vec<String>>,
    pub pins: Vec<Pin>,
    pub ties: Vec<Tie>,
}

impl SearchSpace {
    /// Reads and checks a search-space file.
    pub fn load(path: &Path) -> Result<Self, SpaceFileError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| SpaceFileError::Read {
            file: file.clone(),
            reason: error.to_string(),
        })?;
        Self::parse(&text, &file)
    }

    /// Parses and checks search-space TOML; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, SpaceFileError> {
        let at = |span: Option<Range<usize>>, message: String| SpaceFileError::At {
            file: file.into(),
            line: span.map_or(0, |span| line_of(text, span.start)),
            message,
        };
        let raw: RawSpace =
            toml::from_str(text).map_err(|error| at(error.span(), error.message().into()))?;
        let mut candidates = BTreeMap::new();
        for (name, raw_candidate) in &raw.candidates {
            let weight = parse_format(&raw_candidate.weight, "weight")
                .map_err(|m| at(Some(raw_candidate.weight.span()), m))?;
            let activation = parse_format(&raw_candidate.activation, "activation")
                .map_err(|m| at(Some(raw_candidate.activation.span()), m))?;
            let candidate = Candidate {
                name: name.clone(),
                weight,
                activation,
            };
            candidates.insert(name.clone(), candidate);
        }
        let known = |name: &Spanned<String>| -> Result<String, SpaceFileError> {
            if candidates.contains_key(name.get_ref()) {
                return Ok(name.get_ref().clone());
            }
            let valid = candidates.keys().cloned().collect::<Vec<_>>().join(", ");
            let message = format!(
                "unknown candidate `{}` (candidates of this file: {valid})",
                name.get_ref()
            );
            Err(at(Some(name.span()), message))
        };
        let mut op_kinds = BTreeMap::new();
        for (kind, names) in &raw.op_kinds {
            let names = names.iter().map(&known).collect::<Result<Vec<_>, _>>()?;
            op_kinds.insert(*kind, names);
        }
        let pins = raw
            .pin
            .iter()
            .map(|pin| parse_pin(pin, &known, &at, text))
            .collect::<Result<Vec<_>, _>>()?;
        let ties = raw
            .tie
            .iter()
            .map(|tie| Tie {
                name: tie.name.clone(),
                layers: tie.layers.iter().map(|p| pattern(p, text)).collect(),
                model: tie.model.clone(),
            })
            .collect();
        Ok(Self {
            file: file.into(),
            description: raw.description,
            candidates,
            op_kinds,
            pins,
            ties,
        })
    }
}

fn parse_pin(
    pin: &RawPin,
    known: &dyn Fn(&Spanned<String>) -> Result<String, SpaceFileError>,
    at: &dyn Fn(Option<Range<usize>>, String) -> SpaceFileError,
    text: &str,
) -> Result<Pin, SpaceFileError> {
    let candidate = known(&pin.candidate)?;
    let line = line_of(text, pin.candidate.span().start);
    let target = match (&pin.layers, &pin.position) {
        (Some(layers), None) => PinTarget::Pattern(pattern(layers, text)),
        (None, Some(position)) => PinTarget::Position(position.get_ref().clone()),
        _ => {
            let message = "a [[pin]] needs exactly one of `layers` (a name pattern) or `position` (\"first\" or \"last\")";
            return Err(at(Some(pin.candidate.span()), message.into()));
        }
    };
    Ok(Pin {
        target,
        candidate,
        model: pin.model.clone(),
        line,
    })
}

fn pattern(spanned: &Spanned<String>, text: &str) -> Pattern {
    Pattern {
        text: spanned.get_ref().clone(),
        line: line_of(text, spanned.span().start),
    }
}

fn parse_format(name: &Spanned<String>, role: &str) -> Result<Format, String> {
    let format: Format = name
        .get_ref()
        .parse()
        .map_err(|error| format!("{role} format: {error}"))?;
    if role == "activation" && !Format::activation_formats().contains(&format) {
        return Err(format!(
            "`{format}` is a weight-only format and cannot be an activation format"
        ));
    }
    Ok(format)
}

/// The 1-based line holding byte `offset` of `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
