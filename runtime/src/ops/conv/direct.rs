//! Direct convolution loops for layers whose column matrix would be shallow (few input channels
//! per group, e.g. a grayscale or RGB first layer, or a depthwise convolution).
//!
//! There the im2col GEMM has a tiny inner dimension `(C_IN / GROUPS) KH KW`, so copying the
//! columns (and the GEMM packing them again) costs as much as the multiply-adds. These loops
//! read the input in place: every (output channel, input channel, tap, output row) is one
//! multiply-add over a run of output columns, contiguous when the stride is 1. Same formulas as
//! the GEMM path; [`direct_forward`] and [`direct_weights`] pick the path at compile time.
//!
//! The GEMM path has the edge elsewhere: matrixmultiply picks AVX2/AVX-512 at run time, while
//! these loops vectorize only for the compile-time target (SSE2 on a default x86-64 build).

use super::{group_window, Conv2dGeometry};
use crate::Scalar;

/// Largest weight count per group, `(C_OUT / GROUPS) (C_IN / GROUPS) KH KW`, whose forward and
/// input-gradient passes run direct. Below it the per-group GEMMs are too small to amortise
/// im2col and packing.
pub(super) const DIRECT_MAX_GROUP_WEIGHTS: usize = 144;

/// Largest `C_OUT / GROUPS` whose weight gradient runs direct. The weight gradient is a GEMM
/// with inner dimension `OH OW` (long), so it only loses to the direct loops when its row count
/// `C_OUT / GROUPS` is tiny (depthwise).
pub(super) const DIRECT_MAX_GROUP_OUT_FOR_WEIGHTS: usize = 2;

/// Whether the forward and input-gradient passes of `G` run on the direct loops.
///
/// Measured (f32, batch 32, 2-core AVX-512 machine, portable build, GEMM from the `gemm`
/// branch; noisy, medians): depthwise 3x3 16x14x14 forward 111 us direct vs 630 us GEMM;
/// groups of 4 in / 4 out 420 vs 800-1270; a 1x1 8 -> 16 layer 91-158 vs 183-283; the W4 first
/// layer (1 -> 8, 3x3, 72 weights) 195-330 vs 240 (even); 4 -> 16 3x3 (576 weights) 400 vs 210
/// and 3 -> 16 3x3 (432) 1550 vs 690, where the GEMM wins.
pub(super) const fn direct_forward<G: Conv2dGeometry>() -> bool {
    G::GROUP_OUT * G::GROUP_IN * G::KH * G::KW <= DIRECT_MAX_GROUP_WEIGHTS
}

/// Whether the weight gradient of `G` runs on the direct loops. Measured as above: depthwise
/// 3x3 273 us direct vs 550 us GEMM, 7x7 1600 vs 2800; with 4 outputs per group the GEMM wins
/// (930 vs 1100-1650), and on the W4 first layer (440 vs 490-780).
pub(super) const fn direct_weights<G: Conv2dGeometry>() -> bool {
    G::GROUP_OUT <= DIRECT_MAX_GROUP_OUT_FOR_WEIGHTS
}

/// Calls `f(weight, x_start, y_start, len)` for every run of one sample: output
/// `y[y_start..y_start + len]` meets input `x[x_start + k SW]` (`k < len`) through the weight
/// `weight` (flat index into the weight block). Runs in the padding are skipped.
#[inline(always)]
fn for_each_run<G: Conv2dGeometry>(mut f: impl FnMut(usize, usize, usize, usize)) {
    let window = const { group_window::<G>() };
    let (hw, ohw) = (G::H * G::W, G::OUT_H * G::OUT_W);
    for o in 0..G::C_OUT {
        let group = o / G::GROUP_OUT;
        for ci in 0..G::GROUP_IN {
            let image = (group * G::GROUP_IN + ci) * hw;
            for i in 0..G::KH {
                for j in 0..G::KW {
                    let weight = ((o * G::GROUP_IN + ci) * G::KH + i) * G::KW + j;
                    let (lo, hi, first_ix) = window.column_span(j);
                    if lo == hi {
                        continue;
                    }
                    for oy in 0..G::OUT_H {
                        if let Some(iy) = window.input_row(oy, i) {
                            f(
                                weight,
                                image + iy * G::W + first_ix,
                                o * ohw + oy * G::OUT_W + lo,
                                hi - lo,
                            );
                        }
                    }
                }
            }
        }
    }
}

/// `y += conv2d(x, weight)` for one sample (the caller initialises `y` with the bias or 0).
#[inline]
pub(super) fn forward<T: Scalar, G: Conv2dGeometry>(x: &[T], weight: &[T], y: &mut [T]) {
    for_each_run::<G>(|w, xs, ys, len| {
        let (w, out) = (weight[w], &mut y[ys..ys + len]);
        if G::SW == 1 {
            for (o, &v) in out.iter_mut().zip(&x[xs..xs + len]) {
                *o += w * v;
            }
        } else {
            for (o, &v) in out.iter_mut().zip(x[xs..].iter().step_by(G::SW)) {
                *o += w * v;
            }
        }
    });
}

/// `dx += conv2dᵀ(dy, weight)` for one sample.
#[inline]
pub(super) fn backward_input<T: Scalar, G: Conv2dGeometry>(dy: &[T], weight: &[T], dx: &mut [T]) {
    for_each_run::<G>(|w, xs, ys, len| {
        let (w, grad) = (weight[w], &dy[ys..ys + len]);
        if G::SW == 1 {
            for (d, &g) in dx[xs..xs + len].iter_mut().zip(grad) {
                *d += w * g;
            }
        } else {
            for (d, &g) in dx[xs..].iter_mut().step_by(G::SW).zip(grad) {
                *d += w * g;
            }
        }
    });
}

/// `dweight += dY x̃ᵀ` for one sample.
#[inline]
pub(super) fn backward_weight<T: Scalar, G: Conv2dGeometry>(x: &[T], dy: &[T], dweight: &mut [T]) {
    for_each_run::<G>(|w, xs, ys, len| {
        let grad = &dy[ys..ys + len];
        dweight[w] += if G::SW == 1 {
            dot(grad, &x[xs..xs + len])
        } else {
            let input = x[xs..].iter().step_by(G::SW);
            grad.iter().zip(input).map(|(&g, &v)| g * v).sum::<T>()
        };
    });
}

/// `sum_k a[k] b[k]` over equally long slices, in 8 independent partial sums so that the
/// compiler can vectorize it (a single running sum has to be evaluated in order).
#[inline(always)]
fn dot<T: Scalar>(a: &[T], b: &[T]) -> T {
    const LANES: usize = 8;
    let mut acc = [T::zero(); LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(&x, &y)| x * y)
        .sum::<T>();
    for (ca, cb) in a_chunks.zip(b_chunks) {
        for ((s, &x), &y) in acc.iter_mut().zip(ca).zip(cb) {
            *s += x * y;
        }
    }
    acc.iter().copied().sum::<T>() + tail
}
