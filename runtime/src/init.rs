//! Parameter initializers with `torch.nn.init` semantics, drawn from the crate's seeded [`Rng`].
//!
//! An [`Init`] plus the [`Fans`] of the tensor it fills resolves to a [`Distribution`]
//! (a constant, `U(low, high)` or `N(mean, std^2)`), from which [`fill`] draws every element in
//! memory order:
//! - uniform: one [`Rng::next_f64`] per element, `low + (high - low) u` in `f64`;
//! - normal: two per element (Box–Muller, [`Rng::normal`]), `mean + std z` in `f64`;
//! - constants draw nothing.
//!
//! Each value is computed in `f64` with IEEE-exact operations and libm, then rounded once to the
//! element type: a seed gives the same weights on every platform, and the `f32` weights of a seed
//! are its `f64` weights rounded to nearest. (Rounding can make an `f32` uniform draw equal to
//! `high`.) The draws follow PyTorch's distributions, not its random stream: the same seed does
//! not give the same numbers as `torch.manual_seed`.
//!
//! | [`Init`] | distribution | PyTorch |
//! |---|---|---|
//! | `Zeros`, `Constant(c)` | `c` | `zeros_`, `constant_` |
//! | `Uniform { low, high }` | `U(low, high)` | `uniform_` |
//! | `Normal { mean, std }` | `N(mean, std^2)` | `normal_` |
//! | `XavierUniform { gain }` | `U(-a, a)`, `a = gain sqrt(6 / (fan_in + fan_out))` | `xavier_uniform_` |
//! | `XavierNormal { gain }` | `N(0, s^2)`, `s = gain sqrt(2 / (fan_in + fan_out))` | `xavier_normal_` |
//! | `HeUniform` | `U(-a, a)`, `a = sqrt(6 / fan_in)` | `kaiming_uniform_(w, nonlinearity='relu')` |
//! | `HeNormal` | `N(0, s^2)`, `s = sqrt(2 / fan_in)` | `kaiming_normal_(w, nonlinearity='relu')` |
//! | `TorchDefault` | `U(-a, a)`, `a = 1 / sqrt(fan_in)` | `nn.Linear` / `nn.Conv2d` weight and bias |

use crate::error::{Error, Result};
use crate::{Rng, Scalar};

/// How to initialize a parameter tensor (see the module docs for each formula).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// All zeros (`nn.init.zeros_`).
    Zeros,
    /// Every element equal to the value (`nn.init.constant_`).
    Constant(f64),
    /// `U(low, high)` (`nn.init.uniform_`); needs `low <= high`.
    Uniform {
        /// Lower bound (inclusive).
        low: f64,
        /// Upper bound (exclusive in `f64`).
        high: f64,
    },
    /// `N(mean, std^2)` (`nn.init.normal_`); needs `std >= 0`.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// Glorot uniform, `U(-a, a)` with `a = gain sqrt(6 / (fan_in + fan_out))`
    /// (`nn.init.xavier_uniform_`; the usual gain is 1, or [`gain`] of the next nonlinearity).
    XavierUniform {
        /// Scale factor, `>= 0`.
        gain: f64,
    },
    /// Glorot normal, `N(0, s^2)` with `s = gain sqrt(2 / (fan_in + fan_out))`
    /// (`nn.init.xavier_normal_`).
    XavierNormal {
        /// Scale factor, `>= 0`.
        gain: f64,
    },
    /// Kaiming/He uniform for ReLU (`a = 0`, mode `fan_in`): `U(-b, b)` with
    /// `b = sqrt(6 / fan_in)` = `gain(Relu) sqrt(3 / fan_in)`.
    HeUniform,
    /// Kaiming/He normal for ReLU (`a = 0`, mode `fan_in`): `N(0, s^2)` with
    /// `s = sqrt(2 / fan_in)` = `gain(Relu) / sqrt(fan_in)`.
    HeNormal,
    /// What `nn.Linear` and `nn.Conv2d` do by default, for the weight and for the bias:
    /// `U(-b, b)` with `b = 1 / sqrt(fan_in)` (the weight's `kaiming_uniform_(a = sqrt 5)` reduces
    /// to this bound). For a bias, pass the [`Fans`] of the layer's weight.
    TorchDefault,
}

/// The fan-in and fan-out of a weight tensor, as `torch.nn.init._calculate_fan_in_and_fan_out`
/// computes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fans {
    /// Inputs feeding one output: `in` for a dense layer, `in / groups * kh * kw` for a conv.
    pub fan_in: usize,
    /// Outputs fed by one input: `out` for a dense layer, `out * kh * kw` for a conv.
    pub fan_out: usize,
}

impl Fans {
    /// A dense weight `[out_features, in_features]`: `fan_in = in_features`,
    /// `fan_out = out_features`.
    pub const fn dense(in_features: usize, out_features: usize) -> Self {
        Fans {
            fan_in: in_features,
            fan_out: out_features,
        }
    }

    /// A conv weight `[out_channels, in_channels / groups, kernel_h, kernel_w]`:
    /// `fan_in = in_channels_per_group * kh * kw`, `fan_out = out_channels * kh * kw` (PyTorch
    /// counts all output channels, not `out / groups`).
    pub const fn conv(
        in_channels_per_group: usize,
        out_channels: usize,
        kernel_h: usize,
        kernel_w: usize,
    ) -> Self {
        let receptive_field = kernel_h * kernel_w;
        Fans {
            fan_in: in_channels_per_group * receptive_field,
            fan_out: out_channels * receptive_field,
        }
    }
}

