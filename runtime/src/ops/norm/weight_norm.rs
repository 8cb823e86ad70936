//! Weight Normalization (Salimans & Kingma 2016) of a dense or conv weight.
//!
//! The layer's weight is reparametrized per output unit (row), as PyTorch's
//! `torch.nn.utils.parametrizations.weight_norm(module, dim=0)`:
//! ```text
//! w[o][k] = g[o] * v[o][k] / ||v[o]||,        ||v[o]|| = sqrt(sum_k v[o][k]^2)
//! ```
//! A dense weight `[OUT, IN]` is `[[T; IN]; OUT]`; a conv weight `[OUT, IN / groups, KH, KW]`
//! is viewed as `[[T; K]; OUT]` with `K = IN / groups * KH * KW` (the norm is over every dim but
//! the first). The dense/conv kernels then run on `w`; their weight gradient `dw` maps back to
//! the parameters through [`weight_norm_backward`]:
//! ```text
//! dg[o]    = sum_k dw[o][k] * v[o][k] / ||v[o]||
//! dv[o][k] = (g[o] / ||v[o]||) * (dw[o][k] - dg[o] * v[o][k] / ||v[o]||)
//! ```
//! Parameter layout (PyTorch state dict): `weight_g` of shape `[OUT, 1, ...]` (`OUT` values,
//! here `[T; OUT]`) and `weight_v` shaped as the weight (`[[T; K]; OUT]`); PyTorch's
//! `parametrizations` names them `parametrizations.weight.original0` / `original1`, and its
//! state dict lists the layer's `bias` first. `w` is derived, not a parameter: it lives in a
//! workspace, recomputed by [`weight_norm_forward`] after every optimizer step.

use crate::error::{Error, Result};
use crate::{Scalar, Store};

/// `||row||`, the Euclidean norm.
#[inline]
fn row_norm<T: Scalar>(row: &[T]) -> T {
    row.iter().map(|&v| v * v).sum::<T>().sqrt()
}

/// Sets `g = ||v||` per row, so that the reparametrized weight starts equal to `v`, as PyTorch
/// does when it applies weight norm to an initialised layer. Initialise `v` first with the
/// layer's usual initializer (e.g. Kaiming-uniform for a PyTorch `Linear`).
pub fn weight_norm_init<T: Scalar, const OUT: usize, const K: usize>(
    v: &[[T; K]; OUT],
    g: &mut [T; OUT],
) {
    for (g_o, v_o) in g.iter_mut().zip(v) {
        *g_o = row_norm(v_o);
    }
}

/// `w[o] = g[o] * v[o] / ||v[o]||` for every output row `o`.
///
/// Errors (leaving `w` partly written) when a row of `v` has zero norm, where `w` is undefined
/// ([`Error::InvalidParameter`]), or a non-finite one ([`Error::NonFinite`]), instead of
/// filling `w` with NaN.
pub fn weight_norm_forward<T: Scalar, const OUT: usize, const K: usize>(
    g: &[T; OUT],
    v: &[[T; K]; OUT],
    w: &mut [[T; K]; OUT],
) -> Result<()> {
    for ((&g_o, v_o), w_o) in g.iter().zip(v).zip(w.iter_mut()) {
        let norm = row_norm(v_o);
        if !norm.is_finite() {
            return Err(Error::NonFinite {
                what: "weight_norm: ||v|| of a row of weight_v",
                value: norm.to_f64(),
            });
        }
        if norm == T::zero() {
            return Err(Error::InvalidParameter {
                name: "weight_norm: ||v|| of a row of weight_v",
                value: 0.0,
                expected: "> 0 (w = g * v / ||v|| is undefined for an all-zero row)",
            });
        }
        let scale = g_o / norm;
        for (out, &v_ok) in w_o.iter_mut().zip(v_o) {
            *out = scale * v_ok;
        }
    }
    Ok(())
}

