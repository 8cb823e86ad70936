//! The heap-free GEMM: register-blocked loop nests that the compiler vectorizes.
//!
//! No packing into heap buffers, so each transpose case gets the loop order that keeps its
//! innermost loop on contiguous memory:
//! - `A * B` and `A^T * B`: a tile of `C` is a sum of rank-1 updates, `tile[r][..] += x(r, p) *
//!   B[p][..]`, with rows of `B` contiguous and `x(r, p)` a broadcast scalar ([`broadcast_gemm`]).
//! - `A^T * B^T`: the same kernel computes `C^T = B * A` and stores the tile transposed.
//! - `A * B^T`: dot products of contiguous rows, or, when `k` is short, the rank-1 kernel on
//!   panels of `B^T` transposed into a small stack buffer ([`nt_gemm`]).
//!
//! Each keeps an `R x W` tile of `C` in registers: fixed-size arrays that LLVM promotes to
//! registers and vectorizes once the constant-bounded loops are unrolled. Floating-point
//! addition is not associative and the compiler may not reorder it, so a dot product carries a
//! vector's worth of independent partial sums that are added up at the end. The tile loops live
//! in `leaf`, compiled once per instruction-set level; the drivers here pick tile widths to
//! match (`V` elements = two vector registers).
//!
//! Preconditions (checked by the caller, [`super::gemm_with_backend`]): `m, n, k > 0`, every
//! slice holds its matrix, `alpha != 0`. Index arithmetic is safe Rust, so a violated
//! precondition panics rather than misbehaving.

use super::leaf::{Baseline, Leaf, Level, SegmentRows};
use super::{RowOffsets, Transpose};
use crate::Scalar;

/// `k`-block of the rank-1 kernel: a `KC x V` panel of `B` (8 KB for 8 f32 columns, 32 KB for
/// 32) stays in L1 while the tiles of a block of rows of `C` walk over it.
const KC: usize = 256;

/// Rows of `C` per rank-1 tile: each loaded row segment of `B` feeds 4 rows.
const MR: usize = 4;

/// `C <- alpha * op(A) * op(B) + beta * C` (see the module docs for the preconditions), on the
/// widest leaves this CPU supports up to `max_level` (below [`Level::Avx512`] only in tests).
#[allow(clippy::too_many_arguments)]
#[inline]
pub(super) fn gemm<T: Scalar>(
    max_level: Level,
    transa: Transpose,
    transb: Transpose,
    m: usize,
    n: usize,
    k: usize,
    alpha: T,
    a: &[T],
    lda: usize,
    b: &[T],
    ldb: usize,
    beta: T,
    c: &mut [T],
    ldc: usize,
) {
    let out = Out {
        alpha,
        beta,
        ldc,
        k,
    };
    let args = (transa, transb, m, n, a, lda, b, ldb);
    // Tile shapes keep 8 vector registers of accumulators busy (of 16, or 32 with AVX-512):
    // enough independent multiply-adds to hide their latency. See `dispatch`.
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if let Some(leaf) = super::leaf::Avx512::detect().filter(|_| max_level >= Level::Avx512) {
        // 512-bit registers: 16 f32 or 8 f64.
        if T::BYTES == 4 {
            dispatch::<T, _, 32, 16, 8, 128, 8, 4, 3>(leaf, out, args, c);
        } else {
            dispatch::<T, _, 16, 8, 4, 64, 4, 4, 3>(leaf, out, args, c);
        }
        return;
    }
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if let Some(leaf) = super::leaf::Avx2Fma::detect().filter(|_| max_level >= Level::Avx2Fma) {
        // 256-bit registers: 8 f32 or 4 f64.
        if T::BYTES == 4 {
            dispatch::<T, _, 16, 8, 4, 64, 8, 4, 3>(leaf, out, args, c);
        } else {
            dispatch::<T, _, 8, 4, 2, 32, 4, 4, 3>(leaf, out, args, c);
        }
        return;
    }
    #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
    let _ = max_level;
    // 128-bit registers (SSE2, NEON), or narrower: 4 f32 or 2 f64.
    if T::BYTES == 4 {
        dispatch::<T, _, 8, 4, 2, 32, 8, 2, 0>(Baseline, out, args, c);
    } else {
        dispatch::<T, _, 4, 2, 1, 16, 4, 2, 0>(Baseline, out, args, c);
    }
}

