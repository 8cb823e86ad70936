//! The element type of every tensor: `f32` or `f64`.
//!
//! Kernels are written once, generic over [`Scalar`]; the two implementations differ only in
//! their sizes and constants and which libm functions they use. The trait is sealed: the GEMM's
//! tile shapes and the bit-exact math functions are only defined for these two types.

use core::fmt::{Debug, Display};
use core::iter::Sum;
use core::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

use num_traits::{Float, FloatConst};

use crate::kernels::math::{self, MathConstants};

mod sealed {
    use crate::kernels::gemm::gather_columns_f32;
    use crate::kernels::gemm::{run_kernels, run_segment_kernels, GemmBackend, Product, Segmented};
    use crate::kernels::gemv::gemv_f32;
    use crate::kernels::small::dense_vector_f32;
    use crate::kernels::Store;
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    use crate::ops::pool::{max_pool_2x2_backward_f32, max_pool_2x2_forward_f32};

    /// What only this crate implements, for `f32` and `f64`. Its functions are not generic, so
    /// the code they call is compiled once, here, and not in every crate that uses the generic
    /// API.
    pub trait Sealed: Sized {
        /// The GEMM kernels of a checked product (`kernels::gemm::run_kernels`).
        fn gemm_kernels(
            backend: GemmBackend,
            product: Product<'_, Self>,
            c: &mut [Self],
            pack: &mut [Self],
        );

        /// The kernels of a checked segmented `A * B^T` (`kernels::gemm::gemm_nt_segments`).
        fn segment_kernels(product: Segmented<'_, Self>, c: &mut [Self]);

        /// The batch-1 dense kernel (`kernels::gemv`): computes `y` and returns `true` where
        /// this CPU has one for the type, else returns `false` and leaves `y` alone.
        fn gemv_kernel(w: &[Self], x: &[Self], bias: Option<&[Self]>, y: &mut [Self]) -> bool;

        /// The transposing copy of GEMM packing (`kernels::gemm::transpose`): `dst[q n + w] =
        /// runs[w][q]` for `q < kc`, returning `true` where this CPU has a kernel for the type,
        /// else `false` with `dst` untouched.
        fn gather_columns(runs: &[&[Self]], kc: usize, dst: &mut [Self]) -> bool;

        /// The vector form of one sample through a small dense layer
        /// (`kernels::small::dense_vector`): computes `y` with the same bits and returns `true`
        /// where this CPU and the sizes have one for the type, else returns `false` with `y`
        /// untouched. Always inlined, so that it is compiled into the caller's unrolled code.
        fn dense_vector_kernel(
            x: &[Self],
            w: &[Self],
            bias: Option<&[Self]>,
            y: &mut [Self],
        ) -> bool;

        /// Max pooling's forward pass over 2x2 windows of stride 2 that tile the image
        /// (`ops::pool`'s vector kernel): `x` rows of `width` inputs in pairs, `y` a maximum per
        /// window; with `relu`, the ReLU before the pooling fused in (`relu <-` its output, which
        /// `y` pools). Computes them and returns `true` where this CPU has a kernel for the type,
        /// else returns `false` with nothing written (the default, `f64`'s).
        fn max_pool_2x2_forward_kernel(
            x: &[Self],
            width: usize,
            relu: Option<&mut [Self]>,
            y: &mut [Self],
        ) -> bool {
            let _ = (x, width, relu, y);
            false
        }

        /// Max pooling's backward pass over 2x2 windows of stride 2 that tile the image
        /// (`ops::pool`'s vector kernel): `x` rows of `width` inputs in pairs, `dy` a gradient
        /// per window; with `dy_relu`, the ReLU before the pooling fused in. Computes the
        /// gradients and returns `true` where this CPU has a kernel for the type, else returns
        /// `false` with nothing written (the default, `f64`'s).
        fn max_pool_2x2_backward_kernel(
            x: &[Self],
            dy: &[Self],
            width: usize,
            dy_relu: Option<&mut [Self]>,
            dx: &mut [Self],
            store: Store,
        ) -> bool {
            let _ = (x, dy, width, dy_relu, dx, store);
            false
        }

        /// The bits of `|x|` as a signed integer of the same width (the sign bit cleared, so
        /// never negative): for `|x|` these order like the values, and every infinity or NaN
        /// lies at or above [`Sealed::INFINITY_BITS`] (`kernels::reduce` scans with them).
        type AbsBits: Copy + Ord + Default;
        /// The bits of `+inf` as [`Sealed::AbsBits`].
        const INFINITY_BITS: Self::AbsBits;
        /// `|x|` as [`Sealed::AbsBits`].
        fn abs_bits(self) -> Self::AbsBits;
        /// The value of bits from [`Sealed::abs_bits`].
        fn from_abs_bits(bits: Self::AbsBits) -> Self;
    }

    impl Sealed for f32 {
        fn gemm_kernels(
            backend: GemmBackend,
            product: Product<'_, f32>,
            c: &mut [f32],
            pack: &mut [f32],
        ) {
            run_kernels(backend, product, c, pack);
        }

        fn segment_kernels(product: Segmented<'_, f32>, c: &mut [f32]) {
            run_segment_kernels(product, c);
        }

        fn gemv_kernel(w: &[f32], x: &[f32], bias: Option<&[f32]>, y: &mut [f32]) -> bool {
            gemv_f32(w, x, bias, y)
        }

        fn gather_columns(runs: &[&[f32]], kc: usize, dst: &mut [f32]) -> bool {
            gather_columns_f32(runs, kc, dst)
        }

