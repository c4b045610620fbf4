//! Efficiency curves: a fraction of peak that depends on problem size (bytes moved, MACs done).
//!
//! A curve is a list of `(size, fraction)` points with strictly increasing sizes. Between two
//! points the fraction is interpolated linearly in log2(size), because efficiency grows with the
//! order of magnitude of the problem, not its absolute size; outside the points it is clamped to
//! the first or last fraction. An empty curve means "always 1.0".

/// Fraction at `size` on the curve `points` (sizes strictly increasing, fractions in (0, 1]).
///
/// f(x) = f_i + (f_{i+1} − f_i) · (log2 x − log2 x_i) / (log2 x_{i+1} − log2 x_i) for
/// x_i ≤ x ≤ x_{i+1}; f(x) = f_0 for x ≤ x_0; f(x) = f_last for x ≥ x_last.
pub fn interpolate(points: &[(f64, f64)], size: f64) -> f64 {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return 1.0;
    };
    if size <= first.0 {
        return first.1;
    }
    if size >= last.0 {
        return last.1;
    }
    for pair in points.windows(2) {
        let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
        if size <= x1 {
            let t = (size.log2() - x0.log2()) / (x1.log2() - x0.log2());
            return y0 + (y1 - y0) * t;
        }
    }
    last.1
}
