//! The generated `<Net>Stream`: stepping through a sequence one time step at a time gives the
//! whole-sequence forward's outputs (within rounding: the same kernels in the same order, so
//! mostly exactly), `reset` starts over, and a network that cannot stream gets no `Stream`.

#[path = "common/gradients.rs"]
mod gradients;

use gradients::random_batch;

monograd::network! {
    /// A GRU returning every state: the stream's output at step t is the forward's row t.
    struct GruSeq {
        type Element = f64;
        input x: [16, 2];
        g = gru(x, 8);
        a = tanh(g);
        loss = mse(a);
    }
}

monograd::network! {
    /// An LSTM returning its last state into a dense head (the benchmark's shape), with a
    /// residual pre-activation on the input.
    struct LstmLast {
        input x: [12, 1];
        s = scale(x, 0.5);
        r = add(s, x);
        l = lstm(r, 16, return = last);
        out = linear(l, 1);
        loss = mse(out);
    }
}

monograd::network! {
    /// Two recurrent layers, the second returning its last state.
    struct TwoLayers {
        type Element = f64;
        input x: [10, 3];
        first = lstm(x, 4);
        second = gru(first, 5, return = last);
        head = linear(second, 2);
        act = sigmoid(head);
        output act;
    }
}

monograd::network! {
    /// A small TCN: causal, dilated convolutions over `[channels, length]` with a residual.
    struct Tcn {
        type Element = f64;
        input x: [2, 20];
        c1 = conv1d(x, 4, kernel = 3, dilation = 2, padding = causal);
        a1 = relu(c1);
        c2 = conv1d(a1, 2, kernel = 2, dilation = 4, padding = causal, groups = 2);
        r = add(c2, x);
        c3 = conv1d(r, 1, kernel = 1, padding = causal, bias = false);
        loss = mse(c3);
    }
}

fn close(what: &str, got: &[f64], want: &[f64]) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-12 * w.abs().max(1.0),
            "{what}[{i}]: {g} vs {w}"
        );
    }
}

#[test]
fn gru_sequence_streams_the_forward_row_by_row() {
    let net = GruSeq::new(1);
    let x = random_batch::<32, 2>(2);
    let y = net.forward(&x);
    let mut stream = GruSeqStream::new(&net.params);
    for (x_b, y_b) in x.iter().zip(y.iter()) {
        stream.reset();
        for (x_t, y_t) in x_b.chunks_exact(2).zip(y_b.chunks_exact(8)) {
            let out = stream.step(x_t.try_into().unwrap());
            close("gru", &out, y_t);
        }
    }
    assert_eq!((GruSeqStream::INPUT, GruSeqStream::OUTPUT), (2, 8));
}

#[test]
fn lstm_last_streams_the_forward_at_the_last_step() {
    let net = LstmLast::new(3);
    let x: [[f32; 12]; 3] =
        core::array::from_fn(|b| core::array::from_fn(|t| (0.7 * t as f32 + b as f32).sin()));
    let y = net.forward(&x);
    let mut stream = LstmLastStream::new(&net.params);
    for (x_b, y_b) in x.iter().zip(y.iter()) {
        stream.reset();
        let mut out = [0.0f32];
        for &x_t in x_b {
            out = stream.step(&[x_t]);
        }
        assert!((out[0] - y_b[0]).abs() <= 1e-6, "{} vs {}", out[0], y_b[0]);
    }
}

#[test]
fn every_step_after_return_last_is_the_forward_on_the_prefix() {
    let net = TwoLayers::new(4);
    let x = random_batch::<30, 1>(5);
    let y = net.forward(&x)[0];
    let mut stream = TwoLayersStream::new(&net.params);
    let mut last = [0.0; 2];
    for x_t in x[0].chunks_exact(3) {
        last = stream.step(x_t.try_into().unwrap());
    }
    close("two layers", &last, &y);
    // A prefix: the first step alone is the forward of a sequence whose other steps come
    // later, so compare with stepping again from a reset stream.
    stream.reset();
    let first = stream.step(x[0][..3].try_into().unwrap());
    let mut again = TwoLayersStream::new(&net.params);
    assert_eq!(first, again.step(x[0][..3].try_into().unwrap()));
    assert_eq!(stream.first_h, again.first_h);
    assert_eq!(stream.first_c, again.first_c);
}

#[test]
fn causal_convolutions_stream_the_forward_column_by_column() {
    let net = Tcn::new(6);
    let x = random_batch::<40, 2>(7);
    let y = net.forward(&x);
    let mut stream = TcnStream::new(&net.params);
    for (x_b, y_b) in x.iter().zip(y.iter()) {
        stream.reset();
        for t in 0..20 {
            let out = stream.step(&[x_b[t], x_b[20 + t]]);
            close("tcn", &out, &[y_b[t]]);
        }
    }
}

