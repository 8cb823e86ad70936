//! RMSProp (plain, centered, with momentum): PyTorch's `torch.optim.RMSprop`.

use super::{check_non_negative, check_unit_closed, Lerp, Optimizer};
use crate::{Buffer, Result, Scalar};

/// Hyper-parameters of [`RmsProp`]; `Default` is PyTorch's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsPropConfig {
    /// Learning rate `gamma` (default `1e-2`).
    pub lr: f64,
    /// Smoothing constant `alpha` of the averages (default `0.99`).
    pub alpha: f64,
    /// `eps`, added outside the square root (default `1e-8`).
    pub eps: f64,
    /// L2 penalty `lambda` added to the gradient (default 0).
    pub weight_decay: f64,
    /// Momentum `mu` (default 0: no momentum buffer).
    pub momentum: f64,
    /// Centered: normalise by an estimate of the variance instead of the second moment
    /// (default false).
    pub centered: bool,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        RmsPropConfig {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
        }
    }
}

impl RmsPropConfig {
    /// Checks every field with PyTorch's rules (`lr`, `eps`, `weight_decay`, `momentum >= 0`),
    /// all finite, and `alpha` in `[0, 1]` (PyTorch only checks `alpha >= 0`; above 1 the
    /// average of squares turns negative and its root NaN).
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] naming the first offending field.
    pub fn validate(&self) -> Result<()> {
        check_non_negative("RMSprop: lr", self.lr)?;
        check_non_negative("RMSprop: eps", self.eps)?;
        check_non_negative("RMSprop: momentum", self.momentum)?;
        check_non_negative("RMSprop: weight_decay", self.weight_decay)?;
        check_unit_closed("RMSprop: alpha", self.alpha)
    }
}

/// RMSProp over `N` parameters (PyTorch's `torch.optim.RMSprop`).
///
/// # Update rule (PyTorch)
/// With learning rate `gamma`, smoothing `alpha`, momentum `mu`, weight decay `lambda`
/// (`v_0 = gbar_0 = b_0 = 0`):
/// ```text
/// g_t    = grad + lambda * w
/// v_t    = alpha v_{t-1} + (1 - alpha) g_t^2
/// gbar_t = gbar_{t-1} + (1 - alpha) (g_t - gbar_{t-1})          (centered)
/// r_t    = sqrt(v_t - gbar_t^2) + eps   (centered)   or   sqrt(v_t) + eps
/// b_t    = mu b_{t-1} + g_t / r_t,  w <- w - gamma b_t           (mu > 0)
/// w     <- w - gamma g_t / r_t                                    (mu = 0)
/// ```
///
/// # Textbook form and mapping
/// Hinton's lecture 6e: `v <- alpha v + (1 - alpha) g^2`, `w <- w - eta g / sqrt(v)`; PyTorch
/// adds `eps` outside the root. Centered RMSProp is Graves (2013), eq. 38-40:
/// `Delta <- mu Delta - eta g / sqrt(v - gbar^2 + eps)`, `w <- w + Delta`. PyTorch's `eps` sits
/// outside the root, and its momentum buffer holds the normalised gradient without the learning
/// rate (`Delta = -gamma b` for a constant rate, as with SGD's momentum). The averages start at
/// zero and are not bias-corrected, so the first steps are large (`|g| / sqrt(1 - alpha)`).
///
/// # State
/// `square_avg` (`v`), `momentum_buffer` (`b`, only when `momentum > 0`), `grad_avg` (`gbar`,
/// only when `centered`), in that order (PyTorch's `state_dict` order).
pub struct RmsProp<T: Scalar, const N: usize> {
    config: RmsPropConfig,
    steps: u64,
    square_avg: Buffer<[T; N]>,
    momentum_buffer: Option<Buffer<[T; N]>>,
    grad_avg: Option<Buffer<[T; N]>>,
}

/// The per-step scalars of RMSProp in `T`.
#[derive(Clone, Copy)]
struct RmsPropStep<T> {
    weight_decay: Option<T>,
    alpha: T,
    one_minus_alpha: T,
    mean: Lerp<T>,
    eps: T,
    momentum: T,
    neg_lr: T,
}

impl<T: Scalar> RmsPropStep<T> {
    fn new(c: &RmsPropConfig) -> Self {
        RmsPropStep {
            weight_decay: (c.weight_decay != 0.0).then(|| T::from_f64(c.weight_decay)),
            alpha: T::from_f64(c.alpha),
            one_minus_alpha: T::from_f64(1.0 - c.alpha),
            mean: Lerp::new(1.0 - c.alpha),
            eps: T::from_f64(c.eps),
            momentum: T::from_f64(c.momentum),
            neg_lr: T::from_f64(-c.lr),
        }
    }

