//! Low-level numeric kernels: GEMM and element-wise loops.
//!
//! # Data model
//! A *batch* of `B` samples of `N` elements is a `[[T; N]; B]`, row-major: sample `b` is row
//! `b`. Per-sample images `[C, H, W]` are flattened to `N = C * H * W` in that order, as PyTorch
//! lays out a contiguous tensor. Matrices in parameter buffers are row-major too: a dense weight
//! `[out, in]` is a `[[T; IN]; OUT]`. Inputs are shared references and outputs exclusive ones, so
//! an output never aliases an input.
//!
//! Dimensions are const generics wherever the array type can carry them, so a call whose shapes
//! do not fit is a type error and the kernels need no run-time checks. The slice-based entry
//! points ([`gemm::gemm`]) check lengths and return [`crate::Error`].

pub mod elementwise;
pub mod gemm;
pub mod gemv;
pub mod im2col;
#[cfg(feature = "std")]
pub mod lend;
pub mod math;
pub mod reduce;
pub mod simd;
pub mod small;

/// How a kernel writes its result into an output buffer.
///
/// Backward passes use [`Store::Accumulate`] for a gradient that several consumers contribute to
/// (a node used twice in a DAG, gradient accumulation over micro-batches) and
/// [`Store::Overwrite`] for the first (or only) contribution, which saves zeroing the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// `out = value`: the previous contents are not read.
    Overwrite,
    /// `out += value`.
    Accumulate,
}

impl Store {
    /// Writes `value` into `out` according to `self`.
    #[inline(always)]
    pub fn apply<T: crate::Scalar>(self, out: &mut T, value: T) {
        match self {
            Store::Overwrite => *out = value,
            Store::Accumulate => *out += value,
        }
    }

    /// GEMM's `beta` for this store mode: 0 (C not read) or 1.
    #[inline(always)]
    pub fn beta<T: crate::Scalar>(self) -> T {
        match self {
            Store::Overwrite => T::zero(),
            Store::Accumulate => T::one(),
        }
    }
}
