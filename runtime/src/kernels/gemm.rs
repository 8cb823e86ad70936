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
//! # Two implementations, one contract, no heap
//! - A portable, unpacked loop nest (`portable`): register-blocked tiles whose innermost loops
//!   run over contiguous memory for each transpose case, written so that the compiler
//!   vectorizes them. It needs no scratch, so it serves calls without any, `no_std` stack-only
//!   inference, and the small products where packing does not pay (see `prefers_packed` for the
//!   measured crossovers).
//! - A packed, cache-blocked GEMM (`packed`): blocks of `A` and `B` are copied into scratch the
//!   caller provides ([`gemm_packed`], sized by [`gemm_pack_len`]) and one register-tile kernel
//!   per instruction-set level runs every transpose case. It replaces matrixmultiply, which
//!   allocated its packing buffers on every call, at its speed on the reference workloads'
//!   products.
//!
//! Both pick AVX-512 or AVX2+FMA leaves at run time under `std` on x86-64 (cached CPUID), the
//! target's baseline otherwise (`leaf`). Neither ever allocates.
//!
//! Entry points: [`gemm`] and [`gemm_packed`] (slices, checked, return [`crate::Error`]) and
//! the typed wrappers [`matmul_a_bt`], [`matmul_a_b`], [`matmul_at_b`] (with `_packed`
//! variants) whose array types carry the shapes.
//!
//! # Speed
//! GFLOP/s (f32, release, AMD EPYC (Zen 4, family 25 model 17) with AVX-512, best of 15
//! interleaved rounds in one run of `cargo test --release -p monograd-runtime --test
//! gemm_speed -- --ignored --nocapture`; "auto" is [`gemm_packed`] with enough scratch,
//! choosing packed or unpacked; matrixmultiply 0.3.11 at its AVX-512 kernels, as a
//! dev-dependency of that measurement only; shapes as `m x k -> n`):
//!
//! | product (`m x k -> n`)                  | auto  | packed | matrixmultiply | portable |
//! |-----------------------------------------|-------|--------|----------------|----------|
//! | W1 forward 64 x 784 -> 256 `A*B^T`      | 88.9  | 90.3   | 78.3           | 69.9     |
//! | W1 forward 64 x 256 -> 128 `A*B^T`      | 89.7  | 89.8   | 75.3           | 60.0     |
//! | W1 forward 64 x 128 -> 10 `A*B^T`       | 40.2  | 24.7   | 26.5           | 40.1     |
//! | W1 dx 64 x 256 -> 784 `A*B`             | 99.9  | 100.7  | 100.5          | 96.0     |
//! | W1 dx 64 x 128 -> 256 `A*B`             | 106.7 | 106.7  | 100.0          | 100.8    |
//! | W1 dx 64 x 10 -> 128 `A*B`              | 82.2  | 82.3   | 74.2           | 38.1     |
//! | W1 dW 256 x 64 -> 784 `A^T*B`           | 106.5 | 107.7  | 108.6          | 80.5     |
//! | W1 dW 128 x 64 -> 256 `A^T*B`           | 107.8 | 107.9  | 105.5          | 80.5     |
//! | W1 dW 10 x 64 -> 128 `A^T*B`            | 79.6  | 50.9   | 43.6           | 79.4     |
//! | W4 conv2 forward 16 x 72 -> 196 `A*B`   | 72.6  | 72.6   | 76.1           | 72.6     |
//! | W4 conv2 dx 72 x 16 -> 196 `A^T*B`      | 82.4  | 82.5   | 73.0           | 47.1     |
//! | W4 conv2 dW 16 x 196 -> 72 `A*B^T`      | 48.7  | 41.6   | 40.4           | 48.7     |
//! | W4 conv1 dW 8 x 784 -> 9 `A*B^T`        | 61.9  | 5.1    | 14.0           | 61.9     |
//! | W4 dense forward 32 x 784 -> 10 `A*B^T` | 57.9  | 19.4   | 25.2           | 57.8     |
//! | W4 dense dx 32 x 10 -> 784 `A*B`        | 80.1  | 80.1   | 84.2           | 38.8     |
//! | W4 dense dW 10 x 32 -> 784 `A^T*B`      | 66.3  | 51.6   | 43.1           | 65.9     |
//!
//! Summed over a step (W1: the eight products of batch 64, the first layer has no `dx`; W4:
//! the convolution products of 32 samples and the dense layer), auto takes 663 us on W1 and
//! 752 us on W4's products, matrixmultiply 714 us and 1041 us, the portable loops alone 861 us
//! and 890 us. Differences of a few percent are within the run-to-run noise (a shared 2-core
//! virtual machine).

