//! General matrix multiply `C <- alpha * op(A) * op(B) + beta * C`.
//!
//! # Data model
//! Every matrix is row-major: element `(r, c)` of a matrix stored with leading dimension `ld`
//! is at index `r * ld + c` of its slice (BLAS's `lda`, `ldb`, `ldc`, in row-major order), and
//! `ld >= columns`. `op(X)` is `X` or `X^T` ([`Transpose`]); `op(A)` is `m x k`, `op(B)` is
//! `k x n`, `C` is `m x n`. `A` and `B` are shared and `C` exclusive, so `C` aliases neither.
//! When `beta == 0`, `C` is write-only: its previous contents (NaN included) never reach the
//! result. When `alpha == 0` or `k == 0`, `A` and `B` are not read (`C <- beta * C`).
//!
//! # Two implementations, one contract
//! - A portable, heap-free loop nest (`portable`): register-blocked tiles whose innermost loops
//!   run over contiguous memory for each transpose case, written so that the compiler
//!   vectorizes them. It is the only path without `std` and serves small products under `std`.
//! - matrixmultiply (feature `std`): packed, cache-blocked micro-kernels with run-time CPU
//!   feature detection (AVX2/FMA, AVX-512). It allocates packing buffers on every call, which is
//!   why small products (batch-1 inference, tiny layers, the first rows of a batch) stay on the
//!   portable path; see `prefers_matrixmultiply` for the measured crossover.
//!
//! Entry points: [`gemm`] (slices, checked, returns [`crate::Error`]) and the typed wrappers
//! [`matmul_a_bt`], [`matmul_a_b`], [`matmul_at_b`] whose array types carry the shapes.

mod leaf;
mod packed;
mod portable;
#[cfg(test)]
mod tests;
mod typed;

pub use typed::{
    matmul_a_b, matmul_a_b_pack_len, matmul_a_b_packed, matmul_a_bt, matmul_a_bt_pack_len,
    matmul_a_bt_packed, matmul_at_b, matmul_at_b_pack_len, matmul_at_b_packed,
};
#[doc(hidden)]
pub use typed::{matmul_a_b_with_backend, matmul_a_bt_with_backend, matmul_at_b_with_backend};

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

/// Which implementation a product runs on. Only for tests and measurements: every public entry
/// point uses [`GemmBackend::Auto`].
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GemmBackend {
    /// matrixmultiply above the measured size threshold (with `std`), portable below; the typed
    /// wrappers also inline tiny products.
    Auto,
    /// The heap-free loop nest, whatever the size, on the widest instruction set available.
    Portable,
    /// The heap-free loop nest compiled for the target's baseline instruction set (what no_std
    /// builds and CPUs without AVX2/FMA run).
    PortableBaseline,
    /// The heap-free loop nest with at most AVX2 and FMA (baseline where the CPU lacks them).
    PortableAvx2,
    /// matrixmultiply, whatever the size.
    #[cfg(feature = "std")]
    MatrixMultiply,
    /// The packed GEMM whatever the size (portable when the scratch is too short), on the
    /// widest instruction set available.
    Packed,
    /// The packed GEMM on the target's baseline instruction set.
    PackedBaseline,
    /// The packed GEMM with at most AVX2 and FMA.
    PackedAvx2,
}

/// `C <- alpha * op(A) * op(B) + beta * C`, row-major with leading dimensions (BLAS-style).
///
/// `op(A)` is `m x k`, `op(B)` is `k x n`, `C` is `m x n`. `A` is stored `m x k` with row stride
/// `lda` when `transa == No`, else `k x m`; likewise `B`. `C` has row stride `ldc`. When
/// `beta == 0`, `C` is not read (NaN in `C` does not propagate); when `alpha == 0` or `k == 0`,
/// `A` and `B` are not read.
///
/// # Errors
/// - [`Error::InvalidParameter`] when a leading dimension is smaller than the row length of its
///   matrix as stored (e.g. `lda < k` for `transa == No`, `lda < m` for `transa == Yes`).
/// - [`Error::Length`] when a slice is shorter than its dims and leading dimension need
///   (`(rows - 1) * ld + columns` elements).
///
/// A matrix with no elements (a zero dimension) accepts any slice and leading dimension.
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
    gemm_with_backend(
        GemmBackend::Auto,
        transa,
        transb,
        m,
        n,
        k,
        alpha,
        a,
        lda,
        b,
        ldb,
        beta,
        c,
        ldc,
        &mut [],
    )
}

