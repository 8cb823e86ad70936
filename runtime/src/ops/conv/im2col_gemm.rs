//! The GEMM path of the convolution kernels, one sample at a time (the weight gradient: several,
//! given the workspace): per group, the column matrix is gathered into the workspace
//! ([`columns`]) and one GEMM does the multiply-adds (formulas in the parent module's docs).
//!
//! The workspace is `[columns: COLS_LEN | padded image]` (see [`Conv2dGeometry::WORKSPACE_LEN`]).
//! A 1x1 convolution with stride 1 and no padding skips im2col: its column matrix is the input.
//!
//! # Why one GEMM per sample
//! Batching the samples (the columns of `S` samples side by side, `[K][S OH OW]`, so that one
//! GEMM of `N = S OH OW` replaces `S` small ones; for the weight gradient one GEMM over all
//! samples) was measured on W4's second layer (16 x 72 weights, 196 pixels, f32, batch 32,
//! matrixmultiply, medians in us, per-sample vs S = 4 / 8 / 16 / 32): forward 275 vs 306 / 299 /
//! 315 / 384, weight gradient 324 vs 343 / 344 / 364 / 445, input gradient 250 vs 255 / 251 /
//! 344 / 350; the first layer (8 x 9, 784 pixels, portable GEMM) lost more (forward 166 vs 281
//! / 284, weight gradient 97 vs 152 / 153). The products do not get faster per element (the
//! packing is proportional to the columns either way), the batched columns grow to `S` times
//! 56 KB (1.8 MB for S = 32) where one sample's stay in cache between im2col and the GEMM, and
//! the outputs must be scattered back to (or the upstream gradients gathered from) the
//! per-sample `[C, H, W]` layout. So each sample keeps its own column matrix and the workspace
//! stays one sample's worth, for the forward pass and the input gradient.
//!
//! The weight gradient is the exception since the crate has its own GEMM, whose `A * B^T` is
//! dot products of contiguous rows: each product reduces every accumulator's lanes, adds the
//! leftover `k mod 8` products and stores its tile into `dW` with `beta = 1`, once per sample
//! (W4's second layer: 1152 such tiles per sample for 14 k multiply-adds per output).
//! [`backward_weight_batched`] gathers the columns and upstream gradients of `S` samples side
//! by side in a larger, training-only workspace and runs one product with `k = S OH OW`. W4's
//! second layer (AMD Zen 3, f32, batch 32, `cargo bench --bench workloads -- W4parts`, two
//! alternating runs each): 342-345 us per sample against 252-269 us in batches of 7
//! (`CONV2D_WEIGHT_BATCH_BUDGET` elements); batches of 3, 14 and 32 were within 5 % of 7.
//!
//! Where the taps are runs of shifted copies of the input channels and the product stays on
//! the dot-product kernels ([`weight_from_copies`]), [`backward_weight_from_copies`] skips the
//! gathering: the product's `k` is split into segments, one per sample, whose rows are read
//! where they lie (`dY` in place, the columns from the copies, `KH` times smaller than the
//! column matrix; `gemm_nt_segments`). W4's second layer, same machine and bench, three
//! alternating rounds: 252-264 us gathered (65 us of it the gathering, measured by skipping
//! it) against 212-218 us on segments; the W4 step 1155-1163 -> 1118 us.

use super::{columns, shifted, Conv2dGeometry};
use crate::kernels::gemm::{
    auto_pack_len, gemm_nt_packs, gemm_nt_segments, gemm_packed, gemm_packed_rows, gemm_packs_rows,
    RowOffsets, SegmentedRows, Transpose,
};
use crate::kernels::Store;
use crate::Scalar;

/// Whether the column matrix equals the input (1x1 kernel, stride 1, no padding).
const fn is_pointwise<G: Conv2dGeometry>() -> bool {
    G::KH == 1 && G::KW == 1 && G::SH == 1 && G::SW == 1 && G::PH == 0 && G::PW == 0
}