/// The operands of [`gemm`] other than `C`: `(transa, transb, m, n, a, lda, b, ldb)`.
type Operands<'a, T> = (
    Transpose,
    Transpose,
    usize,
    usize,
    &'a [T],
    usize,
    &'a [T],
    usize,
);

/// Routes each transpose case to its loop nest, with tile shapes:
/// - rank-1 tiles `MR x V` (two vector registers per row), leftover columns in `VH`- then
///   `VQ`-wide tiles, and `1 x VW` for leftover rows (a single row needs 4V columns to keep 8
///   accumulators busy);
/// - dot-product tiles `1 x DOT_W` with `V` lanes each for single rows (`L2` when `k < V`),
///   `2 x W2` with `L2` lanes for pairs of rows (each loaded chunk of `A` feeds `W2`
///   accumulators), and first `4 x W4` for blocks of four rows where the level has registers
///   for its `4 W4` accumulators (`W4 = 0`: none).
#[inline]
fn dispatch<
    T: Scalar,
    K: Leaf,
    const V: usize,
    const VH: usize,
    const VQ: usize,
    const VW: usize,
    const L2: usize,
    const W2: usize,
    const W4: usize,
>(
    leaf: K,
    out: Out<T>,
    (transa, transb, m, n, a, lda, b, ldb): Operands<'_, T>,
    c: &mut [T],
) {
    match (transa, transb) {
        (Transpose::No, Transpose::No) => {
            broadcast_gemm::<T, K, V, VH, VQ, VW, false, false>(leaf, out, m, n, a, lda, b, ldb, c)
        }
        (Transpose::Yes, Transpose::No) => {
            broadcast_gemm::<T, K, V, VH, VQ, VW, true, false>(leaf, out, m, n, a, lda, b, ldb, c)
        }
        // C^T = B * A: B (n x k as stored) is the broadcast operand, rows of A the vectors.
        (Transpose::Yes, Transpose::Yes) => {
            broadcast_gemm::<T, K, V, VH, VQ, VW, false, true>(leaf, out, n, m, b, ldb, a, lda, c)
        }
        (Transpose::No, Transpose::Yes) => {
            nt_gemm::<T, K, V, VH, VQ, L2, W2, W4>(leaf, out, m, n, a, lda, b, ldb, c)
        }
    }
}

/// The scalars shared by every tile of one product.
#[derive(Clone, Copy)]
struct Out<T> {
    alpha: T,
    beta: T,
    ldc: usize,
    k: usize,
}

/// `D <- alpha * X * Y + beta * D` where `X` is `m x k` (stored transposed, `k x m`, when `XT`),
/// `Y` is `k x n` row-major, and `D` is `C` (or `C^T` when `CT`).
#[allow(clippy::too_many_arguments)]
fn broadcast_gemm<
    T: Scalar,
    K: Leaf,
    const V: usize,
    const VH: usize,
    const VQ: usize,
    const VW: usize,
    const XT: bool,
    const CT: bool,
>(
    leaf: K,
    out: Out<T>,
    m: usize,
    n: usize,
    x: &[T],
    ldx: usize,
    y: &[T],
    ldy: usize,
    c: &mut [T],
) {
    let mut block = out;
    let mut p0 = 0;
    while p0 < out.k {
        let kc = KC.min(out.k - p0);
        let y = &y[p0 * ldy..];
        let mut i = 0;
        while i + MR <= m {
            let x = if XT {
                &x[p0 * ldx + i..]
            } else {
                &x[i * ldx + p0..]
            };
            let panel = Panel {
                x,
                ldx,
                y,
                ldy,
                kc,
                i,
            };
            broadcast_panel::<T, K, MR, V, VH, VQ, VQ, XT, CT>(leaf, block, panel, n, c);
            i += MR;
        }
        while i < m {
            let x = if XT {
                &x[p0 * ldx + i..]
            } else {
                &x[i * ldx + p0..]
            };
            let panel = Panel {
                x,
                ldx,
                y,
                ldy,
                kc,
                i,
            };
            broadcast_panel::<T, K, 1, VW, V, VH, VQ, XT, CT>(leaf, block, panel, n, c);
            i += 1;
        }
        p0 += kc;
        // Later k-blocks add to what the first one stored.
        block.beta = T::one();
    }
}

