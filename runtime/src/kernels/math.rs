//! Vectorizable elementary functions: [`exp`], [`tanh`], [`sigmoid`] (`T: Scalar`) and
//! [`erf_f32`], and for streaming inference [`sigmoid_fast`] and [`tanh_fast`] (looser bounds,
//! about half the operations and a shorter chain of dependent ones; training never uses them),
//! also as quotients to divide later ([`sigmoid_fast_parts`], [`tanh_fast_parts`]).
//!
//! `f32::exp` and `f32::tanh` call libm once per element, so a loop over them stays scalar and
//! costs ~10 ns per element. These functions are plain arithmetic: no calls, no data-dependent
//! branches (every case is computed and the result chosen by a comparison, which LLVM turns
//! into a vector select), no tables (no gathers). A loop over a slice of them vectorizes to what
//! the compilation target offers (4 `f32` or 2 `f64` lanes on the x86-64 baseline).
//!
//! Largest error against the exact value, in ulps (`f32`: every input, against libm's `f64`
//! result; `f64`: 60 000 to 90 000 random arguments per function, against mpmath), and the
//! largest distance of an `f32` result to the correctly rounded one:
//!
//! | function | `f32` | `f32` distance | `f64` |
//! |---|---|---|---|
//! | [`exp`] | 0.76 | 1 | 0.74 |
//! | [`tanh`] | 0.500000 (0.85 before: see below) | 1 (at 44 inputs, else 0) | 0.74 |
//! | [`sigmoid`] | 0.500001 (1.15 before) | 1 (at 23 inputs, else 0) | 1.08 |
//! | [`erf_f32`] | 1.09 | 1 | — (libm) |
//! | [`sigmoid_fast`] | 2.41 | 2 | 3.5 (bound) |
//! | [`tanh_fast`] | 2.35 | 2 | 3 (bound) |
//! | [`tanh_fast_parts`] (`n / d`) | 2.32 | 2 | 3 (bound) |
//!
//! `f32` [`tanh`] and [`sigmoid`] are computed in `f64` and rounded once: the correctly rounded
//! result except at 44 and 23 of the 2^32 inputs (exhaustive runs; 1 ulp away there), on the
//! targets with `f64` in hardware ([`F32_VIA_F64`]). Elsewhere (32-bit microcontrollers) they are
//! the `f64` algorithms run in `f32`, with error-compensation terms (0.85 and 1.15 ulp; tanh
//! about 60 dependent operations, where the `f64` forms have about 12 (tanh, a rational
//! function) and 25 (sigmoid)).
//!
//! The fast functions: the larger of the two [`MulAdd`] forms (rounded twice or fused: 2.40 and
//! 2.40, 2.33 and 2.34, 2.32 and 2.05 over every input), tested against 2.5 on a dense sample of every binade
//! and every 61st input in `[-20, 20]`; `sigmoid_fast` where its result is a normal number
//! (below, it is 0). Their `f64` column is the tests' bound over random arguments.
//!
//! Special values are exact: `±0`, `±inf`, NaN in gives NaN out, and large arguments saturate
//! (`exp` to `inf` or `0` through the subnormals, `tanh` and `erf` to `±1`, `sigmoid` to `1` or
//! `0`) without an intermediate NaN.
//!
//! The algorithms are shared by `f32` and `f64`; the per-type numbers (polynomial coefficients,
//! overflow bounds, the bit layout behind [`Scalar::pow2i`]) are [`MathConstants`], reached
//! through [`Scalar::MATH`]. The coefficients are near-minimax (Chebyshev) fits made by
//! `reference/math_coefficients.py`.

use crate::Scalar;

#[cfg(test)]
mod tests;

/// The per-type numbers of this module's functions (see [`Scalar::MATH`]).
///
/// Polynomials are lowest coefficient first.
#[derive(Clone, Copy, Debug)]
pub struct MathConstants<T: 'static> {
    /// `1.5 * 2^(mantissa bits)`: `(y + M) - M` rounds `|y| < 2^(mantissa bits - 1)` to the
    /// nearest integer (ties to even) without a call or SSE4.1's `roundps`.
    round_magic: T,
    /// `ln 2` split (Cody and Waite) so that `n * ln2_hi` is exact for every `n` that
    /// [`exp`] uses and `x - n * ln2_hi` is exact by Sterbenz's lemma.
    ln2_hi: T,
    /// `ln 2 - ln2_hi`.
    ln2_lo: T,
    /// [`exp`] clamps its argument to `[exp_min, exp_max]`: just past the argument where the
    /// result rounds to 0 and just past the one where it overflows to `inf`, so the clamped
    /// results are still exactly `0` and `inf`, and `n` stays in range.
    exp_min: T,
    /// See `exp_min`.
    exp_max: T,
    /// `e^r ~ 1 + r + r^2 P(r)` for `|r| <= ln(2)/2 + 0.001`.
    exp_poly: &'static [T],
    /// `tanh x ~ x + x^3 Q(x^2)` for `|x| <= TANH_SMALL`.
    tanh_poly: &'static [T],
    /// The fast functions' `e^r ~ 1 + r + r^2 P(r)` for `|r| <= ln(2)/2 + 0.001`: a shorter
    /// polynomial than `exp_poly` in `f32` (degree 6 in all, relative error 1.0e-8 before
    /// rounding), `exp_poly` itself in `f64`.
    fast_exp_poly: &'static [T],
    /// The largest `|x|` whose `e^-|x|` the fast functions compute: just inside the argument
    /// whose `e^-|x|` is the smallest normal number (`-87.34` in `f32`, `-708.40` in `f64`), so
    /// that `2^n` is normal and no intermediate is subnormal.
    fast_exp_cap: T,
}

