//! Weights files of generated networks: the PyTorch twin in both directions, round trips,
//! conversion, and loads that fail without touching the network.
//!
//! The files in `tests/data/` come from `python3 reference/io_twin.py` (PyTorch's side) and from
//! `MONOGRAD_BLESS=1 cargo test --test weights` (monograd's side, which the script then loads
//! into PyTorch with `load_state_dict(strict=True)`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use monograd::prelude::*;
use monograd::runtime::io::{LoadOptions, WeightsErrorKind};

#[path = "data/pytorch_twin.rs"]
mod pytorch_twin;
use pytorch_twin::{INPUTS, OUTPUTS};

monograd::network! {
    /// The declaration whose PyTorch twin is `Twin` in reference/io_twin.py.
    pub struct Twin {
        input x: [1, 6, 6];
        c1 = conv2d(x, 3, kernel = 3, padding = 1);
        b1 = batch_norm(c1);
        a1 = relu(b1);
        p = max_pool2d(a1, 2);
        f = flatten(p);
        h = linear(f, 8, weight_norm = true);
        n = layer_norm(h);
        t = tanh(n);
        logits = linear(t, 4);
        loss = softmax_cross_entropy(logits);
    }
}

monograd::network! {
    /// The same declaration in f64.
    pub struct Twin64 {
        type Element = f64;
        input x: [1, 6, 6];
        c1 = conv2d(x, 3, kernel = 3, padding = 1);
        b1 = batch_norm(c1);
        a1 = relu(b1);
        p = max_pool2d(a1, 2);
        f = flatten(p);
        h = linear(f, 8, weight_norm = true);
        n = layer_norm(h);
        t = tanh(n);
        logits = linear(t, 4);
        loss = softmax_cross_entropy(logits);
    }
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Largest `|a - b| / max(|b|, 1e-3)` over the outputs.
fn max_relative(a: &[[f32; 4]; 5], b: &[[f32; 4]; 5]) -> f64 {
    let mut worst = 0.0f64;
    for (ra, rb) in a.iter().zip(b) {
        for (&x, &y) in ra.iter().zip(rb) {
            worst = worst.max((x as f64 - y as f64).abs() / (y.abs() as f64).max(1e-3));
        }
    }
    worst
}

/// Name -> (dtype, shape) of every tensor in a safetensors file.
fn layout(bytes: &[u8]) -> BTreeMap<String, (String, Vec<usize>)> {
    let st = safetensors::SafeTensors::deserialize(bytes).unwrap();
    st.iter()
        .map(|(name, view)| {
            (
                name.to_string(),
                (view.dtype().to_string(), view.shape().to_vec()),
            )
        })
        .collect()
}

#[test]
fn a_pytorch_trained_model_loads_and_reproduces_its_outputs() {
    let net = Twin::load(data("pytorch_twin.safetensors")).unwrap();
    assert_eq!(net.num_batches_tracked, [3]);
    assert!(net.state.iter().any(|&v| v != 0.0 && v != 1.0));
    let out = net.forward(&INPUTS);
    let err = max_relative(&out, &OUTPUTS);
    eprintln!("max relative difference to PyTorch (f32): {err:.2e}");
    assert!(err < 1e-5, "{err}");

    // The legacy Weight Norm names give the same network.
    let legacy = Twin::load(data("pytorch_twin_legacy.safetensors")).unwrap();
    assert_eq!(legacy.params[..], net.params[..]);
    assert_eq!(legacy.state[..], net.state[..]);

    // An f64 network loads the f32 file exactly and agrees to f32 precision.
    let wide = Twin64::load(data("pytorch_twin.safetensors")).unwrap();
    for (a, b) in wide.params.iter().zip(net.params.iter()) {
        assert_eq!(*a, *b as f64);
    }
    let inputs64 = INPUTS.map(|row| row.map(f64::from));
    let out64 = wide.forward(&inputs64).map(|row| row.map(|v| v as f32));
    assert!(max_relative(&out64, &OUTPUTS) < 1e-5);
}

#[test]
fn float16_and_bfloat16_files_load_into_f32_networks() {
    let exact = Twin::load(data("pytorch_twin.safetensors")).unwrap();
    // Round to nearest: within half an ulp of the half-precision format (2^-11 for f16, 2^-8
    // for bf16), relative; none of these weights is small enough for f16 subnormals to matter.
    for (file, half_ulp, tolerance) in [
        ("pytorch_twin_f16.safetensors", 1.0 / 2048.0, 1e-2),
        ("pytorch_twin_bf16.safetensors", 1.0 / 256.0, 1e-1),
    ] {
        let net = Twin::load(data(file)).unwrap();
        for (a, b) in net.params.iter().zip(exact.params.iter()) {
            assert!(
                (a - b).abs() <= half_ulp * b.abs() + 1e-7,
                "{file}: {a} vs {b}"
            );
        }
        assert_eq!(net.num_batches_tracked, [3]);
        let out = net.forward(&INPUTS);
        let err = max_relative(&out, &OUTPUTS);
        assert!(err < tolerance, "{file}: {err}");
        assert_ne!(net.params[..], exact.params[..], "{file} was converted");
    }
}

/// A monograd-trained network whose file the reference script loads into PyTorch.
fn monograd_twin() -> Twin {
    let mut net = Twin::new(5);
    let mut sgd = Sgd::new(SgdConfig {
        lr: 0.05,
        ..Default::default()
    })
    .unwrap();
    let mut tape = TwinTape::<5>::new();
    let labels = [0, 1, 2, 3, 1];
    for _ in 0..2 {
        net.train_step(&mut tape, &INPUTS, &labels, &mut sgd)
            .unwrap();
    }
    net
}

#[test]
fn monograd_files_have_exactly_the_pytorch_twins_names_shapes_and_dtypes() {
    let net = monograd_twin();
    assert_eq!(net.num_batches_tracked, [2]);
    let bytes = net.to_safetensors();
    let pytorch = std::fs::read(data("pytorch_twin.safetensors")).unwrap();
    assert_eq!(layout(&bytes), layout(&pytorch));

    let outputs: String = net
        .forward(&INPUTS)
        .iter()
        .map(|row| {
            let cells: Vec<String> = row.iter().map(|v| format!("{v:?}")).collect();
            cells.join(" ") + "\n"
        })
        .collect();
    if std::env::var_os("MONOGRAD_BLESS").is_some() {
        net.save(data("monograd_twin.safetensors")).unwrap();
        std::fs::write(data("monograd_twin_outputs.txt"), &outputs).unwrap();
    }
    // The committed file (checked in PyTorch by the reference script) is what monograd writes.
    assert_eq!(
        std::fs::read(data("monograd_twin.safetensors")).unwrap(),
        bytes
    );
    assert_eq!(
        std::fs::read_to_string(data("monograd_twin_outputs.txt")).unwrap(),
        outputs
    );
}

#[test]
fn round_trips_are_bit_exact_and_keep_state_and_counters() {
    let net = monograd_twin();
    let back = Twin::from_safetensors(&net.to_safetensors()).unwrap();
    assert_eq!(back.params[..], net.params[..]);
    assert_eq!(back.state[..], net.state[..]);
    assert_eq!(back.num_batches_tracked, net.num_batches_tracked);

    let mut wide = Twin64::new(9);
    let mut tape = Twin64Tape::<5>::new();
    let x = INPUTS.map(|row| row.map(f64::from));
    wide.forward_train(&mut tape, &x).unwrap();
    let back = Twin64::from_safetensors(&wide.to_safetensors()).unwrap();
    assert_eq!(back.params[..], wide.params[..]);
    assert_eq!(back.state[..], wide.state[..]);
    assert_eq!(back.num_batches_tracked, [1]);
}

#[test]
fn failed_loads_name_the_problem_and_leave_the_network_unchanged() {
    let bytes = std::fs::read(data("pytorch_twin.safetensors")).unwrap();
    let mut net = monograd_twin();
    let (params, state) = (net.params.clone(), net.state.clone());
    for cut in [0, 7, 100, bytes.len() - 1] {
        let e = net
            .load_safetensors(&bytes[..cut], LoadOptions::default())
            .unwrap_err();
        assert!(matches!(e, Error::Weights(_)), "{e}");
    }
    // A network with another layout: strict names the first mismatch; non-strict reports.
    let wide_file = Twin64::new(1).to_safetensors();
    let small: Vec<u8> = {
        // Twin's file without the LayerNorm: missing tensors.
        let st = safetensors::SafeTensors::deserialize(&wide_file).unwrap();
        let kept: Vec<(String, safetensors::tensor::TensorView)> = st
            .iter()
            .filter(|(name, _)| !name.starts_with("n."))
            .map(|(n, v)| (n.to_string(), v))
            .collect();
        safetensors::serialize(kept, None).unwrap()
    };
    let e = net
        .load_safetensors(&small, LoadOptions::default())
        .unwrap_err();
    let Error::Weights(w) = &e else { panic!("{e}") };
    assert_eq!(w.kind, WeightsErrorKind::Missing);
    assert_eq!(w.tensor.as_deref(), Some("n.weight"));
    assert_eq!(net.params[..], params[..]);
    assert_eq!(net.state[..], state[..]);

    let report = net
        .load_safetensors(&small, LoadOptions::non_strict())
        .unwrap();
    assert_eq!(report.missing, ["n.weight", "n.bias"]);
    assert!(report.unexpected.is_empty());
    // The f64 file converted into the f32 network; the LayerNorm kept its values.
    let n_weight = Twin::N_WEIGHT;
    assert_eq!(n_weight.slice(&net.params[..]), n_weight.slice(&params[..]));

    let e = Twin::load(data("absent.safetensors")).unwrap_err();
    assert!(e.to_string().contains("absent.safetensors"), "{e}");
}

#[test]
fn a_folded_network_saves_and_loads_as_plain_layers() {
    let net = Twin::load(data("pytorch_twin.safetensors")).unwrap();
    let folded = net.fold();
    let bytes = folded.to_safetensors();
    let names: Vec<String> = layout(&bytes).into_keys().collect();
    // BatchNorm merged into the conv, Weight Norm precomputed into a plain weight.
    assert_eq!(
        names,
        [
            "c1.bias",
            "c1.weight",
            "h.bias",
            "h.weight",
            "logits.bias",
            "logits.weight",
            "n.bias",
            "n.weight"
        ]
    );
    let back = TwinFolded::from_safetensors(&bytes).unwrap();
    assert_eq!(back.forward(&INPUTS), folded.forward(&INPUTS));
    assert!(max_relative(&back.forward(&INPUTS), &OUTPUTS) < 1e-5);
}
