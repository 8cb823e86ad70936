//! Optimizers, learning-rate schedules and gradient clipping, with PyTorch's numerics.
//!
//! An optimizer updates one flat parameter array `[T; N]` from one flat gradient array of the
//! same size, in a single pass with no allocation; `N` is the network's parameter count, so the
//! state is typed and sized at compile time. Each optimizer follows the corresponding
//! `torch.optim` class exactly (defaults, epsilon placement, weight decay, first-step
//! behaviour), so hyper-parameters and checkpoints carry over; its docs give PyTorch's rule next
//! to the textbook one and how they map.
//!
//! | type | PyTorch | state buffers, in checkpoint order |
//! |---|---|---|
//! | [`Sgd`] | `SGD` | `momentum_buffer` (if `momentum != 0`) |
//! | [`Adam`] | `Adam` | `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq` (if `amsgrad`) |
//! | [`AdamW`] | `AdamW` | as [`Adam`] |
//! | [`Adagrad`] | `Adagrad` | `sum` |
//! | [`RmsProp`] | `RMSprop` | `square_avg`, `momentum_buffer` (if `momentum > 0`), `grad_avg` (if `centered`) |
//! | [`Adadelta`] | `Adadelta` | `square_avg`, `acc_delta` |
//!
//! # Checkpoint layout
//! An optimizer's state is its configuration (hyper-parameters, a plain `Copy` struct), the step
//! counter [`Optimizer::steps`] (a `u64`: the number of completed updates, PyTorch's
//! `state["step"]`), and [`Optimizer::state_buffer_count`] buffers of `N` elements each, in the
//! order of the table above, named by [`Optimizer::state_buffer`] with PyTorch's `state_dict`
//! keys. Which optional buffers exist depends only on the configuration, so a checkpoint that
//! stores the configuration, the counter and the buffers in this order restores exactly
//! ([`Optimizer::save_state`] / [`Optimizer::load_state`] copy the buffers as one flat slice of
//! `state_buffer_count() * N` elements). This order is part of the file format: do not change
//! it.
//! `io::checkpoint` (feature `alloc`) writes checkpoints in this layout, identifying the
//! optimizer and its configuration through [`Describe`].
//!
//! # Memory
//! Every buffer is a [`crate::Buffer`]: heap-allocated and zeroed in place with feature `alloc`
//! (a 235k-parameter Adam never touches the stack), inline without it. Buffers that the
//! configuration does not need are not allocated.
//!
//! # Hyper-parameters
//! Configurations hold `f64`, the type PyTorch's Python floats have: the per-step scalars (bias
//! corrections, decayed learning rates) are computed in `f64` as PyTorch computes them in Python,
//! then rounded once to `T` outside the loop, so `f32` runs round as PyTorch's `float32` runs do.
//! `new(config)` validates with PyTorch's rules, plus finiteness, plus two ranges PyTorch leaves
//! open (SGD's `dampening` and RMSprop's `alpha` in `[0, 1]`, each noted), and returns
//! [`Error::InvalidParameter`]; `set_learning_rate` validates the same way.
//!
//! # Schedules and clipping
//! [`Schedule`]s are pure functions of a step or epoch counter; drive an optimizer with
//! [`Optimizer::set_learning_rate`] or [`Optimizer::step_scheduled`]. [`clip_grad_norm`] and
//! [`clip_grad_value`] rescale a gradient before the step.

mod adadelta;
mod adagrad;
mod adam;
mod clip;
mod describe;
mod guard;
mod rmsprop;
pub mod schedule;
mod sgd;
// Split writes need threads (`Workers`, `kernels::lend`): these tests run with `std`.
#[cfg(all(test, feature = "std"))]
mod split_tests;

pub use adadelta::{Adadelta, AdadeltaConfig};
pub use adagrad::{Adagrad, AdagradConfig};
pub use adam::{Adam, AdamConfig, AdamW, AdamWConfig};
pub use clip::{clip_grad_norm, clip_grad_value};
pub use describe::Describe;
pub use guard::GradientScan;
pub use rmsprop::{RmsProp, RmsPropConfig};
pub use schedule::Schedule;
pub use sgd::{Sgd, SgdConfig};

