//! Statistics: mean, standard error and Student-t 95% interval over calibration batches; rank
//! correlations (Spearman ρ, Kendall τ-b) between predicted and measured errors.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// An error estimate from `n` per-batch values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub mean: f64,
    /// Sample standard deviation / √n (0 when n < 2).
    pub std_error: f64,
    /// mean ± t(0.975, n−1)·std_error (the mean itself when n < 2).
    pub ci95_low: f64,
    pub ci95_high: f64,
    pub n: usize,
}

impl Estimate {
    pub fn from_values(values: &[f64]) -> Self {
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n.max(1) as f64;
        if n < 2 {
            return Self {
                mean,
                std_error: 0.0,
                ci95_low: mean,
                ci95_high: mean,
                n,
            };
        }
        let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let std_error = (variance / n as f64).sqrt();
        let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
            .map(|dist| dist.inverse_cdf(0.975))
            .unwrap_or(f64::NAN);
        Self {
            mean,
            std_error,
            ci95_low: mean - t * std_error,
            ci95_high: mean + t * std_error,
            n,
        }
    }
}

/// Ranks (1-based) with ties given their average rank.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        let average = (start + end + 1) as f64 / 2.0;
        for &index in &order[start..end] {
            ranks[index] = average;
        }
        start = end;
    }
    ranks
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    if vx == 0.0 || vy == 0.0 {
        return 0.0;
    }
    cov / (vx.sqrt() * vy.sqrt())
}

/// Spearman's ρ: Pearson correlation of the (tie-averaged) ranks.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

/// Kendall's τ-b (ties in either variable corrected for).
pub fn kendall(x: &[f64], y: &[f64]) -> f64 {
    let (mut concordant, mut discordant, mut ties_x, mut ties_y) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for i in 0..x.len() {
        for j in i + 1..x.len() {
            let (dx, dy) = (x[i] - x[j], y[i] - y[j]);
            match (dx == 0.0, dy == 0.0) {
                (true, true) => {}
                (true, false) => ties_x += 1.0,
                (false, true) => ties_y += 1.0,
                _ if dx.signum() == dy.signum() => concordant += 1.0,
                _ => discordant += 1.0,
            }
        }
    }
    let denominator =
        ((concordant + discordant + ties_x) * (concordant + discordant + ties_y)).sqrt();
    if denominator == 0.0 {
        return 0.0;
    }
    (concordant - discordant) / denominator
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_matches_hand_computation() {
        // mean 2, sample sd 1, se 1/√3, t(0.975, 2) = 4.302653
        let estimate = Estimate::from_values(&[1.0, 2.0, 3.0]);
        assert!((estimate.mean - 2.0).abs() < 1e-12);
        assert!((estimate.std_error - 1.0 / 3f64.sqrt()).abs() < 1e-12);
        assert!((estimate.ci95_high - (2.0 + 4.302653 / 3f64.sqrt())).abs() < 1e-5);
    }

    #[test]
    fn rank_correlations() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert!((spearman(&x, &[10.0, 20.0, 30.0, 40.0]) - 1.0).abs() < 1e-12);
        assert!((kendall(&x, &[4.0, 3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        // one swapped pair out of six: τ = (5 − 1)/6
        assert!((kendall(&x, &[1.0, 3.0, 2.0, 4.0]) - 4.0 / 6.0).abs() < 1e-12);
    }
}
