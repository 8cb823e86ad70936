//! One sample through a dense layer: `y = W x + b`, the matrix-vector product (GEMV) of batch-1
//! inference, at the speed of reading `W`.
//!
//! # Why its own kernel
//! At batch 1 each weight is used once, so a dense layer can go no faster than the stream of its
//! weights from the caches or memory; the arithmetic (one multiply-add per weight) is cheap next
//! to it. The GEMM's dot-product tiles run the reference MLP (784 -> 256 -> 128 -> 10, W2 of
//! `BENCHMARKS.md`) at about 1.4x the time of a plain read of its weights; this kernel at
//! 1.0-1.1x (`cargo bench --bench workloads -- W2`, row `W2.bound`). Per pass over `x`:
//! - 8 rows of `W`, each into one 8-lane vector of partial sums (lane `l` adds the products at
//!   `i = l mod 8` in order of `i`, fused multiply-adds): one load of `x` per 8 loads of `W`,
//!   8 independent chains (enough to hide the multiply-add latency), `x` in L1;
//! - a last partial chunk of `k mod 8` elements through masked loads (no scalar tail);
//! - the 8 lane sums by one transpose-and-add: each step adds two shuffles of a pair of vectors,
//!   halving the vectors and the lanes per row, until one vector holds the 8 outputs in order
//!   (7 shuffle-and-add steps and one shuffle for 8 rows, instead of 3 of each per row);
//! - every weight read exactly once per call, in the order stored.
//!
//! Rows past the last whole group of 8 take one chain each, summed in the same order.
//!
//! It is written with `core::arch` intrinsics: the same loop over fixed-size arrays (as the
//! GEMM's leaves are written) was vectorized by LLVM across rows, through gathers, or left the
//! lane sums in memory, and was slower than the GEMM. 256-bit vectors (AVX2) rather than 512-bit
//! ones: they reach the read bound on the reference machine (AMD Zen 4) too, run on more CPUs,
//! and the AVX-512 intrinsics need a newer Rust than the crate's minimum (1.88).
//!
//! # Order of the adds
//! Output `o` is `sum_lanes(p) + bias[o]`, where `p[l]` is the fused multiply-add chain of the
//! products at `i = l mod 8` (a last partial chunk padded with zeros) and `sum_lanes` adds the
//! lanes pairwise, halves first (`p[l] + p[l + 4]`, then at 2 and 1), as the GEMM's leaves sum
//! their lanes. Whether the kernel runs is decided here, on the CPU's features, and not by
//! [`crate::kernels::simd::dispatch`]'s level: a generated network's inference gives the same
//! bits whatever level it is dispatched to.
//!
//! # Where it runs
//! `f32` on x86-64 with AVX2 and FMA, under `std`. Elsewhere (`f64`, other CPUs) [`gemv`] is
//! the GEMM's `A * B^T` with the bias added, as before this kernel. [`crate::ops::linear`] uses
//! it for batch-1 forward passes through layers larger than
//! [`crate::kernels::small::dense_vector`]'s sizes, with `std` only: without `std` (firmware)
//! the layers keep [`crate::kernels::small`], whose code does not grow.

use crate::kernels::elementwise::add_bias;
use crate::kernels::gemm::matmul_a_bt;
use crate::kernels::Store;
use crate::Scalar;

/// `y[o] = sum_i w[o][i] * x[i] + bias[o]` (without a bias, the sum alone) for `W: [OUT][IN]`
/// row-major, PyTorch's `nn.Linear` layout; `y` is overwritten, not read. Never allocates.
///
/// See the [module docs](self) for where the streaming kernel runs and the order of its adds.
#[inline]
pub fn gemv<T: Scalar, const IN: usize, const OUT: usize>(
    w: &[[T; IN]; OUT],
    x: &[T; IN],
    bias: Option<&[T; OUT]>,
    y: &mut [T; OUT],
) {
    if T::gemv_kernel(w.as_flattened(), x, bias.map(|b| b.as_slice()), y) {
        return;
    }
    let y = core::array::from_mut(y);
    matmul_a_bt(core::array::from_ref(x), w, y, Store::Overwrite);
    if let Some(bias) = bias {
        add_bias(y, bias);
    }
}

