//! Adadelta: PyTorch's `torch.optim.Adadelta`.

use num_traits::Float;

use super::{check_non_negative, check_unit_closed, guard, Optimizer};
#[cfg(feature = "std")]
use super::{Chunks, Workers};
use crate::kernels::simd::{dispatch, Simd};
use crate::{Buffer, Result, Scalar};

/// Hyper-parameters of [`Adadelta`]; `Default` is PyTorch's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdadeltaConfig {
    /// Multiplier `gamma` of the computed update (default `1.0`, the paper's method).
    pub lr: f64,
    /// Decay `rho` of both running averages (default `0.9`).
    pub rho: f64,
    /// `eps`, added inside both square roots (default `1e-6`).
    pub eps: f64,
    /// L2 penalty `lambda` added to the gradient (default 0).
    pub weight_decay: f64,
}

impl Default for AdadeltaConfig {
    fn default() -> Self {
        AdadeltaConfig {
            lr: 1.0,
            rho: 0.9,
            eps: 1e-6,
            weight_decay: 0.0,
        }
    }
}

impl AdadeltaConfig {
    /// Checks every field with PyTorch's rules (`lr`, `eps`, `weight_decay >= 0`, `rho` in
    /// `[0, 1]`), all finite.
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] naming the first offending field.
    pub fn validate(&self) -> Result<()> {
        check_non_negative("Adadelta: lr", self.lr)?;
        check_unit_closed("Adadelta: rho", self.rho)?;
        check_non_negative("Adadelta: eps", self.eps)?;
        check_non_negative("Adadelta: weight_decay", self.weight_decay)
    }
}

/// Adadelta over `N` parameters (PyTorch's `torch.optim.Adadelta`).
///
/// # Update rule (PyTorch)
/// With multiplier `gamma`, decay `rho`, weight decay `lambda` (`v_0 = u_0 = 0`):
/// ```text
/// g_t     = grad + lambda * w
/// v_t     = rho v_{t-1} + (1 - rho) g_t^2
/// Delta_t = sqrt(u_{t-1} + eps) / sqrt(v_t + eps) * g_t   (computed as sqrt((u + eps) / (v + eps)) g_t)
/// u_t     = rho u_{t-1} + (1 - rho) Delta_t^2
/// w      <- w - gamma Delta_t
/// ```
///
/// # Textbook form and mapping
/// Zeiler (2012), Algorithm 1: `E[g^2]_t = rho E[g^2]_{t-1} + (1 - rho) g_t^2`,
/// `Delta x_t = -(RMS[Delta x]_{t-1} / RMS[g]_t) g_t` with `RMS[y] = sqrt(E[y^2] + eps)`,
/// `E[Delta x^2]_t = rho E[Delta x^2]_{t-1} + (1 - rho) Delta x_t^2`, `x <- x + Delta x_t`.
/// PyTorch is the same with `v = E[g^2]`, `u = E[Delta x^2]`, `eps` inside both roots, and an
/// extra multiplier `gamma` on the applied step only (the accumulated `u` stores the unscaled
/// `Delta`): `gamma = 1` is the paper's method, which has no learning rate.
///
/// # State
/// `square_avg` (`v`), `acc_delta` (`u`), in that order.
pub struct Adadelta<T: Scalar, const N: usize> {
    config: AdadeltaConfig,
    steps: u64,
    square_avg: Buffer<[T; N]>,
    acc_delta: Buffer<[T; N]>,
    bounds: guard::StateBounds<2>,
}

