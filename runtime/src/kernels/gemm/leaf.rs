//! The innermost loops of the portable GEMM, and their CPU-feature specializations.
//!
//! A leaf computes one register tile over a stretch of `k` and returns it; the drivers in
//! `portable` store it. Leaves are never inlined into the drivers: in one function with the lane
//! reduction or the store to `C`, LLVM's SLP vectorizer pairs up elements of different
//! accumulators and emits shuffles instead of straight vector arithmetic.
//!
//! Each leaf body is generic and `#[inline(always)]`; [`Baseline`] compiles it for the target's
//! baseline instruction set (SSE2 on x86-64, whatever the target has elsewhere). Under `std` on
//! x86-64, [`Avx2Fma`] compiles the same bodies with AVX2 and FMA enabled (selected at run time,
//! so binaries stay portable), which doubles the vector width and fuses each multiply-add, and
//! [`Avx512`] with AVX-512F as well (four times the baseline width).

use crate::Scalar;

/// Instruction-set levels of the leaves, narrowest first. Only x86-64 under `std` has levels
/// above [`Level::Baseline`]; elsewhere every level runs the baseline leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Level {
    /// [`Baseline`].
    Baseline,
    /// `Avx2Fma` (x86-64 with AVX2 and FMA).
    Avx2Fma,
    /// `Avx512` (x86-64 with AVX-512F).
    Avx512,
}

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

/// Leaves compiled for the target's baseline instruction set.
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

/// Leaves compiled with AVX2 and FMA. A value exists only on a CPU that has both
/// ([`Avx2Fma::detect`]), which is what makes calling them sound.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[derive(Clone, Copy)]
pub(super) struct Avx2Fma {
    _detected: (),
}

#[cfg(all(feature = "std", target_arch = "x86_64"))]
impl Avx2Fma {
    /// `Some` when this CPU supports AVX2 and FMA (std caches the CPUID query).
    #[inline]
    pub(super) fn detect() -> Option<Self> {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            Some(Avx2Fma { _detected: () })
        } else {
            None
        }
    }
}

#[cfg(all(feature = "std", target_arch = "x86_64"))]
impl Leaf for Avx2Fma {
    #[inline]
    fn broadcast_tile<T: Scalar, const R: usize, const W: usize, const XT: bool>(
        self,
        x: &[T],
        ldx: usize,
        y: &[T],
        ldy: usize,
        kc: usize,
    ) -> [[T; W]; R] {
        // SAFETY: `self` exists only if `Avx2Fma::detect` found AVX2 and FMA on this CPU, the
        // only requirement of a `#[target_feature(enable = "avx2,fma")]` function; the body is
        // safe Rust.
        unsafe { avx2_fma::broadcast_tile::<T, R, W, XT>(x, ldx, y, ldy, kc) }
    }

    #[inline]
    fn dot_partials<T: Scalar, const L: usize, const R: usize, const W: usize>(
        self,
        a: &[&[T]; R],
        b: &[&[T]; W],
    ) -> [[[T; L]; W]; R] {
        // SAFETY: as in `broadcast_tile` above: the CPU has AVX2 and FMA.
        unsafe { avx2_fma::dot_partials::<T, L, R, W>(a, b) }
    }
}

/// The leaf bodies compiled with AVX2 and FMA enabled.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
mod avx2_fma {
    use super::{broadcast_tile_body, dot_partials_body};
    use crate::Scalar;

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn broadcast_tile<T: Scalar, const R: usize, const W: usize, const XT: bool>(
        x: &[T],
        ldx: usize,
        y: &[T],
        ldy: usize,
        kc: usize,
    ) -> [[T; W]; R] {
        broadcast_tile_body::<T, R, W, XT, true>(x, ldx, y, ldy, kc)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn dot_partials<T: Scalar, const L: usize, const R: usize, const W: usize>(
        a: &[&[T]; R],
        b: &[&[T]; W],
    ) -> [[[T; L]; W]; R] {
        dot_partials_body::<T, L, R, W, true>(a, b)
    }
}

/// Leaves compiled with AVX-512F, AVX2 and FMA. A value exists only on a CPU that has both
/// ([`Avx512::detect`]), which is what makes calling them sound.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[derive(Clone, Copy)]
pub(super) struct Avx512 {
    _detected: (),
}

#[cfg(all(feature = "std", target_arch = "x86_64"))]
impl Avx512 {
    /// `Some` when this CPU supports AVX-512F, AVX2 and FMA (std caches the CPUID query).
    #[inline]
    pub(super) fn detect() -> Option<Self> {
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
        {
            Some(Avx512 { _detected: () })
        } else {
            None
        }
    }
}

#[cfg(all(feature = "std", target_arch = "x86_64"))]
impl Leaf for Avx512 {
    #[inline]
    fn broadcast_tile<T: Scalar, const R: usize, const W: usize, const XT: bool>(
        self,
        x: &[T],
        ldx: usize,
        y: &[T],
        ldy: usize,
        kc: usize,
    ) -> [[T; W]; R] {
        // SAFETY: `self` exists only if `Avx512::detect` found AVX-512F, AVX2 and FMA on this CPU, the
        // only requirement of a `#[target_feature(enable = "avx512f,avx2,fma")]` function; the body is
        // safe Rust.
        unsafe { avx512::broadcast_tile::<T, R, W, XT>(x, ldx, y, ldy, kc) }
    }

    #[inline]
    fn dot_partials<T: Scalar, const L: usize, const R: usize, const W: usize>(
        self,
        a: &[&[T]; R],
        b: &[&[T]; W],
    ) -> [[[T; L]; W]; R] {
        // SAFETY: as in `broadcast_tile` above: the CPU has AVX-512F, AVX2 and FMA.
        unsafe { avx512::dot_partials::<T, L, R, W>(a, b) }
    }
}

/// The leaf bodies compiled with AVX-512F, AVX2 and FMA enabled.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
mod avx512 {
    use super::{broadcast_tile_body, dot_partials_body};
    use crate::Scalar;

    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) fn broadcast_tile<T: Scalar, const R: usize, const W: usize, const XT: bool>(
        x: &[T],
        ldx: usize,
        y: &[T],
        ldy: usize,
        kc: usize,
    ) -> [[T; W]; R] {
        broadcast_tile_body::<T, R, W, XT, true>(x, ldx, y, ldy, kc)
    }

    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) fn dot_partials<T: Scalar, const L: usize, const R: usize, const W: usize>(
        a: &[&[T]; R],
        b: &[&[T]; W],
    ) -> [[[T; L]; W]; R] {
        dot_partials_body::<T, L, R, W, true>(a, b)
    }
}

/// `acc + x * y`, fused into one rounding when `FMA`: only instantiated where the CPU has FMA,
/// since elsewhere `mul_add` is a slow software (libm) routine.
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
fn broadcast_tile_body<
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
fn dot_partials_body<T: Scalar, const L: usize, const R: usize, const W: usize, const FMA: bool>(
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
