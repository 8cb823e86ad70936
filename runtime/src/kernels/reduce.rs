//! Reductions over long slices, compiled for the widest vector instructions the CPU has.
//!
//! [`max_abs_pair`] is the pre-pass of every optimizer step (see `optim::guard`): it reads a
//! network's whole gradient and parameter buffers in one loop, so on a baseline (SSE2) build it
//! would cost as much as a momentum step. The body is one generic `#[inline(always)]` function; under
//! `std` on x86-64 it is also compiled with AVX2 and with AVX-512F, picked at run time
//! ([`super::simd`]).

use super::simd::{dispatch, Simd};
use crate::Scalar;

/// `(max |x|, every x finite)` over `values` (the maximum is `+inf` when a value is not
/// finite).
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
        // As many lanes per slice as `max_abs` has for one (two AVX-512 registers of `f32`, four
        // AVX2 ones: eight registers of maxima for the two slices). Without `std`
        // (microcontrollers, no vector registers) half as many: the lanes are scalar registers
        // there.
        const L: usize = if cfg!(feature = "std") {
            LANES
        } else {
            LANES / 2
        };
        let mut max_a = [T::AbsBits::default(); L];
        let mut max_b = [T::AbsBits::default(); L];
        let (chunks_a, rest_a) = self.0.as_chunks::<L>();
        let (chunks_b, rest_b) = self.1.as_chunks::<L>();
        for (ca, cb) in chunks_a.iter().zip(chunks_b) {
            for l in 0..L {
                max_a[l] = max_a[l].max(ca[l].abs_bits());
                max_b[l] = max_b[l].max(cb[l].abs_bits());
            }
        }
        (finish::<T, L>(max_a, rest_a), finish::<T, L>(max_b, rest_b))
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

/// [`max_abs`] in `L` independent lanes (several vector registers, so that no maximum waits on
/// the previous iteration's).
///
/// The maxima are taken over the bits of `|x|` as integers (`Sealed::abs_bits`), which order
/// like the values and put every infinity and NaN at or above the bits of `+inf`: one integer
/// maximum per element gives both the largest `|x|` and whether all are finite, where a float
/// maximum skips NaN and needed a second probe (`x * 0` summed) per element. On an AVX2 CPU
/// (AMD Zen 3) the two probes' registers did not fit: W1's scan of 2 x 235k values took 55 us,
/// twice the time of reading them.
#[inline(always)]
fn max_abs_body<T: Scalar, const L: usize>(values: &[T]) -> (T, bool) {
    let mut max = [T::AbsBits::default(); L];
    let (chunks, rest) = values.as_chunks::<L>();
    for chunk in chunks {
        for l in 0..L {
            max[l] = max[l].max(chunk[l].abs_bits());
        }
    }
    finish::<T, L>(max, rest)
}

/// `(max |x|, every x finite)` from the lanes' maxima of the whole chunks and the values left
/// over; the maximum is `+inf` when a value is not finite.
#[inline(always)]
fn finish<T: Scalar, const L: usize>(lanes: [T::AbsBits; L], rest: &[T]) -> (T, bool) {
    let lanes = lanes.into_iter();
    let largest = rest
        .iter()
        .map(|x| x.abs_bits())
        .chain(lanes)
        .max()
        .unwrap_or_default();
    if largest < T::INFINITY_BITS {
        (T::from_abs_bits(largest), true)
    } else {
        (T::infinity(), false)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::vec::Vec;

    /// Runs `f` on every instruction-set level this CPU has (the baseline alone without
    /// `std`).
    fn on_every_level(f: impl Fn()) {
        #[cfg(feature = "std")]
        {
            use crate::kernels::simd::{with_max_level, Level};
            let mut level = Some(Level::detect());
            while let Some(max) = level {
                with_max_level(max, &f);
                level = max.narrower();
            }
        }
        #[cfg(not(feature = "std"))]
        f();
    }

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

    /// The integer maxima over `|x|`'s bits against the float maximum, on the values where
    /// bits and values could part: signed zeros, subnormals, the largest finite values, and
    /// NaN with either sign and any payload (all of which must read as not finite), in every
    /// lane and in the leftover values, on every instruction-set level, `f32` and `f64`.
    fn check_edges<T: Scalar>(values: &[T], bad: &[T]) {
        let float_max = |v: &[T]| v.iter().fold(T::zero(), |m, x| m.max(x.abs()));
        let bits = |(max, finite): (T, bool)| (max.to_f64().to_bits(), finite);
        on_every_level(|| {
            for len in [0, 1, 31, 32, 33, 64, 70, values.len()] {
                let v = &values[..len.min(values.len())];
                let want = (float_max(v), true);
                assert_eq!(bits(max_abs(v)), bits(want), "{} {len}", T::NAME);
                let pair = max_abs_pair(v, v);
                assert_eq!((bits(pair.0), bits(pair.1)), (bits(want), bits(want)));
                for i in (0..v.len()).step_by(7).chain(v.len().checked_sub(1)) {
                    for &x in bad {
                        let mut w = v.to_vec();
                        w[i] = x;
                        let inf = (T::infinity(), false);
                        assert_eq!(max_abs(&w), inf, "{} {x:?} at {i} of {len}", T::NAME);
                        assert!(!max_abs_pair(v, &w).1 .1 && max_abs_pair(v, &w).0 .1);
                        assert!(!max_abs_pair(&w, v).0 .1 && max_abs_pair(&w, v).1 .1);
                    }
                }
            }
        });
    }

    #[test]
    fn bit_maxima_match_the_float_maximum_and_catch_every_non_finite_value() {
        let f32s: Vec<f32> = (0..75)
            .map(|i| match i % 5 {
                0 => -0.0,
                1 => f32::from_bits(1 + i as u32) * if i % 2 == 0 { 1.0 } else { -1.0 },
                2 => f32::MIN_POSITIVE * -(i as f32),
                3 => (i as f32 * 0.7).sin() * 1e30,
                _ => {
                    if i == 74 {
                        f32::MAX
                    } else {
                        -(i as f32)
                    }
                }
            })
            .collect();
        let nan_payload = f32::from_bits(0x7f80_0001);
        let negative_nan = f32::from_bits(0xffc0_0000);
        let bad32 = [
            f32::NAN,
            negative_nan,
            nan_payload,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ];
        check_edges(&f32s, &bad32);
        let f64s: Vec<f64> = (f32s.iter().enumerate())
            .map(|(i, &x)| match i % 5 {
                1 => f64::from_bits(3 + i as u64), // subnormal
                _ => x as f64 * 1e200,
            })
            .collect();
        let bad64 = [
            f64::NAN,
            f64::from_bits(0xfff8_0000_0000_0001),
            f64::from_bits(0x7ff0_0000_0000_0001),
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        check_edges(&f64s, &bad64);
        // The largest finite value is finite, with its own bits.
        assert_eq!(max_abs(&[f64::MAX, -1.0]), (f64::MAX, true));
        assert_eq!(max_abs(&[-f32::MAX]), (f32::MAX, true));
    }
}
