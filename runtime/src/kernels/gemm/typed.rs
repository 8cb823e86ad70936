//! GEMM on arrays whose types carry the shapes: the entry points of ops and generated code.
//!
//! The array types make every extent right by construction, so these never fail. Tiny products
//! (at most [`INLINE_MAX_WORK`] multiply-adds: batch-1 layers of a few units) run a short loop
//! nest inlined at the call site, where the dims are constants the compiler unrolls; the rest
//! run the same dispatch as [`super::gemm`]; the `_packed` variants take scratch for the packed
//! kernels, which large products use (see [`super::gemm_packed`]).

use super::{auto_pack_len, gemm_with_backend, GemmBackend, Transpose};
use crate::kernels::Store;
use crate::Scalar;

const _: () = assert!(INLINE_LANES == 4, "inline_dot adds four partial sums");

/// `C (store) A * B^T` for `A: [M][K]`, `B: [N][K]`, `C: [M][N]`:
/// `C[i][j] (store) sum_p A[i][p] * B[j][p]`. Dense forward (`Y = X * W^T` with `W: [out][in]`).
///
/// With [`Store::Overwrite`], `C` is not read.
#[inline]
pub fn matmul_a_bt<T: Scalar, const M: usize, const K: usize, const N: usize>(
    a: &[[T; K]; M],
    b: &[[T; K]; N],
    c: &mut [[T; N]; M],
    store: Store,
) {
    matmul_a_bt_with_backend(GemmBackend::Auto, a, b, c, store, &mut []);
}

/// `C (store) A * B` for `A: [M][K]`, `B: [K][N]`, `C: [M][N]`:
/// `C[i][j] (store) sum_p A[i][p] * B[p][j]`. Dense input gradient (`dX = dY * W`).
///
/// With [`Store::Overwrite`], `C` is not read.
#[inline]
pub fn matmul_a_b<T: Scalar, const M: usize, const K: usize, const N: usize>(
    a: &[[T; K]; M],
    b: &[[T; N]; K],
    c: &mut [[T; N]; M],
    store: Store,
) {
    matmul_a_b_with_backend(GemmBackend::Auto, a, b, c, store, &mut []);
}

/// `C (store) A^T * B` for `A: [K][M]`, `B: [K][N]`, `C: [M][N]`:
/// `C[i][j] (store) sum_p A[p][i] * B[p][j]`. Dense weight gradient (`dW = dY^T * X`).
///
/// With [`Store::Overwrite`], `C` is not read.
#[inline]
pub fn matmul_at_b<T: Scalar, const M: usize, const K: usize, const N: usize>(
    a: &[[T; M]; K],
    b: &[[T; N]; K],
    c: &mut [[T; N]; M],
    store: Store,
) {
    matmul_at_b_with_backend(GemmBackend::Auto, a, b, c, store, &mut []);
}

/// [`matmul_a_bt`] with scratch for the packed GEMM: allocation-free at every size, and as
/// fast as the kernels get once `pack` holds [`matmul_a_bt_pack_len`]`(M, K, N)` elements
/// (shorter scratch runs the unpacked loops; contents ignored on entry, unspecified on return).
#[inline]
pub fn matmul_a_bt_packed<T: Scalar, const M: usize, const K: usize, const N: usize>(
    a: &[[T; K]; M],
    b: &[[T; K]; N],
    c: &mut [[T; N]; M],
    store: Store,
    pack: &mut [T],
) {
    matmul_a_bt_with_backend(GemmBackend::Auto, a, b, c, store, pack);
}

/// [`matmul_a_b`] with scratch for the packed GEMM (see [`matmul_a_bt_packed`]); the scratch
/// it uses is [`matmul_a_b_pack_len`]`(M, K, N)` elements.
#[inline]
pub fn matmul_a_b_packed<T: Scalar, const M: usize, const K: usize, const N: usize>(
    a: &[[T; K]; M],
    b: &[[T; N]; K],
    c: &mut [[T; N]; M],
    store: Store,
    pack: &mut [T],
) {
    matmul_a_b_with_backend(GemmBackend::Auto, a, b, c, store, pack);
}

