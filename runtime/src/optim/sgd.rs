//! Stochastic gradient descent: plain, with (dampened) momentum, or Nesterov momentum, each with
//! optional L2 weight decay. PyTorch's `torch.optim.SGD`.

use super::{check_non_negative, check_range, guard, Optimizer};
#[cfg(feature = "std")]
use super::{Chunks, Workers};
#[cfg(feature = "std")]
use crate::kernels::simd::{dispatch, Simd};
use crate::{Buffer, Result, Scalar};

/// Hyper-parameters of [`Sgd`]; `Default` is PyTorch's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdConfig {
    /// Learning rate `gamma` (PyTorch default `1e-3`).
    pub lr: f64,
    /// Momentum factor `mu` (default 0: no momentum, no state).
    pub momentum: f64,
    /// Dampening `tau` of the gradient added to the velocity (default 0).
    pub dampening: f64,
    /// L2 penalty `lambda` (default 0): minimises `loss + lambda/2 * ||w||^2`.
    pub weight_decay: f64,
    /// Nesterov momentum (default false; needs `momentum > 0` and `dampening == 0`).
    pub nesterov: bool,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        }
    }
}

impl SgdConfig {
    /// Checks every field: PyTorch's rules (`lr`, `momentum`, `weight_decay >= 0`; Nesterov
    /// needs momentum and no dampening), all finite, and `dampening` in `[0, 1]` (PyTorch does
    /// not check it; outside that range the gradient would be amplified or reversed).
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] naming the first offending field.
    pub fn validate(&self) -> Result<()> {
        match self.first_invalid() {
            Some((name, value, expected)) => check_range(name, value, false, expected),
            None => Ok(()),
        }
    }

    /// The rules of [`Self::validate`] as a `const fn` (so that [`Sgd::new_static`] can check
    /// them at compile time): the first offending field as `(name, value, expected)`.
    const fn first_invalid(&self) -> Option<(&'static str, f64, &'static str)> {
        const NON_NEGATIVE: &str = "finite and >= 0";
        let fields = [
            ("SGD: lr", self.lr, NON_NEGATIVE, self.lr >= 0.0),
            (
                "SGD: momentum",
                self.momentum,
                NON_NEGATIVE,
                self.momentum >= 0.0,
            ),
            (
                "SGD: dampening",
                self.dampening,
                "in [0, 1]",
                self.dampening >= 0.0 && self.dampening <= 1.0,
            ),
            (
                "SGD: weight_decay",
                self.weight_decay,
                NON_NEGATIVE,
                self.weight_decay >= 0.0,
            ),
            (
                "SGD: momentum (nesterov)",
                self.momentum,
                "> 0 with nesterov",
                !self.nesterov || self.momentum > 0.0,
            ),
            (
                "SGD: dampening (nesterov)",
                self.dampening,
                "0 with nesterov",
                !self.nesterov || self.dampening == 0.0,
            ),
        ];
        let mut i = 0;
        while i < fields.len() {
            let (name, value, expected, ok) = fields[i];
            if !(ok && value.is_finite()) {
                return Some((name, value, expected));
            }
            i += 1;
        }
        None
    }
}