/// The operands of one block of rows `i..i + R` of the rank-1 product, over `kc` steps of `k`:
/// `x` starts at `X(i, p0)` and `y` at row `p0` of `Y`.
#[derive(Clone, Copy)]
struct Panel<'a, T> {
    x: &'a [T],
    ldx: usize,
    y: &'a [T],
    ldy: usize,
    kc: usize,
    i: usize,
}

/// Rows `i..i + R` of `D`: tiles `WA` columns wide, then `WB`, `WC`, `WD`, then single columns.
#[inline(always)]
fn broadcast_panel<
    T: Scalar,
    K: Leaf,
    const R: usize,
    const WA: usize,
    const WB: usize,
    const WC: usize,
    const WD: usize,
    const XT: bool,
    const CT: bool,
>(
    leaf: K,
    out: Out<T>,
    p: Panel<'_, T>,
    n: usize,
    c: &mut [T],
) {
    let mut j = 0;
    while j + WA <= n {
        let tile = leaf.broadcast_tile::<T, R, WA, XT>(p.x, p.ldx, &p.y[j..], p.ldy, p.kc);
        store_tile::<T, R, WA, CT>(out, &tile, p.i, j, c);
        j += WA;
    }
    while j + WB <= n {
        let tile = leaf.broadcast_tile::<T, R, WB, XT>(p.x, p.ldx, &p.y[j..], p.ldy, p.kc);
        store_tile::<T, R, WB, CT>(out, &tile, p.i, j, c);
        j += WB;
    }
    while j + WC <= n {
        let tile = leaf.broadcast_tile::<T, R, WC, XT>(p.x, p.ldx, &p.y[j..], p.ldy, p.kc);
        store_tile::<T, R, WC, CT>(out, &tile, p.i, j, c);
        j += WC;
    }
    while j + WD <= n {
        let tile = leaf.broadcast_tile::<T, R, WD, XT>(p.x, p.ldx, &p.y[j..], p.ldy, p.kc);
        store_tile::<T, R, WD, CT>(out, &tile, p.i, j, c);
        j += WD;
    }
    while j < n {
        let tile = leaf.broadcast_tile::<T, R, 1, XT>(p.x, p.ldx, &p.y[j..], p.ldy, p.kc);
        store_tile::<T, R, 1, CT>(out, &tile, p.i, j, c);
        j += 1;
    }
}

/// `D[i + r][j + w] <- alpha * tile[r][w] + beta * D[i + r][j + w]`, not reading `D` when
/// `beta == 0`; `D` is `C`, or `C^T` when `CT`.
#[inline(always)]
fn store_tile<T: Scalar, const R: usize, const W: usize, const CT: bool>(
    out: Out<T>,
    tile: &[[T; W]; R],
    i: usize,
    j: usize,
    c: &mut [T],
) {
    let Out {
        alpha, beta, ldc, ..
    } = out;
    let overwrite = beta == T::zero();
    for (r, row) in tile.iter().enumerate() {
        for (w, &t) in row.iter().enumerate() {
            let o = if CT {
                &mut c[(j + w) * ldc + i + r]
            } else {
                &mut c[(i + r) * ldc + j + w]
            };
            *o = if overwrite {
                alpha * t
            } else {
                alpha * t + beta * *o
            };
        }
    }
}

/// Elements of the stack buffer that holds a transposed panel of `B` for `A * B^T` with a
/// short `k` (2 KB in f32, 4 KB in f64).
const PACK: usize = 512;

/// Longest `k` for which `A * B^T` goes through transposed panels rather than dot products.
const PACK_MAX_K: usize = 32;

