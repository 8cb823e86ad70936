//! The transposing copy of packing: `dst[q][w] = runs[w][q]`, the first `kc` elements of `n`
//! rows of a row-major matrix laid out column after column (`n` values per step `q`).
//!
//! # Why its own kernel
//! Packing `op(B)` for `X W^T` (every dense layer's forward pass: `W` is `[out, in]`) and `op(A)`
//! for an untransposed `A` reads `n` rows side by side and writes them interleaved. Written as
//! loops over arrays, LLVM compiles it to one scalar load and one scalar store per element (also
//! when the loop is blocked 8 x 8 and compiled for AVX2): on W6 (`BENCHMARKS.md`, a 64 -> 128 ->
//! 10 MLP at batch 32), a tenth of the training step went to that loop. Here each block of 8
//! steps of 8 rows is 8 vector loads, an 8 x 8 register transpose (24 shuffles) and 8 vector
//! stores.
//!
//! # Where it runs
//! `f32` on x86-64 with AVX (detected at run time, cached by `std`), when `n` is a multiple of 8
//! (the packed `B` panels of the AVX2 and AVX-512 kernels: 16 and 32 columns; AVX-512's `A`
//! panels: 8 rows) or below 8 (AVX2's 6-row `A` panels: the block is transposed as 8 x 8 with
//! zero rows and each step's store of 8 runs over into the next step's, which that step's
//! store then overwrites), and `kc >= 8`. Elsewhere the caller's scalar loop runs. The values
//! are copied, not computed: the result is the same bits either way.

/// Copies `dst[q * n + w] = runs[w][q]` for `q < kc`, `w < n = runs.len()` and returns `true`
/// where this CPU has the kernel for `f32` (see the [module docs](self)); else returns `false`
/// without touching `dst`. Also `false` when a run is shorter than `kc` or `dst` than `kc n`.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
pub(crate) fn gather_columns_f32(runs: &[&[f32]], kc: usize, dst: &mut [f32]) -> bool {
    let n = runs.len();
    let shape = n > 0 && (n.is_multiple_of(8) || n < 8) && kc >= 8;
    let lengths = dst.len() >= kc * n && runs.iter().all(|run| run.len() >= kc);
    if !(shape && lengths && std::is_x86_feature_detected!("avx")) {
        return false;
    }
    // SAFETY: the CPU has AVX (checked above); the lengths the function requires were checked
    // just above.
    unsafe { gather_columns_avx(runs, kc, dst) };
    true
}

/// Without `std` or off x86-64: no kernel.
#[cfg(not(all(feature = "std", target_arch = "x86_64")))]
pub(crate) fn gather_columns_f32(_: &[&[f32]], _: usize, _: &mut [f32]) -> bool {
    false
}

/// [`gather_columns_f32`]'s copy.
///
/// # Safety
/// The CPU has AVX; `runs.len()` is a multiple of 8 or below 8, every run holds at least `kc`
/// elements and `dst` at least `kc * runs.len()`.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[target_feature(enable = "avx")]
unsafe fn gather_columns_avx(runs: &[&[f32]], kc: usize, dst: &mut [f32]) {
    use core::arch::x86_64::*;
    let n = runs.len();
    let out = dst.as_mut_ptr();
    let mut q0 = 0;
    if n.is_multiple_of(8) {
        while q0 + 8 <= kc {
            for w0 in (0..n).step_by(8) {
                let mut rows = [_mm256_setzero_ps(); 8];
                for (j, row) in rows.iter_mut().enumerate() {
                    // SAFETY: run `w0 + j < n` holds at least `kc >= q0 + 8` elements.
                    *row = unsafe { _mm256_loadu_ps(runs[w0 + j].as_ptr().add(q0)) };
                }
                for (i, column) in transpose8(rows).into_iter().enumerate() {
                    // SAFETY: elements `(q0 + i) n + w0 .. + 8` lie below `(q0 + 8) n <= kc n`,
                    // within `dst`.
                    unsafe { _mm256_storeu_ps(out.add((q0 + i) * n + w0), column) };
                }
            }
            q0 += 8;
        }
    } else {
        // The store of step `q0 + 7` reaches element `(q0 + 7) n + 7`, which must be one of the
        // `kc n` elements to write (nothing past them is touched).
        while q0 + 8 <= kc && (q0 + 7) * n + 8 <= kc * n {
            let mut rows = [_mm256_setzero_ps(); 8];
            for (row, run) in rows.iter_mut().zip(runs) {
                // SAFETY: every run holds at least `kc >= q0 + 8` elements.
                *row = unsafe { _mm256_loadu_ps(run.as_ptr().add(q0)) };
            }
            // In order of `i`: the lanes `n..8` of step `i`'s store land on step `i + 1`'s
            // first elements, which its own store writes next (and after the last step, on the
            // next block's or the scalar tail's, written later too).
            for (i, column) in transpose8(rows).into_iter().enumerate() {
                // SAFETY: elements `(q0 + i) n .. + 8` end at most at `(q0 + 7) n + 8 <= kc n
                // <= dst.len()` (the loop's condition and the caller's lengths).
                unsafe { _mm256_storeu_ps(out.add((q0 + i) * n), column) };
            }
            q0 += 8;
        }
    }
    for q in q0..kc {
        for (w, run) in runs.iter().enumerate() {
            dst[q * n + w] = run[q];
        }
    }
}

