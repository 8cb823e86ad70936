//! Adam (with AMSGrad and L2 or decoupled weight decay) and AdamW: PyTorch's `torch.optim.Adam`
//! and `torch.optim.AdamW`.

use num_traits::Float;

use super::{check_non_negative, check_unit_open, guard, Lerp, Optimizer};
#[cfg(feature = "std")]
use super::{Chunks, Workers};
use crate::kernels::simd::{dispatch, Simd};
use crate::{Buffer, Result, Scalar};

/// Hyper-parameters of [`Adam`]; `Default` is PyTorch's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    /// Learning rate `gamma` (default `1e-3`).
    pub lr: f64,
    /// Decay rates `(beta1, beta2)` of the first and second moment averages (default
    /// `(0.9, 0.999)`).
    pub betas: (f64, f64),
    /// `eps`, added to the bias-corrected root mean square, outside the root (default `1e-8`).
    pub eps: f64,
    /// Weight decay `lambda` (default 0): L2 added to the gradient, or decoupled (below).
    pub weight_decay: f64,
    /// AMSGrad: normalise by the running maximum of the second moment (default false).
    pub amsgrad: bool,
    /// Decoupled weight decay, `w <- w (1 - gamma lambda)` before the step, i.e. AdamW (default
    /// false, as PyTorch's `Adam(decoupled_weight_decay=False)`).
    pub decoupled_weight_decay: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            decoupled_weight_decay: false,
        }
    }
}

impl AdamConfig {
    /// Checks every field with PyTorch's rules (`lr`, `eps`, `weight_decay >= 0`, each beta in
    /// `[0, 1)`), all finite.
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] naming the first offending field.
    pub fn validate(&self) -> Result<()> {
        check_non_negative("Adam: lr", self.lr)?;
        check_non_negative("Adam: eps", self.eps)?;
        check_unit_open("Adam: betas.0", self.betas.0)?;
        check_unit_open("Adam: betas.1", self.betas.1)?;
        check_non_negative("Adam: weight_decay", self.weight_decay)
    }
}

/// Adam over `N` parameters (PyTorch's `torch.optim.Adam`).
///
/// # Update rule (PyTorch)
/// With learning rate `gamma`, betas `b1, b2`, weight decay `lambda`, at step `t = 1, 2, ...`
/// (`m_0 = v_0 = 0`):
/// ```text
/// g_t  = grad + lambda * w              (L2; or, decoupled: w <- w * (1 - gamma lambda), g_t = grad)
/// m_t  = m_{t-1} + (1 - b1) (g_t - m_{t-1})       = b1 m_{t-1} + (1 - b1) g_t
/// v_t  = b2 v_{t-1} + (1 - b2) g_t^2
/// vmax_t = max(vmax_{t-1}, v_t)         (AMSGrad; then vmax_t replaces v_t below)
/// w   <- w - (gamma / (1 - b1^t)) * m_t / (sqrt(v_t) / sqrt(1 - b2^t) + eps)
/// ```
///
/// # Textbook form and mapping
/// Kingma & Ba (2015), Algorithm 1: `m_hat = m_t / (1 - b1^t)`, `v_hat = v_t / (1 - b2^t)`,
/// `w <- w - alpha m_hat / (sqrt(v_hat) + eps)`. PyTorch's rule is the same expression with the
/// two bias corrections moved out of the element-wise part (`alpha = gamma`); `eps` stays
/// outside the root and is added *after* the bias correction, as in the paper's Algorithm 1
/// (the paper's "efficient" variant, used by TensorFlow, adds an `eps_hat` to the uncorrected
/// `sqrt(v_t)` instead: `eps_hat = eps sqrt(1 - b2^t)`). AMSGrad (Reddi et al. 2018) replaces
/// `v_t` by its running maximum; PyTorch bias-corrects that maximum with `1 - b2^t` too.
/// Weight decay is L2 (`lambda/2 ||w||^2` added to the loss, so `lambda w` to the gradient),
/// which Adam rescales per coordinate; [`AdamW`] decouples it.
///
/// # State
/// `exp_avg` (`m`), `exp_avg_sq` (`v`), `max_exp_avg_sq` (`vmax`, only with `amsgrad`), in that
/// order; the step counter `t` drives the bias corrections.
pub struct Adam<T: Scalar, const N: usize> {
    config: AdamConfig,
    steps: u64,
    exp_avg: Buffer<[T; N]>,
    exp_avg_sq: Buffer<[T; N]>,
    max_exp_avg_sq: Option<Buffer<[T; N]>>,
    bounds: guard::StateBounds<3>,
}