/// Rows of `B` per dot-product tile: with a single row of `A`, enough independent accumulators
/// to hide the latency of the adds.
const DOT_W: usize = 4;

/// `C <- alpha * A * B^T + beta * C` with `A` `m x k` and `B` `n x k`, both row-major.
///
/// Dot products of contiguous rows, four rows of `A` against `W4` rows of `B` at a time (where
/// `W4 > 0`), then two against `W2` (a last odd row against [`DOT_W`]). When `k` is too short
/// for that (at most [`PACK_MAX_K`]: the lane reduction and the leftover `k % L` products
/// dominate) and there are enough rows of `A` to reuse it, panels of `B^T` (`V`, `VH`, then `VQ`
/// columns) are transposed into a stack buffer and go through the rank-1 kernel.
#[allow(clippy::too_many_arguments)]
fn nt_gemm<
    T: Scalar,
    K: Leaf,
    const V: usize,
    const VH: usize,
    const VQ: usize,
    const L2: usize,
    const W2: usize,
    const W4: usize,
>(
    leaf: K,
    out: Out<T>,
    m: usize,
    n: usize,
    a: &[T],
    lda: usize,
    b: &[T],
    ldb: usize,
    c: &mut [T],
) {
    let k = out.k;
    if m < MR || k > PACK_MAX_K || k * V > PACK {
        let mut i = 0;
        // Four rows of `A` against `W4` rows of `B`: 4 + W4 loads per 4 W4 multiply-adds
        // instead of 2 + W2 per 2 W2. The last `k mod L2` products in chunks of 4 lanes: one by
        // one they cost more than the tile saves when `k mod 8 = 4` (W4's conv2 weight
        // gradient, `k = 196`). Zen 3, AVX2, `f32`, time against the 2-row tiles: 16 x 128 x 256
        // 0.82, 8 x 9 x 784 0.75, 16 x 72 x 196 0.97-0.98.
        while W4 > 0 && i + 4 <= m {
            dot_rows::<T, K, L2, 4, 4, W4>(leaf, out, i, n, a, lda, b, ldb, c);
            i += 4;
        }
        while i + 2 <= m {
            dot_rows::<T, K, L2, L2, 2, W2>(leaf, out, i, n, a, lda, b, ldb, c);
            i += 2;
        }
        if i < m && k >= V {
            dot_rows::<T, K, V, L2, 1, DOT_W>(leaf, out, i, n, a, lda, b, ldb, c);
        } else if i < m {
            // Too short for V lanes: narrower chunks beat a scalar tail.
            dot_rows::<T, K, L2, L2, 1, DOT_W>(leaf, out, i, n, a, lda, b, ldb, c);
        }
        return;
    }
    nt_gemm_panels::<T, K, V, VH, VQ>(leaf, out, m, n, a, lda, b, ldb, c);
}

/// The transposed-panel path of [`nt_gemm`], in its own frame: batch-1 inference never takes
/// it, and its stack buffer would otherwise be reserved in every call (firmware stack budgets).
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn nt_gemm_panels<T: Scalar, K: Leaf, const V: usize, const VH: usize, const VQ: usize>(
    leaf: K,
    out: Out<T>,
    m: usize,
    n: usize,
    a: &[T],
    lda: usize,
    b: &[T],
    ldb: usize,
    c: &mut [T],
) {
    let k = out.k;
    let mut panel = [T::zero(); PACK];
    let mut j = 0;
    while j + V <= n {
        transpose_rows::<T, V>(&b[j * ldb..], ldb, k, &mut panel);
        broadcast_columns::<T, K, V>(leaf, out, m, j, a, lda, &panel, V, c);
        j += V;
    }
    while j + VH <= n {
        transpose_rows::<T, VH>(&b[j * ldb..], ldb, k, &mut panel);
        broadcast_columns::<T, K, VH>(leaf, out, m, j, a, lda, &panel, VH, c);
        j += VH;
    }
    while j + VQ <= n {
        transpose_rows::<T, VQ>(&b[j * ldb..], ldb, k, &mut panel);
        broadcast_columns::<T, K, VQ>(leaf, out, m, j, a, lda, &panel, VQ, c);
        j += VQ;
    }
    // Single columns: a column of B^T is a contiguous row of B, no transposition needed.
    while j < n {
        broadcast_columns::<T, K, 1>(leaf, out, m, j, a, lda, &b[j * ldb..], 1, c);
        j += 1;
    }
}

