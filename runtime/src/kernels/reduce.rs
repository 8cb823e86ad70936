//! Reductions over long slices, compiled for the widest vector instructions the CPU has.
//!
//! [`max_abs_pair`] is the pre-pass of every optimizer step (see `optim::guard`): it reads a
//! network's whole gradient and parameter buffers in one loop, so on a baseline (SSE2) build it
//! would cost as much as a momentum step. The body is one generic `#[inline(always)]` function; under
//! `std` on x86-64 it is also compiled with AVX2 and with AVX-512F, picked at run time
//! ([`super::simd`]).

use super::simd::{dispatch, Simd};
use crate::Scalar;

/// `(max |x|, every x finite)` over `values`.
#[inline]
pub fn max_abs<T: Scalar>(values: &[T]) -> (T, bool) {
    dispatch(MaxAbs(values))
}

/// [`max_abs`] of two slices of equal length in one pass (`(a's, b's)`): the optimizers' scan
/// of their gradient and parameters, whose two streams then share one loop.
///
/// # Panics
/// Never: slices of different lengths are scanned separately.
#[inline]
pub fn max_abs_pair<T: Scalar>(a: &[T], b: &[T]) -> ((T, bool), (T, bool)) {
    if a.len() != b.len() {
        return (max_abs(a), max_abs(b));
    }
    dispatch(MaxAbsPair(a, b))
}

/// [`max_abs_pair`] as a computation for [`dispatch`].
struct MaxAbsPair<'a, T>(&'a [T], &'a [T]);

impl<T: Scalar> Simd for MaxAbsPair<'_, T> {
    type Output = ((T, bool), (T, bool));
    #[inline(always)]
    fn run(self) -> Self::Output {
        // Under `std` (where the wide levels are dispatched to), as many lanes per slice as
        // `max_abs` has for one (two AVX-512 registers of `f32` each): with one register per
        // slice, the finiteness probes' additions (3-4 cycles of latency each) hold the loop
        // below the memory's pace (measured: 22.3 -> 19.9 us for W1's 2 x 235k values).
        // Without `std` (microcontrollers, no vector registers) half as many: the lanes are
        // scalar registers there, and twice as many cost 1 KB of code on the Cortex-M4
        // firmware for nothing.
        const L: usize = if cfg!(feature = "std") {
            LANES
        } else {
            LANES / 2
        };
        let zero = T::zero();
        let (mut max_a, mut probe_a) = ([zero; L], [zero; L]);
        let (mut max_b, mut probe_b) = ([zero; L], [zero; L]);
        let (chunks_a, rest_a) = self.0.as_chunks::<L>();
        let (chunks_b, rest_b) = self.1.as_chunks::<L>();
        for (ca, cb) in chunks_a.iter().zip(chunks_b) {
            for l in 0..L {
                let (x, y) = (ca[l].abs(), cb[l].abs());
                max_a[l] = if x > max_a[l] { x } else { max_a[l] };
                max_b[l] = if y > max_b[l] { y } else { max_b[l] };
                probe_a[l] += ca[l] * zero;
                probe_b[l] += cb[l] * zero;
            }
        }
        let tail = |rest: &[T], max: &[T; L], probe: &[T; L]| {
            let (tail_max, tail_finite) = max_abs_body::<T, L>(rest);
            let largest = max.iter().fold(tail_max, |m, &v| if v > m { v } else { m });
            (largest, tail_finite && probe.iter().all(|p| *p == zero))
        };
        (
            tail(rest_a, &max_a, &probe_a),
            tail(rest_b, &max_b, &probe_b),
        )
    }
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
        let a: [f32; 77] = core::array::from_fn(|i| (i as f32).sin());
        let b: [f32; 77] = core::array::from_fn(|i| (i as f32 * 0.5).cos() * 3.0);
        assert_eq!(max_abs_pair(&a, &b), (max_abs(&a), max_abs(&b)));
        let mut bad = b;
        bad[76] = f32::NAN;
        assert_eq!(max_abs_pair(&a, &bad).0, max_abs(&a));
        assert!(!max_abs_pair(&a, &bad).1 .1);
        assert_eq!(max_abs_pair(&a, &b[..5]), (max_abs(&a), max_abs(&b[..5])));
    }
}
