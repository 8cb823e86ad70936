//! Max-pooling backward when the windows tile the image (stride equal to the kernel, no
//! padding, no dilation: PyTorch's default `max_pool2d(x, k)`) and hold 4 (2x2) or 9 (3x3) taps,
//! computed a block of windows at a time; and the forward pass when such windows (of any size)
//! tile it exactly, in two flat passes over chunks of rows of windows ([`max_pool2d_forward`]).
//!
//! The general kernel zero-fills `dx`, then follows PyTorch's running maximum tap by tap
//! ([`RunningMax`], a chain of data-dependent selects per window) and adds each window's
//! gradient at its argmax. Here the taps of up to [`LANES`] neighbouring windows of one row of
//! windows are transposed into `taps[t][l]` (tap `t`, row-major in the window, of window `l`),
//! so that every step is one operation over contiguous lanes, which the compiler vectorizes:
//! - the maximum `m[l] = max_t taps[t][l]`;
//! - the gradient `dy[l]` goes to the first tap (in row-major order) equal to `m[l]`: a
//!   remaining gradient is handed, tap by tap, to the first tap that equals the maximum.
//!
//! For finite taps that is exactly PyTorch's rule (the first maximum wins ties). A block with a
//! NaN or an infinity among its taps (detected as `0 v` not being 0) takes the running maximum
//! window by window instead, so NaN (which wins) and infinities keep PyTorch's exact routing.
//! The windows are disjoint, so `dx` is written once, element by element (the gradient at the
//! argmax, 0 at the other taps and in the floored remainder) and, with [`Store::Overwrite`],
//! never read: no zero fill first.
//!
//! When a row of windows fills at most half a block and no input rows lie below the last row
//! of windows, a block takes two rows of windows (across channels and samples, whose rows of
//! windows then follow each other): W4's second layer, rows of 7 windows, 0.81-0.85x the time
//! of one row per block (f32, batch 32, alternated runs on a loaded machine; the first layer,
//! rows of 14, unchanged).
//!
//! Measured on W4's pooling layers (f32, batch 32, 2-core AVX-512 machine, x86-64 baseline
//! build, medians of one session): 8 x 28 x 28 -> 8 x 14 x 14 backward 326 -> 143 us, 16 x 14 x
//! 14 -> 16 x 7 x 7 75 -> 76 us (its rows of 7 windows fill half a block). The same blocks for
//! the forward pass gained 83 -> 69 us on the first layer but lost 19 -> 37 us on the second;
//! the forward's two flat passes take 96 -> 23 us and 48 -> 11.5 us (f32, batch 32, compiled
//! for AVX-512 as the generated forward runs it).
//!
//! The code shape is what makes the compiler emit vector compares and masks: lane loops of
//! constant length over whole arrays, every tap's gradients computed before any is stored,
//! and the rare path out of line. Computing a tap's gradients next to their strided stores, or
//! returning them through a value shared with the rare path, turned the selects into a
//! mispredicted branch per lane or the lane arrays into partial stack stores that stall the
//! next wide load (2-5x slower than the general kernel); blocks of 4 or 8 lanes, or of
//! exactly one row of windows, were slower too. Per-window variants without vectors did not
//! pay: the argmax from a bit mask of the taps equal to the maximum took 296 / 120 us on the
//! two layers (general kernel 326 / 75), the running maximum with the gradient stored once at
//! the argmax 418 / 168 us.

use super::{Pool2dGeometry, RunningMax};
use crate::kernels::Store;
use crate::ops::activation::{Activation, Relu};
use crate::Scalar;

/// Windows per block (four 128-bit vectors of f32). Rows of windows are cut into blocks of at
/// most this many. The block's taps and gradients live on the stack: `2 x 16 x TAPS` values,
/// 512 bytes for 2x2 windows in f32, 2.3 KB for 3x3 in f64.
const LANES: usize = 16;

/// Whether the max-pooling backward of `G` runs here.
pub(super) const fn applies<G: Pool2dGeometry>() -> bool {
    disjoint_windows::<G>() && (G::KH * G::KW == 4 || G::KH * G::KW == 9)
}

