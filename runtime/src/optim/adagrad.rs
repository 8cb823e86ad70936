//! Adagrad: PyTorch's `torch.optim.Adagrad`.

use num_traits::Float;

use super::{check_non_negative, guard, Optimizer};
#[cfg(feature = "std")]
use super::{Chunks, Workers};
use crate::kernels::simd::{dispatch, Simd};
use crate::{Buffer, Result, Scalar};

/// Hyper-parameters of [`Adagrad`]; `Default` is PyTorch's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdagradConfig {
    /// Learning rate `gamma` (default `1e-2`).
    pub lr: f64,
    /// Learning-rate decay `eta` (default 0): step `t` uses `gamma / (1 + (t - 1) eta)`.
    pub lr_decay: f64,
    /// L2 penalty `lambda` added to the gradient (default 0).
    pub weight_decay: f64,
    /// Initial value of every sum of squares (default 0).
    pub initial_accumulator_value: f64,
    /// `eps`, added outside the square root (default `1e-10`).
    pub eps: f64,
}

impl Default for AdagradConfig {
    fn default() -> Self {
        AdagradConfig {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
        }
    }
}

impl AdagradConfig {
    /// Checks every field with PyTorch's rules (all `>= 0`), all finite.
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] naming the first offending field.
    pub fn validate(&self) -> Result<()> {
        check_non_negative("Adagrad: lr", self.lr)?;
        check_non_negative("Adagrad: lr_decay", self.lr_decay)?;
        check_non_negative("Adagrad: weight_decay", self.weight_decay)?;
        check_non_negative(
            "Adagrad: initial_accumulator_value",
            self.initial_accumulator_value,
        )?;
        check_non_negative("Adagrad: eps", self.eps)
    }
}

/// Adagrad over `N` parameters (PyTorch's `torch.optim.Adagrad`).
///
/// # Update rule (PyTorch)
/// With learning rate `gamma`, decay `eta`, weight decay `lambda`, at step `t = 1, 2, ...`
/// (`s_0 = initial_accumulator_value`):
/// ```text
/// g_t = grad + lambda * w
/// gamma_t = gamma / (1 + (t - 1) eta)
/// s_t = s_{t-1} + g_t^2
/// w  <- w - gamma_t * g_t / (sqrt(s_t) + eps)
/// ```
///
/// # Textbook form and mapping
/// Duchi, Hazan & Singer (2011), diagonal version: `w <- w - eta g_t / sqrt(delta + sum_s g_s^2)`
/// (books vary between `delta` inside and outside the root). PyTorch puts `eps` outside the
/// root, adds an optional `1 / (1 + (t - 1) eta)` decay of the learning rate, and lets the sum
/// start at `initial_accumulator_value` (which, like `delta` inside the root, damps the first
/// steps). Weight decay is L2: `lambda w` added to the gradient, so it enters the sum too.
///
/// # State
/// `sum` (`s`); the step counter drives the learning-rate decay.
pub struct Adagrad<T: Scalar, const N: usize> {
    config: AdagradConfig,
    steps: u64,
    sum: Buffer<[T; N]>,
    bounds: guard::StateBounds<1>,
}

