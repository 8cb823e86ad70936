//! im2col and col2im for one group with the geometry known at compile time, through a
//! zero-padded copy of the image.
//!
//! The column matrix of one group is `[(C_IN / GROUPS) KH KW][OH OW]` (layout in
//! [`crate::kernels::im2col`]). Each of its rows is `OH` runs of `OW` values, one per output
//! row. In the padded image (`(H + 2 PH) x (W + 2 PW)` per channel, zeros around the input)
//! every run lies inside the image, so a run is one copy of `OW` elements (a compile-time
//! constant: a few vector moves) instead of a zero fill, a copy and another fill whose lengths
//! depend on the tap, which the slice-based [`crate::kernels::im2col::im2col`] does through
//! `memset` / `memcpy` calls. Measured on W4 (f32, batch 32, 2-core AVX-512 machine, medians):
//! the columns of its second layer (8 x 14 x 14, 3x3, padding 1) take 78 us instead of 213 us,
//! those of its first (1 x 28 x 28) 15 us instead of 45 us; the padded copy is 1/9 of the
//! columns' size. With stride 1 the runs are gathered from the image itself instead, the
//! padding written as zeros around each copy (`gather_rows`). col2im of a strided convolution runs the same way backwards: sums into a
//! zeroed padded image, then stores its interior; with stride 1 it folds the columns into the
//! image row by row instead (`fold_rows`).
//!
//! Without padding the input itself is that image and no copy is made.

use super::Conv2dGeometry;
use crate::kernels::Store;
use crate::Scalar;

/// Whether the geometry pads (and so needs the padded copy).
const fn pads<G: Conv2dGeometry>() -> bool {
    G::PH > 0 || G::PW > 0
}

/// Height and width of the (possibly padded) image the runs are read from.
const fn padded_dims<G: Conv2dGeometry>() -> (usize, usize) {
    (G::H + 2 * G::PH, G::W + 2 * G::PW)
}

/// Workspace elements of the padded copy of one group's image, after the columns:
/// `(C_IN / GROUPS) (H + 2 PH) (W + 2 PW)`, or 0 without padding.
pub(super) const fn padded_len<G: Conv2dGeometry>() -> usize {
    G::WORKSPACE_LEN - G::COLS_LEN
}

/// Calls `f(run, start)` for every run of the column matrix, in its row-major order: run
/// `run` (`OW` elements of the columns, the `run`-th output row of one (channel, tap) row)
/// reads the padded image from `start` with step `SW`.
#[inline(always)]
fn for_each_run<G: Conv2dGeometry>(mut f: impl FnMut(usize, usize)) {
    let (hp, wp) = padded_dims::<G>();
    let mut run = 0;
    for c in 0..G::GROUP_IN {
        for i in 0..G::KH {
            for j in 0..G::KW {
                let first = c * hp * wp + i * G::DH * wp + j * G::DW;
                for oy in 0..G::OUT_H {
                    f(run, first + oy * G::SH * wp);
                    run += 1;
                }
            }
        }
    }
}

/// `cols <- im2col(x_group)` for one group: `cols[..COLS_LEN]` is written entirely; `padded`
/// (at least [`padded_len`] elements) is scratch.
#[inline]
pub(super) fn gather<T: Scalar, G: Conv2dGeometry>(
    x_group: &[T],
    padded: &mut [T],
    cols: &mut [T],
) {
    if G::SH == 1 && G::SW == 1 {
        return gather_rows::<T, G>(x_group, cols);
    }
    let ow = G::OUT_W;
    let source: &[T] = if pads::<G>() {
        pad::<T, G>(x_group, &mut padded[..padded_len::<G>()]);
        &padded[..padded_len::<G>()]
    } else {
        &x_group[..G::GROUP_IN * G::H * G::W]
    };
    let cols = &mut cols[..G::COLS_LEN];
    for_each_run::<G>(|run, start| {
        let out = &mut cols[run * ow..(run + 1) * ow];
        if G::SW == 1 {
            out.copy_from_slice(&source[start..start + ow]);
        } else {
            for (o, &v) in out.iter_mut().zip(source[start..].iter().step_by(G::SW)) {
                *o = v;
            }
        }
    });
}