/// Whether the windows of `G` are disjoint and inside the image: stride equal to the kernel,
/// no padding, no dilation, no partial `ceil_mode` window.
const fn disjoint_windows<G: Pool2dGeometry>() -> bool {
    G::SH == G::KH
        && G::SW == G::KW
        && !G::CEIL
        && G::PH == 0
        && G::PW == 0
        && G::DH == 1
        && G::DW == 1
}

/// Offset of tap `t` (row-major in the window) of window `ox` in the rows of its row of
/// windows.
#[inline(always)]
const fn tap_offset<G: Pool2dGeometry>(t: usize, ox: usize) -> usize {
    t / G::KW * G::W + ox * G::KW + t % G::KW
}

/// [`tap_offset`] of window `o` of a block of consecutive rows of windows when `SPAN` (window
/// `o` is window `o % OUT_W` of the block's row `o / OUT_W`), else of one row of windows.
#[inline(always)]
const fn block_tap_offset<G: Pool2dGeometry, const SPAN: bool>(t: usize, o: usize) -> usize {
    if SPAN {
        o / G::OUT_W * (G::KH * G::W) + tap_offset::<G>(t, o % G::OUT_W)
    } else {
        tap_offset::<G>(t, o)
    }
}

/// Whether a block takes two rows of windows: when a row of windows holds at most half of
/// [`LANES`] and the rows of windows follow each other without a gap (no rows below the last
/// row of windows). W4's second pooling layer has rows of 7 windows: one row per block left 9
/// of 16 lanes idle.
pub(super) const fn two_rows_per_block<G: Pool2dGeometry>() -> bool {
    G::OUT_H * G::KH == G::H && 2 * G::OUT_W <= LANES
}

/// Taps `taps[t][l]` (tap `t` of window `ox0 + l`, 0 for `l >= len`) of the windows
/// `ox0..ox0 + len` of `rows`, the `KH` input rows of one row of windows (of two when `SPAN`,
/// see [`block_tap_offset`]), and their maxima, or
/// `None` for the maxima when a tap is NaN or infinite (then the first-equal rule does not
/// apply).
#[inline(always)]
fn load<T: Scalar, G: Pool2dGeometry, const TAPS: usize, const SPAN: bool>(
    rows: &[T],
    ox0: usize,
    len: usize,
) -> ([[T; LANES]; TAPS], Option<[T; LANES]>) {
    let mut taps = [[T::zero(); LANES]; TAPS];
    for (t, lanes) in taps.iter_mut().enumerate() {
        for (l, v) in lanes[..len].iter_mut().enumerate() {
            *v = rows[block_tap_offset::<G, SPAN>(t, ox0 + l)];
        }
    }
    let mut max = [T::neg_infinity(); LANES];
    // NaN exactly where a tap is NaN or infinite (0 times either is NaN).
    let mut check = [T::zero(); LANES];
    for lanes in &taps {
        for ((m, c), &v) in max.iter_mut().zip(&mut check).zip(lanes) {
            *c += v * T::zero();
            *m = if v > *m { v } else { *m };
        }
    }
    let finite = check.iter().all(|&c| c == T::zero());
    (taps, finite.then_some(max))
}

/// PyTorch's running maximum over the taps of window `ox` of `rows` (`arg` is the tap index).
#[inline(always)]
fn running_max<T: Scalar, G: Pool2dGeometry, const SPAN: bool>(
    rows: &[T],
    ox: usize,
) -> RunningMax<T> {
    let mut max = RunningMax::new(0);
    for t in 0..G::KH * G::KW {
        max.push(rows[block_tap_offset::<G, SPAN>(t, ox)], t);
    }
    max
}

/// [`super::max_pool2d_backward`] over flat batches.
pub(super) fn max_pool2d_backward<T: Scalar, G: Pool2dGeometry>(
    x: &[T],
    dy: &[T],
    dx: &mut [T],
    store: Store,
) {
    // Each combination is its own loop nest (the store mode is not tested per element).
    match (G::KH * G::KW == 4, store) {
        (true, Store::Overwrite) => backward::<T, G, 4, false>(x, dy, dx),
        (true, Store::Accumulate) => backward::<T, G, 4, true>(x, dy, dx),
        (false, Store::Overwrite) => backward::<T, G, 9, false>(x, dy, dx),
        (false, Store::Accumulate) => backward::<T, G, 9, true>(x, dy, dx),
    }
}

