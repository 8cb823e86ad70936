//! Transactional optimizer steps: `Ok` means every parameter and optimizer state value is
//! finite, `Err` means nothing changed.
//!
//! A step cannot undo what it has written, and keeping a copy of the old values would add a
//! third of an optimizer's memory traffic. So each step decides *before* writing:
//!
//! 1. [`GradientScan::of`] reads the gradient and the parameters once, in one loop
//!    (`kernels::reduce::max_abs_pair`, on the widest vector instructions of the CPU; the
//!    gradient, just written by the backward pass, is mostly in cache). A non-finite gradient is
//!    an error naming its index; otherwise it gives `max |g|` and `max |w|`. The scan of a
//!    buffer is the combination of its chunks' scans: a data-parallel step has each thread scan
//!    the chunk of the gradient it sums, and the optimizer starts at step 2
//!    ([`step_scanned`]).
//! 2. The optimizer bounds, in `f64`, the magnitude of every value its update can write, from
//!    those maxima and from [`StateBounds`]: one upper bound per state buffer, carried from step
//!    to step by the same recurrences as the buffers (`|m_t| <= max(|m_{t-1}|, |g_t|)` for a
//!    moving average, ...). When every bound is below [`finite_limit`] (the overflow threshold
//!    with a wide margin for rounding) and no denominator can reach zero, the update is finite
//!    by construction and runs in its single pass.
//!    A condition that no maximum decides, centered RMSprop's difference of squares
//!    `v - mean^2` (non-negative in exact arithmetic, but rounding can make it negative and its
//!    root NaN), is checked by a vectorized pass that computes only that difference, exactly
//!    as the update will ([`Guarded::proven_by_scan`]).
//! 3. Otherwise (a zero `eps`, an enormous learning rate, values near overflow, a negative
//!    difference of squares) the update first runs as a dry run into locals; the first
//!    non-finite value is reported ([`Error::NonFiniteValue`]) and nothing is written. Only when
//!    there is none does the real pass run, and the state bounds are then measured exactly.
//!
//! The bounds are loose (for Adam, `|update| <= lr / (1 - beta1^t) * max|m| / eps`), but
//! overflow is far: `f32` holds 3.4e38. Normal training always takes the one-pass path.
//!
//! # Why the scan reads the parameters too
//! Reading only the gradient would halve the check's traffic, with `max |w|` measured while the
//! previous step wrote the parameters (as the state's maxima can be). That is sound for the
//! state buffers, which only the optimizer writes ([`super::Optimizer::state_buffer_mut`]
//! makes it forget its bounds), but not for the parameters: they are the caller's
//! (`params_mut`, loading weights, one optimizer stepping several arrays), and a NaN or a value
//! near overflow written there between two steps would reach every optimizer's update (`w +
//! step`, weight decay's `lambda w`) and leave a non-finite parameter behind an `Ok`. Nothing
//! cheaper than reading them tells the optimizer they did not change, so the scan reads them.
//!
//! # Where the time goes
//! The scan is a read of `2 N` values at the memory's pace. The update of an optimizer without
//! roots or divisions (SGD) then streams at the memory's pace too; one with a square root and a
//! division per parameter (Adam, AdamW, AMSGrad, Adagrad, RMSprop, Adadelta) is bound by the
//! unit that computes both, which on current x86 cores is slower than the memory for `f32`
//! (Zen 4: about 64 us for 235k parameters, against about 50 us to stream Adam's `7 N`
//! values; `cargo bench --bench workloads -- optim` prints both). Both are correctly rounded
//! IEEE operations, so that every instruction-set level and every split of the update gives
//! the same bits: approximations (`rsqrt` and Newton steps) would be faster but not exact.

use crate::{Error, Result, Scalar};

/// Largest magnitudes of a step's inputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Extents {
    /// `max |g|` over the gradient (finite).
    pub grad: f64,
    /// `max |w|` over the parameters (may be non-finite if the caller put NaN in them).
    pub param: f64,
}

/// What the check phase of an optimizer step reads from the gradient and the parameters:
/// their largest magnitudes and whether each is all finite. A scan of a whole buffer is the
/// [`combine`](Self::combine) of the scans of its chunks, in any order and with the same bits,
/// so that the threads of a data-parallel step can each scan the chunk of the gradient they
/// sum, and the optimizer then only writes ([`Optimizer::step_scanned`](super::Optimizer::step_scanned)).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradientScan {
    grad: f64,
    grad_finite: bool,
    param: f64,
    param_finite: bool,
}

impl GradientScan {
    /// The scan of nothing: what [`combine`](Self::combine) starts from.
    pub const EMPTY: GradientScan = GradientScan {
        grad: 0.0,
        grad_finite: true,
        param: 0.0,
        param_finite: true,
    };

