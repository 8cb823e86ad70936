//! The heap-free GEMM: register-blocked loop nests that the compiler vectorizes.
//!
//! No packing (that needs a buffer), so each transpose case gets the loop order that keeps its
//! innermost loop on contiguous memory:
//! - `A * B` and `A^T * B`: a tile of `C` is a sum of rank-1 updates, `tile[r][..] += x(r, p) *
//!   B[p][..]`, with rows of `B` contiguous and `x(r, p)` a broadcast scalar ([`broadcast_gemm`]).
//! - `A^T * B^T`: the same kernel computes `C^T = B * A` and stores the tile transposed.
//! - `A * B^T`: with few rows of `A`, dot products of contiguous rows; otherwise the rank-1
//!   kernel on panels of `B^T` transposed into a small stack buffer ([`nt_gemm`]).
//!
//! Both keep an `R x W` tile of `C` in registers: fixed-size arrays that LLVM promotes to
//! registers and vectorizes (SLP) once the constant-bounded loops are unrolled. Floating-point
//! addition is not associative and the compiler may not reorder it, so a dot product carries
//! `LANES` independent partial sums (a vector register's worth) that are added up at the end.
//!
//! The innermost loops live in small leaf functions ([`Leaf`]) that are never inlined into the
//! drivers: in one function with the lane reduction or the store to `C`, LLVM's SLP vectorizer
//! pairs up elements of different accumulators and emits shuffles instead of straight vector
//! arithmetic. The leaves are also the unit of CPU-feature specialization (`simd`).
//!
//! Preconditions (checked by the caller, [`super::gemm_with_backend`]): `m, n, k > 0`, every
//! slice holds its matrix, `alpha != 0`. Index arithmetic is safe Rust, so a violated
//! precondition panics rather than misbehaving.

use super::Transpose;
use crate::Scalar;

/// `k`-block of the rank-1 kernel: a `KC x W` panel of `B` (8 KB for 8 f32 columns) stays in L1
/// while the tiles of a block of rows of `C` walk over it.
const KC: usize = 256;

/// The innermost loops, compiled once per instruction-set level.
///
/// # Contract
/// `broadcast_tile` returns `tile[r][w] = sum_{q < kc} x(r, q) * y[q * ldy + w]` where
/// `x(r, q) = x[q * ldx + r]` when `XT`, else `x[r * ldx + q]`; `dot_partials` returns
/// `partial[r][w][l] = sum_q a[r][q * L + l] * b[w][q * L + l]` over the whole `L`-chunks of the
/// (equally long) rows. Either may fuse a multiply-add (one rounding instead of two).
pub(super) trait Leaf: Copy {
    /// See the trait docs.
    fn broadcast_tile<T: Scalar, const R: usize, const W: usize, const XT: bool>(
        self,
        x: &[T],
        ldx: usize,
        y: &[T],
        ldy: usize,
        kc: usize,
    ) -> [[T; W]; R];

    /// See the trait docs.
    fn dot_partials<T: Scalar, const L: usize, const R: usize, const W: usize>(
        self,
        a: &[&[T]; R],
        b: &[&[T]; W],
    ) -> [[[T; L]; W]; R];
}

/// Leaves compiled for the target's baseline instruction set (SSE2 on x86-64).
#[derive(Clone, Copy)]
pub(super) struct Baseline;

impl Leaf for Baseline {
    #[inline(never)]
    fn broadcast_tile<T: Scalar, const R: usize, const W: usize, const XT: bool>(
        self,
        x: &[T],
        ldx: usize,
        y: &[T],
        ldy: usize,
        kc: usize,
    ) -> [[T; W]; R] {
        broadcast_tile_body::<T, R, W, XT, false>(x, ldx, y, ldy, kc)
    }

    #[inline(never)]
    fn dot_partials<T: Scalar, const L: usize, const R: usize, const W: usize>(
        self,
        a: &[&[T]; R],
        b: &[&[T]; W],
    ) -> [[[T; L]; W]; R] {
        dot_partials_body::<T, L, R, W, false>(a, b)
    }
}

/// `acc + x * y`, fused into one rounding when `FMA` (only instantiated where the CPU has FMA;
/// elsewhere `mul_add` would be a slow libm call).
#[inline(always)]
fn madd<T: Scalar, const FMA: bool>(acc: T, x: T, y: T) -> T {
    if FMA {
        x.mul_add(y, acc)
    } else {
        acc + x * y
    }
}

/// The first `N` elements of `s`. Callers pass slices whose length the checked extents
/// guarantee, so the `None` arm is an internal invariant.
#[inline(always)]
fn head<T: Copy, const N: usize>(s: &[T]) -> [T; N] {
    match s.first_chunk::<N>() {
        Some(h) => *h,
        None => unreachable!("gemm: operand extents were checked by the caller"),
    }
}

