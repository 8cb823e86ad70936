//! Losses with PyTorch's default `reduction='mean'`, and accuracy helpers.
//!
//! Each loss comes in two forms sharing one implementation, named as in the `network!` language
//! (`softmax_cross_entropy`, `logistic_loss`, `mse`):
//! - `name(input, target) -> Result<T>` computes the mean loss, for evaluation;
//! - `name_with_grad(input, target, d_input, store) -> Result<T>` returns the same mean loss
//!   and, fused in the same pass over the batch, writes the gradient of that mean loss w.r.t.
//!   its input according to `store` (the start of a backward pass: the loss's upstream gradient
//!   is 1).
//!
//! Losses have no parameters (no parameter block). Run-time values are checked: class labels
//! ([`Error::LabelOutOfRange`]) and targets ([`Error::InvalidTarget`]) before anything is written,
//! and the loss itself ([`Error::NonFinite`], e.g. for NaN inputs) at the end; after a
//! `NonFinite` error the gradient buffer holds whatever was computed (NaN or inf).
//!
//! Batch and class dims are const generics; `B = 0` (and `C = 0` / `N = 0`) is rejected at
//! compile time, since a mean over nothing is undefined.
//!
//! | loss (`network!` name) | PyTorch | mean over |
//! |---|---|---|
//! | [`softmax_cross_entropy`] | `F.cross_entropy(logits, labels)` | `B` samples |
//! | [`logistic_loss`] (`labels = zero_one`) | `F.binary_cross_entropy_with_logits(z, y)` | `B * N` elements |
//! | [`logistic_loss_signed`] (`labels = signed`) | `F.soft_margin_loss(z, y)` | `B * N` elements |
//! | [`mse`] | `F.mse_loss(x, t)` | `B * N` elements |

use crate::error::{check_finite, Error, Result};
use crate::kernels::math::sigmoid_from_exp;
use crate::kernels::Store;
use crate::ops::activation::{row_max, shifted_exp_sum};
use crate::Scalar;

#[cfg(all(test, feature = "alloc"))]
mod tests;

/// Where a loss writes its input gradient: nowhere (evaluation) or into a buffer with a [`Store`].
type Gradient<'a, T, const B: usize, const N: usize> = Option<(&'a mut [[T; N]; B], Store)>;

const CROSS_ENTROPY: &str = "softmax_cross_entropy";
const BINARY_CROSS_ENTROPY: &str = "logistic_loss";
const LOGISTIC_SIGNED: &str = "logistic_loss_signed";
const MSE: &str = "mse";

/// Softmax cross-entropy with integer labels, `F.cross_entropy(logits, labels)`; writes the
/// gradient w.r.t. the logits.
///
/// With `m_b = max_j z[b][j]` and `s_b = sum_j exp(z[b][j] - m_b)` (log-sum-exp, so logits of
/// magnitude `1e4` give a finite loss and gradient):
/// - loss: `L = 1/B sum_b (m_b + ln s_b - z[b][y_b])`, i.e. the mean of `-ln softmax(z_b)[y_b]`;
/// - gradient: `dL/dz[b][j] = (softmax(z_b)[j] - [j == y_b]) / B`, written to `dlogits`
///   according to `store`.
///
/// # Errors
/// [`Error::LabelOutOfRange`] (with the sample index) if a label is `>= C`, before anything is
/// written; [`Error::NonFinite`] if the loss is NaN or infinite (NaN or infinite logits).
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn softmax_cross_entropy_with_grad<T: Scalar, const B: usize, const C: usize>(
    logits: &[[T; C]; B],
    labels: &[usize; B],
    dlogits: &mut [[T; C]; B],
    store: Store,
) -> Result<T> {
    cross_entropy(logits, labels, Some((dlogits, store)))
}

/// The loss of [`softmax_cross_entropy_with_grad`] without its gradient (evaluation), same errors.
#[doc(alias = "cross_entropy")]
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn softmax_cross_entropy<T: Scalar, const B: usize, const C: usize>(
    logits: &[[T; C]; B],
    labels: &[usize; B],
) -> Result<T> {
    cross_entropy(logits, labels, None)
}

