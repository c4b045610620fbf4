//! `bitplan train-reference`: train a built-in reference model from its real dataset.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use bitplan::data::{fixture_path, ImageSet};
use bitplan::model::eval::top1_accuracy;
use bitplan::model::train::{TrainConfig, Trainer};
use bitplan::model::{fashion_cnn, reference};

/// Train a reference model from scratch, reproducibly, and save its weights (safetensors).
///
/// Only `fashion-cnn` is trained here: a small residual CNN on the Fashion-MNIST training set from
/// Debian's dataset-fashion-mnist package (run scripts/fetch-fixtures first). After each epoch the
/// test accuracy on the 10k test set is printed. Same seed and epochs give the same weights.
#[derive(Debug, clap::Parser)]
#[command(
    after_help = "Example:\n  bitplan train-reference fashion-cnn --seed 0 --epochs 4 --out fashion-cnn.safetensors"
)]
pub struct Args {
    /// Model to train (only `fashion-cnn`).
    #[arg(value_parser = ["fashion-cnn"])]
    model: String,
    /// Seed of every random choice (initialization, batch order, flips).
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    seed: u64,
    /// Passes over the 60k training images.
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    epochs: usize,
    /// Where to write the trained weights (safetensors; BN unfolded, folded at load).
    #[arg(long)]
    out: PathBuf,
    /// Images per optimizer step.
    #[arg(long, default_value_t = TrainConfig::default().batch_size)]
    batch_size: usize,
    /// Peak learning rate (AdamW, cosine decay to zero).
    #[arg(long, default_value_t = TrainConfig::default().learning_rate)]
    learning_rate: f64,
    /// Train on only the first N training images (quick reproducibility checks).
    #[arg(long)]
    train_limit: Option<usize>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let config = TrainConfig {
        seed: args.seed,
        epochs: args.epochs,
        batch_size: args.batch_size.max(1),
        learning_rate: args.learning_rate,
        ..TrainConfig::default()
    };
    let dir = fixture_path("fashion-mnist/usr/share/datasets/fashion-mnist")?;
    let train = ImageSet::from_idx_files(
        &dir.join("train-images-idx3-ubyte.gz"),
        &dir.join("train-labels-idx1-ubyte.gz"),
    )?;
    let train = match args.train_limit {
        Some(limit) => train.take(limit),
        None => train,
    };
    let test = reference::fashion_test_set()?;
    let trainer = Trainer::new(&fashion_cnn::ARCH, config.seed)?;
    let steps = train.len().div_ceil(config.batch_size) * config.epochs;
    let bar = ProgressBar::new(steps as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} steps, {elapsed} (eta {eta}) {msg}")
            .context("progress bar template")?,
    );
    let started = Instant::now();
    let mut on_step = |report: bitplan::model::train::StepReport| {
        bar.inc(1);
        bar.set_message(format!(
            "epoch {} loss {:.4}",
            report.epoch + 1,
            report.loss
        ));
    };
    let mut on_epoch = |trainer: &Trainer, epoch: usize| {
        let mut forward = |pixels: &candle_core::Tensor| trainer.forward(pixels, false);
        let accuracy = top1_accuracy(&mut forward, &test, None, &mut |_, _| {})?;
        bar.println(format!(
            "epoch {}: test accuracy {:.2}% ({}/{}), {:.0}s",
            epoch + 1,
            accuracy.percent(),
            accuracy.correct,
            accuracy.total,
            started.elapsed().as_secs_f64()
        ));
        Ok(())
    };
    trainer.fit(&train, &config, &mut on_step, &mut on_epoch)?;
    bar.finish_and_clear();
    trainer.save(&args.out)?;
    println!("wrote {} ({:?})", args.out.display(), config);
    Ok(())
}
