//! Element-wise kernels over batches `[[T; N]; B]`: bias add and column sums.
//!
//! Each loop runs along a contiguous row with independent elements, so the compiler vectorizes
//! it; nothing is reduced across lanes and no temporary is built on the stack (a row of a wide
//! layer would not fit a microcontroller's stack).

use super::Store;
use crate::Scalar;

/// `y[b][j] += bias[j]` for every sample `b`.
#[inline]
pub fn add_bias<T: Scalar, const B: usize, const N: usize>(y: &mut [[T; N]; B], bias: &[T; N]) {
    for row in y.iter_mut() {
        for (v, &b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
}

/// `out[j] (store) sum_b x[b][j]`: the column sums that give a bias gradient.
///
/// The rows are added to `out` in order (`((out + x[0]) + x[1]) + ...` with
/// [`Store::Accumulate`], `(x[0] + x[1]) + ...` with [`Store::Overwrite`], which does not read
/// `out`). With `B == 0` the sum is zero.
#[inline]
pub fn sum_rows<T: Scalar, const B: usize, const N: usize>(
    x: &[[T; N]; B],
    out: &mut [T; N],
    store: Store,
) {
    let rest = match (store, x.split_first()) {
        (Store::Overwrite, Some((first, rest))) => {
            *out = *first;
            rest
        }
        (Store::Overwrite, None) => {
            *out = [T::zero(); N];
            return;
        }
        (Store::Accumulate, _) => &x[..],
    };
    for row in rest {
        for (o, &v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_bias_adds_to_every_row() {
        let mut y = [[1.0f32, 2.0, 3.0], [-1.0, 0.5, 0.0]];
        add_bias(&mut y, &[10.0, 20.0, 30.0]);
        assert_eq!(y, [[11.0, 22.0, 33.0], [9.0, 20.5, 30.0]]);

        let mut single = [[0.25f64; 17]];
        let bias: [f64; 17] = core::array::from_fn(|j| j as f64);
        add_bias(&mut single, &bias);
        assert_eq!(single[0], core::array::from_fn(|j| j as f64 + 0.25));
    }

    #[test]
    fn sum_rows_overwrites_without_reading() {
        let x = [[1.0f64, 2.0], [3.0, 4.0], [5.0, -6.0]];
        let mut out = [f64::NAN; 2];
        sum_rows(&x, &mut out, Store::Overwrite);
        assert_eq!(out, [9.0, 0.0]);

        let mut one = [f64::NAN; 2];
        sum_rows(&[[7.0, 8.0]], &mut one, Store::Overwrite);
        assert_eq!(one, [7.0, 8.0]);

        let empty: [[f64; 2]; 0] = [];
        let mut zero = [f64::NAN; 2];
        sum_rows(&empty, &mut zero, Store::Overwrite);
        assert_eq!(zero, [0.0, 0.0]);
    }

    #[test]
    fn sum_rows_accumulates() {
        let x = [[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let mut out = [100.0f32, 200.0, 300.0];
        sum_rows(&x, &mut out, Store::Accumulate);
        assert_eq!(out, [105.0, 207.0, 309.0]);

        let empty: [[f32; 3]; 0] = [];
        sum_rows(&empty, &mut out, Store::Accumulate);
        assert_eq!(out, [105.0, 207.0, 309.0]);
    }

    #[test]
    fn sum_rows_matches_a_column_loop_on_a_wide_batch() {
        let x: [[f64; 33]; 9] =
            core::array::from_fn(|b| core::array::from_fn(|j| (b * 33 + j) as f64 * 0.5 - 40.0));
        let mut out = [0.0; 33];
        sum_rows(&x, &mut out, Store::Overwrite);
        for (j, &o) in out.iter().enumerate() {
            let expected: f64 = (0..9).map(|b| x[b][j]).sum();
            assert_eq!(o, expected, "column {j}");
        }
    }
}