/// [`gather`] for stride 1 without the padded copy: each run is the image row's overlap with
/// the tap, zeros on either side of it (or a whole run of zeros for a row in the padding).
/// W4's weight gradients (f32, batch 32, minima of alternating rounds, 2-core machine under a
/// load of 7-8): the first layer's went from 1.62x the time of its GEMMs alone to 1.49-1.56x,
/// the second's stayed at 1.17x.
#[inline(always)]
fn gather_rows<T: Scalar, G: Conv2dGeometry>(x_group: &[T], cols: &mut [T]) {
    gather_rows_strided::<T, G>(x_group, cols, G::OUT_H * G::OUT_W);
}

/// [`gather`] for stride 1 into rows `ld >= OH OW` elements apart: row `r` of the column matrix
/// is `cols[r ld..r ld + OH OW]` (the rest of each stride untouched), so that the columns of
/// several samples can sit side by side (`im2col_gemm::backward_weight_batched`).
#[inline(always)]
pub(super) fn gather_rows_strided<T: Scalar, G: Conv2dGeometry>(
    x_group: &[T],
    cols: &mut [T],
    ld: usize,
) {
    let (w, ow, ohw) = (G::W, G::OUT_W, G::OUT_H * G::OUT_W);
    let x_group = &x_group[..G::GROUP_IN * G::H * w];
    // Run element ox of tap j reads image column ox + j DW - PW: the run's elements
    // [lo, hi) lie in the image.
    let span = |j: usize| {
        let shift = j * G::DW;
        let lo = G::PW.saturating_sub(shift).min(ow);
        let hi = (w + G::PW).saturating_sub(shift).min(ow);
        (lo, hi.max(lo))
    };
    for (c, image) in x_group.chunks_exact(G::H * w).enumerate() {
        for i in 0..G::KH {
            for j in 0..G::KW {
                let (lo, hi) = span(j);
                let row = ((c * G::KH + i) * G::KW + j) * ld;
                let tap = &mut cols[row..row + ohw];
                if ow == w {
                    block_copy::<T, G>(image, tap, i, j, (lo, hi));
                    continue;
                }
                for (oy, out) in tap.chunks_exact_mut(ow).enumerate() {
                    let iy = (oy + i * G::DH).checked_sub(G::PH).filter(|&iy| iy < G::H);
                    let Some(iy) = iy else {
                        out.fill(T::zero());
                        continue;
                    };
                    let first = iy * w + lo + j * G::DW - G::PW;
                    out[..lo].fill(T::zero());
                    out[lo..hi].copy_from_slice(&image[first..first + hi - lo]);
                    out[hi..].fill(T::zero());
                }
            }
        }
    }
}

/// One (channel, tap) row of [`gather_rows`] when the output is as wide as the image: the
/// output rows that meet the image are then one contiguous copy of the image shifted by the
/// tap's `j DW - PW` columns, whose wrapped-around elements (the `PW`-wide edges of each run)
/// are overwritten with zeros after it. One long copy instead of `OH` short ones: W4's weight
/// gradients (f32, batch 32, minima of alternating runs under a load of 6-8) 91.9-92.0 ->
/// 88.8-90.7 us (first layer) and 355 -> 345-347 us (second), its forward pass 447-449 -> 435-442
/// us.
#[inline(always)]
fn block_copy<T: Scalar, G: Conv2dGeometry>(
    image: &[T],
    tap: &mut [T],
    i: usize,
    j: usize,
    (lo, hi): (usize, usize),
) {
    let (w, ow) = (G::W, G::OUT_W);
    let len = G::H * w;
    // Output rows [oy_lo, oy_hi) read image rows oy + i DH - PH inside the image.
    let oy_lo = G::PH.saturating_sub(i * G::DH).min(G::OUT_H);
    let oy_hi = (G::H + G::PH)
        .saturating_sub(i * G::DH)
        .min(G::OUT_H)
        .max(oy_lo);
    let (top, rest) = tap.split_at_mut(oy_lo * ow);
    let (block, bottom) = rest.split_at_mut((oy_hi - oy_lo) * ow);
    top.fill(T::zero());
    bottom.fill(T::zero());
    if block.is_empty() {
        return;
    }
    // Block element k reads image element start + k (start may be negative by up to PW); the
    // elements outside the image are all in the edges zeroed below.
    let start = ((oy_lo + i * G::DH - G::PH) * w + j * G::DW) as isize - G::PW as isize;
    let first = start.max(0);
    let end = (start + block.len() as isize).min(len as isize);
    if end > first {
        let at = (first - start) as usize;
        let (first, end) = (first as usize, end as usize);
        block[at..at + (end - first)].copy_from_slice(&image[first..end]);
    }
    if lo > 0 || hi < ow {
        for out in block.chunks_exact_mut(ow) {
            out[..lo].fill(T::zero());
            out[hi..].fill(T::zero());
        }
    }
}

