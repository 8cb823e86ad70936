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

use core::ops::Range;

use super::channels::{
    affine, block_affine, block_channels, block_gradient_sums, block_scaled,
    block_squared_deviations, block_sums, block_train_dx, blocks, reduction_blocks,
    reduction_scratch, scratch, training_scratch,
};
use super::BatchNormConfig;
use crate::{Collective, Result, Scalar, Solo, Store};

/// What a training forward of BatchNorm saves for its backward: per channel, the batch mean and
/// `inv_std = 1 / sqrt(var + eps)` (biased batch variance), and the number of values `M` they
/// were taken over (`B * S`, times the participants when the batch is shared).
#[derive(Clone, Debug, PartialEq)]
pub struct BatchStats<T: Scalar, const C: usize> {
    /// Batch mean of each channel.
    pub mean: [T; C],
    /// `1 / sqrt(var + eps)` of each channel.
    pub inv_std: [T; C],
    /// `M`, the values per channel in the (global) batch.
    pub values: T,
}

impl<T: Scalar, const C: usize> BatchStats<T, C> {
    /// All zeros (overwritten by the next training forward).
    pub fn zeroed() -> Self {
        BatchStats {
            mean: [T::zero(); C],
            inv_std: [T::zero(); C],
            values: T::zero(),
        }
    }
}

impl<T: Scalar, const C: usize> Default for BatchStats<T, C> {
    fn default() -> Self {
        Self::zeroed()
    }
}

/// Moves the running statistics of channel `c` towards a batch's mean and biased variance over
/// `m` values (PyTorch: the running variance averages the unbiased `var * M / (M - 1)`).
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub(super) fn update_running_stats<T: Scalar, const C: usize>(
    state: &mut [[T; C]; 2],
    c: usize,
    mean: T,
    biased_var: T,
    m: T,
    momentum: T,
) {
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
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
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
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
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

/// Mean and biased variance of each channel of `channels` over the global batch: the local
/// batch `x` of every participant of `collective` (two passes, each summed over the
/// participants: the sums and the count, then the squared deviations from the global mean).
/// Writes `mean` and `var` (`channels.len()` long) and returns `M`, the values per channel in
/// the global batch.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub(super) fn global_moments<
    T: Scalar,
    const B: usize,
    const S: usize,
    const N: usize,
    K: Collective<T>,
>(
    x: &[[T; N]; B],
    channels: Range<usize>,
    (mean, var): (&mut [T], &mut [T]),
    collective: &mut K,
) -> Result<T> {
    let len = channels.len();
    let mut scratch = reduction_scratch::<T>();
    let sums_and_count = &mut scratch[..=len];
    block_sums::<T, B, S, N>(x, channels.clone(), &mut sums_and_count[..len]);
    sums_and_count[len] = T::from_usize(B * S);
    collective.all_reduce_sum(sums_and_count)?;
    let m = sums_and_count[len];
    for (mu, &sum) in mean.iter_mut().zip(&sums_and_count[..len]) {
        *mu = sum / m;
    }
    block_squared_deviations::<T, B, S, N>(x, channels, mean, var);
    collective.all_reduce_sum(var)?;
    for squares in var.iter_mut() {
        *squares /= m;
    }
    Ok(m)
}

/// BatchNorm forward in training mode: normalizes with batch statistics, updates the running
/// statistics in `state`, and saves the batch statistics for [`batch_norm_train_backward`].
///
/// `y = gamma * (x - mu_B) / sqrt(var_B + eps) + beta` per channel (see the [module docs]
/// (self) for the running-average update). Does not compile when `N != C * S` or `B * S == 1`.
/// [`batch_norm_train_forward_with`] with [`Solo`].
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
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
    // `Solo` adds nothing up, so it cannot fail.
    let _ = batch_norm_train_forward_with::<T, B, C, S, N, Solo>(
        x, params, state, saved, y, config, &mut Solo,
    );
}

/// BatchNorm forward in training mode on this participant's share `x` of a batch shared
/// through `collective` (PyTorch's `SyncBatchNorm`): the batch statistics are those of the
/// global batch, `mu_B` and the biased `var_B` over the `M` values of each channel on every
/// participant, and the running statistics move towards `mu_B` and the unbiased
/// `var_B * M / (M - 1)` of the global batch, identically on every participant. With [`Solo`]
/// it is [`batch_norm_train_forward`].
///
/// Each block of channels costs two calls of
/// [`all_reduce_sum`](Collective::all_reduce_sum): the sums of the values with the count, then
/// the sums of squared deviations from the global mean (two passes, as on one thread).
///
/// # Errors
/// Those of the collective; `state` and `saved` are then partly updated.
#[allow(clippy::too_many_arguments)]
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn batch_norm_train_forward_with<
    T: Scalar,
    const B: usize,
    const C: usize,
    const S: usize,
    const N: usize,
    K: Collective<T>,
