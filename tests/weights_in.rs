//! Weights compiled into the declaration (`weights = "...";`): the values of the file (made by
//! `python3 reference/weights_in.py`) are the network's, from any float dtype, in a `static`.

monograd::network! {
    /// Inference only, F32 file.
    struct Tiny {
        input x: [3];
        h = linear(x, 2);
        weights = "tests/ui/tiny.safetensors";
        output h;
    }
}

monograd::network! {
    /// The same layer from an F16 file, with a loss (a network that can also train).
    struct TinyHalf {
        input x: [3];
        h = linear(x, 2);
        loss = mse(h);
        weights = "tests/ui/tiny_f16.safetensors";
    }
}

monograd::network! {
    /// BF16 file, f64 network.
    struct TinyBf16 {
        type Element = f64;
        input x: [3];
        h = linear(x, 2);
        weights = "tests/ui/tiny_bf16.safetensors";
        output h;
    }
}

/// `torch.nn.Linear` with the fixture's weight and bias on `[1, 2, 3]` (reference/weights_in.py).
const EXPECTED: [f32; 2] = [3.75, -2.75];

#[test]
fn compiled_in_values_are_the_files() {
    assert_eq!(
        Tiny::PARAMS_STATIC,
        &[0.5, -0.25, 1.0, 2.0, 0.125, -1.5, 0.75, -0.5]
    );
    assert_eq!(Tiny::PARAMS_STATIC, TinyHalf::PARAMS_STATIC);
    assert_eq!(
        TinyBf16::PARAMS_STATIC.map(|v| v as f32),
        *Tiny::PARAMS_STATIC
    );
    assert_eq!(Tiny::WEIGHTS_FILE, "tests/ui/tiny.safetensors");
    // One static: every use of the const is the same address.
    assert!(core::ptr::eq(Tiny::PARAMS_STATIC, Tiny::PARAMS_STATIC));
}

#[test]
fn infer_static_matches_the_reference_and_the_runtime_loader() {
    let mut out = [[0.0f32; 2]; 1];
    Tiny::infer_static::<1>(&[[1.0, 2.0, 3.0]], &mut out);
    assert_eq!(out[0], EXPECTED);
    let loaded = Tiny::load("tests/ui/tiny.safetensors").unwrap();
    assert_eq!(loaded.predict(&[1.0, 2.0, 3.0]), EXPECTED);
    assert_eq!(Tiny::from_weights().predict(&[1.0, 2.0, 3.0]), EXPECTED);
    assert_eq!(TinyHalf::from_weights().predict(&[1.0, 2.0, 3.0]), EXPECTED);
    let mut out64 = [[0.0f64; 2]; 1];
    TinyBf16::infer_static::<1>(&[[1.0, 2.0, 3.0]], &mut out64);
    assert_eq!(out64[0], EXPECTED.map(f64::from));
}

monograd::network! {
    /// A BatchNorm after the dense layer: folded into it at expansion.
    struct TinyBn {
        input x: [3];
        h = linear(x, 2);
        n = batch_norm(h);
        weights = "tests/ui/tiny_bn.safetensors";
        output n;
    }
}

#[test]
fn batch_norm_is_folded_at_expansion_as_fold_does_at_run_time() {
    let net = TinyBn::from_weights();
    assert_eq!(net.num_batches_tracked, [7]);
    assert_eq!(*net.params, *TinyBn::PARAMS_STATIC);
    assert_eq!(*net.state, *TinyBn::STATE_STATIC);
    let folded = net.fold();
    // Bit for bit the run-time fold's values.
    assert_eq!(*folded.params, *TinyBnFolded::PARAMS_STATIC);
    assert_eq!(TinyBnFolded::STATE, 0);
    let x = [[1.0f32, 2.0, 3.0]];
    let mut out = [[0.0f32; 2]; 1];
    TinyBn::infer_static::<1>(&x, &mut out);
    assert_eq!(out[0], folded.predict(&x[0]));
    // PyTorch's BatchNorm1d in eval mode on the unfolded layer (reference/weights_in.py).
    let expected = [3.812_301_2f32, -1.437_424_4];
    for (got, want) in out[0].iter().zip(expected) {
        assert!((got - want).abs() <= 1e-5, "{got} vs {want}");
    }
    for (got, want) in net.predict(&x[0]).iter().zip(expected) {
        assert!((got - want).abs() <= 1e-5, "{got} vs {want}");
    }
}
