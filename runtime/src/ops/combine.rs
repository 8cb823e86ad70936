//! The DAG ops that join two branches: element-wise `add` (residual connections), `sub` and
//! `mul` (gating), `concat` along the first per-sample dimension, and `scale` by a constant.
//!
//! All work on flattened per-sample tensors, so one kernel serves vectors `[N]` and images
//! `[C, H, W]`: concatenating two images along channels, `[CA, H, W] ++ [CB, H, W] ->
//! [CA + CB, H, W]`, is concatenating their flat vectors (`NA = CA H W`, `NB = CB H W`), because
//! the channel is the outermost per-sample dimension. None of these ops has parameters.
//!
//! Backward functions take one input at a time (`dx (store) ...`), so that an input without a
//! gradient costs nothing and `mul(a, a)` (both inputs the same buffer) needs no aliasing: its
//! two calls accumulate `dy * a` twice, `2 a dy`, the derivative of `a^2`.

use crate::kernels::Store;
use crate::Scalar;

/// `out[b] = a[b] + b[b]`.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn add_forward<T: Scalar, const B: usize, const N: usize>(
    a: &[[T; N]; B],
    b: &[[T; N]; B],
    out: &mut [[T; N]; B],
) {
    for ((ra, rb), ro) in a.iter().zip(b).zip(out.iter_mut()) {
        for ((&va, &vb), o) in ra.iter().zip(rb).zip(ro.iter_mut()) {
            *o = va + vb;
        }
    }
}

/// Backward of [`add_forward`] for one input: `dx (store) dy` (each input receives the upstream
/// gradient unchanged). One call per input that needs a gradient, so that an input without one
/// costs nothing and `add(a, a)` (both inputs the same buffer) needs no aliasing.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn add_backward<T: Scalar, const B: usize, const N: usize>(
    dy: &[[T; N]; B],
    dx: &mut [[T; N]; B],
    store: Store,
) {
    store_copy(dy.as_flattened(), dx.as_flattened_mut(), store);
}

/// `out[b] = [a[b], b[b]]`: the `NA` elements of `a` then the `NB` of `b` (channel concatenation
/// of `[C, H, W]` images, see the module docs). `NOUT == NA + NB` is checked at compile time.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn concat_forward<
    T: Scalar,
    const B: usize,
    const NA: usize,
    const NB: usize,
    const NOUT: usize,
>(
    a: &[[T; NA]; B],
    b: &[[T; NB]; B],
    out: &mut [[T; NOUT]; B],
) {
    const { assert!(NOUT == NA + NB, "concat: NOUT must equal NA + NB") };
    for ((ra, rb), ro) in a.iter().zip(b).zip(out.iter_mut()) {
        let (oa, ob) = ro.split_at_mut(NA);
        oa.copy_from_slice(ra);
        ob.copy_from_slice(rb);
    }
}

/// Backward of [`concat_forward`] for the first input: `da (store) dy[.., ..NA]`. One call per
/// input that needs a gradient (see [`add_backward`]).
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn concat_backward_first<
    T: Scalar,
    const B: usize,
    const NA: usize,
    const NB: usize,
    const NOUT: usize,
>(
    dy: &[[T; NOUT]; B],
    da: &mut [[T; NA]; B],
    store: Store,
) {
    const { assert!(NOUT == NA + NB, "concat: NOUT must equal NA + NB") };
    for (rd, ra) in dy.iter().zip(da.iter_mut()) {
        store_copy(&rd[..NA], ra, store);
    }
}

/// Backward of [`concat_forward`] for the second input: `db (store) dy[.., NA..]`.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn concat_backward_second<
    T: Scalar,
    const B: usize,
    const NA: usize,
    const NB: usize,
    const NOUT: usize,
>(
    dy: &[[T; NOUT]; B],
    db: &mut [[T; NB]; B],
    store: Store,
) {
    const { assert!(NOUT == NA + NB, "concat: NOUT must equal NA + NB") };
    for (rd, rb) in dy.iter().zip(db.iter_mut()) {
        store_copy(&rd[NA..], rb, store);
    }
}