/// `panel[q * W + w] = rows[w * ld + q]` for `q < k`: row `q` of the panel is column `q` of the
/// `W` rows given.
#[inline(always)]
fn transpose_rows<T: Scalar, const W: usize>(rows: &[T], ld: usize, k: usize, panel: &mut [T]) {
    for w in 0..W {
        for (q, &v) in rows[w * ld..][..k].iter().enumerate() {
            panel[q * W + w] = v;
        }
    }
}

/// Columns `j..j + W` of `C <- alpha * A * Y + beta * C` for all `m` rows, `Y` being `k x W`
/// with row stride `ldy`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn broadcast_columns<T: Scalar, K: Leaf, const W: usize>(
    leaf: K,
    out: Out<T>,
    m: usize,
    j: usize,
    a: &[T],
    lda: usize,
    y: &[T],
    ldy: usize,
    c: &mut [T],
) {
    let mut i = 0;
    while i + MR <= m {
        let tile = leaf.broadcast_tile::<T, MR, W, false>(&a[i * lda..], lda, y, ldy, out.k);
        store_tile::<T, MR, W, false>(out, &tile, i, j, c);
        i += MR;
    }
    while i < m {
        let tile = leaf.broadcast_tile::<T, 1, W, false>(&a[i * lda..], lda, y, ldy, out.k);
        store_tile::<T, 1, W, false>(out, &tile, i, j, c);
        i += 1;
    }
}

/// Rows `i..i + R` of `C` in the dot-product form, `W` columns at a time, `L` lanes (then `LT`
/// lanes for what is left).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn dot_rows<T: Scalar, K: Leaf, const L: usize, const LT: usize, const R: usize, const W: usize>(
    leaf: K,
    out: Out<T>,
    i: usize,
    n: usize,
    a: &[T],
    lda: usize,
    b: &[T],
    ldb: usize,
    c: &mut [T],
) {
    let k = out.k;
    let ar: [&[T]; R] = core::array::from_fn(|r| &a[(i + r) * lda..][..k]);
    let mut j = 0;
    while j + W <= n {
        let br: [&[T]; W] = core::array::from_fn(|w| &b[(j + w) * ldb..][..k]);
        let tile = dot_tile::<T, K, L, LT, R, W>(leaf, &ar, &br);
        store_tile::<T, R, W, false>(out, &tile, i, j, c);
        j += W;
    }
    while j < n {
        let br: [&[T]; 1] = [&b[j * ldb..][..k]];
        let tile = dot_tile::<T, K, L, LT, R, 1>(leaf, &ar, &br);
        store_tile::<T, R, 1, false>(out, &tile, i, j, c);
        j += 1;
    }
}

/// `tile[r][w] = sum_p ar[r][p] * br[w][p]` over rows of equal length: chunks of `L` lanes, then
/// of `LT` lanes (a remainder of up to `L - 1` products would otherwise cost as much as the
/// vector part: batch-1 784 -> 256 has 16 left over after 24 chunks of 32), then scalars.
#[inline(always)]
fn dot_tile<T: Scalar, K: Leaf, const L: usize, const LT: usize, const R: usize, const W: usize>(
    leaf: K,
    ar: &[&[T]; R],
    br: &[&[T]; W],
) -> [[T; W]; R] {
    let k = ar[0].len();
    let mut tile = [[T::zero(); W]; R];
    let whole = k - k % L;
    if whole > 0 {
        add_partials::<T, L, R, W>(&mut tile, &leaf.dot_partials::<T, L, R, W>(ar, br));
    }
    let narrow = whole + (k - whole) / LT * LT;
    if narrow > whole && LT < L {
        let ar2: [&[T]; R] = core::array::from_fn(|r| &ar[r][whole..narrow]);
        let br2: [&[T]; W] = core::array::from_fn(|w| &br[w][whole..narrow]);
        add_partials::<T, LT, R, W>(&mut tile, &leaf.dot_partials::<T, LT, R, W>(&ar2, &br2));
    }
    let done = if LT < L { narrow } else { whole };
    // The leftover products, `p` outermost so the R * W sums advance side by side instead of
    // one serial chain of dependent adds after another.
    for p in done..k {
        for (t_row, a_row) in tile.iter_mut().zip(ar) {
            for (t, b_row) in t_row.iter_mut().zip(br) {
                *t += a_row[p] * b_row[p];
            }
        }
    }
    tile
}