/// Body of [`Leaf::broadcast_tile`].
#[inline(always)]
pub(super) fn broadcast_tile_body<
    T: Scalar,
    const R: usize,
    const W: usize,
    const XT: bool,
    const FMA: bool,
>(
    x: &[T],
    ldx: usize,
    y: &[T],
    ldy: usize,
    kc: usize,
) -> [[T; W]; R] {
    let mut tile = [[T::zero(); W]; R];
    for q in 0..kc {
        let xs: [T; R] = if XT {
            head(&x[q * ldx..])
        } else {
            core::array::from_fn(|r| x[r * ldx + q])
        };
        let ys: [T; W] = head(&y[q * ldy..]);
        for (row, &xv) in tile.iter_mut().zip(&xs) {
            for (t, &yv) in row.iter_mut().zip(&ys) {
                *t = madd::<T, FMA>(*t, xv, yv);
            }
        }
    }
    tile
}

/// Body of [`Leaf::dot_partials`].
#[inline(always)]
pub(super) fn dot_partials_body<
    T: Scalar,
    const L: usize,
    const R: usize,
    const W: usize,
    const FMA: bool,
>(
    a: &[&[T]; R],
    b: &[&[T]; W],
) -> [[[T; L]; W]; R] {
    let chunks = a[0].len() / L;
    let ac: [&[[T; L]]; R] = core::array::from_fn(|r| &a[r].as_chunks::<L>().0[..chunks]);
    let bc: [&[[T; L]]; W] = core::array::from_fn(|w| &b[w].as_chunks::<L>().0[..chunks]);
    let mut partial = [[[T::zero(); L]; W]; R];
    for q in 0..chunks {
        let av: [[T; L]; R] = core::array::from_fn(|r| ac[r][q]);
        let bv: [[T; L]; W] = core::array::from_fn(|w| bc[w][q]);
        for (part_row, arow) in partial.iter_mut().zip(&av) {
            for (part, brow) in part_row.iter_mut().zip(&bv) {
                for ((p, &x), &y) in part.iter_mut().zip(arow).zip(brow) {
                    *p = madd::<T, FMA>(*p, x, y);
                }
            }
        }
    }
    partial
}

/// Tile shapes for the current element type and instruction set: `V` columns per rank-1 tile
/// (one 32-byte vector: 8 f32 or 4 f64), `L` lanes per dot-product accumulator.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(super) fn gemm<T: Scalar>(
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
    let leaf = Baseline;
    if T::BYTES == 4 {
        dispatch::<T, _, 8>(
            leaf, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
        );
    } else {
        dispatch::<T, _, 4>(
            leaf, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
        );
    }
}