#[cfg(feature = "std")]
use crate::kernels::lend::Chunks;

use crate::error::check_len;
use crate::{Error, Result, Scalar};

/// An optimizer over `N` parameters of type `T`: what a generated `train_step` is generic over.
///
/// `step` is the hot path (no allocation; one pass over the flat arrays after a scan of the
/// gradient, see below); the other methods drive the learning rate and expose the state for
/// checkpoints (see the [module docs](self) for the layout).
///
/// # A step is a transaction
/// `Ok` means every parameter and every state value after the update is finite; `Err` means
/// nothing changed (parameters, state buffers and the step counter are exactly as before). The
/// check costs one vectorized read of the gradient and the parameters: from their largest
/// magnitudes and bounds on the state carried from step to step, each optimizer proves the
/// update finite before writing, and only when it cannot (a zero `eps`, values near overflow)
/// runs the update as a dry run first. Details in the `guard` module's source.
pub trait Optimizer<T: Scalar, const N: usize> {
    /// One update of `params` from `grads`, the gradient of the loss being minimised.
    ///
    /// # Errors
    /// [`Error::NonFiniteValue`] naming the first non-finite gradient, or the first parameter
    /// or state value the update would make NaN or infinite (by flat index: a network's
    /// `train_step` names the tensor, see [`Error::in_tensors`]); nothing is changed then.
    fn step(&mut self, params: &mut [T; N], grads: &[T; N]) -> Result<()>;

    /// [`step`](Self::step) with its check phase's reading of `params` and `grads` done
    /// already: `scan` must be [`GradientScan::of`] these very `params` and `grads` (or the
    /// [`combine`](GradientScan::combine) of the scans of their chunks). A data-parallel step
    /// scans each chunk of the summed gradient on the thread that sums it, so that this step
    /// only writes. The result, errors included, is `step`'s, bit for bit.
    ///
    /// The default ignores `scan` and calls `step`.
    ///
    /// # Errors
    /// As [`step`](Self::step); nothing is changed then.
    fn step_scanned(
        &mut self,
        params: &mut [T; N],
        grads: &[T; N],
        scan: &GradientScan,
    ) -> Result<()> {
        let _ = scan;
        self.step(params, grads)
    }

    /// [`step_scanned`](Self::step_scanned) with its writes split across `workers`: the
    /// update is split in [`Workers::parts`] chunks of matching indices in the parameters, the
    /// gradient and every state buffer (`kernels::lend::chunk_range`), the step's scalars are
    /// computed once, and each chunk is applied by one call of the job given to
    /// [`Workers::run`]; the step counter advances once. The check runs first, on the calling
    /// thread, from `scan`, before anything is written. The result, errors included, is
    /// `step`'s, bit for bit (the updates are element-wise).
    ///
    /// The default ignores `workers` and calls `step_scanned`.
    ///
    /// # Errors
    /// As [`step`](Self::step); nothing is changed then.
    #[cfg(feature = "std")]
    fn step_split(
        &mut self,
        params: &mut [T; N],
        grads: &[T; N],
        scan: &GradientScan,
        workers: &dyn Workers,
    ) -> Result<()> {
        let _ = workers;
        self.step_scanned(params, grads, scan)
    }

    /// The learning rate the next [`step`](Self::step) uses (PyTorch's `param_group["lr"]`).
    fn learning_rate(&self) -> f64;

    /// Sets the learning rate for the following steps, as assigning PyTorch's
    /// `param_group["lr"]` does: it applies to the whole update from the next step on (for
    /// momentum methods, to the accumulated velocity too).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `lr` is negative, NaN or infinite; the optimizer is left
    /// unchanged.
    fn set_learning_rate(&mut self, lr: f64) -> Result<()>;

    /// The number of completed updates (PyTorch's `state["step"]`).
    fn steps(&self) -> u64;

    /// Sets the step counter, to restore a checkpoint together with
    /// [`load_state`](Self::load_state). The counter drives bias corrections (Adam), the
    /// learning-rate decay (Adagrad) and SGD's first-step momentum rule (`steps == 0`).
    fn set_steps(&mut self, steps: u64);