/// Whether [`gemv`] runs its streaming kernel on this CPU for `T` (tests).
#[doc(hidden)]
pub fn gemv_has_kernel<T: Scalar>() -> bool {
    T::gemv_kernel(&[], &[], None, &mut [])
}

/// The streaming kernel for `f32`: runs it and returns `true` when this CPU has AVX2 and FMA,
/// else returns `false` without touching `y`. `w.len() == y.len() * x.len()` and, when given,
/// `bias.len() == y.len()` (the typed [`gemv`] guarantees both; otherwise this panics).
#[cfg(all(feature = "std", target_arch = "x86_64"))]
pub(crate) fn gemv_f32(w: &[f32], x: &[f32], bias: Option<&[f32]>, y: &mut [f32]) -> bool {
    if !(std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")) {
        return false;
    }
    assert!(
        w.len() == y.len() * x.len() && bias.is_none_or(|b| b.len() == y.len()),
        "gemv: W must be y.len() x x.len(), the bias y.len()"
    );
    // SAFETY: the CPU has AVX2 and FMA (checked above), the only requirement of this
    // `#[target_feature]` function besides its documented lengths, checked just above.
    unsafe { avx2_f32(w, x, bias, y) };
    true
}

/// The streaming kernel for `f32` without `std` or off x86-64: none.
#[cfg(not(all(feature = "std", target_arch = "x86_64")))]
pub(crate) fn gemv_f32(_: &[f32], _: &[f32], _: Option<&[f32]>, _: &mut [f32]) -> bool {
    false
}

/// Lanes of a vector (256 bits of f32).
#[cfg(all(feature = "std", target_arch = "x86_64"))]
const LANES: usize = 8;

/// Rows per pass over `x`.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
const ROWS: usize = 8;

/// `y = W x (+ bias)` with AVX2 and FMA (see the module docs).
///
/// # Safety
/// The CPU has AVX2 and FMA; `w.len() == y.len() * x.len()`; a bias has `y.len()` elements.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2_f32(w: &[f32], x: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
    use core::arch::x86_64::*;
    let k = x.len();
    let n = y.len();
    let chunks = k / LANES;
    let tail = (k % LANES) as i32;
    // Lanes `0..tail` of the last, partial chunk: all bits set where the lane index is below.
    let mask = _mm256_cmpgt_epi32(
        _mm256_set1_epi32(tail),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    );
    let xp = x.as_ptr();
    let wp = w.as_ptr();
    let mut o = 0;
    while o + ROWS <= n {
        let rows: [*const f32; ROWS] =
            [0, 1, 2, 3, 4, 5, 6, 7].map(|r| wp.wrapping_add((o + r) * k));
        let mut acc = [_mm256_setzero_ps(); ROWS];
        for q in 0..chunks {
            // SAFETY: rows `o..o + 8` are in `w` (`o + 8 <= n`, `w` holds `n` rows of `k`), and
            // elements `8 q..8 q + 8` of a row or of `x` are in bounds (`q < k / 8`).
            unsafe {
                let xv = _mm256_loadu_ps(xp.add(q * LANES));
                for (a, row) in acc.iter_mut().zip(rows) {
                    *a = _mm256_fmadd_ps(_mm256_loadu_ps(row.add(q * LANES)), xv, *a);
                }
            }
        }
        if tail > 0 {
            // SAFETY: as above; a masked load reads only the lanes of `mask`, elements
            // `8 chunks..k` of the row or of `x`, and the other lanes cannot fault.
            unsafe {
                let xv = _mm256_maskload_ps(xp.add(chunks * LANES), mask);
                for (a, row) in acc.iter_mut().zip(rows) {
                    let wv = _mm256_maskload_ps(row.add(chunks * LANES), mask);
                    *a = _mm256_fmadd_ps(wv, xv, *a);
                }
            }
        }
        let mut sums = lane_sums8(&acc);
        let out: &mut [f32; ROWS] = (&mut y[o..o + ROWS])
            .try_into()
            .unwrap_or_else(|_| unreachable!());
        if let Some(b) = bias {
            let b: &[f32; ROWS] = b[o..o + ROWS].try_into().unwrap_or_else(|_| unreachable!());
            // SAFETY: `b` holds 8 elements.
            sums = _mm256_add_ps(sums, unsafe { _mm256_loadu_ps(b.as_ptr()) });
        }
        // SAFETY: `out` holds 8 elements.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), sums) };
        o += ROWS;
    }
    while o < n {
        let row = wp.wrapping_add(o * k);
        let mut acc = _mm256_setzero_ps();
        // SAFETY: row `o < n` is in `w`; chunks and the masked tail as in the loop above.
        unsafe {
            for q in 0..chunks {
                let xv = _mm256_loadu_ps(xp.add(q * LANES));
                acc = _mm256_fmadd_ps(_mm256_loadu_ps(row.add(q * LANES)), xv, acc);
            }
            if tail > 0 {
                let xv = _mm256_maskload_ps(xp.add(chunks * LANES), mask);
                let wv = _mm256_maskload_ps(row.add(chunks * LANES), mask);
                acc = _mm256_fmadd_ps(wv, xv, acc);
            }
        }
        // Halves first, as `lane_sums8` does for each of its rows.
        let h4 = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps::<1>(acc));
        let h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
        let h1 = _mm_add_ss(h2, _mm_shuffle_ps::<0x55>(h2, h2));
        let mut s = _mm_cvtss_f32(h1);
        if let Some(b) = bias {
            s += b[o];
        }
        y[o] = s;
        o += 1;
    }
}

