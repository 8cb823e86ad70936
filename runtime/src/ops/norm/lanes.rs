//! Sums over contiguous slices in [`LANES`] independent partial sums.
//!
//! A single running sum is one chain of dependent adds that the compiler must evaluate in
//! order (floating-point addition is not associative), one scalar add per element at the
//! latency of an add. Eight partial sums, element `i` going to sum `i % 8`, are eight
//! independent chains that map onto vector registers. The result differs from the serial sum
//! by rounding only.
//!
//! Each loop keeps exactly one array of partial sums and ends in a serial sum of the partials:
//! with two arrays in one loop, or a pairwise final sum, LLVM's SLP vectorizer was seen to pair
//! lanes of the two (or the pairs of the final tree) and emit 2-wide vectors with shuffles, at
//! half the SSE width; one array summed in order gives full-width vectors. So the backward's two
//! sums are two passes, whose second reads from L1.
//!
//! Every function takes equally long slices (callers slice them from the same layout).

use crate::Scalar;

/// Number of partial sums: one AVX register of `f32`, two of `f64` (two SSE registers of
/// `f32` at the x86-64 baseline), enough independent chains to hide the add latency.
pub(super) const LANES: usize = 8;

/// Below this length a serial sum is cheaper than filling and then adding up the partial sums
/// (measured: GroupNorm groups of 8 and BatchNorm maps of 3x3 were 6-18 % slower with lanes).
const SERIAL_BELOW: usize = 2 * LANES;

/// `sum_i term(i)` over the elements, the terms of whole chunks in partial sums:
/// `chunk_term(k, j)` is the term of element `k * LANES + j`, `tail` the terms after the last
/// whole chunk, `all` every term in order (used instead for short inputs).
#[inline(always)]
fn lane_sum<T: Scalar>(
    chunks: usize,
    chunk_term: impl Fn(usize, usize) -> T,
    tail: impl Iterator<Item = T>,
    all: impl Iterator<Item = T>,
) -> T {
    if chunks * LANES < SERIAL_BELOW {
        return all.fold(T::zero(), |s, t| s + t);
    }
    let mut partial = [T::zero(); LANES];
    for k in 0..chunks {
        for (j, p) in partial.iter_mut().enumerate() {
            *p += chunk_term(k, j);
        }
    }
    let total = partial[1..].iter().fold(partial[0], |s, &p| s + p);
    tail.fold(total, |s, t| s + t)
}

/// `sum(f(x))`.
#[inline(always)]
fn sum_map<T: Scalar>(xs: &[T], f: impl Fn(T) -> T) -> T {
    let (chunks, tail) = xs.as_chunks::<LANES>();
    lane_sum(
        chunks.len(),
        |k, j| f(chunks[k][j]),
        tail.iter().map(|&v| f(v)),
        xs.iter().map(|&v| f(v)),
    )
}

/// `sum(f(x, y))` over pairs.
#[inline(always)]
fn sum_map2<T: Scalar>(xs: &[T], ys: &[T], f: impl Fn(T, T) -> T) -> T {
    debug_assert_eq!(xs.len(), ys.len());
    let (x_chunks, x_tail) = xs.as_chunks::<LANES>();
    let (y_chunks, y_tail) = ys.as_chunks::<LANES>();
    let y_chunks = &y_chunks[..x_chunks.len()];
    lane_sum(
        x_chunks.len(),
        |k, j| f(x_chunks[k][j], y_chunks[k][j]),
        x_tail.iter().zip(y_tail).map(|(&x, &y)| f(x, y)),
        xs.iter().zip(ys).map(|(&x, &y)| f(x, y)),
    )
}

/// `sum(f(x, y, z))` over triples.
#[inline(always)]
fn sum_map3<T: Scalar>(xs: &[T], ys: &[T], zs: &[T], f: impl Fn(T, T, T) -> T) -> T {
    debug_assert!(xs.len() == ys.len() && xs.len() == zs.len());
    let (x_chunks, x_tail) = xs.as_chunks::<LANES>();
    let (y_chunks, y_tail) = ys.as_chunks::<LANES>();
    let (z_chunks, z_tail) = zs.as_chunks::<LANES>();
    let (y_chunks, z_chunks) = (&y_chunks[..x_chunks.len()], &z_chunks[..x_chunks.len()]);
    let tail = x_tail.iter().zip(y_tail).zip(z_tail);
    let all = xs.iter().zip(ys).zip(zs);
    lane_sum(
        x_chunks.len(),
        |k, j| f(x_chunks[k][j], y_chunks[k][j], z_chunks[k][j]),
        tail.map(|((&x, &y), &z)| f(x, y, z)),
        all.map(|((&x, &y), &z)| f(x, y, z)),
    )
}

