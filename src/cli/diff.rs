//! `bitplan diff`: what changed between two plan files.

use std::path::PathBuf;

use bitplan::report::{diff, read_plan};

/// Compare two plan files (TOML or JSON): the layers whose candidate changed, and every total
/// that moved. Prints nothing but "no differences" when the plans agree.
#[derive(Debug, clap::Parser)]
#[command(
    after_help = "Example:\n  bitplan diff reports/demo/plans/nvidia-h100-sxm-recommended.toml reports/demo/plans/arm-cortex-a76-recommended.toml"
)]
pub struct Args {
    /// The plan before.
    before: PathBuf,
    /// The plan after.
    after: PathBuf,
    /// Print the differences as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let before = read_plan(&args.before)?;
    let after = read_plan(&args.after)?;
    let changes = diff(&before, &after);
    if args.json {
        return super::stdout::print(&(serde_json::to_string_pretty(&changes)? + "\n"));
    }
    if changes.is_empty() {
        return super::stdout::print("no differences\n");
    }
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
    let number = |v: Option<f64>| v.map_or("(absent)".to_string(), |v| format!("{v}"));
    let mut text = String::new();
    for change in &changes.layers {
        text += &format!(
            "layer {}: {} -> {}\n",
            change.layer,
            show(&change.before),
            show(&change.after)
        );
    }
    for change in &changes.totals {
        text += &format!(
            "total {}: {} -> {}\n",
            change.metric,
            number(change.before),
            number(change.after)
        );
    }
    super::stdout::print(&text)
}