#[allow(clippy::too_many_arguments)]
#[inline]
fn dispatch<T: Scalar, K: Leaf, const V: usize>(
    leaf: K,
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
    match (transa, transb) {
        (Transpose::No, Transpose::No) => {
            broadcast_gemm::<T, K, V, false, false>(leaf, out, m, n, a, lda, b, ldb, c)
        }
        (Transpose::Yes, Transpose::No) => {
            broadcast_gemm::<T, K, V, true, false>(leaf, out, m, n, a, lda, b, ldb, c)
        }
        // C^T = B * A: B (n x k as stored) is the broadcast operand, rows of A the vectors.
        (Transpose::Yes, Transpose::Yes) => {
            broadcast_gemm::<T, K, V, false, true>(leaf, out, n, m, b, ldb, a, lda, c)
        }
        (Transpose::No, Transpose::Yes) => nt_gemm::<T, K, V>(leaf, out, m, n, a, lda, b, ldb, c),
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

/// Rows of `C` per rank-1 tile: each loaded row segment of `B` feeds 4 rows.
const MR: usize = 4;

/// `D <- alpha * X * Y + beta * D` where `X` is `m x k` (stored transposed, `k x m`, when `XT`),
/// `Y` is `k x n` row-major, and `D` is `C` (or `C^T` when `CT`).
#[allow(clippy::too_many_arguments)]
fn broadcast_gemm<T: Scalar, K: Leaf, const V: usize, const XT: bool, const CT: bool>(
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
        let mut i = 0;
        while i + MR <= m {
            broadcast_panel::<T, K, MR, V, XT, CT>(leaf, block, i, p0, kc, n, x, ldx, y, ldy, c);
            i += MR;
        }
        while i < m {
            broadcast_panel::<T, K, 1, V, XT, CT>(leaf, block, i, p0, kc, n, x, ldx, y, ldy, c);
            i += 1;
        }
        p0 += kc;
        // Later k-blocks add to what the first one stored.
        block.beta = T::one();
    }
}

/// Rows `i..i + R` of `D` over the k-block `p0..p0 + kc`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn broadcast_panel<
    T: Scalar,
    K: Leaf,
    const R: usize,
    const V: usize,
    const XT: bool,
    const CT: bool,
>(
    leaf: K,
    out: Out<T>,
    i: usize,
    p0: usize,
    kc: usize,
    n: usize,
    x: &[T],
    ldx: usize,
    y: &[T],
    ldy: usize,
    c: &mut [T],
) {
    let x = if XT {
        &x[p0 * ldx + i..]
    } else {
        &x[i * ldx + p0..]
    };
    let y = &y[p0 * ldy..];
    let mut j = 0;
    while j + V <= n {
        let tile = leaf.broadcast_tile::<T, R, V, XT>(x, ldx, &y[j..], ldy, kc);
        store_tile::<T, R, V, CT>(out, &tile, i, j, c);
        j += V;
    }
    while j < n {
        let tile = leaf.broadcast_tile::<T, R, 1, XT>(x, ldx, &y[j..], ldy, kc);
        store_tile::<T, R, 1, CT>(out, &tile, i, j, c);
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
/// short `k` (1 KB in f32, 2 KB in f64: small enough for a microcontroller's stack).
const PACK: usize = 256;

/// Rows of `B` per dot-product tile: with a single row of `A`, enough independent accumulators
/// to hide the latency of the adds.
const DOT_W: usize = 4;

/// `C <- alpha * A * B^T + beta * C` with `A` `m x k` and `B` `n x k`, both row-major.
///
/// Dot products of contiguous rows, `V` partial sums each, one row of `A` against [`DOT_W`] rows
/// of `B` at a time. When `k` is too short for that (`k <= PACK / V`: the lane reduction and the
/// leftover `k % V` products dominate) and there are enough rows of `A` to reuse it, `V`-column
/// panels of `B^T` are transposed into a stack buffer and go through the rank-1 kernel.
#[allow(clippy::too_many_arguments)]
fn nt_gemm<T: Scalar, K: Leaf, const V: usize>(
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
    if m < MR || k > PACK / V {
        for i in 0..m {
            dot_panel::<T, K, V, 1, DOT_W>(leaf, out, i, n, a, lda, b, ldb, c);
        }
        return;
    }
    let mut panel = [T::zero(); PACK];
    let mut j = 0;
    while j + V <= n {
        // panel[q * V + w] = B[j + w][q]: row q of the panel is row q of B^T, columns j...
        for w in 0..V {
            for (q, &v) in b[(j + w) * ldb..][..k].iter().enumerate() {
                panel[q * V + w] = v;
            }
        }
        broadcast_column::<T, K, V>(leaf, out, m, j, a, lda, &panel, V, c);
        j += V;
    }
    // Leftover columns: a column of B^T is a contiguous row of B, no transposition needed.
    while j < n {
        broadcast_column::<T, K, 1>(leaf, out, m, j, a, lda, &b[j * ldb..], 1, c);
        j += 1;
    }
}

/// Columns `j..j + W` of `C <- alpha * A * Y + beta * C` for all `m` rows, `Y` being `k x W`
/// with row stride `ldy`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn broadcast_column<T: Scalar, K: Leaf, const W: usize>(
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

/// Rows `i..i + R` of `C` in the dot-product form, `W` columns at a time.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn dot_panel<T: Scalar, K: Leaf, const L: usize, const R: usize, const W: usize>(
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
        let tile = dot_tile::<T, K, L, R, W>(leaf, &ar, &br);
        store_tile::<T, R, W, false>(out, &tile, i, j, c);
        j += W;
    }
    while j < n {
        let br: [&[T]; 1] = [&b[j * ldb..][..k]];
        let tile = dot_tile::<T, K, L, R, 1>(leaf, &ar, &br);
        store_tile::<T, R, 1, false>(out, &tile, i, j, c);
        j += 1;
    }
}

/// `tile[r][w] = sum_p ar[r][p] * br[w][p]` over rows of equal length.
#[inline(always)]
fn dot_tile<T: Scalar, K: Leaf, const L: usize, const R: usize, const W: usize>(
    leaf: K,
    ar: &[&[T]; R],
    br: &[&[T]; W],
) -> [[T; W]; R] {
    let k = ar[0].len();
    let whole = k - k % L;
    let mut tile = [[T::zero(); W]; R];
    if whole > 0 {
        let partial = leaf.dot_partials::<T, L, R, W>(ar, br);
        for (t_row, p_row) in tile.iter_mut().zip(&partial) {
            for (t, p) in t_row.iter_mut().zip(p_row) {
                *t = sum_lanes(*p);
            }
        }
    }
    for (t_row, a_row) in tile.iter_mut().zip(ar) {
        for (t, b_row) in t_row.iter_mut().zip(br) {
            for (&x, &y) in a_row[whole..].iter().zip(&b_row[whole..]) {
                *t += x * y;
            }
        }
    }
    tile
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