/// `|x|` below which [`tanh`] uses its odd polynomial: `atanh(1/2)`, where `tanh x = 1/2`. Above
/// it, `1 - 2e/(1 + e)` has a result in `[1/2, 1)` whose ulp is at least that of the correction
/// `2e/(1 + e) <= 1/2`, so the subtraction loses nothing.
const TANH_SMALL: f64 = 0.549_306_144_334_054_8;

/// A cap on the magnitude of the `exp` argument in [`tanh`] (`2|x|`) and in [`sigmoid`] of a
/// positive `x`, past which both round to exactly 1 in either precision (tanh from `2|x|` =
/// 18.0 in `f32` and 38.1 in `f64` on, sigmoid from `x` = 17.3 and 37.4): `e^-40` and its
/// correction term stay normal numbers, where a larger argument would produce subnormal
/// intermediates, which x86 cores compute ~100x slower.
const SATURATED: f64 = 40.0;

/// The constants of `f32`.
pub(crate) const F32: MathConstants<f32> = MathConstants {
    round_magic: 12_582_912.0,
    // As in fdlibm's expf: 16 significant bits, and the rest.
    ln2_hi: f32::from_bits(0x3f31_7200),
    ln2_lo: f32::from_bits(0x35bf_be8e),
    exp_min: -104.0,
    exp_max: 89.0,
    exp_poly: &[
        0.5,
        0.166_666_67,
        0.041_666_463,
        0.008_333_310_5,
        0.001_393_39,
        0.000_198_912_69,
    ],
    tanh_poly: &[
        -0.333_333_3,
        0.133_331_15,
        -0.053_909_8,
        0.021_311_67,
        -0.006_614_526_7,
    ],
    fast_exp_poly: &[
        0.5,
        0.166_665_76,
        0.041_666_552,
        0.008_363_346,
        0.001_392_639_2,
    ],
    fast_exp_cap: 87.33,
};

/// `f64`'s `exp_poly`, which the fast functions use too.
const F64_EXP_POLY: &[f64] = &[
    0.5,
    0.166_666_666_666_666_7,
    0.041_666_666_666_666_67,
    0.008_333_333_333_325_973,
    0.001_388_888_888_888_363_3,
    0.000_198_412_698_753_854_8,
    2.480_158_732_595_111e-5,
    2.755_725_468_572_880_3e-6,
    2.755_727_313_289_604e-7,
    2.510_551_354_184_708_6e-8,
    2.091_489_872_717_552_4e-9,
];

/// The constants of `f64`.
pub(crate) const F64: MathConstants<f64> = MathConstants {
    round_magic: 6_755_399_441_055_744.0,
    // As in fdlibm's exp: 32 significant bits, and the rest.
    ln2_hi: f64::from_bits(0x3fe6_2e42_fee0_0000),
    ln2_lo: f64::from_bits(0x3dea_39ef_3579_3c76),
    exp_min: -746.0,
    exp_max: 710.0,
    exp_poly: F64_EXP_POLY,
    tanh_poly: &[
        -0.333_333_333_333_333_3,
        0.133_333_333_333_327_28,
        -0.053_968_253_967_449_79,
        0.021_869_488_494_388_224,
        -0.008_863_234_414_470_797,
        0.003_592_110_598_582_563,
        -0.001_455_663_590_101_078_7,
        0.000_588_944_738_827_005_9,
        -0.000_234_660_567_181_585_2,
        8.515_552_303_912_306e-5,
        -2.063_225_361_264_667_6e-5,
    ],
    fast_exp_poly: F64_EXP_POLY,
    fast_exp_cap: 708.39,
};

/// `p(x)` by Horner's rule, coefficients lowest first. The slices are constants, so the loop
/// unrolls into straight multiply-adds.
#[inline(always)]
fn polynomial<T: Scalar>(coefficients: &[T], x: T) -> T {
    match coefficients.split_last() {
        Some((&last, rest)) => rest.iter().rev().fold(last, |acc, &c| acc * x + c),
        None => T::zero(),
    }
}

/// `y` rounded to the nearest integer (ties to even), for `|y|` well inside the mantissa range.
#[inline(always)]
fn round_to_integer<T: Scalar>(y: T) -> T {
    let magic = T::MATH.round_magic;
    (y + magic) - magic
}

/// `lo` if `x < lo`, `hi` if `x > hi`, else `x`; NaN stays NaN. Written as comparisons (vector
/// selects), not `Float::max`, whose NaN rules cost extra instructions.
#[inline(always)]
fn clamp<T: Scalar>(x: T, lo: T, hi: T) -> T {
    let x = if x < lo { lo } else { x };
    if x > hi {
        hi
    } else {
        x
    }
}

