//! Shared test helpers: seeded data generators, tensor conversions, tiny random models of the
//! built-in architectures, and fixtures that fail loudly (with the fetch-script hint) when missing.
#![allow(dead_code)]

use bitplan::model::arch::CnnArch;
use bitplan::model::cnn::CnnModel;
use bitplan::model::spec::LayerKind;
use candle_core::{Device, Tensor};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::collections::HashMap;
use std::process::Command;

/// Standard normal samples (Box-Muller), deterministic for a seed.
pub fn gaussian(seed: u64, count: usize) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| standard_normal(&mut rng) as f32)
        .collect()
}

/// Student-t samples with 3 degrees of freedom: heavy tails like real weight and activation
/// outliers. t = z / sqrt(χ²₃ / 3).
pub fn heavy_tailed(seed: u64, count: usize) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let z = standard_normal(&mut rng);
            let chi2: f64 = (0..3).map(|_| standard_normal(&mut rng).powi(2)).sum();
            (z / (chi2 / 3.0).sqrt()) as f32
        })
        .collect()
}

/// Uniform samples in [low, high).
pub fn uniform(seed: u64, count: usize, low: f32, high: f32) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| low + (high - low) * rng.random::<f32>())
        .collect()
}

fn standard_normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A CPU f32 tensor.
pub fn tensor(values: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(values.to_vec(), shape, &Device::Cpu).expect("test tensor")
}

/// A tensor's values, flattened.
pub fn values(tensor: &Tensor) -> Vec<f32> {
    tensor
        .flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .expect("f32 tensor")
}

/// Mean squared difference.
pub fn mse(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        / a.len() as f64
}

fn uniform_tensor(shape: &[usize], low: f32, high: f32, rng: &mut rand::rngs::StdRng) -> Tensor {
    let count = shape.iter().product::<usize>();
    let values: Vec<f32> = (0..count).map(|_| rng.random_range(low..high)).collect();
    Tensor::from_vec(values, shape, &Device::Cpu).expect("tensor")
}

/// Seeded random parameters for every layer of `arch` (BN statistics included).
pub fn random_tensors(arch: &CnnArch, seed: u64) -> HashMap<String, Tensor> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut tensors = HashMap::new();
    for spec in arch.layers {
        let shape = spec.weight_shape();
        let bound = (3.0 / shape[1..].iter().product::<usize>() as f32).sqrt();
        let out = spec.out_channels();
        tensors.insert(
            format!("{}.weight", spec.name),
            uniform_tensor(&shape, -bound, bound, &mut rng),
        );
        tensors.insert(
            format!("{}.bias", spec.name),
            uniform_tensor(&[out], -0.1, 0.1, &mut rng),
        );
        if let LayerKind::Conv {
            batch_norm: true, ..
        } = spec.kind
        {
            for (name, low, high) in [
                ("bn.weight", 0.5, 1.5),
                ("bn.bias", -0.2, 0.2),
                ("bn.running_mean", -0.2, 0.2),
                ("bn.running_var", 0.5, 2.0),
            ] {
                let tensor = uniform_tensor(&[out], low, high, &mut rng);
                tensors.insert(format!("{}.{name}", spec.name), tensor);
            }
        }
    }
    tensors
}

/// A tiny random model of `arch`.
pub fn random_model(arch: &'static CnnArch, seed: u64) -> CnnModel {
    CnnModel::from_tensors(arch, &random_tensors(arch, seed), "random").expect("random model")
}

/// A seeded batch of pixels in 0..1 for `arch`.
pub fn random_pixels(arch: &CnnArch, batch: usize, seed: u64) -> Tensor {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let [c, h, w] = arch.input_shape;
    uniform_tensor(&[batch, c, h, w], 0.0, 1.0, &mut rng)
}

/// Unwraps a result that needs the fetched fixtures; a missing fixture fails the test with the
/// error's hint (run scripts/fetch-fixtures), it never passes silently.
pub fn need<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|error| panic!("{error}"))
}

/// Largest absolute value of a tensor.
pub fn max_abs(t: &Tensor) -> f32 {
    t.abs()
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.max(0))
        .and_then(|t| t.to_scalar::<f32>())
        .expect("max |t|")
}

/// Largest absolute difference between two tensors of the same shape.
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .and_then(|d| d.abs())
        .and_then(|d| d.flatten_all())
        .and_then(|d| d.max(0))
        .and_then(|d| d.to_scalar::<f32>())
        .expect("difference")
}

/// Runs the `bitplan` binary: (exit code, stdout, stderr).
pub fn bitplan(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_bitplan"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