/// `out[b] = a[b] - b[b]` (PyTorch `torch.sub`). The first input's backward is
/// [`add_backward`] (`da (store) dy`), the second's [`sub_backward_second`].
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn sub_forward<T: Scalar, const B: usize, const N: usize>(
    a: &[[T; N]; B],
    b: &[[T; N]; B],
    out: &mut [[T; N]; B],
) {
    for ((ra, rb), ro) in a.iter().zip(b).zip(out.iter_mut()) {
        for ((&va, &vb), o) in ra.iter().zip(rb).zip(ro.iter_mut()) {
            *o = va - vb;
        }
    }
}

/// Backward of [`sub_forward`] for the second input: `db (store) -dy`.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn sub_backward_second<T: Scalar, const B: usize, const N: usize>(
    dy: &[[T; N]; B],
    db: &mut [[T; N]; B],
    store: Store,
) {
    for (&g, d) in dy.as_flattened().iter().zip(db.as_flattened_mut()) {
        store.apply(d, -g);
    }
}

/// `out[b] = a[b] * b[b]`, element-wise (PyTorch `torch.mul`; gating).
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn mul_forward<T: Scalar, const B: usize, const N: usize>(
    a: &[[T; N]; B],
    b: &[[T; N]; B],
    out: &mut [[T; N]; B],
) {
    for ((ra, rb), ro) in a.iter().zip(b).zip(out.iter_mut()) {
        for ((&va, &vb), o) in ra.iter().zip(rb).zip(ro.iter_mut()) {
            *o = va * vb;
        }
    }
}

/// Backward of [`mul_forward`] for one input: `dx (store) dy * other`, where `other` is the
/// values of the other input (`b` for `da`, `a` for `db`).
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn mul_backward<T: Scalar, const B: usize, const N: usize>(
    dy: &[[T; N]; B],
    other: &[[T; N]; B],
    dx: &mut [[T; N]; B],
    store: Store,
) {
    let pairs = dy.as_flattened().iter().zip(other.as_flattened());
    for ((&g, &o), d) in pairs.zip(dx.as_flattened_mut()) {
        store.apply(d, g * o);
    }
}

/// `out[b] = k * x[b]` for a constant `k` (PyTorch `x * k`).
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn scale_forward<T: Scalar, const B: usize, const N: usize>(
    x: &[[T; N]; B],
    k: T,
    out: &mut [[T; N]; B],
) {
    for (&v, o) in x.as_flattened().iter().zip(out.as_flattened_mut()) {
        *o = k * v;
    }
}

/// Backward of [`scale_forward`]: `dx (store) k * dy`.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn scale_backward<T: Scalar, const B: usize, const N: usize>(
    dy: &[[T; N]; B],
    k: T,
    dx: &mut [[T; N]; B],
    store: Store,
) {
    for (&g, d) in dy.as_flattened().iter().zip(dx.as_flattened_mut()) {
        store.apply(d, k * g);
    }
}

