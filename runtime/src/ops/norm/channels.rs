//! Channel-blocked passes over a batch, shared by BatchNorm and Batch Renorm.
//!
//! Batch statistics reduce each channel over the batch. Walking one channel at a time down the
//! batch (stride `N` for `S = 1`) makes each channel's sum one serial chain of scalar adds,
//! which the compiler cannot vectorize (floating-point addition is not associative, so the
//! order is fixed). These passes walk the batch row by row instead and update a block of
//! per-channel accumulators from each row's contiguous segment:
//! - `S = 1`: the inner loop runs across channels, one independent sum per channel, and
//!   vectorizes without reordering any sum: each channel's values are still added in batch
//!   order, so statistics and gradients are those of a per-channel loop bit for bit;
//! - `S > 1`: each channel's `S` contiguous values are summed with [`lanes`](super::lanes)
//!   partial sums and the per-row results added in batch order.
//!
//! Statistics stay two-pass (the mean first, then the mean of squared deviations from it), as
//! accurate as before for data whose mean is large compared with its spread, where
//! `E[x^2] - E[x]^2` would cancel catastrophically.
//!
//! Channels are processed in blocks of at most [`MAX_BLOCK`]: the per-channel scratch
//! (accumulators and coefficients) is then a few small stack arrays whatever `C` is, and a
//! block of the whole batch (about [`BLOCK_VALUES`] values) stays in cache across the two or
//! three passes a kernel makes over it.

use core::ops::Range;

use crate::{Scalar, Store};

/// Most channels per block: bounds the stack scratch to a few `[T; MAX_BLOCK]` arrays
/// (256 bytes each in `f32`).
const MAX_BLOCK: usize = 64;

/// Values (all samples, all channels of the block) one pass over a block should touch: 16 KiB
/// of `f32` per input, so that the inputs and outputs of a block stay in L1/L2 between passes.
const BLOCK_VALUES: usize = 4096;

/// One block's per-channel scratch, zeroed. (A function rather than `[T::zero(); MAX_BLOCK]`
/// at the call sites, which would add anonymous constants to the public kernels and renumber
/// the `{constant#N}` that the compile-time shape errors (and their trybuild fixtures) name.)
#[inline(always)]
pub(super) fn scratch<T: Scalar>() -> [T; MAX_BLOCK] {
    [T::zero(); MAX_BLOCK]
}

/// Most channels per block of a training pass whose sums a [`Collective`](crate::Collective)
/// adds up over several participants: each block costs one or two synchronisations of all of
/// them, so the blocks are larger than the cache-sized ones.
const MAX_REDUCTION_BLOCK: usize = 256;

/// Per-channel scratch of a training block (up to [`MAX_REDUCTION_BLOCK`] channels), zeroed.
#[inline(always)]
pub(super) fn training_scratch<T: Scalar>() -> [T; MAX_REDUCTION_BLOCK] {
    [T::zero(); MAX_REDUCTION_BLOCK]
}

/// Scratch for the per-channel sums of one training block that a
/// [`Collective`](crate::Collective) adds up in one call: two sums per channel and a count.
#[inline(always)]
pub(super) fn reduction_scratch<T: Scalar>() -> [T; 2 * MAX_REDUCTION_BLOCK + 1] {
    [T::zero(); 2 * MAX_REDUCTION_BLOCK + 1]
}

/// Channels per block (the last block may have fewer): between 1 and [`MAX_BLOCK`].
#[inline(always)]
pub(super) const fn block_channels<const B: usize, const S: usize>() -> usize {
    let per_channel = if B * S == 0 { 1 } else { B * S };
    let per_block = BLOCK_VALUES / per_channel;
    if per_block < 1 {
        1
    } else if per_block > MAX_BLOCK {
        MAX_BLOCK
    } else {
        per_block
    }
}

/// The channel ranges of the blocks, in order, covering `0..C`.
pub(super) fn blocks<const B: usize, const C: usize, const S: usize>(
) -> impl Iterator<Item = Range<usize>> {
    blocks_of::<C>(block_channels::<B, S>())
}

/// The channel ranges of the blocks of statistics summed over `participants` (a
/// [`Collective`](crate::Collective)'s): the cache-sized blocks of [`blocks`] for one, and
/// blocks of [`MAX_REDUCTION_BLOCK`] channels for several, where every block costs one or two
/// synchronisations of all participants, which weigh more than the cache misses of a larger
/// block.
pub(super) fn reduction_blocks<const B: usize, const C: usize, const S: usize>(
    participants: usize,
) -> impl Iterator<Item = Range<usize>> {
    let per_block = if participants > 1 {
        MAX_REDUCTION_BLOCK
    } else {
        block_channels::<B, S>()
    };
    blocks_of::<C>(per_block)
}

