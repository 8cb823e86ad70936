//! Learning-rate schedules: pure functions from a step (or epoch) counter to a learning rate,
//! with the values of `torch.optim.lr_scheduler`.
//!
//! `lr(t)` is the learning rate for update `t + 1`, i.e. PyTorch's `get_last_lr()` after `t`
//! calls of `scheduler.step()`. A schedule holds no mutable state: the counter is the caller's
//! (the optimizer's [`steps`](super::Optimizer::steps) for per-iteration schedules, through
//! [`step_scheduled`](super::Optimizer::step_scheduled); an epoch index for per-epoch ones,
//! through [`set_learning_rate`](super::Optimizer::set_learning_rate)), so resuming from a
//! checkpoint needs only that counter. Each type says which counter it is usually driven by;
//! the formulas do not care.
//!
//! | type | PyTorch |
//! |---|---|
//! | [`Constant`] | no scheduler |
//! | [`StepDecay`] | `StepLR` |
//! | [`Milestones`] | `MultiStepLR` |
//! | [`Exponential`] | `ExponentialLR` |
//! | [`CosineAnnealing`] | `CosineAnnealingLR` (closed form) |
//! | [`Harmonic`] | `LambdaLR` with `lambda t: 1 / (t // N + c)` |
//! | [`Warmup`] | `SequentialLR([LinearLR(start_factor, 1, W), inner], milestones=[W])` |
//!
//! Every constructor validates its arguments ([`Error::InvalidParameter`](crate::Error::InvalidParameter)), so `lr` never
//! panics and returns a finite, non-negative rate for every `t` (barring overflow to infinity of
//! a growing [`Exponential`]). Any closure `Fn(u64) -> f64` is a schedule too.

use num_traits::Float;

use super::{check_non_negative, check_range, check_unit_closed};
use crate::Result;

/// A learning rate as a pure function of a step or epoch counter.
pub trait Schedule {
    /// The learning rate at counter value `t` (`t = 0` for the first update or epoch).
    fn lr(&self, t: u64) -> f64;
}

impl<F: Fn(u64) -> f64> Schedule for F {
    #[inline]
    fn lr(&self, t: u64) -> f64 {
        self(t)
    }
}

/// `lr(t) = lr`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Constant {
    lr: f64,
}

impl Constant {
    /// A constant rate.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) unless `lr` is finite and `>= 0`.
    pub fn new(lr: f64) -> Result<Self> {
        check_non_negative("Constant: lr", lr)?;
        Ok(Constant { lr })
    }
}

impl Schedule for Constant {
    #[inline]
    fn lr(&self, _t: u64) -> f64 {
        self.lr
    }
}

/// Step decay, usually per epoch: `lr(t) = base_lr * gamma^floor(t / step_size)` (PyTorch's
/// `StepLR(step_size, gamma)`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepDecay {
    base_lr: f64,
    step_size: u64,
    gamma: f64,
}

impl StepDecay {
    /// Multiplies the rate by `gamma` every `step_size` steps.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) unless `base_lr, gamma >= 0` (finite) and `step_size >= 1`.
    pub fn new(base_lr: f64, step_size: u64, gamma: f64) -> Result<Self> {
        check_non_negative("StepDecay: base_lr", base_lr)?;
        check_range(
            "StepDecay: step_size",
            step_size as f64,
            step_size >= 1,
            ">= 1",
        )?;
        check_non_negative("StepDecay: gamma", gamma)?;
        Ok(StepDecay {
            base_lr,
            step_size,
            gamma,
        })
    }
}

impl Schedule for StepDecay {
    #[inline]
    fn lr(&self, t: u64) -> f64 {
        self.base_lr * Float::powf(self.gamma, (t / self.step_size) as f64)
    }
}

/// Piecewise-constant decay at a list of milestones, usually epochs:
/// `lr(t) = base_lr * gamma^(number of milestones <= t)` (PyTorch's `MultiStepLR`). The `K`
/// milestones are stored inline; their order does not matter and a repeated milestone counts
/// twice, as in PyTorch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Milestones<const K: usize> {
    base_lr: f64,
    milestones: [u64; K],
    gamma: f64,
}