    /// Reads `params` and `grads` (two chunks at the same offsets) once, on the widest vector
    /// instructions of the CPU.
    pub fn of<T: Scalar>(params: &[T], grads: &[T]) -> Self {
        let ((grad, grad_finite), (param, param_finite)) =
            crate::kernels::reduce::max_abs_pair(grads, params);
        GradientScan {
            grad: Scalar::to_f64(grad),
            grad_finite,
            param: Scalar::to_f64(param),
            param_finite,
        }
    }

    /// The scan of two chunks together.
    #[must_use]
    pub fn combine(self, other: GradientScan) -> Self {
        GradientScan {
            grad: self.grad.max(other.grad),
            grad_finite: self.grad_finite && other.grad_finite,
            param: self.param.max(other.param),
            param_finite: self.param_finite && other.param_finite,
        }
    }

    /// The extents of the step, or the error naming the first non-finite gradient of
    /// `grads` (the buffer this scan read).
    pub(crate) fn extents<T: Scalar>(self, grads: &[T]) -> Result<Extents> {
        if !self.grad_finite {
            return Err(first_non_finite("gradient", grads));
        }
        Ok(Extents {
            grad: self.grad,
            param: if self.param_finite {
                self.param
            } else {
                f64::INFINITY
            },
        })
    }
}

/// `(max |x|, all finite)`, widened to `f64`.
pub(crate) fn max_abs<T: Scalar>(values: &[T]) -> (f64, bool) {
    let (max, finite) = crate::kernels::reduce::max_abs(values);
    (Scalar::to_f64(max), finite)
}

/// [`Error::NonFiniteValue`] for the first non-finite element of `values` (called on failure
/// only; `values` must have one).
pub(crate) fn first_non_finite<T: Scalar>(what: &'static str, values: &[T]) -> Error {
    let (index, value) = values
        .iter()
        .enumerate()
        .find(|(_, v)| !v.is_finite())
        .map_or((0, f64::NAN), |(i, v)| (i, Scalar::to_f64(*v)));
    Error::NonFiniteValue {
        what,
        tensor: "",
        index,
        value,
    }
}

/// The largest magnitude a bound may reach for the one-pass path: far enough below `T`'s
/// overflow threshold that the rounding of the few operations of an update (each within a
/// factor `1 + eps` of the exact value) cannot cross it.
pub(crate) fn finite_limit<T: Scalar>() -> f64 {
    Scalar::to_f64(T::max_value()) / 16.0
}

/// Rounding slack applied to each bound: a handful of operations, each within `1 + eps`.
pub(crate) fn slack<T: Scalar>(bound: f64) -> f64 {
    bound * (1.0 + 64.0 * Scalar::to_f64(T::epsilon()))
}

/// Upper bounds on `|value|` of each of an optimizer's `K` state buffers, or unknown (after a
/// restore through [`super::Optimizer::state_buffer_mut`], until a step measures them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct StateBounds<const K: usize> {
    bounds: Option<[f64; K]>,
}

impl<const K: usize> StateBounds<K> {
    /// Bounds of zeroed buffers.
    pub(crate) const fn zero() -> Self {
        StateBounds {
            bounds: Some([0.0; K]),
        }
    }

    /// The buffers may hold anything (they were handed out mutably).
    pub(crate) fn forget(&mut self) {
        self.bounds = None;
    }

    /// The current bounds, if known.
    pub(crate) fn get(&self) -> Option<[f64; K]> {
        self.bounds
    }

    /// Sets the bounds (after a step).
    pub(crate) fn set(&mut self, bounds: [f64; K]) {
        self.bounds = Some(bounds);
    }
}

/// Whether every bound is finite and below [`finite_limit`].
pub(crate) fn all_below<T: Scalar>(bounds: &[f64]) -> bool {
    let limit = finite_limit::<T>();
    bounds.iter().all(|&b| b <= limit)
}

