//! `bitplan inspect`: print a model's layer graph.

use anyhow::Context;
use bitplan::model::reference::load_image_classifier;
use bitplan::model::sequence::SequenceModel;
use bitplan::model::{Graph, RunnableModel};

/// Show the quantizable layers of a model: name, op, weight shape, parameters, MACs per sample,
/// input and output activation shapes (per sample), and which layers each one feeds.
///
/// MODEL is a reference name (fashion-cnn, mnist-cnn, minilm, smollm2), a weight file
/// (.safetensors, PyTorch .pth) together with --arch, a Llama-family GGUF file, or a Hugging Face
/// directory (BERT family or Llama). Sequence models count MACs per token.
#[derive(Debug, clap::Parser)]
#[command(
    after_help = "Examples:\n  bitplan inspect fashion-cnn\n  bitplan inspect my-mnist.pth --arch mnist-cnn --json\n  bitplan inspect smollm2\n  bitplan inspect ./all-MiniLM-L6-v2/ --json"
)]
pub struct Args {
    /// Reference model name or weight file.
    model: String,
    /// Architecture of a weight file: fashion-cnn or mnist-cnn.
    #[arg(long)]
    arch: Option<String>,
    /// Print the graph as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.arch.is_none() && SequenceModel::claims(&args.model) {
        let model = SequenceModel::load(&args.model)?;
        let source = model.source().display().to_string();
        return print(model.runnable().graph(), &source, args.json);
    }
    let classifier = load_image_classifier(&args.model, args.arch.as_deref())?;
    print(classifier.model.graph(), &classifier.weights, args.json)
}

fn print(graph: &Graph, weights: &str, json: bool) -> anyhow::Result<()> {
    if json {
        let json = serde_json::to_string_pretty(graph).context("serializing the graph")?;
        return super::stdout::print(&format!("{json}\n"));
    }
    super::stdout::print(&table(graph, weights))
}

fn dims(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(usize::to_string).collect();
    format!("[{}]", parts.join(","))
}

fn table(graph: &Graph, weights: &str) -> String {
    let mut text = format!("model {} (weights: {weights})\n", graph.model);
    let width = graph
        .layers
        .iter()
        .map(|l| l.name.len())
        .max()
        .unwrap_or(0)
        .max(14);
    text += &format!(
        "{:<width$} {:<17} {:<14} {:>8} {:>10}  {:<12} {:<12} feeds\n",
        "layer", "op", "weight", "params", "MACs", "input", "output"
    );
    for layer in &graph.layers {
        let op = serde_json::to_value(layer.op)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let feeds = if layer.outputs_to.is_empty() {
            "(output)".to_string()
        } else {
            layer.outputs_to.join(", ")
        };
        text += &format!(
            "{:<width$} {:<17} {:<14} {:>8} {:>10}  {:<12} {:<12} {feeds}\n",
            layer.name,
            op,
            dims(&layer.weight_shape),
            layer.params,
            layer.macs_per_sample,
            dims(&layer.input_shape),
            dims(&layer.output_shape),
        );
    }
    text += &format!(
        "total: {} layers, {} parameters, {} MACs per {}\n",
        graph.layers.len(),
        graph.total_params(),
        graph.total_macs_per_sample(),
        graph.sample_unit
    );
    text
}
