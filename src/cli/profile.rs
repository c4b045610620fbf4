//! `bitplan profile`: list, show, check and calibrate hardware profiles.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use bitplan::hardware::calibrate::{self, MeasureSettings, Measurements};
use bitplan::hardware::roofline::ridge_points;
use bitplan::hardware::{load, load_file, shipped_names, LoadedProfile, Profile};
use indicatif::{ProgressBar, ProgressStyle};

/// Inspect, check and calibrate hardware profiles.
///
/// A hardware profile is a TOML file describing one chip: peak throughput per precision, memory
/// levels with bandwidths, which format pairs each op runs natively and what happens to the
/// others, padding, overheads and energy, every number with its source. The shipped profiles are
/// built into bitplan; a NAME may be a shipped name, a fragment of one (`h100`), or a path.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  bitplan profile list\n  bitplan profile show h100\n  \
                        bitplan profile check my-chip.toml\n  \
                        bitplan profile calibrate --out hardware-profiles/host-cpu.toml\n  \
                        bitplan profile validate host-cpu --model smollm2 --space search-spaces/gguf.toml --samples 50"
)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// List the shipped profiles with their peak throughput and memory bandwidth.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print one profile as written (with its source comments) and its ridge points.
    Show {
        /// Shipped name, unique fragment of one, or a path to a profile file.
        name: String,
        /// Print the parsed profile as JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Validate a profile file and print its ridge points per precision and memory level.
    Check {
        /// The profile file (its stem must equal its `name`).
        file: PathBuf,
        /// Print the ridge points as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Measure candle's CPU kernels on this machine and fit a profile from the measurements.
    Calibrate(CalibrateArgs),
    /// Run random mixed plans of a model for real and compare with the profile's latencies.
    Validate(super::profile_validate::Args),
}

/// Measuring writes a measurements file (resumable); fitting reads one and writes the profile.
#[derive(Debug, clap::Args)]
struct CalibrateArgs {
    /// The profile to write, e.g. hardware-profiles/host-cpu.toml (its stem becomes its name).
    #[arg(long)]
    out: PathBuf,
    /// Where measurements go [default: OUT with the extension .measurements.json].
    #[arg(long)]
    measurements: Option<PathBuf>,
    /// Fit from this measurements file instead of measuring.
    #[arg(long, conflicts_with_all = ["measurements", "resume", "quick", "threads", "processes"])]
    from: Option<PathBuf>,
    /// Seed for the random weights and activations.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// A seconds-long measurement with two small shapes (for trying the command out).
    #[arg(long)]
    quick: bool,
    /// Continue a partial measurements file left by an interrupted run.
    #[arg(long)]
    resume: bool,
    /// Threads for candle's kernels [default: candle's own choice, all CPUs]. On a machine other
    /// work shares, 1 avoids waiting for a descheduled worker thread on every call.
    #[arg(long)]
    threads: Option<usize>,
    /// Overwrite OUT and the measurements file if they exist.
    #[arg(long)]
    force: bool,
    /// Measure in this many processes, one after another, and fit the per-sample median: kernel
    /// speed depends on the memory layout a process draws (each process's measurements go
    /// beside the measurements file, `.process-K.json`; `--resume` reruns only unfinished ones).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    processes: u32,
    /// Measure only (no fit, no profile): how `--processes` runs each process.
    #[arg(long, hide = true, conflicts_with = "from")]
    measure_only: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::List { json } => list(json),
        Command::Show { name, json } => show(&load(&name)?, json),
        Command::Check { file, json } => check(&file, json),
        Command::Calibrate(args) => calibrate_command(args),
        Command::Validate(args) => super::profile_validate::run(args),
    }
}