/// [`matmul_at_b`] with scratch for the packed GEMM (see [`matmul_a_bt_packed`]); the scratch
/// it uses is [`matmul_at_b_pack_len`]`(M, K, N)` elements.
#[inline]
pub fn matmul_at_b_packed<T: Scalar, const M: usize, const K: usize, const N: usize>(
    a: &[[T; M]; K],
    b: &[[T; N]; K],
    c: &mut [[T; N]; M],
    store: Store,
    pack: &mut [T],
) {
    matmul_at_b_with_backend(GemmBackend::Auto, a, b, c, store, pack);
}

/// Scratch elements [`matmul_a_bt_packed`] uses for `C: [M][N] = A: [M][K] * B^T` (0 when the
/// product is small enough to skip packing).
pub const fn matmul_a_bt_pack_len<T: Scalar>(m: usize, k: usize, n: usize) -> usize {
    typed_pack_len::<T>(Transpose::No, Transpose::Yes, m, k, n)
}

/// Scratch elements [`matmul_a_b_packed`] uses for `C: [M][N] = A: [M][K] * B: [K][N]`.
pub const fn matmul_a_b_pack_len<T: Scalar>(m: usize, k: usize, n: usize) -> usize {
    typed_pack_len::<T>(Transpose::No, Transpose::No, m, k, n)
}

/// Scratch elements [`matmul_at_b_packed`] uses for `C: [M][N] = A^T * B` with `A: [K][M]`.
pub const fn matmul_at_b_pack_len<T: Scalar>(m: usize, k: usize, n: usize) -> usize {
    typed_pack_len::<T>(Transpose::Yes, Transpose::No, m, k, n)
}

const fn typed_pack_len<T: Scalar>(
    transa: Transpose,
    transb: Transpose,
    m: usize,
    k: usize,
    n: usize,
) -> usize {
    if m.saturating_mul(n).saturating_mul(k) <= INLINE_MAX_WORK {
        0
    } else {
        auto_pack_len::<T>(transa, transb, m, n, k)
    }
}

/// Products with at most this many multiply-adds take the inlined loops of this module when
/// the backend is [`GemmBackend::Auto`]: the fixed cost of the dispatch (checks, CPU-feature
/// test, tile set-up, 25-70 ns) dominates such sizes. Measured (release, f32, inlined vs
/// portable, ns): 1x2->16 2-4 vs 40-67, 1x16->1 2-4 vs 23-30, 4x4->4 22-32 vs 70-130; at
/// 256 multiply-adds the two are even on average but the inlined rank-1 loops lose on some
/// shapes. The batch-1 forward pass 2->16->16->1 takes 72-90 ns instead of 125-137 ns.
pub(super) const INLINE_MAX_WORK: usize = 64;

/// Independent partial sums in an inlined dot product (one 128-bit register of f32).
const INLINE_LANES: usize = 4;

/// [`matmul_a_bt`] on a chosen implementation (tests and measurements).
#[doc(hidden)]
#[inline]
pub fn matmul_a_bt_with_backend<T: Scalar, const M: usize, const K: usize, const N: usize>(
    backend: GemmBackend,
    a: &[[T; K]; M],
    b: &[[T; K]; N],
    c: &mut [[T; N]; M],
    store: Store,
    pack: &mut [T],
) {
    if backend == GemmBackend::Auto && M * N * K <= INLINE_MAX_WORK {
        for (a_row, c_row) in a.iter().zip(c.iter_mut()) {
            for (b_row, cij) in b.iter().zip(c_row.iter_mut()) {
                store.apply(cij, inline_dot(a_row, b_row));
            }
        }
        return;
    }
    run(
        backend,
        Transpose::No,
        Transpose::Yes,
        [M, N, K],
        a.as_flattened(),
        K,
        b.as_flattened(),
        K,
        c.as_flattened_mut(),
        store,
        pack,
    );
}

