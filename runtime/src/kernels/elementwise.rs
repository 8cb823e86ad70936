//! Element-wise kernels over batches `[[T; N]; B]`: bias add, column sums, and the sum used by
//! residual connections.

use super::Store;
use crate::Scalar;

/// `y[b][j] += bias[j]` for every sample `b`.
pub fn add_bias<T: Scalar, const B: usize, const N: usize>(y: &mut [[T; N]; B], bias: &[T; N]) {
    for row in y.iter_mut() {
        for (v, &b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
}

/// `out[j] (store) sum_b x[b][j]`: the column sums that give a bias gradient.
pub fn sum_rows<T: Scalar, const B: usize, const N: usize>(
    x: &[[T; N]; B],
    out: &mut [T; N],
    store: Store,
) {
    let mut acc = [T::zero(); N];
    for row in x {
        for (a, &v) in acc.iter_mut().zip(row) {
            *a += v;
        }
    }
    for (o, a) in out.iter_mut().zip(acc) {
        store.apply(o, a);
    }
}