fn list(json: bool) -> anyhow::Result<()> {
    let profiles: Vec<Profile> = shipped_names()
        .into_iter()
        .map(|name| load(name).map(|loaded| loaded.profile))
        .collect::<Result<_, _>>()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&profiles)?);
        return Ok(());
    }
    println!(
        "{:<22} {:<9} {:<44} memory GB/s",
        "name", "class", "peak tera-ops/s"
    );
    for profile in &profiles {
        let peaks: Vec<String> = profile
            .precision
            .iter()
            .map(|p| format!("{} {}", p.name, p.peak_tera_ops_per_s))
            .collect();
        let memory: Vec<String> = profile
            .memory
            .iter()
            .map(|m| format!("{} {}", m.name, m.bandwidth_gb_per_s))
            .collect();
        let class = format!("{:?}", profile.class).to_lowercase();
        println!(
            "{:<22} {:<9} {:<44} {}",
            profile.name,
            class,
            peaks.join(", "),
            memory.join(", ")
        );
    }
    Ok(())
}

fn show(loaded: &LoadedProfile, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&loaded.profile)?);
        return Ok(());
    }
    println!("# {} ({})", loaded.profile.name, loaded.origin);
    print!("{}", loaded.text);
    println!();
    print_ridges(&loaded.profile);
    Ok(())
}

fn check(file: &Path, json: bool) -> anyhow::Result<()> {
    let loaded = load_file(file)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&ridge_points(&loaded.profile))?
        );
        return Ok(());
    }
    println!(
        "{}: valid profile `{}`",
        file.display(),
        loaded.profile.name
    );
    print_ridges(&loaded.profile);
    Ok(())
}

/// Ridge points: the MACs per byte above which a layer is compute-bound.
fn print_ridges(profile: &Profile) {
    println!("ridge points (MACs per byte at which compute time equals memory time):");
    println!("  {:<10} {:<12} {:>14}", "precision", "memory", "MACs/byte");
    for ridge in ridge_points(profile) {
        println!(
            "  {:<10} {:<12} {:>14.2}",
            ridge.precision.to_string(),
            ridge.level,
            ridge.macs_per_byte
        );
    }
}

fn calibrate_command(args: CalibrateArgs) -> anyhow::Result<()> {
    if args.measure_only {
        measure_here(&args)?;
        return Ok(());
    }
    refuse_overwrite(&args.out, args.force)?;
    let measurements = match &args.from {
        Some(path) => read_measurements(path)?,
        None if args.processes > 1 => measure_in_processes(&args)?,
        None => measure_here(&args)?,
    };
    let name = args
        .out
        .file_stem()
        .and_then(|s| s.to_str())
        .context("--out needs a file name")?;
    let fitted = calibrate::fit(&measurements).context("fitting the measurements")?;
    let text = calibrate::render(name, &measurements, &fitted);
    // The rendered profile must pass the same validation as any other before it is written.
    bitplan::hardware::parse(&text, &args.out.display().to_string(), Some(name))
        .context("the fitted profile does not validate (this is a bug in bitplan)")?;
    write_atomically(&args.out, text.as_bytes())?;
    println!("wrote {} (fit: {})", args.out.display(), fitted.summary());
    Ok(())
}

fn refuse_overwrite(path: &Path, force: bool) -> anyhow::Result<()> {
    if path.exists() && !force {
        bail!("{} exists; pass --force to overwrite it", path.display());
    }
    Ok(())
}

fn measurements_path(args: &CalibrateArgs) -> PathBuf {
    args.measurements
        .clone()
        .unwrap_or_else(|| args.out.with_extension("measurements.json"))
}

fn read_measurements(path: &Path) -> anyhow::Result<Measurements> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let measurements: Measurements = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a measurements file", path.display()))?;
    Ok(measurements)
}

