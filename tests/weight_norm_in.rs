//! Weight Norm folded at expansion for `weights = "...";` networks: the folded type's
//! compiled-in weight is `g * v / ||v||` computed by the macro, bit for bit what the run-time
//! `fold` computes, and its inference equals the unfolded network's within rounding and
//! PyTorch's (values from `python3 reference/weights_in.py`).

monograd::network! {
    /// A Weight Norm dense layer (PyTorch's `weight_norm` parametrization in the file).
    struct TinyWn {
        input x: [3];
        h = linear(x, 2, weight_norm = true);
        weights = "tests/ui/tiny_wn.safetensors";
        output h;
    }
}

monograd::network! {
    /// Weight Norm, then a BatchNorm folded into the same layer, with a loss.
    struct TinyWnBn {
        input x: [3];
        h = linear(x, 2, weight_norm = true);
        n = batch_norm(h);
        loss = mse(n);
        weights = "tests/ui/tiny_wn_bn.safetensors";
    }
}

const X: [f32; 3] = [1.0, 2.0, 3.0];

fn assert_close(got: &[f32], want: &[f32], tolerance: f32) {
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= tolerance * w.abs().max(1.0),
            "{got:?} vs {want:?}"
        );
    }
}

#[test]
fn weight_norm_is_folded_into_one_weight_at_expansion() {
    // The folded type carries one weight tensor: [2, 3] + bias, not g, v and bias.
    assert_eq!(TinyWn::PARAMS, 2 + 6 + 2);
    assert_eq!(TinyWnFolded::PARAMS, 6 + 2);
    let net = TinyWn::from_weights();
    // Bit for bit the run-time fold (weight_norm_forward).
    assert_eq!(*net.fold().params, *TinyWnFolded::PARAMS_STATIC);
    let mut folded = [[0.0f32; 2]; 1];
    TinyWn::infer_static::<1>(&[X], &mut folded);
    // The unfolded network computes g v / ||v|| at every inference.
    assert_close(&folded[0], &net.predict(&X), 1e-6);
    // torch.nn.utils.parametrizations.weight_norm(nn.Linear(3, 2)).
    assert_close(&folded[0], &[4.677_922_2, 0.174_157_8], 1e-6);
    // g = 1.5 on the first row of v = [0.5, -0.25, 1.0] (norm 1.1456...): W = g v / ||v||.
    let norm = (0.5f32 * 0.5 + 0.25 * 0.25 + 1.0).sqrt();
    assert_eq!(TinyWnFolded::PARAMS_STATIC[0], (1.5 / norm) * 0.5);
}

#[test]
fn weight_norm_then_batch_norm_fold_together() {
    let net = TinyWnBn::from_weights();
    assert_eq!(net.num_batches_tracked, [7]);
    assert_eq!(*net.fold().params, *TinyWnBnFolded::PARAMS_STATIC);
    assert_eq!(TinyWnBnFolded::STATE, 0);
    let mut folded = [[0.0f32; 2]; 1];
    TinyWnBn::infer_static::<1>(&[X], &mut folded);
    assert_close(&folded[0], &net.predict(&X), 1e-6);
    // BatchNorm1d (eval) after the weight-normed layer, in PyTorch.
    assert_close(&folded[0], &[4.796_509, 0.630_246_6], 1e-5);
}
