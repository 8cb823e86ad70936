//! Dropout with PyTorch's semantics (`torch.nn.Dropout`): inverted dropout.
//!
//! In training each element is zeroed independently with probability `p` and the survivors are
//! scaled by `1 / (1 - p)`, so the expected value of every output equals its input and
//! evaluation needs no rescaling: in evaluation dropout is the identity.
//!
//! The training forward pass writes the factor of every element (`0` or `1 / (1 - p)`) into a
//! mask buffer the caller owns (the tape), then `y = mask * x`; the backward pass is
//! `dx = mask * dy` with that mask. Nothing is allocated. The draws come from a [`Rng`] the
//! caller owns (a network owns one), so a seeded run is reproducible.

use crate::kernels::Store;
use crate::ops::combine::{mul_backward, mul_forward};
use crate::{Error, Rng, Scalar};

/// A dropout layer's drop probability `p`, checked to be in `[0, 1)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropout {
    p: f64,
}

impl Dropout {
    /// Dropout with drop probability `p`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless `0 <= p < 1` (`p = 1` would drop everything and its
    /// scale `1 / (1 - p)` is infinite).
    pub fn new(p: f64) -> Result<Self, Error> {
        if (0.0..1.0).contains(&p) {
            Ok(Dropout { p })
        } else {
            Err(Error::InvalidParameter {
                name: "dropout: p",
                value: p,
                expected: "0 <= p < 1",
            })
        }
    }

    /// As [`Dropout::new`], for constants: an invalid `p` fails to compile when evaluated in a
    /// `const` block (generated code does so with the declared `p`).
    pub const fn new_const(p: f64) -> Self {
        assert!(p >= 0.0 && p < 1.0, "dropout: p must be in [0, 1)");
        Dropout { p }
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// Fills `mask` with fresh factors: each element independently `0` with probability `p`,
    /// otherwise `1 / (1 - p)`. Draws one `f64` from `rng` per element, in row-major order.
    pub fn fill_mask<T: Scalar, const B: usize, const N: usize>(
        &self,
        rng: &mut Rng,
        mask: &mut [[T; N]; B],
    ) {
        let keep = T::from_f64(1.0 / (1.0 - self.p));
        for m in mask.as_flattened_mut() {
            *m = if rng.next_f64() < self.p {
                T::zero()
            } else {
                keep
            };
        }
    }
}

/// Training forward: a fresh `mask` (see [`Dropout::fill_mask`]), then `y = mask * x`.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn dropout_train_forward<T: Scalar, const B: usize, const N: usize>(
    dropout: &Dropout,
    rng: &mut Rng,
    x: &[[T; N]; B],
    mask: &mut [[T; N]; B],
    y: &mut [[T; N]; B],
) {
    dropout.fill_mask(rng, mask);
    mul_forward(x, mask, y);
}

/// Evaluation forward: the identity, `y = x`.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn dropout_eval_forward<T: Scalar, const B: usize, const N: usize>(
    x: &[[T; N]; B],
    y: &mut [[T; N]; B],
) {
    y.copy_from_slice(x);
}

