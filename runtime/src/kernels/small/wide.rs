//! [`super::dense_vector`] with 256-bit vectors: the same adds in the same order, so the same
//! bits, in a fraction of the instructions.
//!
//! # Why intrinsics
//! Written over arrays, the layer's four partial sums per row were vectorized by LLVM across
//! rows: it transposed the weights on the fly with about 25 shuffles per four rows, so W3's
//! 16 -> 16 layer (`BENCHMARKS.md`) was some 440 instructions, a third of the network's
//! time. Here two rows share a vector, one per 128-bit half, each half holding its row's four
//! partial sums; the weights are loaded as stored and only the final sums are shuffled.
//!
//! # Order of the adds (that of [`super::dense_vector`])
//! Row `o`'s partial sum `l` starts at zero and adds the products `x[i] * w[o][i]` at
//! `i = l mod 4` in order of `i`; the row's sum is `(s0 + s2) + (s1 + s3)`, then the bias is
//! added. Multiplies and adds are separate (no fused multiply-add), as in the portable code,
//! so the result is bit for bit that of the portable code on every CPU.
//!
//! # Where it runs
//! `f32` on x86-64 with AVX2, under `std`, for layers whose input size is a positive multiple
//! of 4 (the portable code's tail products would need a scalar tail here). Being
//! `#[inline]`, it is inlined into a caller compiled for AVX2 (a small network's `infer`,
//! through [`super::dispatch_256`]), where the sizes are constants and every loop unrolls.

/// `y[o] = (sum_i w[o][i] x[i]) + bias[o]` in [`super::dense_vector`]'s order, for
/// `W: [y.len()][x.len()]` row-major; returns `true` when it ran, `false` (and leaves `y`
/// alone) where this CPU or the sizes have no kernel here: no AVX2, or `x.len()` not a positive
/// multiple of 4. Panics if `w.len() != x.len() * y.len()` or a bias is not `y.len()` long (the
/// typed [`super::dense_vector`] guarantees both).
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[inline(always)]
pub(crate) fn dense_vector_f32(x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32]) -> bool {
    if x.is_empty() || !x.len().is_multiple_of(4) || !std::is_x86_feature_detected!("avx2") {
        return false;
    }
    assert!(
        w.len() == y.len() * x.len() && bias.is_none_or(|b| b.len() == y.len()),
        "dense_vector: W must be y.len() x x.len(), the bias y.len()"
    );
    // SAFETY: the CPU has AVX2 (checked above), the only requirement of this
    // `#[target_feature]` function besides the lengths checked just above.
    unsafe { avx2(x, w, bias, y) };
    true
}

/// No kernel without `std` or off x86-64.
#[cfg(not(all(feature = "std", target_arch = "x86_64")))]
#[inline(always)]
pub(crate) fn dense_vector_f32(_: &[f32], _: &[f32], _: Option<&[f32]>, _: &mut [f32]) -> bool {
    false
}

/// Rows per group: four vectors of two rows, whose sums one transpose-and-add puts in order.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
const ROWS: usize = 8;

/// The kernel (see the module docs).
///
/// # Safety
/// The CPU has AVX2; `x.len()` is a positive multiple of 4; `w.len() == y.len() * x.len()`; a
/// bias has `y.len()` elements.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn avx2(x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
    use core::arch::x86_64::*;
    let k = x.len();
    let n = y.len();
    let xp = x.as_ptr();
    let wp = w.as_ptr();
    let mut o = 0;
    while o + ROWS <= n {
        // acc[j]: row o + 2j in the low half, row o + 2j + 1 in the high half.
        let mut acc = [_mm256_setzero_ps(); ROWS / 2];
        for q in (0..k).step_by(4) {
            // SAFETY: `q + 4 <= k` (`k` is a multiple of 4), so elements `q..q + 4` of `x` and
            // of rows `o..o + 8` (in `w`: `o + 8 <= n` rows of `k`) are in bounds.
            unsafe {
                let x4 = _mm_loadu_ps(xp.add(q));
                let xv = _mm256_set_m128(x4, x4);
                for (j, a) in acc.iter_mut().enumerate() {
                    let low = _mm_loadu_ps(wp.add((o + 2 * j) * k + q));
                    let high = _mm_loadu_ps(wp.add((o + 2 * j + 1) * k + q));
                    let wv = _mm256_insertf128_ps::<1>(_mm256_castps128_ps256(low), high);
                    *a = _mm256_add_ps(*a, _mm256_mul_ps(xv, wv));
                }
            }
        }
        // Per half [s0 s1 s2 s3] of a row: [s0 s1 | s0' s1'] + [s2 s3 | s2' s3'] of two
        // vectors gives (s0 + s2), (s1 + s3) of four rows: [r0 r0 r2 r2 | r1 r1 r3 r3].
        let pair = |a, b| {
            _mm256_add_ps(
                _mm256_shuffle_ps::<0x44>(a, b),
                _mm256_shuffle_ps::<0xEE>(a, b),
            )
        };
        let (low, high) = (pair(acc[0], acc[1]), pair(acc[2], acc[3]));
        // hadd: [r0 r2 r4 r6 | r1 r3 r5 r7], each (s0 + s2) + (s1 + s3); then in order.
        let sums = _mm256_permutevar8x32_epi32(
            _mm256_castps_si256(_mm256_hadd_ps(low, high)),
            _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7),
        );
        let mut sums = _mm256_castsi256_ps(sums);
        let out = &mut y[o..o + ROWS];
        if let Some(b) = bias {
            let b = &b[o..o + ROWS];
            // SAFETY: `b` holds 8 elements.
            sums = _mm256_add_ps(sums, unsafe { _mm256_loadu_ps(b.as_ptr()) });
        }
        // SAFETY: `out` holds 8 elements.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), sums) };
        o += ROWS;
    }
    while o < n {
        let mut acc = _mm_setzero_ps();
        for q in (0..k).step_by(4) {
            // SAFETY: elements `q..q + 4` of `x` and of row `o < n` of `w`, as above.
            unsafe {
                let xv = _mm_loadu_ps(xp.add(q));
                acc = _mm_add_ps(acc, _mm_mul_ps(xv, _mm_loadu_ps(wp.add(o * k + q))));
            }
        }
        // [s0 + s2, s1 + s3], then their sum.
        let half = _mm_add_ps(acc, _mm_movehl_ps(acc, acc));
        let mut s = _mm_cvtss_f32(_mm_add_ss(half, _mm_movehdup_ps(half)));
        if let Some(b) = bias {
            s += b[o];
        }
        y[o] = s;
        o += 1;
    }
}