/// `x_group (store) col2im(cols)` for one group: every column entry is added onto the image
/// element it was gathered from (padding taps dropped); `padded` is scratch.
#[inline]
pub(super) fn scatter<T: Scalar, G: Conv2dGeometry>(
    cols: &[T],
    padded: &mut [T],
    dx_group: &mut [T],
    store: Store,
) {
    if G::SH == 1 && G::SW == 1 {
        return fold_rows::<T, G>(cols, dx_group, store);
    }
    let ow = G::OUT_W;
    let dx_group = &mut dx_group[..G::GROUP_IN * G::H * G::W];
    let target: &mut [T] = if pads::<G>() {
        let padded = &mut padded[..padded_len::<G>()];
        padded.fill(T::zero());
        padded
    } else {
        if store == Store::Overwrite {
            dx_group.fill(T::zero());
        }
        dx_group
    };
    let cols = &cols[..G::COLS_LEN];
    for_each_run::<G>(|run, start| {
        let src = &cols[run * ow..(run + 1) * ow];
        if G::SW == 1 {
            for (o, &v) in target[start..start + ow].iter_mut().zip(src) {
                *o += v;
            }
        } else {
            for (o, &v) in target[start..].iter_mut().step_by(G::SW).zip(src) {
                *o += v;
            }
        }
    });
    if pads::<G>() {
        unpad::<T, G>(&padded[..padded_len::<G>()], dx_group, store);
    }
}