fn backward<T: Scalar, G: Pool2dGeometry, const TAPS: usize, const ACCUMULATE: bool>(
    x: &[T],
    dy: &[T],
    dx: &mut [T],
) {
    if const { two_rows_per_block::<G>() } {
        // No rows below the last row of windows: the rows of windows of all channels and
        // samples follow each other, pairs of them run over the whole batch, then the last
        // row of windows if their number is odd.
        let pairs = dy.len() / (2 * G::OUT_W);
        let (x, x_last) = x.split_at(pairs * 2 * G::KH * G::W);
        let (dy, dy_last) = dy.split_at(pairs * 2 * G::OUT_W);
        let (dx, dx_last) = dx.split_at_mut(pairs * 2 * G::KH * G::W);
        blocks::<T, G, TAPS, ACCUMULATE, 2, true>(x, dy, dx);
        blocks::<T, G, TAPS, ACCUMULATE, 1, false>(x_last, dy_last, dx_last);
        return;
    }
    let (hw, ohw) = (G::H * G::W, G::OUT_H * G::OUT_W);
    let channels = x
        .chunks_exact(hw)
        .zip(dy.chunks_exact(ohw))
        .zip(dx.chunks_exact_mut(hw));
    for ((image, grad_out), grad_in) in channels {
        let image = &image[..G::OUT_H * G::KH * G::W];
        let (grad_in, below) = grad_in.split_at_mut(G::OUT_H * G::KH * G::W);
        blocks::<T, G, TAPS, ACCUMULATE, 1, false>(image, grad_out, grad_in);
        if !ACCUMULATE {
            // Rows below the last window.
            below.fill(T::zero());
        }
    }
}

/// The gradients of consecutive rows of windows `dy` (their input rows `x`, `dx`), `ROWS` rows
/// of windows per block (`SPAN` when more than 1).
#[inline(always)]
fn blocks<
    T: Scalar,
    G: Pool2dGeometry,
    const TAPS: usize,
    const ACCUMULATE: bool,
    const ROWS: usize,
    const SPAN: bool,
>(
    x: &[T],
    dy: &[T],
    dx: &mut [T],
) {
    let (w, band) = (G::W, ROWS * G::KH * G::W);
    let bands = x
        .chunks_exact(band)
        .zip(dy.chunks_exact(ROWS * G::OUT_W))
        .zip(dx.chunks_exact_mut(band));
    for ((rows, grads), grad_rows) in bands {
        for (ox0, grads) in (0..ROWS * G::OUT_W).step_by(LANES).zip(grads.chunks(LANES)) {
            let (taps, max) = load::<T, G, TAPS, SPAN>(rows, ox0, grads.len());
            let Some(max) = max else {
                running_max_gradients::<T, G, ACCUMULATE, SPAN>(rows, ox0, grads, grad_rows);
                continue;
            };
            // All taps first, then the stores: computed next to its strided stores, each
            // tap's selects were split into a branch per lane (mispredicted).
            let mut remaining = [T::zero(); LANES];
            remaining[..grads.len()].copy_from_slice(grads);
            let mut given = [[T::zero(); LANES]; TAPS];
            for (given, lanes) in given.iter_mut().zip(&taps) {
                let lanes = given.iter_mut().zip(&mut remaining).zip(lanes).zip(&max);
                for (((g, r), &v), &m) in lanes {
                    let hit = v == m;
                    *g = if hit { *r } else { T::zero() };
                    *r = if hit { T::zero() } else { *r };
                }
            }
            for (t, given) in given.iter().enumerate() {
                for (l, &g) in given[..grads.len()].iter().enumerate() {
                    let d = &mut grad_rows[block_tap_offset::<G, SPAN>(t, ox0 + l)];
                    *d = if ACCUMULATE { *d + g } else { g };
                }
            }
        }
        if !ACCUMULATE {
            // Columns right of the last window.
            for row in grad_rows.chunks_exact_mut(w) {
                row[G::OUT_W * G::KW..].fill(T::zero());
            }
        }
    }
}