/// [`gemm`] with caller-provided scratch `pack` for the packed, cache-blocked kernels: never
/// allocates. Large products copy blocks of `A` and `B` into `pack` (contents ignored on entry,
/// unspecified on return) and run the fastest kernels; with less than
/// [`gemm_pack_len`]`(transa, transb, m, n, k)` elements (an empty slice included), or for
/// products too small to gain from packing, it runs the unpacked loops, with the same result
/// up to rounding.
///
/// # Errors
/// As [`gemm`]; the scratch length is never an error.
#[allow(clippy::too_many_arguments)]
pub fn gemm_packed<T: Scalar>(
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
    pack: &mut [T],
) -> Result<()> {
    gemm_with_backend(
        GemmBackend::Auto,
        transa,
        transb,
        m,
        n,
        k,
        alpha,
        a,
        lda,
        b,
        ldb,
        beta,
        c,
        ldc,
        pack,
    )
}

/// Elements of scratch [`gemm_packed`] needs to run an `op(A) op(B)` product of `m x k` by
/// `k x n` on its packed kernels, on whichever CPU level this build picks at run time (so a
/// buffer sized once works on every machine). Bounded by the blocking, whatever the dims:
/// at most 155,648 elements (608 KB of f32); small products need little (`(m + n) k` rounded
/// up to whole tiles), and 0 when a dimension is 0.
pub const fn gemm_pack_len<T: Scalar>(
    transa: Transpose,
    transb: Transpose,
    m: usize,
    n: usize,
    k: usize,
) -> usize {
    let _ = (transa, transb);
    packed::pack_len(T::BYTES, m, n, k)
}

/// [`gemm`] on a chosen implementation (tests and measurements).
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn gemm_with_backend<T: Scalar>(
    backend: GemmBackend,
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
    pack: &mut [T],
) -> Result<()> {
    let (a_rows, a_cols) = stored_shape(transa, m, k);
    let (b_rows, b_cols) = stored_shape(transb, k, n);
    check_matrix("gemm: A", "gemm: lda", a.len(), a_rows, a_cols, lda)?;
    check_matrix("gemm: B", "gemm: ldb", b.len(), b_rows, b_cols, ldb)?;
    check_matrix("gemm: C", "gemm: ldc", c.len(), m, n, ldc)?;

    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 || alpha == T::zero() {
        scale(m, n, beta, c, ldc);
        return Ok(());
    }
    let packed_level = match backend {
        GemmBackend::Auto if prefers_packed(transa, transb, m, n, k) => Some(leaf::Level::Avx512),
        GemmBackend::Packed => Some(leaf::Level::Avx512),
        GemmBackend::PackedAvx2 => Some(leaf::Level::Avx2Fma),
        GemmBackend::PackedBaseline => Some(leaf::Level::Baseline),
        _ => None,
    };
    if let Some(level) = packed_level {
        let product = packed::Product {
            transa,
            transb,
            m,
            n,
            k,
            alpha,
            a,
            lda,
            b,
            ldb,
            beta,
            ldc,
        };
        if packed::gemm(level, product, c, pack) {
            return Ok(());
        }
    }
    #[cfg(feature = "std")]
    {
        let use_matrixmultiply = match backend {
            GemmBackend::Auto => pack.is_empty() && prefers_matrixmultiply(transa, transb, m, n, k),
            GemmBackend::MatrixMultiply => true,
            _ => false,
        };
        if use_matrixmultiply {
            let (rsa, csa) = strides(transa, lda, a_rows);
            let (rsb, csb) = strides(transb, ldb, b_rows);
            let (rsc, csc) = strides(Transpose::No, ldc, m);
            // SAFETY: `check_matrix` verified above that each slice holds every element its dims
            // and leading dimension address: `(rows - 1) * ld + cols <= len`, computed without
            // overflow, with m, n, k > 0. `strides` maps op(X)'s (row, col) to exactly those
            // elements, and only returns a stride that is used (rows > 1) and is at most the
            // slice length, so it fits in `isize`. `c` is a `&mut` slice, so it aliases neither
            // `a` nor `b`, and `ldc >= n` makes distinct elements of C distinct memory.
            unsafe {
                T::matrixmultiply_gemm(
                    m,
                    k,
                    n,
                    alpha,
                    a.as_ptr(),
                    rsa,
                    csa,
                    b.as_ptr(),
                    rsb,
                    csb,
                    beta,
                    c.as_mut_ptr(),
                    rsc,
                    csc,
                );
            }
            return Ok(());
        }
    }
    let max_level = match backend {
        GemmBackend::PortableBaseline | GemmBackend::PackedBaseline => leaf::Level::Baseline,
        GemmBackend::PortableAvx2 | GemmBackend::PackedAvx2 => leaf::Level::Avx2Fma,
        _ => leaf::Level::Avx512,
    };
    portable::gemm(
        max_level, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
    );
    Ok(())
}

