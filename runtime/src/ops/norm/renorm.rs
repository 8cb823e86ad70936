//! Batch Renormalization (Ioffe 2017, "Batch Renormalization: Towards Reducing Minibatch
//! Dependence in Batch-Normalized Models").
//!
//! Training corrects the batch-normalized value towards what the running statistics would
//! give, per channel:
//! ```text
//! mu_B, var_B  = batch mean and biased variance,   sigma_B   = sqrt(var_B + eps)
//! sigma_run    = sqrt(running_var + eps)                     (running stats before this step)
//! r = clip(sigma_B / sigma_run,          1 / r_max, r_max)   treated as constants
//! d = clip((mu_B - running_mean) / sigma_run, -d_max, d_max) in backward
//! y = gamma * ((x - mu_B) / sigma_B * r + d) + beta
//! ```
//! then the running statistics move exactly as BatchNorm's (momentum, unbiased variance), and
//! eval mode is BatchNorm's eval mode: use [`batch_norm_eval_forward`](super::batch_norm_eval_forward)
//! and [`batch_norm_eval_backward`](super::batch_norm_eval_backward) with the same blocks. With
//! `r_max = 1, d_max = 0` ([`RenormLimits::BATCH_NORM`]) it is exactly BatchNorm.
//!
//! **Statistics: the paper and this implementation.** The paper's `sigma_B` is
//! `sqrt(var_B + eps)` with the biased batch variance, as here. The paper keeps a running
//! *standard deviation* `sigma := sigma + alpha * (sigma_B - sigma)`; this implementation keeps
//! BatchNorm's running *variance* (`running_var` averages the unbiased `var_B * M / (M - 1)`,
//! PyTorch's convention) and uses `sigma_run = sqrt(running_var + eps)`, so the state block is
//! BatchNorm's (`[running_mean: C | running_var: C]`): checkpoints, eval mode and
//! [`fold_batch_norm`](super::fold_batch_norm) are shared, and a model can switch between
//! BatchNorm and Batch Renorm. PyTorch has no Batch Renorm; the reference values of the tests
//! come from a float64 reimplementation with torch autograd and `r`, `d` detached
//! (`reference/norm.py`).
//!
//! Backward (`r`, `d` constant; `x_hat = (x - mu_B) / sigma_B`):
//! ```text
//! dx = (gamma * r / (sigma_B * M)) * (M * dy - sum(dy) - x_hat * sum(dy * x_hat))
//! dgamma = sum(dy * (r * x_hat + d)),   dbeta = sum(dy)
//! ```
//! Parameter block `[[T; C]; 2]` (`[weight: C | bias: C]`) and state block as BatchNorm.
//! Training does not compile for `B * S == 1`, as BatchNorm.

use super::batch::{global_moments, train_backward, update_running_stats};
use super::channels::{block_affine, reduction_blocks, training_scratch};
use super::{BatchNormConfig, BatchStats};
use crate::error::{Error, Result};
use crate::{Collective, Scalar, Solo, Store};

/// The clipping limits of `r` and `d` for one training step.
///
/// `r` is clipped to `[1 / r_max, r_max]`, `d` to `[-d_max, d_max]`; infinite limits disable
/// clipping. The kernels never panic on other values, but only `r_max >= 1`, `d_max >= 0` make
/// sense: build with [`RenormLimits::new`] or [`RenormSchedule::limits`] to have them checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RenormLimits {
    /// Upper limit of `r` (and `1 / r_max` its lower limit), `>= 1`.
    pub r_max: f64,
    /// Limit of `|d|`, `>= 0`.
    pub d_max: f64,
}

impl RenormLimits {
    /// `r = 1`, `d = 0`: plain BatchNorm (the paper's setting for the first steps).
    pub const BATCH_NORM: Self = RenormLimits {
        r_max: 1.0,
        d_max: 0.0,
    };

    /// Checked limits: `r_max >= 1`, `d_max >= 0` (either may be `+inf`, not NaN).
    pub fn new(r_max: f64, d_max: f64) -> Result<Self> {
        if r_max.is_nan() || r_max < 1.0 {
            return Err(Error::InvalidParameter {
                name: "BatchRenorm: r_max",
                value: r_max,
                expected: ">= 1",
            });
        }
        if d_max.is_nan() || d_max < 0.0 {
            return Err(Error::InvalidParameter {
                name: "BatchRenorm: d_max",
                value: d_max,
                expected: ">= 0",
            });
        }
        Ok(RenormLimits { r_max, d_max })
    }
}

