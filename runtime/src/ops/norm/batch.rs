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
//! The kernels walk the batch row by row over blocks of channels, accumulating per-channel
//! sums from contiguous memory (`norm/channels.rs`): the loops vectorize, no `[T; C]`
//! workspace is needed (the scratch is a few stack arrays of at most 64 channels), and the
//! statistics stay two-pass (mean, then mean squared deviation).
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

use super::channels::{
    affine, block_affine, block_channels, block_gradient_sums, block_moments, block_scaled,
    block_train_dx, blocks, scratch,
};
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

/// The `S` values of channel `c` in one sample.
#[cfg(all(test, feature = "std"))]
fn channel<T, const S: usize, const N: usize>(row: &[T; N], c: usize) -> &[T] {
    &row[c * S..][..S]
}

/// Batch mean and biased variance of channel `c`, one channel at a time (two passes): the
/// straightforward reference that tests compare the channel-blocked kernels with.
#[cfg(all(test, feature = "std"))]
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

/// `y = (x - mean) * scale + shift` over channel `c` alone (test reference).
#[cfg(all(test, feature = "std"))]
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
        for (out, &v) in y_row[c * S..][..S].iter_mut().zip(xs) {
            *out = (v - mean) * scale + shift;
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
    for channels in blocks::<B, C, S>() {
        let len = channels.len();
        let mut var = scratch::<T>();
        let mut scale = scratch::<T>();
        let mean = &mut saved.mean[channels.clone()];
        block_moments::<T, B, S, N>(x, channels.clone(), mean, &mut var[..len]);
        for (i, c) in channels.clone().enumerate() {
            let inv_std = (var[i] + eps).sqrt().recip();
            saved.inv_std[c] = inv_std;
            update_running_stats(state, c, saved.mean[c], var[i], B * S, momentum);
            scale[i] = params[0][c] * inv_std;
        }
        let shift = &params[1][channels.clone()];
        let mean = &saved.mean[channels.clone()];
        block_affine::<T, B, S, N>(x, y, channels, mean, &scale[..len], shift);
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
    train_backward::<T, B, C, S, N>(
        x,
        params,
        saved,
        |_| (T::one(), T::zero()),
        dy,
        (dx, dx_store),
        (dparams, dparams_store),
    );
}

/// The training backward of BatchNorm and Batch Renorm (which multiplies `x_hat` by the
/// constant `r[c]` and adds `d[c]`; BatchNorm is `r = 1`, `d = 0`): one pass over channel
/// blocks for the sums, one for `dx`.
#[allow(clippy::too_many_arguments)]
pub(super) fn train_backward<
    T: Scalar,
    const B: usize,
    const C: usize,
    const S: usize,
    const N: usize,
>(
    x: &[[T; N]; B],
    params: &[[T; C]; 2],
    saved: &BatchStats<T, C>,
    r_and_d: impl Fn(usize) -> (T, T),
    dy: &[[T; N]; B],
    (dx, dx_store): (&mut [[T; N]; B], Store),
    (dparams, dparams_store): (&mut [[T; C]; 2], Store),
) {
    let m = T::from_usize(B * S);
    for channels in blocks::<B, C, S>() {
        let len = channels.len();
        let mut sum_dy = scratch::<T>();
        let mut sum_dy_xhat = scratch::<T>();
        let mut scale = scratch::<T>();
        let mean = &saved.mean[channels.clone()];
        let inv_std = &saved.inv_std[channels.clone()];
        let (sum_dy, sum_dy_xhat) = (&mut sum_dy[..len], &mut sum_dy_xhat[..len]);
        block_gradient_sums::<T, B, S, N>(
            x,
            dy,
            channels.clone(),
            (mean, inv_std),
            sum_dy,
            sum_dy_xhat,
        );
        for (i, c) in channels.clone().enumerate() {
            let (r, d) = r_and_d(c);
            scale[i] = params[0][c] * saved.inv_std[c] * r;
            dparams_store.apply(&mut dparams[0][c], r * sum_dy_xhat[i] + d * sum_dy[i]);
            dparams_store.apply(&mut dparams[1][c], sum_dy[i]);
            // From here on the sums hold their means over the batch.
            sum_dy[i] /= m;
            sum_dy_xhat[i] /= m;
        }
        block_train_dx::<T, B, S, N>(
            x,
            dy,
            dx,
            dx_store,
            channels,
            (mean, inv_std, &scale[..len]),
            (sum_dy, sum_dy_xhat),
        );
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
    // Blocks as in training, walked with iterators only (chunk `block` of every per-channel
    // array and of every row), so inference has no bounds check to fail.
    let per_block = block_channels::<B, S>();
    let [gamma, beta] = params;
    let [running_mean, running_var] = state;
    let coefficients = gamma.chunks(per_block).zip(beta.chunks(per_block));
    let statistics = running_mean
        .chunks(per_block)
        .zip(running_var.chunks(per_block));
    for (block, ((gamma, shift), (mean, var))) in coefficients.zip(statistics).enumerate() {
        let mut scale = scratch::<T>();
        for (k, (&g, &v)) in scale.iter_mut().zip(gamma.iter().zip(var)) {
            *k = g * (v + eps).sqrt().recip();
        }
        for (x_row, y_row) in x.iter().zip(y.iter_mut()) {
            let xs = x_row.chunks((per_block * S).max(1)).nth(block);
            let ys = y_row.chunks_mut((per_block * S).max(1)).nth(block);
            if let (Some(xs), Some(ys)) = (xs, ys) {
                affine::<T, S>(xs, ys, mean, &scale, shift);
            }
        }
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
    for channels in blocks::<B, C, S>() {
        let len = channels.len();
        let mut inv_std = scratch::<T>();
        let mut scale = scratch::<T>();
        let mut sum_dy = scratch::<T>();
        let mut sum_dy_xhat = scratch::<T>();
        for (i, c) in channels.clone().enumerate() {
            inv_std[i] = (state[1][c] + eps).sqrt().recip();
            scale[i] = params[0][c] * inv_std[i];
        }
        let mean = &state[0][channels.clone()];
        block_gradient_sums::<T, B, S, N>(
            x,
            dy,
            channels.clone(),
            (mean, &inv_std[..len]),
            &mut sum_dy[..len],
            &mut sum_dy_xhat[..len],
        );
        block_scaled::<T, B, S, N>(dy, dx, dx_store, channels.clone(), &scale[..len]);
        for (i, c) in channels.enumerate() {
            dparams_store.apply(&mut dparams[0][c], sum_dy_xhat[i]);
            dparams_store.apply(&mut dparams[1][c], sum_dy[i]);
        }
    }
}

#[cfg(all(test, feature = "std"))]
mod tests;
