//! Matrix products for small sizes (batch 1 to 8, layers of up to a few hundred units), free of
//! panic paths and small in code: the kernel set for microcontrollers.
//!
//! # Data model
//! The same as the typed GEMM wrappers ([`super::gemm::matmul_a_bt`] and siblings): every matrix
//! is a row-major array of arrays whose type carries its extents, `A: [[T; K]; M]` is `M x K`.
//! `A` and `B` are shared and `C` exclusive, so `C` aliases neither. With [`Store::Overwrite`],
//! `C` is not read (NaN in `C` does not reach the result); with [`Store::Accumulate`], the
//! product is added to `C`.
//!
//! # Why a second set
//! The general GEMM takes its dims and leading dimensions at run time and cuts slices with them,
//! so its bounds checks stay in the binary (with `core::fmt` behind them), and it instantiates a
//! register tile for every shape class, which is most of a small firmware's code. Here the only
//! loops are iterators over arrays and zipped slices of equal length: there is no index to check,
//! so no panic path is linked. Each product is one loop nest over shared leaves that work on
//! slices ([`dot`], and `scale_add` of one or [`TERMS`] rows), so all shapes of one element type
//! share their code.
//!
//! # Speed
//! [`dot`] keeps [`LANES`] independent partial sums, which the compiler maps to vector registers
//! on hosts (and which keep a scalar FPU's pipeline busy); `scale_add` runs along a contiguous
//! row of independent elements, which vectorizes. There is no register or cache blocking and no
//! run-time choice of instruction set, so on hosts the GEMM ([`super::gemm`], AVX2/AVX-512
//! leaves) is faster for all but a few shapes; `cargo run -p monograd-runtime --release
//! --example small_vs_gemm` measures both. Measured (f32, AMD EPYC Zen 4 with AVX-512, the two
//! alternating in one run; ratio = GEMM time / small time, above 1 means small is faster):
//!
//! | shape `B x IN -> OUT` | `A * B^T` (forward) | `A * B` (input grad.) | `A^T * B` (weight grad.) |
//! |-----------------------|---------------------|-----------------------|--------------------------|
//! | 1 x 784 -> 256        | 0.64                | 0.79                  | 4.9                      |
//! | 1 x 256 -> 128        | 0.55                | 0.73                  | 4.9                      |
//! | 1 x 16 -> 16          | 0.69                | 0.89                  | 1.55                     |
//! | 4 x 784 -> 256        | 0.34                | 0.36                  | 2.3                      |
//! | 4 x 16 -> 16          | 0.47                | 0.37                  | 1.8                      |
//! | 8 x 784 -> 256        | 0.33                | 0.36                  | 1.27                     |
//! | 8 x 16 -> 16          | 0.31                | 0.32                  | 0.92                     |
//!
//! On a Cortex-M4F (no vector unit), the digits firmware's inference with these kernels is
//! 2.2 KB of code at opt-level 3 (`dot` 1.1 KB, the generated `infer` 1.0 KB).
//!
//! # One sample through a small layer
//! [`dense_vector`] is the other way round: `y = W x + b` for one sample, unrolled at its
//! constant sizes (at most [`DENSE_VECTOR_MAX`]) and always inlined, for hosts, where a tiny
//! network's inference is a chain of dependent layers and every call, check and loop counter
//! is on the critical path. [`dispatch_256`] compiles such a chain for AVX2.

use super::Store;
use crate::Scalar;

mod wide;
pub(crate) use wide::dense_vector_f32;

/// Independent partial sums in [`dot`]: four 128-bit registers of `f32` on x86-64 (measured 1.25x
/// faster than eight lanes for 784-element rows), sixteen of the 32 FPU registers of a
/// Cortex-M4F.
pub const LANES: usize = 16;

/// `C (store) A * B^T` for `A: [M][K]`, `B: [N][K]`, `C: [M][N]`:
/// `C[i][j] (store) sum_p A[i][p] * B[j][p]`. Dense forward (`Y = X * W^T` with `W: [out][in]`).
///
/// Each element is one [`dot`] of two contiguous rows. With [`Store::Overwrite`], `C` is not
/// read.
#[inline]
pub fn matmul_a_bt<T: Scalar, const M: usize, const K: usize, const N: usize>(
    a: &[[T; K]; M],
    b: &[[T; K]; N],
    c: &mut [[T; N]; M],
    store: Store,
) {
    for (a_row, c_row) in a.iter().zip(c.iter_mut()) {
        for (b_row, cij) in b.iter().zip(c_row.iter_mut()) {
            store.apply(cij, dot(a_row, b_row));
        }
    }
}