/// What an optimizer provides to [`step`], which runs the transaction.
pub(crate) trait Guarded<T: Scalar, const N: usize, const K: usize> {
    /// Bounds on the `K` state buffers after a step from `extents`, if every value the step
    /// writes is provably finite.
    fn proven_bounds(&self, extents: &Extents) -> Option<[f64; K]>;
    /// What else `proven_bounds`' proof needs that only a pass over the values decides
    /// (without writing, and without the divisions and roots of the update): `true` if it
    /// holds. [`step`] asks only after `proven_bounds` gave bounds. By default there is
    /// nothing to check.
    fn proven_by_scan(&self, params: &[T; N], grads: &[T; N]) -> bool {
        let _ = (params, grads);
        true
    }
    /// The update without writing: the first value it would make non-finite.
    fn dry_run(&self, params: &[T; N], grads: &[T; N]) -> Result<()>;
    /// The update (and the step counter).
    fn apply(&mut self, params: &mut [T; N], grads: &[T; N]);
    /// The update split in chunks run by `workers` (see
    /// [`Optimizer::step_split`](super::Optimizer::step_split)), the same bits as `apply`;
    /// each chunk records the largest magnitude it wrote in each state buffer into `maxima`,
    /// when given, right after writing it (so that it reads the chunk from cache).
    #[cfg(feature = "std")]
    fn apply_split(
        &mut self,
        params: &mut [T; N],
        grads: &[T; N],
        workers: &dyn super::Workers,
        maxima: Option<&Maxima<K>>,
    );
    /// The largest magnitude in each state buffer, measured (0 for a buffer not kept).
    fn measured_bounds(&self) -> [f64; K];
    /// Where the bounds are kept.
    fn bounds_mut(&mut self) -> &mut StateBounds<K>;
}

/// One transactional step of `optimizer` (see the module docs): the scan, then the one-pass
/// update when it is provably finite, else the dry run and then the update.
pub(crate) fn step<T: Scalar, const N: usize, const K: usize, O: Guarded<T, N, K>>(
    optimizer: &mut O,
    params: &mut [T; N],
    grads: &[T; N],
) -> Result<()> {
    step_scanned(optimizer, params, grads, GradientScan::of(params, grads))
}

/// [`step`] after its scan (the check phase's reading of `params` and `grads`, done by the
/// caller, perhaps by chunks on several threads).
pub(crate) fn step_scanned<T: Scalar, const N: usize, const K: usize, O: Guarded<T, N, K>>(
    optimizer: &mut O,
    params: &mut [T; N],
    grads: &[T; N],
    scan: GradientScan,
) -> Result<()> {
    transaction(optimizer, params, grads, scan, |o, p, g, measure| {
        #[cfg(feature = "std")]
        if measure {
            // In blocks that stay in cache between their update and their measurement.
            let maxima = Maxima::new();
            o.apply_split(p, g, &InBlocks::of(N), Some(&maxima));
            return Some(maxima.get());
        }
        o.apply(p, g);
        measure.then(|| o.measured_bounds())
    })
}

/// [`step_scanned`] with the writes split across `workers` ([`Guarded::apply_split`]); the
/// check runs on the calling thread before any of them.
#[cfg(feature = "std")]
pub(crate) fn step_split<T: Scalar, const N: usize, const K: usize, O: Guarded<T, N, K>>(
    optimizer: &mut O,
    params: &mut [T; N],
    grads: &[T; N],
    scan: GradientScan,
    workers: &dyn super::Workers,
) -> Result<()> {
    transaction(optimizer, params, grads, scan, |o, p, g, measure| {
        let maxima = measure.then(Maxima::new);
        o.apply_split(p, g, workers, maxima.as_ref());
        maxima.map(|m| m.get())
    })
}

/// The [`Optimizer`](super::Optimizer) methods of a [`Guarded`] optimizer, the same for each:
/// `step`, `step_scanned` and `step_split` are [`step`], [`step_scanned`] and [`step_split`].
/// Used inside `impl Optimizer<T, N> for ...`.
macro_rules! checked_steps {
    () => {
        fn step(&mut self, params: &mut [T; N], grads: &[T; N]) -> $crate::Result<()> {
            guard::step(self, params, grads)
        }

        fn step_scanned(
            &mut self,
            params: &mut [T; N],
            grads: &[T; N],
            scan: &guard::GradientScan,
        ) -> $crate::Result<()> {
            guard::step_scanned(self, params, grads, *scan)
        }

        #[cfg(feature = "std")]
        fn step_split(
            &mut self,
            params: &mut [T; N],
            grads: &[T; N],
            scan: &guard::GradientScan,
            workers: &dyn $crate::optim::Workers,
        ) -> $crate::Result<()> {
            guard::step_split(self, params, grads, *scan, workers)
        }
    };
}
pub(crate) use checked_steps;

/// The check from `scan`, then `apply` (the one-pass path, or the dry run first); `apply`'s
/// flag asks for the state buffers' largest magnitudes after the update (the new bounds when
/// the proven ones are not available).
fn transaction<T: Scalar, const N: usize, const K: usize, O: Guarded<T, N, K>>(
    optimizer: &mut O,
    params: &mut [T; N],
    grads: &[T; N],
    scan: GradientScan,
    apply: impl FnOnce(&mut O, &mut [T; N], &[T; N], bool) -> Option<[f64; K]>,
) -> Result<()> {
    let extents = scan.extents(grads)?;
    let proven = optimizer
        .proven_bounds(&extents)
        .filter(|_| optimizer.proven_by_scan(params, grads));
    let bounds = match proven {
        Some(bounds) => {
            apply(optimizer, params, grads, false);
            bounds
        }
        None => {
            optimizer.dry_run(params, grads)?;
            match apply(optimizer, params, grads, true) {
                Some(measured) => measured,
                None => optimizer.measured_bounds(),
            }
        }
    };
    optimizer.bounds_mut().set(bounds);
    Ok(())
}

