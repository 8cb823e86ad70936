//! Batch normalization (Ioffe & Szegedy 2015) with PyTorch's semantics.
//!
//! Per channel `c`, over the `M = B * S` values `x` of that channel in the batch:
//! ```text
//! training:  mu = mean(x),  var = mean((x - mu)^2)          (biased: divides by M)
//!            x_hat = (x - mu) / sqrt(var + eps),   y = gamma * x_hat + beta
//!            running_mean = (1 - momentum) * running_mean + momentum * mu
//!            running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1)
//! eval:      y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta
//! ```
//! Normalization uses the biased variance, the running average the unbiased one, as PyTorch.
//!
//! Backward in training differentiates through `mu` and `var` (they depend on the whole batch):
//! ```text
//! dx = (gamma * inv_std / M) * (M * dy - sum(dy) - x_hat * sum(dy * x_hat))
//! dgamma = sum(dy * x_hat),   dbeta = sum(dy)
//! ```
//! In eval mode the layer is a per-channel affine map: `dx = gamma * inv_std * dy`, with the
//! same `dgamma`, `dbeta` (`x_hat` from the running statistics), which is what fine-tuning with
//! frozen statistics needs.
//!
//! The kernels loop channel by channel (each channel's values are gathered from every sample),
//! so the per-channel sums live in registers and no `[T; C]` workspace is needed; for
//! `S = 1` that reads `x` with stride `N`, cheap while a batch fits in cache.
//!
//! Parameter block `[[T; C]; 2]`: `[weight (gamma): C | bias (beta): C]`; state block
//! `[[T; C]; 2]`: `[running_mean: C | running_var: C]` (see the [module docs](super)).
//!
//! # Batch of one
//! With `B * S == 1` a channel has a single value, its batch variance is 0 and the output would
//! be `beta` whatever the input, with a zero gradient (and the unbiased variance divides by 0).
//! PyTorch raises "Expected more than 1 value per channel when training". Here the training
//! functions refuse to compile for `B * S == 1` (an inline const assertion, reported by
//! `cargo build`, not by `cargo check`); eval mode accepts any batch:
//! ```compile_fail
//! use monograd_runtime::ops::norm::{batch_norm_train_forward, BatchNormConfig, BatchStats};
//! let x = [[1.0f32; 3]; 1]; // one sample of 3 features: B * S == 1
//! let (params, mut state) = ([[1.0; 3], [0.0; 3]], [[0.0; 3], [1.0; 3]]);
//! let (mut saved, mut y) = (BatchStats::zeroed(), [[0.0; 3]; 1]);
//! batch_norm_train_forward::<f32, 1, 3, 1, 3>(
//!     &x, &params, &mut state, &mut saved, &mut y, BatchNormConfig::PYTORCH,
//! );
//! ```
//! The same call with two samples compiles and runs:
//! ```
//! use monograd_runtime::ops::norm::{batch_norm_train_forward, BatchNormConfig, BatchStats};
//! let x = [[1.0f32, 2.0, 3.0], [3.0, 2.0, 1.0]];
//! let (params, mut state) = ([[1.0; 3], [0.0; 3]], [[0.0; 3], [1.0; 3]]);
//! let (mut saved, mut y) = (BatchStats::zeroed(), [[0.0; 3]; 2]);
//! batch_norm_train_forward::<f32, 2, 3, 1, 3>(
//!     &x, &params, &mut state, &mut saved, &mut y, BatchNormConfig::PYTORCH,
//! );
//! assert!((y[0][0] + 1.0).abs() < 1e-4 && y[0][1] == 0.0);
//! ```

use super::BatchNormConfig;
use crate::{Scalar, Store};

/// What a training forward of BatchNorm saves for its backward: per channel, the batch mean and
/// `inv_std = 1 / sqrt(var + eps)` (biased batch variance).
#[derive(Clone, Debug, PartialEq)]
pub struct BatchStats<T: Scalar, const C: usize> {
    /// Batch mean of each channel.
    pub mean: [T; C],
    /// `1 / sqrt(var + eps)` of each channel.
    pub inv_std: [T; C],
}

impl<T: Scalar, const C: usize> BatchStats<T, C> {
    /// All zeros (overwritten by the next training forward).
    pub fn zeroed() -> Self {
        BatchStats {
            mean: [T::zero(); C],
            inv_std: [T::zero(); C],
        }
    }
}

impl<T: Scalar, const C: usize> Default for BatchStats<T, C> {
    fn default() -> Self {
        Self::zeroed()
    }
}

/// The `S` values of channel `c` in one sample.
#[inline(always)]
pub(super) fn channel<T, const S: usize, const N: usize>(row: &[T; N], c: usize) -> &[T] {
    &row[c * S..][..S]
}

/// The `S` values of channel `c` in one sample, mutably.
#[inline(always)]
pub(super) fn channel_mut<T, const S: usize, const N: usize>(
    row: &mut [T; N],
    c: usize,
) -> &mut [T] {
    &mut row[c * S..][..S]
}

