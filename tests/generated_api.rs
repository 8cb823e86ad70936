//! What `network!` generates, seen from a user: consts and layout, construction, the
//! inference paths agreeing with each other, training, and errors that leave the network intact.

#![deny(missing_docs)]

use monograd::prelude::*;
use monograd::runtime::train::{accuracy, evaluate_loss, MiniBatches};
use monograd::runtime::Network;

monograd::network! {
    /// 4 -> 5 (tanh) -> 3.
    pub struct Small {
        input x: [4];
        hidden = linear(x, 5, init = he_normal);
        act = tanh(hidden);
        out = linear(act, 3, bias = false);
        loss = softmax_cross_entropy(out);
    }
}

monograd::network! {
    /// Images with BatchNorm: state and running statistics.
    pub struct WithState {
        input x: [2, 2, 2];
        f = flatten(x);
        h = linear(f, 3);
        n = batch_norm(h);
        loss = mse(n);
    }
}

#[test]
fn consts_and_parameter_layout_follow_pytorch() {
    assert_eq!(Small::PARAMS, 4 * 5 + 5 + 5 * 3);
    assert_eq!(Small::STATE, 0);
    assert_eq!((Small::INPUT, Small::OUTPUT), (4, 3));
    assert_eq!(Small::PARAM_BYTES, 40 * 4);
    let names: Vec<&str> = Small::PARAM_TENSORS.iter().map(|t| t.name).collect();
    assert_eq!(names, ["hidden.weight", "hidden.bias", "out.weight"]);
    assert_eq!(Small::HIDDEN_WEIGHT.shape, &[5, 4]);
    assert_eq!(Small::OUT_WEIGHT.offset, 25);
    // infer needs the hidden and tanh buffers of one sample (the output goes to the caller).
    assert_eq!(Small::INFER_BYTES, (5 + 5) * 4);
    assert_eq!(Small::infer_bytes(8), 8 * (5 + 5) * 4);
    // Tape: values and gradients of hidden, act, out per sample, the parameter gradient and
    // the input gradient.
    assert_eq!(Small::tape_bytes(2), (2 * 2 * (5 + 5 + 3) + 40 + 2 * 4) * 4);
    const _: () = assert!(
        Small::INFER_BYTES <= 64 * 1024,
        "usable as a firmware budget check"
    );

    assert_eq!(WithState::STATE, 6);
    let state: Vec<(&str, usize)> = WithState::STATE_TENSORS
        .iter()
        .map(|t| (t.name, t.offset))
        .collect();
    assert_eq!(state, [("n.running_mean", 0), ("n.running_var", 3)]);
    let net = WithState::new(0);
    assert_eq!(&net.state[..], &[0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    let affine = WithState::N_WEIGHT;
    assert_eq!(
        &net.params[affine.offset..affine.offset + 3],
        &[1.0, 1.0, 1.0]
    );
}

#[test]
fn same_seed_same_parameters() {
    let a = Small::new(7);
    let b = Small::new(7);
    let c = Small::new(8);
    assert_eq!(&a.params[..], &b.params[..]);
    assert_ne!(&a.params[..], &c.params[..]);
    // He normal: std sqrt(2 / 4); a sample of 20 should not be wildly off.
    let w = Small::HIDDEN_WEIGHT.slice(&a.params[..]);
    let var = w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32;
    assert!((0.15..1.2).contains(&var), "variance {var}");
    // PyTorch's default bias init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) = U(-0.5, 0.5).
    assert!(Small::HIDDEN_BIAS
        .slice(&a.params[..])
        .iter()
        .all(|b| b.abs() <= 0.5));
}

#[test]
fn from_params_checks_the_length() {
    let params: Vec<f32> = (0..Small::PARAMS).map(|i| i as f32 * 0.01).collect();
    let net = Small::from_params(&params).unwrap();
    assert_eq!(&net.params[..], &params[..]);
    let err = Small::from_params(&params[1..]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("Small::from_params: expected a slice of length 40, found length 39")
    );
}

#[test]
fn inference_paths_agree() {
    let net = Small::new(3);
    let mut rng = Rng::new(4);
    let x: [[f32; 4]; 6] = std::array::from_fn(|_| std::array::from_fn(|_| rng.normal()));
    let stack = net.forward(&x);
    let mut out = [[0.0; 3]; 6];
    Small::infer(&net.params, &net.state, &x, &mut out);
    let mut tape = SmallTape::<6>::new();
    let heap = *net.forward_with(&mut tape, &x);
    assert_eq!(stack, out);
    assert_eq!(stack, heap);
    // One sample at a time runs a different GEMM tiling (batch 1), which may sum in another
    // order: equal up to rounding, not bit for bit.
    for (sample, expected) in x.iter().zip(&stack) {
        for (a, b) in net.predict(sample).iter().zip(expected) {
            assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{a} vs {b}");
        }
    }
    // Training mode without normalization layers computes the same outputs.
    let mut net2 = Small::from_params(&net.params[..]).unwrap();
    let mut tape2 = SmallTape::<6>::new();
    assert_eq!(*net2.forward_train(&mut tape2, &x).unwrap(), heap);
}

#[test]
fn train_step_learns_and_errors_leave_parameters_untouched() {
    let mut net = Small::new(5);
    let mut tape = SmallTape::<4>::new();
    let mut adam = Adam::new(AdamConfig {
        lr: 0.01,
        ..AdamConfig::default()
    })
    .unwrap();
    let x = [
        [1.0, 0.0, 0.0, 0.5],
        [0.0, 1.0, 0.0, 0.5],
        [0.0, 0.0, 1.0, 0.5],
        [1.0, 1.0, 0.0, 0.0],
    ];
    let labels = [0, 1, 2, 0];
    let first = net.train_step(&mut tape, &x, &labels, &mut adam).unwrap();
    let mut last = first;
    for _ in 0..200 {
        last = net.train_step(&mut tape, &x, &labels, &mut adam).unwrap();
    }
    assert!(last < 0.1 * first, "{first} -> {last}");

    let before = net.params.clone();
    let steps = adam.steps();
    let err = net
        .train_step(&mut tape, &x, &[0, 1, 3, 0], &mut adam)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::LabelOutOfRange {
                sample: 2,
                label: 3,
                classes: 3,
                ..
            }
        ),
        "{err}"
    );
    let mut nan_x = x;
    nan_x[1][2] = f32::NAN;
    let err = net
        .train_step(&mut tape, &nan_x, &labels, &mut adam)
        .unwrap_err();
    assert!(matches!(err, Error::NonFinite { .. }), "{err}");
    assert_eq!(
        &net.params[..],
        &before[..],
        "a failed step does not touch the parameters"
    );
    assert_eq!(adam.steps(), steps, "nor the optimizer");
}