/// `sum(xs)`.
#[inline(always)]
pub(super) fn sum<T: Scalar>(xs: &[T]) -> T {
    sum_map(xs, |v| v)
}

/// `sum((xs - mean)^2)`: the second pass of a two-pass variance.
#[inline(always)]
pub(super) fn sum_squared_deviations<T: Scalar>(xs: &[T], mean: T) -> T {
    sum_map(xs, |v| (v - mean) * (v - mean))
}

/// `(sum(dy), sum(dy * x_hat))` with `x_hat = (x - mean) * inv_std`: the two sums of a
/// normalization's backward.
#[inline(always)]
pub(super) fn gradient_sums<T: Scalar>(xs: &[T], dys: &[T], mean: T, inv_std: T) -> (T, T) {
    let dy_xhat = sum_map2(xs, dys, |v, d| d * ((v - mean) * inv_std));
    (sum(dys), dy_xhat)
}

/// `(sum(gamma * dy), sum(gamma * (dy * x_hat)))` with `x_hat = (x - mean) * inv_std` and a
/// per-element `gamma` (LayerNorm's backward with its element-wise affine).
#[inline(always)]
pub(super) fn weighted_gradient_sums<T: Scalar>(
    xs: &[T],
    dys: &[T],
    gammas: &[T],
    mean: T,
    inv_std: T,
) -> (T, T) {
    let g = sum_map2(dys, gammas, |d, gamma| gamma * d);
    let g_xhat = sum_map3(xs, dys, gammas, |v, d, gamma| {
        gamma * (d * ((v - mean) * inv_std))
    });
    (g, g_xhat)
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    /// Serial sums in `f64`, the reference.
    fn naive(xs: &[f64], dys: &[f64], gammas: &[f64], mean: f64, inv_std: f64) -> [f64; 5] {
        let x_hat = |v: f64| (v - mean) * inv_std;
        let mut out = [0.0; 5];
        for ((&v, &d), &g) in xs.iter().zip(dys).zip(gammas) {
            out[0] += v;
            out[1] += (v - mean) * (v - mean);
            out[2] += d;
            out[3] += d * x_hat(v);
            out[4] += g * d * x_hat(v);
        }
        out
    }

    #[test]
    fn lane_sums_match_serial_sums_for_every_tail_length() {
        let mut rng = crate::Rng::new(5);
        for len in (0..40).chain([63, 64, 65, 257]) {
            let xs: Vec<f64> = (0..len).map(|_| 3.0 + rng.normal::<f64>()).collect();
            let dys: Vec<f64> = (0..len).map(|_| rng.normal::<f64>()).collect();
            let gammas: Vec<f64> = (0..len).map(|_| 1.0 + rng.normal::<f64>()).collect();
            let (mean, inv_std) = (2.9, 1.3);
            let expected = naive(&xs, &dys, &gammas, mean, inv_std);
            let (dy, dy_xhat) = gradient_sums(&xs, &dys, mean, inv_std);
            let (g, g_xhat) = weighted_gradient_sums(&xs, &dys, &gammas, mean, inv_std);
            let weighted_dy: f64 = gammas.iter().zip(&dys).map(|(g, d)| g * d).sum();
            let actual = [
                sum(&xs),
                sum_squared_deviations(&xs, mean),
                dy,
                dy_xhat,
                g_xhat,
            ];
            for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
                assert!(
                    (a - e).abs() <= 1e-12 * e.abs().max(1.0),
                    "len {len}, sum {i}"
                );
            }
            assert!((g - weighted_dy).abs() <= 1e-12 * weighted_dy.abs().max(1.0));
            // f32 goes through the same code: within f32 rounding of the f64 sums.
            let xs32: Vec<f32> = xs.iter().map(|&v| v as f32).collect();
            let s32 = sum(&xs32) as f64;
            assert!((s32 - expected[0]).abs() <= 1e-5 * expected[0].abs().max(1.0));
        }
    }
}