>(
    x: &[[T; N]; B],
    params: &[[T; C]; 2],
    state: &mut [[T; C]; 2],
    saved: &mut BatchStats<T, C>,
    y: &mut [[T; N]; B],
    config: BatchNormConfig,
    collective: &mut K,
) -> Result<()> {
    assert_layout!(C, S, N);
    assert_batch_statistics!(B, S);
    let eps = T::from_f64(config.eps);
    let momentum = T::from_f64(config.momentum);
    for channels in reduction_blocks::<B, C, S>(collective.participants()) {
        let len = channels.len();
        let mut var = training_scratch::<T>();
        let mut scale = training_scratch::<T>();
        let mean = &mut saved.mean[channels.clone()];
        let m = global_moments::<T, B, S, N, K>(
            x,
            channels.clone(),
            (mean, &mut var[..len]),
            collective,
        )?;
        saved.values = m;
        for (i, c) in channels.clone().enumerate() {
            let inv_std = (var[i] + eps).sqrt().recip();
            saved.inv_std[c] = inv_std;
            update_running_stats(state, c, saved.mean[c], var[i], m, momentum);
            scale[i] = params[0][c] * inv_std;
        }
        let shift = &params[1][channels.clone()];
        let mean = &saved.mean[channels.clone()];
        block_affine::<T, B, S, N>(x, y, channels, mean, &scale[..len], shift);
    }
    Ok(())
}

/// BatchNorm backward in training mode, from the input `x` of the forward and what it saved.
///
/// `dx (dx_store) (gamma * inv_std / M) * (M * dy - sum(dy) - x_hat * sum(dy * x_hat))`,
/// `dparams[0] (dparams_store) sum(dy * x_hat)`, `dparams[1] (dparams_store) sum(dy)`, sums over
/// the `M = B * S` values of each channel. [`batch_norm_train_backward_with`] with [`Solo`].
#[allow(clippy::too_many_arguments)]
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
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
    // `Solo` adds nothing up, so it cannot fail.
    let _ = batch_norm_train_backward_with::<T, B, C, S, N, Solo>(
        x,
        params,
        saved,
        dy,
        (dx, dx_store),
        (dparams, dparams_store),
        &mut Solo,
    );
}

/// BatchNorm backward in training mode on this participant's share of a batch shared through
/// `collective`, after [`batch_norm_train_forward_with`] with the same participants.
///
/// `dy` is the gradient of this participant's loss. `dx` uses the sums of `dy` and
/// `dy * x_hat` over the global batch (one [`all_reduce_sum`](Collective::all_reduce_sum) per
/// block of channels) and the global `M`, as the formula of
/// [`batch_norm_train_backward`] over the whole batch; `dparams` gets this participant's own
/// sums, so that the parameter gradients summed over the participants are those of the sum of
/// their losses. With [`Solo`] it is [`batch_norm_train_backward`].
///
/// # Errors
/// Those of the collective; `dx` and `dparams` are then partly written.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn batch_norm_train_backward_with<
    T: Scalar,
    const B: usize,
    const C: usize,
    const S: usize,
    const N: usize,
    K: Collective<T>,
>(
    x: &[[T; N]; B],
    params: &[[T; C]; 2],
    saved: &BatchStats<T, C>,
    dy: &[[T; N]; B],
    dx: (&mut [[T; N]; B], Store),
    dparams: (&mut [[T; C]; 2], Store),
    collective: &mut K,
) -> Result<()> {
    assert_layout!(C, S, N);
    assert_batch_statistics!(B, S);
    train_backward::<T, B, C, S, N, K>(
        x,
        params,
        saved,
        |_| (T::one(), T::zero()),
        dy,
        dx,
        dparams,
        collective,
    )
}

/// The training backward of BatchNorm and Batch Renorm (which multiplies `x_hat` by the
/// constant `r[c]` and adds `d[c]`; BatchNorm is `r = 1`, `d = 0`): one pass over channel
/// blocks for the sums, one for `dx`; the parameter gradient from this participant's sums, the
/// input gradient from the sums over every participant of `collective`.
#[allow(clippy::too_many_arguments)]
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub(super) fn train_backward<
    T: Scalar,
    const B: usize,
    const C: usize,
    const S: usize,
    const N: usize,
    K: Collective<T>,
>(
    x: &[[T; N]; B],
    params: &[[T; C]; 2],
    saved: &BatchStats<T, C>,
    r_and_d: impl Fn(usize) -> (T, T),
    dy: &[[T; N]; B],
    (dx, dx_store): (&mut [[T; N]; B], Store),
    (dparams, dparams_store): (&mut [[T; C]; 2], Store),
    collective: &mut K,
) -> Result<()> {
    let m = saved.values;
    for channels in reduction_blocks::<B, C, S>(collective.participants()) {
        let len = channels.len();
        let mut sums = reduction_scratch::<T>();
        let mut scale = training_scratch::<T>();
        let mean = &saved.mean[channels.clone()];
        let inv_std = &saved.inv_std[channels.clone()];
        let (sum_dy, rest) = sums.split_at_mut(len);
        let sum_dy_xhat = &mut rest[..len];
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
        }
        collective.all_reduce_sum(&mut sums[..2 * len])?;
        let (sum_dy, rest) = sums.split_at_mut(len);
        let sum_dy_xhat = &mut rest[..len];
        // From here on the sums hold their means over the (global) batch.
        for (s, t) in sum_dy.iter_mut().zip(sum_dy_xhat.iter_mut()) {
            *s /= m;
            *t /= m;
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
    Ok(())
}

/// BatchNorm (and Batch Renorm) forward in eval mode: normalizes with the running statistics.
///
/// `y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta`; any batch size.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
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
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
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
