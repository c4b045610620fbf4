//! bitplan: hardware-aware mixed-precision quantization search.
//!
//! Stages (see DESIGN.md): `quant` (formats, fake-quant), `model` (layer graph, executor),
//! `sensitivity`, `hardware` (cost model), `search` (solvers, Pareto fronts), `validate`,
//! `report`, `export`. Each stage returns plain serde values; the library never prints.

pub mod alloc;
pub mod data;
pub mod demo;
pub mod export;
pub mod hardware;
pub mod model;
pub mod quant;
pub mod report;
pub mod search;
pub mod sensitivity;
pub mod space;
pub mod validate;