/// `C (store) A * B` for `A: [M][K]`, `B: [K][N]`, `C: [M][N]`:
/// `C[i][j] (store) sum_p A[i][p] * B[p][j]`. Dense input gradient (`dX = dY * W`).
///
/// Row `i` of `C` is the sum of the rows of `B` scaled by row `i` of `A`, added in the order of
/// `p`, [`TERMS`] rows per pass over the row of `C`. With [`Store::Overwrite`], `C` is not read.
#[inline]
pub fn matmul_a_b<T: Scalar, const M: usize, const K: usize, const N: usize>(
    a: &[[T; K]; M],
    b: &[[T; N]; K],
    c: &mut [[T; N]; M],
    store: Store,
) {
    for (a_row, c_row) in a.iter().zip(c.iter_mut()) {
        let mut overwrite = store == Store::Overwrite;
        let (scale_chunks, scale_tail) = a_row.as_chunks::<TERMS>();
        let (row_chunks, row_tail) = b.as_chunks::<TERMS>();
        for (&s, [b0, b1, b2, b3]) in scale_chunks.iter().zip(row_chunks) {
            scale_add_4(overwrite, c_row, s, [b0, b1, b2, b3]);
            overwrite = false;
        }
        for (&s, b_row) in scale_tail.iter().zip(row_tail) {
            scale_add(overwrite, c_row, s, b_row);
            overwrite = false;
        }
        if overwrite {
            // K == 0: the empty sum.
            *c_row = [T::zero(); N];
        }
    }
}

/// `C (store) A^T * B` for `A: [K][M]`, `B: [K][N]`, `C: [M][N]`:
/// `C[i][j] (store) sum_p A[p][i] * B[p][j]`. Dense weight gradient (`dW = dY^T * X`, where `K`
/// is the batch).
///
/// Rank-1 updates of `C` (rows contiguous), [`TERMS`] values of `p` per pass over `C`, so `A`
/// and `B` are read in order; the terms are added in the order of `p`. With
/// [`Store::Overwrite`], `C` is not read.
#[inline]
pub fn matmul_at_b<T: Scalar, const M: usize, const K: usize, const N: usize>(
    a: &[[T; M]; K],
    b: &[[T; N]; K],
    c: &mut [[T; N]; M],
    store: Store,
) {
    let mut overwrite = store == Store::Overwrite;
    let (a_chunks, a_tail) = a.as_chunks::<TERMS>();
    let (b_chunks, b_tail) = b.as_chunks::<TERMS>();
    for ([a0, a1, a2, a3], [b0, b1, b2, b3]) in a_chunks.iter().zip(b_chunks) {
        let columns = a0.iter().zip(a1).zip(a2).zip(a3);
        for (c_row, (((&s0, &s1), &s2), &s3)) in c.iter_mut().zip(columns) {
            scale_add_4(overwrite, c_row, [s0, s1, s2, s3], [b0, b1, b2, b3]);
        }
        overwrite = false;
    }
    for (a_row, b_row) in a_tail.iter().zip(b_tail) {
        for (c_row, &s) in c.iter_mut().zip(a_row) {
            scale_add(overwrite, c_row, s, b_row);
        }
        overwrite = false;
    }
    if overwrite {
        // K == 0: the empty sum.
        *c = [[T::zero(); N]; M];
    }
}