/// Elements of packing scratch the GEMMs of `G` use (0 when every one of them runs unpacked):
/// the forward `W_g cols_g`, the input gradient `W_gᵀ dY_g` and the weight gradient
/// `dY_g cols_gᵀ`, each only when its pass runs on the GEMM.
pub(super) const fn pack_len<T: Scalar, G: Conv2dGeometry>(forward: bool, input: bool) -> usize {
    let ck = G::GROUP_IN * G::KH * G::KW;
    let ohw = G::OUT_H * G::OUT_W;
    let (no, yes) = (Transpose::No, Transpose::Yes);
    let f = if forward {
        auto_pack_len::<T>(no, no, G::GROUP_OUT, ohw, ck)
    } else {
        0
    };
    let i = if input {
        auto_pack_len::<T>(yes, no, ck, ohw, G::GROUP_OUT)
    } else {
        0
    };
    // The weight gradient's product over a batch of samples (`backward_weight_batched`).
    let w = auto_pack_len::<T>(no, yes, G::GROUP_OUT, ck, weight_batch_samples::<G>() * ohw);
    let most = if f > i { f } else { i };
    if w > most {
        w
    } else {
        most
    }
}

/// `C <- op(A) op(B) + beta C` with lengths the geometry guarantees, packing into `pack` when
/// it is long enough.
#[inline]
fn product<T: Scalar>(
    (transa, a, lda): (Transpose, &[T], usize),
    (transb, b, ldb): (Transpose, &[T], usize),
    (m, n, k): (usize, usize, usize),
    beta: T,
    (c, ldc): (&mut [T], usize),
    pack: &mut [T],
) {
    let one = T::one();
    if gemm_packed(
        transa, transb, m, n, k, one, a, lda, b, ldb, beta, c, ldc, pack,
    )
    .is_err()
    {
        unreachable!("conv2d: GEMM operand lengths follow from the compile-time geometry");
    }
}

/// The column matrix of one group: the input itself for a pointwise convolution, else gathered
/// into the workspace.
#[inline]
fn columns<'a, T: Scalar, G: Conv2dGeometry>(x_group: &'a [T], workspace: &'a mut [T]) -> &'a [T] {
    if is_pointwise::<G>() {
        return x_group;
    }
    let (cols, padded) = workspace.split_at_mut(G::COLS_LEN);
    columns::gather::<T, G>(x_group, padded, cols);
    cols
}

/// Whether the forward pass of `G` can pack its column matrix straight from shifted copies of
/// the input channels (`shifted::tap_rows`) when its product packs: every tap a contiguous run
/// of a copy, the copies of one group within the workspace.
pub(super) const fn rows_from_copies<G: Conv2dGeometry>() -> bool {
    shifted::copies_apply::<G>()
        && !is_pointwise::<G>()
        && G::GROUP_IN * shifted::workspace_len::<G>() <= G::WORKSPACE_LEN
}

/// `y <- conv2d(x, weight) + beta y` for one sample: `Y_g = W_g cols_g (+ beta Y_g)`.
///
/// Where the product runs on the packed kernels and the taps are runs of shifted copies of the
/// image ([`rows_from_copies`]), the packing reads the column matrix's rows from those copies
/// (`KW` per input channel, `KH` times fewer elements than the column matrix) instead of from
/// the matrix gathered first: the same panels, so the same result bit for bit, without writing
/// and reading the column matrix once more (W4's second layer on an AVX2 CPU: see
/// `BENCHMARKS-RESULTS.md`).
pub(super) fn forward<T: Scalar, G: Conv2dGeometry>(
    x: &[T],
    weight: &[T],
    beta: T,
    y: &mut [T],
    workspace: &mut [T],
    pack: &mut [T],
) {
    let ck = G::GROUP_IN * G::KH * G::KW;
    let ohw = G::OUT_H * G::OUT_W;
    let groups = x
        .chunks_exact(G::GROUP_IN * G::H * G::W)
        .zip(weight.chunks_exact(G::GROUP_OUT * ck))
        .zip(y.chunks_exact_mut(G::GROUP_OUT * ohw));
    let from_copies = const { rows_from_copies::<G>() }
        && gemm_packs_rows::<T>((G::GROUP_OUT, ohw, ck), pack.len());
    for ((x_group, w_group), y_group) in groups {
        if from_copies {
            let copies_len = shifted::workspace_len::<G>();
            let copies = &mut workspace[..G::GROUP_IN * copies_len];
            let channels = x_group.chunks_exact(G::H * G::W);
            for (image, copies) in channels.zip(copies.chunks_exact_mut(copies_len)) {
                shifted::shifted_copies::<T, G>(image, copies);
            }
            let ran = gemm_packed_rows(
                (G::GROUP_OUT, ohw, ck),
                (w_group, ck),
                (&*copies, shifted::tap_rows::<G>()),
                beta,
                (&mut *y_group, ohw),
                pack,
            );
            if ran {
                continue;
            }
        }
        let cols = columns::<T, G>(x_group, workspace);
        product(
            (Transpose::No, w_group, ck),
            (Transpose::No, cols, ohw),
            (G::GROUP_OUT, ohw, ck),
            beta,
            (y_group, ohw),
            pack,
        );
    }
}