    /// How many state buffers of `N` elements this optimizer holds with its configuration.
    fn state_buffer_count(&self) -> usize;

    /// State buffer `index` (`< state_buffer_count()`) with its PyTorch `state_dict` key, in the
    /// documented checkpoint order; `None` past the end.
    fn state_buffer(&self, index: usize) -> Option<(&'static str, &[T; N])>;

    /// State buffer `index`, mutably (to restore a checkpoint); `None` past the end. The next
    /// step measures the buffers again instead of trusting its bounds on them.
    fn state_buffer_mut(&mut self, index: usize) -> Option<(&'static str, &mut [T; N])>;

    /// Sets the learning rate to `schedule.lr(self.steps())`, then steps: a schedule driven by
    /// the optimizer's own update counter (warm-up, cosine annealing per iteration).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if the schedule yields an invalid learning rate, and the
    /// errors of [`step`](Self::step); nothing is updated then (not even the learning rate).
    #[inline]
    fn step_scheduled<S: Schedule>(
        &mut self,
        schedule: &S,
        params: &mut [T; N],
        grads: &[T; N],
    ) -> Result<()> {
        let previous = self.learning_rate();
        self.set_learning_rate(schedule.lr(self.steps()))?;
        let result = self.step(params, grads);
        if result.is_err() {
            // `previous` was accepted before, so restoring it cannot fail.
            let _ = self.set_learning_rate(previous);
        }
        result
    }

    /// Copies every state buffer, in checkpoint order, into `out` (length
    /// `state_buffer_count() * N`).
    ///
    /// # Errors
    /// [`Error::Length`] if `out` has another length.
    fn save_state(&self, out: &mut [T]) -> Result<()> {
        check_len(
            "Optimizer::save_state: out",
            self.state_buffer_count() * N,
            out.len(),
        )?;
        for (index, chunk) in out.chunks_exact_mut(N.max(1)).enumerate() {
            if let Some((_, buffer)) = self.state_buffer(index) {
                chunk.copy_from_slice(buffer);
            }
        }
        Ok(())
    }

    /// Restores the step counter and every state buffer from `state`, laid out as
    /// [`save_state`](Self::save_state) writes it.
    ///
    /// # Errors
    /// [`Error::Length`] if `state` has another length; the optimizer is left unchanged.
    fn load_state(&mut self, steps: u64, state: &[T]) -> Result<()> {
        check_len(
            "Optimizer::load_state: state",
            self.state_buffer_count() * N,
            state.len(),
        )?;
        for (index, chunk) in state.chunks_exact(N.max(1)).enumerate() {
            if let Some((_, buffer)) = self.state_buffer_mut(index) {
                buffer.copy_from_slice(chunk);
            }
        }
        self.set_steps(steps);
        Ok(())
    }
}

/// Threads an optimizer step can split its writes across ([`Optimizer::step_split`]): a
/// data-parallel trainer's workers.
#[cfg(feature = "std")]
pub trait Workers {
    /// How many chunks to split the update in (at least 1; at most
    /// [`crate::kernels::lend::MAX_PARTS`] are used).
    fn parts(&self) -> usize;

    /// Calls `job(k)` once for every `k < parts()`, on any threads, in any order, and returns
    /// only when every call has returned.
    fn run(&self, job: &(dyn Fn(usize) + Sync));
}

/// The calling thread alone, as one chunk.
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug, Default)]
pub struct OneThread;

#[cfg(feature = "std")]
impl Workers for OneThread {
    fn parts(&self) -> usize {
        1
    }

    fn run(&self, job: &(dyn Fn(usize) + Sync)) {
        job(0);
    }
}

/// Runs `job(k, params_k, grads_k)` through `workers` on each chunk `k` of `params` and the
/// matching chunk of `grads` (indices past the chunks' count, [`crate::kernels::lend::MAX_PARTS`],
/// are ignored); the optimizers' `apply_split` take their state buffers' chunk `k` in `job`.
#[cfg(feature = "std")]
fn run_chunks<T: Scalar>(
    workers: &dyn Workers,
    params: &Chunks<'_, T>,
    grads: &[T],
    job: impl Fn(usize, &mut [T], &[T]) + Sync,
) {
    workers.run(&|k| {
        if k < params.parts() {
            job(k, params.take(k), &grads[params.range(k)]);
        }
    });
}