/// `tile[r][w] += sum of the lanes of partial[r][w]`.
#[inline(always)]
fn add_partials<T: Scalar, const L: usize, const R: usize, const W: usize>(
    tile: &mut [[T; W]; R],
    partial: &[[[T; L]; W]; R],
) {
    for (t_row, p_row) in tile.iter_mut().zip(partial) {
        for (t, p) in t_row.iter_mut().zip(p_row) {
            *t += sum_lanes(*p);
        }
    }
}

/// Pairwise sum of the lanes (halves added element-wise, repeatedly), as a vector unit does.
#[inline(always)]
fn sum_lanes<T: Scalar, const L: usize>(mut lanes: [T; L]) -> T {
    const { assert!(L.is_power_of_two(), "lane counts are powers of two") };
    let mut width = L;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            lanes[l] += lanes[l + width];
        }
    }
    lanes[0]
}

/// Rows of one operand of [`super::gemm_nt_segments`]: row `r` of segment `s` is
/// `data[s * segment + rows.row_start(r)..][..len]` (a plain matrix with leading dimension
/// `ld`: `RowOffsets { radices: [1, 1], strides: [ld, 0, 0], base: 0 }`).
#[derive(Clone, Copy)]
pub struct SegmentedRows<'a, T> {
    pub data: &'a [T],
    pub rows: RowOffsets,
    pub segment: usize,
}

/// A checked [`super::gemm_nt_segments`] product, without `C`.
#[derive(Clone, Copy)]
pub struct Segmented<'a, T> {
    pub(super) m: usize,
    pub(super) n: usize,
    pub(super) len: usize,
    pub(super) segments: usize,
    pub(super) a: SegmentedRows<'a, T>,
    pub(super) b: SegmentedRows<'a, T>,
    pub(super) beta: T,
    pub(super) ldc: usize,
    pub(super) level: Level,
}

/// `C <- sum_s A_s B_s^T + beta C` ([`super::gemm_nt_segments`]): dot products of `R` rows of
/// `A` against `W` rows of `B` at a time, every partial sum carried across a group of segments
/// in registers and reduced once per group ([`segment_tiles`]), on the widest leaves this CPU
/// supports up to the product's level. Lanes and tiles are those of [`nt_gemm`]'s dot products
/// at each level.
pub(super) fn nt_segments<T: Scalar>(p: Segmented<'_, T>, c: &mut [T]) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if let Some(leaf) = super::leaf::Avx512::detect().filter(|_| p.level >= Level::Avx512) {
        if T::BYTES == 4 {
            segment_tiles::<T, _, 8, 4, 3>(leaf, p, c);
        } else {
            segment_tiles::<T, _, 4, 4, 3>(leaf, p, c);
        }
        return;
    }
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if let Some(leaf) = super::leaf::Avx2Fma::detect().filter(|_| p.level >= Level::Avx2Fma) {
        if T::BYTES == 4 {
            segment_tiles::<T, _, 8, 4, 3>(leaf, p, c);
        } else {
            segment_tiles::<T, _, 4, 4, 3>(leaf, p, c);
        }
        return;
    }
    #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
    let _ = p.level;
    if T::BYTES == 4 {
        segment_tiles::<T, _, 8, 2, 2>(Baseline, p, c);
    } else {
        segment_tiles::<T, _, 4, 2, 2>(Baseline, p, c);
    }
}