/// The per-step scalars of Adam, computed in `f64` once per step and rounded to `T`.
#[derive(Clone, Copy)]
struct AdamStep<T> {
    coupled_decay: Option<T>,
    decoupled_factor: Option<T>,
    first_moment: Lerp<T>,
    beta2: T,
    one_minus_beta2: T,
    /// `1 / sqrt(1 - beta2^t)`: a multiplication per parameter instead of PyTorch's division
    /// by `sqrt(1 - beta2^t)` (within one rounding of it; divisions set Adam's time).
    inv_bias_correction2_sqrt: T,
    eps: T,
    neg_step_size: T,
}

impl<T: Scalar> AdamStep<T> {
    fn new(c: &AdamConfig, step: u64) -> Self {
        let (beta1, beta2) = c.betas;
        let t = step as f64;
        let bias_correction1 = 1.0 - Float::powf(beta1, t);
        let bias_correction2 = 1.0 - Float::powf(beta2, t);
        let decay = c.weight_decay != 0.0;
        AdamStep {
            coupled_decay: (decay && !c.decoupled_weight_decay)
                .then(|| T::from_f64(c.weight_decay)),
            decoupled_factor: (decay && c.decoupled_weight_decay)
                .then(|| T::from_f64(1.0 - c.lr * c.weight_decay)),
            first_moment: Lerp::new(1.0 - beta1),
            beta2: T::from_f64(beta2),
            one_minus_beta2: T::from_f64(1.0 - beta2),
            inv_bias_correction2_sqrt: T::from_f64(1.0 / Float::sqrt(bias_correction2)),
            eps: T::from_f64(c.eps),
            neg_step_size: T::from_f64(-(c.lr / bias_correction1)),
        }
    }

    /// Updates one parameter and its moments; `max_v` is the AMSGrad maximum, if kept.
    #[inline(always)]
    fn update(self, w: &mut T, grad: T, m: &mut T, v: &mut T, max_v: Option<&mut T>) {
        let g = match self.coupled_decay {
            Some(lambda) => grad + lambda * *w,
            None => grad,
        };
        if let Some(factor) = self.decoupled_factor {
            *w *= factor;
        }
        *m = self.first_moment.apply(*m, g);
        *v = *v * self.beta2 + self.one_minus_beta2 * g * g;
        let second = match max_v {
            Some(max_v) => {
                // The larger as the integer maximum of the bits of `|max_v|` and `|v|` (both
                // `>= 0`: sums of squares): a NaN of either propagates, as `torch.maximum`'s.
                // Written as a select of the old value, the maximum became a masked store
                // (`vmaskmovps`), which took AMSGrad's step from Adam's 128 to 235 us on Zen 3.
                *max_v = T::from_abs_bits(T::abs_bits(*max_v).max(T::abs_bits(*v)));
                *max_v
            }
            None => *v,
        };
        let denom = second.sqrt() * self.inv_bias_correction2_sqrt + self.eps;
        *w += self.neg_step_size * *m / denom;
    }
}

/// One Adam update over every parameter, compiled for the widest vector instructions
/// ([`dispatch`]).
struct AdamPass<'a, T> {
    k: AdamStep<T>,
    params: &'a mut [T],
    grads: &'a [T],
    exp_avg: &'a mut [T],
    exp_avg_sq: &'a mut [T],
    max_exp_avg_sq: Option<&'a mut [T]>,
}