impl<const K: usize> Milestones<K> {
    /// Multiplies the rate by `gamma` at each milestone.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) unless `base_lr, gamma >= 0` (finite).
    pub fn new(base_lr: f64, milestones: [u64; K], gamma: f64) -> Result<Self> {
        check_non_negative("Milestones: base_lr", base_lr)?;
        check_non_negative("Milestones: gamma", gamma)?;
        Ok(Milestones {
            base_lr,
            milestones,
            gamma,
        })
    }
}

impl<const K: usize> Schedule for Milestones<K> {
    #[inline]
    fn lr(&self, t: u64) -> f64 {
        let passed = self.milestones.iter().filter(|&&m| m <= t).count();
        self.base_lr * Float::powf(self.gamma, passed as f64)
    }
}

/// Exponential decay, usually per epoch: `lr(t) = base_lr * gamma^t` (PyTorch's
/// `ExponentialLR`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exponential {
    base_lr: f64,
    gamma: f64,
}

impl Exponential {
    /// Multiplies the rate by `gamma` every step.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) unless `base_lr, gamma >= 0` (finite).
    pub fn new(base_lr: f64, gamma: f64) -> Result<Self> {
        check_non_negative("Exponential: base_lr", base_lr)?;
        check_non_negative("Exponential: gamma", gamma)?;
        Ok(Exponential { base_lr, gamma })
    }
}

impl Schedule for Exponential {
    #[inline]
    fn lr(&self, t: u64) -> f64 {
        self.base_lr * Float::powf(self.gamma, t as f64)
    }
}

/// Cosine annealing from `base_lr` to `eta_min` over `t_max` steps (or epochs), usually per
/// step: `lr(t) = eta_min + (base_lr - eta_min) (1 + cos(pi t / t_max)) / 2` (PyTorch's
/// `CosineAnnealingLR`, the closed form of its recursion; SGDR without restarts).
///
/// Past `t_max` the cosine goes on, rising back to `base_lr` at `2 t_max`, exactly as
/// PyTorch's scheduler does; stop at `t_max` (or compose by hand) for a rate that stays at
/// `eta_min`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CosineAnnealing {
    base_lr: f64,
    t_max: u64,
    eta_min: f64,
}

impl CosineAnnealing {
    /// Anneals from `base_lr` (at `t = 0`) to `eta_min` (at `t = t_max`).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) unless `base_lr, eta_min >= 0` (finite) and `t_max >= 1`.
    pub fn new(base_lr: f64, t_max: u64, eta_min: f64) -> Result<Self> {
        check_non_negative("CosineAnnealing: base_lr", base_lr)?;
        check_range("CosineAnnealing: t_max", t_max as f64, t_max >= 1, ">= 1")?;
        check_non_negative("CosineAnnealing: eta_min", eta_min)?;
        Ok(CosineAnnealing {
            base_lr,
            t_max,
            eta_min,
        })
    }
}

impl Schedule for CosineAnnealing {
    #[inline]
    fn lr(&self, t: u64) -> f64 {
        // Same association as PyTorch's `math.pi * last_epoch / T_max`.
        let angle = core::f64::consts::PI * t as f64 / self.t_max as f64;
        self.eta_min + (self.base_lr - self.eta_min) * (1.0 + Float::cos(angle)) / 2.0
    }
}

/// The harmonic decay of the lecture, usually per epoch: `lr(t) = a / (floor(t / n) + c)`: the
/// rate falls like `1/t` (the Robbins–Monro conditions `sum lr = inf`, `sum lr^2 < inf`), held
/// constant over blocks of `n` steps. PyTorch: `LambdaLR` with base rate `a` and
/// `lambda t: 1 / (t // n + c)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Harmonic {
    a: f64,
    n: u64,
    c: f64,
}