#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
fn cross_entropy<T: Scalar, const B: usize, const C: usize>(
    logits: &[[T; C]; B],
    labels: &[usize; B],
    mut gradient: Gradient<'_, T, B, C>,
) -> Result<T> {
    const {
        assert!(
            B > 0 && C > 0,
            "softmax_cross_entropy_with_grad: B and C must be > 0"
        )
    };
    if let Some((sample, &label)) = labels.iter().enumerate().find(|(_, &l)| l >= C) {
        return Err(Error::LabelOutOfRange {
            what: CROSS_ENTROPY,
            sample,
            label,
            classes: C,
        });
    }
    let inv_batch = T::one() / T::from_usize(B);
    let mut total = T::zero();
    for (b, (z, &label)) in logits.iter().zip(labels).enumerate() {
        let max = row_max(z);
        // Overwrite keeps each exp(z - max) in the gradient row and scales it once the sum is
        // known; the other modes only need the sum now.
        let sum = match &mut gradient {
            Some((dz, Store::Overwrite)) => shifted_exp_sum(z, max, |j, e| dz[b][j] = e),
            _ => shifted_exp_sum(z, max, |_, _| {}),
        };
        // -ln softmax(z)[label] = ln sum_j exp(z_j) - z_label, shifted by max.
        total += (max - z[label]) + sum.ln();
        if let Some((dz, store)) = &mut gradient {
            let dz = &mut dz[b];
            let scale = inv_batch / sum;
            match store {
                Store::Overwrite => dz.iter_mut().for_each(|g| *g *= scale),
                // No scratch row to keep the exps in: recompute them rather than clobber dz.
                Store::Accumulate => {
                    shifted_exp_sum(z, max, |j, e| dz[j] += e * scale);
                }
            }
            dz[label] -= inv_batch;
        }
    }
    check_finite(CROSS_ENTROPY, total / T::from_usize(B))
}

/// Binary cross-entropy on logits, `F.logistic_loss_with_grad(z, y)`, for targets
/// (probabilities) `y` in `[0, 1]`; writes the gradient w.r.t. the logits `z`.
///
/// - loss: `L = 1/(B N) sum l(z, y)` with
///   `l(z, y) = -y ln sigmoid(z) - (1 - y) ln(1 - sigmoid(z)) = max(z, 0) - z y + ln(1 + exp(-|z|))`,
///   the form that neither overflows (`exp` of a non-positive number) nor loses `ln(1 + tiny)`
///   (`ln_1p`);
/// - gradient: `dL/dz = (sigmoid(z) - y) / (B N)`, with `sigmoid` from the same `exp(-|z|)`.
///
/// # Errors
/// [`Error::InvalidTarget`] (with the flat index) for a target outside `[0, 1]` or NaN, before
/// anything is written; [`Error::NonFinite`] if the loss is NaN or infinite.
#[doc(alias = "binary_cross_entropy_with_logits")]
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn logistic_loss_with_grad<T: Scalar, const B: usize, const N: usize>(
    logits: &[[T; N]; B],
    targets: &[[T; N]; B],
    dlogits: &mut [[T; N]; B],
    store: Store,
) -> Result<T> {
    logistic(
        Targets::Probability,
        logits,
        targets,
        Some((dlogits, store)),
    )
}

/// The loss of [`logistic_loss_with_grad`] without its gradient, same errors.
#[doc(alias = "binary_cross_entropy_with_logits")]
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn logistic_loss<T: Scalar, const B: usize, const N: usize>(
    logits: &[[T; N]; B],
    targets: &[[T; N]; B],
) -> Result<T> {
    logistic(Targets::Probability, logits, targets, None)
}

