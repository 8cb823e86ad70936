//! `Net::fold()`: BatchNorm after dense/conv layers merged into them, Weight Norm precomputed.
//! The folded type must compute the same outputs as the network in evaluation mode.

use monograd::prelude::*;

monograd::network! {
    /// Every kind of fold: dense + BatchNorm, conv + BatchNorm (without affine), Batch Renorm,
    /// Weight Norm, plus norms that cannot fold (after an activation, after the input).
    pub struct Foldable {
        input x: [2, 6, 6];
        n0 = batch_norm(x);
        c = conv2d(n0, 4, kernel = 3, padding = 1, bias = false);
        cn = batch_norm(c, affine = false);
        a = relu(cn);
        p = max_pool2d(a, 2);
        f = flatten(p);
        h = linear(f, 16, weight_norm = true);
        hn = batch_norm(h);
        ha = tanh(hn);
        kept = batch_norm(ha);
        h2 = linear(kept, 8, bias = false);
        r = batch_renorm(h2);
        ra = sigmoid(r);
        out = linear(ra, 3, weight_norm = true);
        loss = softmax_cross_entropy(out);
    }
}

#[test]
fn folded_network_matches_evaluation_mode() {
    let mut net = Foldable::new(1);
    let mut tape = FoldableTape::<8>::new();
    let mut sgd = Sgd::new(SgdConfig {
        lr: 0.05,
        momentum: 0.9,
        ..SgdConfig::default()
    })
    .unwrap();
    let mut rng = Rng::new(2);
    // Training moves parameters and running statistics away from their initial values.
    for _ in 0..30 {
        let x: [[f32; 72]; 8] =
            std::array::from_fn(|_| std::array::from_fn(|_| 1.5 * rng.normal::<f32>() + 0.3));
        let labels: [usize; 8] = std::array::from_fn(|_| rng.below(3));
        net.train_step(&mut tape, &x, &labels, &mut sgd).unwrap();
    }
    assert!(
        net.state.iter().any(|&v| v != 0.0 && v != 1.0),
        "running stats moved"
    );

    let folded = net.fold();
    // Three BatchNorms fold (cn into c, hn into h, r into h2); n0 and kept stay.
    assert_eq!(FoldableFolded::STATE, 2 * 2 + 2 * 16);
    const { assert!(FoldableFolded::PARAMS < Foldable::PARAMS) };
    let names: Vec<&str> = FoldableFolded::PARAM_TENSORS
        .iter()
        .map(|t| t.name)
        .collect();
    assert!(
        names.contains(&"c.bias") && names.contains(&"h.weight") && !names.contains(&"hn.weight")
    );

    let x: [[f32; 72]; 5] = std::array::from_fn(|_| std::array::from_fn(|_| rng.normal()));
    let unfolded = net.forward(&x);
    let fast = folded.forward(&x);
    for (a, b) in unfolded.iter().flatten().zip(fast.iter().flatten()) {
        assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0), "{a} vs {b}");
    }
    const { assert!(FoldableFolded::INFER_BYTES < Foldable::INFER_BYTES) };
}