impl<T: Scalar> Simd for AdamPass<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let k = self.k;
        let moments = self
            .params
            .iter_mut()
            .zip(self.grads)
            .zip(self.exp_avg.iter_mut())
            .zip(self.exp_avg_sq.iter_mut());
        match self.max_exp_avg_sq {
            None => {
                for (((w, &g), m), v) in moments {
                    k.update(w, g, m, v, None);
                }
            }
            Some(max_v) => {
                for ((((w, &g), m), v), max_v) in moments.zip(max_v.iter_mut()) {
                    k.update(w, g, m, v, Some(max_v));
                }
            }
        }
    }
}

impl<T: Scalar, const N: usize> Adam<T, N> {
    /// A new optimizer with zeroed moments (`max_exp_avg_sq` allocated only with `amsgrad`).
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`], see [`AdamConfig::validate`].
    pub fn new(config: AdamConfig) -> Result<Self> {
        config.validate()?;
        Ok(Adam {
            config,
            steps: 0,
            exp_avg: Buffer::zeroed(),
            exp_avg_sq: Buffer::zeroed(),
            max_exp_avg_sq: config.amsgrad.then(Buffer::zeroed),
            bounds: guard::StateBounds::zero(),
        })
    }

    /// The hyper-parameters (with the current learning rate).
    pub fn config(&self) -> &AdamConfig {
        &self.config
    }
}

impl<T: Scalar, const N: usize> guard::Guarded<T, N, 3> for Adam<T, N> {
    /// Bounds on `|m|`, `v` and `vmax` after a step from `extents`, if every value the step
    /// writes is provably finite (see `guard`).
    fn proven_bounds(&self, extents: &guard::Extents) -> Option<[f64; 3]> {
        let c = &self.config;
        let [m, v, v_max] = self.bounds.get()?;
        if c.eps <= 0.0 {
            return None; // 0 / 0 where a moment and its square are both zero
        }
        let (beta1, beta2) = c.betas;
        let t = (self.steps + 1) as f64;
        let decoupled = c.decoupled_weight_decay;
        let g = if decoupled {
            extents.grad
        } else {
            guard::slack::<T>(extents.grad + c.weight_decay * extents.param)
        };
        let w = if decoupled {
            guard::slack::<T>(extents.param * (1.0 - c.lr * c.weight_decay).abs())
        } else {
            extents.param
        };
        // A moving average stays within its inputs; its `end - start` within twice that.
        let m_new = guard::slack::<T>(m.max(g));
        let v_new = guard::slack::<T>(beta2 * v + (1.0 - beta2) * g * g);
        let v_max_new = if c.amsgrad { v_max.max(v_new) } else { 0.0 };
        let second = v_new.max(v_max_new);
        let bias_correction2_sqrt = Float::sqrt(1.0 - Float::powf(beta2, t));
        let root = guard::slack::<T>(Float::sqrt(second) / bias_correction2_sqrt + c.eps);
        // The denominator is at least eps.
        let step = guard::slack::<T>(c.lr / (1.0 - Float::powf(beta1, t)) * m_new / c.eps);
        let w_new = guard::slack::<T>(w + step);
        guard::all_below::<T>(&[g, w, 2.0 * m_new, g * g, v_new, root, step, w_new])
            .then_some([m_new, v_new, v_max_new])
    }

    /// The update without writing: the first value it would make non-finite.
    fn dry_run(&self, params: &[T; N], grads: &[T; N]) -> Result<()> {
        let k = AdamStep::<T>::new(&self.config, self.steps + 1);
        let max_v = self.max_exp_avg_sq.as_deref();
        guard::dry_run(N, |i| {
            let (mut w, mut m, mut v) = (params[i], self.exp_avg[i], self.exp_avg_sq[i]);
            let mut v_max = max_v.map(|b| b[i]);
            k.update(&mut w, grads[i], &mut m, &mut v, v_max.as_mut());
            guard::check([
                ("Adam: parameter after the update", w),
                ("Adam: exp_avg", m),
                ("Adam: exp_avg_sq", v),
                ("Adam: max_exp_avg_sq", v_max.unwrap_or_else(T::zero)),
            ])
        })
    }

    fn apply(&mut self, params: &mut [T; N], grads: &[T; N]) {
        self.steps += 1;
        dispatch(AdamPass {
            k: AdamStep::<T>::new(&self.config, self.steps),
            params,
            grads,
            exp_avg: &mut self.exp_avg[..],
            exp_avg_sq: &mut self.exp_avg_sq[..],
            max_exp_avg_sq: self.max_exp_avg_sq.as_deref_mut().map(|b| &mut b[..]),
        });
    }

    #[cfg(feature = "std")]
    fn apply_split(
        &mut self,
        params: &mut [T; N],
        grads: &[T; N],
        workers: &dyn Workers,
        maxima: Option<&guard::Maxima<3>>,
    ) {
        self.steps += 1;
        let k = AdamStep::<T>::new(&self.config, self.steps);
        let parts = workers.parts();
        let exp_avg = Chunks::new(&mut self.exp_avg[..], parts);
        let exp_avg_sq = Chunks::new(&mut self.exp_avg_sq[..], parts);
        let max_exp_avg_sq = self
            .max_exp_avg_sq
            .as_deref_mut()
            .map(|b| Chunks::new(&mut b[..], parts));
        let params = Chunks::new(params, parts);
        super::run_chunks(workers, &params, grads, |i, params, grads| {
            let (m, v) = (exp_avg.take(i), exp_avg_sq.take(i));
            let mut v_max = max_exp_avg_sq.as_ref().map(|b| b.take(i));
            dispatch(AdamPass {
                k,
                params,
                grads,
                exp_avg: m,
                exp_avg_sq: v,
                max_exp_avg_sq: v_max.as_deref_mut(),
            });
            if let Some(maxima) = maxima {
                maxima.record(0, m);
                maxima.record(1, v);
                if let Some(v_max) = v_max {
                    maxima.record(2, v_max);
                }
            }
        });
    }

    fn measured_bounds(&self) -> [f64; 3] {
        [
            guard::measure(Some(&self.exp_avg[..])),
            guard::measure(Some(&self.exp_avg_sq[..])),
            guard::measure(self.max_exp_avg_sq.as_deref().map(|b| &b[..])),
        ]
    }

    fn bounds_mut(&mut self) -> &mut guard::StateBounds<3> {
        &mut self.bounds
    }
}

impl<T: Scalar, const N: usize> Optimizer<T, N> for Adam<T, N> {
    guard::checked_steps!();

    fn learning_rate(&self) -> f64 {
        self.config.lr
    }

    fn set_learning_rate(&mut self, lr: f64) -> Result<()> {
        check_non_negative("Adam: lr", lr)?;
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
        2 + usize::from(self.max_exp_avg_sq.is_some())
    }

    fn state_buffer(&self, index: usize) -> Option<(&'static str, &[T; N])> {
        super::nth_buffer(
            [
                ("exp_avg", Some(&self.exp_avg)),
                ("exp_avg_sq", Some(&self.exp_avg_sq)),
                ("max_exp_avg_sq", self.max_exp_avg_sq.as_ref()),
            ],
            index,
        )
    }

    fn state_buffer_mut(&mut self, index: usize) -> Option<(&'static str, &mut [T; N])> {
        self.bounds.forget();
        super::nth_buffer_mut(
            [
                ("exp_avg", Some(&mut self.exp_avg)),
                ("exp_avg_sq", Some(&mut self.exp_avg_sq)),
                ("max_exp_avg_sq", self.max_exp_avg_sq.as_mut()),
            ],
            index,
        )
    }
}

/// Hyper-parameters of [`AdamW`]; `Default` is PyTorch's defaults (as Adam's, but weight decay
/// `1e-2`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWConfig {
    /// Learning rate `gamma` (default `1e-3`).
    pub lr: f64,
    /// `(beta1, beta2)` (default `(0.9, 0.999)`).
    pub betas: (f64, f64),
    /// `eps`, outside the root (default `1e-8`).
    pub eps: f64,
    /// Decoupled weight decay `lambda` (default `1e-2`): `w <- w (1 - gamma lambda)` per step.
    pub weight_decay: f64,
    /// AMSGrad (default false).
    pub amsgrad: bool,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 1e-2,
            amsgrad: false,
        }
    }
}

impl From<AdamWConfig> for AdamConfig {
    fn from(c: AdamWConfig) -> Self {
        AdamConfig {
            lr: c.lr,
            betas: c.betas,
            eps: c.eps,
            weight_decay: c.weight_decay,
            amsgrad: c.amsgrad,
            decoupled_weight_decay: true,
        }
    }
}

/// AdamW over `N` parameters (PyTorch's `torch.optim.AdamW`): [`Adam`] with decoupled weight
/// decay.
///
/// # Update rule (PyTorch)
/// ```text
/// w <- w * (1 - gamma lambda)
/// then Adam's step (moments, bias corrections, eps, AMSGrad) with the raw gradient.
/// ```
///
/// # Textbook form and mapping
/// Loshchilov & Hutter (2019): `w <- w - eta_t (alpha m_hat / (sqrt(v_hat) + eps) + lambda' w)`
/// with a schedule multiplier `eta_t` and a decay `lambda'` independent of `alpha`. PyTorch ties
/// the decay to the learning rate: its per-step shrink is `gamma_t lambda`, so
/// `lambda' = gamma lambda / alpha` for a fixed base rate, and a schedule on `gamma` scales the
/// decay as the paper's `eta_t` does. The decay is applied to `w` before the Adam update (which
/// does not read `w`), so the order does not matter.
///
/// # State
/// As [`Adam`]: `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq` (with `amsgrad`).
pub struct AdamW<T: Scalar, const N: usize> {
    inner: Adam<T, N>,
}

impl<T: Scalar, const N: usize> AdamW<T, N> {
    /// A new optimizer with zeroed moments.
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] as for [`Adam`] (names say `Adam:`).
    pub fn new(config: AdamWConfig) -> Result<Self> {
        Ok(AdamW {
            inner: Adam::new(config.into())?,
        })
    }