/// The gradients of windows `ox0..` of `rows` that hold a NaN or an infinity, window by window
/// as PyTorch routes them. Out of line: rare, and apart from the fast path's registers.
#[inline(never)]
fn running_max_gradients<T: Scalar, G: Pool2dGeometry, const ACCUMULATE: bool, const SPAN: bool>(
    rows: &[T],
    ox0: usize,
    grads: &[T],
    grad_rows: &mut [T],
) {
    for (l, &g) in grads.iter().enumerate() {
        let arg = running_max::<T, G, SPAN>(rows, ox0 + l).arg;
        for t in 0..G::KH * G::KW {
            let d = &mut grad_rows[block_tap_offset::<G, SPAN>(t, ox0 + l)];
            let given = if t == arg { g } else { T::zero() };
            *d = if ACCUMULATE { *d + given } else { given };
        }
    }
}

/// Elements of the stack buffers of [`max_pool2d_forward`] (two of them): the horizontal
/// maxima of as many whole rows of windows as fit.
const CHUNK: usize = 512;

/// Whether the max-pooling forward pass of `G` runs on [`max_pool2d_forward`]: windows that
/// tile the whole image (no rows or columns left over), a row of windows' horizontal maxima
/// within [`CHUNK`].
pub(super) const fn forward_applies<G: Pool2dGeometry>() -> bool {
    disjoint_windows::<G>()
        && G::OUT_H * G::KH == G::H
        && G::OUT_W * G::KW == G::W
        && G::KH * G::OUT_W <= CHUNK
}

/// The maximum of `m` then `v` as PyTorch's running maximum values it: the first of equal
/// maxima (`v` wins only when greater), NaN (canonical) when either is NaN. Associative, so a
/// window's taps can be reduced row by row and the rows' maxima then in order: the result is
/// [`RunningMax::value`] over the taps in row-major order, bit for bit.
#[inline(always)]
fn pick<T: Scalar>(m: T, v: T) -> T {
    let r = if v > m { v } else { m };
    if m.is_nan() | v.is_nan() {
        T::nan()
    } else {
        r
    }
}

/// [`super::max_pool2d_forward`] over flat batches when the windows tile the image exactly.
/// The rows of windows of all channels and samples then follow each other, and a chunk of
/// them is reduced in two flat passes: the maximum of every `KW` consecutive inputs
/// (`h`, rows of `OUT_W`), then of `KH` rows of `h` a row apart (`v`, computed at every row
/// and kept at the first row of each row of windows). Both are loops over contiguous lanes,
/// which the compiler vectorizes (the first with a `KW`-strided load); per-window loops of
/// `OUT_W` iterations were vectorized across windows with gathers instead (W4's first layer
/// 96 -> 105-110 us with them). Same values as the general kernel, bit for bit (see [`pick`]).
#[inline(always)]
pub(super) fn max_pool2d_forward<T: Scalar, G: Pool2dGeometry>(x: &[T], y: &mut [T]) {
    if vector_2x2::<G>() && T::max_pool_2x2_forward_kernel(x, G::W, None, y) {
        return;
    }
    let (ow, band) = (G::OUT_W, G::KH * G::OUT_W);
    let per_chunk = CHUNK / band;
    let mut h = [T::zero(); CHUNK];
    let mut v = [T::zero(); CHUNK];
    let chunks = x
        .chunks(per_chunk * G::KH * G::W)
        .zip(y.chunks_mut(per_chunk * ow));
    for (x, y) in chunks {
        let n = y.len() / ow * band;
        let (h, v) = (&mut h[..n], &mut v[..n]);
        if G::KW == 2 {
            for (h, &[a, b]) in h.iter_mut().zip(x.as_chunks::<2>().0) {
                *h = pick(a, b);
            }
        } else {
            for (h, window) in h.iter_mut().zip(x.chunks_exact(G::KW)) {
                let mut m = window[0];
                for &t in &window[1..] {
                    m = pick(m, t);
                }
                *h = m;
            }
        }
        let last = n - (G::KH - 1) * ow;
        v[..last].copy_from_slice(&h[..last]);
        for i in 1..G::KH {
            for (v, &t) in v[..last].iter_mut().zip(&h[i * ow..]) {
                *v = pick(*v, t);
            }
        }
        if G::KH * G::KW == 1 {
            // A NaN input is the output as it is only here (`pick` makes it canonical).
            for v in v.iter_mut() {
                *v = if v.is_nan() { T::nan() } else { *v };
            }
        }
        for (out, v) in y.chunks_exact_mut(ow).zip(v.chunks(band)) {
            out.copy_from_slice(&v[..ow]);
        }
    }
}