mod leaf;
mod packed;
pub(crate) use packed::{Product, RowOffsets};
mod portable;
pub(crate) use portable::{Segmented, SegmentedRows};
#[cfg(test)]
mod tests;
mod transpose;
pub(crate) use transpose::gather_columns_f32;
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
    /// The packed kernels above the measured crossovers when the scratch suffices, portable
    /// otherwise; the typed wrappers also inline tiny products.
    Auto,
    /// The heap-free loop nest, whatever the size, on the widest instruction set available.
    Portable,
    /// The heap-free loop nest compiled for the target's baseline instruction set (what no_std
    /// builds and CPUs without AVX2/FMA run).
    PortableBaseline,
    /// The heap-free loop nest with at most AVX2 and FMA (baseline where the CPU lacks them).
    PortableAvx2,
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
        b_rows: None,
    };
    T::gemm_kernels(backend, product, c, pack);
    Ok(())
}

/// Whether [`gemm_packed`] runs `A * B` of these dims on the packed kernels with `pack_len`
/// elements of scratch on this CPU: when [`gemm_packed_rows`] does.
pub(crate) fn gemm_packs_rows<T: Scalar>(
    (m, n, k): (usize, usize, usize),
    pack_len: usize,
) -> bool {
    let no = Transpose::No;
    m > 0
        && n > 0
        && k > 0
        && packs_on(packed_rules(), no, no, m, n, k)
        && pack_len >= gemm_pack_len::<T>(no, no, m, n, k)
}

/// `C <- A B + beta C` for `A` (`m x k`, row-major with `lda`), `C` (with `ldc`) and a `B`
/// (`k x n`) whose row `q` is `b[rows.row_start(q)..][..n]`, when [`gemm_packed`] would run this
/// product on the packed kernels with `pack`: they pack `B` from those rows (the same panels as
/// from a gathered `B`, so the same result bit for bit). Returns `false`, touching nothing,
/// otherwise (the portable path, or `pack` too short) and when an operand is too short or a
/// dimension is 0: the caller then gathers `B` and calls [`gemm_packed`].
pub(crate) fn gemm_packed_rows<T: Scalar>(
    (m, n, k): (usize, usize, usize),
    (a, lda): (&[T], usize),
    (b, rows): (&[T], packed::RowOffsets),
    beta: T,
    (c, ldc): (&mut [T], usize),
    pack: &mut [T],
) -> bool {
    let no = Transpose::No;
    if !gemm_packs_rows::<T>((m, n, k), pack.len()) || rows.radices.contains(&0) {
        return false;
    }
    if check_matrix("", "", a.len(), m, k, lda).is_err()
        || check_matrix("", "", c.len(), m, n, ldc).is_err()
    {
        return false;
    }
    if rows
        .last_start(k)
        .checked_add(n)
        .is_none_or(|end| end > b.len())
    {
        return false;
    }
    let product = packed::Product {
        transa: no,
        transb: no,
        m,
        n,
        k,
        alpha: T::one(),
        a,
        lda,
        b,
        ldb: n,
        beta,
        ldc,
        b_rows: Some(rows),
    };
    T::gemm_kernels(GemmBackend::Auto, product, c, pack);
    true
}

