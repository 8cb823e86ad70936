//! Element-wise activations and the softmax layer.
//!
//! Every activation is a zero-sized (or one-field) type implementing [`Activation`], and there is
//! one forward kernel, [`activation_forward`], and one backward kernel, [`activation_backward`],
//! generic over it: generated code has a single code path for every activation, and
//! monomorphization gives each activation its own loop with the scalar function inlined.
//!
//! Element-wise ops have no parameters (no parameter block). Forward and backward take a batch
//! `[[T; N]; B]`; the kernels run over it as one flat slice of `B * N` elements, so the loop
//! trip count is known at compile time and the inner loops vectorize when the scalar function
//! does: every one here (the exact GELU in `f64` excepted, whose `erf` is libm's), since `tanh`,
//! `sigmoid`, `exp` and `f32`'s `erf` come from [`crate::kernels::math`] (within ~1 ulp; see
//! there).
//!
//! | type | forward `y = f(x)` | derivative `dy/dx` | PyTorch |
//! |---|---|---|---|
//! | [`Relu`] | `max(x, 0)` | `1 if x > 0 else 0` | `F.relu` |
//! | [`LeakyRelu`] | `x if x > 0 else a x` | `1 if x > 0 else a` | `F.leaky_relu(x, a)` |
//! | [`Tanh`] | `tanh x` | `1 - y^2` | `torch.tanh` |
//! | [`Sigmoid`] | `1 / (1 + exp(-x))` | `y (1 - y)` | `torch.sigmoid` |
//! | [`Gelu`] | `x Phi(x)` | `Phi(x) + x phi(x)` | `F.gelu(x)` (`approximate='none'`) |
//! | [`GeluTanh`] | `x/2 (1 + tanh(u))` | see [`GeluTanh`] | `F.gelu(x, approximate='tanh')` |
//! | [`Identity`] | `x` | `1` | — |

use crate::kernels::{math, Store};
use crate::Scalar;

mod softmax;
#[cfg(all(test, feature = "alloc"))]
mod tests;

pub(crate) use softmax::{row_max, shifted_exp_sum};
pub use softmax::{softmax_backward, softmax_forward};

/// A scalar activation function with its derivative.
///
/// Implementors are small `Copy` types whose methods inline into [`activation_forward`] and
/// [`activation_backward`].
pub trait Activation<T: Scalar> {
    /// `y = f(x)`.
    fn forward(&self, x: T) -> T;
    /// `dy/dx` at `x`, given `x` and `y = f(x)`: implementations use whichever is cheaper and
    /// exact (`y` for tanh and sigmoid, `x` for the others).
    fn derivative(&self, x: T, y: T) -> T;
}

/// Rectified linear unit, `F.relu`.
///
/// - forward: `y = max(x, 0)`; NaN propagates (`y = NaN`), and `-0.0` maps to `-0.0` as in PyTorch.
/// - derivative: `0` for `x <= 0`, else `1` (so `0` at the kink `x = 0`, and `1` for NaN, as
///   in PyTorch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relu;

impl<T: Scalar> Activation<T> for Relu {
    #[inline(always)]
    fn forward(&self, x: T) -> T {
        // `x < 0` is false for NaN, so NaN passes through as in PyTorch.
        if x < T::zero() {
            T::zero()
        } else {
            x
        }
    }
    #[inline(always)]
    fn derivative(&self, _x: T, y: T) -> T {
        // From the output, as PyTorch's `threshold_backward(grad, result, 0)`: `y <= 0` exactly
        // when `x <= 0` (`y` is `x` or 0, NaN stays NaN), so the backward pass does not read
        // the input (W4's two ReLU backward passes stream three arrays instead of four).
        // Written as `<= 0` so that NaN passes the upstream gradient through.
        if y <= T::zero() {
            T::zero()
        } else {
            T::one()
        }
    }
}

/// Leaky ReLU with slope `a = negative_slope` for negative inputs, `F.leaky_relu(x, a)`.
///
/// - forward: `y = x` for `x > 0`, else `a x`.
/// - derivative: `1` for `x > 0`, else `a` (so `a` at the kink `x = 0`, as in PyTorch).
///
/// [`LeakyRelu::default()`] and [`LeakyRelu::PYTORCH_DEFAULT_SLOPE`] give PyTorch's default
/// `a = 0.01`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeakyRelu<T> {
    /// The slope `a` for `x <= 0`.
    pub negative_slope: T,
}