/// [`max_pool2d_forward`] of the ReLU of `x` (`pool(relu(x))`): `relu <-` the ReLU's output
/// (as [`crate::ops::activation::activation_forward`] of [`Relu`]) and `y <-` its pooling, the
/// same values as the two passes. The vector kernel pools each block's ReLU in registers; else
/// chunks of whole rows of windows (at most [`CHUNK`] inputs each, or one row of windows) go
/// through the ReLU and are pooled while in L1.
#[inline(always)]
pub(super) fn max_pool2d_relu_forward<T: Scalar, G: Pool2dGeometry>(
    x: &[T],
    relu: &mut [T],
    y: &mut [T],
) {
    if vector_2x2::<G>() && T::max_pool_2x2_forward_kernel(x, G::W, Some(&mut *relu), y) {
        return;
    }
    let rows_of_windows = (CHUNK / (G::KH * G::W)).max(1);
    let chunks = x
        .chunks(rows_of_windows * G::KH * G::W)
        .zip(relu.chunks_mut(rows_of_windows * G::KH * G::W))
        .zip(y.chunks_mut(rows_of_windows * G::OUT_W));
    for ((x, relu), y) in chunks {
        for (r, &v) in relu.iter_mut().zip(x) {
            *r = Relu.forward(v);
        }
        max_pool2d_forward::<T, G>(relu, y);
    }
}

/// Elements of each of the four stack buffers of [`max_pool2d_backward_flat`].
const BACKWARD_CHUNK: usize = 256;

/// Whether the max-pooling backward of `G` runs on [`max_pool2d_backward_flat`]: windows that
/// tile the whole image (as [`forward_applies`]), a row of windows' horizontal maxima within
/// [`BACKWARD_CHUNK`].
pub(super) const fn flat_backward_applies<G: Pool2dGeometry>() -> bool {
    forward_applies::<G>() && G::KH * G::OUT_W <= BACKWARD_CHUNK
}

/// `h[k] <-` the maximum ([`pick`]) of the `KW` inputs `x[k KW..(k + 1) KW]`, for every `k` of
/// `h`.
#[inline(always)]
fn run_maxima<T: Scalar, G: Pool2dGeometry>(x: &[T], h: &mut [T]) {
    if G::KW == 2 {
        for (h, &[a, b]) in h.iter_mut().zip(x.as_chunks::<2>().0) {
            *h = pick(a, b);
        }
    } else {
        for (h, window) in h.iter_mut().zip(x.chunks_exact(G::KW)) {
            let mut m = window[0];
            for &t in &window[1..] {
                m = pick(m, t);
            }
            *h = m;
        }
    }
}

/// [`super::max_pool2d_backward`] over flat batches when the windows tile the image exactly,
/// in flat passes over chunks of rows of windows (which then follow each other across
/// channels and samples), as [`max_pool2d_forward`]: each run's maximum `h` (`KW` inputs of
/// one row of a window); each window's maximum, broadcast to its `KH` runs (`m`); the gradient
/// still to be routed when each run is reached (`r`: the window's `dy`, or 0 once an earlier run
/// holds the maximum); then every input gets `r` if it is the first of its run equal to the
/// maximum, else 0. That is the first maximum in row-major order, PyTorch's argmax, for every
/// input without NaN (infinities included); a chunk with a NaN among its inputs (its maxima are
/// then NaN) runs PyTorch's running maximum window by window instead. `dx` is written once per
/// element, never read with [`Store::Overwrite`].
#[inline(always)]
pub(super) fn max_pool2d_backward_flat<T: Scalar, G: Pool2dGeometry>(
    x: &[T],
    dy: &[T],
    dx: &mut [T],
    store: Store,
) {
    if vector_2x2::<G>() && T::max_pool_2x2_backward_kernel(x, dy, G::W, None, dx, store) {
        return;
    }
    match store {
        Store::Overwrite => backward_flat::<T, G, false>(x, dy, dx),
        Store::Accumulate => backward_flat::<T, G, true>(x, dy, dx),
    }
}

