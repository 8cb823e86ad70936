//! Softmax over each sample (a layer; the fused softmax cross-entropy loss is in `ops::loss`),
//! and the max-shifted exponential sums that it shares with that loss.

use super::store_each;
use crate::kernels::Store;
use crate::Scalar;

/// The largest element of a row; NaN elements are skipped (they propagate through the
/// exponentials instead), and an all `-inf` row gives `-inf`.
#[inline(always)]
pub(crate) fn row_max<T: Scalar, const N: usize>(row: &[T; N]) -> T {
    row.iter().fold(T::neg_infinity(), |m, &v| m.max(v))
}

/// `sum_j exp(x_j - max)`, handing each `exp(x_j - max)` to `each(j, ..)` as it goes.
///
/// With `max = row_max(row)` every exponent is `<= 0`, so nothing overflows and the largest
/// term is exactly 1: the sum is in `[1, N]` for a finite row.
#[inline(always)]
pub(crate) fn shifted_exp_sum<T: Scalar, const N: usize>(
    row: &[T; N],
    max: T,
    mut each: impl FnMut(usize, T),
) -> T {
    let mut sum = T::zero();
    for (j, &x) in row.iter().enumerate() {
        let e = (x - max).exp();
        each(j, e);
        sum += e;
    }
    sum
}

/// Softmax over each sample, `F.softmax(x, dim=1)`:
/// `y[b][j] = exp(x[b][j] - m_b) / sum_k exp(x[b][k] - m_b)` with `m_b = max_k x[b][k]`.
///
/// Subtracting the row max makes every exponent `<= 0`: logits of any finite magnitude
/// (`1e4`, `-1e4`) give a finite result. A row containing NaN or `+inf` gives a NaN row, as in
/// PyTorch. No parameters.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn softmax_forward<T: Scalar, const B: usize, const N: usize>(
    x: &[[T; N]; B],
    y: &mut [[T; N]; B],
) {
    for (x, y) in x.iter().zip(y.iter_mut()) {
        let sum = shifted_exp_sum(x, row_max(x), |j, e| y[j] = e);
        let inv = T::one() / sum;
        for v in y.iter_mut() {
            *v *= inv;
        }
    }
}

/// Backward of [`softmax_forward`] from its output `y`:
/// `dx[b][j] (store) y[b][j] (dy[b][j] - sum_k dy[b][k] y[b][k])`.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn softmax_backward<T: Scalar, const B: usize, const N: usize>(
    y: &[[T; N]; B],
    dy: &[[T; N]; B],
    dx: &mut [[T; N]; B],
    store: Store,
) {
    for ((y, dy), dx) in y.iter().zip(dy).zip(dx.iter_mut()) {
        let dot: T = y.iter().zip(dy).map(|(&y, &g)| y * g).sum();
        let values = y.iter().zip(dy).map(|(&y, &g)| y * (g - dot));
        store_each(store, dx, values);
    }
}