/// [`scatter`] for stride 1, one image row at a time and without the padded copy: row `y` of
/// channel `c` receives, from every kernel row `i` whose output row `oy = y + PH - i DH` exists,
/// the `KW` runs of that (channel, tap) row at `oy`, each shifted by its tap's `j DW - PW`
/// columns. Over the columns where every tap lands (all but the `PW`-wide edges) a 3-wide
/// kernel's three runs are summed in one pass, so each image row is read and written once per
/// kernel row instead of once per tap, and no padded image is zeroed or copied back.
/// W4's second layer (8 x 14 x 14, 3x3, padding 1, f32, batch 32, medians on a 2-core machine
/// under a load of 5-7): its input gradient went from 1.62-1.83x the time of its GEMMs alone to
/// 1.28-1.35x (the fold from ~110 to ~55 us). The same loops compiled for AVX2 / AVX-512
/// through `dispatch` were slower (1.40-1.52x): a 12-wide middle leaves the wide vector loop
/// unused.
#[inline(always)]
fn fold_rows<T: Scalar, G: Conv2dGeometry>(cols: &[T], dx_group: &mut [T], store: Store) {
    let (w, ow, ohw) = (G::W, G::OUT_W, G::OUT_H * G::OUT_W);
    let dx_group = &mut dx_group[..G::GROUP_IN * G::H * w];
    let cols = &cols[..G::COLS_LEN];
    // Tap j covers image columns [j DW - PW, OW + j DW - PW) (clipped to the image); all taps
    // cover [mid_lo, mid_hi).
    let span = |j: usize| {
        let shift = j * G::DW;
        let lo = shift.saturating_sub(G::PW).min(w);
        let hi = (ow + shift).saturating_sub(G::PW).min(w);
        (lo, hi.max(lo))
    };
    let mid_lo = span(G::KW - 1).0;
    let mid_hi = span(0).1.max(mid_lo);
    if store == Store::Overwrite {
        dx_group.fill(T::zero());
    }
    // Output row of kernel row i for image row y, if it exists.
    let output_row = |y: usize, i: usize| {
        (y + G::PH)
            .checked_sub(i * G::DH)
            .filter(|&oy| oy < G::OUT_H)
    };
    // Image column x takes element x + PW - j DW of tap j's run.
    let at = |j: usize, x: usize| x + G::PW - j * G::DW;
    for (c, image) in dx_group.chunks_exact_mut(G::H * w).enumerate() {
        let tap_row = |i: usize, j: usize, oy: usize| {
            let start = ((c * G::KH + i) * G::KW + j) * ohw + oy * ow;
            &cols[start..start + ow]
        };
        // The middle of tap (i, j)'s run at output row oy.
        let mid = |i: usize, j: usize, oy: usize| &tap_row(i, j, oy)[at(j, mid_lo)..at(j, mid_hi)];
        for (y, out) in image.chunks_exact_mut(w).enumerate() {
            if mid_lo < mid_hi {
                for i in 0..G::KH {
                    let Some(oy) = output_row(y, i) else { continue };
                    let out = &mut out[mid_lo..mid_hi];
                    if G::KW == 3 {
                        let (a, b, d) = (mid(i, 0, oy), mid(i, 1, oy), mid(i, 2, oy));
                        for (((o, &a), &b), &d) in out.iter_mut().zip(a).zip(b).zip(d) {
                            *o += a + b + d;
                        }
                    } else {
                        for j in 0..G::KW {
                            for (o, &v) in out.iter_mut().zip(mid(i, j, oy)) {
                                *o += v;
                            }
                        }
                    }
                }
            }
            // The edges (every column when the middle is empty), tap by tap.
            for x in (0..mid_lo).chain(mid_hi..w) {
                for i in 0..G::KH {
                    let Some(oy) = output_row(y, i) else { continue };
                    for j in 0..G::KW {
                        let (lo, hi) = span(j);
                        if (lo..hi).contains(&x) {
                            out[x] += tap_row(i, j, oy)[at(j, x)];
                        }
                    }
                }
            }
        }
    }
}

/// `padded <- x` surrounded by `PH` zero rows and `PW` zero columns, per channel.
#[inline(always)]
fn pad<T: Scalar, G: Conv2dGeometry>(x: &[T], padded: &mut [T]) {
    let (hp, wp) = padded_dims::<G>();
    let (ph, pw, w) = (G::PH, G::PW, G::W);
    for (image, out) in x
        .chunks_exact(G::H * w)
        .zip(padded.chunks_exact_mut(hp * wp))
    {
        let (top, rest) = out.split_at_mut(ph * wp);
        let (middle, bottom) = rest.split_at_mut(G::H * wp);
        top.fill(T::zero());
        bottom.fill(T::zero());
        for (row, out) in image.chunks_exact(w).zip(middle.chunks_exact_mut(wp)) {
            out[..pw].fill(T::zero());
            out[pw..pw + w].copy_from_slice(row);
            out[pw + w..].fill(T::zero());
        }
    }
}

