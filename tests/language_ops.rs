//! The element-wise joins, reshapes, dropout and 1-D layers of the language, through
//! `network!`: the generated backward pass against finite differences of the generated loss
//! (f64), and the generated forward pass against the runtime kernels it promises to call.

#[path = "common/gradients.rs"]
mod gradients;

use gradients::{check_gradient, random_batch};
use monograd::runtime::gradcheck::assert_gradient;

monograd::network! {
    /// A gated residual: `mul` gates one branch by the sigmoid of another, `sub` and `scale`
    /// make a residual variant, `mul(g, g)` squares a node (both inputs one buffer).
    struct Gated {
        type Element = f64;
        input x: [5];
        h = linear(x, 6);
        gate_logit = linear(x, 6);
        gate = sigmoid(gate_logit);
        gated = mul(h, gate);
        diff = sub(gated, h);
        half = scale(diff, -0.5);
        square = mul(gate, gate);
        joined = add(half, square);
        from_input = sub(x, x);
        out = linear(joined, 3);
        from_x = linear(from_input, 3, bias = false);
        total = add(out, from_x);
        loss = softmax_cross_entropy(total);
    }
}

#[test]
fn mul_sub_and_scale_gradients() {
    let mut net = Gated::new(7);
    let x = random_batch::<5, 4>(21);
    check_gradient("gated residual", &mut net, &x, &[2, 0, 1, 1]);
}

#[test]
fn mul_sub_and_scale_values() {
    let net = Gated::new(8);
    let x = random_batch::<5, 3>(22);
    let mut tape = GatedTape::<3>::new();
    net.forward_with(&mut tape, &x);
    let v = &tape.values;
    for s in 0..3 {
        for i in 0..6 {
            let (h, g) = (v.h[s][i], v.gate[s][i]);
            assert_eq!(v.gated[s][i], h * g);
            assert_eq!(v.diff[s][i], h * g - h);
            assert_eq!(v.half[s][i], -0.5 * (h * g - h));
            assert_eq!(v.square[s][i], g * g);
        }
        assert_eq!(v.from_input[s], [0.0; 5]);
    }
}

monograd::network! {
    /// A vector made into an image and back: `reshape` is an alias of its input's buffer (like
    /// `flatten`), including one of the network's input, and `-1` infers a dimension.
    struct Reshaped {
        type Element = f64;
        input x: [12];
        image = reshape(x, [3, 2, 2]);
        conv = conv2d(image, 2, kernel = 1);
        as_vector = reshape(conv, [-1]);
        h = linear(as_vector, 6);
        again = reshape(h, [1, -1, 3]);
        back = flatten(again);
        out = linear(back, 3);
        loss = softmax_cross_entropy(out);
    }
}

#[test]
fn reshape_gradients_and_aliasing() {
    let mut net = Reshaped::new(3);
    let x = random_batch::<12, 4>(23);
    check_gradient("reshape", &mut net, &x, &[2, 0, 1, 1]);
    // `reshape` owns no buffer: the generated activations have no field for it.
    let tape = ReshapedTape::<1>::new();
    let ReshapedActivations::<1> {
        conv: _,
        h: _,
        out: _,
    } = tape.values;
}

monograd::network! {
    /// Dropout between layers, and on the input.
    struct Dropped {
        type Element = f64;
        input x: [6];
        noisy = dropout(x, p = 0.2);
        h = linear(noisy, 8);
        a = tanh(h);
        dropped = dropout(a, p = 0.5);
        out = linear(dropped, 3);
        loss = softmax_cross_entropy(out);
    }
}

#[test]
fn dropout_gradient_with_the_mask_of_the_step() {
    let mut net = Dropped::new(4);
    let x = random_batch::<6, 5>(24);
    let targets = [2, 0, 1, 1, 0];
    let mut tape = DroppedTape::<5>::new();
    // The same generator state before every forward pass: the same masks.
    let rng = net.dropout_rng.clone();
    net.forward_train(&mut tape, &x).unwrap();
    net.backward(&mut tape, &x, &targets).unwrap();
    let analytic = tape.param_grads.to_vec();
    let mask = tape.workspace.dropped_mask.as_flattened().to_vec();
    assert!(mask.contains(&0.0) && mask.contains(&2.0), "{mask:?}");
    let mut params = net.params.to_vec();
    assert_gradient(
        "dropout",
        |p| {
            net.params.copy_from_slice(p);
            net.dropout_rng = rng.clone();
            net.forward_train(&mut tape, &x).unwrap();
            net.backward(&mut tape, &x, &targets).unwrap()
        },
        &mut params,
        &analytic,
        1e-6,
    );
}

