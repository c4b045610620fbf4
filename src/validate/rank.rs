//! Spearman's rank correlation: how well predictions order plans, whatever their units.

/// Ranks of `values` (1-based), ties sharing the average of their ranks.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && values[order[end + 1]] == values[order[start]] {
            end += 1;
        }
        let average = (start + end) as f64 / 2.0 + 1.0;
        for &index in &order[start..=end] {
            ranks[index] = average;
        }
        start = end + 1;
    }
    ranks
}

/// Pearson correlation of the ranks of `xs` and `ys`; `None` with fewer than 3 pairs, unequal
/// lengths, or a constant series (the correlation is undefined).
pub fn spearman(xs: &[f64], ys: &[f64]) -> Option<f64> {
    if xs.len() != ys.len() || xs.len() < 3 {
        return None;
    }
    let (rx, ry) = (ranks(xs), ranks(ys));
    let n = rx.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let mut cov = 0.0;
    let (mut vx, mut vy) = (0.0, 0.0);
    for (x, y) in rx.iter().zip(&ry) {
        cov += (x - mx) * (y - my);
        vx += (x - mx) * (x - mx);
        vy += (y - my) * (y - my);
    }
    (vx > 0.0 && vy > 0.0).then(|| cov / (vx * vy).sqrt())
}

#[cfg(test)]
mod tests {
    use super::spearman;

    #[test]
    fn monotone_series_correlate_perfectly() {
        let xs = [1.0, 2.0, 3.0, 10.0];
        assert_eq!(spearman(&xs, &[5.0, 6.0, 7.0, 8.0]), Some(1.0));
        assert_eq!(spearman(&xs, &[8.0, 7.0, 6.0, 5.0]), Some(-1.0));
    }

    #[test]
    fn ties_and_constants() {
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        let r = spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 2.0, 3.0, 4.0]).unwrap_or(0.0);
        assert!((r - 0.948_683_298).abs() < 1e-6, "{r}");
    }
}
