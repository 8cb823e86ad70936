//! Folding an eval-mode BatchNorm into the dense or conv layer before it, for inference.
//!
//! A dense or conv layer followed by BatchNorm in eval mode computes, per output channel `o`,
//! `gamma[o] * (W[o] . x + b[o] - running_mean[o]) / sqrt(running_var[o] + eps) + beta[o]`,
//! which is again a dense/conv layer with
//! ```text
//! scale[o] = gamma[o] / sqrt(running_var[o] + eps)
//! W'[o][k] = scale[o] * W[o][k]
//! b'[o]    = scale[o] * (b[o] - running_mean[o]) + beta[o]
//! ```
//! so inference pays nothing for the normalization. Only eval mode folds: training needs batch
//! statistics.

use crate::Scalar;

/// Folds BatchNorm (eval mode) into the preceding layer's `weight` and `bias`, in place
/// (formulas in the [module docs](self)).
///
/// `weight` is a dense weight `[C_OUT, K]` (`K` inputs) or a conv weight
/// `[C_OUT, IN / groups, KH, KW]` viewed as `[[T; K]; C_OUT]`: folding scales whole output rows.
/// For a layer without bias, pass a zeroed `bias`: the folded layer needs one. `gamma`, `beta`
/// are rows 0 and 1 of the BatchNorm parameter block, `running_mean`, `running_var` rows 0 and 1
/// of its state block, `eps` its `eps`.
pub fn fold_batch_norm<T: Scalar, const C_OUT: usize, const K: usize>(
    weight: &mut [[T; K]; C_OUT],
    bias: &mut [T; C_OUT],
    gamma: &[T; C_OUT],
    beta: &[T; C_OUT],
    running_mean: &[T; C_OUT],
    running_var: &[T; C_OUT],
    eps: f64,
) {
    let eps = T::from_f64(eps);
    for o in 0..C_OUT {
        let scale = gamma[o] / (running_var[o] + eps).sqrt();
        for w in weight[o].iter_mut() {
            *w *= scale;
        }
        bias[o] = scale * (bias[o] - running_mean[o]) + beta[o];
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::super::test_util::*;
    use super::super::{batch_norm_eval_forward, DEFAULT_EPS};
    use super::*;
    use crate::kernels::gemm::matmul_a_bt;
    use crate::kernels::Store;
    use crate::Rng;

    /// Random BatchNorm blocks with running variance in [0.2, 2.2).
    fn batch_norm<T: Scalar, const C: usize>(rng: &mut Rng) -> ([[T; C]; 2], [[T; C]; 2]) {
        let mut draw =
            |lo: f64, hi: f64| -> [T; C] { core::array::from_fn(|_| rng.uniform(lo, hi)) };
        (
            [draw(0.5, 1.5), draw(-0.5, 0.5)],
            [draw(-1.0, 1.0), draw(0.2, 2.2)],
        )
    }

    fn assert_equal_outputs<T: Scalar>(what: &str, a: &[T], b: &[T]) {
        let expected: Vec<f64> = b.iter().map(|&v| Scalar::to_f64(v)).collect();
        assert_close(what, a, &expected, tolerance::<T>());
    }

    /// Dense layer (with and without bias) then eval BatchNorm, against the folded layer.
    fn dense_case<T: Scalar>() {
        const B: usize = 4;
        const IN: usize = 5;
        const OUT: usize = 3;
        let mut rng = Rng::new(21);
        let x: [[T; IN]; B] = core::array::from_fn(|_| core::array::from_fn(|_| rng.normal()));
        let weight: [[T; IN]; OUT] =
            core::array::from_fn(|_| core::array::from_fn(|_| rng.normal()));
        let (params, state) = batch_norm::<T, OUT>(&mut rng);
        for bias in [core::array::from_fn(|_| rng.normal()), [T::zero(); OUT]] {
            let mut h = [[T::zero(); OUT]; B];
            matmul_a_bt(&x, &weight, &mut h, Store::Overwrite);
            crate::kernels::elementwise::add_bias(&mut h, &bias);
            let mut unfolded = [[T::zero(); OUT]; B];
            batch_norm_eval_forward::<T, B, OUT, 1, OUT>(
                &h,
                &params,
                &state,
                &mut unfolded,
                DEFAULT_EPS,
            );

            let (mut w, mut b) = (weight, bias);
            fold_batch_norm(
                &mut w,
                &mut b,
                &params[0],
                &params[1],
                &state[0],
                &state[1],
                DEFAULT_EPS,
            );
            let mut folded = [[T::zero(); OUT]; B];
            matmul_a_bt(&x, &w, &mut folded, Store::Overwrite);
            crate::kernels::elementwise::add_bias(&mut folded, &b);
            assert_equal_outputs(
                "dense + BatchNorm",
                folded.as_flattened(),
                unfolded.as_flattened(),
            );
        }
    }

    /// Naive conv, stride 1, no padding: `x [CI, H, W]`, `w [CO, CI * KH * KW]`,
    /// `y [CO, (H - KH + 1) * (W - KW + 1)]`, plus bias.
    #[allow(clippy::too_many_arguments)]
    fn conv<
        T: Scalar,
        const CI: usize,
        const CO: usize,
        const K: usize,
        const NI: usize,
        const NO: usize,
    >(
        x: &[T; NI],
        w: &[[T; K]; CO],
        bias: &[T; CO],
        y: &mut [T; NO],
        (h, wd, kh, kw): (usize, usize, usize, usize),
    ) {
        let (ho, wo) = (h - kh + 1, wd - kw + 1);
        for co in 0..CO {
            for i in 0..ho {
                for j in 0..wo {
                    let mut acc = bias[co];
                    for ci in 0..CI {
                        for p in 0..kh {
                            for q in 0..kw {
                                acc += w[co][(ci * kh + p) * kw + q]
                                    * x[(ci * h + i + p) * wd + j + q];
                            }
                        }
                    }
                    y[(co * ho + i) * wo + j] = acc;
                }
            }
        }
    }

    /// Conv [2, 4, 4] -> [3, 3, 3] (kernel 2x2), then eval BatchNorm2d over 3 channels.
    fn conv_case<T: Scalar>() {
        const B: usize = 2;
        const CI: usize = 2;
        const CO: usize = 3;
        const K: usize = CI * 2 * 2;
        const NI: usize = CI * 4 * 4;
        const S: usize = 3 * 3;
        const NO: usize = CO * S;
        let dims = (4, 4, 2, 2);
        let mut rng = Rng::new(22);
        let x: [[T; NI]; B] = core::array::from_fn(|_| core::array::from_fn(|_| rng.normal()));
        let weight: [[T; K]; CO] = core::array::from_fn(|_| core::array::from_fn(|_| rng.normal()));
        let bias: [T; CO] = core::array::from_fn(|_| rng.normal());
        let (params, state) = batch_norm::<T, CO>(&mut rng);
        let mut h = [[T::zero(); NO]; B];
        for (xs, hs) in x.iter().zip(h.iter_mut()) {
            conv::<T, CI, CO, K, NI, NO>(xs, &weight, &bias, hs, dims);
        }
        let mut unfolded = [[T::zero(); NO]; B];
        batch_norm_eval_forward::<T, B, CO, S, NO>(&h, &params, &state, &mut unfolded, DEFAULT_EPS);

        let (mut w, mut b) = (weight, bias);
        fold_batch_norm(
            &mut w,
            &mut b,
            &params[0],
            &params[1],
            &state[0],
            &state[1],
            DEFAULT_EPS,
        );
        let mut folded = [[T::zero(); NO]; B];
        for (xs, ys) in x.iter().zip(folded.iter_mut()) {
            conv::<T, CI, CO, K, NI, NO>(xs, &w, &b, ys, dims);
        }
        assert_equal_outputs(
            "conv + BatchNorm2d",
            folded.as_flattened(),
            unfolded.as_flattened(),
        );
    }

    #[test]
    fn folded_dense_equals_dense_then_eval_batch_norm() {
        dense_case::<f64>();
        dense_case::<f32>();
    }

    #[test]
    fn folded_conv_equals_conv_then_eval_batch_norm() {
        conv_case::<f64>();
        conv_case::<f32>();
    }
}
