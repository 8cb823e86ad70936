//! Linear (fully connected, "dense") layer with PyTorch `nn.Linear` semantics.
//!
//! For a batch `x: [B][IN]`, weight `W: [OUT][IN]` and optional bias `b: [OUT]`:
//!
//! - forward: `y[s][o] = sum_i x[s][i] * W[o][i] + b[o]`, i.e. `Y = X * W^T + b`;
//! - backward, given the upstream gradient `dy = dL/dy`:
//!   - input: `dx[s][i] = sum_o dy[s][o] * W[o][i]`, i.e. `dX = dY * W`;
//!   - weight: `dW[o][i] = sum_s dy[s][o] * x[s][i]`, i.e. `dW = dY^T * X`;
//!   - bias: `db[o] = sum_s dy[s][o]`.
//!
//! The input gradient and the parameter gradients are separate functions so that generated code
//! can skip `dx` for a first layer, whose input needs no gradient.
//!
//! # Packing scratch
//! Each function has a `_packed` variant taking `pack: &mut [T]`, scratch for the packed GEMM
//! (contents ignored on entry, unspecified on return): with at least [`linear_pack_len`]
//! elements, large batches run on the packed, cache-blocked kernels; with less (an empty slice
//! included) they run on the unpacked loops. Neither allocates.
//!
//! # Parameter block
//! `[weight: OUT x IN, row-major (W[o][i] at o * IN + i) | bias: OUT]`, i.e. PyTorch's
//! `weight` then `bias` tensors, flattened; [`linear_param_len`] elements. Without a bias the
//! block is the weight alone. No persistent state.

use crate::kernels::elementwise::{add_bias, sum_rows};
use crate::kernels::gemm::{
    matmul_a_b_pack_len, matmul_a_b_packed, matmul_a_bt_pack_len, matmul_a_bt_packed,
    matmul_at_b_pack_len, matmul_at_b_packed,
};
use crate::kernels::gemv::gemv;
use crate::kernels::small::{dense_vector, DENSE_VECTOR_MAX};
use crate::kernels::Store;
use crate::Scalar;

/// Length of a linear layer's parameter block: `output * input` weights, plus `output` biases
/// when `bias`.
pub const fn linear_param_len(input: usize, output: usize, bias: bool) -> usize {
    output * input + if bias { output } else { 0 }
}

/// Elements of packing scratch the `_packed` functions of a linear layer `input -> output` need
/// at batch size `batch` (the most any of its three products uses; 0 when every product is
/// small enough for the unpacked loops).
pub const fn linear_pack_len<T: Scalar>(batch: usize, input: usize, output: usize) -> usize {
    let forward = matmul_a_bt_pack_len::<T>(batch, input, output);
    let input_grad = matmul_a_b_pack_len::<T>(batch, output, input);
    let weight_grad = matmul_at_b_pack_len::<T>(output, batch, input);
    max(forward, max(input_grad, weight_grad))
}

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// Forward pass: `y = x * W^T + bias` (`y[s][o] = sum_i x[s][i] * W[o][i] + bias[o]`); without a
/// bias, `y = x * W^T`. `y` is overwritten, not read.
#[inline]
pub fn linear_forward<T: Scalar, const B: usize, const IN: usize, const OUT: usize>(
    x: &[[T; IN]; B],
    weight: &[[T; IN]; OUT],
    bias: Option<&[T; OUT]>,
    y: &mut [[T; OUT]; B],
) {
    linear_forward_packed(x, weight, bias, y, &mut []);
}