#[test]
fn dropout_is_seeded_and_the_identity_in_evaluation() {
    let x = random_batch::<6, 5>(25);
    let (mut first, mut second) = (Dropped::new(9), Dropped::new(9));
    let (mut t1, mut t2) = (DroppedTape::<5>::new(), DroppedTape::<5>::new());
    for _ in 0..3 {
        let y1 = *first.forward_train(&mut t1, &x).unwrap();
        let y2 = *second.forward_train(&mut t2, &x).unwrap();
        assert_eq!(y1, y2, "same seed, same masks");
    }
    // A resumed generator continues the sequence.
    let mut resumed = Dropped::new(9);
    resumed.params.copy_from_slice(&first.params[..]);
    resumed.dropout_rng = monograd::runtime::Rng::from_state(first.dropout_rng.state()).unwrap();
    let mut t3 = DroppedTape::<5>::new();
    assert_eq!(
        *first.forward_train(&mut t1, &x).unwrap(),
        *resumed.forward_train(&mut t3, &x).unwrap()
    );
    // Two steps draw different masks.
    let m1 = t1.workspace.dropped_mask.clone();
    first.forward_train(&mut t1, &x).unwrap();
    assert_ne!(*m1, *t1.workspace.dropped_mask);
    // Evaluation: identity, the same on the tape, on the stack and through `forward`.
    let y = *first.forward_with(&mut t1, &x);
    assert_eq!(*t1.values.dropped, *t1.values.a);
    assert_eq!(*t1.values.noisy, x);
    let mut out = [[0.0; 3]; 5];
    Dropped::infer::<5>(&first.params, &first.state, &x, &mut out);
    assert_eq!(out, y);
}

monograd::network! {
    /// Sizes that do not divide: PyTorch's floor rule for convolution and pooling, and
    /// `ceil_mode` for pooling.
    struct OddSizes {
        type Element = f64;
        input x: [2, 8, 7];
        // (8 - 3) / 2 + 1 = 3 rows (the last input row dropped), (7 - 3) / 2 + 1 = 3 columns.
        c = conv2d(x, 3, kernel = 3, stride = 2);
        // Ceil: (3 - 2) / 2 rounds up, 2 x 2.
        m = max_pool2d(c, 2, ceil_mode = true);
        // 2 x 2 to 1 x 1: sizes that divide are the same with `ceil_mode`.
        a = avg_pool2d(m, 2, stride = 1, ceil_mode = true);
        n = conv2d(x, 2, kernel = 2, stride = 3, padding = 1);
        p = avg_pool2d(n, 2, ceil_mode = true, padding = 1);
        f = flatten(a);
        g = flatten(p);
        joined = concat(f, g);
        out = linear(joined, 3);
        loss = softmax_cross_entropy(out);
    }
}

#[test]
fn floor_and_ceil_output_sizes_and_gradients() {
    let mut net = OddSizes::new(5);
    let x = random_batch::<112, 3>(26);
    let mut tape = OddSizesTape::<3>::new();
    net.forward_with(&mut tape, &x);
    let _: &[[f64; 3 * 3 * 3]; 3] = &tape.values.c;
    let _: &[[f64; 3 * 2 * 2]; 3] = &tape.values.m;
    let _: &[[f64; 3]; 3] = &tape.values.a;
    // n: (8 + 2 - 2) / 3 + 1 = 3 rows, (7 + 2 - 2) / 3 + 1 = 3 columns; p: ceil((3 + 2 - 2) / 2)
    // + 1 = 3, but that window would start at 4 >= 3 + 1 (right padding only): 2 x 2.
    let _: &[[f64; 2 * 2 * 2]; 3] = &tape.values.p;
    check_gradient("odd sizes", &mut net, &x, &[2, 0, 1]);
}