impl<T: Scalar, const N: usize> Adagrad<T, N> {
    /// A new optimizer whose sums start at `initial_accumulator_value`.
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`], see [`AdagradConfig::validate`].
    pub fn new(config: AdagradConfig) -> Result<Self> {
        config.validate()?;
        let mut sum = Buffer::<[T; N]>::zeroed();
        sum.fill(T::from_f64(config.initial_accumulator_value));
        let mut bounds = guard::StateBounds::zero();
        bounds.set([config.initial_accumulator_value]);
        Ok(Adagrad {
            config,
            steps: 0,
            sum,
            bounds,
        })
    }

    /// The hyper-parameters (with the current learning rate).
    pub fn config(&self) -> &AdagradConfig {
        &self.config
    }
}

/// The per-step scalars of Adagrad in `T`, and the update of one element.
#[derive(Clone, Copy)]
struct AdagradStep<T> {
    neg_lr: T,
    weight_decay: Option<T>,
    eps: T,
}

impl<T: Scalar> AdagradStep<T> {
    /// The scalars of step `t` (1-based).
    fn new(c: &AdagradConfig, t: u64) -> Self {
        let decayed_lr = c.lr / (1.0 + (t - 1) as f64 * c.lr_decay);
        AdagradStep {
            neg_lr: T::from_f64(-decayed_lr),
            weight_decay: (c.weight_decay != 0.0).then(|| T::from_f64(c.weight_decay)),
            eps: T::from_f64(c.eps),
        }
    }

    #[inline(always)]
    fn update(self, w: &mut T, g: T, s: &mut T) {
        let g = match self.weight_decay {
            Some(lambda) => g + lambda * *w,
            None => g,
        };
        *s += g * g;
        *w += self.neg_lr * g / (s.sqrt() + self.eps);
    }
}

/// One Adagrad update over every parameter, compiled for the widest vector instructions (a
/// square root and a division per element: compute-bound on the baseline).
struct AdagradPass<'a, T> {
    k: AdagradStep<T>,
    params: &'a mut [T],
    grads: &'a [T],
    sum: &'a mut [T],
}

impl<T: Scalar> Simd for AdagradPass<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        for ((w, &g), s) in self
            .params
            .iter_mut()
            .zip(self.grads)
            .zip(self.sum.iter_mut())
        {
            self.k.update(w, g, s);
        }
    }
}

impl<T: Scalar, const N: usize> guard::Guarded<T, N, 1> for Adagrad<T, N> {
    /// A bound on `sum` after a step from `extents`, if every value the step writes is provably
    /// finite (see `guard`).
    fn proven_bounds(&self, extents: &guard::Extents) -> Option<[f64; 1]> {
        let c = &self.config;
        let [sum] = self.bounds.get()?;
        if c.eps <= 0.0 {
            return None; // 0 / 0 for a zero gradient on a zero sum
        }
        let t = (self.steps + 1) as f64;
        let lr = c.lr / (1.0 + (t - 1.0) * c.lr_decay);
        let g = guard::slack::<T>(extents.grad + c.weight_decay * extents.param);
        let sum_new = guard::slack::<T>(sum + g * g);
        let root = guard::slack::<T>(Float::sqrt(sum_new) + c.eps);
        let step = guard::slack::<T>(lr * g / c.eps);
        let w_new = guard::slack::<T>(extents.param + step);
        guard::all_below::<T>(&[g, g * g, sum_new, root, step, w_new]).then_some([sum_new])
    }

    /// The update without writing: the first value it would make non-finite.
    fn dry_run(&self, params: &[T; N], grads: &[T; N]) -> Result<()> {
        let k = AdagradStep::<T>::new(&self.config, self.steps + 1);
        guard::dry_run(N, |i| {
            let (mut w, mut s) = (params[i], self.sum[i]);
            k.update(&mut w, grads[i], &mut s);
            guard::check([
                ("Adagrad: parameter after the update", w),
                ("Adagrad: sum", s),
            ])
        })
    }

    fn apply(&mut self, params: &mut [T; N], grads: &[T; N]) {
        self.steps += 1;
        dispatch(AdagradPass {
            k: AdagradStep::<T>::new(&self.config, self.steps),
            params,
            grads,
            sum: &mut self.sum[..],
        });
    }

    #[cfg(feature = "std")]
    fn apply_split(
        &mut self,
        params: &mut [T; N],
        grads: &[T; N],
        workers: &dyn Workers,
        maxima: Option<&guard::Maxima<1>>,
    ) {
        self.steps += 1;
        let k = AdagradStep::<T>::new(&self.config, self.steps);
        let sum = Chunks::new(&mut self.sum[..], workers.parts());
        let params = Chunks::new(params, workers.parts());
        super::run_chunks(workers, &params, grads, |i, params, grads| {
            let sum = sum.take(i);
            dispatch(AdagradPass {
                k,
                params,
                grads,
                sum,
            });
            if let Some(maxima) = maxima {
                maxima.record(0, sum);
            }
        });
    }

    fn measured_bounds(&self) -> [f64; 1] {
        [guard::measure(Some(&self.sum[..]))]
    }

    fn bounds_mut(&mut self) -> &mut guard::StateBounds<1> {
        &mut self.bounds
    }
}

impl<T: Scalar, const N: usize> Optimizer<T, N> for Adagrad<T, N> {
    guard::checked_steps!();

    fn learning_rate(&self) -> f64 {
        self.config.lr
    }

    fn set_learning_rate(&mut self, lr: f64) -> Result<()> {
        check_non_negative("Adagrad: lr", lr)?;
        self.config.lr = lr;
        Ok(())
    }

    fn steps(&self) -> u64 {
        self.steps
    }

    fn set_steps(&mut self, steps: u64) {
        self.steps = steps;
    }

    fn state_buffer_count(&self) -> usize {
        1
    }

    fn state_buffer(&self, index: usize) -> Option<(&'static str, &[T; N])> {
        super::nth_buffer([("sum", Some(&self.sum))], index)
    }

    fn state_buffer_mut(&mut self, index: usize) -> Option<(&'static str, &mut [T; N])> {
        self.bounds.forget();
        super::nth_buffer_mut([("sum", Some(&mut self.sum))], index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_and_initialises_the_sum() {
        let d = AdagradConfig::default();
        for bad in [
            AdagradConfig { lr: -1.0, ..d },
            AdagradConfig {
                lr_decay: -1.0,
                ..d
            },
            AdagradConfig {
                weight_decay: -1.0,
                ..d
            },
            AdagradConfig {
                initial_accumulator_value: -1.0,
                ..d
            },
            AdagradConfig { eps: -1.0, ..d },
        ] {
            assert!(Adagrad::<f64, 2>::new(bad).is_err(), "{bad:?}");
        }
        let ada = Adagrad::<f64, 2>::new(AdagradConfig {
            initial_accumulator_value: 0.25,
            ..d
        })
        .unwrap();
        assert_eq!(ada.state_buffer(0), Some(("sum", &[0.25, 0.25])));
    }
}
