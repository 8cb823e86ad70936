//! General matrix multiply `C <- alpha * op(A) * op(B) + beta * C`.
//!
//! PLACEHOLDER IMPLEMENTATION (naive loops, correct, slow): the signatures below are the contract
//! that ops and generated code build on; the fast paths replace the bodies.

use super::Store;
use crate::error::{Error, Result};
use crate::Scalar;

/// Whether an operand of [`gemm`] is used as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transpose {
    /// `op(X) = X`.
    No,
    /// `op(X) = X^T`.
    Yes,
}

/// `C <- alpha * op(A) * op(B) + beta * C`, row-major with leading dimensions (BLAS-style).
///
/// `op(A)` is `m x k`, `op(B)` is `k x n`, `C` is `m x n`. `A` is stored `m x k` with row stride
/// `lda` when `transa == No`, else `k x m`; likewise `B`. `C` has row stride `ldc`. When
/// `beta == 0`, `C` is not read (NaN in `C` does not propagate).
///
/// Errors with [`Error::Length`] when a slice is too short for its dims and leading dimension,
/// or a leading dimension is smaller than its row length.
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: Scalar>(
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
) -> Result<()> {
    let (a_rows, a_cols) = if transa == Transpose::No {
        (m, k)
    } else {
        (k, m)
    };
    let (b_rows, b_cols) = if transb == Transpose::No {
        (k, n)
    } else {
        (n, k)
    };
    check_matrix("gemm: A", a.len(), a_rows, a_cols, lda)?;
    check_matrix("gemm: B", b.len(), b_rows, b_cols, ldb)?;
    check_matrix("gemm: C", c.len(), m, n, ldc)?;
    for i in 0..m {
        for j in 0..n {
            let mut acc = T::zero();
            for p in 0..k {
                let av = if transa == Transpose::No {
                    a[i * lda + p]
                } else {
                    a[p * lda + i]
                };
                let bv = if transb == Transpose::No {
                    b[p * ldb + j]
                } else {
                    b[j * ldb + p]
                };
                acc += av * bv;
            }
            let cij = &mut c[i * ldc + j];
            *cij = if beta == T::zero() {
                alpha * acc
            } else {
                alpha * acc + beta * *cij
            };
        }
    }
    Ok(())
}

fn check_matrix(what: &'static str, len: usize, rows: usize, cols: usize, ld: usize) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    if ld < cols {
        return Err(Error::Length {
            what,
            expected: cols,
            found: ld,
        });
    }
    let needed = (rows - 1) * ld + cols;
    if len < needed {
        return Err(Error::Length {
            what,
            expected: needed,
            found: len,
        });
    }
    Ok(())
}

/// `C (store) A * B^T` for `A: [M][K]`, `B: [N][K]`, `C: [M][N]`: dense forward
/// (`Y = X * W^T` with `W: [out][in]`).
pub fn matmul_a_bt<T: Scalar, const M: usize, const K: usize, const N: usize>(
    a: &[[T; K]; M],
    b: &[[T; K]; N],
    c: &mut [[T; N]; M],
    store: Store,
) {
    for (a_row, c_row) in a.iter().zip(c.iter_mut()) {
        for (b_row, cij) in b.iter().zip(c_row.iter_mut()) {
            let dot = a_row.iter().zip(b_row).map(|(&x, &y)| x * y).sum::<T>();
            store.apply(cij, dot);
        }
    }
}

/// `C (store) A * B` for `A: [M][K]`, `B: [K][N]`, `C: [M][N]`: dense input gradient
/// (`dX = dY * W`).
pub fn matmul_a_b<T: Scalar, const M: usize, const K: usize, const N: usize>(
    a: &[[T; K]; M],
    b: &[[T; N]; K],
    c: &mut [[T; N]; M],
    store: Store,
) {
    for (a_row, c_row) in a.iter().zip(c.iter_mut()) {
        let mut acc = [T::zero(); N];
        for (&aik, b_row) in a_row.iter().zip(b) {
            for (accj, &bkj) in acc.iter_mut().zip(b_row) {
                *accj += aik * bkj;
            }
        }
        for (cij, v) in c_row.iter_mut().zip(acc) {
            store.apply(cij, v);
        }
    }
}

/// `C (store) A^T * B` for `A: [K][M]`, `B: [K][N]`, `C: [M][N]`: dense weight gradient
/// (`dW = dY^T * X`).
pub fn matmul_at_b<T: Scalar, const M: usize, const K: usize, const N: usize>(
    a: &[[T; M]; K],
    b: &[[T; N]; K],
    c: &mut [[T; N]; M],
    store: Store,
) {
    for (i, c_row) in c.iter_mut().enumerate() {
        for (j, cij) in c_row.iter_mut().enumerate() {
            let dot = (0..K).map(|p| a[p][i] * b[p][j]).sum::<T>();
            store.apply(cij, dot);
        }
    }
}