/// Maps the gradient `dw` of the reparametrized weight to the parameters (formulas in the
/// [module docs](self)): `dg (store)`, `dv (store)`. Call after a successful
/// [`weight_norm_forward`] with the same `v` (every row norm positive).
pub fn weight_norm_backward<T: Scalar, const OUT: usize, const K: usize>(
    g: &[T; OUT],
    v: &[[T; K]; OUT],
    dw: &[[T; K]; OUT],
    dg: &mut [T; OUT],
    dv: &mut [[T; K]; OUT],
    store: Store,
) {
    let rows = g
        .iter()
        .zip(v)
        .zip(dw)
        .zip(dg.iter_mut())
        .zip(dv.iter_mut());
    for ((((&g_o, v_o), dw_o), dg_o), dv_o) in rows {
        let inv_norm = row_norm(v_o).recip();
        let grad_g = v_o.iter().zip(dw_o).map(|(&a, &b)| a * b).sum::<T>() * inv_norm;
        let (scale, shift) = (g_o * inv_norm, grad_g * inv_norm);
        for ((out, &v_ok), &dw_ok) in dv_o.iter_mut().zip(v_o).zip(dw_o) {
            store.apply(out, scale * (dw_ok - shift * v_ok));
        }
        store.apply(dg_o, grad_g);
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::super::reference as pt;
    use super::super::test_util::*;
    use super::*;
    use crate::gradcheck::assert_gradient;
    use crate::Rng;

    fn reference_case<T: Scalar, const OUT: usize, const K: usize>(
        g: &[f64; OUT],
        v: &[[f64; K]; OUT],
        expected_w: &[[f64; K]; OUT],
        dw: &[[f64; K]; OUT],
        expected_dg: &[f64; OUT],
        expected_dv: &[[f64; K]; OUT],
    ) {
        let tol = tolerance::<T>();
        let (g, v) = (cast1::<T, OUT>(g), cast::<T, K, OUT>(v));
        let mut w = [[T::zero(); K]; OUT];
        weight_norm_forward(&g, &v, &mut w).unwrap();
        assert_close(
            "weight_norm w",
            w.as_flattened(),
            expected_w.as_flattened(),
            tol,
        );
        let (mut dg, mut dv) = ([T::zero(); OUT], [[T::zero(); K]; OUT]);
        weight_norm_backward(&g, &v, &cast(dw), &mut dg, &mut dv, Store::Overwrite);
        assert_close("weight_norm dg", &dg, expected_dg, tol);
        assert_close(
            "weight_norm dv",
            dv.as_flattened(),
            expected_dv.as_flattened(),
            tol,
        );
    }

    #[test]
    fn matches_pytorch_parametrized_linear_and_conv() {
        reference_case::<f64, 3, 4>(
            &pt::WN_DENSE_G,
            &pt::WN_DENSE_V,
            &pt::WN_DENSE_W,
            &pt::WN_DENSE_DW,
            &pt::WN_DENSE_DG,
            &pt::WN_DENSE_DV,
        );
        reference_case::<f32, 3, 4>(
            &pt::WN_DENSE_G,
            &pt::WN_DENSE_V,
            &pt::WN_DENSE_W,
            &pt::WN_DENSE_DW,
            &pt::WN_DENSE_DG,
            &pt::WN_DENSE_DV,
        );
        // Conv2d(2, 3, kernel 2): weight [3, 2, 2, 2] viewed as [[T; 8]; 3].
        reference_case::<f64, 3, 8>(
            &pt::WN_CONV_G,
            &pt::WN_CONV_V,
            &pt::WN_CONV_W,
            &pt::WN_CONV_DW,
            &pt::WN_CONV_DG,
            &pt::WN_CONV_DV,
        );
        reference_case::<f32, 3, 8>(
            &pt::WN_CONV_G,
            &pt::WN_CONV_V,
            &pt::WN_CONV_W,
            &pt::WN_CONV_DW,
            &pt::WN_CONV_DG,
            &pt::WN_CONV_DV,
        );
    }

    const OUT: usize = 3;
    const K: usize = 5;

    fn loss(g: &[f64; OUT], v: &[[f64; K]; OUT], dw: &[[f64; K]; OUT]) -> f64 {
        let mut w = [[0.0; K]; OUT];
        weight_norm_forward(g, v, &mut w).unwrap();
        weighted_sum(dw, &w)
    }

    #[test]
    fn gradients_match_finite_differences_and_accumulate() {
        let mut rng = Rng::new(11);
        let v: [[f64; K]; OUT] = random(&mut rng, 1.0, 0.2);
        let g = random::<OUT, 1>(&mut rng, 0.5, 1.0)[0];
        let dw: [[f64; K]; OUT] = random(&mut rng, 1.0, 0.0);
        let (mut dg, mut dv) = ([0.0; OUT], [[0.0; K]; OUT]);
        weight_norm_backward(&g, &v, &dw, &mut dg, &mut dv, Store::Overwrite);
        assert_gradient(
            "weight_norm dg",
            |flat| loss(flat.try_into().unwrap(), &v, &dw),
            &mut g.clone(),
            &dg,
            GRAD_TOL,
        );
        assert_gradient(
            "weight_norm dv",
            |flat| loss(&g, &unflatten(flat), &dw),
            v.clone().as_flattened_mut(),
            dv.as_flattened(),
            GRAD_TOL,
        );

        let (mut acc_dg, mut acc_dv) = ([1.0; OUT], [[-0.5; K]; OUT]);
        weight_norm_backward(&g, &v, &dw, &mut acc_dg, &mut acc_dv, Store::Accumulate);
        let expected: Vec<f64> = dg.iter().map(|x| x + 1.0).collect();
        assert_close("accumulated dg", &acc_dg, &expected, 1e-14);
        let expected: Vec<f64> = dv.as_flattened().iter().map(|x| x - 0.5).collect();
        assert_close("accumulated dv", acc_dv.as_flattened(), &expected, 1e-14);
    }

    #[test]
    fn init_makes_the_weight_equal_to_v() {
        let v: [[f32; K]; OUT] =
            random::<K, OUT>(&mut Rng::new(12), 0.3, 0.0).map(|r| r.map(|x| x as f32));
        let mut g = [0.0f32; OUT];
        weight_norm_init(&v, &mut g);
        let mut w = [[0.0f32; K]; OUT];
        weight_norm_forward(&g, &v, &mut w).unwrap();
        for (a, b) in w.as_flattened().iter().zip(v.as_flattened()) {
            assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{a} vs {b}");
        }
    }

    #[test]
    fn zero_or_non_finite_rows_are_errors_not_nan() {
        let g = [1.0f64, 2.0];
        let mut w = [[0.0; 2]; 2];
        let err = weight_norm_forward(&g, &[[1.0, 0.0], [0.0, 0.0]], &mut w).unwrap_err();
        assert!(matches!(err, Error::InvalidParameter { value, .. } if value == 0.0));
        let err = weight_norm_forward(&g, &[[f64::NAN, 0.0], [1.0, 0.0]], &mut w).unwrap_err();
        assert!(matches!(err, Error::NonFinite { .. }));
    }
}
