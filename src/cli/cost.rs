//! `bitplan cost`: price every layer of a model in every candidate on a hardware profile.

use std::path::{Path, PathBuf};

use anyhow::Context;
use bitplan::hardware::formats::QuantCatalog;
use bitplan::hardware::{cost_table, cost_table_for_space, load, CandidateFormats, CostTable};
use bitplan::model::any::AnyModel;
use bitplan::model::Graph;
use bitplan::space::{resolve, SearchSpace, Shorthand};

/// Predict what each layer of a model costs in each candidate format on one chip.
///
/// For every layer and candidate: latency (a roofline: the slower of compute and each memory
/// level, with the profile's efficiencies, tile padding, dequantization and overheads; and
/// whether compute or memory bound), weight bytes including scales, activation bytes, peak
/// memory, energy, and the layer's share of the average bits per weight; plus, for every pair of
/// adjacent layers, the cost of converting activations between their candidates. Batch size and
/// sequence length change which format wins, so they are inputs.
///
/// MODEL is a reference name (fashion-cnn, mnist-cnn), a weight file with --arch, or a graph
/// JSON file as `bitplan inspect --json` writes it. Candidates are shorthands (w8a8, w4a16, ...)
/// or WEIGHT_FORMAT:ACTIVATION_FORMAT (every layer is priced in each), or come from a
/// search-space file (--space): each layer is priced only in the candidates the space admits for
/// it, and the rest are listed as unavailable with the space's reason.
#[derive(Debug, clap::Parser)]
#[command(
    after_help = "Examples:\n  bitplan cost fashion-cnn --profile h100 --candidate w8a8 --candidate w4a16 --out cost.json\n  \
                        bitplan cost graph.json --profile arm-cortex-a76 --candidate q4_k:fp32 --batch 8 --seq 64 --out cost.json\n  \
                        bitplan cost fashion-cnn --profile host-cpu --space search-spaces/gguf.toml --batch 8 --out cost.json"
)]
pub struct Args {
    /// Reference model name, weight file (with --arch), or graph JSON.
    model: String,
    /// Architecture of a weight file: fashion-cnn or mnist-cnn.
    #[arg(long)]
    arch: Option<String>,
    /// Hardware profile: shipped name, unique fragment of one (`h100`), or a path.
    #[arg(long)]
    profile: String,
    /// A candidate: shorthand (w8a8, w4a16, ...) or WEIGHT_FORMAT:ACTIVATION_FORMAT. Repeat.
    #[arg(
        long = "candidate",
        required_unless_present = "space",
        conflicts_with = "space"
    )]
    candidates: Vec<String>,
    /// Search-space file (search-spaces/*.toml): per-layer admissible candidates.
    #[arg(long)]
    space: Option<PathBuf>,
    /// Samples per call.
    #[arg(long, default_value_t = 1)]
    batch: u64,
    /// Tokens per sample, for per-token models.
    #[arg(long, default_value_t = 1)]
    seq: u64,
    /// Where to write the cost table (JSON).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let profile = load(&args.profile)?.profile;
    let graph = load_graph(&args.model, args.arch.as_deref())?;
    let table = match &args.space {
        Some(path) => {
            let space = SearchSpace::load(path)?;
            let resolved = resolve(&space, &graph)?;
            cost_table_for_space(
                &profile,
                &graph,
                &resolved,
                &QuantCatalog,
                args.batch,
                args.seq,
            )?
        }
        None => {
            let candidates: Vec<CandidateFormats> = args
                .candidates
                .iter()
                .map(|text| Shorthand::parse(text).map(|s| CandidateFormats::from(&s)))
                .collect::<Result<_, _>>()?;
            cost_table(
                &profile,
                &graph,
                &candidates,
                &QuantCatalog,
                args.batch,
                args.seq,
            )?
        }
    };
    let json = serde_json::to_string_pretty(&table).context("serializing the cost table")?;
    std::fs::write(&args.out, json + "\n")
        .with_context(|| format!("writing {}", args.out.display()))?;
    print_summary(&table);
    println!("wrote {}", args.out.display());
    Ok(())
}

/// A reference model or weight file through the model loader, or a graph JSON file.
fn load_graph(model: &str, arch: Option<&str>) -> anyhow::Result<Graph> {
    let path = Path::new(model);
    if path.extension().is_some_and(|ext| ext == "json") {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {model}"))?;
        return serde_json::from_str(&text).with_context(|| {
            format!("{model}: not a layer graph (write one with `bitplan inspect MODEL --json`)")
        });
    }
    Ok(AnyModel::load(model, arch)?.graph().clone())
}

/// Whole-model totals of each candidate used uniformly, plus transition-free sums.
fn print_summary(table: &CostTable) {
    println!(
        "{} on {} (batch {}, seq {}): uniform candidates, sums over layers",
        table.model, table.profile, table.batch, table.seq
    );
    println!(
        "{:<16} {:>12} {:>14} {:>14} {:>12} {:>7}  layers",
        "candidate", "latency_us", "weight_bytes", "energy_uj", "weight_bits", "bound%"
    );
    for candidate in &table.candidates {
        let costs: Vec<_> = table
            .layers
            .iter()
            .filter_map(|layer| layer.costs.iter().find(|c| c.candidate == candidate.name))
            .collect();
        if costs.is_empty() {
            println!(
                "{:<16} {:>12} {:>14} {:>14} {:>12} {:>7}  0/{}",
                candidate.name,
                "-",
                "-",
                "-",
                "-",
                "-",
                table.layers.len()
            );
            continue;
        }
        let latency: f64 = costs.iter().map(|c| c.cost.latency_us).sum();
        let bytes: u64 = costs.iter().map(|c| c.cost.weight_bytes).sum();
        let energy: f64 = costs.iter().map(|c| c.cost.energy_uj).sum();
        let bits: f64 = costs.iter().map(|c| c.weight_bits).sum();
        let memory_bound = costs
            .iter()
            .filter(|c| c.cost.bound == bitplan::hardware::Bound::Memory)
            .count();
        let share = 100.0 * memory_bound as f64 / costs.len() as f64;
        println!(
            "{:<16} {:>12.2} {:>14} {:>14.3} {:>12.3} {:>6.0}%  {}/{}",
            candidate.name,
            latency,
            bytes,
            energy,
            bits,
            share,
            costs.len(),
            table.layers.len()
        );
    }
    println!("(bound% = share of layers that are memory-bound; layers = layers that can take the candidate)");
}