impl<T> LeakyRelu<T> {
    /// PyTorch's default `negative_slope`.
    pub const PYTORCH_DEFAULT_SLOPE: f64 = 0.01;

    /// Leaky ReLU with the given slope for `x <= 0` (usable in `const` items).
    pub const fn new(negative_slope: T) -> Self {
        LeakyRelu { negative_slope }
    }
}

impl<T: Scalar> Default for LeakyRelu<T> {
    /// `negative_slope = 0.01`, PyTorch's default.
    fn default() -> Self {
        LeakyRelu::new(T::from_f64(Self::PYTORCH_DEFAULT_SLOPE))
    }
}

impl<T: Scalar> Activation<T> for LeakyRelu<T> {
    #[inline(always)]
    fn forward(&self, x: T) -> T {
        if x > T::zero() {
            x
        } else {
            self.negative_slope * x
        }
    }
    #[inline(always)]
    fn derivative(&self, x: T, _y: T) -> T {
        if x > T::zero() {
            T::one()
        } else {
            self.negative_slope
        }
    }
}

/// Hyperbolic tangent, `torch.tanh`.
///
/// - forward: `y = tanh x` ([`math::tanh`], vectorizable, within 1 ulp).
/// - derivative: `1 - y^2`, exact and cheaper than recomputing from `x`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tanh;

impl<T: Scalar> Activation<T> for Tanh {
    #[inline(always)]
    fn forward(&self, x: T) -> T {
        math::tanh(x)
    }
    #[inline(always)]
    fn derivative(&self, _x: T, y: T) -> T {
        T::one() - y * y
    }
}

/// Logistic sigmoid, `torch.sigmoid`.
///
/// - forward: `y = 1 / (1 + exp(-x))` ([`math::sigmoid`], vectorizable, within ~1 ulp),
///   computed without overflow as `e = exp(-|x|)`, `y = 1 / (1 + e)` for `x >= 0` and
///   `e / (1 + e)` for `x < 0`: `e` is in `(0, 1]`, so `x = ±1e4` gives exactly `1` and `0`,
///   never `inf / inf`.
/// - derivative: `y (1 - y)`, as PyTorch's `sigmoid_backward` computes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sigmoid;

impl<T: Scalar> Activation<T> for Sigmoid {
    #[inline(always)]
    fn forward(&self, x: T) -> T {
        math::sigmoid(x)
    }
    #[inline(always)]
    fn derivative(&self, _x: T, y: T) -> T {
        y * (T::one() - y)
    }
}

/// `1 / sqrt(2)`.
const FRAC_1_SQRT_2: f64 = core::f64::consts::FRAC_1_SQRT_2;
/// `1 / sqrt(2 pi)`, the standard normal density at 0.
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
/// `sqrt(2 / pi)`.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// The cubic coefficient of the tanh approximation of GELU.
const GELU_TANH_CUBIC: f64 = 0.044_715;

/// The exact GELU, `F.gelu(x)` with `approximate='none'` (the default).
///
/// With `Phi` the standard normal CDF and `phi` its density:
/// - forward: `y = x Phi(x) = x/2 (1 + erf(x / sqrt 2))`.
/// - derivative: `Phi(x) + x phi(x) = 1/2 (1 + erf(x / sqrt 2)) + x exp(-x^2 / 2) / sqrt(2 pi)`.
///
/// `erf` is [`Scalar::erf`]: [`math::erf_f32`] (vectorizable) for `f32`, libm's for `f64` (so the
/// `f64` loops stay scalar); `exp` is [`math::exp`].
///
/// For the tanh approximation (`approximate='tanh'`) use [`GeluTanh`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gelu;