/// `0..C` in consecutive ranges of `per_block` channels (the last may be shorter).
fn blocks_of<const C: usize>(per_block: usize) -> impl Iterator<Item = Range<usize>> {
    (0..C)
        .step_by(per_block)
        .map(move |start| start..(start + per_block).min(C))
}

/// The contiguous values of `channels` in one sample.
#[inline(always)]
fn segment<'a, T, const S: usize, const N: usize>(
    row: &'a [T; N],
    channels: &Range<usize>,
) -> &'a [T] {
    &row[channels.start * S..channels.end * S]
}

/// The contiguous values of `channels` in one sample, mutably.
#[inline(always)]
fn segment_mut<'a, T, const S: usize, const N: usize>(
    row: &'a mut [T; N],
    channels: &Range<usize>,
) -> &'a mut [T] {
    &mut row[channels.start * S..channels.end * S]
}

/// Per channel in `channels`, the sum of its values over the batch, written to `sums`
/// (`channels.len()` long): the first pass of the batch statistics.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub(super) fn block_sums<T: Scalar, const B: usize, const S: usize, const N: usize>(
    x: &[[T; N]; B],
    channels: Range<usize>,
    sums: &mut [T],
) {
    sums.fill(T::zero());
    for row in x {
        let xs = segment::<T, S, N>(row, &channels);
        if S == 1 {
            for (sum, &v) in sums.iter_mut().zip(xs) {
                *sum += v;
            }
        } else {
            for (sum, values) in sums.iter_mut().zip(xs.chunks_exact(S)) {
                *sum += super::lanes::sum(values);
            }
        }
    }
}

/// Per channel in `channels`, the sum over the batch of the squared deviations of its values
/// from `mean` (both slices `channels.len()` long), written to `squares`: the second pass.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub(super) fn block_squared_deviations<
    T: Scalar,
    const B: usize,
    const S: usize,
    const N: usize,
>(
    x: &[[T; N]; B],
    channels: Range<usize>,
    mean: &[T],
    squares: &mut [T],
) {
    squares.fill(T::zero());
    for row in x {
        let xs = segment::<T, S, N>(row, &channels);
        if S == 1 {
            for ((squares, &v), &mu) in squares.iter_mut().zip(xs).zip(mean) {
                *squares += (v - mu) * (v - mu);
            }
        } else {
            for ((squares, values), &mu) in squares.iter_mut().zip(xs.chunks_exact(S)).zip(mean) {
                *squares += super::lanes::sum_squared_deviations(values, mu);
            }
        }
    }
}

/// `y = (x - mean) * scale + shift` per channel over `channels` (coefficient slices
/// `channels.len()` long).
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub(super) fn block_affine<T: Scalar, const B: usize, const S: usize, const N: usize>(
    x: &[[T; N]; B],
    y: &mut [[T; N]; B],
    channels: Range<usize>,
    mean: &[T],
    scale: &[T],
    shift: &[T],
) {
    for (x_row, y_row) in x.iter().zip(y.iter_mut()) {
        let xs = segment::<T, S, N>(x_row, &channels);
        let ys = segment_mut::<T, S, N>(y_row, &channels);
        affine::<T, S>(xs, ys, mean, scale, shift);
    }
}

/// `ys = (xs - mean) * scale + shift` per channel of one sample's segment: channel `c` is the
/// `S` values from `c * S`, over the shortest of the five lengths (in channels). Iterators only,
/// so nothing can go out of bounds (no panic path, which inference on a microcontroller needs).
#[inline(always)]
pub(super) fn affine<T: Scalar, const S: usize>(
    xs: &[T],
    ys: &mut [T],
    mean: &[T],
    scale: &[T],
    shift: &[T],
) {
    let coefficients = mean.iter().zip(scale).zip(shift);
    if S == 0 {
        // No values (and `as_chunks` needs a non-zero size).
    } else if S == 1 {
        for ((out, &v), ((&mu, &k), &b)) in ys.iter_mut().zip(xs).zip(coefficients) {
            *out = (v - mu) * k + b;
        }
    } else {
        let values = ys
            .as_chunks_mut::<S>()
            .0
            .iter_mut()
            .zip(xs.as_chunks::<S>().0);
        for ((outs, vs), ((&mu, &k), &b)) in values.zip(coefficients) {
            for (out, &v) in outs.iter_mut().zip(vs) {
                *out = (v - mu) * k + b;
            }
        }
    }
}

