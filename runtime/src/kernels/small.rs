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
//! so no panic path is linked. Each product is one loop nest over two shared leaves, [`dot`] and
//! [`scale_add`], which work on slices, so all shapes of one element type share their code.
//!
//! # Speed
//! [`dot`] keeps [`LANES`] independent partial sums, which the compiler maps to vector registers
//! on hosts (and which keep a scalar FPU's pipeline busy); [`scale_add`] runs along a contiguous
//! row of independent elements, which vectorizes. There is no register or cache blocking, so
//! large products belong on [`super::gemm`]; the measured crossover is in the crate's
//! `small_vs_gemm` example.

use super::Store;
use crate::Scalar;

/// Independent partial sums in [`dot`]: two 128-bit registers of `f32`, eight FPU registers on a
/// Cortex-M4F (which has 32).
pub const LANES: usize = 8;

const _: () = assert!(LANES == 8, "dot sums its eight partial sums as a tree");

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
/// `p`. With [`Store::Overwrite`], `C` is not read.
#[inline]
pub fn matmul_a_b<T: Scalar, const M: usize, const K: usize, const N: usize>(
    a: &[[T; K]; M],
    b: &[[T; N]; K],
    c: &mut [[T; N]; M],
    store: Store,
) {
    for (a_row, c_row) in a.iter().zip(c.iter_mut()) {
        let mut terms = a_row.iter().zip(b);
        if store == Store::Overwrite {
            match terms.next() {
                Some((&s, b_row)) => scale_into(c_row, s, b_row),
                None => *c_row = [T::zero(); N],
            }
        }
        for (&s, b_row) in terms {
            scale_add(c_row, s, b_row);
        }
    }
}

/// `C (store) A^T * B` for `A: [K][M]`, `B: [K][N]`, `C: [M][N]`:
/// `C[i][j] (store) sum_p A[p][i] * B[p][j]`. Dense weight gradient (`dW = dY^T * X`, where `K`
/// is the batch).
///
/// One pass over `C` per `p` (rank-1 updates, rows of `C` contiguous), so `A` and `B` are read
/// once and in order; the terms are added in the order of `p`. With [`Store::Overwrite`], `C` is
/// not read.
#[inline]
pub fn matmul_at_b<T: Scalar, const M: usize, const K: usize, const N: usize>(
    a: &[[T; M]; K],
    b: &[[T; N]; K],
    c: &mut [[T; N]; M],
    store: Store,
) {
    let mut terms = a.iter().zip(b);
    if store == Store::Overwrite {
        match terms.next() {
            Some((a_row, b_row)) => {
                for (c_row, &s) in c.iter_mut().zip(a_row) {
                    scale_into(c_row, s, b_row);
                }
            }
            None => *c = [[T::zero(); N]; M],
        }
    }
    for (a_row, b_row) in terms {
        for (c_row, &s) in c.iter_mut().zip(a_row) {
            scale_add(c_row, s, b_row);
        }
    }
}

/// `sum_p x[p] * y[p]` over the common length, with [`LANES`] partial sums so that the adds are
/// not one serial chain: lane `l` adds the products at `p = l mod LANES` in order, the lanes are
/// then summed as a balanced tree, and the tail (`len mod LANES` products) last, in order.
pub fn dot<T: Scalar>(x: &[T], y: &[T]) -> T {
    let (x_chunks, x_tail) = x.as_chunks::<LANES>();
    let (y_chunks, y_tail) = y.as_chunks::<LANES>();
    let mut partial = [T::zero(); LANES];
    for (xc, yc) in x_chunks.iter().zip(y_chunks) {
        for ((p, &xv), &yv) in partial.iter_mut().zip(xc).zip(yc) {
            *p += xv * yv;
        }
    }
    let [p0, p1, p2, p3, p4, p5, p6, p7] = partial;
    let mut sum = ((p0 + p4) + (p2 + p6)) + ((p1 + p5) + (p3 + p7));
    for (&xv, &yv) in x_tail.iter().zip(y_tail) {
        sum += xv * yv;
    }
    sum
}

/// `row[j] += s * y[j]` over the common length.
pub fn scale_add<T: Scalar>(row: &mut [T], s: T, y: &[T]) {
    for (o, &v) in row.iter_mut().zip(y) {
        *o += s * v;
    }
}

/// `row[j] = s * y[j]` over the common length; `row` is not read.
fn scale_into<T: Scalar>(row: &mut [T], s: T, y: &[T]) {
    for (o, &v) in row.iter_mut().zip(y) {
        *o = s * v;
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
    /// chunk (7, 8, 9, 15, 16, 17) and layer sizes of the reference workloads (the
    /// first W2 layer with fewer outputs, which keeps the f64 arrays of a debug build on the
    /// stack of a test thread).
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
        below_lanes: 2 x 7 -> 3,
        lanes: 1 x 8 -> 9,
        above_lanes: 5 x 9 -> 2,
        two_chunks_and_tail: 4 x 17 -> 15,
        two_chunks: 8 x 16 -> 16,
        w3_first: 1 x 2 -> 16,
        w3_last: 1 x 16 -> 1,
        digits_hidden: 1 x 64 -> 16,
        digits_logits: 1 x 16 -> 10,
        batch_7: 7 x 33 -> 31,
        w2_middle: 2 x 256 -> 128,
        w2_first_rows: 1 x 784 -> 12,
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
        let x: [f32; 19] = core::array::from_fn(|p| 1.0 + p as f32 * 0.1);
        let y: [f32; 19] = core::array::from_fn(|p| 0.3 - p as f32 * 0.07);
        let mut lanes = [0.0f32; LANES];
        for p in 0..16 {
            lanes[p % LANES] += x[p] * y[p];
        }
        let mut want = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6]))
            + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
        for p in 16..19 {
            want += x[p] * y[p];
        }
        assert_eq!(dot(&x, &y).to_bits(), want.to_bits());
    }
}