        #[inline(always)]
        fn dense_vector_kernel(x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32]) -> bool {
            dense_vector_f32(x, w, bias, y)
        }

        // The pooling kernels exist under `std` on x86-64; elsewhere the defaults (none).
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        fn max_pool_2x2_backward_kernel(
            x: &[f32],
            dy: &[f32],
            width: usize,
            dy_relu: Option<&mut [f32]>,
            dx: &mut [f32],
            store: Store,
        ) -> bool {
            max_pool_2x2_backward_f32(x, dy, width, dy_relu, dx, store)
        }

        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        fn max_pool_2x2_forward_kernel(
            x: &[f32],
            width: usize,
            relu: Option<&mut [f32]>,
            y: &mut [f32],
        ) -> bool {
            max_pool_2x2_forward_f32(x, width, relu, y)
        }

        type AbsBits = i32;
        const INFINITY_BITS: i32 = 0x7f80_0000;
        #[inline(always)]
        fn abs_bits(self) -> i32 {
            (self.to_bits() & 0x7fff_ffff) as i32
        }
        #[inline(always)]
        fn from_abs_bits(bits: i32) -> f32 {
            f32::from_bits(bits as u32)
        }
    }

    impl Sealed for f64 {
        fn gemm_kernels(
            backend: GemmBackend,
            product: Product<'_, f64>,
            c: &mut [f64],
            pack: &mut [f64],
        ) {
            run_kernels(backend, product, c, pack);
        }

        fn segment_kernels(product: Segmented<'_, f64>, c: &mut [f64]) {
            run_segment_kernels(product, c);
        }

        fn gemv_kernel(_: &[f64], _: &[f64], _: Option<&[f64]>, _: &mut [f64]) -> bool {
            false
        }

        fn gather_columns(_: &[&[f64]], _: usize, _: &mut [f64]) -> bool {
            false
        }

        #[inline(always)]
        fn dense_vector_kernel(_: &[f64], _: &[f64], _: Option<&[f64]>, _: &mut [f64]) -> bool {
            false
        }

        type AbsBits = i64;
        const INFINITY_BITS: i64 = 0x7ff0_0000_0000_0000;
        #[inline(always)]
        fn abs_bits(self) -> i64 {
            (self.to_bits() & 0x7fff_ffff_ffff_ffff) as i64
        }
        #[inline(always)]
        fn from_abs_bits(bits: i64) -> f64 {
            f64::from_bits(bits as u64)
        }
    }
}

/// A floating-point element type (`f32` or `f64`).
///
/// Beyond [`num_traits::Float`] it provides conversions from the `f64` literals that
/// hyper-parameters are written in, and the few functions that `num-traits` lacks (`erf`) or that
/// must give the same bits on every platform (the RNG's `ln`/`cos`, through libm).
pub trait Scalar:
    Float
    + FloatConst
    + Sum
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + 'static
    + sealed::Sealed
{
    /// `"f32"` or `"f64"`, for messages and file headers.
    const NAME: &'static str;
    /// Size in bytes.
    const BYTES: usize;
    /// `0.0`, usable where a `const` is needed (`num_traits::Zero::zero` is not a `const fn`):
    /// the zeroed buffers of a network, tape or optimizer built at compile time, in a `static`.
    const ZERO: Self;

    /// Converts an `f64` (a literal, a hyper-parameter) to this type, rounding to nearest.
    fn from_f64(x: f64) -> Self;
    /// Widens (or copies) to `f64`.
    fn to_f64(self) -> f64;
    /// Converts a count (batch size, fan-in) to this type.
    fn from_usize(n: usize) -> Self {
        Self::from_f64(n as f64)
    }
    /// The error function `erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt`: libm's for `f64`,
    /// [`crate::kernels::math::erf_f32`] (vectorizable) for `f32`.
    fn erf(self) -> Self;

    /// The per-type constants of the vectorizable functions in [`crate::kernels::math`].
    const MATH: MathConstants<Self>;
    /// `2^n` for an integer-valued `n` with `2^n` a normal number, built from bits (no call, so
    /// it vectorizes); other `n` give an unspecified value.
    fn pow2i(n: Self) -> Self;
}

impl Scalar for f32 {
    const NAME: &'static str = "f32";
    const BYTES: usize = 4;
    const ZERO: Self = 0.0;

    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    /// [`math::erf_f32`]: vectorizable, within ~1 ulp.
    #[inline(always)]
    fn erf(self) -> Self {
        math::erf_f32(self)
    }

    const MATH: MathConstants<f32> = math::F32;
    #[inline(always)]
    fn pow2i(n: Self) -> Self {
        // n + 1.5 * 2^23 holds n in the low mantissa bits (two's complement); adding the
        // exponent bias and shifting the 9 low bits into the exponent field drops the rest.
        let bits = (n + 12_582_912.0).to_bits();
        f32::from_bits(bits.wrapping_add(127) << 23)
    }
}

impl Scalar for f64 {
    const NAME: &'static str = "f64";
    const BYTES: usize = 8;
    const ZERO: Self = 0.0;

    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline]
    fn erf(self) -> Self {
        libm::erf(self)
    }

    const MATH: MathConstants<f64> = math::F64;
    #[inline(always)]
    fn pow2i(n: Self) -> Self {
        // As for f32, with 1.5 * 2^52 and the 12 low bits.
        let bits = (n + 6_755_399_441_055_744.0).to_bits();
        f64::from_bits(bits.wrapping_add(1023) << 52)
    }
}