/// `x = n ln2 + r` and `e^r = hi + lo`: returns `(hi, lo, n)`, `hi + lo` accurate to ~2^-40
/// relative with `|lo|` about an ulp of `hi` or less. `x` must be in `[exp_min, exp_max]` (or
/// NaN, which gives NaN).
///
/// `n = round(x / ln 2)` and `|r| <= ln(2)/2` (`ln 2` split in two so that `x - n ln2_hi` is
/// exact); `e^r` by a polynomial.
#[inline(always)]
fn exp_reduced<T: Scalar>(x: T) -> (T, T, T) {
    let c = &T::MATH;
    let n = round_to_integer(x * T::LOG2_E());
    // `r_hi` is exact; keeping `r_lo` apart from it in the linear term saves the rounding of
    // `r`, while the polynomial term is small enough to take `r`.
    let r_hi = x - n * c.ln2_hi;
    let r_lo = -(n * c.ln2_lo);
    let r = r_hi + r_lo;
    let tail = r_lo + r * r * polynomial(c.exp_poly, r);
    // e^r = 1 + r_hi + tail, summed with the rounding errors of both additions kept (Fast2Sum:
    // |1| >= |r_hi + tail|, and |r_hi| >= |tail| but where both are far below an ulp of 1).
    let s = r_hi + tail;
    let s_error = (r_hi - s) + tail;
    let hi = T::one() + s;
    let lo = ((T::one() - hi) + s) + s_error;
    (hi, lo, n)
}

/// `e^x = (hi + lo) scale_a scale_b` for any `x`: [`exp_reduced`] of `x` clamped to
/// `[exp_min, exp_max]`, and `2^n = 2^(n - n/2) 2^(n/2)`: two factors built from bits, each
/// normal, so that a result between the smallest normal and the overflow threshold is not
/// rounded again, and a subnormal one only once.
#[inline(always)]
fn exp_parts<T: Scalar>(x: T) -> (T, T, T, T) {
    let c = &T::MATH;
    let (hi, lo, n) = exp_reduced(clamp(x, c.exp_min, c.exp_max));
    let half = round_to_integer(n * T::from_f64(0.5));
    (hi, lo, T::pow2i(half), T::pow2i(n - half))
}

/// `e^x` as `e + e_lo`, `e` within about an ulp of `e^x` and `e_lo` (most of) the rest, for
/// [`sigmoid`], whose largest error would otherwise be the rounding of `e`.
#[inline(always)]
fn exp_with_error<T: Scalar>(x: T) -> (T, T) {
    let (hi, lo, scale_a, scale_b) = exp_parts(x);
    (hi * scale_a * scale_b, lo * scale_a * scale_b)
}

/// [`exp_with_error`] for `x` in `[-SATURATED, 0]` (or NaN), whose `2^n` is a normal number:
/// no clamp and one scale factor, five operations fewer for [`tanh`].
#[inline(always)]
fn exp_with_error_moderate<T: Scalar>(x: T) -> (T, T) {
    let (hi, lo, n) = exp_reduced(x);
    let scale = T::pow2i(n);
    (hi * scale, lo * scale)
}

/// `e^x`.
///
/// Range reduction `x = n ln2 + r`, a polynomial for `e^r` whose sum is rounded once, and an
/// exact scaling by `2^n` (see the source of `exp_parts`).
///
/// `exp(-inf) = 0`, `exp(inf) = inf`, `exp(NaN) = NaN`; arguments past the thresholds give `0`
/// and `inf`.
#[inline(always)]
pub fn exp<T: Scalar>(x: T) -> T {
    let (hi, lo, scale_a, scale_b) = exp_parts(x);
    (hi + lo) * scale_a * scale_b
}

/// `tanh x`.
///
/// `f32`: computed in `f64` from the widened argument (`tanh_f32_in_f64`, a rational function
/// with relative error below `2^-43` before the final rounding) and rounded to `f32` once, so
/// the result is the correctly rounded one except where the exact value lies very near a
/// midpoint between two `f32`s: over every `f32` input, at most 0.500000 ulp (rounded to six
/// digits) from the exact value and 44 results 1 ulp from the correctly rounded one. About 12
/// dependent operations on `f64` lanes and no range reduction, where the `f32` form of the
/// algorithm below needs about 60 (half as many lanes per vector, but no error-compensation
/// terms: `f64` has 29 bits to spare). Plain multiplies and
/// adds, so the same bits on every instruction set of a target family. Only where `f64` is
/// done in hardware ([`F32_VIA_F64`]); elsewhere (a Cortex-M4F has a single-precision unit,
/// where `f64` arithmetic is a library call) `f32` runs the algorithm below, within 0.85 ulp.
///
/// `f64`: the algorithm below.
/// - `|x| < atanh(1/2)`: `x + x^3 Q(x^2)`, an odd polynomial (full relative accuracy for tiny
///   `x`);
/// - otherwise: `sign(x) (1 - 2e/(1 + e))` with `e = exp(-2|x|)` in `(0, 1/3]`, so nothing
///   overflows; `e` underflows to 0 for large `|x|` and the result is exactly `±1`. The
///   rounding errors of `e`, `1 + e` and `1 - q` are carried in a correction term, which
///   leaves the division's.
#[inline(always)]
pub fn tanh<T: Scalar>(x: T) -> T {
    if T::BYTES == 4 && F32_VIA_F64 {
        // `f32` (the trait is sealed: `f32` and `f64` only), a branch on a constant.
        T::from_f64(tanh_f32_in_f64(x.to_f64()))
    } else {
        tanh_compensated(x)
    }
}