/// `C <- sum_s A_s B_s^T + beta C` over `segments` segments of `len` elements of `k`, where
/// `A_s` (`m x len`) and `B_s` (`n x len`) have their rows at offsets ([`SegmentedRows`]): the
/// product `A B^T` of the matrices with the segments side by side along `k`, without gathering
/// them. The weight gradient of a convolution is so over samples, its `B` rows read from
/// shifted copies of the input channels (`ops::conv`).
///
/// Runs the dot-product kernels of the portable `A * B^T` with its tiles and lanes, each
/// partial sum carried across a group of segments (as many as keep a tile's rows in L1) and
/// reduced once per group; a segment's last `len mod L` products are added as chunks padded
/// with zeros. So the sum differs in rounding from the gathered product, not in what it adds.
/// Returns `false`, touching nothing, when a dimension is 0 or an operand or `C` is too short.
pub(crate) fn gemm_nt_segments<T: Scalar>(
    (m, n, len, segments): (usize, usize, usize, usize),
    a: SegmentedRows<'_, T>,
    b: SegmentedRows<'_, T>,
    beta: T,
    (c, ldc): (&mut [T], usize),
) -> bool {
    gemm_nt_segments_at(
        leaf::Level::Avx512,
        (m, n, len, segments),
        a,
        b,
        beta,
        (c, ldc),
    )
}

/// [`gemm_nt_segments`] on leaves of at most `level`.
fn gemm_nt_segments_at<T: Scalar>(
    level: leaf::Level,
    (m, n, len, segments): (usize, usize, usize, usize),
    a: SegmentedRows<'_, T>,
    b: SegmentedRows<'_, T>,
    beta: T,
    (c, ldc): (&mut [T], usize),
) -> bool {
    if m == 0 || n == 0 || segments == 0 || len == 0 {
        return false;
    }
    // The last segment's farthest row must end within its operand.
    let fits = |x: &SegmentedRows<'_, T>, rows: usize| {
        if x.rows.radices.contains(&0) {
            return false;
        }
        (segments - 1)
            .checked_mul(x.segment)
            .and_then(|v| v.checked_add(x.rows.last_start(rows)))
            .and_then(|v| v.checked_add(len))
            .is_some_and(|end| end <= x.data.len())
    };
    if !fits(&a, m) || !fits(&b, n) || check_matrix("", "", c.len(), m, n, ldc).is_err() {
        return false;
    }
    let product = Segmented {
        m,
        n,
        len,
        segments,
        a,
        b,
        beta,
        ldc,
        level,
    };
    T::segment_kernels(product, c);
    true
}

/// The kernels of a checked [`gemm_nt_segments`] product (instantiated by the sealed part of
/// [`Scalar`], like [`run_kernels`]).
pub(crate) fn run_segment_kernels<T: Scalar>(product: Segmented<'_, T>, c: &mut [T]) {
    portable::nt_segments(product, c);
}

/// Whether the `A * B^T` of these dims runs on the packed kernels given the scratch (on any
/// CPU: their rule for this case does not depend on it); where it does not, it runs the same
/// dot-product kernels as [`gemm_nt_segments`].
pub(crate) const fn gemm_nt_packs(m: usize, n: usize, k: usize) -> bool {
    packs_on(PackedRules::Avx512, Transpose::No, Transpose::Yes, m, n, k)
}

