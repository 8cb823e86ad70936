//! RMSProp (plain, centered, with momentum): PyTorch's `torch.optim.RMSprop`.

use num_traits::Float;

use super::{check_non_negative, check_unit_closed, guard, Lerp, Optimizer};
#[cfg(feature = "std")]
use super::{Chunks, Workers};
use crate::kernels::simd::{dispatch, Simd};
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
    bounds: guard::StateBounds<3>,
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

    /// The gradient with weight decay.
    #[inline(always)]
    fn decayed(self, w: T, grad: T) -> T {
        match self.weight_decay {
            Some(lambda) => grad + lambda * w,
            None => grad,
        }
    }

    /// Centered RMSprop's estimate of the variance, `v - mean^2`, from the new averages.
    #[inline(always)]
    fn variance(v: T, mean: T) -> T {
        v - mean * mean
    }

    /// Updates one parameter; `buf` and `mean` are the momentum and centering state, if kept.
    #[inline(always)]
    fn update(self, w: &mut T, grad: T, v: &mut T, buf: Option<&mut T>, mean: Option<&mut T>) {
        let g = self.decayed(*w, grad);
        *v = *v * self.alpha + self.one_minus_alpha * g * g;
        let rms = match mean {
            Some(mean) => {
                *mean = self.mean.apply(*mean, g);
                Self::variance(*v, *mean).sqrt()
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
            bounds: guard::StateBounds::zero(),
        })
    }

    /// The hyper-parameters (with the current learning rate).
    pub fn config(&self) -> &RmsPropConfig {
        &self.config
    }
}

/// One RMSprop update over every parameter, compiled for the widest vector instructions (a
/// square root and a division per element: compute-bound on the baseline).
struct RmsPropPass<'a, T> {
    k: RmsPropStep<T>,
    params: &'a mut [T],
    grads: &'a [T],
    square_avg: &'a mut [T],
    momentum_buffer: Option<&'a mut [T]>,
    grad_avg: Option<&'a mut [T]>,
}

impl<T: Scalar> Simd for RmsPropPass<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let base = self
            .params
            .iter_mut()
            .zip(self.grads)
            .zip(self.square_avg.iter_mut());
        // One loop per buffer combination, so that each loop zips only existing buffers.
        match (self.momentum_buffer, self.grad_avg) {
            (None, None) => {
                for ((w, &g), v) in base {
                    self.k.update(w, g, v, None, None);
                }
            }
            (Some(buf), None) => {
                for (((w, &g), v), b) in base.zip(buf.iter_mut()) {
                    self.k.update(w, g, v, Some(b), None);
                }
            }
            (None, Some(mean)) => {
                for (((w, &g), v), m) in base.zip(mean.iter_mut()) {
                    self.k.update(w, g, v, None, Some(m));
                }
            }
            (Some(buf), Some(mean)) => {
                for ((((w, &g), v), b), m) in base.zip(buf.iter_mut()).zip(mean.iter_mut()) {
                    self.k.update(w, g, v, Some(b), Some(m));
                }
            }
        }
    }
}

/// Whether every element's new `v - mean^2` is `>= 0` (not NaN) for centered RMSprop: the
/// update's averages computed as [`RmsPropStep::update`] computes them (bit for bit), without
/// its root and division, nor writing; compiled for the widest vector instructions.
struct VarianceScan<'a, T> {
    k: RmsPropStep<T>,
    params: &'a [T],
    grads: &'a [T],
    square_avg: &'a [T],
    grad_avg: &'a [T],
}

impl<T: Scalar> Simd for VarianceScan<'_, T> {
    type Output = bool;
    #[inline(always)]
    fn run(self) -> bool {
        let k = self.k;
        let zero = T::zero();
        // Whether each value is `>= 0`, kept per lane across the loop (a select per value) and
        // combined at the end: no early exit, so that the loop vectorizes, and no `bool`
        // reduction, which LLVM packed lane by lane (a `vpackssdw` and an `and` per vector).
        let variance_ok = |w: T, grad: T, v: T, mean: T| {
            let g = k.decayed(w, grad);
            let v = v * k.alpha + k.one_minus_alpha * g * g;
            let mean = k.mean.apply(mean, g);
            RmsPropStep::variance(v, mean) >= zero
        };
        let (w, w_rest) = self.params.as_chunks::<SCAN_LANES>();
        let (g, g_rest) = self.grads.as_chunks::<SCAN_LANES>();
        let (v, v_rest) = self.square_avg.as_chunks::<SCAN_LANES>();
        let (m, m_rest) = self.grad_avg.as_chunks::<SCAN_LANES>();
        let mut lanes = [T::one(); SCAN_LANES];
        for (((w, g), v), m) in w.iter().zip(g).zip(v).zip(m) {
            for (l, lane) in lanes.iter_mut().enumerate() {
                *lane = if variance_ok(w[l], g[l], v[l], m[l]) {
                    *lane
                } else {
                    zero
                };
            }
        }
        let rest = w_rest.iter().zip(g_rest).zip(v_rest).zip(m_rest);
        let rest_ok = rest.fold(true, |ok, (((&w, &g), &v), &m)| {
            ok & variance_ok(w, g, v, m)
        });
        rest_ok & lanes.iter().all(|&l| l == T::one())
    }
}

