//! Gradient clipping by global norm and by value, as `torch.nn.utils.clip_grad_norm_` and
//! `clip_grad_value_`.
//!
//! Both take the flat gradient of the whole network (one slice), which is what PyTorch's
//! "global" norm over all parameter tensors amounts to: the norm of the per-tensor norms equals
//! the norm of all elements.

use num_traits::Float;

use crate::{Error, Result, Scalar};

/// Rescales `grads` so that their `norm_type`-norm is at most `max_norm`, and returns the norm
/// before clipping (`torch.nn.utils.clip_grad_norm_(..., error_if_nonfinite=True)`).
///
/// ```text
/// total = (sum_i |g_i|^p)^(1/p)      (p = norm_type; max_i |g_i| for p = inf)
/// coef  = min(max_norm / (total + 1e-6), 1)
/// g_i  <- coef * g_i
/// ```
/// The `1e-6` is PyTorch's: a norm just above `max_norm` is scaled to slightly below it. The sum
/// is accumulated in `f64` whatever `T` is (no overflow of `f32` squares, no loss of small
/// terms), then rounded to `T`; `coef` is computed in `T`, as PyTorch does in the gradients'
/// dtype. Typical use: `norm_type = 2.0`.
///
/// # Errors
/// - [`Error::InvalidParameter`] if `max_norm` is negative or NaN (`+inf` disables clipping but
///   still returns the norm), or `norm_type` is not positive (`f64::INFINITY` is the max-norm).
/// - [`Error::NonFinite`] if the norm is NaN or infinite (a NaN or infinite gradient); `grads`
///   is then left unchanged, as PyTorch leaves it when it raises.
pub fn clip_grad_norm<T: Scalar>(grads: &mut [T], max_norm: f64, norm_type: f64) -> Result<T> {
    require(
        "clip_grad_norm: max_norm",
        max_norm,
        max_norm >= 0.0,
        ">= 0",
    )?;
    require(
        "clip_grad_norm: norm_type",
        norm_type,
        norm_type > 0.0,
        "> 0 (or infinity for the max-norm)",
    )?;
    let total = T::from_f64(norm(grads, norm_type));
    if !total.is_finite() {
        return Err(Error::NonFinite {
            what: "clip_grad_norm: total gradient norm",
            value: Scalar::to_f64(total),
        });
    }
    let coef = T::from_f64(max_norm) / (total + T::from_f64(1e-6));
    let coef = if coef < T::one() { coef } else { T::one() };
    for g in grads.iter_mut() {
        *g *= coef;
    }
    Ok(total)
}

/// [`Error::InvalidParameter`] unless `ok` (which is false for NaN); infinity may pass.
fn require(name: &'static str, value: f64, ok: bool, expected: &'static str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name,
            value,
            expected,
        })
    }
}

/// The `p`-norm of `values` in `f64` (`p > 0`, or infinity for the max-norm); NaN if any value
/// is NaN.
fn norm<T: Scalar>(values: &[T], p: f64) -> f64 {
    if p == 2.0 {
        let sum: f64 = values
            .iter()
            .map(|g| Scalar::to_f64(*g) * Scalar::to_f64(*g))
            .sum();
        Float::sqrt(sum)
    } else if p == 1.0 {
        values.iter().map(|g| Float::abs(Scalar::to_f64(*g))).sum()
    } else if p == f64::INFINITY {
        values.iter().fold(0.0, |max: f64, g| {
            let a = Float::abs(Scalar::to_f64(*g));
            // `a > max` is false for a NaN `a` or `max`: keep the NaN explicitly.
            if a.is_nan() || a > max {
                a
            } else {
                max
            }
        })
    } else {
        let sum: f64 = values
            .iter()
            .map(|g| Float::powf(Float::abs(Scalar::to_f64(*g)), p))
            .sum();
        Float::powf(sum, 1.0 / p)
    }
}

/// Clamps every gradient to `[-clip_value, clip_value]` (`torch.nn.utils.clip_grad_value_`).
/// NaN gradients stay NaN, as with `torch.clamp`.
///
/// # Errors
/// [`Error::InvalidParameter`] if `clip_value` is negative or NaN (`+inf` is a no-op).
pub fn clip_grad_value<T: Scalar>(grads: &mut [T], clip_value: f64) -> Result<()> {
    require(
        "clip_grad_value: clip_value",
        clip_value,
        clip_value >= 0.0,
        ">= 0",
    )?;
    let high = T::from_f64(clip_value);
    let low = -high;
    for g in grads.iter_mut() {
        // Comparisons, not `Float::min/max`, so that NaN passes through unchanged.
        *g = if *g > high {
            high
        } else if *g < low {
            low
        } else {
            *g
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norms_and_coefficient() {
        let mut g = [3.0f64, -4.0];
        let total = clip_grad_norm(&mut g, 1.0, 2.0).unwrap();
        assert_eq!(total, 5.0);
        let scale = 1.0 / (5.0 + 1e-6);
        assert_eq!(g, [3.0 * scale, -4.0 * scale]);

        // Below max_norm: untouched (coefficient clamped to exactly 1).
        let mut g = [3.0f32, -4.0];
        assert_eq!(clip_grad_norm(&mut g, 10.0, 2.0).unwrap(), 5.0);
        assert_eq!(g, [3.0, -4.0]);

        let mut g = [3.0f64, -4.0];
        assert_eq!(clip_grad_norm(&mut g, f64::INFINITY, 1.0).unwrap(), 7.0);
        assert_eq!(clip_grad_norm(&mut g, 100.0, f64::INFINITY).unwrap(), 4.0);
        assert_eq!(
            clip_grad_norm(&mut [] as &mut [f32], 1.0, 2.0).unwrap(),
            0.0
        );
    }

    #[test]
    fn f32_squares_do_not_overflow() {
        let mut g = [1e30f32, 1e30];
        let total = clip_grad_norm(&mut g, 1.0, 2.0).unwrap();
        assert!((total / 1.414_213_6e30 - 1.0).abs() < 1e-6);
        assert!((g[0] - core::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
    }

    #[test]
    fn errors() {
        let mut g = [1.0f64, f64::NAN];
        for p in [1.0, 2.0, 3.0, f64::INFINITY] {
            assert!(matches!(
                clip_grad_norm(&mut g, 1.0, p),
                Err(Error::NonFinite { .. })
            ));
        }
        let mut g = [1.0f64, f64::INFINITY];
        assert!(matches!(
            clip_grad_norm(&mut g, 1.0, 2.0),
            Err(Error::NonFinite { .. })
        ));
        assert_eq!(g[0], 1.0, "left unchanged on error");
        assert!(clip_grad_norm(&mut g, -1.0, 2.0).is_err());
        assert!(clip_grad_norm(&mut g, f64::NAN, 2.0).is_err());
        assert!(clip_grad_norm(&mut g, 1.0, 0.0).is_err());
        assert!(clip_grad_norm(&mut g, 1.0, f64::NAN).is_err());
        assert!(clip_grad_value(&mut g, -1.0).is_err());
        assert!(clip_grad_value(&mut g, f64::NAN).is_err());
    }

    #[test]
    fn clamps_by_value_and_keeps_nan() {
        let mut g = [-3.0f32, -0.5, 0.25, 7.0, f32::NAN];
        clip_grad_value(&mut g, 1.0).unwrap();
        assert_eq!(&g[..4], &[-1.0, -0.5, 0.25, 1.0]);
        assert!(g[4].is_nan());
    }
}