/// `dx (store) col2im(W_gᵀ dY_g)` per group, for one sample.
pub(super) fn backward_input<T: Scalar, G: Conv2dGeometry>(
    dy: &[T],
    weight: &[T],
    dx: &mut [T],
    workspace: &mut [T],
    store: Store,
    pack: &mut [T],
) {
    let ck = G::GROUP_IN * G::KH * G::KW;
    let ohw = G::OUT_H * G::OUT_W;
    let (cols, padded) = workspace.split_at_mut(G::COLS_LEN);
    let groups = dy
        .chunks_exact(G::GROUP_OUT * ohw)
        .zip(weight.chunks_exact(G::GROUP_OUT * ck))
        .zip(dx.chunks_exact_mut(G::GROUP_IN * G::H * G::W));
    for ((dy_group, w_group), dx_group) in groups {
        let w_t = (Transpose::Yes, w_group, ck);
        let dy_group = (Transpose::No, dy_group, ohw);
        let dims = (ck, ohw, G::GROUP_OUT);
        if is_pointwise::<G>() {
            // The columns are the input, so the GEMM writes the gradient directly.
            product(w_t, dy_group, dims, store.beta(), (dx_group, ohw), pack);
            continue;
        }
        product(w_t, dy_group, dims, T::zero(), (cols, ohw), pack);
        columns::scatter::<T, G>(cols, padded, dx_group, store);
    }
}

/// `dweight <- dY_g cols_gᵀ + beta dweight` per group, for one sample (columns recomputed).
pub(super) fn backward_weight<T: Scalar, G: Conv2dGeometry>(
    x: &[T],
    dy: &[T],
    beta: T,
    dweight: &mut [T],
    workspace: &mut [T],
    pack: &mut [T],
) {
    let ck = G::GROUP_IN * G::KH * G::KW;
    let ohw = G::OUT_H * G::OUT_W;
    let groups = x
        .chunks_exact(G::GROUP_IN * G::H * G::W)
        .zip(dy.chunks_exact(G::GROUP_OUT * ohw))
        .zip(dweight.chunks_exact_mut(G::GROUP_OUT * ck));
    for ((x_group, dy_group), dw_group) in groups {
        let cols = columns::<T, G>(x_group, workspace);
        product(
            (Transpose::No, dy_group, ohw),
            (Transpose::Yes, cols, ohw),
            (G::GROUP_OUT, ck, ohw),
            beta,
            (dw_group, ck),
            pack,
        );
    }
}

/// Elements per sample of [`backward_weight_batched`]'s workspace: the sample's column matrix
/// and its upstream gradient, per group.
pub(super) const fn weight_batch_per_sample<G: Conv2dGeometry>() -> usize {
    G::GROUP_IN * G::KH * G::KW * G::OUT_H * G::OUT_W + G::GROUP_OUT * G::OUT_H * G::OUT_W
}

/// Whether [`backward_weight_batched`] serves `G`: stride 1 (the columns are gathered row by
/// row, `columns::gather_rows_strided`) and not pointwise (whose columns are the input itself).
pub(super) const fn weight_batches<G: Conv2dGeometry>() -> bool {
    G::SH == 1 && G::SW == 1 && !is_pointwise::<G>()
}

/// Elements of workspace at which the weight gradient batches samples: [`WEIGHT_BATCH_MAX`]
/// samples' worth (of shifted copies where [`weight_from_copies`], else of columns and
/// upstream gradients), or fewer within [`WEIGHT_BATCH_BUDGET`] elements, when that holds at
/// least two samples; never less than `WORKSPACE_LEN`.
pub(super) const fn weight_workspace_len<G: Conv2dGeometry>() -> usize {
    let (per, samples) = if weight_from_copies::<G>() {
        (copies_per_sample::<G>(), copy_batch_samples::<G>())
    } else {
        (weight_batch_per_sample::<G>(), weight_batch_samples::<G>())
    };
    if samples > 1 && samples * per > G::WORKSPACE_LEN {
        samples * per
    } else {
        G::WORKSPACE_LEN
    }
}

/// Workspace elements of one sample's shifted copies in [`backward_weight_from_copies`]: `KW`
/// per input channel of a group.
pub(super) const fn copies_per_sample<G: Conv2dGeometry>() -> usize {
    G::GROUP_IN * shifted::workspace_len::<G>()
}