    /// Updates one parameter; `buf` and `mean` are the momentum and centering state, if kept.
    #[inline(always)]
    fn update(self, w: &mut T, grad: T, v: &mut T, buf: Option<&mut T>, mean: Option<&mut T>) {
        let g = match self.weight_decay {
            Some(lambda) => grad + lambda * *w,
            None => grad,
        };
        *v = *v * self.alpha + self.one_minus_alpha * g * g;
        let rms = match mean {
            Some(mean) => {
                *mean = self.mean.apply(*mean, g);
                (*v - *mean * *mean).sqrt()
            }
            None => v.sqrt(),
        } + self.eps;
        match buf {
            Some(b) => {
                *b = *b * self.momentum + g / rms;
                *w += self.neg_lr * *b;
            }
            None => *w += self.neg_lr * g / rms,
        }
    }
}

impl<T: Scalar, const N: usize> RmsProp<T, N> {
    /// A new optimizer with zeroed state (optional buffers allocated only when configured).
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`], see [`RmsPropConfig::validate`].
    pub fn new(config: RmsPropConfig) -> Result<Self> {
        config.validate()?;
        Ok(RmsProp {
            config,
            steps: 0,
            square_avg: Buffer::zeroed(),
            momentum_buffer: (config.momentum > 0.0).then(Buffer::zeroed),
            grad_avg: config.centered.then(Buffer::zeroed),
        })
    }

    /// The hyper-parameters (with the current learning rate).
    pub fn config(&self) -> &RmsPropConfig {
        &self.config
    }
}

impl<T: Scalar, const N: usize> Optimizer<T, N> for RmsProp<T, N> {
    fn step(&mut self, params: &mut [T; N], grads: &[T; N]) {
        let k = RmsPropStep::<T>::new(&self.config);
        let base = params.iter_mut().zip(grads).zip(self.square_avg.iter_mut());
        // One loop per buffer combination, so that each loop zips only existing buffers.
        match (&mut self.momentum_buffer, &mut self.grad_avg) {
            (None, None) => {
                for ((w, &g), v) in base {
                    k.update(w, g, v, None, None);
                }
            }
            (Some(buf), None) => {
                for (((w, &g), v), b) in base.zip(buf.iter_mut()) {
                    k.update(w, g, v, Some(b), None);
                }
            }
            (None, Some(mean)) => {
                for (((w, &g), v), m) in base.zip(mean.iter_mut()) {
                    k.update(w, g, v, None, Some(m));
                }
            }
            (Some(buf), Some(mean)) => {
                for ((((w, &g), v), b), m) in base.zip(buf.iter_mut()).zip(mean.iter_mut()) {
                    k.update(w, g, v, Some(b), Some(m));
                }
            }
        }
        self.steps += 1;
    }

    fn learning_rate(&self) -> f64 {
        self.config.lr
    }

    fn set_learning_rate(&mut self, lr: f64) -> Result<()> {
        check_non_negative("RMSprop: lr", lr)?;
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
        1 + usize::from(self.momentum_buffer.is_some()) + usize::from(self.grad_avg.is_some())
    }

    fn state_buffer(&self, index: usize) -> Option<(&'static str, &[T; N])> {
        super::nth_buffer(
            [
                ("square_avg", Some(&self.square_avg)),
                ("momentum_buffer", self.momentum_buffer.as_ref()),
                ("grad_avg", self.grad_avg.as_ref()),
            ],
            index,
        )
    }

    fn state_buffer_mut(&mut self, index: usize) -> Option<(&'static str, &mut [T; N])> {
        super::nth_buffer_mut(
            [
                ("square_avg", Some(&mut self.square_avg)),
                ("momentum_buffer", self.momentum_buffer.as_mut()),
                ("grad_avg", self.grad_avg.as_mut()),
            ],
            index,
        )
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn validates_and_allocates_only_configured_buffers() {
        let d = RmsPropConfig::default();
        for bad in [
            RmsPropConfig { lr: -1.0, ..d },
            RmsPropConfig { eps: -1.0, ..d },
            RmsPropConfig {
                momentum: -1.0,
                ..d
            },
            RmsPropConfig {
                weight_decay: -1.0,
                ..d
            },
            RmsPropConfig { alpha: -0.1, ..d },
            RmsPropConfig { alpha: 1.5, ..d },
        ] {
            assert!(RmsProp::<f32, 2>::new(bad).is_err(), "{bad:?}");
        }
        let names = |c: RmsPropConfig| {
            let r = RmsProp::<f32, 2>::new(c).unwrap();
            (0..r.state_buffer_count())
                .map(|i| r.state_buffer(i).unwrap().0)
                .collect::<std::vec::Vec<_>>()
        };
        assert_eq!(names(d), ["square_avg"]);
        assert_eq!(
            names(RmsPropConfig {
                momentum: 0.9,
                centered: true,
                ..d
            }),
            ["square_avg", "momentum_buffer", "grad_avg"]
        );
        assert_eq!(
            names(RmsPropConfig {
                centered: true,
                ..d
            }),
            ["square_avg", "grad_avg"]
        );
    }
}