/// Whether `f32` [`tanh`] and [`sigmoid`] are computed in `f64`: on the targets whose `f64`
/// arithmetic is done by the hardware, at the speed of `f32` per lane. Elsewhere (32-bit
/// microcontrollers: a Cortex-M4F has a single-precision unit, and `f64` would be a software
/// call per operation, tens of times slower) they run the compensated `f32` algorithm, within
/// 0.85 and 1.15 ulp. The results of the two may differ in the last bit, as a device's already
/// may from a host's (the host's matrix products may fuse multiply-adds).
pub const F32_VIA_F64: bool = cfg!(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "powerpc64",
    target_arch = "riscv64",
    target_arch = "loongarch64",
    target_arch = "s390x",
    target_arch = "wasm32",
    target_arch = "wasm64",
));

/// [`tanh`]'s algorithm for `f64`, and for `f32` where `f64` is not in hardware (within 0.85
/// ulp; see [`F32_VIA_F64`]).
#[inline(always)]
fn tanh_compensated<T: Scalar>(x: T) -> T {
    let one = T::one();
    let ax = x.abs();
    let z = ax * ax;
    let small = ax + ax * z * polynomial(T::MATH.tanh_poly, z);

    let two_ax = ax + ax;
    let capped = if two_ax > T::from_f64(SATURATED) {
        T::from_f64(SATURATED)
    } else {
        two_ax
    };
    let (e, e_lo) = exp_with_error_moderate(-capped);
    let d = one + e;
    let d_error = ((one - d) + e) + e_lo;
    let q = (e + e) / d;
    let w = one - q;
    let w_error = (one - w) - q;
    // With q* = 2e/d unrounded, to first order
    // 1 - 2(e + e_lo)/(d + d_error) = 1 - q* - 2 e_lo/d + q* d_error/d,
    // and 1 - q = w + w_error exactly; `1/d = 1 - e/d = 1 - q/2` avoids a second division.
    let inv_d = one - q * T::from_f64(0.5);
    let correction = q * d_error * inv_d - (e_lo + e_lo) * inv_d;
    let large = w + (w_error + correction);

    // NaN fails the comparison and takes the `large` path, which is NaN.
    let magnitude = if ax < T::from_f64(TANH_SMALL) {
        small
    } else {
        large
    };
    // Both paths are computed on |x| and odd, so the sign is x's, `-0` included.
    magnitude.copysign(x)
}

/// `e^r - 1 = r + r^2 P(r)` for `|r| <= ln(2)/2 + 0.001`, `P` of degree 7 (relative error of
/// `e^r - 1` below `2^-42` before rounding): [`sigmoid_f32_in_f64`]'s `expm1`.
const F32_IN_F64_EXPM1_POLY: [f64; 8] = [
    0.499_999_999_999_540_6,
    0.166_666_666_666_624_9,
    0.041_666_666_788_352_53,
    0.008_333_333_344_392_619,
    0.001_388_883_853_308_451_5,
    0.000_198_412_240_748_662_97,
    2.486_825_371_763_466_7e-5,
    2.761_791_332_218_236e-6,
];

/// `e^(-k a) = 2^n (1 + s)` for `a` in `[0, 150 / k]` (or NaN), `k` 1 or 2: returns
/// `(s, 2^n)`, `s` within `2^-42` of `e^r - 1` relative, for `f32` sigmoid computed in `f64`
/// ([`sigmoid_f32_in_f64`]).
///
/// `-k a = n ln2 + r` with `n = round(-k a / ln 2)` in `[-150, 0]` (so `2^n` is a normal
/// number) and `|r| <= ln(2)/2`: `n ln 2` has a rounding error below `2^-45`, and `r = -k a`
/// exactly where `n = 0`. `s = r + r^2 P(r)` by Estrin's scheme: three levels of independent
/// products instead of nine steps of Horner's rule. Plain multiplies and adds (no fused
/// multiply-add), so the same bits on every instruction set.
#[inline(always)]
fn expm1_reduced_in_f64(a: f64, k: f64) -> (f64, f64) {
    let n = round_to_integer(a * (-k * core::f64::consts::LOG2_E));
    let r = -k * a - n * core::f64::consts::LN_2;
    let [p0, p1, p2, p3, p4, p5, p6, p7] = F32_IN_F64_EXPM1_POLY;
    let r2 = r * r;
    let r4 = r2 * r2;
    let q0 = r + (p0 + p1 * r) * r2;
    let q1 = (p2 + p3 * r) + (p4 + p5 * r) * r2;
    let q2 = p6 + p7 * r;
    let s = q0 + (q1 + q2 * r4) * r4;
    (s, f64::pow2i(n))
}

/// `|x|` at which [`tanh_f32_in_f64`] caps its argument: `tanh` rounds to `1` in `f32` from
/// `x = 9.010913` on, and `tanh 9.02` is `2^-30.8` above the midpoint below `1`.
const TANH_F32_CAP: f64 = 9.02;

