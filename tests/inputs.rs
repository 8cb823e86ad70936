//! Networks with more than one input (`input a: [6]; input b: [3];`): the generated `NetInput`
//! batch type through training, inference and the generic training functions, against the same network
//! written with one concatenated input, and the gradients with respect to every input against
//! finite differences (f64).

#[path = "common/gradients.rs"]
mod gradients;

use gradients::{check_gradient, check_input_gradient, random_batch};
use monograd::prelude::*;

monograd::network! {
    /// Two inputs joined first: the same computation as `Joined` on their concatenation.
    struct Pair {
        type Element = f64;
        input a: [6];
        input b: [3];
        z = concat(a, b);
        h = linear(z, 5);
        act = tanh(h);
        out = linear(act, 3);
        loss = softmax_cross_entropy(out);
    }
}

monograd::network! {
    /// `Pair` with one input holding `a` then `b`.
    struct Joined {
        type Element = f64;
        input x: [9];
        h = linear(x, 5);
        act = tanh(h);
        out = linear(act, 3);
        loss = softmax_cross_entropy(out);
    }
}

fn pair_batch<const B: usize>(seed: u64) -> ([PairInput; B], [[f64; 9]; B]) {
    let joined = random_batch::<9, B>(seed);
    let pairs = joined.map(|x| PairInput {
        a: core::array::from_fn(|i| x[i]),
        b: core::array::from_fn(|i| x[6 + i]),
    });
    (pairs, joined)
}

#[test]
fn two_inputs_train_like_one_concatenated_input() {
    assert_eq!(Pair::PARAMS, Joined::PARAMS);
    assert_eq!(Pair::INPUT, 9);
    let (x, joined) = pair_batch::<4>(1);
    let targets = [2, 0, 1, 1];
    let mut pair = Pair::new(5);
    let mut single = Joined::from_params(&pair.params[..]).unwrap();
    let config = AdamConfig {
        lr: 0.05,
        ..AdamConfig::default()
    };
    let (mut adam_pair, mut adam_single) = (Adam::new(config).unwrap(), Adam::new(config).unwrap());
    let (mut tape_pair, mut tape_single) = (PairTape::<4>::new(), JoinedTape::<4>::new());
    for _ in 0..5 {
        let l1 = pair
            .train_step(&mut tape_pair, &x, &targets, &mut adam_pair)
            .unwrap();
        let l2 = single
            .train_step(&mut tape_single, &joined, &targets, &mut adam_single)
            .unwrap();
        assert!((l1 - l2).abs() <= 1e-12 * l2.abs());
    }
    for (p, q) in pair.params.iter().zip(single.params.iter()) {
        assert!((p - q).abs() <= 1e-12 * (1.0 + q.abs()), "{p} vs {q}");
    }
    // Every inference path agrees with the single-input network.
    let want = single.forward(&joined);
    assert_eq!(pair.forward(&x), want);
    let mut out = [[0.0; 3]; 4];
    Pair::infer::<4>(&pair.params, &pair.state, &x, &mut out);
    assert_eq!(out, want);
    let mut eval = PairEval::<4>::new();
    assert_eq!(*pair.forward_eval(&mut eval, &x), want);
    assert_eq!(*pair.forward_with(&mut tape_pair, &x), want);
    assert_eq!(pair.predict(&x[2]), single.predict(&joined[2]));
    assert_eq!(
        pair.loss(&mut tape_pair, &x, &targets).unwrap(),
        single.loss(&mut tape_single, &joined, &targets).unwrap()
    );
    // The input values are in the tape, per input.
    assert_eq!(tape_pair.values.a[3], x[3].a);
    assert_eq!(tape_pair.values.b[1], x[1].b);
}

