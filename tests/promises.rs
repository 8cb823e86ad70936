//! The promises hold under bad input: a failed step changes nothing (the dropout generator
//! included), `Ok` means finite,
//! evaluation rejects what training rejects, large batches do not overflow the stack, and a
//! network is restored with its running statistics.

use monograd::prelude::*;
use monograd::runtime::train::accuracy;

monograd::network! {
    /// A small MLP with BatchNorm: parameters, running statistics and optimizer state.
    pub struct Normed {
        input x: [6];
        h = linear(x, 8, init = he_normal);
        n = batch_norm(h);
        a = relu(n);
        logits = linear(a, 3);
        loss = softmax_cross_entropy(logits);
    }
}

monograd::network! {
    /// A CNN with BatchNorm whose buffers at batch 256 (~15 MB) would overflow a thread's stack.
    pub struct Cnn {
        input image: [1, 28, 28];
        c1 = conv2d(image, 8, kernel = 3, padding = 1);
        b1 = batch_norm(c1);
        r1 = relu(b1);
        p1 = max_pool2d(r1, 2);
        c2 = conv2d(p1, 16, kernel = 3, padding = 1);
        r2 = relu(c2);
        p2 = max_pool2d(r2, 2);
        f = flatten(p2);
        logits = linear(f, 10);
        loss = softmax_cross_entropy(logits);
    }
}

monograd::network! {
    /// Dropout before BatchNorm: every training step draws masks, and NaN in a batch reaches a
    /// running statistic.
    pub struct Dropping {
        input x: [6];
        h = linear(x, 8);
        d = dropout(h, p = 0.5);
        n = batch_norm(d);
        a = relu(n);
        logits = linear(a, 3);
        loss = softmax_cross_entropy(logits);
    }
}

const B: usize = 8;

fn batch(seed: u64) -> ([[f32; 6]; B], [usize; B]) {
    let mut rng = Rng::new(seed);
    let x = core::array::from_fn(|_| core::array::from_fn(|_| rng.uniform::<f32>(-1.0, 1.0)));
    let y = core::array::from_fn(|i| i % 3);
    (x, y)
}

/// Everything a training step may change, bit for bit.
fn snapshot<O: Optimizer<f32, { Normed::PARAMS }>>(net: &Normed, opt: &O) -> Vec<u32> {
    let mut bits: Vec<u32> = net
        .params
        .iter()
        .chain(net.state.iter())
        .map(|v| v.to_bits())
        .collect();
    for i in 0..opt.state_buffer_count() {
        bits.extend(opt.state_buffer(i).unwrap().1.iter().map(|v| v.to_bits()));
    }
    bits.push(opt.steps() as u32);
    bits
}

