//! Folding an eval-mode BatchNorm into the dense or conv layer before it, for inference.
//!
//! A dense or conv layer followed by BatchNorm in eval mode computes, per output channel `o`,
//! `gamma[o] * (W[o] . x + b[o] - running_mean[o]) / sqrt(running_var[o] + eps) + beta[o]`,
//! which is again a dense/conv layer with
//! ```text
//! scale[o] = gamma[o] / sqrt(running_var[o] + eps)
//! W'[o][k] = scale[o] * W[o][k]
//! b'[o]    = scale[o] * (b[o] - running_mean[o]) + beta[o]
//! ```
//! so inference pays nothing for the normalization. Only eval mode folds: training needs batch
//! statistics.

use crate::Scalar;

/// Folds BatchNorm (eval mode) into the preceding layer's `weight` and `bias`, in place
/// (formulas in the [module docs](self)).
///
/// `weight` is a dense weight `[C_OUT, K]` (`K` inputs) or a conv weight
/// `[C_OUT, IN / groups, KH, KW]` viewed as `[[T; K]; C_OUT]`: folding scales whole output rows.
/// For a layer without bias, pass a zeroed `bias`: the folded layer needs one. `gamma`, `beta`
/// are rows 0 and 1 of the BatchNorm parameter block, `running_mean`, `running_var` rows 0 and 1
/// of its state block, `eps` its `eps`.
pub fn fold_batch_norm<T: Scalar, const C_OUT: usize, const K: usize>(
    weight: &mut [[T; K]; C_OUT],
    bias: &mut [T; C_OUT],
    gamma: &[T; C_OUT],
    beta: &[T; C_OUT],
    running_mean: &[T; C_OUT],
    running_var: &[T; C_OUT],
    eps: f64,
) {
    let eps = T::from_f64(eps);
    for o in 0..C_OUT {
        let scale = gamma[o] / (running_var[o] + eps).sqrt();
        for w in weight[o].iter_mut() {
            *w *= scale;
        }
        bias[o] = scale * (bias[o] - running_mean[o]) + beta[o];
    }
}