fn measure_here(args: &CalibrateArgs) -> anyhow::Result<Measurements> {
    if let Some(threads) = args.threads {
        // Read by candle and rayon when their thread pools start, which is after this point.
        std::env::set_var("CANDLE_NUM_THREADS", threads.to_string());
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    }
    let path = measurements_path(args);
    let previous = if args.resume {
        Some(read_measurements(&path)?)
    } else {
        refuse_overwrite(&path, args.force)?;
        None
    };
    let settings = if args.quick {
        MeasureSettings::quick(args.seed)
    } else {
        MeasureSettings::standard(args.seed)
    };
    let bar = ProgressBar::new(settings.passes as u64 + 1);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("measuring candle kernels");
    let mut save = |partial: &Measurements, done: usize, _total: usize| {
        bar.set_position(done as u64);
        let json = serde_json::to_vec_pretty(partial).map_err(|e| {
            bitplan::hardware::HardwareError::Write {
                file: path.display().to_string(),
                message: e.to_string(),
            }
        })?;
        write_atomically(&path, &json).map_err(|e| bitplan::hardware::HardwareError::Write {
            file: path.display().to_string(),
            message: format!("{e:#}"),
        })
    };
    let measurements = calibrate::measure(&settings, previous, &mut save)?;
    save(&measurements, settings.passes + 1, 0)?;
    bar.finish_and_clear();
    println!(
        "wrote {} ({} matmul samples)",
        path.display(),
        measurements.matmul.len()
    );
    Ok(measurements)
}

/// Where process `process` (from 1) of `--processes` writes its measurements.
fn process_path(measurements: &Path, process: u32) -> PathBuf {
    measurements.with_extension(format!("process-{process}.json"))
}

/// Measures in `args.processes` child processes of this executable, one after another, and
/// writes the per-sample median of their measurements to the measurements file.
fn measure_in_processes(args: &CalibrateArgs) -> anyhow::Result<Measurements> {
    let path = measurements_path(args);
    if !args.resume {
        refuse_overwrite(&path, args.force)?;
    }
    let executable = std::env::current_exe().context("finding bitplan's own executable")?;
    let mut parts = Vec::new();
    for process in 1..=args.processes {
        let part = process_path(&path, process);
        let finished = args.resume && read_measurements(&part).is_ok_and(|m| m.complete);
        if !finished {
            println!(
                "process {process} of {}: measuring into {}",
                args.processes,
                part.display()
            );
            let mut command = std::process::Command::new(&executable);
            command
                .args(["profile", "calibrate", "--measure-only", "--out"])
                .arg(&args.out)
                .arg("--measurements")
                .arg(&part)
                .args(["--seed", &args.seed.to_string()]);
            if let Some(threads) = args.threads {
                command.args(["--threads", &threads.to_string()]);
            }
            for (set, flag) in [
                (args.quick, "--quick"),
                (args.force, "--force"),
                (args.resume && part.exists(), "--resume"),
            ] {
                if set {
                    command.arg(flag);
                }
            }
            let status = command
                .status()
                .with_context(|| format!("starting {}", executable.display()))?;
            if !status.success() {
                bail!(
                    "process {process} of {} failed ({status}); what it measured is in {} \
                     (--resume continues)",
                    args.processes,
                    part.display()
                );
            }
        }
        parts.push(read_measurements(&part)?);
    }
    let combined = Measurements::median_of(&parts)
        .map_err(|e| anyhow::anyhow!("combining the processes' measurements: {e}"))?;
    let json = serde_json::to_vec_pretty(&combined)?;
    write_atomically(&path, &json)?;
    println!(
        "wrote {} (median of {} processes, {} matmul samples)",
        path.display(),
        args.processes,
        combined.matmul.len()
    );
    Ok(combined)
}

/// Writes to a temporary file beside `path`, then renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let temporary = path.with_extension("partial-write");
    let mut file = std::fs::File::create(&temporary)
        .with_context(|| format!("creating {}", temporary.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("writing {}", temporary.display()))?;
    file.sync_all().ok();
    std::fs::rename(&temporary, path)
        .with_context(|| format!("renaming onto {}", path.display()))?;
    Ok(())
}