/// `Ok` if `value` is finite and `>= 0` (PyTorch's `0.0 <= value`, which also rejects NaN).
pub(crate) fn check_non_negative(name: &'static str, value: f64) -> Result<()> {
    check_range(name, value, value >= 0.0, "finite and >= 0")
}

/// `Ok` if `value` is in `[0, 1)` (Adam's betas).
pub(crate) fn check_unit_open(name: &'static str, value: f64) -> Result<()> {
    check_range(name, value, (0.0..1.0).contains(&value), "in [0, 1)")
}

/// `Ok` if `value` is in `[0, 1]`.
pub(crate) fn check_unit_closed(name: &'static str, value: f64) -> Result<()> {
    check_range(name, value, (0.0..=1.0).contains(&value), "in [0, 1]")
}

/// `Ok` if `ok` holds and `value` is finite; otherwise [`Error::InvalidParameter`].
pub(crate) fn check_range(
    name: &'static str,
    value: f64,
    ok: bool,
    expected: &'static str,
) -> Result<()> {
    if ok && value.is_finite() {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name,
            value,
            expected,
        })
    }
}

/// PyTorch's `lerp_(end, weight)` with a scalar weight, `start + weight * (end - start)`,
/// evaluated as PyTorch does (from the nearer end, for accuracy when `weight >= 0.5`); the
/// exponential moving averages of Adam and centered RMSProp use it.
#[derive(Clone, Copy)]
pub(crate) struct Lerp<T> {
    weight: T,
    complement: T,
    small: bool,
}

impl<T: Scalar> Lerp<T> {
    /// Interpolation by `weight` (given in `f64`, as PyTorch's Python float).
    #[inline]
    pub(crate) fn new(weight: f64) -> Self {
        let weight = T::from_f64(weight);
        Lerp {
            weight,
            complement: T::one() - weight,
            small: weight.abs() < T::from_f64(0.5),
        }
    }

    /// `start + weight * (end - start)`.
    #[inline(always)]
    pub(crate) fn apply(self, start: T, end: T) -> T {
        if self.small {
            start + self.weight * (end - start)
        } else {
            end - (end - start) * self.complement
        }
    }
}

/// The state buffer at `index` among `buffers` (the configuration's buffers in checkpoint
/// order, absent ones skipped), shared by the optimizers' `state_buffer` implementations.
fn nth_buffer<'a, T: Scalar, const N: usize, const K: usize>(
    buffers: [(&'static str, Option<&'a crate::Buffer<[T; N]>>); K],
    index: usize,
) -> Option<(&'static str, &'a [T; N])> {
    buffers
        .into_iter()
        .filter_map(|(name, buffer)| buffer.map(|b| (name, &**b)))
        .nth(index)
}

/// Mutable counterpart of [`nth_buffer`].
fn nth_buffer_mut<'a, T: Scalar, const N: usize, const K: usize>(
    buffers: [(&'static str, Option<&'a mut crate::Buffer<[T; N]>>); K],
    index: usize,
) -> Option<(&'static str, &'a mut [T; N])> {
    buffers
        .into_iter()
        .filter_map(|(name, buffer)| buffer.map(|b| (name, &mut **b)))
        .nth(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_messages_name_the_parameter() {
        extern crate std;
        use std::string::ToString;
        let e = check_non_negative("SGD: lr", -1.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "SGD: lr = -1 is invalid (expected finite and >= 0)"
        );
        assert!(check_non_negative("x", f64::NAN).is_err());
        assert!(check_non_negative("x", f64::INFINITY).is_err());
        assert!(check_non_negative("x", 0.0).is_ok());
        assert!(check_unit_open("b", 1.0).is_err());
        assert!(check_unit_open("b", 0.0).is_ok());
        assert!(check_unit_closed("r", 1.0).is_ok());
        assert!(check_unit_closed("r", -0.1).is_err());
    }
}