/// [`linear_forward`] with packing scratch (see the [module docs](self)).
///
/// One sample through a small layer (at most [`DENSE_VECTOR_MAX`] inputs and outputs, with
/// `std`) takes [`dense_vector`]: unrolled at the constant sizes and inlined into the caller, so
/// that a small network's inference is one straight run of code with its values in registers
/// (the same values up to the order of the adds). The choice folds at compile time. Without
/// `std` such layers keep the shared loops of [`crate::kernels::small`], whose code does not
/// grow with the layer (firmware).
///
/// One sample through a larger layer, with `std`, takes [`gemv`]: at batch 1 the product is
/// bound by the stream of the weights, and that kernel (f32 with AVX2 and FMA; the GEMM
/// otherwise) reads each weight once at about the speed of a plain read of them, where the
/// GEMM's dot-product tiles take 1.4x as long. Its sums are ordered differently from a row of a
/// batch (equal up to rounding).
#[inline(always)]
pub fn linear_forward_packed<T: Scalar, const B: usize, const IN: usize, const OUT: usize>(
    x: &[[T; IN]; B],
    weight: &[[T; IN]; OUT],
    bias: Option<&[T; OUT]>,
    y: &mut [[T; OUT]; B],
    pack: &mut [T],
) {
    if cfg!(feature = "std") && B == 1 && IN <= DENSE_VECTOR_MAX && OUT <= DENSE_VECTOR_MAX {
        if let (Some(x), Some(y)) = (x.first(), y.first_mut()) {
            dense_vector(x, weight, bias, y);
            return;
        }
    }
    if cfg!(feature = "std") && B == 1 {
        if let (Some(x), Some(y)) = (x.first(), y.first_mut()) {
            gemv(weight, x, bias, y);
            return;
        }
    }
    matmul_a_bt_packed(x, weight, y, Store::Overwrite, pack);
    if let Some(bias) = bias {
        add_bias(y, bias);
    }
}

/// Input gradient: `dx (store) dy * W` (`dx[s][i] (store) sum_o dy[s][o] * W[o][i]`).
#[inline]
pub fn linear_backward_input<T: Scalar, const B: usize, const IN: usize, const OUT: usize>(
    dy: &[[T; OUT]; B],
    weight: &[[T; IN]; OUT],
    dx: &mut [[T; IN]; B],
    store: Store,
) {
    linear_backward_input_packed(dy, weight, dx, store, &mut []);
}

/// [`linear_backward_input`] with packing scratch (see the [module docs](self)).
#[inline]
pub fn linear_backward_input_packed<
    T: Scalar,
    const B: usize,
    const IN: usize,
    const OUT: usize,
>(
    dy: &[[T; OUT]; B],
    weight: &[[T; IN]; OUT],
    dx: &mut [[T; IN]; B],
    store: Store,
    pack: &mut [T],
) {
    matmul_a_b_packed(dy, weight, dx, store, pack);
}

/// Parameter gradients: `weight_grad (store) dy^T * x` (`dW[o][i] (store) sum_s dy[s][o] *
/// x[s][i]`) and, when given, `bias_grad (store) sum_s dy[s]`. Both use the same `store`.
#[inline]
pub fn linear_backward_params<T: Scalar, const B: usize, const IN: usize, const OUT: usize>(
    x: &[[T; IN]; B],
    dy: &[[T; OUT]; B],
    weight_grad: &mut [[T; IN]; OUT],
    bias_grad: Option<&mut [T; OUT]>,
    store: Store,
) {
    linear_backward_params_packed(x, dy, weight_grad, bias_grad, store, &mut []);
}

/// [`linear_backward_params`] with packing scratch (see the [module docs](self)).
#[inline]
pub fn linear_backward_params_packed<
    T: Scalar,
    const B: usize,
    const IN: usize,
    const OUT: usize,