#[test]
fn batch_norm_running_statistics_follow_training_and_drive_evaluation() {
    let mut net = WithState::new(1);
    let mut tape = WithStateTape::<4>::new();
    let mut rng = Rng::new(9);
    let x: [[f32; 8]; 4] = std::array::from_fn(|_| std::array::from_fn(|_| rng.normal()));
    let h_before = *net.forward_with(&mut tape, &x);
    // Eval before any training: running mean 0, var 1, so BN is (nearly) the identity.
    let hidden = *tape.values.h;
    for (a, b) in h_before.iter().flatten().zip(hidden.iter().flatten()) {
        assert!((a - b / (1.0f32 + 1e-5).sqrt()).abs() < 1e-6);
    }
    net.forward_train(&mut tape, &x).unwrap();
    let h = &tape.values.h;
    let mean: Vec<f32> = (0..3)
        .map(|c| h.iter().map(|s| s[c]).sum::<f32>() / 4.0)
        .collect();
    let running_mean = &net.state[..3];
    for c in 0..3 {
        assert!(
            (running_mean[c] - 0.1 * mean[c]).abs() < 1e-6,
            "momentum 0.1"
        );
    }
}

#[test]
fn mini_batch_training_and_evaluation_helpers() {
    // 10 samples with batch 4: 3 batches per epoch, the last one completed by wrap-around.
    let mut rng = Rng::new(11);
    let inputs: Vec<[f32; 4]> = (0..10)
        .map(|_| std::array::from_fn(|_| rng.normal()))
        .collect();
    let labels: Vec<usize> = (0..10).map(|i| i % 3).collect();
    let mut net = Small::new(6);
    let mut tape = SmallTape::<4>::new();
    let mut sgd = Sgd::new(SgdConfig {
        lr: 0.1,
        momentum: 0.9,
        ..SgdConfig::default()
    })
    .unwrap();
    let mut batches = MiniBatches::new(&inputs, &labels, 12).unwrap();
    assert_eq!(batches.batches_per_epoch(), 3);
    let start = evaluate_loss(&net, &mut tape, &inputs, &labels).unwrap();
    for _ in 0..100 {
        let report = batches
            .train_epoch(&mut net, &mut tape, &mut sgd, &inputs, &labels)
            .unwrap();
        assert_eq!(report.steps, 3);
    }
    let end = evaluate_loss(&net, &mut tape, &inputs, &labels).unwrap();
    assert!(end < 0.2 * start, "{start} -> {end}");

    // evaluate_loss over a partial last batch equals the mean of per-sample losses.
    let mut single = SmallTape::<1>::new();
    let per_sample: f64 = inputs
        .iter()
        .zip(&labels)
        .map(|(x, &y)| net.loss(&mut single, &[*x], &[y]).unwrap() as f64)
        .sum::<f64>()
        / 10.0;
    assert!((end - per_sample).abs() < 1e-6, "{end} vs {per_sample}");

    let expected = inputs
        .iter()
        .zip(&labels)
        .filter(|(x, &y)| monograd::runtime::ops::loss::argmax(&net.predict(x)) == y)
        .count() as f64
        / 10.0;
    assert_eq!(
        accuracy(&net, &mut tape, &inputs, &labels).unwrap(),
        expected
    );

    assert!(MiniBatches::<[f32; 4], usize, 4>::new(&inputs, &labels[..9], 0).is_err());
    let err = batches
        .train_epoch(&mut net, &mut tape, &mut sgd, &inputs[..9], &labels[..9])
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Length {
                expected: 10,
                found: 9,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn the_network_trait_exposes_the_same_network() {
    fn generic_param_count<const P: usize, N: Network<P>>(_: &N) -> usize {
        P
    }
    let net = Small::new(0);
    assert_eq!(generic_param_count(&net), Small::PARAMS);
    assert_eq!(Network::params(&net), &*net.params);
}

monograd::network! {
    /// Node names that are also names the generated code uses for its own variables.
    pub struct Shadowing {
        input input: [3];
        x = linear(input, 4, weight_norm = true);
        params = tanh(x);
        out = linear(params, 4);
        state = batch_norm(out);
        weight = relu(state);
        tape = linear(weight, 2);
        loss = mse(tape);
    }
}

#[test]
fn node_names_do_not_shadow_generated_variables() {
    let net = Shadowing::new(1);
    let x = [[0.5f32, -1.0, 2.0], [1.0, 0.0, -0.5]];
    let mut tape = ShadowingTape::<2>::new();
    let heap = *net.forward_with(&mut tape, &x);
    assert_eq!(net.forward(&x), heap);
    let folded = net.fold().forward(&x);
    assert!((folded[1][0] - heap[1][0]).abs() < 1e-5);
}

monograd::network! {
    /// Batch Renorm, whose clipping limits a schedule can relax during training.
    pub struct Renormed {
        input x: [3];
        h = linear(x, 4);
        r = batch_renorm(h, r_max = 3.0, d_max = 5.0);
        loss = mse(r);
    }
}

#[test]
fn batch_renorm_limits_are_a_training_time_hook() {
    use monograd::runtime::ops::norm::{RenormLimits, RenormSchedule};
    let mut net = Renormed::new(3);
    assert_eq!(
        net.renorm_limits,
        RenormLimits {
            r_max: 3.0,
            d_max: 5.0
        },
        "declared values"
    );
    let mut tape = RenormedTape::<4>::new();
    // Inputs far from the initial running statistics (mean 0, variance 1): unclipped r and d
    // would change the output, clipped to (1, 0) it is plain batch normalization.
    let x = [
        [10.0f32, -3.0, 7.0],
        [12.0, -1.0, 4.0],
        [9.0, -4.0, 6.0],
        [11.0, 0.0, 5.0],
    ];
    net.renorm_limits = RenormLimits::BATCH_NORM;
    let as_batch_norm = *net.forward_train(&mut tape, &x).unwrap();
    for c in 0..4 {
        let mean: f32 = as_batch_norm.iter().map(|s| s[c]).sum::<f32>() / 4.0;
        assert!(
            mean.abs() < 1e-5,
            "batch-normalized output has the bias (0) as its mean"
        );
    }
    net.renorm_limits = RenormLimits::new(3.0, 5.0).unwrap();
    let mut relaxed_net = Renormed::new(3);
    relaxed_net.renorm_limits = net.renorm_limits;
    let relaxed = *relaxed_net.forward_train(&mut tape, &x).unwrap();
    assert_ne!(relaxed, as_batch_norm, "relaxed limits let r and d act");
    // The paper's schedule starts as BatchNorm and relaxes after its warm-up.
    assert_eq!(
        RenormSchedule::PAPER.limits(0).unwrap(),
        RenormLimits::BATCH_NORM
    );
    let later = RenormSchedule::PAPER.limits(40_000).unwrap();
    assert_eq!((later.r_max, later.d_max), (3.0, 5.0));
}