/// Lanes of [`VarianceScan`]'s running result: one 256-bit vector of `f32`.
const SCAN_LANES: usize = 8;

impl<T: Scalar, const N: usize> guard::Guarded<T, N, 3> for RmsProp<T, N> {
    /// Bounds on `square_avg`, `|momentum_buffer|` and `|grad_avg|` after a step from
    /// `extents`, if every value the step writes is provably finite (see `guard`). Centered
    /// RMSprop's `sqrt(square_avg - grad_avg^2)` takes the square root of a difference that
    /// rounding can make negative (PyTorch then produces NaN): [`Self::proven_by_scan`]
    /// checks it; when it is `>= 0`, the root is at most `sqrt(v)` and the denominator at
    /// least `eps`, as without centering.
    fn proven_bounds(&self, extents: &guard::Extents) -> Option<[f64; 3]> {
        let c = &self.config;
        let [v, b, mean] = self.bounds.get()?;
        if c.eps <= 0.0 {
            return None;
        }
        let g = guard::slack::<T>(extents.grad + c.weight_decay * extents.param);
        let v_new = guard::slack::<T>(c.alpha * v + (1.0 - c.alpha) * g * g);
        let rms = guard::slack::<T>(Float::sqrt(v_new) + c.eps);
        // The denominator is at least eps.
        let ratio = guard::slack::<T>(g / c.eps);
        let b_new = if self.momentum_buffer.is_some() {
            guard::slack::<T>(c.momentum * b + ratio)
        } else {
            0.0
        };
        let step = guard::slack::<T>(c.lr * ratio.max(b_new));
        let w_new = guard::slack::<T>(extents.param + step);
        // A moving average stays within its inputs; its `end - start` within twice that.
        let mean_new = if c.centered {
            guard::slack::<T>(mean.max(g))
        } else {
            0.0
        };
        guard::all_below::<T>(&[
            g,
            g * g,
            v_new,
            rms,
            ratio,
            b_new,
            step,
            w_new,
            2.0 * mean_new,
            mean_new * mean_new,
        ])
        .then_some([v_new, b_new, mean_new])
    }

    fn proven_by_scan(&self, params: &[T; N], grads: &[T; N]) -> bool {
        match self.grad_avg.as_deref() {
            None => true,
            Some(grad_avg) => dispatch(VarianceScan {
                k: RmsPropStep::<T>::new(&self.config),
                params,
                grads,
                square_avg: &self.square_avg[..],
                grad_avg: &grad_avg[..],
            }),
        }
    }

    /// The update without writing: the first value it would make non-finite.
    fn dry_run(&self, params: &[T; N], grads: &[T; N]) -> Result<()> {
        let k = RmsPropStep::<T>::new(&self.config);
        let (buf, mean) = (self.momentum_buffer.as_deref(), self.grad_avg.as_deref());
        guard::dry_run(N, |i| {
            let (mut w, mut v) = (params[i], self.square_avg[i]);
            let (mut b, mut m) = (buf.map(|x| x[i]), mean.map(|x| x[i]));
            k.update(&mut w, grads[i], &mut v, b.as_mut(), m.as_mut());
            guard::check([
                ("RMSprop: parameter after the update", w),
                ("RMSprop: square_avg", v),
                ("RMSprop: momentum_buffer", b.unwrap_or_else(T::zero)),
                ("RMSprop: grad_avg", m.unwrap_or_else(T::zero)),
            ])
        })
    }

    fn apply(&mut self, params: &mut [T; N], grads: &[T; N]) {
        dispatch(RmsPropPass {
            k: RmsPropStep::<T>::new(&self.config),
            params,
            grads,
            square_avg: &mut self.square_avg[..],
            momentum_buffer: self.momentum_buffer.as_deref_mut().map(|b| &mut b[..]),
            grad_avg: self.grad_avg.as_deref_mut().map(|b| &mut b[..]),
        });
        self.steps += 1;
    }