/// `tanh x = x P(x^2) / Q(x^2)` for `0 <= x <= 9.02` ([`TANH_F32_CAP`]), `P` and `Q` of degree
/// 6 (relative error below `2^-44` before rounding; `reference/math_coefficients.py`). Every
/// coefficient is positive, so evaluating either polynomial at `x^2 >= 0` cancels nothing.
const F32_IN_F64_TANH_P: [f64; 7] = [
    0.999_999_999_999_989_1,
    0.145_553_458_199_501_08,
    0.005_059_466_042_863_324,
    6.119_465_818_578_015e-5,
    2.723_016_684_308_708e-7,
    3.721_924_332_033_385e-10,
    6.932_084_444_124_412e-14,
];

/// The denominator of [`F32_IN_F64_TANH_P`]'s rational function (`Q(0) = 1`).
const F32_IN_F64_TANH_Q: [f64; 7] = [
    1.0,
    0.478_886_791_532_551_76,
    0.031_355_063_221_111_06,
    0.000_629_564_161_725_648_2,
    4.647_377_867_349_268e-6,
    1.195_717_538_837_574_5e-8,
    7.347_757_244_912_53e-12,
];

/// A degree-6 polynomial at `z` by Estrin's scheme (`z2 = z^2`, `z4 = z^4` shared between
/// numerator and denominator): three levels of independent products instead of six steps of
/// Horner's rule.
#[inline(always)]
fn estrin6(c: [f64; 7], z: f64, z2: f64, z4: f64) -> f64 {
    let low = (c[0] + c[1] * z) + (c[2] + c[3] * z) * z2;
    let high = (c[4] + c[5] * z) + c[6] * z2;
    low + high * z4
}

/// `tanh x` for `x` an `f32` widened to `f64`, accurate to `2^-43` relative or better, to be
/// rounded to `f32` once ([`tanh`] of `f32`). No range reduction, no exponential, no second
/// path for small `|x|`, one division:
///
/// - `a = min(|x|, 9.02)` (`tanh` is 1 in `f32` from 9.0109 on);
/// - `tanh a = a P(a^2) / Q(a^2)`, a rational approximation on `[0, 9.02]` with positive
///   coefficients ([`F32_IN_F64_TANH_P`], [`F32_IN_F64_TANH_Q`]), both polynomials by Estrin's
///   scheme on the same powers of `a^2`.
///
/// Plain multiplies and adds (no fused multiply-add), so the same bits on every instruction
/// set. The sign is `x`'s (`-0` included), `±inf` gives `±1`, NaN gives NaN.
#[inline(always)]
fn tanh_f32_in_f64(x: f64) -> f64 {
    let ax = x.abs();
    // NaN fails the comparison and stays NaN.
    let a = if ax > TANH_F32_CAP { TANH_F32_CAP } else { ax };
    let z = a * a;
    let z2 = z * z;
    let z4 = z2 * z2;
    let p = estrin6(F32_IN_F64_TANH_P, z, z2, z4);
    let q = estrin6(F32_IN_F64_TANH_Q, z, z2, z4);
    (a * (p / q)).copysign(x)
}

/// `|x|` at which [`sigmoid_f32_in_f64`] caps its argument: `sigmoid` rounds to `1` in `f32`
/// from `x = 17.33` on and to `0` from `x = -103.98` down.
const SIGMOID_F32_CAP: f64 = 104.0;

/// `sigmoid(x)` for `x` an `f32` widened to `f64`, accurate to `2^-40` relative or better, to
/// be rounded to `f32` once ([`sigmoid`] of `f32`): with `a = min(|x|, 104)` and
/// `e = e^-a = 2^n (1 + s)` ([`expm1_reduced_in_f64`], `2^n` normal in `f64` down to the
/// argument where the `f32` result rounds to 0), `1 / (1 + e)` for `x >= 0` and `e / (1 + e)`
/// for `x < 0`, one division. A result in `f32`'s subnormal range is rounded once, by the
/// conversion. NaN gives NaN, `±inf` give `1` and `0`.
#[inline(always)]
fn sigmoid_f32_in_f64(x: f64) -> f64 {
    let ax = x.abs();
    let a = if ax > SIGMOID_F32_CAP {
        SIGMOID_F32_CAP
    } else {
        ax
    };
    let (s, scale) = expm1_reduced_in_f64(a, 1.0);
    let scaled = scale * s;
    let e = scaled + scale;
    let d = scaled + (scale + 1.0);
    let numerator = if x < 0.0 { e } else { 1.0 };
    numerator / d
}

/// The logistic function `sigmoid(x) = 1 / (1 + e^-x)`: `1 / (1 + e)` for `x >= 0` and
/// `e / (1 + e)` for `x < 0`, with `e = exp(-|x|)` in `(0, 1]`, so nothing overflows:
/// `x = ±1e4` gives exactly `1` and `0`, never `inf / inf`; NaN gives NaN.
///
/// `f32`: computed in `f64` (`sigmoid_f32_in_f64`) and rounded once, as [`tanh`], where
/// [`F32_VIA_F64`]; elsewhere the algorithm below, within 1.15 ulp.
///
/// `f64`: the rounding errors of `e` and `1 + e` are carried in a correction term, which
/// leaves the division's.
#[inline(always)]
pub fn sigmoid<T: Scalar>(x: T) -> T {
    if T::BYTES == 4 && F32_VIA_F64 {
        // `f32` (the trait is sealed: `f32` and `f64` only), a branch on a constant.
        T::from_f64(sigmoid_f32_in_f64(x.to_f64()))
    } else {
        sigmoid_compensated(x)
    }
}