/// The largest magnitude in each of `K` state buffers, gathered chunk by chunk, from any
/// threads: an `f64 >= 0` orders as its bits do, so each is an atomic maximum of bits.
#[cfg(feature = "std")]
pub(crate) struct Maxima<const K: usize>([core::sync::atomic::AtomicU64; K]);

#[cfg(feature = "std")]
impl<const K: usize> Maxima<K> {
    pub(crate) fn new() -> Self {
        Maxima(core::array::from_fn(|_| {
            core::sync::atomic::AtomicU64::new(0.0f64.to_bits())
        }))
    }

    /// Takes `max |x|` of `values` (finite: the dry run proved it) into buffer `index`'s.
    pub(crate) fn record<T: Scalar>(&self, index: usize, values: &[T]) {
        let max = max_abs(values).0;
        self.0[index].fetch_max(max.to_bits(), core::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> [f64; K] {
        core::array::from_fn(|i| {
            f64::from_bits(self.0[i].load(core::sync::atomic::Ordering::Relaxed))
        })
    }
}

/// The calling thread, in blocks of about [`InBlocks::BLOCK`] elements (at most
/// `kernels::lend::MAX_PARTS`), one after the other.
#[cfg(feature = "std")]
struct InBlocks {
    parts: usize,
}

#[cfg(feature = "std")]
impl InBlocks {
    /// Elements per block: four buffers of 16 KB in `f32`, within L2.
    const BLOCK: usize = 4096;

    fn of(len: usize) -> Self {
        InBlocks {
            parts: len
                .div_ceil(Self::BLOCK)
                .clamp(1, crate::kernels::lend::MAX_PARTS),
        }
    }
}

#[cfg(feature = "std")]
impl super::Workers for InBlocks {
    fn parts(&self) -> usize {
        self.parts
    }

    fn run(&self, job: &(dyn Fn(usize) + Sync)) {
        (0..self.parts).for_each(job);
    }
}

/// `max |x|` of an optional buffer (0 for one not kept), for [`Guarded::measured_bounds`].
pub(crate) fn measure<T: Scalar>(buffer: Option<&[T]>) -> f64 {
    buffer.map_or(0.0, |b| max_abs(b).0)
}

/// Runs `f` on every index of a dry run and returns the first error it reports: the dry-run
/// driver shared by the optimizers' slow paths.
pub(crate) fn dry_run<F>(n: usize, mut f: F) -> Result<()>
where
    F: FnMut(usize) -> Option<(&'static str, f64)>,
{
    for index in 0..n {
        if let Some((what, value)) = f(index) {
            return Err(Error::NonFiniteValue {
                what,
                tensor: "",
                index,
                value,
            });
        }
    }
    Ok(())
}

/// `Some((what, value))` for the first of `values` that is not finite: the check of one
/// element's dry run.
#[inline]
pub(crate) fn check<T: Scalar, const K: usize>(
    values: [(&'static str, T); K],
) -> Option<(&'static str, f64)> {
    values
        .into_iter()
        .find(|(_, v)| !v.is_finite())
        .map(|(what, v)| (what, Scalar::to_f64(v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_abs_finds_the_largest_and_every_non_finite_value() {
        let mut v = [0.5f32; 37];
        v[20] = -3.0;
        assert_eq!(max_abs(&v), (3.0, true));
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            for i in [0, 15, 16, 36] {
                let mut w = v;
                w[i] = bad;
                assert!(!max_abs(&w).1, "{bad} at {i}");
            }
        }
        assert_eq!(max_abs::<f64>(&[]), (0.0, true));
    }

    fn scan<T: Scalar>(params: &[T], grads: &[T]) -> Result<Extents> {
        GradientScan::of(params, grads).extents(grads)
    }

    #[test]
    fn scan_names_the_first_bad_gradient() {
        let w = [1.0f64, -2.0, 0.5];
        assert_eq!(
            scan(&w, &[0.1, -0.3, 0.2]),
            Ok(Extents {
                grad: 0.3,
                param: 2.0
            })
        );
        match scan(&w, &[0.1, f64::NAN, f64::INFINITY]) {
            Err(Error::NonFiniteValue {
                what: "gradient",
                tensor: "",
                index: 1,
                value,
            }) => assert!(value.is_nan()),
            other => panic!("{other:?}"),
        }
    }
}