/// Batch mean and biased variance of channel `c` (two passes, for accuracy when the mean is
/// large compared with the spread).
pub(super) fn channel_moments<T: Scalar, const B: usize, const S: usize, const N: usize>(
    x: &[[T; N]; B],
    c: usize,
) -> (T, T) {
    let m = T::from_usize(B * S);
    let sum: T = x
        .iter()
        .flat_map(|row| channel::<T, S, N>(row, c))
        .copied()
        .sum();
    let mean = sum / m;
    let squares: T = x
        .iter()
        .flat_map(|row| channel::<T, S, N>(row, c))
        .map(|&v| (v - mean) * (v - mean))
        .sum();
    (mean, squares / m)
}

/// Moves the running statistics of channel `c` towards a batch's mean and biased variance
/// (PyTorch: the running variance averages the unbiased `var * M / (M - 1)`).
pub(super) fn update_running_stats<T: Scalar, const C: usize>(
    state: &mut [[T; C]; 2],
    c: usize,
    mean: T,
    biased_var: T,
    values_per_channel: usize,
    momentum: T,
) {
    let m = T::from_usize(values_per_channel);
    let unbiased = biased_var * m / (m - T::one());
    let keep = T::one() - momentum;
    state[0][c] = keep * state[0][c] + momentum * mean;
    state[1][c] = keep * state[1][c] + momentum * unbiased;
}

/// `y = (x - mean) * scale + shift` over channel `c`.
pub(super) fn affine_channel<T: Scalar, const B: usize, const S: usize, const N: usize>(
    x: &[[T; N]; B],
    y: &mut [[T; N]; B],
    c: usize,
    mean: T,
    scale: T,
    shift: T,
) {
    for (x_row, y_row) in x.iter().zip(y.iter_mut()) {
        let xs = channel::<T, S, N>(x_row, c);
        for (out, &v) in channel_mut::<T, S, N>(y_row, c).iter_mut().zip(xs) {
            *out = (v - mean) * scale + shift;
        }
    }
}

/// `(sum(dy), sum(dy * x_hat))` over channel `c`, `x_hat = (x - mean) * inv_std`.
pub(super) fn channel_gradient_sums<T: Scalar, const B: usize, const S: usize, const N: usize>(
    x: &[[T; N]; B],
    dy: &[[T; N]; B],
    c: usize,
    mean: T,
    inv_std: T,
) -> (T, T) {
    let (mut sum_dy, mut sum_dy_xhat) = (T::zero(), T::zero());
    for (x_row, dy_row) in x.iter().zip(dy) {
        let xs = channel::<T, S, N>(x_row, c);
        for (&v, &g) in xs.iter().zip(channel::<T, S, N>(dy_row, c)) {
            sum_dy += g;
            sum_dy_xhat += g * (v - mean) * inv_std;
        }
    }
    (sum_dy, sum_dy_xhat)
}

/// Training-mode input gradient of channel `c`:
/// `dx = scale * (dy - sum_dy / M - x_hat * sum_dy_xhat / M)` with `scale = gamma * inv_std`
/// (times `r` for Batch Renorm).
pub(super) fn channel_train_dx<T: Scalar, const B: usize, const S: usize, const N: usize>(
    x: &[[T; N]; B],
    dy: &[[T; N]; B],
    dx: &mut [[T; N]; B],
    dx_store: Store,
    c: usize,
    (mean, inv_std, scale): (T, T, T),
    (sum_dy, sum_dy_xhat): (T, T),
) {
    let m = T::from_usize(B * S);
    let (mean_dy, mean_dy_xhat) = (sum_dy / m, sum_dy_xhat / m);
    for ((x_row, dy_row), dx_row) in x.iter().zip(dy).zip(dx.iter_mut()) {
        let xs = channel::<T, S, N>(x_row, c);
        let gs = channel::<T, S, N>(dy_row, c);
        let outs = channel_mut::<T, S, N>(dx_row, c);
        for ((out, &v), &g) in outs.iter_mut().zip(xs).zip(gs) {
            let x_hat = (v - mean) * inv_std;
            dx_store.apply(out, scale * (g - mean_dy - x_hat * mean_dy_xhat));
        }
    }
}

/// BatchNorm forward in training mode: normalizes with batch statistics, updates the running
/// statistics in `state`, and saves the batch statistics for [`batch_norm_train_backward`].
///
/// `y = gamma * (x - mu_B) / sqrt(var_B + eps) + beta` per channel (see the [module docs]
/// (self) for the running-average update). Does not compile when `N != C * S` or `B * S == 1`.
pub fn batch_norm_train_forward<
    T: Scalar,
    const B: usize,
    const C: usize,
    const S: usize,
    const N: usize,