/// [`sigmoid`]'s algorithm for `f64`, and for `f32` where `f64` is not in hardware (within
/// 1.15 ulp; see [`F32_VIA_F64`]).
#[inline(always)]
fn sigmoid_compensated<T: Scalar>(x: T) -> T {
    // For x < -87.3 (f32) or -708 (f64) the result is a subnormal number: no cap there.
    let capped = if x > T::from_f64(SATURATED) {
        T::from_f64(SATURATED)
    } else {
        x.abs()
    };
    let (e, e_lo) = exp_with_error(-capped);
    sigmoid_from_exp_parts(x, e, e_lo)
}

/// `sigmoid(x)` given `e = exp(-|x|)` (the logistic losses compute `e` once for the loss and
/// its gradient); see [`sigmoid`].
#[inline(always)]
pub fn sigmoid_from_exp<T: Scalar>(x: T, e: T) -> T {
    sigmoid_from_exp_parts(x, e, T::zero())
}

/// `sigmoid(x)` given `exp(-|x|) = e + e_lo`.
#[inline(always)]
fn sigmoid_from_exp_parts<T: Scalar>(x: T, e: T, e_lo: T) -> T {
    let one = T::one();
    let negative = x < T::zero();
    let (numerator, numerator_lo) = if negative {
        (e, e_lo)
    } else {
        (one, T::zero())
    };
    let d = one + e;
    let d_error = ((one - d) + e) + e_lo;
    let q = numerator / d;
    // (n + n_lo)/(d + d_error) = q + (n_lo - q d_error)/d to first order; 1/d is q itself
    // for n = 1 and 1 - q for n = e (as 1 - e/(1 + e) = 1/(1 + e)), so no second division.
    let inv_d = if negative { one - q } else { q };
    q + (numerator_lo - q * d_error) * inv_d
}

/// How the fast functions ([`sigmoid_fast`], [`tanh_fast`]) and the streaming steps compute
/// `a * b + c`: [`Unfused`] (a product and a sum, each rounded: the same bits on every CPU) or
/// [`Fused`] (one rounding, one instruction where the code is compiled for FMA; a shorter
/// chain of dependent operations). [`Simd::run_fma`](crate::kernels::simd::Simd::run_fma) is
/// where a computation learns that it runs with FMA.
pub trait MulAdd {
    /// Whether [`MulAdd::mul_add`] rounds once (the fast functions then pick forms with
    /// fewer dependent operations).
    const FUSED: bool;
    /// `a * b + c`.
    fn mul_add<T: Scalar>(a: T, b: T, c: T) -> T;
}

/// `a * b + c` rounded twice, as written: what every target computes the same way.
#[derive(Clone, Copy, Debug)]
pub struct Unfused;

/// `a * b + c` rounded once ([`Float::mul_add`](num_traits::Float::mul_add)): one instruction
/// in code compiled for FMA, a slow library call elsewhere, so for code that runs under
/// [`Simd::run_fma`](crate::kernels::simd::Simd::run_fma) only.
#[derive(Clone, Copy, Debug)]
pub struct Fused;

impl MulAdd for Unfused {
    const FUSED: bool = false;
    #[inline(always)]
    fn mul_add<T: Scalar>(a: T, b: T, c: T) -> T {
        a * b + c
    }
}

impl MulAdd for Fused {
    const FUSED: bool = true;
    #[inline(always)]
    fn mul_add<T: Scalar>(a: T, b: T, c: T) -> T {
        a.mul_add(b, c)
    }
}

/// `p(x)` given `x2 = x^2`, coefficients lowest first: the pairs `c[2i] + c[2i+1] x`
/// (independent of each other) combined by Horner's rule in `x2`, so half as many dependent
/// multiply-adds as [`polynomial`], at the price of rounding in another order.
#[inline(always)]
fn polynomial_pairs<T: Scalar, M: MulAdd>(coefficients: &[T], x: T, x2: T) -> T {
    let (pairs, odd) = coefficients.as_chunks::<2>();
    let pair = |&[a, b]: &[T; 2]| M::mul_add(b, x, a);
    let mut pairs = pairs.iter().rev();
    let top = match (odd.first(), pairs.next()) {
        (Some(&c), None) => return c,
        (Some(&c), Some(p)) => M::mul_add(c, x2, pair(p)),
        (None, Some(p)) => pair(p),
        (None, None) => return T::zero(),
    };
    pairs.fold(top, |acc, p| M::mul_add(acc, x2, pair(p)))
}

