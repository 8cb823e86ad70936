//! Auxiliary losses (`aux_loss = softmax_cross_entropy(aux, weight = 0.4);` before the network's
//! loss): the total is the network's loss plus each weighed auxiliary one, as Inception's
//! `criterion(logits, y) + 0.4 * criterion(aux, y)`; its gradient against finite differences
//! (f64), the value against the runtime's loss kernels, and the products seeded at the output
//! (`backward_from`, `input_grad_from`) leaving the auxiliary losses out.

#[path = "common/gradients.rs"]
mod gradients;

use gradients::{check_gradient, check_input_gradient, random_batch};
use monograd::prelude::*;
use monograd::runtime::ops::loss::softmax_cross_entropy;

monograd::network! {
    /// A head of its own (weight 0.4) and one on a node the network's path also uses (0.3).
    struct Inception {
        type Element = f64;
        input x: [6];
        h = linear(x, 8);
        a = tanh(h);
        aux = linear(a, 3);
        aux_loss = softmax_cross_entropy(aux, weight = 0.4);
        mid = linear(a, 3);
        mid_loss = softmax_cross_entropy(mid, weight = 0.3);
        m = tanh(mid);
        logits = linear(m, 3);
        loss = softmax_cross_entropy(logits);
    }
}

/// The rows of `Inception::PARAM_TENSORS` of layer `name`.
fn layer_range(name: &str) -> (usize, usize) {
    let tensors: Vec<_> = Inception::PARAM_TENSORS
        .iter()
        .filter(|t| t.name.starts_with(&format!("{name}.")))
        .collect();
    let start = tensors[0].offset;
    let end = tensors.iter().map(|t| t.offset + t.len()).max().unwrap();
    (start, end)
}

#[test]
fn the_total_is_the_loss_plus_the_weighed_auxiliary_losses() {
    let mut net = Inception::new(1);
    let x = random_batch::<6, 4>(2);
    let targets = [2, 0, 1, 1];
    let mut tape = InceptionTape::<4>::new();
    net.forward_train(&mut tape, &x).unwrap();
    let total = net.backward(&mut tape, &x, &targets).unwrap();
    let v = &tape.values;
    let want = softmax_cross_entropy(&v.logits, &targets).unwrap()
        + 0.4 * softmax_cross_entropy(&v.aux, &targets).unwrap()
        + 0.3 * softmax_cross_entropy(&v.mid, &targets).unwrap();
    assert!((total - want).abs() < 1e-14, "{total} vs {want}");
    // Evaluation mode (no dropout or normalization here, so the same values).
    assert!((net.loss(&mut tape, &x, &targets).unwrap() - want).abs() < 1e-14);
    // Inference returns what the network's loss takes.
    assert_eq!(net.forward(&x), *tape.values.logits);
    check_gradient("auxiliary losses", &mut net, &x, &targets);
}

#[test]
fn the_input_gradient_includes_the_auxiliary_losses() {
    let mut net = Inception::new(3);
    let x = random_batch::<6, 4>(4);
    let targets = [0, 0, 2, 1];
    let mut tape = InceptionTape::<4>::new();
    net.forward_train(&mut tape, &x).unwrap();
    net.backward_with_input_grad(&mut tape, &x, &targets)
        .unwrap();
    let analytic = tape.input_grad.as_flattened().to_vec();
    let mut flat = x.as_flattened().to_vec();
    check_input_gradient(
        "auxiliary losses: input gradient",
        &mut net,
        &mut flat,
        |v| core::array::from_fn(|s| core::array::from_fn(|i| v[s * 6 + i])),
        &targets,
        &analytic,
    );
}

#[test]
fn products_seeded_at_the_output_leave_the_auxiliary_losses_out() {
    let mut net = Inception::new(5);
    let x = random_batch::<6, 3>(6);
    let upstream = random_batch::<3, 3>(7);
    let mut tape = InceptionTape::<3>::new();
    // A training step first leaves the auxiliary gradients in the tape.
    net.forward_train(&mut tape, &x).unwrap();
    net.backward(&mut tape, &x, &[0, 1, 2]).unwrap();
    net.forward_train(&mut tape, &x).unwrap();
    net.backward_from(&mut tape, &x, &upstream);
    let analytic = tape.param_grads.to_vec();
    let (start, end) = layer_range("aux");
    assert!(analytic[start..end].iter().all(|&g| g == 0.0));
    let weighted = |y: &[[f64; 3]; 3]| -> f64 {
        y.as_flattened()
            .iter()
            .zip(upstream.as_flattened())
            .map(|(y, u)| y * u)
            .sum()
    };
    let mut params = net.params.to_vec();
    monograd::runtime::gradcheck::assert_gradient(
        "backward_from with auxiliary losses",
        |p| {
            net.params.copy_from_slice(p);
            let y = *net.forward_train(&mut tape, &x).unwrap();
            weighted(&y)
        },
        &mut params,
        &analytic,
        1e-6,
    );
    net.params.copy_from_slice(&params);
    net.forward_train(&mut tape, &x).unwrap();
    let dx = *net.input_grad_from(&mut tape, &x, &upstream);
    let mut flat = x.as_flattened().to_vec();
    monograd::runtime::gradcheck::assert_gradient(
        "input_grad_from with auxiliary losses",
        |v| {
            let x: [[f64; 6]; 3] = core::array::from_fn(|s| core::array::from_fn(|i| v[s * 6 + i]));
            let y = *net.forward_train(&mut tape, &x).unwrap();
            weighted(&y)
        },
        &mut flat,
        dx.as_flattened(),
        1e-6,
    );
}

#[test]
fn training_with_auxiliary_losses_lowers_the_total() {
    let mut net = Inception::new(8);
    let x = random_batch::<6, 8>(9);
    let targets = [0, 1, 2, 0, 1, 2, 0, 1];
    let mut tape = InceptionTape::<8>::new();
    let mut adam = Adam::new(AdamConfig {
        lr: 0.05,
        ..AdamConfig::default()
    })
    .unwrap();
    let first = net.train_step(&mut tape, &x, &targets, &mut adam).unwrap();
    let mut last = first;
    for _ in 0..30 {
        last = net.train_step(&mut tape, &x, &targets, &mut adam).unwrap();
    }
    assert!(last < 0.5 * first, "{first} -> {last}");
}
