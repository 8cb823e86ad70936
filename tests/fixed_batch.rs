//! `batch 4, 2;`: the training passes at the declared sizes are non-generic functions of the
//! declaring crate (compiled once there, not again in every crate that trains the network).
//! They must compute exactly what the generic passes compute: these tests train a network that
//! declares sizes next to the same network without the statement, at declared and undeclared
//! sizes, through the inherent methods and through the `Network` trait, and compare every bit.

use monograd::prelude::*;
use monograd::runtime::Network;

monograd::network! {
    /// State (batch normalization), dropout (the generator a failed step restores) and two
    /// declared sizes.
    struct Fixed {
        input x: [5];
        h = linear(x, 6);
        n = batch_norm(h);
        a = relu(n);
        d = dropout(a, p = 0.25);
        z = linear(d, 3);
        loss = softmax_cross_entropy(z);
        batch 4, 2;
    }
}

monograd::network! {
    /// `Fixed` without the `batch` statement.
    struct Generic {
        input x: [5];
        h = linear(x, 6);
        n = batch_norm(h);
        a = relu(n);
        d = dropout(a, p = 0.25);
        z = linear(d, 3);
        loss = softmax_cross_entropy(z);
    }
}

monograd::network! {
    /// Two inputs (a generated input struct) and a declared size.
    struct Pair {
        type Element = f64;
        input a: [2];
        input b: [3];
        z = concat(a, b);
        h = linear(z, 4);
        t = tanh(h);
        out = mse(t);
        batch 3;
    }
}

fn batch<const B: usize>(seed: u64) -> ([[f32; 5]; B], [usize; B]) {
    let x = core::array::from_fn(|i| {
        core::array::from_fn(|j| ((seed as usize * 7 + i * 5 + j) % 11) as f32 / 5.0 - 1.0)
    });
    let targets = core::array::from_fn(|i| (seed as usize + i) % 3);
    (x, targets)
}

/// Three SGD steps of both networks at batch size `B` (through `train_step`), then a forward
/// and backward pass through the trait's generic methods; every loss, parameter, state value
/// and gradient equal.
fn same_training<const B: usize>() {
    let mut fixed = Fixed::new(3);
    let mut generic = Generic::new(3);
    assert_eq!(fixed.params[..], generic.params[..]);
    let config = SgdConfig {
        lr: 0.1,
        momentum: 0.9,
        ..SgdConfig::default()
    };
    let (mut sgd_fixed, mut sgd_generic) = (Sgd::new(config).unwrap(), Sgd::new(config).unwrap());
    let (mut tape_fixed, mut tape_generic) = (FixedTape::<B>::new(), GenericTape::<B>::new());
    for seed in 0..3 {
        let (x, targets) = batch::<B>(seed);
        let a = fixed
            .train_step(&mut tape_fixed, &x, &targets, &mut sgd_fixed)
            .unwrap();
        let b = generic
            .train_step(&mut tape_generic, &x, &targets, &mut sgd_generic)
            .unwrap();
        assert_eq!(a.to_bits(), b.to_bits());
        assert_eq!(fixed.params[..], generic.params[..]);
        assert_eq!(fixed.state[..], generic.state[..]);
    }
    let (x, targets) = batch::<B>(7);
    let out_fixed = *Network::forward_train(&mut fixed, &mut tape_fixed, &x).unwrap();
    let out_generic = *Network::forward_train(&mut generic, &mut tape_generic, &x).unwrap();
    assert_eq!(out_fixed, out_generic);
    let a = Network::backward(&fixed, &mut tape_fixed, &x, &targets).unwrap();
    let b = Network::backward(&generic, &mut tape_generic, &x, &targets).unwrap();
    assert_eq!(a.to_bits(), b.to_bits());
    assert_eq!(tape_fixed.param_grads[..], tape_generic.param_grads[..]);
}

#[test]
fn declared_sizes_train_as_the_generic_passes() {
    same_training::<4>();
    same_training::<2>();
}

#[test]
fn undeclared_sizes_take_the_generic_passes() {
    same_training::<3>();
    same_training::<5>();
}

#[test]
fn a_failed_step_at_a_declared_size_changes_nothing() {
    let mut net = Fixed::new(1);
    let mut tape = FixedTape::<4>::new();
    let mut sgd = Sgd::new(SgdConfig::default()).unwrap();
    let (x, _) = batch::<4>(0);
    let (params, state) = (net.params.clone(), net.state.clone());
    let error = net.train_step(&mut tape, &x, &[0, 1, 2, 3], &mut sgd);
    assert!(error.is_err(), "class 3 is out of range");
    assert_eq!(net.params[..], params[..]);
    assert_eq!(net.state[..], state[..]);
}

#[test]
fn several_inputs_at_a_declared_size() {
    let mut net = Pair::new(2);
    let mut tape = PairTape::<3>::new();
    let mut sgd = Sgd::new(SgdConfig::default()).unwrap();
    let x: [PairInput; 3] = core::array::from_fn(|i| PairInput {
        a: [i as f64, 0.5],
        b: [0.25, -1.0, i as f64 / 2.0],
    });
    let targets = [[0.5; 4]; 3];
    let first = net.train_step(&mut tape, &x, &targets, &mut sgd).unwrap();
    let second = net.train_step(&mut tape, &x, &targets, &mut sgd).unwrap();
    assert!(second < first, "{second} after {first}");
}