/// `e^-a = 2^n (1 + s)` for `a` in `[0, fast_exp_cap]`: returns `(s, 2^n)`, `2^n` a normal
/// number. [`exp_reduced`]'s reduction `-a = n ln2 + r` (`|r| <= ln(2)/2`, `n` in `[-126, 0]`
/// in `f32`), then `s = e^r - 1 = r + r^2 P(r)` rounded as it goes (no error carried). `r` is
/// rounded once (`2^-26` or less in `f32`), and not at all where `n = 0` (`r = -a`), so `s`
/// keeps its relative accuracy for small `a`: `e^-a - 1 = 2^n s + (2^n - 1)` is then an
/// `expm1` as well. NaN gives NaN.
///
/// With `TWICE`, the same for `2a` (`tanh`'s argument): `2a` is exact, and `n` is rounded from
/// `a * (2 log2 e)`, the same exact product, so the results are those of `2a` passed in; but
/// `n`, which the rest waits for, no longer waits for the addition `a + a` (3 cycles of
/// latency on a step's chain).
#[inline(always)]
fn exp_fast_negative<T: Scalar, M: MulAdd, const TWICE: bool>(a: T) -> (T, T) {
    let c = &T::MATH;
    let magic = c.round_magic;
    let (k_log2e, ka) = if TWICE {
        (T::LOG2_E() + T::LOG2_E(), a + a)
    } else {
        (T::LOG2_E(), a)
    };
    let n = M::mul_add(a, -k_log2e, magic) - magic;
    let r = M::mul_add(-n, c.ln2_lo, M::mul_add(-n, c.ln2_hi, -ka));
    let r2 = r * r;
    let p = polynomial_pairs::<T, M>(c.fast_exp_poly, r, r2);
    (M::mul_add(r2, p, r), T::pow2i(n))
}

/// `e = 2^n (1 + s)` and `1 + e` from [`exp_fast_negative`]'s parts: each one multiply-add
/// after `s` when it is fused (`2^n s + 2^n`, `2^n s + (1 + 2^n)`), else `(1 + s) 2^n` (a
/// product by `2^n` that stays exact where `2^n s` alone could be subnormal) and `1 + e`.
#[inline(always)]
fn exp_and_one_plus<T: Scalar, M: MulAdd>(s: T, scale: T) -> (T, T) {
    let one = T::one();
    if M::FUSED {
        (
            M::mul_add(scale, s, scale),
            M::mul_add(scale, s, one + scale),
        )
    } else {
        let e = (one + s) * scale;
        (e, one + e)
    }
}

/// The logistic function as [`sigmoid`] computes it, with a cheaper `exp` whose rounding
/// errors are not carried: about half the operations and a shorter chain of dependent ones,
/// for streaming inference, where a step's latency is mostly its activations. `M` is how
/// `a * b + c` is computed ([`Unfused`] everywhere, [`Fused`] where FMA is compiled in).
///
/// Error (`f32`, every input, either `M`): at most 2.41 ulps of the exact value (sigmoid
/// within 0.51). Results below the smallest normal number are flushed: `x < -87.33` gives `0`
/// (the exact value is below `1.19e-38`), so that nothing is computed on subnormal numbers.
/// `0` gives `1/2`, `+inf` and `x >= 17.33` give `1`, `-inf` gives `0`, NaN gives NaN.
#[inline(always)]
pub fn sigmoid_fast<T: Scalar, M: MulAdd>(x: T) -> T {
    let (numerator, denominator) = sigmoid_fast_parts::<T, M>(x);
    numerator / denominator
}

/// [`sigmoid_fast`] before its division: `(n, d)` with `sigmoid_fast(x) = n / d` bit for bit,
/// `n = 1` or `e^-|x|` (`0` where `sigmoid_fast` flushes, NaN for NaN), `d = 1 + e^-|x|` in
/// `[1, 2]`. For a computation that combines several quotients into one division (the LSTM
/// streaming step): a division is the slowest operation here (on the CPUs measured, one
/// vector division every 8 to 10 cycles, against one multiply-add a cycle), so that several
/// of them in a row wait for each other. `M` as in [`sigmoid_fast`].
#[inline(always)]
pub fn sigmoid_fast_parts<T: Scalar, M: MulAdd>(x: T) -> (T, T) {
    let one = T::one();
    let cap = T::MATH.fast_exp_cap;
    let ax = x.abs();
    let capped = if ax > cap { cap } else { ax };
    let (s, scale) = exp_fast_negative::<T, M, false>(capped);
    let (e, d) = exp_and_one_plus::<T, M>(s, scale);
    let numerator = if x < T::zero() { e } else { one };
    // Past the cap the result is flushed to 0 (`0 / d`, `+0`).
    let numerator = if x < -cap { T::zero() } else { numerator };
    (numerator, d)
}

