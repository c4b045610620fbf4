//! Building the [`Graph`] of a transformer from its layer list.
//!
//! Edges (`inputs_from`, `outputs_to`) name the *nearest* quantizable producers of the tensor a
//! layer consumes. A residual stream is fed by every earlier block, so listing every producer
//! reaching it would connect each layer to all layers before it; instead a residual add
//! contributes only its branch (the layer whose output was added last), which is where a format
//! conversion sits in a deployed kernel sequence.

use super::{Graph, Layer, OpKind};

/// A linear layer seen per token: `[inputs] → [outputs]`, `outputs·inputs` MACs.
pub fn linear(name: &str, inputs: usize, outputs: usize, bias: bool, from: &[String]) -> Layer {
    Layer {
        name: name.into(),
        op: OpKind::Linear,
        weight_shape: vec![outputs, inputs],
        params: outputs * inputs + if bias { outputs } else { 0 },
        macs_per_sample: (outputs * inputs) as u64,
        input_shape: vec![inputs],
        output_shape: vec![outputs],
        inputs_from: from.to_vec(),
        outputs_to: Vec::new(),
    }
}

/// An embedding table `[rows, width]` seen per token: one id in, one row out, no MACs.
pub fn embedding(name: &str, rows: usize, width: usize) -> Layer {
    Layer {
        name: name.into(),
        op: OpKind::Embedding,
        weight_shape: vec![rows, width],
        params: rows * width,
        macs_per_sample: 0,
        input_shape: vec![1],
        output_shape: vec![width],
        inputs_from: Vec::new(),
        outputs_to: Vec::new(),
    }
}

/// The graph of `layers` (in execution order) with `outputs_to` filled as the inverse of
/// `inputs_from`.
pub fn finish(model: &str, mut layers: Vec<Layer>) -> Graph {
    let edges: Vec<(String, String)> = layers
        .iter()
        .flat_map(|layer| {
            layer
                .inputs_from
                .iter()
                .map(|from| (from.clone(), layer.name.clone()))
        })
        .collect();
    for (from, to) in edges {
        if let Some(producer) = layers.iter_mut().find(|layer| layer.name == from) {
            producer.outputs_to.push(to);
        }
    }
    Graph {
        model: model.into(),
        sample_unit: "token".into(),
        layers,
    }
}