impl<T: Scalar> Activation<T> for Gelu {
    #[inline(always)]
    fn forward(&self, x: T) -> T {
        let half = T::from_f64(0.5);
        half * x * (T::one() + (x * T::from_f64(FRAC_1_SQRT_2)).erf())
    }
    #[inline(always)]
    fn derivative(&self, x: T, _y: T) -> T {
        let half = T::from_f64(0.5);
        let cdf = half * (T::one() + (x * T::from_f64(FRAC_1_SQRT_2)).erf());
        let pdf = math::exp(-half * x * x) * T::from_f64(FRAC_1_SQRT_2PI);
        cdf + x * pdf
    }
}

/// GELU's tanh approximation, `F.gelu(x, approximate='tanh')`.
///
/// With `k = sqrt(2 / pi)`, `c = 0.044715`, `u = k (x + c x^3)` and `t = tanh u`
/// ([`math::tanh`]):
/// - forward: `y = x/2 (1 + t)`.
/// - derivative: `1/2 (1 + t) + x/2 (1 - t^2) k (1 + 3 c x^2)` (PyTorch's formula).
///
/// For the exact GELU (`approximate='none'`, PyTorch's default) use [`Gelu`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GeluTanh;

impl GeluTanh {
    #[inline(always)]
    fn tanh_inner<T: Scalar>(x: T) -> T {
        let inner = T::from_f64(SQRT_2_OVER_PI) * (x + T::from_f64(GELU_TANH_CUBIC) * x * x * x);
        math::tanh(inner)
    }
}

impl<T: Scalar> Activation<T> for GeluTanh {
    #[inline(always)]
    fn forward(&self, x: T) -> T {
        T::from_f64(0.5) * x * (T::one() + Self::tanh_inner(x))
    }
    #[inline(always)]
    fn derivative(&self, x: T, _y: T) -> T {
        let half = T::from_f64(0.5);
        let t = Self::tanh_inner(x);
        let inner_derivative =
            T::from_f64(SQRT_2_OVER_PI) * (T::one() + T::from_f64(3.0 * GELU_TANH_CUBIC) * x * x);
        half * (T::one() + t) + half * x * (T::one() - t * t) * inner_derivative
    }
}

/// The identity: `y = x`, derivative `1` (a linear output layer through the same code path).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Identity;

impl<T: Scalar> Activation<T> for Identity {
    #[inline(always)]
    fn forward(&self, x: T) -> T {
        x
    }
    #[inline(always)]
    fn derivative(&self, _x: T, _y: T) -> T {
        T::one()
    }
}

/// Forward of an element-wise activation: `y[b][j] = f(x[b][j])`.
///
/// Always inlined, so that it is compiled for its caller's instruction set: a small network's
/// batch-1 inference runs compiled for AVX2 (`kernels::small::dispatch_256`), and this loop
/// with it.
#[inline(always)]
pub fn activation_forward<T: Scalar, A: Activation<T>, const B: usize, const N: usize>(
    act: &A,
    x: &[[T; N]; B],
    y: &mut [[T; N]; B],
) {
    for (y, &x) in y.as_flattened_mut().iter_mut().zip(x.as_flattened()) {
        *y = act.forward(x);
    }
}

/// Backward of an element-wise activation: `dx[b][j] (store) dy[b][j] * f'(x[b][j])`, with
/// `f'` from [`Activation::derivative`] given `x` and the forward output `y`.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn activation_backward<T: Scalar, A: Activation<T>, const B: usize, const N: usize>(
    act: &A,
    x: &[[T; N]; B],
    y: &[[T; N]; B],
    dy: &[[T; N]; B],
    dx: &mut [[T; N]; B],
    store: Store,
) {
    let values = x
        .as_flattened()
        .iter()
        .zip(y.as_flattened())
        .zip(dy.as_flattened())
        .map(|((&x, &y), &dy)| dy * act.derivative(x, y));
    store_each(store, dx.as_flattened_mut(), values);
}

/// `out[i] (store) values[i]`, with the store mode matched once outside the loop so that each
/// loop body is branch-free.
#[inline(always)]
pub(crate) fn store_each<T: Scalar>(store: Store, out: &mut [T], values: impl Iterator<Item = T>) {
    match store {
        Store::Overwrite => {
            for (o, v) in out.iter_mut().zip(values) {
                *o = v;
            }
        }
        Store::Accumulate => {
            for (o, v) in out.iter_mut().zip(values) {
                *o += v;
            }
        }
    }
}
