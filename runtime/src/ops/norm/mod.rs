//! Normalization layers: BatchNorm, Batch Renorm, LayerNorm, InstanceNorm, GroupNorm, Weight
//! Norm, and folding BatchNorm into the preceding dense/conv layer for inference.
//!
//! # Data layout
//! A batch is `[[T; N]; B]`. Each sample is laid out `[C, S]`: `C` channels (features) of `S`
//! contiguous elements each, `S = H * W` for a `[C, H, W]` map and `S = 1` for a plain feature
//! vector, so `N = C * S` (checked at compile time). `M = B * S` is the number of values per
//! channel that batch statistics reduce over.
//!
//! # Buffers
//! Each layer keeps three kinds of buffer, all sized at compile time:
//! - **parameters** (learned; optimizer and gradient see them): one block per layer in PyTorch's
//!   state-dict order, typed `[[T; L]; 2]` with row 0 = `weight` (gamma) and row 1 = `bias`
//!   (beta), `L = C` (per-channel affine) or `L = N` (LayerNorm, per element). The gradient block
//!   has the same type and layout.
//! - **persistent state** (BatchNorm and Batch Renorm only; saved with the weights, not
//!   optimized): `[[T; C]; 2]`, row 0 = `running_mean` (initially 0), row 1 = `running_var`
//!   (initially 1). PyTorch's `num_batches_tracked` is not kept (it only matters for
//!   `momentum=None`).
//! - **saved statistics** (written by a training forward, read by its backward):
//!   [`BatchStats`], [`RenormStats`], [`GroupStats`]. Backward recomputes the normalized
//!   `x_hat` from the input `x` and these statistics, so the tape keeps no extra `[[T; N]; B]`.
//!
//! Every backward takes the layer's *input* `x` (not its output), so a tape keeps the input of
//! each normalization layer plus its saved statistics.
//!
//! | layer | parameters (and their gradient) | state | saved by forward |
//! |---|---|---|---|
//! | BatchNorm | `[[T; C]; 2]` | `[[T; C]; 2]` | [`BatchStats<T, C>`](BatchStats) (`2 C + 1`), training only |
//! | Batch Renorm | `[[T; C]; 2]` | `[[T; C]; 2]` | [`RenormStats<T, C>`](RenormStats) (`4 C + 1`), training only |
//! | LayerNorm | `[[T; N]; 2]` or none | — | [`GroupStats<T, B, 1>`](GroupStats) (`2 B`) |
//! | InstanceNorm | `[[T; C]; 2]` or none | — | [`GroupStats<T, B, C>`](GroupStats) (`2 B C`) |
//! | GroupNorm | `[[T; C]; 2]` or none | — | [`GroupStats<T, B, G>`](GroupStats) (`2 B G`) |
//! | Weight Norm | `g: [T; OUT]`, `v: [[T; K]; OUT]` | — | none; workspaces `w` and `dw`, `[[T; K]; OUT]` each |
//!
//! Eval-mode BatchNorm / Batch Renorm saves nothing: its backward reads the state block.
//!
//! Hyper-parameters are `f64` (as written in a declaration) and converted to `T` once per call.
//!
//! # Which layer normalizes over what
//! | layer | statistics over | affine | running stats |
//! |---|---|---|---|
//! | [BatchNorm](batch_norm_train_forward) | each channel, over batch and space (`M = B * S`) | per channel | yes |
//! | [Batch Renorm](batch_renorm_train_forward) | same, corrected by `r`, `d` towards the running stats | per channel | yes |
//! | [LayerNorm](layer_norm_forward) | each sample, all `N` elements | per element | no |
//! | [InstanceNorm](instance_norm_forward) | each sample and channel, `S` elements | per channel, optional | no |
//! | [GroupNorm](group_norm_forward) | each sample and group of `C / G` channels | per channel | no |
//!
//! LayerNorm, InstanceNorm and GroupNorm share one kernel: normalize each sample over `G`
//! groups of contiguous elements (`G = 1`, `G = C`, `G` respectively).
//!
//! Every function and type is re-exported here (`ops::norm::batch_norm_train_forward`), the
//! path generated code uses; each submodule documents its layer's formulas and layouts.

/// Fails to compile unless `N == C * S`. A macro, not a function, so that the assertion sits in
/// the public function's body and the compiler's "while instantiating" note names the caller.
macro_rules! assert_layout {
    ($c:ident, $s:ident, $n:ident) => {
        const {
            assert!(
                $n == $c * $s,
                "norm: per-sample length N must equal channels C times spatial size S"
            )
        }
    };
}

/// Fails to compile unless a channel has more than one value in the batch (`B * S > 1`).
///
/// A named associated const rather than an inline `const` block, so that the compiler's error
/// names it (`BatchStatistics::<1, 1>::MORE_THAN_ONE_VALUE_PER_CHANNEL`) instead of an anonymous
/// `{constant#N}` whose number changes with unrelated edits.
pub(crate) struct BatchStatistics<const B: usize, const S: usize>;

impl<const B: usize, const S: usize> BatchStatistics<B, S> {
    pub(crate) const MORE_THAN_ONE_VALUE_PER_CHANNEL: () = assert!(
        B * S > 1,
        "BatchNorm/BatchRenorm training needs more than 1 value per channel (B * S > 1), as \
         PyTorch (\"Expected more than 1 value per channel when training\"); use eval mode \
         (running statistics) for a single sample"
    );
}