/// `dx (store)` the interior of `padded` (the inverse of [`pad`]'s placement).
#[inline(always)]
fn unpad<T: Scalar, G: Conv2dGeometry>(padded: &[T], dx: &mut [T], store: Store) {
    let (hp, wp) = padded_dims::<G>();
    let (ph, pw, w) = (G::PH, G::PW, G::W);
    for (image, out) in padded
        .chunks_exact(hp * wp)
        .zip(dx.chunks_exact_mut(G::H * w))
    {
        let rows = image[ph * wp..].chunks_exact(wp);
        for (row, out) in rows.zip(out.chunks_exact_mut(w)) {
            let row = &row[pw..pw + w];
            match store {
                Store::Overwrite => out.copy_from_slice(row),
                Store::Accumulate => {
                    for (o, &v) in out.iter_mut().zip(row) {
                        *o += v;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::{group_window, Conv2d};
    use super::*;
    use crate::kernels::im2col::{col2im_add, im2col};
    use std::vec::Vec;

    /// Both directions against the slice-based im2col / col2im_add, which are tested against
    /// the definition: Overwrite, Accumulate, NaN in the scratch and the columns' tail.
    fn check<G: Conv2dGeometry>() {
        let window = group_window::<G>();
        let image_len = G::GROUP_IN * G::H * G::W;
        let x: Vec<f64> = (0..image_len).map(|i| i as f64 * 0.5 - 3.0).collect();
        let mut want = std::vec![0.0; G::COLS_LEN];
        im2col(&window, &x, &mut want).unwrap();
        let mut cols = std::vec![f64::NAN; G::COLS_LEN + 3];
        let mut padded = std::vec![f64::NAN; padded_len::<G>()];
        gather::<f64, G>(&x, &mut padded, &mut cols);
        assert_eq!(&cols[..G::COLS_LEN], &want[..], "gather");

        let c: Vec<f64> = (0..G::COLS_LEN).map(|i| (i % 7) as f64 - 3.0).collect();
        let mut want = std::vec![0.0; image_len];
        col2im_add(&window, &c, &mut want).unwrap();
        let mut dx = std::vec![f64::NAN; image_len];
        padded.fill(f64::NAN);
        scatter::<f64, G>(&c, &mut padded, &mut dx, Store::Overwrite);
        assert_eq!(dx, want, "scatter, Overwrite");
        let mut dx: Vec<f64> = (0..image_len).map(|i| i as f64).collect();
        scatter::<f64, G>(&c, &mut padded, &mut dx, Store::Accumulate);
        let want: Vec<f64> = want.iter().enumerate().map(|(i, v)| v + i as f64).collect();
        assert_eq!(dx, want, "scatter, Accumulate");
    }

    #[test]
    fn gather_and_scatter_match_im2col_and_col2im() {
        // W4's layers; stride 2 with a floored output; dilation; no padding; non-square,
        // padding only one way; grouped (one group's image).
        check::<Conv2d<1, 28, 28, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, true>>();
        check::<Conv2d<8, 14, 14, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, true>>();
        check::<Conv2d<2, 7, 6, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, true>>();
        check::<Conv2d<2, 7, 7, 2, 3, 3, 1, 1, 2, 2, 2, 2, 1, true>>();
        check::<Conv2d<3, 6, 7, 4, 2, 3, 1, 2, 0, 1, 2, 1, 1, false>>();
        check::<Conv2d<2, 5, 6, 3, 2, 3, 2, 1, 0, 0, 1, 1, 1, false>>();
        check::<Conv2d<4, 5, 4, 6, 3, 3, 1, 1, 1, 0, 1, 1, 2, true>>();
        // Stride 1 with other kernel widths (the fold's per-tap middle), and a 1-D sequence.
        check::<Conv2d<2, 6, 7, 3, 2, 5, 1, 1, 1, 2, 1, 1, 1, false>>();
        check::<Conv2d<2, 6, 9, 3, 3, 2, 1, 1, 0, 1, 2, 3, 1, false>>();
        check::<Conv2d<2, 1, 9, 3, 1, 3, 1, 1, 0, 1, 1, 1, 1, true>>();
        // An image narrower than the padding (the copy starts before it and ends after it).
        check::<Conv2d<1, 3, 1, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, false>>();
        check::<Conv2d<2, 2, 2, 2, 5, 5, 1, 1, 2, 2, 1, 1, 1, false>>();
    }
}