/// SGD over `N` parameters, with optional momentum (PyTorch's `torch.optim.SGD`).
///
/// # Update rule (PyTorch)
/// With learning rate `gamma`, momentum `mu`, dampening `tau`, weight decay `lambda`, at step
/// `t = 1, 2, ...`:
/// ```text
/// g_t = grad + lambda * w                        (L2 decay, if lambda != 0)
/// b_t = g_t                          if t = 1    (no dampening on the first step)
/// b_t = mu * b_{t-1} + (1 - tau) * g_t  if t > 1
/// d_t = g_t + mu * b_t               if nesterov, else  d_t = b_t   (mu != 0)
/// d_t = g_t                                      (mu == 0: no buffer)
/// w  <- w - gamma * d_t
/// ```
///
/// # Textbook form and mapping
/// - Weight decay is the gradient of `lambda * R(w)` with `R(w) = ||w||^2 / 2`, added to the
///   gradient before the momentum (coupled L2, as in PyTorch; see [`super::AdamW`] for the
///   decoupled kind).
/// - Polyak / Sutskever et al. (2013) momentum keeps the learning rate inside the velocity:
///   `v <- mu v - gamma g`, `w <- w + v`. PyTorch keeps it outside: `b <- mu b + g`,
///   `w <- w - gamma b`. With a constant `gamma`, `v = -gamma b` and the iterates are
///   identical; when a schedule changes `gamma`, PyTorch's form rescales the whole accumulated
///   velocity at once, Sutskever's only the new gradients.
/// - Nesterov: Sutskever's form evaluates the gradient at the look-ahead point `w + mu v`;
///   PyTorch uses the reparametrisation of Bengio et al. (2012) in which the stored `w` *is*
///   the look-ahead point, giving `w <- w - gamma (g + mu b)` with the gradient at `w`.
/// - Dampening `tau` scales the new gradient into the velocity (`tau = 1 - mu` gives an
///   exponential moving average); PyTorch skips it on the first step (`b_1 = g_1`).
///
/// # State
/// `momentum_buffer` (`b`, only when `momentum != 0`); steps counted for the first-step rule.
pub struct Sgd<T: Scalar, const N: usize> {
    config: SgdConfig,
    steps: u64,
    momentum_buffer: Option<Buffer<[T; N]>>,
    bounds: guard::StateBounds<1>,
}