/// The 8 x 8 transpose of `rows`: element `i` of output `j` is element `j` of input `i`.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[target_feature(enable = "avx")]
#[inline]
fn transpose8(r: [core::arch::x86_64::__m256; 8]) -> [core::arch::x86_64::__m256; 8] {
    use core::arch::x86_64::*;
    // Pairs of rows interleaved: t0 = [r0_0 r1_0 r0_1 r1_1 | r0_4 r1_4 r0_5 r1_5], ...
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    // Quads of rows: u0 = [r0_0 r1_0 r2_0 r3_0 | r0_4 r1_4 r2_4 r3_4], ...
    let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    // The halves of rows 0-3 and 4-7 joined: column j = low halves for j < 4, high for j >= 4.
    [
        _mm256_permute2f128_ps::<0x20>(u0, u4),
        _mm256_permute2f128_ps::<0x20>(u1, u5),
        _mm256_permute2f128_ps::<0x20>(u2, u6),
        _mm256_permute2f128_ps::<0x20>(u3, u7),
        _mm256_permute2f128_ps::<0x31>(u0, u4),
        _mm256_permute2f128_ps::<0x31>(u1, u5),
        _mm256_permute2f128_ps::<0x31>(u2, u6),
        _mm256_permute2f128_ps::<0x31>(u3, u7),
    ]
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec;
    use std::vec::Vec;

    use super::gather_columns_f32;

    /// The scalar copy the kernel replaces.
    fn reference(runs: &[&[f32]], kc: usize, dst: &mut [f32]) {
        let n = runs.len();
        for q in 0..kc {
            for (w, run) in runs.iter().enumerate() {
                dst[q * n + w] = run[q];
            }
        }
    }

    /// Every supported width and below, every depth around the blocks of 8, runs longer than
    /// `kc` (a sub-block of a wider matrix) and a `dst` with room to spare: the same values as
    /// the scalar copy, and nothing written past `kc n`.
    #[test]
    fn matches_the_scalar_copy() {
        let mut ran = false;
        for n in [1, 2, 3, 4, 5, 6, 7, 8, 16, 24, 32, 9, 12] {
            for kc in [0, 1, 7, 8, 9, 15, 16, 17, 31, 64, 67, 256] {
                let stride = kc + 5;
                let matrix: Vec<f32> = (0..n * stride).map(|v| v as f32 * 0.5 - 3.0).collect();
                let runs: Vec<&[f32]> = matrix.chunks(stride).map(|row| &row[..kc + 3]).collect();
                let mut want = vec![f32::NAN; kc * n + 11];
                reference(&runs, kc, &mut want);
                let mut got = vec![f32::NAN; kc * n + 11];
                if gather_columns_f32(&runs, kc, &mut got) {
                    ran = true;
                    let same = want
                        .iter()
                        .zip(&got)
                        .all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "n = {n}, kc = {kc}: {got:?}, want {want:?}");
                } else {
                    assert!(got.iter().all(|v| v.is_nan()), "n = {n}, kc = {kc}: wrote");
                }
            }
        }
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        assert_eq!(ran, std::is_x86_feature_detected!("avx"));
        #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
        assert!(!ran);
    }

    /// A `dst` of exactly `kc n` elements: the runs-over of a width below 8 stay inside it.
    #[test]
    fn narrow_widths_stay_inside_an_exact_destination() {
        for n in 1..8 {
            for kc in 8..40 {
                let matrix: Vec<f32> = (0..n * kc).map(|v| v as f32).collect();
                let runs: Vec<&[f32]> = matrix.chunks(kc).collect();
                let mut want = vec![0.0; kc * n];
                reference(&runs, kc, &mut want);
                let mut got = vec![0.0; kc * n];
                if gather_columns_f32(&runs, kc, &mut got) {
                    assert_eq!(got, want, "n = {n}, kc = {kc}");
                }
            }
        }
    }

    /// Runs shorter than `kc`, or a short `dst`: refused, nothing written.
    #[test]
    fn refuses_short_operands() {
        let row = [1.0f32; 16];
        let runs: [&[f32]; 8] = [
            &row[..],
            &row[..],
            &row[..],
            &row[..],
            &row[..],
            &row[..],
            &row[..],
            &row[..12],
        ];
        let mut dst = [f32::NAN; 128];
        assert!(!gather_columns_f32(&runs, 16, &mut dst));
        assert!(dst.iter().all(|v| v.is_nan()));
        let runs = [&row[..]; 8];
        assert!(!gather_columns_f32(&runs, 16, &mut dst[..127]));
    }
}
