//! Direct convolution loops for tiny groups (depthwise and small grouped convolutions): the
//! forward pass when a group has few weights, the input gradient when a group has few output
//! channels.
//!
//! There the per-group GEMMs are tiny (a row or two of output channels, or an inner dimension of
//! a few channels), so building and folding the column matrix costs more than the multiply-adds.
//! These loops read the input in place: every (output channel, input channel, tap, output row)
//! is one multiply-add over a run of output columns, contiguous when the stride is 1. Same
//! formulas as the GEMM path; [`direct_forward`] and [`direct_input`] pick the path at compile
//! time.
//!
//! The GEMM path has the edge elsewhere: its kernels pick AVX2/AVX-512 at run time, while these
//! loops vectorize only for the compile-time target (SSE2 on a default x86-64 build).

use super::{group_window, Conv2dGeometry};
use crate::Scalar;

/// Largest weight count per group, `(C_OUT / GROUPS) (C_IN / GROUPS) KH KW`, whose forward pass
/// runs direct.
pub(super) const DIRECT_MAX_GROUP_WEIGHTS: usize = 36;

/// Largest `C_OUT / GROUPS` whose input gradient runs direct. That gradient's GEMM
/// (`W_gᵀ dY_g`) has the inner dimension `C_OUT / GROUPS`, and its product is the whole column
/// matrix, which col2im then folds: with few output channels per group that costs far more than
/// the multiply-adds.
pub(super) const DIRECT_MAX_GROUP_OUT_FOR_INPUT: usize = 4;

/// Whether the forward pass of `G` runs on the direct loops.
///
/// Measured after the padded im2col and the portable GEMM landed (f32, batch 32, 2-core
/// AVX-512 machine, x86-64 baseline build, medians in us, GEMM vs direct; weights per group in
/// brackets): depthwise 3x3 16 x 14 x 14 [9] 187 vs 125, depthwise x2 3x3 [18] 287 vs 236,
/// groups of 2 in / 2 out 3x3 [36] 248 vs 234, 1 -> 4 3x3 28 x 28 [36] 109 vs 109 (even);
/// depthwise 7x7 [49] 906 vs 2028, W4's first layer 1 -> 8 3x3 28 x 28 [72] 170 vs 210 (it ran
/// direct under the earlier threshold of 144), 2 -> 8 [144] 253 vs 399, groups of 4 [144] 274
/// vs 458, 1x1 8 -> 16 [128] 72 vs 101, 3 -> 16 [432] 482 vs 1349.
pub(super) const fn direct_forward<G: Conv2dGeometry>() -> bool {
    G::GROUP_OUT * G::GROUP_IN * G::KH * G::KW <= DIRECT_MAX_GROUP_WEIGHTS
}

/// Whether the input gradient of `G` runs on the direct loops. Measured as above (GEMM vs
/// direct; output channels per group in brackets): depthwise 3x3 [1] 650 vs 121, depthwise 7x7
/// [1] 4212 vs 1759, depthwise x2 [2] 705 vs 246, groups of 2 [2] 702 vs 227, 1 -> 4 [4] 170 vs
/// 96, groups of 4 [4] 752 vs 482; 1 -> 8 and 2 -> 8 [8] even (190 vs 191, 386 vs 376), groups
/// of 8 [8] 916 vs 1050, 1 -> 16 [16] 246 vs 402, 1x1 8 -> 16 [16] 43 vs 86.
///
/// The weight gradient has no direct path: its GEMM (inner dimension `OH OW`) won on every
/// geometry above, depthwise included (3x3 204 vs 268, 7x7 1041 vs 1775, x2 242 vs 529), so
/// the direct weight-gradient loops were removed.
pub(super) const fn direct_input<G: Conv2dGeometry>() -> bool {
    G::GROUP_OUT <= DIRECT_MAX_GROUP_OUT_FOR_INPUT
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