/// Samples per product of [`backward_weight_from_copies`] in a workspace of
/// [`weight_workspace_len`]: [`COPY_BATCH_MAX`], or fewer within [`WEIGHT_BATCH_BUDGET`].
const fn copy_batch_samples<G: Conv2dGeometry>() -> usize {
    let fit = WEIGHT_BATCH_BUDGET / copies_per_sample::<G>();
    if fit < COPY_BATCH_MAX {
        fit
    } else {
        COPY_BATCH_MAX
    }
}

/// Samples whose shifted copies [`backward_weight_from_copies`] makes per product at most: the
/// product walks over them in groups that fit in L1 anyway, and more copies only take more of
/// L2. W4's second layer (Zen 3, `W4parts`, two alternating rounds): 212-213 us for 4 samples,
/// 217-219 us for 8, 219-221 us for 16.
const COPY_BATCH_MAX: usize = 4;

/// Output pixels below which [`weight_from_copies`] leaves the weight gradient on gathered
/// columns: a sample's dot products would not fill one vector of 8 lanes.
const MIN_SEGMENT: usize = 8;

/// Whether the weight gradient of `G` runs on shifted copies of the input channels
/// ([`backward_weight_from_copies`]): every tap a run of a copy (stride 1, the output as large
/// as the image), not pointwise, output images of at least [`MIN_SEGMENT`] pixels (a chunk of
/// lanes per sample, at least; the dot products start anew at each sample), and a product
/// that the GEMM would run on its dot-product kernels anyway (it does not pack `A * B^T` of
/// these dims on any CPU, for one sample or more: a longer `k` never packs where a shorter
/// does not).
pub(super) const fn weight_from_copies<G: Conv2dGeometry>() -> bool {
    let ck = G::GROUP_IN * G::KH * G::KW;
    let ohw = G::OUT_H * G::OUT_W;
    shifted::copies_apply::<G>()
        && !is_pointwise::<G>()
        && ohw >= MIN_SEGMENT
        && !gemm_nt_packs(G::GROUP_OUT, ck, ohw)
}

/// Samples per weight-gradient product given [`weight_workspace_len`] (1: no batching).
const fn weight_batch_samples<G: Conv2dGeometry>() -> usize {
    let per = weight_batch_per_sample::<G>();
    let fit = WEIGHT_BATCH_BUDGET / per;
    let samples = if fit < WEIGHT_BATCH_MAX {
        fit
    } else {
        WEIGHT_BATCH_MAX
    };
    if weight_batches::<G>() && samples >= 2 && samples * per > G::WORKSPACE_LEN {
        samples
    } else {
        1
    }
}

/// Elements (512 KB of `f32`) a training tape gives the weight gradient's batched columns at
/// most.
pub(super) const WEIGHT_BATCH_BUDGET: usize = 1 << 17;

/// Samples per batched weight-gradient product at most: past a few samples the product's fixed
/// costs are spread thin (W4's second layer: 3 samples within 3 % of 7), and a small layer's
/// buffer stays the size of a few samples' columns.
pub(super) const WEIGHT_BATCH_MAX: usize = 8;

/// `dweight (beta) sum_b dY_g[b] cols_g(x[b])^T` over the samples of `x` and `dy`, `S` samples
/// per product: the columns of `S` samples side by side (`[K][S OH OW]`) and their upstream
/// gradients likewise (`[C_OUT / G][S OH OW]`), so that one GEMM with `k = S OH OW` replaces
/// `S` with `k = OH OW`, each of which reduced its lanes, added its leftover products and
/// stored its tile. `S` is as many samples as `workspace` holds
/// ([`weight_batch_per_sample`] each; at least 2, else the caller runs [`backward_weight`]).
pub(super) fn backward_weight_batched<T: Scalar, G: Conv2dGeometry>(
    x: &[T],
    dy: &[T],
    beta: T,
    dweight: &mut [T],
    workspace: &mut [T],
    pack: &mut [T],
) {
    let ck = G::GROUP_IN * G::KH * G::KW;
    let ohw = G::OUT_H * G::OUT_W;
    let most = workspace.len() / weight_batch_per_sample::<G>();
    let in_group = G::GROUP_IN * G::H * G::W;
    let out_group = G::GROUP_OUT * ohw;
    let samples = x.len() / G::IN_LEN;
    let mut first = 0;
    let mut beta = beta;
    while first < samples {
        let count = most.min(samples - first);
        let ld = count * ohw;
        let (cols, dys) = workspace.split_at_mut(ck * ld);
        let dys = &mut dys[..G::GROUP_OUT * ld];
        let groups = dweight.chunks_exact_mut(G::GROUP_OUT * ck).enumerate();
        for (g, dw_group) in groups {
            for s in 0..count {
                let b = first + s;
                let x_group = &x[b * G::IN_LEN + g * in_group..][..in_group];
                columns::gather_rows_strided::<T, G>(x_group, &mut cols[s * ohw..], ld);
                let dy_group = &dy[b * G::OUT_LEN + g * out_group..][..out_group];
                for (o, row) in dy_group.chunks_exact(ohw).enumerate() {
                    dys[o * ld + s * ohw..][..ohw].copy_from_slice(row);
                }
            }
            product(
                (Transpose::No, &*dys, ld),
                (Transpose::Yes, &cols[..ck * ld], ld),
                (G::GROUP_OUT, ck, ld),
                beta,
                (dw_group, ck),
                pack,
            );
        }
        first += count;
        beta = T::one();
    }
}