monograd::network! {
    /// A 1-D convolutional network over `[C, L]` sequences.
    struct Sequence {
        type Element = f64;
        input x: [2, 11];
        c = conv1d(x, 4, kernel = 3, stride = 2, padding = 1);
        n = batch_norm(c);
        a = relu(n);
        m = max_pool1d(a, 2, ceil_mode = true);
        g = conv1d(m, 4, kernel = 2, dilation = 2, groups = 2, bias = false, padding = 1);
        avg = avg_pool1d(g, 3, stride = 1, padding = 1);
        i = instance_norm(avg, affine = true);
        joined = concat(i, m);
        pooled = global_avg_pool(joined);
        seq = reshape(pooled, [2, 4]);
        s = conv1d(seq, 1, kernel = 1);
        f = flatten(s);
        out = linear(f, 3);
        loss = softmax_cross_entropy(out);
    }
}

#[test]
fn conv1d_and_1d_pooling_shapes_layouts_and_gradients() {
    let mut net = Sequence::new(6);
    let x = random_batch::<22, 4>(27);
    let mut tape = SequenceTape::<4>::new();
    net.forward_with(&mut tape, &x);
    // (11 + 2 - 3) / 2 + 1 = 6; ceil(6 - 2) / 2 + 1 = 3; 3 + 2 - 2 - 1 + 1 = 3; 3.
    let _: &[[f64; 4 * 6]; 4] = &tape.values.c;
    let _: &[[f64; 4 * 3]; 4] = &tape.values.m;
    let _: &[[f64; 4 * 3]; 4] = &tape.values.g;
    let _: &[[f64; 4 * 3]; 4] = &tape.values.avg;
    let _: &[[f64; 8]; 4] = &tape.values.pooled;
    let shapes: Vec<(&str, &[usize])> = Sequence::PARAM_TENSORS
        .iter()
        .map(|t| (t.name, t.shape))
        .collect();
    assert!(shapes.contains(&("c.weight", &[4, 2, 3][..])), "{shapes:?}");
    assert!(shapes.contains(&("g.weight", &[4, 2, 2][..])), "{shapes:?}");
    assert!(shapes.contains(&("s.weight", &[1, 2, 1][..])), "{shapes:?}");
    check_gradient("conv1d", &mut net, &x, &[2, 0, 1, 1]);
}

#[test]
fn conv1d_inference_paths_agree() {
    let mut net = Sequence::new(7);
    let x = random_batch::<22, 4>(28);
    let mut tape = SequenceTape::<4>::new();
    // A few training passes so that the running statistics are not their initial values.
    for _ in 0..3 {
        net.forward_train(&mut tape, &x).unwrap();
    }
    let y = *net.forward_with(&mut tape, &x);
    let mut out = [[0.0; 3]; 4];
    Sequence::infer::<4>(&net.params, &net.state, &x, &mut out);
    assert_eq!(out, y);
    let folded = net.fold().forward(&x);
    for (a, b) in folded.as_flattened().iter().zip(y.as_flattened()) {
        assert!((a - b).abs() < 1e-10, "{a} vs {b}");
    }
}

monograd::network! {
    /// Fine-tuning: a frozen backbone, a BatchNorm with frozen statistics, a frozen layer
    /// between trainable ones, and a trainable head.
    struct FineTuned {
        type Element = f64;
        input x: [6];
        backbone = linear(x, 8, frozen = true);
        bn = batch_norm(backbone, track = frozen);
        a = tanh(bn);
        adapter = linear(a, 8);
        middle = linear(adapter, 8, frozen = true);
        norm = layer_norm(middle, frozen = true);
        b = relu(norm);
        head = linear(b, 3);
        loss = softmax_cross_entropy(head);
    }
}

/// `(start, end)` of the tensors of `layer` in the parameter buffer.
fn layer_range(layer: &str) -> (usize, usize) {
    let tensors: Vec<_> = FineTuned::PARAM_TENSORS
        .iter()
        .filter(|t| t.name.starts_with(&format!("{layer}.")))
        .collect();
    let start = tensors[0].offset;
    let end = tensors.iter().map(|t| t.offset + t.len()).max().unwrap();
    (start, end)
}