/// `dst (store) src` over equally long slices.
#[inline]
fn store_copy<T: Scalar>(src: &[T], dst: &mut [T], store: Store) {
    match store {
        Store::Overwrite => dst.copy_from_slice(src),
        Store::Accumulate => {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d += s;
            }
        }
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::gradcheck::assert_gradient;

    // Upstream weights for loss = sum(w * y): distinct, non-trivial.
    fn weights<const N: usize>(seed: usize) -> [f64; N] {
        core::array::from_fn(|i| ((i * 7 + seed * 13) % 11) as f64 / 5.0 - 1.0)
    }

    #[test]
    fn add_values_gradients_and_accumulation() {
        let a = [[1.0, -2.0, 0.5], [3.0, 4.0, -1.5]];
        let b = [[0.25, 2.0, 1.0], [-3.0, 1.0, 0.5]];
        let mut y = [[f64::NAN; 3]; 2];
        add_forward(&a, &b, &mut y);
        assert_eq!(y, [[1.25, 0.0, 1.5], [0.0, 5.0, -1.0]]);

        let w = [weights::<3>(1), weights::<3>(2)];
        let loss = |a: &[[f64; 3]; 2], b: &[[f64; 3]; 2]| {
            let mut y = [[0.0; 3]; 2];
            add_forward(a, b, &mut y);
            y.as_flattened()
                .iter()
                .zip(w.as_flattened())
                .map(|(y, w)| y * w)
                .sum::<f64>()
        };
        let (mut da, mut db) = ([[f64::NAN; 3]; 2], [[f64::NAN; 3]; 2]);
        add_backward(&w, &mut da, Store::Overwrite);
        add_backward(&w, &mut db, Store::Overwrite);
        let mut flat_a = *a.as_flattened().first_chunk::<6>().unwrap();
        assert_gradient(
            "add: da",
            |v| loss(&to_batch(v), &b),
            &mut flat_a,
            da.as_flattened(),
            1e-6,
        );
        let mut flat_b = *b.as_flattened().first_chunk::<6>().unwrap();
        assert_gradient(
            "add: db",
            |v| loss(&a, &to_batch(v)),
            &mut flat_b,
            db.as_flattened(),
            1e-6,
        );

        let (mut da2, mut db2) = ([[1.0; 3]; 2], [[-2.0; 3]; 2]);
        add_backward(&w, &mut da2, Store::Accumulate);
        add_backward(&w, &mut db2, Store::Overwrite);
        for i in 0..6 {
            assert_eq!(da2.as_flattened()[i], 1.0 + da.as_flattened()[i]);
            assert_eq!(db2.as_flattened()[i], db.as_flattened()[i]);
        }
    }

    fn to_batch<const N: usize, const B: usize>(v: &[f64]) -> [[f64; N]; B] {
        core::array::from_fn(|b| core::array::from_fn(|i| v[b * N + i]))
    }

    #[test]
    fn concat_of_images_is_channel_concatenation() {
        // a: [2, 1, 2] images, b: [1, 1, 2] images, batch 2.
        let a = [[1.0f32, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]];
        let b = [[-1.0f32, -2.0], [-3.0, -4.0]];
        let mut y = [[f32::NAN; 6]; 2];
        concat_forward(&a, &b, &mut y);
        assert_eq!(
            y,
            [
                [1.0, 2.0, 3.0, 4.0, -1.0, -2.0],
                [5.0, 6.0, 7.0, 8.0, -3.0, -4.0]
            ]
        );
    }

    #[test]
    fn concat_gradients_and_accumulation() {
        let a: [[f64; 3]; 2] = [weights(3), weights(4)];
        let b: [[f64; 2]; 2] = [weights(5), weights(6)];
        let w: [[f64; 5]; 2] = [weights(7), weights(8)];
        let loss = |a: &[[f64; 3]; 2], b: &[[f64; 2]; 2]| {
            let mut y = [[0.0; 5]; 2];
            concat_forward(a, b, &mut y);
            y.as_flattened()
                .iter()
                .zip(w.as_flattened())
                .map(|(y, w)| y * y * w)
                .sum::<f64>()
        };
        // loss = sum(w y^2): upstream gradient 2 w y.
        let mut y = [[0.0; 5]; 2];
        concat_forward(&a, &b, &mut y);
        let dy: [[f64; 5]; 2] =
            core::array::from_fn(|s| core::array::from_fn(|i| 2.0 * w[s][i] * y[s][i]));
        let (mut da, mut db) = ([[f64::NAN; 3]; 2], [[f64::NAN; 2]; 2]);
        concat_backward_first::<f64, 2, 3, 2, 5>(&dy, &mut da, Store::Overwrite);
        concat_backward_second::<f64, 2, 3, 2, 5>(&dy, &mut db, Store::Overwrite);
        let mut flat_a = *a.as_flattened().first_chunk::<6>().unwrap();
        assert_gradient(
            "concat: da",
            |v| loss(&to_batch(v), &b),
            &mut flat_a,
            da.as_flattened(),
            1e-6,
        );
        let mut flat_b = *b.as_flattened().first_chunk::<4>().unwrap();
        assert_gradient(
            "concat: db",
            |v| loss(&a, &to_batch(v)),
            &mut flat_b,
            db.as_flattened(),
            1e-6,
        );

        let (mut da2, mut db2) = ([[0.5; 3]; 2], [[0.25; 2]; 2]);
        concat_backward_first::<f64, 2, 3, 2, 5>(&dy, &mut da2, Store::Overwrite);
        concat_backward_second::<f64, 2, 3, 2, 5>(&dy, &mut db2, Store::Accumulate);
        assert_eq!(da2, da);
        for (v2, v) in db2.as_flattened().iter().zip(db.as_flattened()) {
            assert_eq!(*v2, 0.25 + v);
        }
    }

    const A: [[f64; 3]; 2] = [[1.5, -2.0, 0.25], [3.0, -0.75, 4.5]];
    const B_: [[f64; 3]; 2] = [[0.5, 2.5, -1.25], [-3.5, 1.0, 0.125]];
    const W: [[f64; 3]; 2] = [[0.3, -1.2, 0.7], [2.1, -0.4, 1.5]];
    const K: f64 = -2.5;

    fn assert_close(what: &str, got: &[[f64; 3]; 2], want: &[[f64; 3]; 2]) {
        for (g, w) in got.as_flattened().iter().zip(want.as_flattened()) {
            assert!((g - w).abs() <= 1e-12, "{what}: {got:?} != {want:?}");
        }
    }

    /// `sum(W * f(a, b))`, the loss whose gradients reference/combine.py gives.
    fn weighted(
        f: impl Fn(&[[f64; 3]; 2], &[[f64; 3]; 2], &mut [[f64; 3]; 2]),
    ) -> impl Fn(&[[f64; 3]; 2], &[[f64; 3]; 2]) -> f64 {
        move |a, b| {
            let mut y = [[0.0; 3]; 2];
            f(a, b, &mut y);
            y.as_flattened()
                .iter()
                .zip(W.as_flattened())
                .map(|(y, w)| y * w)
                .sum()
        }
    }

    #[test]
    fn sub_matches_pytorch_and_finite_differences() {
        let mut y = [[f64::NAN; 3]; 2];
        sub_forward(&A, &B_, &mut y);
        assert_close("sub y", &y, &reference::SUB_Y);
        let (mut da, mut db) = ([[f64::NAN; 3]; 2], [[f64::NAN; 3]; 2]);
        add_backward(&W, &mut da, Store::Overwrite);
        sub_backward_second(&W, &mut db, Store::Overwrite);
        assert_close("sub da", &da, &reference::SUB_DA);
        assert_close("sub db", &db, &reference::SUB_DB);
        let loss = weighted(sub_forward);
        let mut flat_b = *B_.as_flattened().first_chunk::<6>().unwrap();
        assert_gradient(
            "sub: db",
            |v| loss(&A, &to_batch(v)),
            &mut flat_b,
            db.as_flattened(),
            1e-6,
        );
        let mut acc = [[1.0; 3]; 2];
        sub_backward_second(&W, &mut acc, Store::Accumulate);
        for (v, d) in acc.as_flattened().iter().zip(db.as_flattened()) {
            assert_eq!(*v, 1.0 + d);
        }
    }

    #[test]
    fn mul_matches_pytorch_and_finite_differences() {
        let mut y = [[f64::NAN; 3]; 2];
        mul_forward(&A, &B_, &mut y);
        assert_close("mul y", &y, &reference::MUL_Y);
        let (mut da, mut db) = ([[f64::NAN; 3]; 2], [[f64::NAN; 3]; 2]);
        mul_backward(&W, &B_, &mut da, Store::Overwrite);
        mul_backward(&W, &A, &mut db, Store::Overwrite);
        assert_close("mul da", &da, &reference::MUL_DA);
        assert_close("mul db", &db, &reference::MUL_DB);
        let loss = weighted(mul_forward);
        let mut flat_a = *A.as_flattened().first_chunk::<6>().unwrap();
        assert_gradient(
            "mul: da",
            |v| loss(&to_batch(v), &B_),
            &mut flat_a,
            da.as_flattened(),
            1e-6,
        );
        let mut flat_b = *B_.as_flattened().first_chunk::<6>().unwrap();
        assert_gradient(
            "mul: db",
            |v| loss(&A, &to_batch(v)),
            &mut flat_b,
            db.as_flattened(),
            1e-6,
        );
        // mul(a, a): the two calls accumulate into one buffer, d(a^2) = 2 a dy.
        let mut dsq = [[f64::NAN; 3]; 2];
        mul_backward(&W, &A, &mut dsq, Store::Overwrite);
        mul_backward(&W, &A, &mut dsq, Store::Accumulate);
        let mut flat_a = *A.as_flattened().first_chunk::<6>().unwrap();
        assert_gradient(
            "mul: a * a",
            |v| {
                let a = to_batch(v);
                loss(&a, &a)
            },
            &mut flat_a,
            dsq.as_flattened(),
            1e-6,
        );
    }

    #[test]
    fn scale_matches_pytorch_and_finite_differences() {
        let mut y = [[f64::NAN; 3]; 2];
        scale_forward(&A, K, &mut y);
        assert_close("scale y", &y, &reference::SCALE_Y);
        let mut dx = [[f64::NAN; 3]; 2];
        scale_backward(&W, K, &mut dx, Store::Overwrite);
        assert_close("scale dx", &dx, &reference::SCALE_DX);
        let loss = weighted(|a, _, y| scale_forward(a, K, y));
        let mut flat_a = *A.as_flattened().first_chunk::<6>().unwrap();
        assert_gradient(
            "scale: dx",
            |v| loss(&to_batch(v), &B_),
            &mut flat_a,
            dx.as_flattened(),
            1e-6,
        );
        let mut f32_y = [[f32::NAN; 2]; 1];
        scale_forward(&[[1.5f32, -4.0]], 0.5, &mut f32_y);
        assert_eq!(f32_y, [[0.75, -2.0]]);
    }
}