    #[cfg(feature = "std")]
    fn apply_split(
        &mut self,
        params: &mut [T; N],
        grads: &[T; N],
        workers: &dyn Workers,
        maxima: Option<&guard::Maxima<3>>,
    ) {
        let k = RmsPropStep::<T>::new(&self.config);
        let parts = workers.parts();
        let square_avg = Chunks::new(&mut self.square_avg[..], parts);
        let momentum_buffer = self
            .momentum_buffer
            .as_deref_mut()
            .map(|b| Chunks::new(&mut b[..], parts));
        let grad_avg = self
            .grad_avg
            .as_deref_mut()
            .map(|b| Chunks::new(&mut b[..], parts));
        let params = Chunks::new(params, parts);
        super::run_chunks(workers, &params, grads, |i, params, grads| {
            let v = square_avg.take(i);
            let mut b = momentum_buffer.as_ref().map(|b| b.take(i));
            let mut mean = grad_avg.as_ref().map(|b| b.take(i));
            dispatch(RmsPropPass {
                k,
                params,
                grads,
                square_avg: v,
                momentum_buffer: b.as_deref_mut(),
                grad_avg: mean.as_deref_mut(),
            });
            if let Some(maxima) = maxima {
                maxima.record(0, v);
                if let Some(b) = b {
                    maxima.record(1, b);
                }
                if let Some(mean) = mean {
                    maxima.record(2, mean);
                }
            }
        });
        self.steps += 1;
    }

    fn measured_bounds(&self) -> [f64; 3] {
        [
            guard::measure(Some(&self.square_avg[..])),
            guard::measure(self.momentum_buffer.as_deref().map(|b| &b[..])),
            guard::measure(self.grad_avg.as_deref().map(|b| &b[..])),
        ]
    }

    fn bounds_mut(&mut self) -> &mut guard::StateBounds<3> {
        &mut self.bounds
    }
}

impl<T: Scalar, const N: usize> Optimizer<T, N> for RmsProp<T, N> {
    guard::checked_steps!();

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
        self.bounds.forget();
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
    use crate::Error;

    #[test]
    fn a_negative_centered_variance_is_an_error_on_the_proven_path_too() {
        // Averages that no sequence of gradients gives (v < mean^2), with bounds that let
        // the maxima prove everything else: only the scan of `v - mean^2` catches the NaN.
        let mut rms = RmsProp::<f32, 5>::new(RmsPropConfig {
            centered: true,
            ..RmsPropConfig::default()
        })
        .unwrap();
        rms.state_buffer_mut(0).unwrap().1.fill(0.25);
        rms.state_buffer_mut(1).unwrap().1[3] = 1.0;
        guard::Guarded::bounds_mut(&mut rms).set([0.25, 0.0, 1.0]);
        let mut w = [1.0f32; 5];
        let g = [0.0f32; 5];
        assert!(guard::Guarded::proven_bounds(
            &rms,
            &guard::GradientScan::of(&w, &g).extents(&g).unwrap()
        )
        .is_some());
        assert!(!guard::Guarded::proven_by_scan(&rms, &w, &g));
        match rms.step(&mut w, &g) {
            Err(Error::NonFiniteValue { index: 3, .. }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(w, [1.0; 5]);
        assert_eq!(rms.state_buffer(0).unwrap().1, &[0.25; 5]);
        assert_eq!(rms.steps(), 0);
        // Consistent averages pass the scan, and the step takes the one-pass path.
        rms.state_buffer_mut(1).unwrap().1[3] = 0.5;
        guard::Guarded::bounds_mut(&mut rms).set([0.25, 0.0, 0.5]);
        assert!(guard::Guarded::proven_by_scan(&rms, &w, &g));
        rms.step(&mut w, &g).unwrap();
        assert!(w.iter().all(|x| x.is_finite()));
    }

    /// The scan of `v - mean^2` finds a negative (or NaN) difference at every position: in
    /// each lane of the vectorized chunks and in the leftover values.
    #[test]
    fn the_variance_scan_finds_a_negative_difference_anywhere() {
        const N: usize = 37;
        let mut rms = RmsProp::<f32, N>::new(RmsPropConfig {
            centered: true,
            ..RmsPropConfig::default()
        })
        .unwrap();
        let (w, g) = ([1.0f32; N], [0.0f32; N]);
        rms.state_buffer_mut(0).unwrap().1.fill(0.25);
        rms.state_buffer_mut(1).unwrap().1.fill(0.5);
        assert!(guard::Guarded::proven_by_scan(&rms, &w, &g), "consistent");
        for bad in [1.0, f32::NAN] {
            for p in 0..N {
                rms.state_buffer_mut(1).unwrap().1[p] = bad;
                assert!(
                    !guard::Guarded::proven_by_scan(&rms, &w, &g),
                    "{bad} at {p}"
                );
                rms.state_buffer_mut(1).unwrap().1[p] = 0.5;
            }
        }
    }

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