#[test]
fn frozen_layers_have_zero_gradient_and_the_rest_is_exact() {
    let mut net = FineTuned::new(3);
    // Running statistics that are not the initial (0, 1), to see them used.
    for (i, v) in net.state.iter_mut().enumerate() {
        *v = if i < 8 {
            0.1 * i as f64
        } else {
            0.5 + 0.1 * i as f64
        };
    }
    let x = random_batch::<6, 4>(29);
    let targets = [2, 0, 1, 1];
    let mut tape = FineTunedTape::<4>::new();
    net.forward_train(&mut tape, &x).unwrap();
    // `track = frozen`: training normalizes with the running statistics, as evaluation does.
    let trained_bn = *tape.values.bn;
    net.forward_with(&mut tape, &x);
    assert_eq!(trained_bn, *tape.values.bn);
    tape.param_grads.fill(f64::NAN);
    net.forward_train(&mut tape, &x).unwrap();
    net.backward(&mut tape, &x, &targets).unwrap();
    for layer in ["backbone", "middle", "norm"] {
        let (start, end) = layer_range(layer);
        assert!(
            tape.param_grads[start..end].iter().all(|&g| g == 0.0),
            "{layer}"
        );
    }
    for layer in ["bn", "adapter", "head"] {
        let (start, end) = layer_range(layer);
        assert!(
            tape.param_grads[start..end].iter().any(|&g| g != 0.0),
            "{layer}"
        );
    }
    assert_eq!(
        FineTunedTape::<4>::new().frozen_params.len(),
        8 * 6 + 8 + 8 * 8 + 8 + 2 * 8
    );

    // The trainable parameters' gradient against finite differences (the frozen ones have a
    // non-zero derivative, which the network does not compute by design).
    let frozen: Vec<(usize, usize)> = ["backbone", "middle", "norm"].map(layer_range).to_vec();
    let trainable: Vec<usize> = (0..FineTuned::PARAMS)
        .filter(|i| !frozen.iter().any(|(a, b)| (a..b).contains(&i)))
        .collect();
    let analytic: Vec<f64> = trainable.iter().map(|&i| tape.param_grads[i]).collect();
    let mut values: Vec<f64> = trainable.iter().map(|&i| net.params[i]).collect();
    assert_gradient(
        "fine-tuned: trainable parameters",
        |v| {
            for (&i, &value) in trainable.iter().zip(v) {
                net.params[i] = value;
            }
            net.forward_train(&mut tape, &x).unwrap();
            net.backward(&mut tape, &x, &targets).unwrap()
        },
        &mut values,
        &analytic,
        1e-6,
    );
}

/// A few steps of `optimizer`: frozen parameters and frozen statistics stay bit for bit, the
/// others move.
fn frozen_under<O: monograd::runtime::optim::Optimizer<f64, { FineTuned::PARAMS }>>(
    what: &str,
    mut optimizer: O,
) {
    let mut net = FineTuned::new(4);
    let before = net.clone();
    let x = random_batch::<6, 4>(30);
    let mut tape = FineTunedTape::<4>::new();
    for _ in 0..3 {
        net.train_step(&mut tape, &x, &[2, 0, 1, 1], &mut optimizer)
            .unwrap();
    }
    for layer in ["backbone", "middle", "norm"] {
        let (start, end) = layer_range(layer);
        assert_eq!(
            net.params[start..end],
            before.params[start..end],
            "{what}: {layer} moved"
        );
    }
    for layer in ["bn", "adapter", "head"] {
        let (start, end) = layer_range(layer);
        assert_ne!(
            net.params[start..end],
            before.params[start..end],
            "{what}: {layer} did not train"
        );
    }
    assert_eq!(
        net.state[..],
        before.state[..],
        "{what}: running statistics moved"
    );
}

#[test]
fn frozen_layers_stay_unchanged_under_every_optimizer_with_weight_decay() {
    use monograd::runtime::optim::*;
    let wd = 0.1;
    frozen_under(
        "SGD",
        Sgd::new(SgdConfig {
            lr: 0.1,
            momentum: 0.9,
            weight_decay: wd,
            ..Default::default()
        })
        .unwrap(),
    );
    frozen_under(
        "Adam",
        Adam::new(AdamConfig {
            lr: 0.01,
            weight_decay: wd,
            ..Default::default()
        })
        .unwrap(),
    );
    frozen_under(
        "Adam (decoupled)",
        Adam::new(AdamConfig {
            lr: 0.01,
            weight_decay: wd,
            decoupled_weight_decay: true,
            ..Default::default()
        })
        .unwrap(),
    );
    frozen_under(
        "AdamW",
        AdamW::new(AdamWConfig {
            lr: 0.01,
            weight_decay: wd,
            ..Default::default()
        })
        .unwrap(),
    );
    frozen_under(
        "RMSprop",
        RmsProp::new(RmsPropConfig {
            lr: 0.01,
            weight_decay: wd,
            ..Default::default()
        })
        .unwrap(),
    );
    frozen_under(
        "Adagrad",
        Adagrad::new(AdagradConfig {
            lr: 0.1,
            weight_decay: wd,
            ..Default::default()
        })
        .unwrap(),
    );
    frozen_under(
        "Adadelta",
        Adadelta::new(AdadeltaConfig {
            lr: 1.0,
            weight_decay: wd,
            ..Default::default()
        })
        .unwrap(),
    );
}