>(
    x: &[[T; N]; B],
    params: &[[T; C]; 2],
    state: &mut [[T; C]; 2],
    saved: &mut BatchStats<T, C>,
    y: &mut [[T; N]; B],
    config: BatchNormConfig,
) {
    assert_layout!(C, S, N);
    assert_batch_statistics!(B, S);
    let eps = T::from_f64(config.eps);
    let momentum = T::from_f64(config.momentum);
    #[allow(clippy::needless_range_loop)] // `c` also selects the channel's elements of x and y.
    for c in 0..C {
        let (mean, var) = channel_moments::<T, B, S, N>(x, c);
        let inv_std = (var + eps).sqrt().recip();
        saved.mean[c] = mean;
        saved.inv_std[c] = inv_std;
        update_running_stats(state, c, mean, var, B * S, momentum);
        affine_channel::<T, B, S, N>(x, y, c, mean, params[0][c] * inv_std, params[1][c]);
    }
}

/// BatchNorm backward in training mode, from the input `x` of the forward and what it saved.
///
/// `dx (dx_store) (gamma * inv_std / M) * (M * dy - sum(dy) - x_hat * sum(dy * x_hat))`,
/// `dparams[0] (dparams_store) sum(dy * x_hat)`, `dparams[1] (dparams_store) sum(dy)`, sums over
/// the `M = B * S` values of each channel.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_train_backward<
    T: Scalar,
    const B: usize,
    const C: usize,
    const S: usize,
    const N: usize,
>(
    x: &[[T; N]; B],
    params: &[[T; C]; 2],
    saved: &BatchStats<T, C>,
    dy: &[[T; N]; B],
    dx: &mut [[T; N]; B],
    dx_store: Store,
    dparams: &mut [[T; C]; 2],
    dparams_store: Store,
) {
    assert_layout!(C, S, N);
    assert_batch_statistics!(B, S);
    for c in 0..C {
        let (mean, inv_std) = (saved.mean[c], saved.inv_std[c]);
        let (sum_dy, sum_dy_xhat) = channel_gradient_sums::<T, B, S, N>(x, dy, c, mean, inv_std);
        let scale = params[0][c] * inv_std;
        channel_train_dx::<T, B, S, N>(
            x,
            dy,
            dx,
            dx_store,
            c,
            (mean, inv_std, scale),
            (sum_dy, sum_dy_xhat),
        );
        dparams_store.apply(&mut dparams[0][c], sum_dy_xhat);
        dparams_store.apply(&mut dparams[1][c], sum_dy);
    }
}

/// BatchNorm (and Batch Renorm) forward in eval mode: normalizes with the running statistics.
///
/// `y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta`; any batch size.
pub fn batch_norm_eval_forward<
    T: Scalar,
    const B: usize,
    const C: usize,
    const S: usize,
    const N: usize,
>(
    x: &[[T; N]; B],
    params: &[[T; C]; 2],
    state: &[[T; C]; 2],
    y: &mut [[T; N]; B],
    eps: f64,
) {
    assert_layout!(C, S, N);
    let eps = T::from_f64(eps);
    for c in 0..C {
        let inv_std = (state[1][c] + eps).sqrt().recip();
        affine_channel::<T, B, S, N>(x, y, c, state[0][c], params[0][c] * inv_std, params[1][c]);
    }
}

/// BatchNorm (and Batch Renorm) backward in eval mode (frozen running statistics).
///
/// With `inv_std = 1 / sqrt(running_var + eps)` and `x_hat = (x - running_mean) * inv_std`:
/// `dx (dx_store) gamma * inv_std * dy`, `dparams[0] (dparams_store) sum(dy * x_hat)`,
/// `dparams[1] (dparams_store) sum(dy)`.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_eval_backward<
    T: Scalar,
    const B: usize,
    const C: usize,
    const S: usize,
    const N: usize,
>(
    x: &[[T; N]; B],
    params: &[[T; C]; 2],
    state: &[[T; C]; 2],
    dy: &[[T; N]; B],
    dx: &mut [[T; N]; B],
    dx_store: Store,
    dparams: &mut [[T; C]; 2],
    dparams_store: Store,
    eps: f64,
) {
    assert_layout!(C, S, N);
    let eps = T::from_f64(eps);
    for c in 0..C {
        let mean = state[0][c];
        let inv_std = (state[1][c] + eps).sqrt().recip();
        let (sum_dy, sum_dy_xhat) = channel_gradient_sums::<T, B, S, N>(x, dy, c, mean, inv_std);
        let scale = params[0][c] * inv_std;
        for (dy_row, dx_row) in dy.iter().zip(dx.iter_mut()) {
            let gs = channel::<T, S, N>(dy_row, c);
            for (out, &g) in channel_mut::<T, S, N>(dx_row, c).iter_mut().zip(gs) {
                dx_store.apply(out, scale * g);
            }
        }
        dparams_store.apply(&mut dparams[0][c], sum_dy_xhat);
        dparams_store.apply(&mut dparams[1][c], sum_dy);
    }
}

#[cfg(all(test, feature = "std"))]
mod tests;
