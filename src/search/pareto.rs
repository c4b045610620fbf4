//! Pareto dominance and hypervolume. Every objective is minimized.

/// `a` is no worse than `b` everywhere and strictly better somewhere.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    let mut strictly = false;
    for (x, y) in a.iter().zip(b) {
        if x > y {
            return false;
        }
        strictly |= x < y;
    }
    strictly
}

/// Indexes of the points no other point dominates, in input order; of identical points only the
/// first is kept.
pub fn non_dominated(points: &[Vec<f64>]) -> Vec<usize> {
    (0..points.len())
        .filter(|&i| {
            !points
                .iter()
                .enumerate()
                .any(|(j, other)| dominates(other, &points[i]) || (j < i && *other == points[i]))
        })
        .collect()
}

/// The volume of the region dominated by `points` and bounded by `reference` (a point every
/// useful point beats in all objectives). Points not strictly better than the reference in every
/// objective add nothing. Exact, by slicing along the last objective (the HSO algorithm, While et
/// al. 2006): `O(n^(d-1))` for `d` objectives, fine for the few hundred points of a front.
pub fn hypervolume(points: &[Vec<f64>], reference: &[f64]) -> f64 {
    let inside: Vec<&[f64]> = points
        .iter()
        .map(Vec::as_slice)
        .filter(|point| point.iter().zip(reference).all(|(p, r)| p < r))
        .collect();
    slice_volume(inside, reference)
}

fn slice_volume(mut points: Vec<&[f64]>, reference: &[f64]) -> f64 {
    let dims = reference.len();
    if points.is_empty() || dims == 0 {
        return 0.0;
    }
    if dims == 1 {
        let best = points.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min);
        return reference[0] - best;
    }
    let last = dims - 1;
    points.sort_by(|a, b| a[last].total_cmp(&b[last]));
    let mut volume = 0.0;
    for index in 0..points.len() {
        let top = points
            .get(index + 1)
            .map_or(reference[last], |next| next[last]);
        let depth = top - points[index][last];
        if depth > 0.0 {
            let below: Vec<&[f64]> = points[..=index].iter().map(|p| &p[..last]).collect();
            volume += depth * slice_volume(below, &reference[..last]);
        }
    }
    volume
}

/// Hypervolume after mapping every objective from `[ideal, reference]` onto `[0, 1]`: the
/// fraction of that box the points dominate. Objectives whose box has no width (the same value in
/// every plan) are left out.
pub fn normalized_hypervolume(points: &[Vec<f64>], ideal: &[f64], reference: &[f64]) -> f64 {
    let kept: Vec<usize> = (0..reference.len())
        .filter(|&d| reference[d] > ideal[d])
        .collect();
    let scaled: Vec<Vec<f64>> = points
        .iter()
        .map(|point| {
            kept.iter()
                .map(|&d| (point[d] - ideal[d]) / (reference[d] - ideal[d]))
                .collect()
        })
        .collect();
    hypervolume(&scaled, &vec![1.0; kept.len()])
}
