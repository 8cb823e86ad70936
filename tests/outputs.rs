//! Outputs next to a loss (`output probabilities;`, `output embedding, logits;`): inference
//! returns the declared nodes (a generated `NetOutput` for several) and computes only what they
//! need, while training, `forward_with` and the `Network` trait keep working on what the loss
//! takes.

#[path = "common/gradients.rs"]
mod gradients;

use gradients::{check_gradient, random_batch};
use monograd::prelude::*;

monograd::network! {
    /// A classifier whose inference returns probabilities; the loss takes the logits.
    struct Probabilities {
        type Element = f64;
        input x: [6];
        h = linear(x, 8);
        a = tanh(h);
        logits = linear(a, 3);
        probabilities = softmax(logits);
        loss = softmax_cross_entropy(logits);
        output probabilities;
    }
}

monograd::network! {
    /// `Probabilities` without the declared output.
    struct Plain {
        type Element = f64;
        input x: [6];
        h = linear(x, 8);
        a = tanh(h);
        logits = linear(a, 3);
        loss = softmax_cross_entropy(logits);
    }
}

#[test]
fn a_declared_output_changes_inference_not_training() {
    assert_eq!(Probabilities::PARAMS, Plain::PARAMS);
    assert_eq!(Probabilities::OUTPUT, 3);
    let mut net = Probabilities::new(1);
    let mut plain = Plain::from_params(&net.params[..]).unwrap();
    let x = random_batch::<6, 4>(2);
    let targets = [0, 2, 1, 1];
    let config = AdamConfig {
        lr: 0.05,
        ..AdamConfig::default()
    };
    let (mut adam, mut adam_plain) = (Adam::new(config).unwrap(), Adam::new(config).unwrap());
    let (mut tape, mut tape_plain) = (ProbabilitiesTape::<4>::new(), PlainTape::<4>::new());
    for _ in 0..4 {
        let l1 = net.train_step(&mut tape, &x, &targets, &mut adam).unwrap();
        let l2 = plain
            .train_step(&mut tape_plain, &x, &targets, &mut adam_plain)
            .unwrap();
        assert_eq!(l1, l2);
    }
    assert_eq!(net.params.to_vec(), plain.params.to_vec());

    // The training-side methods return the logits (what the loss takes)...
    let logits = *net.forward_with(&mut tape, &x);
    assert_eq!(logits, *plain.forward_with(&mut tape_plain, &x));
    // ...inference returns the probabilities.
    let probabilities = net.forward(&x);
    for (p, l) in probabilities.iter().zip(&logits) {
        let max = l.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = l.iter().map(|v| (v - max).exp()).sum();
        for (p, l) in p.iter().zip(l) {
            assert!((p - (l - max).exp() / sum).abs() < 1e-12);
        }
    }
    let mut out = [[0.0; 3]; 4];
    Probabilities::infer::<4>(&net.params, &net.state, &x, &mut out);
    assert_eq!(out, probabilities);
    let mut eval = ProbabilitiesEval::<4>::new();
    assert_eq!(*net.forward_eval(&mut eval, &x), probabilities);
    for (a, b) in net
        .try_predict(&x[1])
        .unwrap()
        .iter()
        .zip(&probabilities[1])
    {
        assert!((a - b).abs() < 1e-12);
    }
    // `accuracy` scores what the loss takes.
    let mut tape = ProbabilitiesTape::<2>::new();
    let mut tape_plain = PlainTape::<2>::new();
    assert_eq!(
        accuracy(&net, &mut tape, &x, &targets).unwrap(),
        accuracy(&plain, &mut tape_plain, &x, &targets).unwrap()
    );
    check_gradient("probabilities next to the loss", &mut net, &x, &targets);
}

monograd::network! {
    /// An embedding next to the logits, both returned by inference.
    struct Embedder {
        type Element = f64;
        input image: [1, 6, 6];
        c = conv2d(image, 2, kernel = 3);
        n = batch_norm(c);
        f = flatten(n);
        hidden = linear(f, 5);
        embedding = tanh(hidden);
        logits = linear(embedding, 4);
        loss = softmax_cross_entropy(logits);
        output embedding, logits;
    }
}

