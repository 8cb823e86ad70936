//! Training with no heap: without the runtime's `alloc` feature, `network!` generates `const`
//! constructors (`Net::zeroed_static`, `Net::from_weights_static`, `NetTape::new_static`) so a
//! firmware crate keeps the network, its tape and the optimizer (`Sgd::new_static`) in
//! `static`s. These tests hold them to the run-time constructors: the same values, the same
//! training, and tapes exactly `TAPE_BYTES` long.
//!
//! Runs only without a heap, as CI's firmware step does:
//! `cargo test -p monograd --no-default-features --test static_training` (with `alloc` the const
//! constructors do not exist, and this file compiles to nothing).
#![cfg(not(feature = "alloc"))]

use core::mem::size_of;

use monograd::runtime::optim::{Sgd, SgdConfig};

monograd::network! {
    /// Weight Norm, trainable, starting from a file (folded for inference, unfolded here).
    struct WnTrain {
        input x: [3];
        h = linear(x, 2, weight_norm = true);
        loss = mse(h);
        weights = "tests/ui/tiny_wn.safetensors";
    }
}

monograd::network! {
    /// A BatchNorm (running variance starts at 1) and a counter, from a file.
    struct WnBnTrain {
        input x: [3];
        h = linear(x, 2, weight_norm = true);
        n = batch_norm(h);
        loss = mse(n);
        weights = "tests/ui/tiny_wn_bn.safetensors";
    }
}

monograd::network! {
    /// Two layers, the first frozen (its parameters are kept in the tape during a step).
    struct FrozenMlp {
        input x: [3];
        h = linear(x, 5, frozen = true);
        a = relu(h);
        y = linear(a, 2);
        loss = softmax_cross_entropy(y);
    }
}

monograd::network! {
    /// Dropout: the tape keeps a copy of the generator, whose alignment pads the tape.
    struct Dropping {
        input x: [3];
        h = linear(x, 3);
        d = dropout(h, p = 0.5);
        y = linear(d, 2);
        loss = mse(y);
    }
}

const SGD: SgdConfig = SgdConfig {
    lr: 0.1,
    momentum: 0.9,
    dampening: 0.0,
    weight_decay: 0.01,
    nesterov: false,
};

// Every value built by the compiler, as a firmware's statics are (`examples/firmware` hands them
// out as `&'static mut`; a test takes fresh copies of the same constants instead).
static WN_NET: WnTrain = WnTrain::from_weights_static();
const WN_TAPE: WnTrainTape<2> = WnTrainTape::new_static();
static FROZEN_TAPE: FrozenMlpTape<4> = FrozenMlpTape::new_static();
const WN_SGD: Sgd<f32, { WnTrain::PARAMS }> = match Sgd::new_static(SGD) {
    Ok(sgd) => sgd,
    Err(_) => panic!("invalid SGD configuration"),
};

// Without a heap a tape is its buffers: TAPE_BYTES is exact.
const _: () = assert!(size_of::<WnTrainTape<2>>() == WnTrainTape::<2>::BYTES);
const _: () = assert!(size_of::<FrozenMlpTape<4>>() == FrozenMlp::tape_bytes(4));
const _: () = assert!(size_of::<FrozenMlpTape<7>>() == FrozenMlpTape::<7>::BYTES);
const _: () = assert!(size_of::<DroppingTape<1>>() == DroppingTape::<1>::BYTES);
const _: () = assert!(size_of::<DroppingTape<2>>() == DroppingTape::<2>::BYTES);

#[test]
fn const_networks_equal_the_run_time_ones() {
    let run_time = WnTrain::from_weights();
    assert_eq!(*WN_NET.params, *run_time.params);
    assert_eq!(*WN_NET.params, *WnTrain::PARAMS_STATIC);

    const WN_BN: WnBnTrain = WnBnTrain::from_weights_static();
    let run_time = WnBnTrain::from_weights();
    assert_eq!(*WN_BN.params, *run_time.params);
    assert_eq!(*WN_BN.state, *run_time.state);
    assert_eq!(WN_BN.num_batches_tracked, [7]);

    const ZEROED: WnBnTrain = WnBnTrain::zeroed_static();
    let run_time = WnBnTrain::zeroed();
    assert_eq!(*ZEROED.params, *run_time.params);
    // running_mean 0, running_var 1, as PyTorch starts them.
    assert_eq!(*ZEROED.state, [0.0, 0.0, 1.0, 1.0]);
    assert_eq!(*ZEROED.state, *run_time.state);
    assert!(FROZEN_TAPE.param_grads.iter().all(|&g| g == 0.0));
}