impl Harmonic {
    /// `a / (floor(t / n) + c)`; the first rate is `a / c`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) unless `a >= 0`, `c > 0` (finite) and `n >= 1`.
    pub fn new(a: f64, n: u64, c: f64) -> Result<Self> {
        check_non_negative("Harmonic: a", a)?;
        check_range("Harmonic: n", n as f64, n >= 1, ">= 1")?;
        check_range("Harmonic: c", c, c > 0.0, "> 0")?;
        Ok(Harmonic { a, n, c })
    }
}

impl Schedule for Harmonic {
    #[inline]
    fn lr(&self, t: u64) -> f64 {
        self.a / ((t / self.n) as f64 + self.c)
    }
}

/// Linear warm-up composed with any schedule: for the first `warmup` steps the rate rises
/// linearly from `start_factor * inner.lr(0)` towards `inner.lr(0)`, then `inner` runs,
/// shifted to start at 0:
/// ```text
/// lr(t) = inner.lr(0) * (start_factor + (1 - start_factor) t / warmup)   t < warmup
/// lr(t) = inner.lr(t - warmup)                                           t >= warmup
/// ```
/// PyTorch: `SequentialLR([LinearLR(start_factor, 1.0, total_iters=warmup), inner],
/// milestones=[warmup])` (whose warm-up ramps to the optimizer's base rate: the same whenever
/// the inner scheduler starts at that rate, as all of PyTorch's do except a `LambdaLR` with
/// `lambda(0) != 1`). Usually per step. `warmup = 0` is `inner` itself.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Warmup<S> {
    inner: S,
    warmup: u64,
    start_factor: f64,
}

impl<S: Schedule> Warmup<S> {
    /// Warms up over `warmup` steps from `start_factor` (in `[0, 1]`) times the inner schedule's
    /// first rate.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) unless `start_factor` is in `[0, 1]`.
    pub fn new(inner: S, warmup: u64, start_factor: f64) -> Result<Self> {
        check_unit_closed("Warmup: start_factor", start_factor)?;
        Ok(Warmup {
            inner,
            warmup,
            start_factor,
        })
    }

    /// The schedule that runs after the warm-up.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: Schedule> Schedule for Warmup<S> {
    #[inline]
    fn lr(&self, t: u64) -> f64 {
        if t < self.warmup {
            let ramp =
                self.start_factor + (1.0 - self.start_factor) * t as f64 / self.warmup as f64;
            self.inner.lr(0) * ramp
        } else {
            self.inner.lr(t - self.warmup)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_validate() {
        assert!(Constant::new(-1.0).is_err());
        assert!(StepDecay::new(0.1, 0, 0.5).is_err());
        assert!(StepDecay::new(0.1, 1, f64::NAN).is_err());
        assert!(Milestones::new(-0.1, [1, 2], 0.5).is_err());
        assert!(Exponential::new(0.1, -0.5).is_err());
        assert!(CosineAnnealing::new(0.1, 0, 0.0).is_err());
        assert!(CosineAnnealing::new(0.1, 10, -1.0).is_err());
        assert!(Harmonic::new(1.0, 0, 1.0).is_err());
        assert!(Harmonic::new(1.0, 1, 0.0).is_err());
        assert!(Warmup::new(Constant::new(0.1).unwrap(), 5, 1.5).is_err());
    }

    #[test]
    fn edge_cases() {
        // Huge counters neither panic nor overflow.
        let s = StepDecay::new(0.1, 1, 0.5).unwrap();
        assert_eq!(s.lr(u64::MAX), 0.0);
        let h = Harmonic::new(1.0, 1, 1.0).unwrap();
        assert!(h.lr(u64::MAX) > 0.0);
        // No warm-up is the inner schedule; a closure is a schedule.
        let w = Warmup::new(|t: u64| 1.0 / (t + 1) as f64, 0, 0.0).unwrap();
        assert_eq!(w.lr(3), 0.25);
        let w = Warmup::new(Constant::new(2.0).unwrap(), 4, 0.0).unwrap();
        assert_eq!([w.lr(0), w.lr(1), w.lr(2), w.lr(4)], [0.0, 0.5, 1.0, 2.0]);
    }
}