#[test]
fn two_outputs_make_an_output_struct() {
    assert_eq!(Embedder::OUTPUT, 9);
    let mut net = Embedder::new(3);
    let x = random_batch::<36, 5>(4);
    let targets = [0, 3, 1, 2, 2];
    let mut sgd = Sgd::new(SgdConfig {
        lr: 0.1,
        ..SgdConfig::default()
    })
    .unwrap();
    let mut tape = EmbedderTape::<5>::new();
    for _ in 0..3 {
        net.train_step(&mut tape, &x, &targets, &mut sgd).unwrap();
    }
    check_gradient("embedding and logits", &mut net, &x, &targets);
    let logits = *net.forward_with(&mut tape, &x);
    let embedding = *tape.values.embedding;
    let outputs: [EmbedderOutput; 5] = net.forward(&x);
    for s in 0..5 {
        assert_eq!(outputs[s].embedding, embedding[s]);
        assert_eq!(outputs[s].logits, logits[s]);
    }
    let mut out = [EmbedderOutput::default(); 5];
    Embedder::infer::<5>(&net.params, &net.state, &x, &mut out);
    assert_eq!(out, outputs);
    let mut eval = EmbedderEval::<5>::new();
    let (e, l) = net.forward_eval(&mut eval, &x);
    assert_eq!((*e, *l), (embedding, logits));
    let one = net.try_predict(&x[2]).unwrap();
    for (a, b) in one.logits.iter().zip(&logits[2]) {
        assert!((a - b).abs() < 1e-12);
    }
    // The folded type and the weights file keep the outputs.
    let folded = net.fold().forward(&x);
    for (a, b) in folded.iter().zip(&outputs) {
        for (p, q) in a.embedding.iter().zip(&b.embedding) {
            assert!((p - q).abs() < 1e-10);
        }
    }
    let loaded = Embedder::from_safetensors(&net.to_safetensors()).unwrap();
    assert_eq!(loaded.forward(&x), outputs);
    // A NaN in any output is an error naming its index in the struct's field order.
    let mut bad = x[0];
    bad[0] = f64::NAN;
    assert!(net.try_predict(&bad).is_err());
}

monograd::network! {
    /// Only an early node as output: inference stops there.
    struct Features {
        type Element = f64;
        input x: [6];
        h = linear(x, 8);
        features = relu(h);
        logits = linear(features, 3);
        loss = softmax_cross_entropy(logits);
        output features;
    }
}

#[test]
fn inference_computes_only_what_the_outputs_need() {
    let net = Features::new(5);
    let x = random_batch::<6, 3>(6);
    let mut eval = FeaturesEval::<3>::new();
    let features = *net.forward_eval(&mut eval, &x);
    assert!(features.as_flattened().iter().any(|&v| v != 0.0));
    // The logits are never computed by inference.
    assert!(eval.value_logits.as_flattened().iter().all(|&v| v == 0.0));
    let mut tape = FeaturesTape::<3>::new();
    net.forward_with(&mut tape, &x);
    assert_eq!(*tape.values.features, features);
    assert_eq!(net.forward(&x), features);
    // `infer` keeps no buffer for what the output does not need: only `h` (the output goes
    // to `out`).
    assert_eq!(Features::INFER_BYTES, 8 * 8);
}

monograd::network! {
    /// Two inputs and two outputs, without a loss.
    struct Both {
        input a: [4];
        input b: [2];
        j = concat(a, b);
        h = linear(j, 3);
        g = linear(b, 2);
        output h, g;
    }
}

#[test]
fn an_inference_only_network_with_two_inputs_and_two_outputs() {
    let net = Both::new(7);
    let x = [BothInput {
        a: [1.0, -2.0, 0.5, 0.25],
        b: [3.0, -1.0],
    }; 2];
    let y: [BothOutput; 2] = net.forward(&x);
    let p = &net.params;
    // h = W_h [a, b] + b_h (weight [3, 6]), g = W_g b + b_g (weight [2, 2]).
    for i in 0..3 {
        let joined = x[0].a.iter().chain(&x[0].b);
        let want: f32 = p[i * 6..i * 6 + 6]
            .iter()
            .zip(joined)
            .map(|(w, v)| w * v)
            .sum::<f32>()
            + p[18 + i];
        assert!((y[1].h[i] - want).abs() < 1e-5);
    }
    for i in 0..2 {
        let want = p[21 + i * 2] * x[0].b[0] + p[21 + i * 2 + 1] * x[0].b[1] + p[25 + i];
        assert!((y[0].g[i] - want).abs() < 1e-5);
    }
    assert_eq!(net.predict(&x[0]), y[0]);
}

