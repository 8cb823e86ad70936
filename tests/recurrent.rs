//! `gru`, `lstm` and `conv1d(.., padding = causal)` through `network!`: backpropagation through
//! time against finite differences of the generated loss (f64), the generated forward against
//! the runtime kernels, PyTorch's initialisation bounds, and a PyTorch `nn.GRU` / `nn.LSTM`
//! state dict loaded by the generated safetensors loader (reference/recurrent_twin.py).

#[path = "common/gradients.rs"]
mod gradients;

use gradients::{check_gradient, random_batch};
use monograd::runtime::ops::recurrent::{gru_step, lstm_step, GruParams, LstmParams};

monograd::network! {
    /// A GRU over the whole sequence, with a residual join (its input's gradient accumulates
    /// from two consumers), into an LSTM whose last state feeds a dense head.
    struct Stacked {
        type Element = f64;
        input x: [6, 2];
        h = tanh(x);
        gru = gru(h, 2);
        joined = add(gru, h);
        lstm = lstm(joined, 3, return = last);
        head = linear(lstm, 2);
        loss = mse(head);
    }
}

monograd::network! {
    /// An LSTM returning the whole sequence, into a GRU returning its last state.
    struct LstmFirst {
        type Element = f64;
        input x: [5, 3];
        lstm = lstm(x, 2, return = sequence);
        gru = gru(lstm, 3, return = last);
        loss = mse(gru);
    }
}

monograd::network! {
    /// Two causal, dilated convolutions (a small TCN) and a dense head.
    struct Causal {
        type Element = f64;
        input x: [2, 8];
        c1 = conv1d(x, 3, kernel = 3, dilation = 2, padding = causal);
        a = tanh(c1);
        c2 = conv1d(a, 2, kernel = 2, padding = causal, groups = 1);
        flat = flatten(c2);
        head = linear(flat, 2);
        loss = mse(head);
    }
}

#[test]
fn gru_and_lstm_gradients_through_time() {
    let mut net = Stacked::new(3);
    let x = random_batch::<12, 2>(5);
    let targets = random_batch::<2, 2>(6);
    check_gradient("gru -> lstm(last) -> linear", &mut net, &x, &targets);

    let mut net = LstmFirst::new(4);
    let x = random_batch::<15, 3>(7);
    let targets = random_batch::<3, 3>(8);
    check_gradient("lstm -> gru(last)", &mut net, &x, &targets);
}

#[test]
fn causal_conv_gradients() {
    let mut net = Causal::new(5);
    let x = random_batch::<16, 2>(9);
    let targets = random_batch::<2, 2>(10);
    check_gradient("causal conv1d", &mut net, &x, &targets);
}

#[test]
fn shapes_and_parameter_names_are_pytorch_s() {
    assert_eq!(Stacked::GRU_WEIGHT_IH_L0.name, "gru.weight_ih_l0");
    assert_eq!(Stacked::GRU_WEIGHT_IH_L0.shape, &[6, 2]);
    assert_eq!(Stacked::GRU_WEIGHT_HH_L0.shape, &[6, 2]);
    assert_eq!(Stacked::GRU_BIAS_IH_L0.shape, &[6]);
    assert_eq!(Stacked::LSTM_BIAS_HH_L0.name, "lstm.bias_hh_l0");
    assert_eq!(Stacked::LSTM_WEIGHT_IH_L0.shape, &[12, 2]);
    assert_eq!(Stacked::OUTPUT, 2);
    assert_eq!(LstmFirst::OUTPUT, 3);
    assert_eq!(Causal::C1_WEIGHT.shape, &[3, 2, 3]);
}

#[test]
fn initialised_as_pytorch_uniform_one_over_sqrt_hidden() {
    let net = Stacked::new(11);
    for (tensor, hidden) in [
        (Stacked::GRU_WEIGHT_IH_L0, 2.0f64),
        (Stacked::GRU_BIAS_HH_L0, 2.0),
        (Stacked::LSTM_WEIGHT_HH_L0, 3.0),
        (Stacked::LSTM_BIAS_IH_L0, 3.0),
    ] {
        let values = tensor.slice(&net.params[..]);
        let bound = 1.0 / hidden.sqrt();
        assert!(values.iter().all(|v| v.abs() <= bound), "{}", tensor.name);
        let spread = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(spread > 0.5 * bound, "{}: {spread}", tensor.name);
    }
}

/// The generated forward equals stepping the runtime cells by hand.
#[test]
fn forward_matches_the_runtime_steps() {
    let net = LstmFirst::new(12);
    let x = random_batch::<15, 2>(13);
    let y = net.forward(&x);
    let p = &net.params[..];
    let lstm = LstmParams::<f64, 3, 2>::from_block(
        &p[LstmFirst::LSTM_WEIGHT_IH_L0.offset..LstmFirst::GRU_WEIGHT_IH_L0.offset],
    )
    .unwrap();
    let gru = GruParams::<f64, 2, 3>::from_block(&p[LstmFirst::GRU_WEIGHT_IH_L0.offset..]).unwrap();
    for (x_b, y_b) in x.iter().zip(y.iter()) {
        let (mut h, mut c, mut g) = ([0.0; 2], [0.0; 2], [0.0; 3]);
        for x_t in x_b.chunks_exact(3) {
            lstm_step(&lstm, x_t.try_into().unwrap(), &mut h, &mut c);
            gru_step(&gru, &h, &mut g);
        }
        assert_eq!(y_b, &g);
    }
}

monograd::network! {
    /// The twin of reference/recurrent_twin.py.
    struct Twin {
        input x: [6, 2];
        gru = gru(x, 5);
        lstm = lstm(gru, 4, return = last);
        head = linear(lstm, 3);
        loss = mse(head);
    }
}

mod twin {
    include!("data/recurrent_twin.rs");
}

#[test]
fn loads_a_pytorch_gru_lstm_state_dict() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/recurrent_twin.safetensors"
    ))
    .unwrap();
    let net = Twin::from_safetensors(&bytes).expect("PyTorch's names and layouts");
    let x: [[f32; 12]; 3] = core::array::from_fn(|b| core::array::from_fn(|i| twin::X[b * 12 + i]));
    let y = net.forward(&x);
    for (got, want) in y.as_flattened().iter().zip(twin::Y) {
        assert!((got - want).abs() < 1e-5, "{got} vs PyTorch {want}");
    }
}