impl<T: Scalar, const N: usize> Adadelta<T, N> {
    /// A new optimizer with zeroed averages.
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`], see [`AdadeltaConfig::validate`].
    pub fn new(config: AdadeltaConfig) -> Result<Self> {
        config.validate()?;
        Ok(Adadelta {
            config,
            steps: 0,
            square_avg: Buffer::zeroed(),
            acc_delta: Buffer::zeroed(),
            bounds: guard::StateBounds::zero(),
        })
    }

    /// The hyper-parameters (with the current learning rate).
    pub fn config(&self) -> &AdadeltaConfig {
        &self.config
    }
}

/// The per-step scalars of Adadelta in `T`, and the update of one element.
#[derive(Clone, Copy)]
struct AdadeltaStep<T> {
    weight_decay: Option<T>,
    rho: T,
    one_minus_rho: T,
    eps: T,
    neg_lr: T,
}

impl<T: Scalar> AdadeltaStep<T> {
    fn new(c: &AdadeltaConfig) -> Self {
        AdadeltaStep {
            weight_decay: (c.weight_decay != 0.0).then(|| T::from_f64(c.weight_decay)),
            rho: T::from_f64(c.rho),
            one_minus_rho: T::from_f64(1.0 - c.rho),
            eps: T::from_f64(c.eps),
            neg_lr: T::from_f64(-c.lr),
        }
    }

    /// Updates one weight, its squared-gradient average `v` and squared-update average `u`.
    #[inline(always)]
    fn update(self, w: &mut T, g: T, v: &mut T, u: &mut T) {
        let g = match self.weight_decay {
            Some(lambda) => g + lambda * *w,
            None => g,
        };
        *v = *v * self.rho + self.one_minus_rho * g * g;
        // One root of the ratio rather than PyTorch's ratio of two roots (the same value
        // within a few roundings): square roots and divisions share one unit, which sets the
        // pace of this loop, and this saves a third of its work.
        let delta = ((*u + self.eps) / (*v + self.eps)).sqrt() * g;
        *u = *u * self.rho + self.one_minus_rho * delta * delta;
        *w += self.neg_lr * delta;
    }
}

/// One Adadelta update over every parameter, compiled for the widest vector instructions (a
/// square root and a division per element: compute-bound on the baseline).
struct AdadeltaPass<'a, T> {
    k: AdadeltaStep<T>,
    params: &'a mut [T],
    grads: &'a [T],
    square_avg: &'a mut [T],
    acc_delta: &'a mut [T],
}

impl<T: Scalar> Simd for AdadeltaPass<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        for (((w, &g), v), u) in self
            .params
            .iter_mut()
            .zip(self.grads)
            .zip(self.square_avg.iter_mut())
            .zip(self.acc_delta.iter_mut())
        {
            self.k.update(w, g, v, u);
        }
    }
}

impl<T: Scalar, const N: usize> guard::Guarded<T, N, 2> for Adadelta<T, N> {
    /// Bounds on `square_avg` and `acc_delta` after a step from `extents`, if every value the
    /// step writes is provably finite (see `guard`).
    fn proven_bounds(&self, extents: &guard::Extents) -> Option<[f64; 2]> {
        let c = &self.config;
        let [v, u] = self.bounds.get()?;
        if c.eps <= 0.0 {
            return None; // 0 / 0 for a zero gradient on zero averages
        }
        let g = guard::slack::<T>(extents.grad + c.weight_decay * extents.param);
        let v_new = guard::slack::<T>(c.rho * v + (1.0 - c.rho) * g * g);
        // The denominator v + eps is at least eps.
        let ratio = guard::slack::<T>((u + c.eps) / c.eps);
        let delta = guard::slack::<T>(Float::sqrt(ratio) * g);
        let u_new = guard::slack::<T>(c.rho * u + (1.0 - c.rho) * delta * delta);
        let w_new = guard::slack::<T>(extents.param + c.lr * delta);
        guard::all_below::<T>(&[
            g,
            g * g,
            v_new + c.eps,
            u + c.eps,
            ratio,
            delta,
            delta * delta,
            u_new,
            w_new,
        ])
        .then_some([v_new, u_new])
    }

    /// The update without writing: the first value it would make non-finite.
    fn dry_run(&self, params: &[T; N], grads: &[T; N]) -> Result<()> {
        let k = AdadeltaStep::<T>::new(&self.config);
        guard::dry_run(N, |i| {
            let (mut w, mut v, mut u) = (params[i], self.square_avg[i], self.acc_delta[i]);
            k.update(&mut w, grads[i], &mut v, &mut u);
            guard::check([
                ("Adadelta: parameter after the update", w),
                ("Adadelta: square_avg", v),
                ("Adadelta: acc_delta", u),
            ])
        })
    }

    fn apply(&mut self, params: &mut [T; N], grads: &[T; N]) {
        dispatch(AdadeltaPass {
            k: AdadeltaStep::<T>::new(&self.config),
            params,
            grads,
            square_avg: &mut self.square_avg[..],
            acc_delta: &mut self.acc_delta[..],
        });
        self.steps += 1;
    }

    #[cfg(feature = "std")]
    fn apply_split(
        &mut self,
        params: &mut [T; N],
        grads: &[T; N],
        workers: &dyn Workers,
        maxima: Option<&guard::Maxima<2>>,
    ) {
        let k = AdadeltaStep::<T>::new(&self.config);
        let parts = workers.parts();
        let square_avg = Chunks::new(&mut self.square_avg[..], parts);
        let acc_delta = Chunks::new(&mut self.acc_delta[..], parts);
        let params = Chunks::new(params, parts);
        super::run_chunks(workers, &params, grads, |i, params, grads| {
            let (v, u) = (square_avg.take(i), acc_delta.take(i));
            dispatch(AdadeltaPass {
                k,
                params,
                grads,
                square_avg: v,
                acc_delta: u,
            });
            if let Some(maxima) = maxima {
                maxima.record(0, v);
                maxima.record(1, u);
            }
        });
        self.steps += 1;
    }

    fn measured_bounds(&self) -> [f64; 2] {
        [
            guard::measure(Some(&self.square_avg[..])),
            guard::measure(Some(&self.acc_delta[..])),
        ]
    }

    fn bounds_mut(&mut self) -> &mut guard::StateBounds<2> {
        &mut self.bounds
    }
}

impl<T: Scalar, const N: usize> Optimizer<T, N> for Adadelta<T, N> {
    guard::checked_steps!();

    fn learning_rate(&self) -> f64 {
        self.config.lr
    }

    fn set_learning_rate(&mut self, lr: f64) -> Result<()> {
        check_non_negative("Adadelta: lr", lr)?;
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
        2
    }

    fn state_buffer(&self, index: usize) -> Option<(&'static str, &[T; N])> {
        super::nth_buffer(
            [
                ("square_avg", Some(&self.square_avg)),
                ("acc_delta", Some(&self.acc_delta)),
            ],
            index,
        )
    }

    fn state_buffer_mut(&mut self, index: usize) -> Option<(&'static str, &mut [T; N])> {
        self.bounds.forget();
        super::nth_buffer_mut(
            [
                ("square_avg", Some(&mut self.square_avg)),
                ("acc_delta", Some(&mut self.acc_delta)),
            ],
            index,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates() {
        let d = AdadeltaConfig::default();
        for bad in [
            AdadeltaConfig { lr: -1.0, ..d },
            AdadeltaConfig { rho: 1.1, ..d },
            AdadeltaConfig { eps: -1.0, ..d },
            AdadeltaConfig {
                weight_decay: -1.0,
                ..d
            },
        ] {
            assert!(Adadelta::<f64, 2>::new(bad).is_err(), "{bad:?}");
        }
        assert!(Adadelta::<f64, 2>::new(AdadeltaConfig { rho: 1.0, ..d }).is_ok());
    }
}
