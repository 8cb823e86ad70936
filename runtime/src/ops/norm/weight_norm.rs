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