#[test]
fn generic_training_functions_and_weights_take_the_input_struct() {
    let (x, joined) = pair_batch::<12>(2);
    let labels = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2];
    let mut pair = Pair::new(6);
    let mut single = Joined::from_params(&pair.params[..]).unwrap();
    let config = SgdConfig {
        lr: 0.1,
        ..SgdConfig::default()
    };
    let (mut sgd, mut sgd_single) = (Sgd::new(config).unwrap(), Sgd::new(config).unwrap());
    let mut batches = MiniBatches::<_, _, 4>::new(&x, &labels, 3).unwrap();
    let mut batches_single = MiniBatches::<_, _, 4>::new(&joined, &labels, 3).unwrap();
    let mut tape = PairTape::<4>::new();
    let mut tape_single = JoinedTape::<4>::new();
    let r1 = batches
        .train_epoch(&mut pair, &mut tape, &mut sgd, &x, &labels)
        .unwrap();
    let r2 = batches_single
        .train_epoch(
            &mut single,
            &mut tape_single,
            &mut sgd_single,
            &joined,
            &labels,
        )
        .unwrap();
    assert_eq!(r1.steps, 3);
    assert!((r1.mean_loss - r2.mean_loss).abs() < 1e-12);
    let a1 = accuracy(&pair, &mut tape, &x, &labels).unwrap();
    let a2 = accuracy(&single, &mut tape_single, &joined, &labels).unwrap();
    assert_eq!(a1, a2);
    // Weights and checkpoints do not involve the input: they round-trip unchanged.
    let loaded = Pair::from_safetensors(&pair.to_safetensors()).unwrap();
    assert_eq!(loaded.forward(&x), pair.forward(&x));
    assert_eq!(PairInput::default().b, [0.0; 3]);
}

monograd::network! {
    /// An image, a sequence and a vector, the vector used twice and deep in the DAG.
    struct Mixed {
        type Element = f64;
        input image: [1, 4, 4];
        input seq: [2, 6];
        input extra: [3];
        c = conv2d(image, 2, kernel = 3);
        fc = flatten(c);
        s = conv1d(seq, 2, kernel = 3);
        fs = flatten(s);
        both = add(fc, fs);
        h = tanh(both);
        joined = concat(h, extra);
        gate_logit = linear(extra, 11);
        gate = sigmoid(gate_logit);
        gated = mul(joined, gate);
        out = linear(gated, 3);
        loss = softmax_cross_entropy(out);
    }
}

/// `Mixed`'s batch from 16 + 12 + 3 values per sample.
fn mixed_batch<const B: usize>(flat: &[f64]) -> [MixedInput; B] {
    core::array::from_fn(|s| {
        let v = &flat[s * 31..];
        MixedInput {
            image: core::array::from_fn(|i| v[i]),
            seq: core::array::from_fn(|i| v[16 + i]),
            extra: core::array::from_fn(|i| v[28 + i]),
        }
    })
}