/// Per channel in `channels`, `sum_dy = sum(dy)` and `sum_dy_xhat = sum(dy * x_hat)` with
/// `x_hat = (x - mean) * inv_std`, over the batch.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub(super) fn block_gradient_sums<T: Scalar, const B: usize, const S: usize, const N: usize>(
    x: &[[T; N]; B],
    dy: &[[T; N]; B],
    channels: Range<usize>,
    (mean, inv_std): (&[T], &[T]),
    sum_dy: &mut [T],
    sum_dy_xhat: &mut [T],
) {
    sum_dy.fill(T::zero());
    sum_dy_xhat.fill(T::zero());
    for (x_row, dy_row) in x.iter().zip(dy) {
        let xs = segment::<T, S, N>(x_row, &channels);
        let dys = segment::<T, S, N>(dy_row, &channels);
        let sums = sum_dy.iter_mut().zip(sum_dy_xhat.iter_mut());
        let stats = mean.iter().zip(inv_std);
        if S == 1 {
            for (((s, t), (&v, &d)), (&mu, &is)) in sums.zip(xs.iter().zip(dys)).zip(stats) {
                *s += d;
                *t += d * (v - mu) * is;
            }
        } else {
            let values = xs.chunks_exact(S).zip(dys.chunks_exact(S));
            for (((s, t), (vs, ds)), (&mu, &is)) in sums.zip(values).zip(stats) {
                let (row_dy, row_dy_xhat) = super::lanes::gradient_sums(vs, ds, mu, is);
                *s += row_dy;
                *t += row_dy_xhat;
            }
        }
    }
}

/// Training-mode input gradient over `channels`:
/// `dx (store) scale * (dy - mean_dy - x_hat * mean_dy_xhat)`, `x_hat = (x - mean) * inv_std`,
/// with per-channel `mean`, `inv_std`, `scale` and the batch means `mean_dy`, `mean_dy_xhat`.
#[allow(clippy::too_many_arguments)]
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub(super) fn block_train_dx<T: Scalar, const B: usize, const S: usize, const N: usize>(
    x: &[[T; N]; B],
    dy: &[[T; N]; B],
    dx: &mut [[T; N]; B],
    store: Store,
    channels: Range<usize>,
    (mean, inv_std, scale): (&[T], &[T], &[T]),
    (mean_dy, mean_dy_xhat): (&[T], &[T]),
) {
    let dx_of = |v: T, d: T, mu: T, is: T, k: T, m_dy: T, m_dy_xhat: T| {
        k * (d - m_dy - (v - mu) * is * m_dy_xhat)
    };
    for ((x_row, dy_row), dx_row) in x.iter().zip(dy).zip(dx.iter_mut()) {
        let xs = segment::<T, S, N>(x_row, &channels);
        let dys = segment::<T, S, N>(dy_row, &channels);
        let outs = segment_mut::<T, S, N>(dx_row, &channels);
        let coefficients = mean
            .iter()
            .zip(inv_std)
            .zip(scale)
            .zip(mean_dy.iter().zip(mean_dy_xhat));
        if S == 1 {
            let values = outs.iter_mut().zip(xs.iter().zip(dys));
            for ((out, (&v, &d)), (((&mu, &is), &k), (&m_dy, &m_dy_xhat))) in
                values.zip(coefficients)
            {
                store.apply(out, dx_of(v, d, mu, is, k, m_dy, m_dy_xhat));
            }
        } else {
            let values = outs
                .chunks_exact_mut(S)
                .zip(xs.chunks_exact(S).zip(dys.chunks_exact(S)));
            for ((outs, (vs, ds)), (((&mu, &is), &k), (&m_dy, &m_dy_xhat))) in
                values.zip(coefficients)
            {
                for ((out, &v), &d) in outs.iter_mut().zip(vs).zip(ds) {
                    store.apply(out, dx_of(v, d, mu, is, k, m_dy, m_dy_xhat));
                }
            }
        }
    }
}

/// `dx (store) scale * dy` per channel over `channels` (eval-mode input gradient).
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub(super) fn block_scaled<T: Scalar, const B: usize, const S: usize, const N: usize>(
    dy: &[[T; N]; B],
    dx: &mut [[T; N]; B],
    store: Store,
    channels: Range<usize>,
    scale: &[T],
) {
    for (dy_row, dx_row) in dy.iter().zip(dx.iter_mut()) {
        let dys = segment::<T, S, N>(dy_row, &channels);
        let outs = segment_mut::<T, S, N>(dx_row, &channels);
        if S == 1 {
            for ((out, &d), &k) in outs.iter_mut().zip(dys).zip(scale) {
                store.apply(out, k * d);
            }
        } else {
            let values = outs.chunks_exact_mut(S).zip(dys.chunks_exact(S));
            for ((outs, ds), &k) in values.zip(scale) {
                for (out, &d) in outs.iter_mut().zip(ds) {
                    store.apply(out, k * d);
                }
            }
        }
    }
}

#[cfg(all(test, feature = "std"))]
mod tests;