/// The paper's schedule for the limits: plain BatchNorm (`r_max = 1`, `d_max = 0`) up to
/// `warmup_steps`, then linear ramps reaching `r_max` at `r_ramp_end` and `d_max` at
/// `d_ramp_end`, constant afterwards. A pure function of the step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RenormSchedule {
    /// Steps with `r_max = 1`, `d_max = 0`.
    pub warmup_steps: u64,
    /// Final `r_max` (`>= 1`).
    pub r_max: f64,
    /// Step at which `r_max` is reached.
    pub r_ramp_end: u64,
    /// Final `d_max` (`>= 0`).
    pub d_max: f64,
    /// Step at which `d_max` is reached.
    pub d_ramp_end: u64,
}

impl RenormSchedule {
    /// The paper's ImageNet setting: warm-up 5000 steps, `r_max = 3` at 40k steps, `d_max = 5`
    /// at 25k steps.
    pub const PAPER: Self = RenormSchedule {
        warmup_steps: 5_000,
        r_max: 3.0,
        r_ramp_end: 40_000,
        d_max: 5.0,
        d_ramp_end: 25_000,
    };

    /// The limits at training step `step` (0-based): `r_max(step) = 1 + (r_max - 1) * f_r`,
    /// `d_max(step) = d_max * f_d`, where `f` rises linearly from 0 at `warmup_steps` to 1 at
    /// the ramp's end (a ramp ending at or before the warm-up jumps to 1 there).
    ///
    /// Errors when the final limits are invalid (see [`RenormLimits::new`]).
    pub fn limits(&self, step: u64) -> Result<RenormLimits> {
        let ramp = |end: u64| -> f64 {
            if step >= end {
                1.0
            } else if step <= self.warmup_steps {
                0.0
            } else {
                // Here warmup_steps < step < end, so the denominator is positive.
                (step - self.warmup_steps) as f64 / (end - self.warmup_steps) as f64
            }
        };
        RenormLimits::new(self.r_max, self.d_max)?;
        let r_max = 1.0 + (self.r_max - 1.0) * ramp(self.r_ramp_end.max(self.warmup_steps));
        let d_max = self.d_max * ramp(self.d_ramp_end.max(self.warmup_steps));
        RenormLimits::new(r_max, d_max)
    }
}

/// What a training forward of Batch Renorm saves for its backward: BatchNorm's batch statistics
/// plus the (clipped) corrections `r` and `d` of each channel.
#[derive(Clone, Debug, PartialEq)]
pub struct RenormStats<T: Scalar, const C: usize> {
    /// Batch mean and `1 / sigma_B` of each channel.
    pub batch: BatchStats<T, C>,
    /// `r` of each channel.
    pub r: [T; C],
    /// `d` of each channel.
    pub d: [T; C],
}

impl<T: Scalar, const C: usize> RenormStats<T, C> {
    /// All zeros (overwritten by the next training forward).
    pub fn zeroed() -> Self {
        RenormStats {
            batch: BatchStats::zeroed(),
            r: [T::zero(); C],
            d: [T::zero(); C],
        }
    }
}

impl<T: Scalar, const C: usize> Default for RenormStats<T, C> {
    fn default() -> Self {
        Self::zeroed()
    }
}

/// Batch Renorm forward in training mode (formulas in the [module docs](self)): normalizes with
/// batch statistics corrected by `r`, `d` (computed from the running statistics before the
/// update), then updates the running statistics in `state` as BatchNorm, and saves what
/// [`batch_renorm_train_backward`] needs. Does not compile when `N != C * S` or `B * S == 1`.
/// [`batch_renorm_train_forward_with`] with [`Solo`].
pub fn batch_renorm_train_forward<
    T: Scalar,
    const B: usize,
    const C: usize,
    const S: usize,
    const N: usize,
>(
    x: &[[T; N]; B],
    params: &[[T; C]; 2],
    state: &mut [[T; C]; 2],
    saved: &mut RenormStats<T, C>,
    y: &mut [[T; N]; B],
    config: BatchNormConfig,
    limits: RenormLimits,
) {
    // `Solo` adds nothing up, so it cannot fail.
    let _ = batch_renorm_train_forward_with::<T, B, C, S, N, Solo>(
        x,
        params,
        (state, saved),
        y,
        (config, limits),
        &mut Solo,
    );
}

