//! `bitplan merge`: join sensitivity shards into one table.

use std::path::PathBuf;

use anyhow::Context;

use bitplan::sensitivity::journal::write_table;
use bitplan::sensitivity::merge::merge;
use bitplan::sensitivity::SensitivityTable;

/// Join the shard outputs of `bitplan analyze --shard k/n` into one sensitivity table. Refuses
/// shards from a different model, calibration data, search space or settings (their hashes are
/// in each shard's provenance), a shard given twice, and a missing shard.
#[derive(Debug, clap::Parser)]
#[command(after_help = "Example:\n  bitplan merge shard1.json shard2.json --out sens.json")]
pub struct Args {
    /// Shard files written by `bitplan analyze --shard k/n`.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Output file (JSON).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut shards = Vec::new();
    for path in &args.shards {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let table: SensitivityTable = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a sensitivity table", path.display()))?;
        shards.push((path.clone(), table));
    }
    let table = merge(shards)?;
    write_table(&args.out, &table)?;
    println!(
        "{} cells from {} shards written to {}",
        table.cells.len(),
        args.shards.len(),
        args.out.display()
    );
    Ok(())
}