/// [`matmul_a_b`] on a chosen implementation (tests and measurements).
#[doc(hidden)]
#[inline]
pub fn matmul_a_b_with_backend<T: Scalar, const M: usize, const K: usize, const N: usize>(
    backend: GemmBackend,
    a: &[[T; K]; M],
    b: &[[T; N]; K],
    c: &mut [[T; N]; M],
    store: Store,
    pack: &mut [T],
) {
    if backend == GemmBackend::Auto && M * N * K <= INLINE_MAX_WORK {
        for (a_row, c_row) in a.iter().zip(c.iter_mut()) {
            inline_rank1_sum(a_row.iter().copied().zip(b), c_row, store);
        }
        return;
    }
    run(
        backend,
        Transpose::No,
        Transpose::No,
        [M, N, K],
        a.as_flattened(),
        K,
        b.as_flattened(),
        N,
        c.as_flattened_mut(),
        store,
        pack,
    );
}

/// [`matmul_at_b`] on a chosen implementation (tests and measurements).
#[doc(hidden)]
#[inline]
pub fn matmul_at_b_with_backend<T: Scalar, const M: usize, const K: usize, const N: usize>(
    backend: GemmBackend,
    a: &[[T; M]; K],
    b: &[[T; N]; K],
    c: &mut [[T; N]; M],
    store: Store,
    pack: &mut [T],
) {
    if backend == GemmBackend::Auto && M * N * K <= INLINE_MAX_WORK {
        for (i, c_row) in c.iter_mut().enumerate() {
            inline_rank1_sum(a.iter().map(|a_row| a_row[i]).zip(b), c_row, store);
        }
        return;
    }
    run(
        backend,
        Transpose::Yes,
        Transpose::No,
        [M, N, K],
        a.as_flattened(),
        M,
        b.as_flattened(),
        N,
        c.as_flattened_mut(),
        store,
        pack,
    );
}

/// `sum_p x[p] * y[p]` with [`INLINE_LANES`] partial sums, so that the adds are not one serial
/// chain.
#[inline(always)]
fn inline_dot<T: Scalar, const K: usize>(x: &[T; K], y: &[T; K]) -> T {
    let (x_chunks, x_tail) = x.as_chunks::<INLINE_LANES>();
    let (y_chunks, y_tail) = y.as_chunks::<INLINE_LANES>();
    let mut partial = [T::zero(); INLINE_LANES];
    for (xc, yc) in x_chunks.iter().zip(y_chunks) {
        for ((p, &xv), &yv) in partial.iter_mut().zip(xc).zip(yc) {
            *p += xv * yv;
        }
    }
    let mut sum = (partial[0] + partial[2]) + (partial[1] + partial[3]);
    for (&xv, &yv) in x_tail.iter().zip(y_tail) {
        sum += xv * yv;
    }
    sum
}

/// `row (store) sum_p s_p * y_p` over the pairs `(s_p, y_p)`: rank-1 updates of one row of `C`,
/// contiguous along the row. The first term overwrites when `store` says so, so `row` is only
/// read when accumulating; no terms means zero.
#[inline(always)]
fn inline_rank1_sum<'a, T: Scalar, const N: usize>(
    mut terms: impl Iterator<Item = (T, &'a [T; N])>,
    row: &mut [T; N],
    store: Store,
) {
    if store == Store::Overwrite {
        match terms.next() {
            Some((s, y)) => {
                for (o, &v) in row.iter_mut().zip(y) {
                    *o = s * v;
                }
            }
            None => *row = [T::zero(); N],
        }
    }
    for (s, y) in terms {
        for (o, &v) in row.iter_mut().zip(y) {
            *o += s * v;
        }
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn run<T: Scalar>(
    backend: GemmBackend,
    transa: Transpose,
    transb: Transpose,
    [m, n, k]: [usize; 3],
    a: &[T],
    lda: usize,
    b: &[T],
    ldb: usize,
    c: &mut [T],
    store: Store,
    pack: &mut [T],
) {
    let result = gemm_with_backend(
        backend,
        transa,
        transb,
        m,
        n,
        k,
        T::one(),
        a,
        lda,
        b,
        ldb,
        store.beta(),
        c,
        n,
        pack,
    );
    if result.is_err() {
        unreachable!("gemm: array types fix every extent and leading dimension");
    }
}