#[test]
fn a_batch_with_nan_changes_nothing_and_training_goes_on() {
    let mut net = Normed::new(1);
    let mut tape = NormedTape::<B>::new();
    let mut adam = Adam::new(AdamConfig::default()).unwrap();
    for seed in 0..3 {
        let (x, y) = batch(seed);
        net.train_step(&mut tape, &x, &y, &mut adam).unwrap();
    }
    let before = snapshot(&net, &adam);
    let (mut x, y) = batch(10);
    x[3][2] = f32::NAN;
    let error = net.train_step(&mut tape, &x, &y, &mut adam).unwrap_err();
    assert!(
        matches!(
            error,
            Error::NonFiniteValue {
                what: "running statistic",
                tensor: "n.running_mean",
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(
        snapshot(&net, &adam),
        before,
        "a failed step changed the network"
    );
    // Evaluation is still finite and training continues.
    assert!(net
        .forward(&batch(11).0)
        .iter()
        .flatten()
        .all(|v| v.is_finite()));
    let (x, y) = batch(12);
    assert!(net
        .train_step(&mut tape, &x, &y, &mut adam)
        .unwrap()
        .is_finite());
}

#[test]
fn a_failed_step_draws_no_dropout_masks() {
    let mut net = Dropping::new(5);
    let mut untouched = net.clone();
    let (mut tape, mut untouched_tape) = (DroppingTape::<B>::new(), DroppingTape::<B>::new());
    let config = AdamConfig::default();
    let (mut adam, mut untouched_adam) = (Adam::new(config).unwrap(), Adam::new(config).unwrap());
    for seed in 0..2 {
        let (x, y) = batch(seed);
        net.train_step(&mut tape, &x, &y, &mut adam).unwrap();
        untouched
            .train_step(&mut untouched_tape, &x, &y, &mut untouched_adam)
            .unwrap();
    }
    let rng = net.dropout_rng.state();
    // Fails in the forward pass: NaN reaches the running mean.
    let (mut nan_x, y) = batch(10);
    nan_x[3][2] = f32::NAN;
    assert!(net.forward_train(&mut tape, &nan_x).is_err());
    assert!(net.train_step(&mut tape, &nan_x, &y, &mut adam).is_err());
    // Fails after it: a label out of range in the loss.
    let (x, mut bad_y) = batch(11);
    bad_y[0] = 3;
    assert!(net.train_step(&mut tape, &x, &bad_y, &mut adam).is_err());
    assert_eq!(
        net.dropout_rng.state(),
        rng,
        "a failed step moved the generator"
    );
    // The next steps are those of a network that never saw the failed ones, bit for bit.
    for seed in 20..23 {
        let (x, y) = batch(seed);
        let loss = net.train_step(&mut tape, &x, &y, &mut adam).unwrap();
        let expected = untouched
            .train_step(&mut untouched_tape, &x, &y, &mut untouched_adam)
            .unwrap();
        assert_eq!(loss.to_bits(), expected.to_bits());
        assert_eq!(*tape.workspace.d_mask, *untouched_tape.workspace.d_mask);
    }
    let bits = |net: &Dropping| -> Vec<u32> {
        net.params
            .iter()
            .chain(net.state.iter())
            .map(|v| v.to_bits())
            .collect()
    };
    assert_eq!(bits(&net), bits(&untouched));
    assert_eq!(net.dropout_rng, untouched.dropout_rng);
}

#[test]
fn a_zero_eps_adam_step_names_the_parameter_and_changes_nothing() {
    // Input feature 0 is always 0, so the gradients of the first layer's column 0 are exactly 0
    // and Adam with eps = 0 would compute 0 / 0 for them.
    let mut net = Normed::new(2);
    let mut tape = NormedTape::<B>::new();
    let mut adam = Adam::new(AdamConfig {
        eps: 0.0,
        ..AdamConfig::default()
    })
    .unwrap();
    let (mut x, y) = batch(3);
    for row in &mut x {
        row[0] = 0.0;
    }
    let before = snapshot(&net, &adam);
    match net.train_step(&mut tape, &x, &y, &mut adam) {
        Err(Error::NonFiniteValue {
            what,
            tensor,
            index,
            value,
        }) => {
            assert_eq!(
                (what, tensor),
                ("Adam: parameter after the update", "h.weight")
            );
            assert_eq!(index % 6, 0, "column 0 of h.weight [8, 6]");
            assert!(value.is_nan());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(snapshot(&net, &adam), before);
}

#[test]
fn an_exploding_step_is_an_error_never_an_infinite_network() {
    let mut net = Cnn::new(0);
    let mut tape = CnnTape::<4>::new();
    let mut sgd = Sgd::new(SgdConfig {
        lr: 1e6,
        momentum: 0.9,
        ..SgdConfig::default()
    })
    .unwrap();
    let mut rng = Rng::new(5);
    let x: [[f32; 784]; 4] =
        core::array::from_fn(|_| core::array::from_fn(|_| rng.uniform::<f32>(0.0, 1.0)));
    let y = [1, 2, 3, 4];
    let mut failed = false;
    for _ in 0..30 {
        let params: Vec<f32> = net.params.to_vec();
        let state: Vec<f32> = net.state.to_vec();
        match net.train_step(&mut tape, &x, &y, &mut sgd) {
            Ok(loss) => {
                assert!(loss.is_finite());
                assert!(net
                    .params
                    .iter()
                    .chain(net.state.iter())
                    .all(|v| v.is_finite()));
            }
            Err(error) => {
                assert_eq!(&net.params[..], &params[..], "{error}");
                assert_eq!(&net.state[..], &state[..], "{error}");
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "lr 1e6 should blow up within 30 steps");
}

#[test]
fn accuracy_rejects_what_training_rejects() {
    let net = Normed::new(4);
    let mut tape = NormedTape::<4>::new();
    let (x, _) = batch(5);
    let mut labels = vec![0usize; B];
    labels[5] = usize::MAX;
    assert!(matches!(
        accuracy(&net, &mut tape, &x, &labels),
        Err(Error::LabelOutOfRange {
            sample: 5,
            label: usize::MAX,
            classes: 3,
            ..
        })
    ));
    let mut bad = x;
    bad[2][1] = f32::NAN;
    assert!(matches!(
        accuracy(&net, &mut tape, &bad, &[0; B]),
        Err(Error::NonFinite { .. })
    ));
    assert!(net.try_predict(&bad[2]).is_err());
    assert_eq!(net.try_predict(&x[0]).unwrap(), net.predict(&x[0]));
}

#[test]
fn a_large_batch_runs_on_a_small_thread_stack() {
    assert!(
        Cnn::infer_bytes(256) > 10 << 20,
        "the buffers are larger than any thread stack"
    );
    let net = Cnn::new(3);
    let out = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let mut rng = Rng::new(6);
            let x: Vec<[f32; 784]> = (0..256)
                .map(|_| core::array::from_fn(|_| rng.uniform::<f32>(0.0, 1.0)))
                .collect();
            let x: Box<[[f32; 784]; 256]> = x.into_boxed_slice().try_into().unwrap();
            let batched = net.forward(&x);
            let single = net.predict(&x[200]);
            (batched[200], single)
        })
        .unwrap()
        .join()
        .unwrap();
    for (a, b) in out.0.iter().zip(&out.1) {
        assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "{a} vs {b}");
    }
}

#[test]
fn from_parts_restores_the_running_statistics() {
    let mut net = Normed::new(7);
    let mut tape = NormedTape::<B>::new();
    let mut sgd = Sgd::new(SgdConfig {
        lr: 0.1,
        ..SgdConfig::default()
    })
    .unwrap();
    for seed in 0..5 {
        let (x, y) = batch(seed);
        net.train_step(&mut tape, &x, &y, &mut sgd).unwrap();
    }
    let probe = batch(20).0;
    let restored = Normed::from_parts(&net.params[..], &net.state[..]).unwrap();
    assert_eq!(restored.forward(&probe), net.forward(&probe));
    let params_only = Normed::from_params(&net.params[..]).unwrap();
    assert_ne!(
        params_only.forward(&probe),
        net.forward(&probe),
        "the state matters here"
    );

    let mut state = net.state.to_vec();
    state[Normed::N_RUNNING_VAR.offset + 2] = f32::INFINITY;
    assert!(matches!(
        Normed::from_parts(&net.params[..], &state),
        Err(Error::NonFiniteValue {
            tensor: "n.running_var",
            index: 2,
            ..
        })
    ));
    assert!(matches!(
        Normed::from_parts(&net.params[..1], &net.state[..]),
        Err(Error::Length { .. })
    ));
}