/// Whether a product of these dims is faster on matrixmultiply than on the portable path.
///
/// matrixmultiply packs both operands on every call, so it only pays off once each packed
/// element is reused enough: every dimension must be past a small minimum. Measured (release,
/// f32, 2-core Xeon with AVX-512, portable leaves at AVX-512; ratio = portable time /
/// matrixmultiply time, both in one run, shapes as `m x k -> n`; > 1 means matrixmultiply wins):
///
/// | `A * B^T` (dense forward)     | ratio | `A * B`, `A^T * B` (backward) | ratio     |
/// |-------------------------------|-------|-------------------------------|-----------|
/// | 1 x 784 -> 256 (batch 1)      | 0.17  | 1 x 784 -> 256                | 0.17-0.18 |
/// | 4 x 784 -> 256                | 0.35  | 4 x 784 -> 256                | 0.25      |
/// | 8 x 64 -> 64                  | 1.0   | 8 x 64 -> 64                  | 0.6       |
/// | 8 x 784 -> 256                | 0.72  | 12 x 64 -> 64                 | 0.7-0.85  |
/// | 12 x 64 -> 64                 | 1.4   | 16 x 64 -> 64                 | 1.0-1.5   |
/// | 16 x 128 -> 10                | 0.66  | 16 x 128 -> 10                | 1.6-2.0   |
/// | 16 x 10 -> 64                 | 2.4   | 16 x 8 -> 8                   | 0.55      |
/// | 64 x 784 -> 256 (batch 64)    | 1.8-2.5 | 64 x 784 -> 256             | 1.3-1.9 |
///
/// Peak rates: portable about 50 GFLOP/s (`A * B^T`) and 80 GFLOP/s (`A * B`, `A^T * B`),
/// matrixmultiply 120-160 GFLOP/s on large products. Hence the crossovers below; `A^T * B^T`
/// (unused by the layers) takes the `A * B` rule on `C^T = B * A`.
#[cfg(feature = "std")]
#[inline]
fn prefers_matrixmultiply(
    transa: Transpose,
    transb: Transpose,
    m: usize,
    n: usize,
    k: usize,
) -> bool {
    match (transa, transb) {
        (Transpose::No, Transpose::Yes) => m >= 12 && n >= 16 && k >= 8,
        (Transpose::Yes, Transpose::Yes) => n >= 16 && m >= 8 && k >= 12,
        _ => m >= 16 && n >= 8 && k >= 12,
    }
}

/// Elements of scratch [`gemm_packed`] uses for this product: [`gemm_pack_len`] when it takes
/// the packed kernels, 0 when it runs the unpacked loops whatever the scratch.
pub(crate) const fn auto_pack_len<T: Scalar>(
    transa: Transpose,
    transb: Transpose,
    m: usize,
    n: usize,
    k: usize,
) -> usize {
    if prefers_packed(transa, transb, m, n, k) {
        gemm_pack_len::<T>(transa, transb, m, n, k)
    } else {
        0
    }
}