/// Batch Renorm forward in training mode on this participant's share `x` of a batch shared
/// through `collective`: `mu_B`, `var_B` (and so `r`, `d`) are those of the global batch, as
/// [`batch_norm_train_forward_with`](super::batch_norm_train_forward_with). With [`Solo`] it
/// is [`batch_renorm_train_forward`].
///
/// # Errors
/// Those of the collective; `state` and `saved` are then partly updated.
pub fn batch_renorm_train_forward_with<
    T: Scalar,
    const B: usize,
    const C: usize,
    const S: usize,
    const N: usize,
    K: Collective<T>,
>(
    x: &[[T; N]; B],
    params: &[[T; C]; 2],
    (state, saved): (&mut [[T; C]; 2], &mut RenormStats<T, C>),
    y: &mut [[T; N]; B],
    (config, limits): (BatchNormConfig, RenormLimits),
    collective: &mut K,
) -> Result<()> {
    assert_layout!(C, S, N);
    assert_batch_statistics!(B, S);
    let eps = T::from_f64(config.eps);
    let momentum = T::from_f64(config.momentum);
    // max-then-min instead of clamp: clamp panics when the limits cross.
    let (r_low, r_high) = (T::from_f64(limits.r_max.recip()), T::from_f64(limits.r_max));
    let d_limit = T::from_f64(limits.d_max);
    for channels in reduction_blocks::<B, C, S>(collective.participants()) {
        let len = channels.len();
        let mut var = training_scratch::<T>();
        let mut scale = training_scratch::<T>();
        let mut shift = training_scratch::<T>();
        let mean = &mut saved.batch.mean[channels.clone()];
        let m = global_moments::<T, B, S, N, K>(
            x,
            channels.clone(),
            (mean, &mut var[..len]),
            collective,
        )?;
        saved.batch.values = m;
        for (i, c) in channels.clone().enumerate() {
            let (mean, var) = (saved.batch.mean[c], var[i]);
            let sigma_batch = (var + eps).sqrt();
            let inv_std = sigma_batch.recip();
            let sigma_running = (state[1][c] + eps).sqrt();
            let r = (sigma_batch / sigma_running).max(r_low).min(r_high);
            let d = ((mean - state[0][c]) / sigma_running)
                .max(-d_limit)
                .min(d_limit);
            saved.batch.inv_std[c] = inv_std;
            saved.r[c] = r;
            saved.d[c] = d;
            update_running_stats(state, c, mean, var, m, momentum);
            let gamma = params[0][c];
            scale[i] = gamma * inv_std * r;
            shift[i] = gamma * d + params[1][c];
        }
        let mean = &saved.batch.mean[channels.clone()];
        block_affine::<T, B, S, N>(x, y, channels, mean, &scale[..len], &shift[..len]);
    }
    Ok(())
}

/// Batch Renorm backward in training mode, `r` and `d` constant (formulas in the
/// [module docs](self)): `dx (dx_store)`, `dparams[0] (dparams_store) sum(dy * (r x_hat + d))`,
/// `dparams[1] (dparams_store) sum(dy)`. [`batch_renorm_train_backward_with`] with [`Solo`].
#[allow(clippy::too_many_arguments)]
pub fn batch_renorm_train_backward<
    T: Scalar,
    const B: usize,
    const C: usize,
    const S: usize,
    const N: usize,
>(
    x: &[[T; N]; B],
    params: &[[T; C]; 2],
    saved: &RenormStats<T, C>,
    dy: &[[T; N]; B],
    dx: &mut [[T; N]; B],
    dx_store: Store,
    dparams: &mut [[T; C]; 2],
    dparams_store: Store,
) {
    // `Solo` adds nothing up, so it cannot fail.
    let _ = batch_renorm_train_backward_with::<T, B, C, S, N, Solo>(
        x,
        params,
        saved,
        dy,
        (dx, dx_store),
        (dparams, dparams_store),
        &mut Solo,
    );
}

/// Batch Renorm backward on this participant's share of a batch shared through `collective`,
/// as [`batch_norm_train_backward_with`](super::batch_norm_train_backward_with): `dx` from the
/// global sums, `dparams` from this participant's. With [`Solo`] it is
/// [`batch_renorm_train_backward`].
///
/// # Errors
/// Those of the collective; `dx` and `dparams` are then partly written.
pub fn batch_renorm_train_backward_with<
    T: Scalar,
    const B: usize,
    const C: usize,
    const S: usize,
    const N: usize,
    K: Collective<T>,
>(
    x: &[[T; N]; B],
    params: &[[T; C]; 2],
    saved: &RenormStats<T, C>,
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
        &saved.batch,
        |c| (saved.r[c], saved.d[c]),
        dy,
        dx,
        dparams,
        collective,
    )
}

#[cfg(all(test, feature = "std"))]
mod tests;