monograd::network! {
    /// Layers with evaluation scratch (convolution, group norm, pooling) after the output, which
    /// inference skips.
    struct EarlyExit {
        type Element = f64;
        input image: [2, 6, 6];
        c1 = conv2d(image, 3, kernel = 3, padding = 1);
        early = relu(c1);
        c2 = conv2d(early, 4, kernel = 3, groups = 1);
        g = group_norm(c2, 2);
        p = max_pool2d(g, 2);
        f = flatten(p);
        logits = linear(f, 3);
        loss = softmax_cross_entropy(logits);
        output early;
    }
}

#[test]
fn an_early_output_skips_the_layers_after_it() {
    let mut net = EarlyExit::new(8);
    let x = random_batch::<72, 3>(9);
    check_gradient("early exit", &mut net, &x, &[0, 1, 2]);
    let mut tape = EarlyExitTape::<3>::new();
    net.forward_with(&mut tape, &x);
    let early = *tape.values.early;
    assert_eq!(net.forward(&x), early);
    let mut out = [[0.0; 108]; 3];
    EarlyExit::infer::<3>(&net.params, &net.state, &x, &mut out);
    assert_eq!(out, early);
}

monograd::network! {
    /// A ReLU that inference returns, right before a max pooling on the loss's path only: the
    /// pooling's call computes the ReLU (`max_pool2d_relu_forward`), so inference keeps it.
    struct ReluBeforePooling {
        type Element = f64;
        input image: [2, 6, 6];
        c = conv2d(image, 3, kernel = 3, padding = 1);
        r = relu(c);
        p = max_pool2d(r, 2);
        f = flatten(p);
        logits = linear(f, 3);
        loss = softmax_cross_entropy(logits);
        output r;
    }
}

#[test]
fn a_relu_output_computed_by_the_next_pooling_is_still_returned() {
    let mut net = ReluBeforePooling::new(10);
    let x = random_batch::<72, 3>(11);
    check_gradient("relu before pooling", &mut net, &x, &[2, 0, 1]);
    let mut tape = ReluBeforePoolingTape::<3>::new();
    net.forward_with(&mut tape, &x);
    let r = *tape.values.r;
    let c = *tape.values.c;
    let relu = c.map(|sample| sample.map(|v| v.max(0.0)));
    assert_eq!(r, relu);
    assert!(r.as_flattened().iter().any(|&v| v > 0.0) && relu.as_flattened().contains(&0.0));
    assert_eq!(net.forward(&x), r);
    let mut out = [[0.0; 108]; 3];
    ReluBeforePooling::infer::<3>(&net.params, &net.state, &x, &mut out);
    assert_eq!(out, r);
    assert_eq!(net.predict(&x[1]), r[1]);
}

monograd::network! {
    /// Two inputs, two outputs, weights compiled in (`torch.nn.Linear(3, 2)` of
    /// `reference/weights_in.py` on the concatenation).
    struct CompiledIn {
        input a: [2];
        input b: [1];
        j = concat(a, b);
        h = linear(j, 2);
        positive = relu(h);
        weights = "tests/ui/tiny.safetensors";
        output h, positive;
    }
}

#[test]
fn compiled_in_weights_with_two_inputs_and_two_outputs() {
    let x = [CompiledInInput {
        a: [1.0, 2.0],
        b: [3.0],
    }];
    let mut out = [CompiledInOutput::default()];
    CompiledIn::infer_static::<1>(&x, &mut out);
    // The values of tests/weights_in.rs's EXPECTED on [1, 2, 3].
    assert_eq!(out[0].h, [3.75, -2.75]);
    assert_eq!(out[0].positive, [3.75, 0.0]);
    assert_eq!(CompiledIn::from_weights().predict(&x[0]), out[0]);
}