/// Whether a product of these dims is faster on the packed kernels than on the portable path
/// (given enough scratch).
///
/// Packing copies both operands once per call, and the packed tiles are 8 x 32 (AVX-512, f32):
/// a product pays off once each copied element is reused enough and the tiles are not mostly
/// padding. The portable path's dot products (`A * B^T`) are good with a long `k`; its rank-1
/// tiles store through baseline code, which makes the packed kernels win even for a tiny `k`
/// in `A^T * B`. Measured (release, f32, AMD EPYC (Zen 4) with AVX-512, both at their widest
/// level, best of 9 interleaved rounds; ratio = portable time / packed time, > 1: packed wins;
/// layer shapes as `batch x in -> out`, whose forward is `A * B^T` (m = batch, k = in,
/// n = out), input gradient `A * B` (m = batch, k = out, n = in) and weight gradient
/// `A^T * B` (m = out, k = batch, n = in)):
///
/// | layer            | `A * B^T` | `A * B` | `A^T * B` |
/// |------------------|-----------|---------|-----------|
/// | 1 x 784 -> 256   | 0.09      | 0.13    | 5.26      |
/// | 8 x 784 -> 256   | 0.37      | 0.81    | 3.05      |
/// | 32 x 784 -> 256  | 0.86      | 1.04    | 1.56      |
/// | 64 x 784 -> 256  | 1.07      | 1.45    | 1.35      |
/// | 8 x 64 -> 64     | 1.04      | 0.74    | 2.60      |
/// | 32 x 64 -> 64    | 1.87      | 0.94    | 1.36      |
/// | 4 x 128 -> 10    | 0.15      | 0.85    | 1.62      |
/// | 8 x 128 -> 10    | 0.27      | 1.74    | 1.33      |
/// | 32 x 128 -> 10   | 0.45      | 2.02    | 0.76      |
/// | 2 x 10 -> 64     | 0.98      | 0.45    | 1.90      |
/// | 4 x 10 -> 64     | 1.18      | 0.32    | 1.54      |
/// | 32 x 10 -> 64    | 1.85      | 1.04    | 1.06      |
/// | 1 x 8 -> 8       | 0.23      | 0.21    | 1.14      |
/// | 8 x 8 -> 8       | 0.63      | 0.48    | 0.48      |
/// | 32 x 256 -> 128  | 1.01      | 0.97    | 1.79      |
///
/// and W4's convolution products (`m x k -> n`): 16 x 72 -> 196 `A * B` 0.96, 72 x 16 -> 196
/// `A^T * B` 1.75, 16 x 196 -> 72 `A * B^T` 0.81. Hence the rules below (`A^T * B^T`, unused
/// by the layers, takes the `A * B` rule on `C^T = B * A`, as the portable path computes it).
/// The table comes from `cargo test --release -p monograd-runtime --test gemm_speed --
/// --ignored --nocapture` (`gemm_crossover`).
#[inline]
const fn prefers_packed(
    transa: Transpose,
    transb: Transpose,
    m: usize,
    n: usize,
    k: usize,
) -> bool {
    match (transa, transb) {
        (Transpose::No, Transpose::Yes) => {
            n >= 32
                && (m >= 48 || (m >= 32 && k <= 256) || (m >= 8 && k <= 64) || (m >= 4 && k <= 16))
        }
        (Transpose::Yes, Transpose::No) => n >= 10 && (m >= 16 || k <= 16),
        (Transpose::No, Transpose::No) => rank1_prefers_packed(m, n, k),
        (Transpose::Yes, Transpose::Yes) => rank1_prefers_packed(n, m, k),
    }
}

/// The rule of [`prefers_packed`] for `A * B`.
#[inline]
const fn rank1_prefers_packed(m: usize, n: usize, k: usize) -> bool {
    n >= 32 && ((m >= 8 && k <= 16) || m >= 48 || (m >= 32 && k >= 192))
}

/// `(rows, cols)` of a matrix as stored, given the shape `rows x cols` of `op(X)`.
#[inline]
fn stored_shape(trans: Transpose, rows: usize, cols: usize) -> (usize, usize) {
    match trans {
        Transpose::No => (rows, cols),
        Transpose::Yes => (cols, rows),
    }
}

/// Row and column strides of `op(X)` in elements, for a matrix stored with `stored_rows` rows and
/// leading dimension `ld` (already checked against the slice length when `stored_rows > 1`).
#[cfg(feature = "std")]
#[inline]
fn strides(trans: Transpose, ld: usize, stored_rows: usize) -> (isize, isize) {
    // With a single stored row the leading dimension never multiplies a non-zero index, and it
    // may exceed `isize::MAX` (nothing bounds it by a slice length then): pass 0 instead.
    let ld = if stored_rows > 1 { ld as isize } else { 0 };
    match trans {
        Transpose::No => (ld, 1),
        Transpose::Yes => (1, ld),
    }
}

/// Checks that a `rows x cols` matrix with leading dimension `ld` fits in a slice of `len`.
fn check_matrix(
    what: &'static str,
    ld_name: &'static str,
    len: usize,
    rows: usize,
    cols: usize,
    ld: usize,
) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    if ld < cols {
        return Err(Error::InvalidParameter {
            name: ld_name,
            value: ld as f64,
            expected: ">= the row length of the matrix as stored (k or n when not transposed, \
                       m or k when transposed)",
        });
    }
    // No slice can hold more than isize::MAX bytes, so an overflowing extent is simply too long.
    let needed = (rows - 1)
        .checked_mul(ld)
        .and_then(|v| v.checked_add(cols))
        .unwrap_or(usize::MAX);
    if len < needed {
        return Err(Error::Length {
            what,
            expected: needed,
            found: len,
        });
    }
    Ok(())
}

/// `C <- beta * C` for an `m x n` matrix; with `beta == 0`, `C <- 0` without reading `C`.
fn scale<T: Scalar>(m: usize, n: usize, beta: T, c: &mut [T], ldc: usize) {
    if beta == T::one() {
        return;
    }
    for i in 0..m {
        let row = &mut c[i * ldc..][..n];
        if beta == T::zero() {
            row.fill(T::zero());
        } else {
            for v in row {
                *v *= beta;
            }
        }
    }
}