#[test]
fn training_from_statics_equals_training_from_run_time_values() {
    let x = [[1.0f32, 2.0, 3.0], [-0.5, 0.25, 1.5]];
    let targets = [[1.0f32, 0.0], [0.0, -1.0]];
    let (mut net, mut tape, mut sgd) = (WN_NET.clone(), WN_TAPE, WN_SGD);
    let mut reference = WnTrain::from_weights();
    let mut reference_tape = WnTrainTape::<2>::new();
    let mut reference_sgd = Sgd::new(SGD).unwrap();
    let mut losses = Vec::new();
    for _ in 0..4 {
        let loss = net.train_step(&mut tape, &x, &targets, &mut sgd).unwrap();
        let expected = reference
            .train_step(&mut reference_tape, &x, &targets, &mut reference_sgd)
            .unwrap();
        assert_eq!(loss.to_bits(), expected.to_bits());
        assert_eq!(*net.params, *reference.params);
        losses.push(loss);
    }
    assert!(losses[3] < losses[0], "{losses:?}");

    // A frozen layer's parameters stay put through the tape built at compile time.
    let mut mlp = FrozenMlp::new(3);
    let frozen_before = mlp.params[..FrozenMlp::Y_WEIGHT.offset].to_vec();
    let mut tape: FrozenMlpTape<4> = FrozenMlpTape::new_static();
    let mut sgd: Sgd<f32, { FrozenMlp::PARAMS }> = Sgd::new(SGD).unwrap();
    let xs = [[0.5f32, -1.0, 2.0]; 4];
    let first = mlp
        .train_step(&mut tape, &xs, &[1, 0, 1, 1], &mut sgd)
        .unwrap();
    let second = mlp
        .train_step(&mut tape, &xs, &[1, 0, 1, 1], &mut sgd)
        .unwrap();
    assert!(second < first);
    assert_eq!(mlp.params[..FrozenMlp::Y_WEIGHT.offset], frozen_before[..]);
}

monograd::network! {
    /// Two inputs: the tape's input gradient is one buffer per input.
    struct TwoInputs {
        input a: [3];
        input b: [2];
        j = concat(a, b);
        y = linear(j, 2);
        loss = mse(y);
    }
}

#[test]
fn a_two_input_tape_is_a_constant_too() {
    let mut tape = const { TwoInputsTape::<2>::new_static() };
    assert_eq!(size_of::<TwoInputsTape<2>>(), TwoInputsTape::<2>::BYTES);
    let mut net = TwoInputs::new(3);
    let x = [TwoInputsInput {
        a: [1.0, 2.0, 3.0],
        b: [0.5, -0.5],
    }; 2];
    net.forward_train(&mut tape, &x).unwrap();
    net.backward_with_input_grad(&mut tape, &x, &[[1.0, 0.0]; 2])
        .unwrap();
    assert!(tape.input_grad.b[1].iter().any(|&g| g != 0.0));
}

#[test]
fn a_dropout_tape_is_a_constant_too() {
    let mut tape = const { DroppingTape::<2>::new_static() };
    let mut run_time_tape = DroppingTape::<2>::new();
    let (mut net, mut run_time_net) = (Dropping::new(4), Dropping::new(4));
    let x = [[1.0, -2.0, 0.5], [0.0, 1.0, 2.0]];
    for _ in 0..2 {
        assert_eq!(
            *net.forward_train(&mut tape, &x).unwrap(),
            *run_time_net.forward_train(&mut run_time_tape, &x).unwrap()
        );
    }
}