/// Generated by reference/combine.py (PyTorch, float64); do not edit by hand.
#[cfg(all(test, feature = "alloc"))]
#[rustfmt::skip]
mod reference {
    pub const SUB_Y: [[f64; 3]; 2] = [[1.0, -4.5, 1.5], [6.5, -1.75, 4.375]];
    pub const SUB_DA: [[f64; 3]; 2] = [[0.3, -1.2, 0.7], [2.1, -0.4, 1.5]];
    pub const SUB_DB: [[f64; 3]; 2] = [[-0.3, 1.2, -0.7], [-2.1, 0.4, -1.5]];
    pub const MUL_Y: [[f64; 3]; 2] = [[0.75, -5.0, -0.3125], [-10.5, -0.75, 0.5625]];
    pub const MUL_DA: [[f64; 3]; 2] = [[0.15, -3.0, -0.875], [-7.3500000000000005, -0.4, 0.1875]];
    pub const MUL_DB: [[f64; 3]; 2] = [[0.44999999999999996, 2.4, 0.175], [6.300000000000001, 0.30000000000000004, 6.75]];
    pub const SCALE_Y: [[f64; 3]; 2] = [[-3.75, 5.0, -0.625], [-7.5, 1.875, -11.25]];
    pub const SCALE_DX: [[f64; 3]; 2] = [[-0.75, 3.0, -1.75], [-5.25, 1.0, -3.75]];
}