>(
    x: &[[T; IN]; B],
    dy: &[[T; OUT]; B],
    weight_grad: &mut [[T; IN]; OUT],
    bias_grad: Option<&mut [T; OUT]>,
    store: Store,
    pack: &mut [T],
) {
    matmul_at_b_packed(dy, x, weight_grad, store, pack);
    if let Some(bias_grad) = bias_grad {
        sum_rows(dy, bias_grad, store);
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    extern crate std;

    use super::*;
    use crate::gradcheck::assert_gradient;
    use crate::Rng;

    /// The inputs of reference/dense.py: an integer hash and one correctly rounded division,
    /// so Rust and Python get the same bits.
    fn value(seed: usize, i: usize) -> f64 {
        ((i * 7919 + seed * 104729) % 1009) as f64 / 504.5 - 1.0
    }

    fn filled<T: Scalar, const R: usize, const C: usize>(seed: usize) -> [[T; C]; R] {
        core::array::from_fn(|r| core::array::from_fn(|c| T::from_f64(value(seed, r * C + c))))
    }

    fn random<const R: usize, const C: usize>(rng: &mut Rng) -> [[f64; C]; R] {
        core::array::from_fn(|_| core::array::from_fn(|_| rng.uniform(-1.0, 1.0)))
    }

    fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len(), "{what}: lengths");
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= tol * w.abs().max(1.0),
                "{what}[{i}]: {g} vs {w} (tolerance {tol:e})"
            );
        }
    }

    const B: usize = reference::B;
    const IN: usize = reference::IN;
    const OUT: usize = reference::OUT;

    /// Forward and all three gradients against PyTorch, in T.
    fn check_reference<T: Scalar>(tol: f64) {
        let x: [[T; IN]; B] = filled(1);
        let weight: [[T; IN]; OUT] = filled(2);
        let bias: [[T; OUT]; 1] = filled(3);
        let dy: [[T; OUT]; B] = filled(4);
        let widen = |v: &[T]| {
            v.iter()
                .map(|&t| Scalar::to_f64(t))
                .collect::<std::vec::Vec<_>>()
        };

        let mut y = [[T::nan(); OUT]; B];
        linear_forward(&x, &weight, Some(&bias[0]), &mut y);
        assert_close("y", &widen(y.as_flattened()), &reference::Y, tol);

        let mut dx = [[T::nan(); IN]; B];
        linear_backward_input(&dy, &weight, &mut dx, Store::Overwrite);
        assert_close("dx", &widen(dx.as_flattened()), &reference::DX, tol);

        let mut dw = [[T::nan(); IN]; OUT];
        let mut db = [T::nan(); OUT];
        linear_backward_params(&x, &dy, &mut dw, Some(&mut db), Store::Overwrite);
        assert_close("dW", &widen(dw.as_flattened()), &reference::DW, tol);
        assert_close("db", &widen(&db), &reference::DB, tol);
    }

    #[test]
    fn matches_pytorch_f64() {
        check_reference::<f64>(1e-12);
    }

    #[test]
    fn matches_pytorch_f32() {
        check_reference::<f32>(1e-5);
    }

    #[test]
    fn without_bias_is_the_plain_product() {
        let x: [[f64; IN]; B] = filled(1);
        let weight: [[f64; IN]; OUT] = filled(2);
        let bias: [[f64; OUT]; 1] = filled(3);
        let mut y = [[f64::NAN; OUT]; B];
        linear_forward(&x, &weight, None, &mut y);
        let with_bias: std::vec::Vec<f64> = (0..B * OUT)
            .map(|i| reference::Y[i] - bias[0][i % OUT])
            .collect();
        assert_close("y without bias", y.as_flattened(), &with_bias, 1e-12);

        // Without a bias gradient, only dW is written.
        let dy: [[f64; OUT]; B] = filled(4);
        let mut dw = [[f64::NAN; IN]; OUT];
        linear_backward_params(&x, &dy, &mut dw, None, Store::Overwrite);
        assert_close("dW", dw.as_flattened(), &reference::DW, 1e-12);
    }

    #[test]
    fn accumulate_adds_to_previous_gradients() {
        let x: [[f64; IN]; B] = filled(1);
        let weight: [[f64; IN]; OUT] = filled(2);
        let dy: [[f64; OUT]; B] = filled(4);
        let mut dx: [[f64; IN]; B] = filled(5);
        let mut dw: [[f64; IN]; OUT] = filled(6);
        let mut db: [[f64; OUT]; 1] = filled(7);
        let (dx0, dw0, db0) = (dx, dw, db);
        linear_backward_input(&dy, &weight, &mut dx, Store::Accumulate);
        linear_backward_params(&x, &dy, &mut dw, Some(&mut db[0]), Store::Accumulate);
        let plus = |old: &[f64], new: &[f64]| -> std::vec::Vec<f64> {
            old.iter().zip(new).map(|(a, b)| a + b).collect()
        };
        assert_close(
            "dx",
            dx.as_flattened(),
            &plus(dx0.as_flattened(), &reference::DX),
            1e-12,
        );
        assert_close(
            "dW",
            dw.as_flattened(),
            &plus(dw0.as_flattened(), &reference::DW),
            1e-12,
        );
        assert_close("db", &db[0], &plus(&db0[0], &reference::DB), 1e-12);
    }

    /// Finite differences of `loss = sum(g * y)` (g random, fixed) for dx, dW and db.
    fn check_gradients<const BATCH: usize, const I: usize, const O: usize>(seed: u64) {
        let mut rng = Rng::new(seed);
        let x: [[f64; I]; BATCH] = random(&mut rng);
        let weight: [[f64; I]; O] = random(&mut rng);
        let bias: [[f64; O]; 1] = random(&mut rng);
        let g: [[f64; O]; BATCH] = random(&mut rng);
        let loss = |x: &[[f64; I]; BATCH], w: &[[f64; I]; O], b: &[f64; O]| -> f64 {
            let mut y = [[0.0; O]; BATCH];
            linear_forward(x, w, Some(b), &mut y);
            y.as_flattened()
                .iter()
                .zip(g.as_flattened())
                .map(|(y, g)| y * g)
                .sum()
        };

        let mut dx = [[0.0; I]; BATCH];
        let mut dw = [[0.0; I]; O];
        let mut db = [0.0; O];
        linear_backward_input(&g, &weight, &mut dx, Store::Overwrite);
        linear_backward_params(&x, &g, &mut dw, Some(&mut db), Store::Overwrite);

        let what = |name: &str| std::format!("dense B={BATCH} IN={I} OUT={O}: {name}");
        let mut flat = x;
        assert_gradient(
            &what("dx"),
            |v| loss(as_array(v), &weight, &bias[0]),
            flat.as_flattened_mut(),
            dx.as_flattened(),
            1e-6,
        );
        let mut flat = weight;
        assert_gradient(
            &what("dW"),
            |v| loss(&x, as_array(v), &bias[0]),
            flat.as_flattened_mut(),
            dw.as_flattened(),
            1e-6,
        );
        let mut flat = bias[0];
        assert_gradient(
            &what("db"),
            |v| loss(&x, &weight, &as_array::<O, 1>(v)[0]),
            &mut flat,
            &db,
            1e-6,
        );
    }

    /// A flat slice seen as `[[f64; C]; R]` (test helper; the length is fixed by the caller).
    fn as_array<const C: usize, const R: usize>(v: &[f64]) -> &[[f64; C]; R] {
        v.as_chunks::<C>().0.try_into().expect("length R * C")
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_gradients::<3, 5, 4>(11);
        check_gradients::<1, 7, 3>(12);
        check_gradients::<9, 16, 12>(13);
    }

    /// Finite differences through the `_packed` functions, at sizes where all three products
    /// take the packed kernels (given the scratch).
    #[test]
    fn packed_gradients_match_finite_differences() {
        const BATCH: usize = 48;
        const I: usize = 33;
        const O: usize = 32;
        let mut pack = std::vec![f64::NAN; linear_pack_len::<f64>(BATCH, I, O)];
        assert!(!pack.is_empty(), "these sizes take the packed kernels");
        let mut rng = Rng::new(14);
        let x: [[f64; I]; BATCH] = random(&mut rng);
        let weight: [[f64; I]; O] = random(&mut rng);
        let bias: [f64; O] = random::<1, O>(&mut rng)[0];
        let g: [[f64; O]; BATCH] = random(&mut rng);
        let mut loss_pack = pack.clone();
        let mut loss = |x: &[[f64; I]; BATCH], w: &[[f64; I]; O]| -> f64 {
            let mut y = [[0.0; O]; BATCH];
            linear_forward_packed(x, w, Some(&bias), &mut y, &mut loss_pack);
            y.as_flattened()
                .iter()
                .zip(g.as_flattened())
                .map(|(y, g)| y * g)
                .sum()
        };
        let mut dx = [[f64::NAN; I]; BATCH];
        let mut dw = [[f64::NAN; I]; O];
        linear_backward_input_packed(&g, &weight, &mut dx, Store::Overwrite, &mut pack);
        linear_backward_params_packed(&x, &g, &mut dw, None, Store::Overwrite, &mut pack);
        let mut flat = x;
        assert_gradient(
            "dense packed: dx",
            |v| loss(as_array(v), &weight),
            flat.as_flattened_mut(),
            dx.as_flattened(),
            1e-6,
        );
        let mut flat = weight;
        assert_gradient(
            "dense packed: dW",
            |v| loss(&x, as_array(v)),
            flat.as_flattened_mut(),
            dw.as_flattened(),
            1e-6,
        );
    }

    /// The `_packed` functions against the plain ones (which run the unpacked loops), in f32 at
    /// W1's first layer, with too short a scratch (unpacked fallback) and with enough.
    #[test]
    fn packed_matches_unpacked() {
        const BATCH: usize = 64;
        const I: usize = 300;
        const O: usize = 70;
        let mut rng = Rng::new(15);
        let normal = |rng: &mut Rng| -> f32 { rng.uniform(-1.0, 1.0) };
        let x: std::boxed::Box<[[f32; I]; BATCH]> =
            std::boxed::Box::new(core::array::from_fn(|_| {
                core::array::from_fn(|_| normal(&mut rng))
            }));
        let w: std::boxed::Box<[[f32; I]; O]> = std::boxed::Box::new(core::array::from_fn(|_| {
            core::array::from_fn(|_| normal(&mut rng))
        }));
        let dy: [[f32; O]; BATCH] =
            core::array::from_fn(|_| core::array::from_fn(|_| normal(&mut rng)));
        let len = linear_pack_len::<f32>(BATCH, I, O);
        assert!(len > 0);
        for pack_len in [len, len - 1, 0] {
            let mut pack = std::vec![f32::NAN; pack_len];
            let (mut y0, mut y1) = ([[0.0; O]; BATCH], [[f32::NAN; O]; BATCH]);
            linear_forward(&x, &w, None, &mut y0);
            linear_forward_packed(&x, &w, None, &mut y1, &mut pack);
            let (mut dx0, mut dx1) = (std::vec![[1.0; I]; BATCH], std::vec![[1.0; I]; BATCH]);
            let dx0a: &mut [[f32; I]; BATCH] = (&mut dx0[..]).try_into().unwrap();
            let dx1a: &mut [[f32; I]; BATCH] = (&mut dx1[..]).try_into().unwrap();
            linear_backward_input(&dy, &w, dx0a, Store::Accumulate);
            linear_backward_input_packed(&dy, &w, dx1a, Store::Accumulate, &mut pack);
            let (mut dw0, mut dw1) = (std::vec![[0.5; I]; O], std::vec![[0.5; I]; O]);
            let dw0a: &mut [[f32; I]; O] = (&mut dw0[..]).try_into().unwrap();
            let dw1a: &mut [[f32; I]; O] = (&mut dw1[..]).try_into().unwrap();
            linear_backward_params(&x, &dy, dw0a, None, Store::Accumulate);
            linear_backward_params_packed(&x, &dy, dw1a, None, Store::Accumulate, &mut pack);
            let widen = |v: &[f32]| v.iter().map(|&t| t as f64).collect::<std::vec::Vec<_>>();
            let what = |name: &str| std::format!("{name}, scratch {pack_len} of {len}");
            assert_close(
                &what("y"),
                &widen(y1.as_flattened()),
                &widen(y0.as_flattened()),
                1e-4,
            );
            assert_close(
                &what("dx"),
                &widen(dx1.as_flattened()),
                &widen(dx0.as_flattened()),
                1e-4,
            );
            assert_close(
                &what("dW"),
                &widen(dw1.as_flattened()),
                &widen(dw0.as_flattened()),
                1e-4,
            );
        }
    }

    #[test]
    fn pack_len_covers_the_three_products() {
        // W1's first layer at batch 64 packs; batch-1 inference and a tiny layer do not.
        assert!(linear_pack_len::<f32>(64, 784, 256) > 0);
        assert_eq!(linear_pack_len::<f32>(1, 2, 16), 0);
        assert!(linear_pack_len::<f32>(64, 784, 256) <= (96 + 512) * 256);
    }

    #[test]
    fn batch_of_one() {
        let x = [[1.0f32, -2.0, 0.5]];
        let weight = [[0.5f32, 1.0, 2.0], [-1.0, 0.0, 4.0]];
        let bias = [0.25f32, -0.5];
        let mut y = [[f32::NAN; 2]];
        linear_forward(&x, &weight, Some(&bias), &mut y);
        assert_eq!(y, [[0.5 - 2.0 + 1.0 + 0.25, -1.0 + 2.0 - 0.5]]);

        let dy = [[2.0f32, -1.0]];
        let mut dx = [[f32::NAN; 3]];
        linear_backward_input(&dy, &weight, &mut dx, Store::Overwrite);
        assert_eq!(dx, [[1.0 + 1.0, 2.0, 4.0 - 4.0]]);
        let mut dw = [[f32::NAN; 3]; 2];
        let mut db = [f32::NAN; 2];
        linear_backward_params(&x, &dy, &mut dw, Some(&mut db), Store::Overwrite);
        assert_eq!(dw, [[2.0, -4.0, 1.0], [-1.0, 2.0, -0.5]]);
        assert_eq!(db, [2.0, -1.0]);
    }

    /// One sample through a layer past `dense_vector`'s sizes (the GEMV kernel where the CPU
    /// has it) against the same sample's row of a batch (the GEMM), in f32, with and without a
    /// bias: equal up to rounding.
    #[test]
    fn batch_of_one_matches_a_row_of_a_batch() {
        const I: usize = 100;
        const O: usize = 70;
        let x: [[f32; I]; 3] = filled(1);
        let weight: [[f32; I]; O] = filled(2);
        let bias: [[f32; O]; 1] = filled(3);
        for b in [None, Some(&bias[0])] {
            let mut batch = [[f32::NAN; O]; 3];
            linear_forward(&x, &weight, b, &mut batch);
            for (row, want) in x.iter().zip(&batch) {
                let mut one = [[f32::NAN; O]];
                linear_forward(core::array::from_ref(row), &weight, b, &mut one);
                let widen = |v: &[f32]| v.iter().map(|&t| t as f64).collect::<std::vec::Vec<_>>();
                assert_close("y", &widen(&one[0]), &widen(want), 1e-5);
            }
        }
    }

    #[test]
    fn param_len_is_weight_then_bias() {
        assert_eq!(linear_param_len(784, 256, true), 784 * 256 + 256);
        assert_eq!(linear_param_len(2, 16, false), 32);
    }

    /// Generated by reference/dense.py (PyTorch, float64); do not edit by hand.
    #[rustfmt::skip]
    mod reference {
        pub const B: usize = 3;
        pub const IN: usize = 5;
        pub const OUT: usize = 4;
        pub const Y: [f64; 12] = [-0.5219859716466566, 0.3807791325051739, -1.142620282669061, -0.025781838576694693, -0.9464256773282284, -0.8086763233966648, 0.9029085112088332, 0.2874368542385134, -0.7643242531782833, -1.3915906494669874, -0.4450215650817569, 1.2071966768852378];
        pub const DX: [f64; 15] = [-1.5491223193439423, 0.07195694645121549, 0.18857635099761214, 1.2031144869612536, 0.03727601241944401, 0.5973827229856957, 0.05078377850092469, 0.4258894920934581, -0.7272505822228289, -0.0607672670445671, 0.2979016404392185, 0.37054222601148645, -0.20894801101287605, -0.7428485552721248, 0.5428742899631758];
        pub const DW: [f64; 20] = [-0.9262887727007969, -0.7674605458701221, 0.9652031616344868, 0.8326537868794328, 0.7001044121243791, -0.6897437433760183, -0.8615375397438906, 0.5405041445621714, 0.6838738764400867, 0.8272436083180023, 0.7261868161767089, -0.38277013322122716, 0.08210839805477178, -0.10514389326585989, -0.2923961845864915, 0.9627318455014876, -0.4768471270949954, -0.3425906190175438, -0.2539238037052062, -0.1652569883928685];
        pub const DB: [f64; 4] = [0.4370664023785926, -0.4727452923686819, 0.6174430128840436, -0.29236868186323095];
    }
}