/// Runs `computation` compiled for AVX2 and FMA when the CPU has them (x86-64 with `std`), else
/// for the baseline. For the one-sample inference of a small network (a chain of dependent
/// steps, each a few vectors wide), where 256-bit code was measured faster than the AVX-512 code
/// [`super::simd::dispatch`] would pick (W3: 119 vs 134 ns, AMD EPYC Zen 4): the 512-bit
/// registers only add shuffles to the dense layers' reductions. Write `computation` as for
/// `dispatch`, with an `#[inline(always)]` `run`.
#[inline]
pub fn dispatch_256<S: super::simd::Simd>(computation: S) -> S::Output {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        #[target_feature(enable = "avx2,fma")]
        fn avx2<S: super::simd::Simd>(computation: S) -> S::Output {
            computation.run()
        }
        // SAFETY: the CPU has AVX2 and FMA (checked just above), the only requirement of a
        // `#[target_feature]` function; `run` is safe Rust.
        return unsafe { avx2(computation) };
    }
    computation.run()
}

/// Largest input and output size of a layer that [`dense_vector`] serves: a 64 x 64 weight is
/// 16 KB of f32, and every loop below is unrolled at its constant bounds.
pub const DENSE_VECTOR_MAX: usize = 64;

/// Rows of `W` per group in [`dense_vector`], and partial sums per row.
const GROUP: usize = 4;

/// One sample through a small dense layer: `y[o] = (sum_i w[o][i] * x[i]) + bias[o]` (without a
/// bias, the sum alone), `W: [O][I]` row-major as the parameter block stores it; `y` is not
/// read.
///
/// Meant for layers of at most [`DENSE_VECTOR_MAX`] inputs and outputs, called with constant
/// `I` and `O` so that the compiler unrolls it completely and keeps `x` and the partial sums in
/// registers; `#[inline(always)]`, so that it is compiled for the instruction set of its caller
/// (see [`dispatch_256`]). No call, no branch, no check: the whole layer is a straight run of
/// loads, multiplies and adds.
///
/// Each row's dot product adds the products of the first `I - I mod 4` elements into four
/// partial sums (element `i` into sum `i mod 4`, in order), adds them as `(s0 + s2) + (s1 +
/// s3)`, then the last `I mod 4` products in order, then the bias: the order of the GEMM's
/// inlined products (`gemm::matmul_a_bt` of at most 64 multiply-adds), so a layer that small
/// gives the same bits at batch 1 as in a batch. Rows go in groups of four, whose reductions
/// the compiler turns into a few shuffles and adds giving the group's four outputs in one vector.
///
/// `f32` layers whose input size is a multiple of 4 run the same adds on 256-bit vectors where
/// the CPU has AVX2 (`kernels/small/wide.rs`: two rows per vector, the weights loaded as
/// stored), with the same bits.
#[inline(always)]
pub fn dense_vector<T: Scalar, const I: usize, const O: usize>(
    x: &[T; I],
    w: &[[T; I]; O],
    bias: Option<&[T; O]>,
    y: &mut [T; O],
) {
    if !T::dense_vector_kernel(x, w.as_flattened(), bias.map(|b| b.as_slice()), y) {
        dense_vector_portable(x, w, bias, y);
    }
}

/// [`dense_vector`] in plain Rust, for every type and target; where the CPU and sizes have a
/// vector form ([`wide`]), that gives the same bits.
#[inline(always)]
fn dense_vector_portable<T: Scalar, const I: usize, const O: usize>(
    x: &[T; I],
    w: &[[T; I]; O],
    bias: Option<&[T; O]>,
    y: &mut [T; O],
) {
    let (w_groups, w_tail) = w.as_chunks::<GROUP>();
    let (y_groups, y_tail) = y.as_chunks_mut::<GROUP>();
    for ([w0, w1, w2, w3], out) in w_groups.iter().zip(y_groups) {
        // Four calls, not `map`: a closure is not reliably inlined into a `#[target_feature]`
        // caller.
        let (s0, s1) = (partial_dot(x, w0), partial_dot(x, w1));
        let (s2, s3) = (partial_dot(x, w2), partial_dot(x, w3));
        let low = [s0[0] + s0[2], s0[1] + s0[3], s1[0] + s1[2], s1[1] + s1[3]];
        let high = [s2[0] + s2[2], s2[1] + s2[3], s3[0] + s3[2], s3[1] + s3[3]];
        *out = [
            tail_dot(low[0] + low[1], x, w0),
            tail_dot(low[2] + low[3], x, w1),
            tail_dot(high[0] + high[1], x, w2),
            tail_dot(high[2] + high[3], x, w3),
        ];
    }
    for (row, out) in w_tail.iter().zip(y_tail) {
        let s = partial_dot(x, row);
        *out = tail_dot((s[0] + s[2]) + (s[1] + s[3]), x, row);
    }
    if let Some(bias) = bias {
        for (out, &b) in y.iter_mut().zip(bias) {
            *out += b;
        }
    }
}

