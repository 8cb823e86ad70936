//! GEMM on arrays whose types carry the shapes: the entry points of ops and generated code.
//!
//! The array types make every extent right by construction, so these never fail; they run the
//! same dispatch as [`super::gemm`] (portable path for small products, matrixmultiply for large
//! ones under `std`).

use super::{gemm_with_backend, GemmBackend, Transpose};
use crate::kernels::Store;
use crate::Scalar;

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
    matmul_a_bt_with_backend(GemmBackend::Auto, a, b, c, store);
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
    matmul_a_b_with_backend(GemmBackend::Auto, a, b, c, store);
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
    matmul_at_b_with_backend(GemmBackend::Auto, a, b, c, store);
}

/// [`matmul_a_bt`] on a chosen implementation (tests and measurements).
#[doc(hidden)]
#[inline]
pub fn matmul_a_bt_with_backend<T: Scalar, const M: usize, const K: usize, const N: usize>(
    backend: GemmBackend,
    a: &[[T; K]; M],
    b: &[[T; K]; N],
    c: &mut [[T; N]; M],
    store: Store,
) {
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
) {
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
) {
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
    );
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
    );
    if result.is_err() {
        unreachable!("gemm: array types fix every extent and leading dimension");
    }
}
