//! Shared test helpers: seeded data generators and tensor conversions.
#![allow(dead_code)]

use candle_core::{Device, Tensor};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

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