/// The logistic loss with labels `y` in `{-1, +1}`, as in the lecture: the mean of
/// `ln(1 + exp(-y z))` (PyTorch: `F.soft_margin_loss(z, y)`); writes the gradient w.r.t. `z`.
///
/// It is [`logistic_loss_with_grad`] with `p = (y + 1) / 2` in `{0, 1}`, and is
/// computed by the same code. With `softplus(z) = ln(1 + exp(z)) = max(z, 0) + ln(1 + exp(-|z|))`:
/// - `y = +1`, `p = 1`: `ln(1 + exp(-z)) = ln(exp(-z) (exp(z) + 1)) = softplus(z) - z = softplus(z) - z p`;
/// - `y = -1`, `p = 0`: `ln(1 + exp(z)) = softplus(z) = softplus(z) - z p`;
///
/// so `ln(1 + exp(-y z)) = max(z, 0) - z p + ln(1 + exp(-|z|))`, the binary cross-entropy
/// element. The gradient is `dL/dz = (sigmoid(z) - p) / (B N) = -y sigmoid(-y z) / (B N)`.
///
/// # Errors
/// [`Error::InvalidTarget`] (with the flat index) for a label other than `-1` or `+1`, before
/// anything is written; [`Error::NonFinite`] if the loss is NaN or infinite.
#[doc(alias = "soft_margin_loss")]
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn logistic_loss_signed_with_grad<T: Scalar, const B: usize, const N: usize>(
    logits: &[[T; N]; B],
    labels: &[[T; N]; B],
    dlogits: &mut [[T; N]; B],
    store: Store,
) -> Result<T> {
    logistic(Targets::Signed, logits, labels, Some((dlogits, store)))
}

/// The loss of [`logistic_loss_signed_with_grad`] without its gradient, same errors.
#[doc(alias = "soft_margin_loss")]
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn logistic_loss_signed<T: Scalar, const B: usize, const N: usize>(
    logits: &[[T; N]; B],
    labels: &[[T; N]; B],
) -> Result<T> {
    logistic(Targets::Signed, logits, labels, None)
}

/// How a logistic loss reads its targets.
#[derive(Clone, Copy)]
enum Targets {
    /// Probabilities in `[0, 1]`.
    Probability,
    /// Labels in `{-1, +1}`, mapped to `p = (y + 1) / 2`.
    Signed,
}

impl Targets {
    fn name(self) -> &'static str {
        match self {
            Targets::Probability => BINARY_CROSS_ENTROPY,
            Targets::Signed => LOGISTIC_SIGNED,
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Targets::Probability => "a probability in [0, 1]",
            Targets::Signed => "-1 or +1",
        }
    }

    /// False for NaN in both cases.
    fn is_valid<T: Scalar>(self, y: T) -> bool {
        match self {
            Targets::Probability => y >= T::zero() && y <= T::one(),
            Targets::Signed => y == T::one() || y == -T::one(),
        }
    }

    /// The target as a probability of the positive class (exact: `(±1 + 1) / 2` is 0 or 1).
    #[inline(always)]
    fn probability<T: Scalar>(self, y: T) -> T {
        match self {
            Targets::Probability => y,
            Targets::Signed => (y + T::one()) * T::from_f64(0.5),
        }
    }
}

#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
fn logistic<T: Scalar, const B: usize, const N: usize>(
    kind: Targets,
    logits: &[[T; N]; B],
    targets: &[[T; N]; B],
    gradient: Gradient<'_, T, B, N>,
) -> Result<T> {
    let flat = targets.as_flattened();
    if let Some((index, &value)) = flat.iter().enumerate().find(|(_, &y)| !kind.is_valid(y)) {
        return Err(Error::InvalidTarget {
            what: kind.name(),
            index,
            value: value.to_f64(),
            expected: kind.expected(),
        });
    }
    elementwise_mean(kind.name(), logits, targets, gradient, |z, y| {
        let p = kind.probability(y);
        let e = (-z.abs()).exp();
        let loss = z.max(T::zero()) - z * p + e.ln_1p();
        (loss, sigmoid_from_exp(z, e) - p)
    })
}