/// `sum(upstream * output)` of a training-mode forward pass.
fn weighted_output<const N: usize, const B: usize>(
    output: &[[f64; N]; B],
    upstream: &[[f64; N]; B],
) -> f64 {
    output
        .as_flattened()
        .iter()
        .zip(upstream.as_flattened())
        .map(|(y, u)| y * u)
        .sum()
}

#[test]
fn backward_from_is_a_vector_jacobian_product() {
    let mut net = Sequence::new(8);
    let x = random_batch::<22, 4>(31);
    let upstream = random_batch::<3, 4>(32);
    let mut tape = SequenceTape::<4>::new();
    net.forward_train(&mut tape, &x).unwrap();
    net.backward_from(&mut tape, &x, &upstream);
    let analytic = tape.param_grads.to_vec();
    let mut params = net.params.to_vec();
    assert_gradient(
        "backward_from: parameters",
        |p| {
            net.params.copy_from_slice(p);
            let y = *net.forward_train(&mut tape, &x).unwrap();
            weighted_output(&y, &upstream)
        },
        &mut params,
        &analytic,
        1e-6,
    );

    // The input gradient, and the same parameter gradient.
    net.forward_train(&mut tape, &x).unwrap();
    let dx = *net.input_grad_from(&mut tape, &x, &upstream);
    assert_eq!(tape.param_grads.to_vec(), analytic);
    let mut flat = x.as_flattened().to_vec();
    assert_gradient(
        "input_grad_from",
        |v| {
            let x: [[f64; 22]; 4] =
                core::array::from_fn(|b| core::array::from_fn(|i| v[b * 22 + i]));
            let y = *net.forward_train(&mut tape, &x).unwrap();
            weighted_output(&y, &upstream)
        },
        &mut flat,
        dx.as_flattened(),
        1e-6,
    );
}

#[test]
fn loss_gradient_with_respect_to_the_input() {
    let mut net = Gated::new(9);
    let x = random_batch::<5, 4>(33);
    let targets = [2, 0, 1, 1];
    let mut tape = GatedTape::<4>::new();
    net.forward_train(&mut tape, &x).unwrap();
    let loss = net
        .backward_with_input_grad(&mut tape, &x, &targets)
        .unwrap();
    let dx = *tape.input_grad;
    let params_grad = tape.param_grads.to_vec();
    net.forward_train(&mut tape, &x).unwrap();
    assert_eq!(net.backward(&mut tape, &x, &targets).unwrap(), loss);
    assert_eq!(tape.param_grads.to_vec(), params_grad);
    assert!(dx.as_flattened().iter().any(|&g| g != 0.0));
    let mut flat = x.as_flattened().to_vec();
    assert_gradient(
        "backward_with_input_grad",
        |v| {
            let x: [[f64; 5]; 4] = core::array::from_fn(|b| core::array::from_fn(|i| v[b * 5 + i]));
            net.forward_train(&mut tape, &x).unwrap();
            net.backward(&mut tape, &x, &targets).unwrap()
        },
        &mut flat,
        dx.as_flattened(),
        1e-6,
    );
}

#[test]
fn input_gradient_through_frozen_layers() {
    let mut net = FineTuned::new(10);
    let x = random_batch::<6, 4>(34);
    let upstream = random_batch::<3, 4>(35);
    let mut tape = FineTunedTape::<4>::new();
    net.forward_train(&mut tape, &x).unwrap();
    let dx = *net.input_grad_from(&mut tape, &x, &upstream);
    let (start, end) = layer_range("backbone");
    assert!(tape.param_grads[start..end].iter().all(|&g| g == 0.0));
    let mut flat = x.as_flattened().to_vec();
    assert_gradient(
        "input gradient through a frozen backbone",
        |v| {
            let x: [[f64; 6]; 4] = core::array::from_fn(|b| core::array::from_fn(|i| v[b * 6 + i]));
            let y = *net.forward_train(&mut tape, &x).unwrap();
            weighted_output(&y, &upstream)
        },
        &mut flat,
        dx.as_flattened(),
        1e-6,
    );
}