#[inline(always)]
fn backward_flat<T: Scalar, G: Pool2dGeometry, const ACCUMULATE: bool>(
    x: &[T],
    dy: &[T],
    dx: &mut [T],
) {
    let (inputs, outputs) = chunk_lens::<G>();
    let mut buffers = ChunkBuffers::new();
    let chunks = x
        .chunks(inputs)
        .zip(dy.chunks(outputs))
        .zip(dx.chunks_mut(inputs));
    for ((x, dy), dx) in chunks {
        chunk_backward::<T, G, ACCUMULATE>(x, dy, dx, &mut buffers);
    }
}

/// Whether the flat passes of `G` (forward and backward) first try the vector kernels of 2x2
/// windows ([`super::avx2`], through [`crate::scalar`]'s sealed hooks): 2x2 windows that tile
/// the image.
const fn vector_2x2<G: Pool2dGeometry>() -> bool {
    G::KH == 2 && G::KW == 2 && flat_backward_applies::<G>()
}

/// `(inputs, outputs)` of one chunk of the flat backward: as many whole rows of windows as
/// [`BACKWARD_CHUNK`] holds, with their input rows.
const fn chunk_lens<G: Pool2dGeometry>() -> (usize, usize) {
    let rows_of_windows = BACKWARD_CHUNK / (G::KH * G::OUT_W);
    (rows_of_windows * G::KH * G::W, rows_of_windows * G::OUT_W)
}

/// The stack buffers of [`chunk_backward`], `4 x BACKWARD_CHUNK` values.
struct ChunkBuffers<T> {
    h: [T; BACKWARD_CHUNK],
    m: [T; BACKWARD_CHUNK],
    r: [T; BACKWARD_CHUNK],
    r2: [T; BACKWARD_CHUNK],
}

impl<T: Scalar> ChunkBuffers<T> {
    #[inline(always)]
    fn new() -> Self {
        let zero = [T::zero(); BACKWARD_CHUNK];
        ChunkBuffers {
            h: zero,
            m: zero,
            r: zero,
            r2: zero,
        }
    }
}

/// [`max_pool2d_backward_flat`] followed, chunk by chunk while the chunk is in L1, by the
/// backward pass of the ReLU whose output `y` the pooling read: `dy_relu` (overwritten) gets the
/// pooling's gradient and `dx` (stored with `store`) `dy_relu * (0 if y <= 0 else 1)`, the
/// values [`crate::ops::activation::activation_backward`] computes for
/// [`crate::ops::activation::Relu`] from the same `y` and `dy_relu` (bit for bit: the same
/// product of the same two values), without its pass over the three whole arrays.
#[inline(always)]
pub(super) fn max_pool2d_relu_backward_flat<T: Scalar, G: Pool2dGeometry>(
    y: &[T],
    dy: &[T],
    dy_relu: &mut [T],
    dx: &mut [T],
    store: Store,
) {
    if vector_2x2::<G>()
        && T::max_pool_2x2_backward_kernel(y, dy, G::W, Some(&mut *dy_relu), dx, store)
    {
        return;
    }
    match store {
        Store::Overwrite => relu_backward_flat::<T, G, false>(y, dy, dy_relu, dx),
        Store::Accumulate => relu_backward_flat::<T, G, true>(y, dy, dy_relu, dx),
    }
}

#[inline(always)]
fn relu_backward_flat<T: Scalar, G: Pool2dGeometry, const ACCUMULATE: bool>(
    y: &[T],
    dy: &[T],
    dy_relu: &mut [T],
    dx: &mut [T],
) {
    let (inputs, outputs) = chunk_lens::<G>();
    let mut buffers = ChunkBuffers::new();
    let chunks = y
        .chunks(inputs)
        .zip(dy.chunks(outputs))
        .zip(dy_relu.chunks_mut(inputs))
        .zip(dx.chunks_mut(inputs));
    for (((y, dy), dy_relu), dx) in chunks {
        chunk_backward::<T, G, false>(y, dy, dy_relu, &mut buffers);
        // As `activation_backward` computes it: the derivative from the output alone.
        let relu = dy_relu
            .iter()
            .zip(y)
            .map(|(&g, &v)| g * Relu.derivative(v, v));
        for (d, value) in dx.iter_mut().zip(relu) {
            *d = if ACCUMULATE { *d + value } else { value };
        }
    }
}