impl<T: Scalar, const N: usize> Sgd<T, N> {
    /// A new optimizer with zeroed state (momentum buffer allocated only if `momentum != 0`).
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`], see [`SgdConfig::validate`].
    pub fn new(config: SgdConfig) -> Result<Self> {
        config.validate()?;
        Ok(Sgd {
            config,
            steps: 0,
            momentum_buffer: (config.momentum != 0.0).then(Buffer::zeroed),
            bounds: guard::StateBounds::zero(),
        })
    }

    /// [`Self::new`] as a `const fn`, for an optimizer in a `static` without a heap (only
    /// without feature `alloc`): the momentum buffer (`N` elements when `momentum != 0`) is
    /// then part of the value, so building it at run time would put it on the stack.
    ///
    /// ```
    /// # #[cfg(not(feature = "alloc"))]
    /// # {
    /// use monograd_runtime::optim::{Sgd, SgdConfig};
    /// static SGD: Sgd<f32, 1290> = match Sgd::new_static(SgdConfig {
    ///     lr: 0.05,
    ///     momentum: 0.9,
    ///     dampening: 0.0,
    ///     weight_decay: 0.0,
    ///     nesterov: false,
    /// }) {
    ///     Ok(sgd) => sgd,
    ///     Err(_) => panic!("invalid SGD configuration"), // a compile error, in a static
    /// };
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`], see [`SgdConfig::validate`].
    #[cfg(not(feature = "alloc"))]
    pub const fn new_static(config: SgdConfig) -> Result<Self> {
        if let Some((name, value, expected)) = config.first_invalid() {
            return Err(crate::Error::InvalidParameter {
                name,
                value,
                expected,
            });
        }
        Ok(Sgd {
            config,
            steps: 0,
            momentum_buffer: if config.momentum != 0.0 {
                Some(Buffer::ZEROED)
            } else {
                None
            },
            bounds: guard::StateBounds::zero(),
        })
    }

    /// The hyper-parameters (with the current learning rate).
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }
}

/// The per-step scalars of SGD in `T`, and the update of one element.
#[derive(Clone, Copy)]
struct SgdStep<T> {
    lr: T,
    weight_decay: Option<T>,
    mu: T,
    keep: T,
    first: bool,
    nesterov: bool,
}

impl<T: Scalar> SgdStep<T> {
    fn new(c: &SgdConfig, steps: u64) -> Self {
        SgdStep {
            lr: T::from_f64(c.lr),
            weight_decay: (c.weight_decay != 0.0).then(|| T::from_f64(c.weight_decay)),
            mu: T::from_f64(c.momentum),
            keep: T::from_f64(1.0 - c.dampening),
            first: steps == 0,
            nesterov: c.nesterov,
        }
    }

    /// Updates `params` (and, with momentum, their velocities) from `grads`, one loop per
    /// configuration: each copy of `self` in the arms below has its flags fixed, so that the
    /// loop inlining [`Self::update`] has no branch left and vectorizes.
    #[cfg(feature = "std")]
    #[inline(always)]
    fn pass(self, params: &mut [T], grads: &[T], velocity: Option<&mut [T]>) {
        let k = |nesterov: bool, weight_decay: Option<T>| SgdStep {
            nesterov,
            weight_decay,
            ..self
        };
        match (velocity, self.nesterov, self.weight_decay) {
            (None, _, None) => k(false, None).plain(params, grads),
            (None, _, Some(l)) => k(false, Some(l)).plain(params, grads),
            (Some(b), false, None) => k(false, None).momentum(params, grads, b),
            (Some(b), false, Some(l)) => k(false, Some(l)).momentum(params, grads, b),
            (Some(b), true, None) => k(true, None).momentum(params, grads, b),
            (Some(b), true, Some(l)) => k(true, Some(l)).momentum(params, grads, b),
        }
    }

    /// The loop of [`Self::pass`] without momentum.
    #[cfg(feature = "std")]
    #[inline(always)]
    fn plain(self, params: &mut [T], grads: &[T]) {
        for (w, &g) in params.iter_mut().zip(grads) {
            self.update(w, g, None);
        }
    }

    /// The loop of [`Self::pass`] with momentum.
    #[cfg(feature = "std")]
    #[inline(always)]
    fn momentum(self, params: &mut [T], grads: &[T], velocity: &mut [T]) {
        for ((w, &g), b) in params.iter_mut().zip(grads).zip(velocity.iter_mut()) {
            self.update(w, g, Some(b));
        }
    }

    /// Updates one weight and, with momentum, its velocity `b`.
    #[inline(always)]
    fn update(self, w: &mut T, g: T, b: Option<&mut T>) {
        let g = match self.weight_decay {
            Some(lambda) => g + lambda * *w,
            None => g,
        };
        let d = match b {
            None => g,
            Some(b) => {
                *b = if self.first {
                    g
                } else {
                    *b * self.mu + self.keep * g
                };
                if self.nesterov {
                    g + self.mu * *b
                } else {
                    *b
                }
            }
        };
        *w -= self.lr * d;
    }
}

/// One SGD update over every parameter ([`SgdStep::pass`]), compiled for the widest vector
/// instructions ([`dispatch`]).
#[cfg(feature = "std")]
struct SgdPass<'a, T> {
    k: SgdStep<T>,
    params: &'a mut [T],
    grads: &'a [T],
    velocity: Option<&'a mut [T]>,
}

#[cfg(feature = "std")]
impl<T: Scalar> Simd for SgdPass<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        self.k.pass(self.params, self.grads, self.velocity);
    }
}

impl<T: Scalar, const N: usize> guard::Guarded<T, N, 1> for Sgd<T, N> {
    /// Bounds on `|b|` after a step from `extents`, if every value the step writes is provably
    /// finite (see `guard`).
    fn proven_bounds(&self, extents: &guard::Extents) -> Option<[f64; 1]> {
        let c = &self.config;
        let [b] = self.bounds.get()?;
        let g = guard::slack::<T>(extents.grad + c.weight_decay * extents.param);
        let (b, d) = if self.momentum_buffer.is_some() {
            let b = if self.steps == 0 {
                g
            } else {
                guard::slack::<T>(c.momentum * b + (1.0 - c.dampening) * g)
            };
            let d = if c.nesterov {
                guard::slack::<T>(g + c.momentum * b)
            } else {
                b
            };
            (b, d)
        } else {
            (0.0, g)
        };
        let w = guard::slack::<T>(extents.param + c.lr * d);
        guard::all_below::<T>(&[g, b, d, w]).then_some([b])
    }

    /// The update without writing: the first value it would make non-finite.
    fn dry_run(&self, params: &[T; N], grads: &[T; N]) -> Result<()> {
        let k = SgdStep::<T>::new(&self.config, self.steps);
        let buffer = self.momentum_buffer.as_deref();
        guard::dry_run(N, |i| {
            // `get`, not indexing: `i < N` is not visible here, and a firmware links no panic.
            let (Some(&w), Some(&g)) = (params.get(i), grads.get(i)) else {
                return None;
            };
            let mut w = w;
            let mut b = buffer.and_then(|b| b.get(i).copied());
            k.update(&mut w, g, b.as_mut());
            guard::check([
                ("SGD: parameter after the update", w),
                ("SGD: momentum_buffer", b.unwrap_or_else(T::zero)),
            ])
        })
    }

    fn apply(&mut self, params: &mut [T; N], grads: &[T; N]) {
        let k = SgdStep::<T>::new(&self.config, self.steps);
        #[cfg(feature = "std")]
        dispatch(SgdPass {
            k,
            params,
            grads,
            velocity: self.momentum_buffer.as_deref_mut().map(|b| &mut b[..]),
        });
        // Without `std` there is no wider level to dispatch to, and the per-configuration
        // loops cost 1 KB more code on the Cortex-M4 firmware than these two over the arrays,
        // whose lengths are known (the flags' branches stay inside).
        #[cfg(not(feature = "std"))]
        match &mut self.momentum_buffer {
            None => {
                for (w, &g) in params.iter_mut().zip(grads) {
                    k.update(w, g, None);
                }
            }
            Some(velocity) => {
                for ((w, &g), b) in params.iter_mut().zip(grads).zip(velocity.iter_mut()) {
                    k.update(w, g, Some(b));
                }
            }
        }
        self.steps += 1;
    }

    #[cfg(feature = "std")]
    fn apply_split(
        &mut self,
        params: &mut [T; N],
        grads: &[T; N],
        workers: &dyn Workers,
        maxima: Option<&guard::Maxima<1>>,
    ) {
        let k = SgdStep::<T>::new(&self.config, self.steps);
        let parts = workers.parts();
        let velocity = self
            .momentum_buffer
            .as_deref_mut()
            .map(|b| Chunks::new(&mut b[..], parts));
        let params = Chunks::new(params, parts);
        super::run_chunks(workers, &params, grads, |i, params, grads| {
            let mut b = velocity.as_ref().map(|b| b.take(i));
            dispatch(SgdPass {
                k,
                params,
                grads,
                velocity: b.as_deref_mut(),
            });
            if let (Some(maxima), Some(b)) = (maxima, b) {
                maxima.record(0, b);
            }
        });
        self.steps += 1;
    }

    fn measured_bounds(&self) -> [f64; 1] {
        [guard::measure(
            self.momentum_buffer.as_deref().map(|b| &b[..]),
        )]
    }

    fn bounds_mut(&mut self) -> &mut guard::StateBounds<1> {
        &mut self.bounds
    }
}

impl<T: Scalar, const N: usize> Optimizer<T, N> for Sgd<T, N> {
    guard::checked_steps!();

    fn learning_rate(&self) -> f64 {
        self.config.lr
    }

    fn set_learning_rate(&mut self, lr: f64) -> Result<()> {
        check_non_negative("SGD: lr", lr)?;
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
        usize::from(self.momentum_buffer.is_some())
    }

    fn state_buffer(&self, index: usize) -> Option<(&'static str, &[T; N])> {
        super::nth_buffer([("momentum_buffer", self.momentum_buffer.as_ref())], index)
    }

    fn state_buffer_mut(&mut self, index: usize) -> Option<(&'static str, &mut [T; N])> {
        self.bounds.forget();
        super::nth_buffer_mut([("momentum_buffer", self.momentum_buffer.as_mut())], index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn rejects_what_pytorch_rejects() {
        let bad = |c: SgdConfig| Sgd::<f64, 3>::new(c).err();
        let d = SgdConfig::default();
        assert!(matches!(
            bad(SgdConfig { lr: -1.0, ..d }),
            Some(Error::InvalidParameter {
                name: "SGD: lr",
                ..
            })
        ));
        assert!(bad(SgdConfig {
            momentum: -0.1,
            ..d
        })
        .is_some());
        assert!(bad(SgdConfig {
            weight_decay: -0.1,
            ..d
        })
        .is_some());
        assert!(bad(SgdConfig {
            dampening: 1.5,
            ..d
        })
        .is_some());
        assert!(bad(SgdConfig {
            nesterov: true,
            ..d
        })
        .is_some());
        assert!(bad(SgdConfig {
            nesterov: true,
            momentum: 0.9,
            dampening: 0.1,
            ..d
        })
        .is_some());
        assert!(bad(SgdConfig { lr: f64::NAN, ..d }).is_some());
        let mut sgd = Sgd::<f64, 3>::new(d).unwrap();
        assert_eq!(sgd.state_buffer_count(), 0);
        assert!(sgd.set_learning_rate(-0.5).is_err());
        assert_eq!(sgd.learning_rate(), 1e-3);
    }

    #[cfg(not(feature = "alloc"))]
    #[test]
    fn new_static_is_new_at_compile_time() {
        const MOMENTUM: SgdConfig = SgdConfig {
            lr: 0.5,
            momentum: 0.5,
            dampening: 0.5,
            weight_decay: 0.0,
            nesterov: false,
        };
        // Evaluated by the compiler: the optimizer a `static` would hold.
        const STATIC: Option<Sgd<f64, 2>> = match Sgd::new_static(MOMENTUM) {
            Ok(sgd) => Some(sgd),
            Err(_) => None,
        };
        let Some(mut from_const) = STATIC else {
            panic!("a valid configuration")
        };
        let mut from_new = Sgd::<f64, 2>::new(MOMENTUM).unwrap();
        assert_eq!(from_const.state_buffer_count(), 1);
        assert_eq!(
            from_const.state_buffer(0),
            Some(("momentum_buffer", &[0.0, 0.0]))
        );
        let (mut a, mut b) = ([1.0, 2.0], [1.0, 2.0]);
        for _ in 0..3 {
            from_const.step(&mut a, &[2.0, -4.0]).unwrap();
            from_new.step(&mut b, &[2.0, -4.0]).unwrap();
        }
        assert_eq!(a, b);
        assert_eq!(from_const.steps(), 3);
        let plain = Sgd::<f32, 3>::new_static(SgdConfig::default()).ok();
        assert_eq!(plain.map(|s| s.state_buffer_count()), Some(0));
        // The same rules as `new`, the same error.
        let bad = SgdConfig {
            dampening: 1.5,
            ..MOMENTUM
        };
        assert_eq!(
            Sgd::<f32, 3>::new_static(bad).err(),
            Sgd::<f32, 3>::new(bad).err()
        );
        assert!(matches!(
            Sgd::<f32, 3>::new_static(bad),
            Err(Error::InvalidParameter {
                name: "SGD: dampening",
                ..
            })
        ));
    }

    #[test]
    fn first_momentum_step_is_undampened() {
        let mut sgd = Sgd::<f64, 2>::new(SgdConfig {
            lr: 0.5,
            momentum: 0.5,
            dampening: 0.5,
            ..SgdConfig::default()
        })
        .unwrap();
        let mut w = [1.0, 2.0];
        sgd.step(&mut w, &[2.0, -4.0]).unwrap();
        assert_eq!(w, [0.0, 4.0]);
        assert_eq!(sgd.state_buffer(0), Some(("momentum_buffer", &[2.0, -4.0])));
        sgd.step(&mut w, &[2.0, -4.0]).unwrap();
        // b = 0.5 * 2 + (1 - 0.5) * 2
        assert_eq!(sgd.state_buffer(0).unwrap().1[0], 2.0);
        assert_eq!(w[0], -1.0);
    }
}