monograd::network! {
    /// Inference only: no loss, the output declared.
    struct Encoder {
        type Element = f64;
        input x: [2, 11];
        c = conv1d(x, 4, kernel = 3, stride = 2, padding = 1);
        n = batch_norm(c);
        a = relu(n);
        d = dropout(a, p = 0.5);
        f = flatten(d);
        logits = linear(f, 3);
        output logits;
    }
}

monograd::network! {
    /// The same layers with a loss, to train.
    struct EncoderTrainer {
        type Element = f64;
        input x: [2, 11];
        c = conv1d(x, 4, kernel = 3, stride = 2, padding = 1);
        n = batch_norm(c);
        a = relu(n);
        d = dropout(a, p = 0.5);
        f = flatten(d);
        logits = linear(f, 3);
        loss = softmax_cross_entropy(logits);
    }
}

#[test]
fn an_inference_only_network_runs_what_its_trainer_learned() {
    assert_eq!(Encoder::PARAMS, EncoderTrainer::PARAMS);
    assert_eq!((Encoder::INPUT, Encoder::OUTPUT), (22, 3));
    let mut trainer = EncoderTrainer::new(11);
    let x = random_batch::<22, 4>(36);
    let mut tape = EncoderTrainerTape::<4>::new();
    let mut sgd = monograd::runtime::optim::Sgd::new(monograd::runtime::optim::SgdConfig {
        lr: 0.1,
        ..Default::default()
    })
    .unwrap();
    for _ in 0..3 {
        trainer
            .train_step(&mut tape, &x, &[0, 1, 2, 1], &mut sgd)
            .unwrap();
    }
    let encoder = Encoder::from_parts(&trainer.params[..], &trainer.state[..]).unwrap();
    let want = trainer.forward(&x);
    assert_eq!(encoder.forward(&x), want);
    let mut out = [[0.0; 3]; 4];
    Encoder::infer::<4>(&encoder.params, &encoder.state, &x, &mut out);
    assert_eq!(out, want);
    // One sample runs other GEMM blocks than four: the last bit may differ.
    for (a, b) in encoder.predict(&x[1]).iter().zip(&want[1]) {
        assert!((a - b).abs() < 1e-12);
    }
    let folded = encoder.fold().forward(&x);
    for (a, b) in folded.as_flattened().iter().zip(want.as_flattened()) {
        assert!((a - b).abs() < 1e-10);
    }
    let _ = Encoder::new(1);
    // The trainer's weights file (safetensors, PyTorch names) loads into the inference type.
    let bytes = trainer.to_safetensors();
    let loaded = Encoder::from_safetensors(&bytes).unwrap();
    assert_eq!(loaded.forward(&x), want);
    assert_eq!(loaded.num_batches_tracked, trainer.num_batches_tracked);
}

#[test]
fn a_checkpoint_resumes_the_dropout_masks_exactly() {
    use monograd::runtime::io::Progress;
    use monograd::runtime::optim::{Adam, AdamConfig};
    let x = random_batch::<6, 5>(37);
    let targets = [2, 0, 1, 1, 0];
    let config = AdamConfig {
        lr: 0.01,
        ..Default::default()
    };
    let mut net = Dropped::new(12);
    let mut adam = Adam::new(config).unwrap();
    let mut tape = DroppedTape::<5>::new();
    for _ in 0..2 {
        net.train_step(&mut tape, &x, &targets, &mut adam).unwrap();
    }
    let bytes = net
        .checkpoint_to_safetensors(&adam, Progress::default(), None)
        .unwrap();
    let continued: Vec<f64> = (0..3)
        .map(|_| net.train_step(&mut tape, &x, &targets, &mut adam).unwrap())
        .collect();

    let mut resumed = Dropped::new(99);
    let mut adam2 = Adam::new(config).unwrap();
    resumed
        .checkpoint_from_safetensors(&bytes, &mut adam2, None)
        .unwrap();
    let again: Vec<f64> = (0..3)
        .map(|_| {
            resumed
                .train_step(&mut tape, &x, &targets, &mut adam2)
                .unwrap()
        })
        .collect();
    assert_eq!(continued, again);
}