/// The kernels of a checked product with no zero dimension and `alpha != 0`: the packed GEMM
/// when the backend and the size call for it and `pack` is long enough, else the portable loops.
///
/// Generic, but instantiated only by the `f32` and `f64` impls of the sealed part of [`Scalar`]
/// (`gemm_kernels`), which are not generic: the kernels are compiled once, with this crate,
/// instead of again in every crate that calls the generic wrappers above (in a release build,
/// where generic code is not shared between crates, that was most of the time a user's crate
/// took to rebuild after an edit of its network).
pub(crate) fn run_kernels<T: Scalar>(
    backend: GemmBackend,
    product: packed::Product<'_, T>,
    c: &mut [T],
    pack: &mut [T],
) {
    let packed::Product {
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
        b_rows,
    } = product;
    if b_rows.is_some() {
        // Only the packed kernels read rows at offsets; `gemm_packed_rows` checked that they
        // run (their rules, the scratch), so `packed::gemm` does not decline.
        let ran = packed::gemm(leaf::Level::Avx512, product, c, pack);
        debug_assert!(ran, "gemm: a product with row offsets on the portable path");
        return;
    }
    let packed_level = match backend {
        GemmBackend::Auto if packs_on(packed_rules(), transa, transb, m, n, k) => {
            Some(leaf::Level::Avx512)
        }
        GemmBackend::Packed => Some(leaf::Level::Avx512),
        GemmBackend::PackedAvx2 => Some(leaf::Level::Avx2Fma),
        GemmBackend::PackedBaseline => Some(leaf::Level::Baseline),
        _ => None,
    };
    if let Some(level) = packed_level {
        if packed::gemm(level, product, c, pack) {
            return;
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
/// level, best of 9 interleaved rounds in one run; ratio = portable time / packed time, > 1: packed wins;
/// layer shapes as `batch x in -> out`, whose forward is `A * B^T` (m = batch, k = in,
/// n = out), input gradient `A * B` (m = batch, k = out, n = in) and weight gradient
/// `A^T * B` (m = out, k = batch, n = in)):
///
/// | layer            | `A * B^T` | `A * B` | `A^T * B` |
/// |------------------|-----------|---------|-----------|
/// | 1 x 784 -> 256   | 0.12      | 0.14    | 5.27      |
/// | 8 x 784 -> 256   | 0.54      | 0.72    | 2.58      |
/// | 16 x 784 -> 256  | 0.80      | 0.94    | 1.93      |
/// | 32 x 784 -> 256  | 1.07      | 1.10    | 1.54      |
/// | 64 x 784 -> 256  | 1.27      | 1.17    | 1.31      |
/// | 8 x 64 -> 64     | 1.09      | 0.81    | 2.61      |
/// | 16 x 64 -> 64    | 1.55      | 0.96    | 1.87      |
/// | 32 x 64 -> 64    | 2.05      | 1.07    | 1.42      |
/// | 4 x 128 -> 10    | 0.14      | 0.78    | 1.64      |
/// | 8 x 128 -> 10    | 0.29      | 1.60    | 1.36      |
/// | 16 x 128 -> 10   | 0.41      | 1.85    | 0.97      |
/// | 32 x 128 -> 10   | 0.53      | 2.05    | 0.78      |
/// | 2 x 10 -> 64     | 0.96      | 0.41    | 1.97      |
/// | 4 x 10 -> 64     | 1.25      | 0.29    | 1.73      |
/// | 32 x 10 -> 64    | 1.86      | 1.11    | 1.08      |
/// | 1 x 8 -> 8       | 0.20      | 0.19    | 1.00      |
/// | 8 x 8 -> 8       | 0.62      | 0.46    | 0.53      |
/// | 16 x 256 -> 128  | 0.94      | 0.90    | 1.84      |
/// | 32 x 256 -> 128  | 1.24      | 1.20    | 1.46      |
///
/// and W4's convolution products (`m x k -> n`, from the GFLOP/s table in the module docs):
/// 16 x 72 -> 196 `A * B` 1.04 (even; left unpacked), 72 x 16 -> 196 `A^T * B` 1.77,
/// 16 x 196 -> 72 `A * B^T` 0.77. Hence the rules below (`A^T * B^T`, unused by the layers,
/// takes the `A * B` rule on `C^T = B * A`, as the portable path computes it).
/// The table comes from `cargo test --release -p monograd-runtime --test gemm_speed --
/// --ignored --nocapture` (`gemm_crossover`).
///
/// Where the packed kernels run at most AVX2 (their tiles 6 x 16 instead of 8 x 32), packing
/// pays off sooner in `A * B` and `A^T * B` ([`PackedRules::Avx2`]). The same table on an AMD
/// EPYC Zen 3 (AVX2 and FMA, no AVX-512), with the 4-row dot tiles of `A * B^T`:
///
/// | layer            | `A * B^T` | `A * B` | `A^T * B` |
/// |------------------|-----------|---------|-----------|
/// | 8 x 784 -> 256   | 0.56      | 0.94    | 2.34      |
/// | 12 x 784 -> 256  | 0.74      | 1.25    | 2.25      |
/// | 16 x 784 -> 256  | 0.75      | 1.26    | 2.14      |
/// | 8 x 64 -> 64     | 1.21      | 0.97    | 2.19      |
/// | 12 x 64 -> 64    | 1.60      | 1.27    | 2.03      |
/// | 8 x 128 -> 10    | 0.30      | 1.32    | 1.52      |
/// | 32 x 128 -> 10   | 0.54      | 1.90    | 1.21      |
/// | 64 x 128 -> 10   | 0.63      | 2.02    | 1.12      |
/// | 8 x 10 -> 64     | 1.38      | 0.92    | 1.69      |
/// | 12 x 10 -> 64    | 1.64      | 1.26    | 1.69      |
/// | 12 x 8 -> 8      | 0.68      | 0.52    | 0.53      |
/// | 8 x 256 -> 128   | 0.73      | 1.03    | 2.35      |
/// | 16 x 256 -> 128  | 0.95      | 1.33    | 2.17      |
///
/// and W4's second convolution forward, 16 x 72 -> 196 `A * B` (32 samples): 344 us portable,
/// 256 us packed (1.35).
#[inline]
const fn prefers_packed(
    transa: Transpose,
    transb: Transpose,
    m: usize,
    n: usize,
    k: usize,
) -> bool {
    packs_on(PackedRules::Avx512, transa, transb, m, n, k)
        || packs_on(PackedRules::Avx2, transa, transb, m, n, k)
}

/// Which measured crossovers [`packs_on`] applies: those of the CPU the packed kernels run on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PackedRules {
    /// Tiles of 8 x 32 (`f32`): AVX-512 CPUs, and the baseline level (never measured apart).
    Avx512,
    /// Tiles of 6 x 16: CPUs with AVX2 and FMA but not AVX-512.
    Avx2,
}

/// The rules for this CPU (a cached CPUID query).
#[inline]
fn packed_rules() -> PackedRules {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if leaf::Avx512::detect().is_none() && leaf::Avx2Fma::detect().is_some() {
        return PackedRules::Avx2;
    }
    PackedRules::Avx512
}

/// Whether the packed kernels beat the portable path for these dims under `rules` (see
/// [`prefers_packed`], which asks whether they do on any CPU, to size scratch at compile time).
#[inline]
const fn packs_on(
    rules: PackedRules,
    transa: Transpose,
    transb: Transpose,
    m: usize,
    n: usize,
    k: usize,
) -> bool {
    // Rows of `A * B` (and `A^T * B` outputs) from which packing pays at any depth.
    let (rank1_rows, at_b_rows) = match rules {
        PackedRules::Avx512 => (32, 16),
        PackedRules::Avx2 => (12, 10),
    };
    match (transa, transb) {
        (Transpose::No, Transpose::Yes) => {
            n >= 32 && (m >= 32 || (m >= 8 && k <= 64) || (m >= 4 && k <= 16))
        }
        (Transpose::Yes, Transpose::No) => n >= 10 && (m >= at_b_rows || k <= 16),
        (Transpose::No, Transpose::No) => rank1_prefers_packed(rank1_rows, m, n, k),
        (Transpose::Yes, Transpose::Yes) => rank1_prefers_packed(rank1_rows, n, m, k),
    }
}

/// The rule of [`packs_on`] for `A * B`, packing from `rows` rows of `C` on.
#[inline]
const fn rank1_prefers_packed(rows: usize, m: usize, n: usize, k: usize) -> bool {
    (n >= 32 && m >= 8 && k <= 16) || (n >= 10 && m >= rows)
}

/// `(rows, cols)` of a matrix as stored, given the shape `rows x cols` of `op(X)`.
#[inline]
fn stored_shape(trans: Transpose, rows: usize, cols: usize) -> (usize, usize) {
    match trans {
        Transpose::No => (rows, cols),
        Transpose::Yes => (cols, rows),
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