/// The [`GROUP`] partial sums of `sum_i x[i] * row[i]` over the whole chunks of [`GROUP`]
/// elements: sum `l` adds the products at `i = l mod GROUP` in order of `i`.
#[inline(always)]
fn partial_dot<T: Scalar, const I: usize>(x: &[T; I], row: &[T; I]) -> [T; GROUP] {
    let (x_chunks, _) = x.as_chunks::<GROUP>();
    let (r_chunks, _) = row.as_chunks::<GROUP>();
    let mut sums = [T::zero(); GROUP];
    for (xc, rc) in x_chunks.iter().zip(r_chunks) {
        for ((s, &xv), &rv) in sums.iter_mut().zip(xc).zip(rc) {
            *s += xv * rv;
        }
    }
    sums
}

/// `sum` plus the products of the last `I mod GROUP` elements, in order.
#[inline(always)]
fn tail_dot<T: Scalar, const I: usize>(mut sum: T, x: &[T; I], row: &[T; I]) -> T {
    let (_, x_tail) = x.as_chunks::<GROUP>();
    let (_, r_tail) = row.as_chunks::<GROUP>();
    for (&xv, &rv) in x_tail.iter().zip(r_tail) {
        sum += xv * rv;
    }
    sum
}

/// `sum_p x[p] * y[p]` over the common length, with [`LANES`] partial sums so that the adds are
/// not one serial chain: lane `l` adds the products at `p = l mod LANES` in order, then the lanes
/// are added in order (`((lane 0 + lane 1) + lane 2) + ...`, starting from zero), then the tail
/// (`len mod LANES` products), in order.
pub fn dot<T: Scalar>(x: &[T], y: &[T]) -> T {
    let (x_chunks, x_tail) = x.as_chunks::<LANES>();
    let (y_chunks, y_tail) = y.as_chunks::<LANES>();
    let mut partial = [T::zero(); LANES];
    for (xc, yc) in x_chunks.iter().zip(y_chunks) {
        for ((p, &xv), &yv) in partial.iter_mut().zip(xc).zip(yc) {
            *p += xv * yv;
        }
    }
    // A serial sum of the lanes: a balanced tree makes the compiler split the lanes into
    // 64-bit vectors on x86-64 (measured: 1.6x slower for 784-element rows).
    let mut sum = T::zero();
    for p in partial {
        sum += p;
    }
    for (&xv, &yv) in x_tail.iter().zip(y_tail) {
        sum += xv * yv;
    }
    sum
}

/// Rows of `B` that [`matmul_a_b`] and [`matmul_at_b`] add per pass over a row of `C`: a quarter
/// of the loads and stores of `C` of one row per pass, same order of the adds.
pub const TERMS: usize = 4;

/// `row[j] = (((row[j] + s[0] * y[0][j]) + s[1] * y[1][j]) + s[2] * y[2][j]) + s[3] * y[3][j]`
/// over the common length: four [`scale_add`] in one pass, rounded the same way. With
/// `overwrite`, `row[j] + ` is left out and `row` is not read.
#[inline]
fn scale_add_4<T: Scalar>(
    overwrite: bool,
    row: &mut [T],
    [s0, s1, s2, s3]: [T; TERMS],
    [y0, y1, y2, y3]: [&[T]; TERMS],
) {
    let ys = y0.iter().zip(y1).zip(y2).zip(y3);
    if overwrite {
        for (o, (((&v0, &v1), &v2), &v3)) in row.iter_mut().zip(ys) {
            *o = ((s0 * v0 + s1 * v1) + s2 * v2) + s3 * v3;
        }
    } else {
        for (o, (((&v0, &v1), &v2), &v3)) in row.iter_mut().zip(ys) {
            *o = (((*o + s0 * v0) + s1 * v1) + s2 * v2) + s3 * v3;
        }
    }
}