macro_rules! assert_batch_statistics {
    ($b:ident, $s:ident) => {
        #[allow(clippy::let_unit_value)]
        let () = super::BatchStatistics::<$b, $s>::MORE_THAN_ONE_VALUE_PER_CHANNEL;
    };
}

pub mod batch;
mod channels;
pub mod fold;
pub mod group;
mod lanes;
pub mod renorm;
pub mod weight_norm;

#[cfg(all(test, feature = "std"))]
#[rustfmt::skip]
mod reference;
#[cfg(all(test, feature = "std"))]
mod test_util;

pub use batch::{
    batch_norm_eval_backward, batch_norm_eval_forward, batch_norm_train_backward,
    batch_norm_train_backward_with, batch_norm_train_forward, batch_norm_train_forward_with,
    BatchStats,
};
pub use fold::fold_batch_norm;
pub use group::{
    group_norm_backward, group_norm_forward, instance_norm_backward, instance_norm_forward,
    layer_norm_backward, layer_norm_forward, GroupStats,
};
pub use renorm::{
    batch_renorm_train_backward, batch_renorm_train_backward_with, batch_renorm_train_forward,
    batch_renorm_train_forward_with, RenormLimits, RenormSchedule, RenormStats,
};
pub use weight_norm::{weight_norm_backward, weight_norm_forward, weight_norm_init};

use crate::error::{Error, Result};
use crate::Scalar;

/// PyTorch's default `eps` for every normalization layer.
pub const DEFAULT_EPS: f64 = 1e-5;
/// PyTorch's default BatchNorm `momentum` (weight of the new batch in the running averages).
pub const DEFAULT_MOMENTUM: f64 = 0.1;

/// Hyper-parameters of BatchNorm and Batch Renorm in training mode.
///
/// Running averages: `running = (1 - momentum) * running + momentum * batch_value` (PyTorch's
/// convention; `momentum` is the weight of the new value, not of the old).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormConfig {
    /// Added to the variance before the square root; must be `> 0`.
    pub eps: f64,
    /// Weight of the current batch in the running statistics, in `[0, 1]`.
    pub momentum: f64,
}

impl BatchNormConfig {
    /// PyTorch's defaults: `eps = 1e-5`, `momentum = 0.1`.
    pub const PYTORCH: Self = BatchNormConfig {
        eps: DEFAULT_EPS,
        momentum: DEFAULT_MOMENTUM,
    };

    /// A validated configuration: `eps` finite and `> 0`, `momentum` in `[0, 1]`.
    pub fn new(eps: f64, momentum: f64) -> Result<Self> {
        check_eps("BatchNorm: eps", eps)?;
        if !(0.0..=1.0).contains(&momentum) {
            return Err(Error::InvalidParameter {
                name: "BatchNorm: momentum",
                value: momentum,
                expected: "in [0, 1]",
            });
        }
        Ok(BatchNormConfig { eps, momentum })
    }
}

impl Default for BatchNormConfig {
    fn default() -> Self {
        Self::PYTORCH
    }
}

/// Returns `eps` if it is finite and `> 0` (what keeps `1 / sqrt(var + eps)` finite for a
/// constant input), else [`Error::InvalidParameter`] naming `what`.
pub fn check_eps(what: &'static str, eps: f64) -> Result<f64> {
    if eps.is_finite() && eps > 0.0 {
        Ok(eps)
    } else {
        Err(Error::InvalidParameter {
            name: what,
            value: eps,
            expected: "finite and > 0",
        })
    }
}

/// Sets an affine parameter block `[[T; L]; 2]` to PyTorch's initial values: weight (gamma) = 1,
/// bias (beta) = 0, so the layer starts as pure normalization.
pub fn init_affine<T: Scalar, const L: usize>(params: &mut [[T; L]; 2]) {
    params[0] = [T::one(); L];
    params[1] = [T::zero(); L];
}

/// Sets a BatchNorm / Batch Renorm state block `[[T; C]; 2]` to PyTorch's initial values:
/// running_mean = 0, running_var = 1.
pub fn init_running_stats<T: Scalar, const C: usize>(state: &mut [[T; C]; 2]) {
    state[0] = [T::zero(); C];
    state[1] = [T::one(); C];
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn config_validation_and_init() {
        assert_eq!(BatchNormConfig::default(), BatchNormConfig::PYTORCH);
        assert_eq!(
            BatchNormConfig::new(1e-3, 0.01),
            Ok(BatchNormConfig {
                eps: 1e-3,
                momentum: 0.01
            })
        );
        assert!(BatchNormConfig::new(0.0, 0.1).is_err());
        assert!(BatchNormConfig::new(f64::NAN, 0.1).is_err());
        assert!(BatchNormConfig::new(1e-5, 1.5).is_err());
        assert!(BatchNormConfig::new(1e-5, f64::NAN).is_err());

        let mut params = [[7.0f32; 3]; 2];
        init_affine(&mut params);
        assert_eq!(params, [[1.0; 3], [0.0; 3]]);
        let mut state = [[7.0f64; 2]; 2];
        init_running_stats(&mut state);
        assert_eq!(state, [[0.0; 2], [1.0; 2]]);
    }
}
