//! `bitplan formats`: print the table of numeric formats.

use anyhow::Context;
use bitplan::quant::{Format, FormatInfo};
use clap::Parser;
use serde::Serialize;

/// List every numeric format bitplan knows, one row each.
///
/// Columns: the name to use in files and on the command line, the family, bits per stored
/// element code, effective bits per element including scales and zero points (for a weight of
/// the given shape: per-tensor and per-channel overheads depend on it), what one scale covers,
/// how the format may quantize activations (static = needs a calibrated range, dynamic = scales
/// from the activation itself, weight-only), and notes.
#[derive(Debug, Parser)]
#[command(after_help = "Examples:\n  bitplan formats\n  bitplan formats --shape 768,3072 --json")]
pub struct Args {
    /// Print JSON (an array of rows) instead of a table.
    #[arg(long)]
    json: bool,

    /// Weight shape the effective bits per element are computed for, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "4096,4096")]
    shape: Vec<usize>,
}

/// One row of the printed table: the format's table row plus its effective bits for the shape.
#[derive(Serialize)]
struct Row {
    #[serde(flatten)]
    info: FormatInfo,
    bits_per_element: f64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let rows: Vec<Row> = Format::all()
        .into_iter()
        .map(|format| Row {
            info: format.info(),
            bits_per_element: format.bits_per_element(&args.shape),
        })
        .collect();
    if args.json {
        let json = serde_json::to_string_pretty(&rows).context("serializing the format table")?;
        return super::stdout::print(&format!("{json}\n"));
    }
    let shape: Vec<String> = args.shape.iter().map(usize::to_string).collect();
    let mut text = format!(
        "{:<16} {:<12} {:>4} {:>9}  {:<22} {:<12} notes\n",
        "name", "kind", "bits", "bits/elem", "scale covers", "activation"
    );
    for row in &rows {
        let info = &row.info;
        text += &format!(
            "{:<16} {:<12} {:>4} {:>9.4}  {:<22} {:<12} {}\n",
            info.name,
            kebab(&info.kind)?,
            info.element_bits,
            row.bits_per_element,
            info.scaling.to_string(),
            kebab(&info.activation)?,
            info.notes
        );
    }
    text += &format!(
        "\nbits/elem: stored bits per element including scales and zero points, for a weight of shape [{}].\n",
        shape.join(", ")
    );
    super::stdout::print(&text)
}

/// The serde (kebab-case) name of a unit enum value.
fn kebab<T: Serialize>(value: &T) -> anyhow::Result<String> {
    let json = serde_json::to_value(value).context("serializing a table cell")?;
    Ok(json.as_str().unwrap_or_default().to_string())
}