/// Mean squared error, `F.mse(x, t)`; writes the gradient w.r.t. `x`.
///
/// - loss: `L = 1/(B N) sum (x - t)^2`;
/// - gradient: `dL/dx = 2 (x - t) / (B N)`.
///
/// # Errors
/// [`Error::NonFinite`] if the loss is NaN or infinite (NaN or huge inputs or targets).
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn mse_with_grad<T: Scalar, const B: usize, const N: usize>(
    input: &[[T; N]; B],
    target: &[[T; N]; B],
    dinput: &mut [[T; N]; B],
    store: Store,
) -> Result<T> {
    mse_impl(input, target, Some((dinput, store)))
}

/// The loss of [`mse_with_grad`] without its gradient, same errors.
#[doc(alias = "mse_loss")]
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn mse<T: Scalar, const B: usize, const N: usize>(
    input: &[[T; N]; B],
    target: &[[T; N]; B],
) -> Result<T> {
    mse_impl(input, target, None)
}

#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
fn mse_impl<T: Scalar, const B: usize, const N: usize>(
    input: &[[T; N]; B],
    target: &[[T; N]; B],
    gradient: Gradient<'_, T, B, N>,
) -> Result<T> {
    elementwise_mean(MSE, input, target, gradient, |x, t| {
        let d = x - t;
        (d * d, d + d)
    })
}

/// The mean over all `B * N` elements of `l` where `element(x, t) = (l, dl/dx)`, writing
/// `dl/dx / (B N)` into the gradient if there is one.
///
/// When there is no gradient, the derivative is dead code after inlining.
#[inline(always)]
fn elementwise_mean<T: Scalar, const B: usize, const N: usize>(
    what: &'static str,
    input: &[[T; N]; B],
    target: &[[T; N]; B],
    gradient: Gradient<'_, T, B, N>,
    element: impl Fn(T, T) -> (T, T),
) -> Result<T> {
    const { assert!(B > 0 && N > 0, "losses need B > 0 and N > 0") };
    let count = T::from_usize(B * N);
    let inv_count = T::one() / count;
    let pairs = input.as_flattened().iter().zip(target.as_flattened());
    let mut total = T::zero();
    match gradient {
        None => {
            for (&x, &t) in pairs {
                total += element(x, t).0;
            }
        }
        Some((dx, Store::Overwrite)) => {
            for (g, (&x, &t)) in dx.as_flattened_mut().iter_mut().zip(pairs) {
                let (loss, derivative) = element(x, t);
                total += loss;
                *g = derivative * inv_count;
            }
        }
        Some((dx, Store::Accumulate)) => {
            for (g, (&x, &t)) in dx.as_flattened_mut().iter_mut().zip(pairs) {
                let (loss, derivative) = element(x, t);
                total += loss;
                *g += derivative * inv_count;
            }
        }
    }
    check_finite(what, total / count)
}

/// The index of the largest element; the first one wins ties, NaN never wins. An all-NaN row
/// gives 0, so check the row for NaN first where that matters (as `train::accuracy` does, and
/// the generated `try_predict`).
pub fn argmax<T: Scalar>(row: &[T]) -> usize {
    let mut best: Option<(usize, T)> = None;
    for (j, &v) in row.iter().enumerate() {
        match best {
            _ if v.is_nan() => {}
            Some((_, b)) if v <= b => {}
            _ => best = Some((j, v)),
        }
    }
    best.map_or(0, |(j, _)| j)
}

/// How many samples have their label as [`argmax`] of their logits (for accuracy,
/// `count_correct / B`).
///
/// A row of NaN is never correct; a label `>= C` is never correct (the loss reports it as
/// [`Error::LabelOutOfRange`]).
pub fn count_correct<T: Scalar, const B: usize, const C: usize>(
    logits: &[[T; C]; B],
    labels: &[usize; B],
) -> usize {
    logits
        .iter()
        .zip(labels)
        .filter(|(z, &label)| {
            let predicted = argmax(z.as_slice());
            predicted == label && !z[predicted].is_nan()
        })
        .count()
}