/// `step_with(&params, x)` (the parameters passed at every call, recurrent layers on their
/// PyTorch layout) against the whole-sequence forward and against `step`, on every network
/// above: the same outputs within rounding, one step after the other and mixed.
#[test]
fn step_with_the_parameters_equals_the_owned_step() {
    // f64 networks: within 1e-12 of the forward (`close`), and of `step`.
    let net = GruSeq::new(1);
    let x = random_batch::<32, 2>(2);
    let y = net.forward(&x);
    let (mut owned, mut with) = (
        GruSeqStream::new(&net.params),
        GruSeqStream::new(&net.params),
    );
    for (x_b, y_b) in x.iter().zip(y.iter()) {
        owned.reset();
        with.reset();
        for (x_t, y_t) in x_b.chunks_exact(2).zip(y_b.chunks_exact(8)) {
            let x_t = x_t.try_into().unwrap();
            let out = with.step_with(&net.params, x_t);
            close("gru step_with", &out, y_t);
            close("gru step_with vs step", &out, &owned.step(x_t));
        }
    }

    let net = TwoLayers::new(4);
    let x = random_batch::<30, 1>(5);
    let y = net.forward(&x)[0];
    let mut stream = TwoLayersStream::new(&net.params);
    let mut last = [0.0; 2];
    // Mixed: `step` and `step_with` advance the same state.
    for (t, x_t) in x[0].chunks_exact(3).enumerate() {
        let x_t = x_t.try_into().unwrap();
        last = if t % 2 == 0 {
            stream.step_with(&net.params, x_t)
        } else {
            stream.step(x_t)
        };
    }
    close("two layers step_with", &last, &y);

    let net = Tcn::new(6);
    let x = random_batch::<40, 2>(7);
    let y = net.forward(&x);
    let mut stream = TcnStream::new(&net.params);
    for (x_b, y_b) in x.iter().zip(y.iter()) {
        stream.reset();
        for t in 0..20 {
            let out = stream.step_with(&net.params, &[x_b[t], x_b[20 + t]]);
            close("tcn step_with", &out, &[y_b[t]]);
        }
    }

    // f32, the benchmark's shape: within the tolerance `step` has (1e-6).
    let net = LstmLast::new(3);
    let x: [[f32; 12]; 3] =
        core::array::from_fn(|b| core::array::from_fn(|t| (0.7 * t as f32 + b as f32).sin()));
    let y = net.forward(&x);
    let (mut owned, mut with) = (
        LstmLastStream::new(&net.params),
        LstmLastStream::new(&net.params),
    );
    for (x_b, y_b) in x.iter().zip(y.iter()) {
        owned.reset();
        with.reset();
        let (mut a, mut b) = ([0.0f32], [0.0f32]);
        for &x_t in x_b {
            a = owned.step(&[x_t]);
            b = with.step_with(&net.params, &[x_t]);
            assert!((a[0] - b[0]).abs() <= 2e-6, "{} vs {}", a[0], b[0]);
        }
        assert!((b[0] - y_b[0]).abs() <= 1e-6, "{} vs {}", b[0], y_b[0]);
        assert!((a[0] - y_b[0]).abs() <= 1e-6, "{} vs {}", a[0], y_b[0]);
    }

    // Another model's parameters, without `load`: `step_with` follows them, `step` does not.
    let other = LstmLast::new(11);
    let mut stream = LstmLastStream::new(&net.params);
    let mut reference = LstmLastStream::new(&other.params);
    for &x_t in &x[0] {
        let got = stream.step_with(&other.params, &[x_t]);
        let want = reference.step(&[x_t]);
        assert!(
            (got[0] - want[0]).abs() <= 2e-6,
            "{} vs {}",
            got[0],
            want[0]
        );
    }
}

#[test]
fn reset_restores_the_start() {
    let net = GruSeq::new(8);
    let mut stream = GruSeqStream::new(&net.params);
    let first = stream.step(&[0.3, -0.2]);
    for _ in 0..7 {
        stream.step(&[1.0, 0.5]);
    }
    assert_ne!(stream.g_h, [0.0; 8]);
    stream.reset();
    assert_eq!(stream.g_h, [0.0; 8]);
    assert_eq!(stream.step(&[0.3, -0.2]), first);
}

monograd::network! {
    /// A recurrent layer whose sequence is flattened: the dense head mixes every step, so the
    /// network cannot run one step at a time.
    struct Flattened {
        input x: [8, 1];
        g = gru(x, 4);
        f = flatten(g);
        out = linear(f, 1);
        loss = mse(out);
    }
}

#[test]
fn a_network_that_cannot_stream_says_why() {
    assert_eq!(
        Flattened::NO_STREAM,
        "`Flattened` has no `FlattenedStream` (streaming inference): `f` (flatten) does not work \
         one time step at a time."
    );
}
