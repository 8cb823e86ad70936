//! Helpers shared by the tests of the normalization layers.

use crate::{Rng, Scalar};

/// `[[f64; N]; B]` converted element-wise to `T`.
pub(super) fn cast<T: Scalar, const N: usize, const B: usize>(a: &[[f64; N]; B]) -> [[T; N]; B] {
    a.map(|row| row.map(T::from_f64))
}

/// `[f64; N]` converted element-wise to `T`.
pub(super) fn cast1<T: Scalar, const N: usize>(a: &[f64; N]) -> [T; N] {
    a.map(T::from_f64)
}

/// Standard normal values times `scale` plus `shift`.
pub(super) fn random<const N: usize, const B: usize>(
    rng: &mut Rng,
    scale: f64,
    shift: f64,
) -> [[f64; N]; B] {
    core::array::from_fn(|_| core::array::from_fn(|_| shift + scale * rng.normal::<f64>()))
}

/// `[[f64; N]; B]` read back from a flat slice of length `N * B`.
pub(super) fn unflatten<const N: usize, const B: usize>(flat: &[f64]) -> [[f64; N]; B] {
    assert_eq!(flat.len(), N * B);
    core::array::from_fn(|b| core::array::from_fn(|i| flat[b * N + i]))
}

/// `sum(w * y)`: a scalar loss whose gradient with respect to `y` is `w`.
pub(super) fn weighted_sum<const N: usize, const B: usize>(
    w: &[[f64; N]; B],
    y: &[[f64; N]; B],
) -> f64 {
    w.as_flattened()
        .iter()
        .zip(y.as_flattened())
        .map(|(a, b)| a * b)
        .sum()
}

/// Panics unless `|actual - expected| <= tol * max(1, |expected|)` everywhere.
pub(super) fn assert_close<T: Scalar>(what: &str, actual: &[T], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths differ");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let a = a.to_f64();
        let err = (a - e).abs() / e.abs().max(1.0);
        assert!(
            err <= tol,
            "{what}[{i}]: got {a}, expected {e} (error {err:e} > {tol:e})"
        );
    }
}

/// Tolerance for comparing with float64 reference values in `T`.
pub(super) fn tolerance<T: Scalar>() -> f64 {
    if T::BYTES == 8 {
        1e-12
    } else {
        1e-5
    }
}

/// Gradient-check tolerance (binding: relative error < 1e-6 in f64).
pub(super) const GRAD_TOL: f64 = 1e-6;