/// Bytes of L1 cache the rows of one tile of [`nt_segments`] may take over a group of
/// segments: a tile's rows of `A` serve every tile of its block of rows, and hardware caches
/// have 32 KB or more of L1 data cache. W4's second convolution (`R + W = 7` rows of 196
/// `f32` per sample, Zen 3, `W4parts`): groups of 2 / 3 / 4 / 5 / 6 / 8 samples took 249 /
/// 222-227 / 212-215 / 219-227 / 234-240 / 260-268 us.
const SEGMENT_TILE_BYTES: usize = 24 << 10;

/// [`nt_segments`] on one leaf set: the segments in groups whose tile rows fit in
/// [`SEGMENT_TILE_BYTES`] (each group's sums added to `C` before the next), and within a group
/// blocks of `R` rows of `C`, then single rows.
#[inline(always)]
fn segment_tiles<T: Scalar, K: Leaf, const L: usize, const R: usize, const W: usize>(
    leaf: K,
    p: Segmented<'_, T>,
    c: &mut [T],
) {
    let per_segment = (R + W) * p.len * T::BYTES;
    let group = (SEGMENT_TILE_BYTES / per_segment).max(1);
    let mut first = 0;
    let mut beta = p.beta;
    while first < p.segments {
        let count = group.min(p.segments - first);
        let part = Segmented {
            segments: count,
            a: p.a.skip_segments(first),
            b: p.b.skip_segments(first),
            beta,
            ..p
        };
        let mut i = 0;
        while i + R <= p.m {
            segment_row_tiles::<T, K, L, R, W>(leaf, part, i, c);
            i += R;
        }
        while i < p.m {
            segment_row_tiles::<T, K, L, 1, W>(leaf, part, i, c);
            i += 1;
        }
        first += count;
        beta = T::one();
    }
}

/// Rows `i..i + R` of [`nt_segments`]: tiles of `W` columns, then single columns.
#[inline(always)]
fn segment_row_tiles<T: Scalar, K: Leaf, const L: usize, const R: usize, const W: usize>(
    leaf: K,
    p: Segmented<'_, T>,
    i: usize,
    c: &mut [T],
) {
    let out = Out {
        alpha: T::one(),
        beta: p.beta,
        ldc: p.ldc,
        k: p.len * p.segments,
    };
    let a = tile_rows::<T, R>(p.a, i);
    let mut j = 0;
    while j + W <= p.n {
        let partial = leaf.dot_segments::<T, L, R, W>(a, tile_rows(p.b, j), p.len, p.segments);
        store_tile::<T, R, W, false>(out, &reduce_partials(&partial), i, j, c);
        j += W;
    }
    while j < p.n {
        let partial = leaf.dot_segments::<T, L, R, 1>(a, tile_rows(p.b, j), p.len, p.segments);
        store_tile::<T, R, 1, false>(out, &reduce_partials(&partial), i, j, c);
        j += 1;
    }
}

impl<'a, T> SegmentedRows<'a, T> {
    /// The operand from segment `first` on (within the operand: the product was checked).
    #[inline(always)]
    fn skip_segments(self, first: usize) -> Self {
        SegmentedRows {
            data: &self.data[first * self.segment..],
            ..self
        }
    }
}

/// Rows `first..first + N` of a segmented operand, as a leaf reads them.
#[inline(always)]
fn tile_rows<T, const N: usize>(rows: SegmentedRows<'_, T>, first: usize) -> SegmentRows<'_, T, N> {
    SegmentRows {
        data: rows.data,
        starts: core::array::from_fn(|r| rows.rows.row_start(first + r)),
        segment: rows.segment,
    }
}

/// `tile[r][w] = sum of the lanes of partial[r][w]`.
#[inline(always)]
fn reduce_partials<T: Scalar, const L: usize, const R: usize, const W: usize>(
    partial: &[[[T; L]; W]; R],
) -> [[T; W]; R] {
    let mut tile = [[T::zero(); W]; R];
    add_partials::<T, L, R, W>(&mut tile, partial);
    tile
}
