//! Finite-difference gradient checks, shared by every op's tests and by tests of generated
//! networks.
//!
//! The analytic gradient of a scalar function is compared with central differences
//! `(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)` in `f64`. The comparison uses the relative error
//! `|a - n| / max(|a|, |n|, floor)`: relative where the gradient is not tiny, absolute below
//! `floor`, where relative error means nothing.

/// Step used by [`numerical_gradient`] in the tests of this crate: small enough that the
/// truncation error `O(eps^2)` is ~1e-10, large enough that rounding `O(1e-16 / eps)` is too.
pub const DEFAULT_EPS: f64 = 1e-5;

/// Below this magnitude, gradients are compared absolutely (see the module docs).
pub const DEFAULT_FLOOR: f64 = 1e-3;

/// Writes the central-difference gradient of `f` at `x` into `grad`.
///
/// `x` is perturbed one element at a time and restored exactly afterwards.
///
/// # Panics
/// If `grad.len() != x.len()` (test utility).
pub fn numerical_gradient<F: FnMut(&[f64]) -> f64>(
    mut f: F,
    x: &mut [f64],
    eps: f64,
    grad: &mut [f64],
) {
    assert_eq!(
        x.len(),
        grad.len(),
        "numerical_gradient: x and grad lengths differ"
    );
    for i in 0..x.len() {
        let original = x[i];
        x[i] = original + eps;
        let plus = f(x);
        x[i] = original - eps;
        let minus = f(x);
        x[i] = original;
        grad[i] = (plus - minus) / (2.0 * eps);
    }
}

/// `|a - b| / max(|a|, |b|, floor)`.
pub fn relative_error(a: f64, b: f64, floor: f64) -> f64 {
    let scale = a.abs().max(b.abs()).max(floor);
    (a - b).abs() / scale
}

/// The largest [`relative_error`] over two equally long slices, with the index where it occurs.
///
/// # Panics
/// If the lengths differ (test utility).
pub fn max_relative_error(analytic: &[f64], numeric: &[f64], floor: f64) -> (f64, usize) {
    assert_eq!(
        analytic.len(),
        numeric.len(),
        "max_relative_error: lengths differ"
    );
    let mut worst = (0.0, 0);
    for (i, (&a, &n)) in analytic.iter().zip(numeric).enumerate() {
        let e = relative_error(a, n, floor);
        if e.is_nan() || e > worst.0 {
            worst = (e, i);
            if e.is_nan() {
                worst.0 = f64::INFINITY;
            }
        }
    }
    worst
}

/// Checks `analytic` against the central differences of `f` at `x`; panics with the worst index,
/// both values and the error when it exceeds `tolerance`.
///
/// # Panics
/// On a mismatch (that is the point), or if the lengths differ.
#[cfg(feature = "alloc")]
pub fn assert_gradient<F: FnMut(&[f64]) -> f64>(
    what: &str,
    f: F,
    x: &mut [f64],
    analytic: &[f64],
    tolerance: f64,
) {
    let mut numeric = alloc::vec![0.0; x.len()];
    numerical_gradient(f, x, DEFAULT_EPS, &mut numeric);
    let (err, i) = max_relative_error(analytic, &numeric, DEFAULT_FLOOR);
    assert!(
        err < tolerance,
        "{what}: gradient mismatch at index {i}: analytic {} vs numeric {} (relative error {err:e}, \
         tolerance {tolerance:e})",
        analytic[i],
        numeric[i]
    );
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn matches_a_known_gradient_and_catches_a_wrong_one() {
        // f(x) = sum x_i^3 + x_0 x_1, grad = 3 x_i^2 + (x_1, x_0, 0).
        let f = |x: &[f64]| x.iter().map(|v| v * v * v).sum::<f64>() + x[0] * x[1];
        let mut x = [0.5, -1.25, 2.0];
        let good = [3.0 * 0.25 - 1.25, 3.0 * 1.5625 + 0.5, 12.0];
        assert_gradient("cubic", f, &mut x, &good, 1e-8);
        assert_eq!(x, [0.5, -1.25, 2.0], "x restored");

        let bad = [good[0], good[1] * 1.001, good[2]];
        let result = std::panic::catch_unwind(move || {
            let mut x = [0.5, -1.25, 2.0];
            assert_gradient("cubic", f, &mut x, &bad, 1e-6)
        });
        assert!(result.is_err(), "a 0.1% error must be caught");
    }

    #[test]
    fn nan_counts_as_worst() {
        let (e, i) = max_relative_error(&[1.0, f64::NAN], &[1.0, 2.0], 1e-3);
        assert!(e.is_infinite());
        assert_eq!(i, 1);
    }
}