/// `tanh x` for streaming inference, from the cheaper `exp` of [`sigmoid_fast`] with
/// `e = e^(-2|x|)` and `m = e - 1` (an `expm1`, accurate near 0): `sign(x) (-m / (2 + m))`
/// for `|x| < atanh(1/2)` and `sign(x) (1 - 2e / (1 + e))` above, one division for both (the
/// operands are picked first). [`tanh`] computes an odd polynomial for the first range and
/// a correction-carrying `exp` for the second. `M` as in [`sigmoid_fast`].
///
/// Error (`f32`, every input, either `M`): at most 2.35 ulps of the exact value (tanh within 0.51).
/// `±0` and the sign are kept, `±inf` and `|x| >= 9.01` give `±1`, NaN gives NaN.
#[inline(always)]
pub fn tanh_fast<T: Scalar, M: MulAdd>(x: T) -> T {
    let one = T::one();
    let ax = x.abs();
    // 2|x| at most SATURATED: tanh has rounded to 1 long before, and 2^n stays normal.
    let half_cap = T::from_f64(SATURATED * 0.5);
    let capped = if ax > half_cap { half_cap } else { ax };
    let (s, scale) = exp_fast_negative::<T, M, true>(capped);
    let (e, one_plus_e) = exp_and_one_plus::<T, M>(s, scale);
    // 2^n (1 + s) - 1 rounded once: `scale * s` is exact in `Unfused` too (a power of two
    // times `s`, a normal result).
    let m = M::mul_add(scale, s, scale - one);
    // `a - n / d`: `0 - m / (2 + m)` or `1 - 2e / (1 + e)`. NaN fails the comparison and
    // takes the second, which is NaN.
    let (a, n, d) = if ax < T::from_f64(TANH_SMALL) {
        (T::zero(), m, T::from_f64(2.0) + m)
    } else {
        (one, e + e, one_plus_e)
    };
    let magnitude = a - n / d;
    // `±0` for `x = ±0`, its sign (and every other's) set from `x`.
    magnitude.copysign(x)
}

/// `tanh x` as a quotient `(n, d)`, `n / d` within 2.32 ulps of it in `f32` (every input,
/// either `M`; see the module docs), for a computation that combines several quotients into one division (see
/// [`sigmoid_fast_parts`]): with [`tanh_fast`]'s `e = e^(-2|x|)` and `m = e - 1`, `n = -m`
/// with the sign of `x` and `d = 1 + e` in `[1, 2]`, one form for every `x` (`1 - e`
/// computed as `-m` keeps its relative accuracy where `e` is near 1, which is why
/// [`tanh_fast`] needs two forms and this one does not: its `d` is `1 + e` rounded once, where
/// [`tanh_fast`]'s small-argument `2 + m` is rounded twice). `±0` gives `(±0, 2)`, `±inf`
/// `(±1, 1)`, NaN a NaN numerator.
#[inline(always)]
pub fn tanh_fast_parts<T: Scalar, M: MulAdd>(x: T) -> (T, T) {
    let one = T::one();
    let ax = x.abs();
    let half_cap = T::from_f64(SATURATED * 0.5);
    let capped = if ax > half_cap { half_cap } else { ax };
    let (s, scale) = exp_fast_negative::<T, M, true>(capped);
    let (_, one_plus_e) = exp_and_one_plus::<T, M>(s, scale);
    let m = M::mul_add(scale, s, scale - one);
    ((-m).copysign(x), one_plus_e)
}

/// `|x|` below which [`erf_f32`] uses its odd polynomial.
const ERF_SMALL: f32 = 0.9;
/// `erf x` rounds to 1 in `f32` from `x = 3.92` on: [`erf_f32`] caps its argument here, which
/// also keeps `exp(-x^2)` away from the subnormals.
const ERF_SATURATED: f32 = 4.0;
/// The centre of `[1/4, 1/0.9]`, the range of `u = 1/|x|` in [`erf_f32`]'s second piece.
const ERF_U_MID: f32 = 0.681_055_55;
/// `erf(x)/x - 1 ~ R(x^2)` for `|x| <= 0.9`.
const ERF_SMALL_POLY: [f32; 7] = [
    0.128_379_17,
    -0.376_126_35,
    0.112_837_18,
    -0.026_860_666,
    0.005_204_227,
    -0.000_817_963_2,
    8.529_401_4e-5,
];
/// `exp(x^2) erfc(x) ~ G(1/x - ERF_U_MID)` for `0.9 <= x <= 4`.
const ERF_LARGE_POLY: [f32; 11] = [
    0.326_848_33,
    0.363_383_3,
    -0.164_671_15,
    0.047_660_936,
    0.012_035_47,
    -0.033_952_422,
    0.033_723_883,
    -0.024_339_167,
    0.009_442_528,
    0.013_772_57,
    -0.019_882_96,
];

/// The error function `erf x = 2/sqrt(pi) integral_0^x exp(-t^2) dt` in `f32`, vectorizable
/// ([`Scalar::erf`] of `f32`; `f64` keeps libm's, since one polynomial of this form would need
/// a degree of about 25 for `f64` accuracy).
///
/// - `|x| < 0.9`: `x + x R(x^2)`;
/// - otherwise: `1 - exp(-x^2) G(1/|x|)` (`G(u) = exp(1/u^2) erfc(1/u)`, smooth and between
///   0.14 and 0.46 there), with `|x|` capped at 4, where `erf` has rounded to 1;
///
/// the sign is `x`'s (`-0` included); NaN gives NaN, `±inf` gives `±1`.
#[inline(always)]
pub fn erf_f32(x: f32) -> f32 {
    let ax = x.abs();
    let z = ax * ax;
    let small = ax + ax * polynomial(&ERF_SMALL_POLY, z);

    let capped = if ax > ERF_SATURATED {
        ERF_SATURATED
    } else {
        ax
    };
    let u = 1.0 / capped;
    let tail = exp(-(capped * capped)) * polynomial(&ERF_LARGE_POLY, u - ERF_U_MID);
    let large = 1.0 - tail;

    // NaN fails the comparison and takes the `large` path, which is NaN.
    let magnitude = if ax < ERF_SMALL { small } else { large };
    magnitude.copysign(x)
}