/// `dweight (store) sum_b dY_g[b] cols_g(x[b])^T` and `dbias (store) sum_{b, p} dy` (`dbias`
/// empty without a bias) over the samples of `x` and `dy` (none: nothing written, the caller
/// zeroes an overwritten gradient), reading each row of the column
/// matrix from shifted copies of the input channels (`shifted`) instead of gathering it: per
/// batch of samples (as many as `workspace` holds, [`copies_per_sample`] each, at least one, at
/// most [`COPY_BATCH_MAX`]), the copies of every sample, then one product whose segments along
/// `k` are the samples (`gemm_nt_segments`): `dY` read in place, each `B` row a run of a copy.
/// The copies are `KH` times smaller than the column matrix and `dY` is not copied at all. The
/// bias gradient is summed batch by batch after the batch's products, whose `dY` is then in
/// cache (summed over the whole batch afterwards, as the other paths do, `dY` came from further
/// away: W4's second layer, 1.0-2.1 % of the step in profiles).
pub(super) fn backward_weight_from_copies<T: Scalar, G: Conv2dGeometry>(
    x: &[T],
    dy: &[T],
    dweight: &mut [T],
    dbias: &mut [T],
    workspace: &mut [T],
    store: Store,
) {
    let ck = G::GROUP_IN * G::KH * G::KW;
    let ohw = G::OUT_H * G::OUT_W;
    let per = copies_per_sample::<G>();
    let copies_len = shifted::workspace_len::<G>();
    let most = (workspace.len() / per).min(COPY_BATCH_MAX);
    let in_group = G::GROUP_IN * G::H * G::W;
    let out_group = G::GROUP_OUT * ohw;
    let samples = x.len() / G::IN_LEN;
    // Row `o` of a sample's `dY_g`: `ohw` apart.
    let dy_rows = RowOffsets {
        radices: [1, 1],
        strides: [ohw, 0, 0],
        base: 0,
    };
    let mut first = 0;
    let mut beta = store.beta();
    while first < samples {
        let count = most.min(samples - first);
        let batch = &dy[first * G::OUT_LEN..(first + count) * G::OUT_LEN];
        let groups = dweight.chunks_exact_mut(G::GROUP_OUT * ck).enumerate();
        for (g, dw_group) in groups {
            let copies = &mut workspace[..count * per];
            for (s, copies) in copies.chunks_exact_mut(per).enumerate() {
                let x_group = &x[(first + s) * G::IN_LEN + g * in_group..][..in_group];
                let channels = x_group.chunks_exact(G::H * G::W);
                for (image, copies) in channels.zip(copies.chunks_exact_mut(copies_len)) {
                    shifted::shifted_copies::<T, G>(image, copies);
                }
            }
            let a = SegmentedRows {
                data: &dy[first * G::OUT_LEN + g * out_group..],
                rows: dy_rows,
                segment: G::OUT_LEN,
            };
            let b = SegmentedRows {
                data: &*copies,
                rows: shifted::tap_rows::<G>(),
                segment: per,
            };
            let dims = (G::GROUP_OUT, ck, ohw, count);
            if !gemm_nt_segments(dims, a, b, beta, (dw_group, ck)) {
                unreachable!("conv2d: segment lengths follow from the compile-time geometry");
            }
        }
        let store = if first == 0 { store } else { Store::Accumulate };
        super::bias_gradient::<T, G>(batch, dbias, store);
        first += count;
        beta = T::one();
    }
}