/// The gradient with respect to `Mixed`'s inputs, flattened like `mixed_batch` reads it.
fn mixed_flat<const B: usize>(grad: &MixedInputGrad<B>) -> Vec<f64> {
    (0..B)
        .flat_map(|s| {
            grad.image[s]
                .iter()
                .chain(&grad.seq[s])
                .chain(&grad.extra[s])
                .copied()
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn images_sequences_and_vectors_together_gradients() {
    let mut net = Mixed::new(7);
    let mut flat = random_batch::<31, 4>(8).as_flattened().to_vec();
    let x = mixed_batch::<4>(&flat);
    let targets = [1, 2, 0, 1];
    check_gradient("three inputs: parameters", &mut net, &x, &targets);

    let mut tape = MixedTape::<4>::new();
    net.forward_train(&mut tape, &x).unwrap();
    let loss = net
        .backward_with_input_grad(&mut tape, &x, &targets)
        .unwrap();
    let analytic = mixed_flat(&tape.input_grad);
    net.forward_train(&mut tape, &x).unwrap();
    assert_eq!(net.backward(&mut tape, &x, &targets).unwrap(), loss);
    check_input_gradient(
        "three inputs: backward_with_input_grad",
        &mut net,
        &mut flat,
        mixed_batch::<4>,
        &targets,
        &analytic,
    );
}

#[test]
fn input_grad_from_gives_one_gradient_per_input() {
    let mut net = Mixed::new(9);
    let mut flat = random_batch::<31, 3>(10).as_flattened().to_vec();
    let x = mixed_batch::<3>(&flat);
    let upstream = random_batch::<3, 3>(11);
    let mut tape = MixedTape::<3>::new();
    net.forward_train(&mut tape, &x).unwrap();
    let analytic = mixed_flat(net.input_grad_from(&mut tape, &x, &upstream));
    assert!(analytic.iter().any(|&g| g != 0.0));
    monograd::runtime::gradcheck::assert_gradient(
        "three inputs: input_grad_from",
        |v| {
            let x = mixed_batch::<3>(v);
            let y = *net.forward_train(&mut tape, &x).unwrap();
            y.as_flattened()
                .iter()
                .zip(upstream.as_flattened())
                .map(|(y, u)| y * u)
                .sum()
        },
        &mut flat,
        &analytic,
        1e-6,
    );
}

#[test]
fn inference_paths_of_three_inputs_agree() {
    let net = Mixed::new(12);
    let flat = random_batch::<31, 5>(13).as_flattened().to_vec();
    let x = mixed_batch::<5>(&flat);
    let mut tape = MixedTape::<5>::new();
    let want = *net.forward_with(&mut tape, &x);
    assert_eq!(net.forward(&x), want);
    let mut out = [[0.0; 3]; 5];
    Mixed::infer::<5>(&net.params, &net.state, &x, &mut out);
    assert_eq!(out, want);
    for (a, b) in net.predict(&x[4]).iter().zip(&want[4]) {
        assert!((a - b).abs() < 1e-12);
    }
    assert_eq!(Mixed::INPUT, 31);
}

monograd::network! {
    /// Inputs named like the generated code's own variables, a BatchNorm to fold, and an input
    /// used through `flatten` and `reshape` (aliases of its buffer).
    struct Named {
        type Element = f64;
        input x: [2, 3];
        input out: [4];
        input sample: [1, 2, 2];
        value = flatten(x);
        h = linear(value, 4);
        n = batch_norm(h);
        r = reshape(sample, [4]);
        s = add(n, r);
        t = mul(s, out);
        logits = linear(t, 2);
        loss = softmax_cross_entropy(logits);
    }
}

fn named_batch<const B: usize>(flat: &[f64]) -> [NamedInput; B] {
    core::array::from_fn(|s| {
        let v = &flat[s * 14..];
        NamedInput {
            x: core::array::from_fn(|i| v[i]),
            out: core::array::from_fn(|i| v[6 + i]),
            sample: core::array::from_fn(|i| v[10 + i]),
        }
    })
}

#[test]
fn input_names_aliases_and_folding() {
    let mut net = Named::new(14);
    let mut flat = random_batch::<14, 4>(15).as_flattened().to_vec();
    let x = named_batch::<4>(&flat);
    let targets = [1, 0, 0, 1];
    check_gradient("named inputs", &mut net, &x, &targets);
    let mut tape = NamedTape::<4>::new();
    net.forward_train(&mut tape, &x).unwrap();
    net.backward_with_input_grad(&mut tape, &x, &targets)
        .unwrap();
    let g = &tape.input_grad;
    let analytic: Vec<f64> = (0..4)
        .flat_map(|s| {
            g.x[s]
                .iter()
                .chain(&g.out[s])
                .chain(&g.sample[s])
                .copied()
                .collect::<Vec<_>>()
        })
        .collect();
    check_input_gradient(
        "named inputs: input gradient",
        &mut net,
        &mut flat,
        named_batch::<4>,
        &targets,
        &analytic,
    );
    let want = net.forward(&x);
    let folded = net.fold();
    let got = folded.forward(&x);
    for (a, b) in got.as_flattened().iter().zip(want.as_flattened()) {
        assert!((a - b).abs() < 1e-10);
    }
    let mut out = [[0.0; 2]; 4];
    NamedFolded::infer::<4>(&folded.params, &folded.state, &x, &mut out);
    assert_eq!(out, got);
}