/// Backward of [`dropout_train_forward`] with the mask it drew: `dx (store) mask * dy`.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn dropout_backward<T: Scalar, const B: usize, const N: usize>(
    dy: &[[T; N]; B],
    mask: &[[T; N]; B],
    dx: &mut [[T; N]; B],
    store: Store,
) {
    mul_backward(dy, mask, dx, store);
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::gradcheck::assert_gradient;

    const X: [[f64; 5]; 3] = [
        [1.5, -2.0, 0.25, 3.0, -0.75],
        [4.5, 0.5, 2.5, -1.25, -3.5],
        [1.0, 0.125, -0.5, 2.0, -1.5],
    ];
    const W: [[f64; 5]; 3] = [
        [0.3, -1.2, 0.7, 2.1, -0.4],
        [1.5, 0.9, -0.6, 0.45, -1.7],
        [0.2, 1.1, -0.8, 0.6, 1.3],
    ];

    /// PyTorch's mask, read off its output: `X` has no zeros, so `y == 0` exactly where it
    /// dropped.
    fn pytorch_mask() -> [[f64; 5]; 3] {
        let keep = 1.0 / (1.0 - reference::P);
        reference::Y.map(|row| row.map(|y| if y == 0.0 { 0.0 } else { keep }))
    }

    #[test]
    fn matches_pytorch_for_its_mask() {
        let mask = pytorch_mask();
        let mut y = [[f64::NAN; 5]; 3];
        mul_forward(&X, &mask, &mut y);
        let mut dx = [[f64::NAN; 5]; 3];
        dropout_backward(&W, &mask, &mut dx, Store::Overwrite);
        for (got, want) in [(&y, &reference::Y), (&dx, &reference::DX)] {
            for (g, w) in got.as_flattened().iter().zip(want.as_flattened()) {
                assert!((g - w).abs() <= 1e-12, "{got:?} != {want:?}");
            }
        }
    }

    #[test]
    fn gradient_with_a_fixed_mask() {
        let dropout = Dropout::new(0.4).unwrap();
        let mut mask = [[0.0; 5]; 3];
        dropout.fill_mask(&mut Rng::new(3), &mut mask);
        assert!(mask.as_flattened().contains(&0.0));
        let loss = |x: &[f64]| {
            let x: [[f64; 5]; 3] = core::array::from_fn(|b| core::array::from_fn(|i| x[b * 5 + i]));
            let mut y = [[0.0; 5]; 3];
            mul_forward(&x, &mask, &mut y);
            y.as_flattened()
                .iter()
                .zip(W.as_flattened())
                .map(|(y, w)| y * w * y)
                .sum::<f64>()
        };
        let mut y = [[0.0; 5]; 3];
        mul_forward(&X, &mask, &mut y);
        // loss = sum(w y^2): upstream gradient 2 w y.
        let dy: [[f64; 5]; 3] =
            core::array::from_fn(|b| core::array::from_fn(|i| 2.0 * W[b][i] * y[b][i]));
        let mut dx = [[f64::NAN; 5]; 3];
        dropout_backward(&dy, &mask, &mut dx, Store::Overwrite);
        let mut flat = *X.as_flattened().first_chunk::<15>().unwrap();
        assert_gradient("dropout: dx", loss, &mut flat, dx.as_flattened(), 1e-6);
    }

    #[test]
    fn drop_rate_scale_and_reproducibility() {
        let dropout = Dropout::new(0.25).unwrap();
        let x = [[1.0f32; 1000]; 4];
        let (mut mask, mut y) = ([[0.0f32; 1000]; 4], [[0.0f32; 1000]; 4]);
        dropout_train_forward(&dropout, &mut Rng::new(11), &x, &mut mask, &mut y);
        let dropped = y.as_flattened().iter().filter(|&&v| v == 0.0).count();
        // 4000 Bernoulli(0.25) draws: mean 1000, standard deviation ~27.
        assert!((880..1120).contains(&dropped), "{dropped} of 4000 dropped");
        assert!(y
            .as_flattened()
            .iter()
            .all(|&v| v == 0.0 || v == 1.0 / 0.75));
        let mut again = [[0.0f32; 1000]; 4];
        dropout_train_forward(&dropout, &mut Rng::new(11), &x, &mut mask, &mut again);
        assert_eq!(y, again, "same seed, same mask");
        let mut eval = [[0.0f32; 1000]; 4];
        dropout_eval_forward(&x, &mut eval);
        assert_eq!(eval, x);
    }

    #[test]
    fn rejects_p_outside_zero_one() {
        for p in [-0.1, 1.0, 1.5, f64::NAN] {
            assert!(matches!(
                Dropout::new(p),
                Err(Error::InvalidParameter {
                    name: "dropout: p",
                    ..
                })
            ));
        }
        assert_eq!(Dropout::new(0.0).unwrap().p(), 0.0);
        const HALF: Dropout = Dropout::new_const(0.5);
        assert_eq!(HALF.p(), 0.5);
    }
}

/// Generated by reference/dropout.py (PyTorch, float64); do not edit by hand.
#[cfg(all(test, feature = "alloc"))]
#[rustfmt::skip]
mod reference {
    pub const P: f64 = 0.3;
    pub const Y: [[f64; 5]; 3] = [[2.142857142857143, -2.857142857142857, 0.0, 4.285714285714286, -0.0], [0.0, 0.7142857142857143, 3.5714285714285716, -0.0, -0.0], [1.4285714285714286, 0.17857142857142858, -0.7142857142857143, 2.857142857142857, -2.142857142857143]];
    pub const DX: [[f64; 5]; 3] = [[0.42857142857142855, -1.7142857142857142, 0.0, 3.0, -0.0], [0.0, 1.2857142857142858, -0.8571428571428571, 0.0, -0.0], [0.28571428571428575, 1.5714285714285716, -1.142857142857143, 0.8571428571428571, 1.8571428571428572]];
}
