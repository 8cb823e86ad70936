//! Reductions over long slices, compiled for the widest vector instructions the CPU has.
//!
//! [`max_abs`] is the pre-pass of every optimizer step (see `optim::guard`): it reads a
//! network's whole gradient and parameter buffers, so on a baseline (SSE2) build it would cost
//! as much as a momentum step. The body is one generic `#[inline(always)]` function; under
//! `std` on x86-64 it is also compiled with AVX2 and with AVX-512F, picked at run time
//! ([`super::simd`]).

use super::simd::{dispatch, Simd};
use crate::Scalar;

/// `(max |x|, every x finite)` over `values`.
#[inline]
pub fn max_abs<T: Scalar>(values: &[T]) -> (T, bool) {
    dispatch(MaxAbs(values))
}

/// [`max_abs`] as a computation for [`dispatch`].
struct MaxAbs<'a, T>(&'a [T]);

impl<T: Scalar> Simd for MaxAbs<'_, T> {
    type Output = (T, bool);
    #[inline(always)]
    fn run(self) -> (T, bool) {
        max_abs_body::<T, LANES>(self.0)
    }
}

/// Lanes of [`max_abs`]: two AVX-512 registers of `f32`, four AVX2 ones, eight SSE2 ones.
const LANES: usize = 32;

/// [`max_abs`] in `L` independent lanes (several vector registers, so that neither the maximum
/// nor the finiteness probe waits on the previous iteration).
#[inline(always)]
fn max_abs_body<T: Scalar, const L: usize>(values: &[T]) -> (T, bool) {
    let zero = T::zero();
    let mut max = [zero; L];
    // `x * 0` is 0 for finite `x` and NaN for NaN and +-inf: the sum of those products is NaN
    // exactly when some value is not finite, with no branch in the loop.
    let mut probe = [zero; L];
    let (chunks, rest) = values.as_chunks::<L>();
    for chunk in chunks {
        for l in 0..L {
            let a = chunk[l].abs();
            max[l] = if a > max[l] { a } else { max[l] };
            probe[l] += chunk[l] * zero;
        }
    }
    for (l, &x) in rest.iter().enumerate() {
        let a = x.abs();
        max[l] = if a > max[l] { a } else { max[l] };
        probe[l] += x * zero;
    }
    let largest = max.iter().fold(zero, |m, &a| if a > m { a } else { m });
    (largest, probe.iter().all(|p| *p == zero))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_width_finds_the_largest_and_every_non_finite_value() {
        for len in [0usize, 1, 15, 16, 63, 64, 65, 200] {
            let v: [f32; 200] = core::array::from_fn(|i| (i as f32 * 0.37).sin());
            let v = &v[..len];
            let want = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            assert_eq!(max_abs(v), (want, true), "len {len}");
            assert_eq!(max_abs_body::<f32, 16>(v), (want, true));
            assert_eq!(max_abs_body::<f32, 64>(v), (want, true));
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                for i in [0, len / 2, len.saturating_sub(1)] {
                    if i >= len {
                        continue;
                    }
                    let mut w = v.to_vec();
                    w[i] = bad;
                    assert!(!max_abs(&w).1, "{bad} at {i} of {len}");
                    assert!(!max_abs_body::<f32, 64>(&w).1);
                }
            }
        }
        assert_eq!(max_abs(&[-2.5f64, 1.0]), (2.5, true));
    }
}