/// `row[j] += s * y[j]` over the common length; with `overwrite`, `row[j] = s * y[j]` (`row` is
/// not read).
#[inline]
fn scale_add<T: Scalar>(overwrite: bool, row: &mut [T], s: T, y: &[T]) {
    if overwrite {
        for (o, &v) in row.iter_mut().zip(y) {
            *o = s * v;
        }
    } else {
        for (o, &v) in row.iter_mut().zip(y) {
            *o += s * v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rng;

    /// A `[[T; C]; R]` of uniform values in [-1, 1).
    fn random<T: Scalar, const R: usize, const C: usize>(rng: &mut Rng) -> [[T; C]; R] {
        core::array::from_fn(|_| core::array::from_fn(|_| rng.uniform::<T>(-1.0, 1.0)))
    }

    /// Asserts that `got[i][j]` is `initial[i][j]` (when accumulating) plus `sum_p x(i, p) *
    /// y(p, j)`, computed naively in f64, within a rounding bound scaled by the magnitudes that
    /// entered it (`K` products plus the initial value, each off by a few ulps of their sum).
    fn check<T: Scalar, const M: usize, const K: usize, const N: usize>(
        what: &str,
        got: &[[T; N]; M],
        initial: Option<&[[T; N]; M]>,
        x: impl Fn(usize, usize) -> T,
        y: impl Fn(usize, usize) -> T,
    ) {
        let eps = T::epsilon().to_f64();
        for (i, got_row) in got.iter().enumerate() {
            for (j, &got_ij) in got_row.iter().enumerate() {
                let c0 = initial.map_or(0.0, |c| c[i][j].to_f64());
                let mut want = c0;
                let mut magnitude = c0.abs();
                for p in 0..K {
                    let term = x(i, p).to_f64() * y(p, j).to_f64();
                    want += term;
                    magnitude += term.abs();
                }
                let bound = 2.0 * (K as f64 + 2.0) * eps * magnitude;
                let got_ij = got_ij.to_f64();
                assert!(
                    (got_ij - want).abs() <= bound,
                    "{what} {M}x{K}x{N} ({}) at [{i}][{j}]: got {got_ij}, want {want} (bound {bound})",
                    T::NAME
                );
            }
        }
    }

    /// The three products of one shape, both stores: Overwrite into a `C` full of NaN (which must
    /// not reach the result) and Accumulate onto random values.
    fn check_shape<T: Scalar, const M: usize, const K: usize, const N: usize>(seed: u64) {
        let mut rng = Rng::new(seed);
        let a: [[T; K]; M] = random(&mut rng);
        let bt: [[T; K]; N] = random(&mut rng);
        let b: [[T; N]; K] = random(&mut rng);
        let at: [[T; M]; K] = random(&mut rng);
        let initial: [[T; N]; M] = random(&mut rng);
        for store in [Store::Overwrite, Store::Accumulate] {
            let start = match store {
                Store::Overwrite => [[T::nan(); N]; M],
                Store::Accumulate => initial,
            };
            let init = (store == Store::Accumulate).then_some(&initial);

            let mut c = start;
            matmul_a_bt(&a, &bt, &mut c, store);
            check::<T, M, K, N>("a_bt", &c, init, |i, p| a[i][p], |p, j| bt[j][p]);

            let mut c = start;
            matmul_a_b(&a, &b, &mut c, store);
            check::<T, M, K, N>("a_b", &c, init, |i, p| a[i][p], |p, j| b[p][j]);

            let mut c = start;
            matmul_at_b(&at, &b, &mut c, store);
            check::<T, M, K, N>("at_b", &c, init, |i, p| at[p][i], |p, j| b[p][j]);
        }
    }

    /// Every shape in f32 and f64: ones, zero-length dims, odd sizes, the edges of a [`LANES`]
    /// chunk (K = 15, 16, 17, 32, 35), of [`TERMS`] terms per pass (K = 3, 4, 5, 7, 8, 9), and
    /// layer sizes of the reference workloads (the first W2 layer with fewer outputs, which
    /// keeps the f64 arrays of a debug build on the stack of a test thread).
    macro_rules! shapes {
        ($($name:ident: $m:literal x $k:literal -> $n:literal),* $(,)?) => {
            $(
                #[test]
                fn $name() {
                    check_shape::<f32, $m, $k, $n>(1 + $m * 1000 + $k * 10 + $n);
                    check_shape::<f64, $m, $k, $n>(2 + $m * 1000 + $k * 10 + $n);
                }
            )*
        };
    }

    shapes! {
        ones: 1 x 1 -> 1,
        empty_m: 0 x 5 -> 3,
        empty_k: 3 x 0 -> 5,
        empty_n: 2 x 4 -> 0,
        odd_small: 3 x 5 -> 7,
        below_lanes: 2 x 15 -> 3,
        lanes: 1 x 16 -> 9,
        above_lanes: 5 x 17 -> 2,
        two_chunks_and_tail: 4 x 35 -> 15,
        two_chunks: 8 x 32 -> 16,
        terms_below_four: 3 x 3 -> 5,
        terms_four_and_tail: 2 x 7 -> 3,
        four_terms: 3 x 4 -> 6,
        eight_terms: 2 x 8 -> 5,
        batch_5: 5 x 9 -> 4,
        w3_first: 1 x 2 -> 16,
        w3_last: 1 x 16 -> 1,
        digits_hidden: 1 x 64 -> 16,
        digits_logits: 1 x 16 -> 10,
        batch_7: 7 x 33 -> 31,
        w2_middle: 2 x 256 -> 128,
        w2_first_rows: 1 x 784 -> 12,
    }

    /// [`dense_vector`] against the naive sum in f64, with and without a bias, into a `y` full
    /// of NaN (which must not reach the result).
    fn check_dense_vector<T: Scalar, const I: usize, const O: usize>(seed: u64) {
        let mut rng = Rng::new(seed);
        let x: [[T; I]; 1] = random(&mut rng);
        let w: [[T; I]; O] = random(&mut rng);
        let bias: [[T; O]; 1] = random(&mut rng);
        for with_bias in [false, true] {
            let mut y = [T::nan(); O];
            dense_vector(&x[0], &w, with_bias.then_some(&bias[0]), &mut y);
            let initial = with_bias.then_some([bias[0]]);
            check::<T, 1, I, O>(
                "dense_vector",
                &[y],
                initial.as_ref(),
                |_, p| x[0][p],
                |p, j| w[j][p],
            );
        }
    }

    /// Every group/tail case of [`dense_vector`]: outputs below, at and past a group of four,
    /// inputs below, at and past a chunk of four, the W3 layers and the largest size.
    #[test]
    fn dense_vector_matches_the_naive_sum() {
        macro_rules! each {
            ($($i:literal -> $o:literal),*) => {$(
                check_dense_vector::<f32, $i, $o>(3 + $i * 100 + $o);
                check_dense_vector::<f64, $i, $o>(4 + $i * 100 + $o);
            )*};
        }
        each!(0 -> 3, 1 -> 1, 2 -> 16, 16 -> 16, 16 -> 1, 3 -> 5, 4 -> 4, 5 -> 7, 7 -> 9,
              13 -> 6, 33 -> 31, 64 -> 64);
    }

    struct TwoLayers<'a> {
        x: &'a [f32; 16],
        w1: &'a [[f32; 16]; 16],
        w2: &'a [[f32; 16]; 5],
        b: &'a [f32; 5],
    }

    impl crate::kernels::simd::Simd for TwoLayers<'_> {
        type Output = [f32; 5];
        #[inline(always)]
        fn run(self) -> [f32; 5] {
            let mut h = [0.0; 16];
            dense_vector(self.x, self.w1, None, &mut h);
            for v in &mut h {
                *v = crate::kernels::math::tanh(*v);
            }
            let mut y = [0.0; 5];
            dense_vector(&h, self.w2, Some(self.b), &mut y);
            y
        }
    }

    /// [`dense_vector`] and an activation compiled for AVX2 by [`dispatch_256`] give the
    /// baseline's bits.
    #[test]
    fn dispatch_256_gives_the_baseline_result() {
        use crate::kernels::simd::Simd;
        let mut rng = Rng::new(21);
        let x: [[f32; 16]; 1] = random(&mut rng);
        let w1: [[f32; 16]; 16] = random(&mut rng);
        let w2: [[f32; 16]; 5] = random(&mut rng);
        let b: [[f32; 5]; 1] = random(&mut rng);
        let call = || TwoLayers {
            x: &x[0],
            w1: &w1,
            w2: &w2,
            b: &b[0],
        };
        let wide = dispatch_256(call());
        let baseline = call().run();
        assert_eq!(wide.map(f32::to_bits), baseline.map(f32::to_bits));
    }

    /// [`dense_vector`] gives the bits of the GEMM's inlined products (at most 64
    /// multiply-adds) plus the bias, so that a small layer's output does not depend on the
    /// batch it is computed in.
    #[test]
    fn dense_vector_matches_the_inlined_gemm_bit_for_bit() {
        fn check<const I: usize, const O: usize>(seed: u64) {
            let mut rng = Rng::new(seed);
            let x: [[f32; I]; 1] = random(&mut rng);
            let w: [[f32; I]; O] = random(&mut rng);
            let b: [[f32; O]; 1] = random(&mut rng);
            let mut want = [[f32::NAN; O]; 1];
            crate::kernels::gemm::matmul_a_bt(&x, &w, &mut want, Store::Overwrite);
            for (v, &bias) in want[0].iter_mut().zip(&b[0]) {
                *v += bias;
            }
            let mut got = [f32::NAN; O];
            dense_vector(&x[0], &w, Some(&b[0]), &mut got);
            assert_eq!(
                got.map(f32::to_bits),
                want[0].map(f32::to_bits),
                "{I} -> {O}"
            );
        }
        check::<2, 16>(31);
        check::<16, 1>(32);
        check::<6, 3>(33);
        check::<7, 9>(34);
        check::<13, 4>(35);
        check::<64, 1>(36);
        check::<5, 5>(37);
        check::<16, 4>(38);
        check::<8, 8>(39);
        check::<4, 16>(40);
    }

    /// A value of every kind the kernels must carry: signed zeros, infinities, NaN, subnormal
    /// and ordinary numbers.
    fn special(rng: &mut Rng) -> f32 {
        match rng.below(12) {
            0 => 0.0,
            1 => -0.0,
            2 => f32::INFINITY,
            3 => f32::NEG_INFINITY,
            4 => f32::NAN,
            5 => 1.0e-40,
            _ => rng.uniform::<f32>(-1.0, 1.0),
        }
    }

    /// Where the CPU has a vector form of [`dense_vector`] ([`wide`]: `f32`, inputs a
    /// multiple of 4), it gives the portable code's bits (NaN as NaN) for every output count
    /// around its groups of 8 rows, with and without a bias, on ordinary and on special values;
    /// and it runs wherever the CPU has AVX2.
    #[test]
    fn dense_vector_kernel_matches_the_portable_code() {
        fn check<const I: usize, const O: usize>(seed: u64, specials: bool) {
            let mut rng = Rng::new(seed);
            let value = |rng: &mut Rng| {
                if specials {
                    special(rng)
                } else {
                    rng.uniform::<f32>(-1.0, 1.0)
                }
            };
            let x: [f32; I] = core::array::from_fn(|_| value(&mut rng));
            let w: [[f32; I]; O] =
                core::array::from_fn(|_| core::array::from_fn(|_| value(&mut rng)));
            let b: [f32; O] = core::array::from_fn(|_| value(&mut rng));
            for bias in [None, Some(&b)] {
                let mut want = [f32::NAN; O];
                dense_vector_portable(&x, &w, bias, &mut want);
                let mut got = [f32::NAN; O];
                let ran = dense_vector_f32(&x, w.as_flattened(), bias.map(|b| &b[..]), &mut got);
                #[cfg(all(feature = "std", target_arch = "x86_64"))]
                assert_eq!(ran, std::is_x86_feature_detected!("avx2"), "{I} -> {O}");
                if !ran {
                    continue;
                }
                for (o, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                        "{I} -> {O}, output {o}: {g:e} against {w:e}"
                    );
                }
            }
        }
        macro_rules! each {
            ($($i:literal -> $($o:literal)*),*) => {$($(
                check::<$i, $o>(100 * $i + $o, false);
                check::<$i, $o>(100 * $i + $o + 50, true);
            )*)*};
        }
        each!(4 -> 1 2 7 8 9 15 16 17 24 31,
              8 -> 1 8 10,
              12 -> 3 16,
              16 -> 1 5 16 17,
              20 -> 8 13,
              36 -> 2 9,
              60 -> 23,
              64 -> 1 64);
        // No kernel for inputs that are not a positive multiple of 4.
        let mut y = [0.0f32; 3];
        assert!(!dense_vector_f32(&[1.0; 6], &[1.0; 18], None, &mut y));
        assert!(!dense_vector_f32(&[], &[], None, &mut y));
        fn has_kernel<T: Scalar>() -> bool {
            T::dense_vector_kernel(&[T::one(); 4], &[T::one(); 12], None, &mut [T::zero(); 3])
        }
        assert!(!has_kernel::<f64>());
    }

    /// Exact values of [`dense_vector`] where nothing rounds (small integers): `W x + b`, as
    /// PyTorch's `F.linear(x, W, b)` gives them.
    #[test]
    fn dense_vector_reference_values() {
        let x = [1.0f32, 2.0, 3.0, -1.0, 0.5];
        let w = [
            [1.0f32, 0.0, -1.0, 2.0, 4.0],
            [2.0, 1.0, 0.0, 0.0, -2.0],
            [0.0, 0.0, 0.0, 0.0, 0.0],
            [1.0, 1.0, 1.0, 1.0, 1.0],
            [-3.0, 0.5, 0.25, 8.0, 2.0],
            [0.0, -1.0, 0.0, 1.0, 0.0],
        ];
        let b = [0.5f32, -1.0, 7.0, 0.0, 1.0, -0.25];
        let mut y = [f32::NAN; 6];
        dense_vector(&x, &w, Some(&b), &mut y);
        assert_eq!(y, [-1.5, 2.0, 7.0, 5.5, -7.25, -3.25]);
        dense_vector(&x, &w, None, &mut y);
        assert_eq!(y, [-2.0, 3.0, 0.0, 5.5, -8.25, -3.0]);
    }

    /// Exact values where nothing rounds (small integers): the same results as PyTorch's
    /// `x @ w.T`, `x @ w` and `x.T @ w`, which need no script to produce.
    #[test]
    fn reference_values() {
        let a = [[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let bt = [[1.0f32, 0.0, -1.0], [2.0, 1.0, 0.0]];
        let mut c = [[f32::NAN; 2]; 2];
        matmul_a_bt(&a, &bt, &mut c, Store::Overwrite);
        assert_eq!(c, [[-2.0, 4.0], [-2.0, 13.0]]);
        matmul_a_bt(&a, &bt, &mut c, Store::Accumulate);
        assert_eq!(c, [[-4.0, 8.0], [-4.0, 26.0]]);

        let b = [[1.0f32, -1.0], [0.5, 2.0], [0.0, 3.0]];
        let mut c = [[f32::NAN; 2]; 2];
        matmul_a_b(&a, &b, &mut c, Store::Overwrite);
        assert_eq!(c, [[2.0, 12.0], [6.5, 24.0]]);

        let mut c = [[f32::NAN; 3]; 3];
        matmul_at_b(&a, &a, &mut c, Store::Overwrite);
        assert_eq!(
            c,
            [[17.0, 22.0, 27.0], [22.0, 29.0, 36.0], [27.0, 36.0, 45.0]]
        );
    }

    /// The summation order that [`dot`] documents, bit for bit: lanes in order, a balanced tree
    /// over the lanes, then the tail.
    #[test]
    fn dot_order() {
        const LEN: usize = 2 * LANES + 3;
        let x: [f32; LEN] = core::array::from_fn(|p| 1.0 + p as f32 * 0.1);
        let y: [f32; LEN] = core::array::from_fn(|p| 0.3 - p as f32 * 0.07);
        let mut lanes = [0.0f32; LANES];
        for p in 0..2 * LANES {
            lanes[p % LANES] += x[p] * y[p];
        }
        let mut want = 0.0f32;
        for lane in lanes {
            want += lane;
        }
        for p in 2 * LANES..LEN {
            want += x[p] * y[p];
        }
        assert_eq!(dot(&x, &y).to_bits(), want.to_bits());
    }
}