/// `[sum_lanes(v[0]), ..., sum_lanes(v[7])]` (pairwise, halves first) by transposing while
/// adding: each step adds two shuffles of a pair of vectors (the lanes at distance `h` of the
/// same row meet), halving the vectors and the lanes per row.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn lane_sums8(v: &[core::arch::x86_64::__m256; ROWS]) -> core::arch::x86_64::__m256 {
    use core::arch::x86_64::*;
    // h = 4, pairs (j, j + 4): [a.low | b.low] + [a.high | b.high].
    let pair4 = |a, b| {
        _mm256_add_ps(
            _mm256_permute2f128_ps::<0x20>(a, b),
            _mm256_permute2f128_ps::<0x31>(a, b),
        )
    };
    let c = [
        pair4(v[0], v[4]),
        pair4(v[1], v[5]),
        pair4(v[2], v[6]),
        pair4(v[3], v[7]),
    ];
    // c[j] = [row j: 4 | row j + 4: 4]. h = 2, pairs (c0, c2), (c1, c3), within each 128-bit
    // half: [a0 a1 b0 b1] + [a2 a3 b2 b3].
    let pair2 = |a, b| {
        _mm256_add_ps(
            _mm256_shuffle_ps::<0x44>(a, b),
            _mm256_shuffle_ps::<0xEE>(a, b),
        )
    };
    let (d0, d1) = (pair2(c[0], c[2]), pair2(c[1], c[3]));
    // d0 = [r0 r0 r2 r2 | r4 r4 r6 r6], d1 = [r1 r1 r3 r3 | r5 r5 r7 r7]. h = 1:
    // [a0 a2 b0 b2] + [a1 a3 b1 b3].
    let f = _mm256_add_ps(
        _mm256_shuffle_ps::<0x88>(d0, d1),
        _mm256_shuffle_ps::<0xDD>(d0, d1),
    );
    // f = [r0 r2 r1 r3 | r4 r6 r5 r7]: lanes 1 and 2 of each half swapped into order.
    _mm256_shuffle_ps::<0xD8>(f, f)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    /// An integer hash in [-1, 1), with a few exact zeros.
    fn value(seed: usize, i: usize) -> f64 {
        match (i * 7919 + seed * 104729) % 1013 {
            0 => 0.0,
            h => h as f64 / 506.5 - 1.0,
        }
    }

    fn filled<T: Scalar, const IN: usize, const OUT: usize>(
        seed: usize,
    ) -> std::boxed::Box<[[T; IN]; OUT]> {
        // Built on the heap: 784 x 256 f64 would overflow a test thread's stack.
        let mut w: std::boxed::Box<[[T; IN]; OUT]> = std::vec![[T::zero(); IN]; OUT]
            .into_boxed_slice()
            .try_into()
            .unwrap_or_else(|_| unreachable!("OUT rows"));
        for (o, row) in w.iter_mut().enumerate() {
            for (i, v) in row.iter_mut().enumerate() {
                *v = T::from_f64(value(seed, o * IN + i));
            }
        }
        w
    }

    /// Every pair of sizes from the odd list (and W2's layers), with and without a bias, against
    /// the product summed in f64 with an error bound for any order of the adds.
    fn check_sizes<T: Scalar>() {
        fn one<T: Scalar, const IN: usize, const OUT: usize>() {
            let w = filled::<T, IN, OUT>(1);
            let x: [T; IN] = core::array::from_fn(|i| T::from_f64(value(2, i)));
            let bias: [T; OUT] = core::array::from_fn(|o| T::from_f64(value(3, o)));
            for with_bias in [false, true] {
                let mut y = [T::nan(); OUT];
                gemv(&w, &x, with_bias.then_some(&bias), &mut y);
                for o in 0..OUT {
                    let (mut exact, mut magnitude) = (0.0f64, 0.0f64);
                    for i in 0..IN {
                        let p = w[o][i].to_f64() * x[i].to_f64();
                        exact += p;
                        magnitude += p.abs();
                    }
                    if with_bias {
                        exact += bias[o].to_f64();
                        magnitude += bias[o].to_f64().abs();
                    }
                    // Any order of IN + 1 adds (products exact in f64 for f32, within eps for
                    // f64) is within (IN + 2) eps of the sum of the magnitudes.
                    let tol = (IN as f64 + 2.0) * T::epsilon().to_f64() * magnitude;
                    let got = y[o].to_f64();
                    assert!(
                        (got - exact).abs() <= tol,
                        "{IN} -> {OUT} (bias {with_bias}) row {o}: {got} vs {exact}"
                    );
                }
            }
        }
        macro_rules! all_pairs {
            ($($i:literal)*) => { all_pairs!(@ [$($i)*] $($i)*); };
            (@ $outs:tt $($i:literal)*) => { $( all_pairs!(@@ $i $outs); )* };
            (@@ $i:literal [$($o:literal)*]) => { $( one::<T, $i, $o>(); )* };
        }
        all_pairs!(1 3 7 17 63 100 257);
        one::<T, 784, 256>();
        one::<T, 256, 128>();
        one::<T, 128, 10>();
        one::<T, 0, 5>();
        one::<T, 5, 0>();
    }

    #[test]
    fn matches_the_exact_sum_f32() {
        check_sizes::<f32>();
    }

    #[test]
    fn matches_the_exact_sum_f64() {
        check_sizes::<f64>();
    }

    /// Every output is `sum_lanes` of 8 fused chains plus the bias, bit for bit, in the blocks
    /// of 8 rows and in the rows after them (OUT = 19), with a partial last chunk (IN = 37).
    #[test]
    fn the_order_of_the_adds_is_the_documented_one() {
        const IN: usize = 37;
        const OUT: usize = 19;
        const LANES: usize = 8;
        if !gemv_has_kernel::<f32>() {
            return;
        }
        let w = filled::<f32, IN, OUT>(4);
        let x: [f32; IN] = core::array::from_fn(|i| value(5, i) as f32);
        let bias: [f32; OUT] = core::array::from_fn(|o| value(6, o) as f32);
        let mut y = [f32::NAN; OUT];
        gemv(&w, &x, Some(&bias), &mut y);
        for o in 0..OUT {
            let mut lanes = [0.0f32; LANES];
            for i in 0..IN.next_multiple_of(LANES) {
                let (wv, xv) = if i < IN { (w[o][i], x[i]) } else { (0.0, 0.0) };
                lanes[i % LANES] = wv.mul_add(xv, lanes[i % LANES]);
            }
            let mut width = LANES;
            while width > 1 {
                width /= 2;
                for l in 0..width {
                    lanes[l] += lanes[l + width];
                }
            }
            let want = lanes[0] + bias[o];
            assert_eq!(
                y[o].to_bits(),
                want.to_bits(),
                "row {o}: {} vs {want}",
                y[o]
            );
        }
    }

    #[test]
    fn f32_has_the_kernel_where_the_cpu_has_avx2_and_fma() {
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            gemv_has_kernel::<f32>(),
            cfg!(feature = "std")
                && std::is_x86_feature_detected!("avx2")
                && std::is_x86_feature_detected!("fma")
        );
        assert!(!gemv_has_kernel::<f64>());
    }
}