/// A nonlinearity for [`gain`], named as in `torch.nn.init.calculate_gain`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Nonlinearity {
    /// Identity, linear and convolution layers (`'linear'`, `'conv2d'`, ...): gain 1.
    Linear,
    /// `'sigmoid'`: gain 1.
    Sigmoid,
    /// `'tanh'`: gain 5/3.
    Tanh,
    /// `'relu'`: gain `sqrt 2`.
    Relu,
    /// `'leaky_relu'` with this negative slope (PyTorch's default is 0.01):
    /// gain `sqrt(2 / (1 + slope^2))`.
    LeakyRelu(f64),
    /// `'selu'`: gain 3/4.
    Selu,
}

/// The recommended gain for a nonlinearity, `torch.nn.init.calculate_gain`.
pub fn gain(nonlinearity: Nonlinearity) -> f64 {
    match nonlinearity {
        Nonlinearity::Linear | Nonlinearity::Sigmoid => 1.0,
        Nonlinearity::Tanh => 5.0 / 3.0,
        Nonlinearity::Relu => libm::sqrt(2.0),
        Nonlinearity::LeakyRelu(slope) => libm::sqrt(2.0 / (1.0 + slope * slope)),
        Nonlinearity::Selu => 0.75,
    }
}

/// The distribution an [`Init`] resolves to for given [`Fans`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distribution {
    /// Every element equal to the value.
    Constant(f64),
    /// `U(low, high)`.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// `N(mean, std^2)`.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
}

impl Init {
    /// The distribution this initializer draws from for a tensor with these fans.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a non-finite value, `low > high`, a negative `std` or
    /// `gain`, `fan_in = 0` (He, TorchDefault) or `fan_in + fan_out = 0` (Xavier).
    pub fn distribution(self, fans: Fans) -> Result<Distribution> {
        let sqrt = libm::sqrt;
        let symmetric = |bound: f64| Distribution::Uniform {
            low: -bound,
            high: bound,
        };
        let centered = |std: f64| Distribution::Normal { mean: 0.0, std };
        Ok(match self {
            Init::Zeros => Distribution::Constant(0.0),
            Init::Constant(value) => Distribution::Constant(finite("init: Constant", value)?),
            Init::Uniform { low, high } => {
                let low = finite("init: Uniform low", low)?;
                let high = finite("init: Uniform high", high)?;
                if low > high {
                    return Err(Error::InvalidParameter {
                        name: "init: Uniform low",
                        value: low,
                        expected: "<= high",
                    });
                }
                Distribution::Uniform { low, high }
            }
            Init::Normal { mean, std } => Distribution::Normal {
                mean: finite("init: Normal mean", mean)?,
                std: non_negative("init: Normal std", std)?,
            },
            Init::XavierUniform { gain } => {
                let gain = non_negative("init: XavierUniform gain", gain)?;
                symmetric(gain * sqrt(6.0 / xavier_fans(fans)?))
            }
            Init::XavierNormal { gain } => {
                let gain = non_negative("init: XavierNormal gain", gain)?;
                centered(gain * sqrt(2.0 / xavier_fans(fans)?))
            }
            Init::HeUniform => symmetric(sqrt(6.0 / fan_in(fans)?)),
            Init::HeNormal => centered(sqrt(2.0 / fan_in(fans)?)),
            Init::TorchDefault => symmetric(1.0 / sqrt(fan_in(fans)?)),
        })
    }
}

fn finite(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::InvalidParameter {
            name,
            value,
            expected: "a finite number",
        })
    }
}

fn non_negative(name: &'static str, value: f64) -> Result<f64> {
    if value >= 0.0 && value.is_finite() {
        Ok(value)
    } else {
        Err(Error::InvalidParameter {
            name,
            value,
            expected: "finite and >= 0",
        })
    }
}

fn fan_in(fans: Fans) -> Result<f64> {
    if fans.fan_in > 0 {
        Ok(fans.fan_in as f64)
    } else {
        Err(Error::InvalidParameter {
            name: "init: fan_in",
            value: 0.0,
            expected: "> 0 for He and TorchDefault initialization",
        })
    }
}

fn xavier_fans(fans: Fans) -> Result<f64> {
    match fans.fan_in.checked_add(fans.fan_out) {
        Some(sum) if sum > 0 => Ok(sum as f64),
        _ => Err(Error::InvalidParameter {
            name: "init: fan_in + fan_out",
            value: fans.fan_in as f64 + fans.fan_out as f64,
            expected: "> 0 (and representable) for Xavier initialization",
        }),
    }
}

/// Fills `out` (a parameter tensor in memory order) from `init`'s distribution for `fans`,
/// drawing from `rng` as the module docs describe.
///
/// # Errors
/// As [`Init::distribution`]; on error neither `out` nor `rng` is touched.
pub fn fill<T: Scalar>(init: Init, fans: Fans, rng: &mut Rng, out: &mut [T]) -> Result<()> {
    match init.distribution(fans)? {
        Distribution::Constant(value) => out.fill(T::from_f64(value)),
        Distribution::Uniform { low, high } => {
            for v in out.iter_mut() {
                *v = rng.uniform(low, high);
            }
        }
        Distribution::Normal { mean, std } => {
            for v in out.iter_mut() {
                *v = T::from_f64(mean + std * rng.normal::<f64>());
            }
        }
    }
    Ok(())
}

#[cfg(all(test, feature = "alloc"))]
mod tests;