/// One chunk of [`backward_flat`]: whole rows of windows (`dy.len() / OUT_W` of them), `x` and
/// `dx` their input rows.
#[inline(always)]
fn chunk_backward<T: Scalar, G: Pool2dGeometry, const ACCUMULATE: bool>(
    x: &[T],
    dy: &[T],
    dx: &mut [T],
    buffers: &mut ChunkBuffers<T>,
) {
    let (ow, band, rows_len) = (G::OUT_W, G::KH * G::OUT_W, G::KH * G::W);
    let n = dy.len() / ow * band;
    let (h, m) = (&mut buffers.h[..n], &mut buffers.m[..n]);
    let (mut r, mut r2) = (&mut buffers.r[..n], &mut buffers.r2[..n]);
    run_maxima::<T, G>(x, h);
    // Window maxima at the first run of each window (later positions mix rows of windows).
    let last = n - (G::KH - 1) * ow;
    m[..last].copy_from_slice(&h[..last]);
    for i in 1..G::KH {
        for (v, &t) in m[..last].iter_mut().zip(&h[i * ow..]) {
            *v = pick(*v, t);
        }
    }
    if m[..last].iter().fold(false, |nan, v| nan | v.is_nan()) {
        let bands = x.chunks_exact(rows_len).zip(dy.chunks_exact(ow));
        for ((rows, grads), grad_rows) in bands.zip(dx.chunks_exact_mut(rows_len)) {
            running_max_gradients::<T, G, ACCUMULATE, false>(rows, 0, grads, grad_rows);
        }
        return;
    }
    // Broadcast each window's maximum and gradient to its runs.
    for ((m, r), grads) in m
        .chunks_exact_mut(band)
        .zip(r.chunks_exact_mut(band))
        .zip(dy.chunks_exact(ow))
    {
        let (first, rest) = m.split_at_mut(ow);
        for row in rest.chunks_exact_mut(ow) {
            row.copy_from_slice(first);
        }
        for row in r.chunks_exact_mut(ow) {
            row.copy_from_slice(grads);
        }
    }
    // Run i keeps what run i - 1 kept unless run i - 1 holds the maximum; a window's first
    // run keeps its gradient (restored after each pass).
    for _ in 1..G::KH {
        let previous = h[..n - ow].iter().zip(&m[..n - ow]).zip(&r[..n - ow]);
        for (o, ((&t, &v), &g)) in r2[ow..].iter_mut().zip(previous) {
            *o = if t == v { T::zero() } else { g };
        }
        for (row, grads) in r2.chunks_exact_mut(band).zip(dy.chunks_exact(ow)) {
            row[..ow].copy_from_slice(grads);
        }
        core::mem::swap(&mut r, &mut r2);
    }
    let store = |d: &mut T, g: T| *d = if ACCUMULATE { *d + g } else { g };
    if G::KW == 2 {
        let runs = x.as_chunks::<2>().0.iter().zip(&*m).zip(&*r);
        for (d, ((&[a, b], &v), &g)) in dx.as_chunks_mut::<2>().0.iter_mut().zip(runs) {
            let first = a == v;
            let second = (b == v) & !first;
            store(&mut d[0], if first { g } else { T::zero() });
            store(&mut d[1], if second { g } else { T::zero() });
        }
    } else {
        let runs = x.chunks_exact(G::KW).zip(&*m).zip(&*r);
        for (d, ((run, &v), &g)) in dx.chunks_exact_mut(G::KW).zip(runs) {
            let mut g = g;
            for (d, &t) in d.iter_mut().zip(run) {
                let hit = t == v;
                store(d, if hit { g } else { T::zero() });
                g = if hit { T::zero() } else { g };
            }
        }
    }
}