    /// The hyper-parameters as the equivalent [`AdamConfig`] (`decoupled_weight_decay` set).
    pub fn config(&self) -> &AdamConfig {
        self.inner.config()
    }
}

impl<T: Scalar, const N: usize> Optimizer<T, N> for AdamW<T, N> {
    #[inline]
    fn step(&mut self, params: &mut [T; N], grads: &[T; N]) -> Result<()> {
        self.inner.step(params, grads)
    }
    #[inline]
    fn step_scanned(
        &mut self,
        params: &mut [T; N],
        grads: &[T; N],
        scan: &guard::GradientScan,
    ) -> Result<()> {
        self.inner.step_scanned(params, grads, scan)
    }
    #[cfg(feature = "std")]
    #[inline]
    fn step_split(
        &mut self,
        params: &mut [T; N],
        grads: &[T; N],
        scan: &guard::GradientScan,
        workers: &dyn Workers,
    ) -> Result<()> {
        self.inner.step_split(params, grads, scan, workers)
    }
    fn learning_rate(&self) -> f64 {
        self.inner.learning_rate()
    }
    fn set_learning_rate(&mut self, lr: f64) -> Result<()> {
        self.inner.set_learning_rate(lr)
    }
    fn steps(&self) -> u64 {
        self.inner.steps()
    }
    fn set_steps(&mut self, steps: u64) {
        self.inner.set_steps(steps);
    }
    fn state_buffer_count(&self) -> usize {
        self.inner.state_buffer_count()
    }
    fn state_buffer(&self, index: usize) -> Option<(&'static str, &[T; N])> {
        self.inner.state_buffer(index)
    }
    fn state_buffer_mut(&mut self, index: usize) -> Option<(&'static str, &mut [T; N])> {
        self.inner.state_buffer_mut(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    /// AMSGrad's running maximum of the second moment, as `torch.maximum`: the larger of the old
    /// maximum and the new `v` (either way round, equal values and zeros), NaN from either.
    #[test]
    fn amsgrad_keeps_the_maximum_and_propagates_nan() {
        let config = AdamConfig {
            amsgrad: true,
            ..AdamConfig::default()
        };
        let k = AdamStep::<f32>::new(&config, 1);
        let max_after = |old_max: f32, v_before: f32, g: f32| {
            let (mut w, mut m, mut v, mut max_v) = (1.0f32, 0.0f32, v_before, old_max);
            k.update(&mut w, g, &mut m, &mut v, Some(&mut max_v));
            (max_v, v)
        };
        // The new v is 0.999 v + 0.001 g^2.
        let (max_v, v) = max_after(0.5, 0.25, 1.0);
        assert_eq!(
            max_v.to_bits(),
            0.5f32.to_bits(),
            "old maximum larger (v = {v})"
        );
        let (max_v, v) = max_after(0.1, 0.25, 1.0);
        assert_eq!(max_v.to_bits(), v.to_bits(), "new v larger");
        let (max_v, v) = max_after(0.0, 0.0, 0.0);
        assert!(
            max_v == 0.0 && v == 0.0 && max_v.is_sign_positive(),
            "zeros"
        );
        assert!(max_after(f32::NAN, 0.25, 1.0).0.is_nan(), "NaN maximum");
        assert!(max_after(0.5, f32::NAN, 1.0).0.is_nan(), "NaN v");
        assert!(max_after(0.5, 0.25, f32::NAN).0.is_nan(), "NaN gradient");
    }

    #[test]
    fn rejects_what_pytorch_rejects() {
        let bad = |c: AdamConfig| Adam::<f32, 4>::new(c).err();
        let d = AdamConfig::default();
        assert!(bad(AdamConfig { lr: -1.0, ..d }).is_some());
        assert!(bad(AdamConfig { eps: -1e-8, ..d }).is_some());
        assert!(matches!(
            bad(AdamConfig {
                betas: (1.0, 0.999),
                ..d
            }),
            Some(Error::InvalidParameter {
                name: "Adam: betas.0",
                ..
            })
        ));
        assert!(bad(AdamConfig {
            betas: (0.9, -0.1),
            ..d
        })
        .is_some());
        assert!(bad(AdamConfig {
            weight_decay: -1.0,
            ..d
        })
        .is_some());
        assert!(AdamW::<f32, 4>::new(AdamWConfig {
            weight_decay: f64::INFINITY,
            ..AdamWConfig::default()
        })
        .is_err());
    }

    #[test]
    fn first_step_moves_each_weight_by_lr() {
        // With m_1 = (1-b1) g and v_1 = (1-b2) g^2 the bias-corrected ratio is sign(g) (for
        // |g| >> eps): the first step is -lr * sign(g).
        let mut adam = Adam::<f64, 3>::new(AdamConfig {
            lr: 0.1,
            ..AdamConfig::default()
        })
        .unwrap();
        let mut w = [1.0, 1.0, 1.0];
        adam.step(&mut w, &[3.0, -0.5, 0.0]).unwrap();
        assert!((w[0] - 0.9).abs() < 1e-7 && (w[1] - 1.1).abs() < 1e-7 && w[2] == 1.0);
        assert_eq!(adam.steps(), 1);
        assert_eq!(adam.state_buffer_count(), 2);
        assert_eq!(adam.state_buffer(1).unwrap().0, "exp_avg_sq");
        assert!(adam.state_buffer(2).is_none());
    }
}
