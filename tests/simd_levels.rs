//! The generated forward, backward and inference bodies run compiled for the widest instruction
//! set the CPU has (`kernels::simd::dispatch`: AVX-512F, AVX2 and FMA, or the baseline). Each
//! level must give the baseline's results bit for bit (losses, parameters after training steps,
//! running statistics, every inference entry point), which the checkpoints, the thread-count
//! equivalence and the firmware's host-computed predictions rely on. Every test runs the same
//! work on every level this CPU has and compares the bits.

use monograd::prelude::*;
use monograd::runtime::kernels::simd::{with_max_level, Level};
use monograd::runtime::{Network, Rng, Scalar};

monograd::network! {
    /// Dense layers, every element-wise activation, BatchNorm and LayerNorm, widths that leave
    /// tails after every vector width.
    struct Dense {
        input x: [37];
        h = linear(x, 45);
        n = batch_norm(h);
        a = relu(n);
        g = linear(a, 29);
        t = tanh(g);
        s = sigmoid(t);
        l = layer_norm(s);
        e = gelu(l);
        k = leaky_relu(e);
        logits = linear(k, 7);
        loss = softmax_cross_entropy(logits);
    }
}

monograd::network! {
    /// Convolutions, BatchNorm on feature maps, pooling (max and average), a regression loss.
    struct Conv {
        input x: [2, 9, 9];
        c = conv2d(x, 5, kernel = 3, padding = 1);
        n = batch_norm(c);
        r = relu(n);
        p = max_pool2d(r, 2);
        d = conv2d(p, 6, kernel = 3, padding = 1);
        a = tanh(d);
        q = avg_pool2d(a, 2);
        f = flatten(q);
        y = linear(f, 3);
        loss = mse(y);
    }
}

monograd::network! {
    /// An inference-only network (its own `infer` and `forward_eval`).
    struct Scorer {
        input x: [33];
        h = linear(x, 70);
        a = gelu(h);
        y = linear(a, 5);
        output y;
    }
}

fn fill<T: Scalar>(values: &mut [T], rng: &mut Rng) {
    for v in values {
        *v = T::from_f64(1.5 * rng.normal::<f64>() + 0.25);
    }
}

/// The bits of every value (as f64, so that `-0.0` and `0.0` differ).
fn bits<T: Scalar>(values: &[T]) -> Vec<u64> {
    values
        .iter()
        .map(|v| Scalar::to_f64(*v).to_bits())
        .collect()
}

/// Every level this CPU has, widest first (the baseline last).
fn levels() -> Vec<Level> {
    let mut levels = vec![Level::detect()];
    while let Some(next) = levels.last().and_then(|level| level.narrower()) {
        levels.push(next);
    }
    assert_eq!(levels.last(), Some(&Level::baseline()));
    levels
}

/// `run` on every level; every result must equal the baseline's.
fn same_on_every_level<R: PartialEq + std::fmt::Debug>(what: &str, run: impl Fn() -> R) {
    let levels = levels();
    let baseline = with_max_level(Level::baseline(), &run);
    for level in levels {
        let result = with_max_level(level, &run);
        assert!(
            result == baseline,
            "{what}: {level:?} differs from the baseline"
        );
    }
}

/// Three training steps (SGD with momentum) of a network from `net`, then its evaluation-mode
/// forward pass and loss: the bits of the losses, parameters, state and outputs.
fn train<N, const P: usize, const I: usize, const O: usize, const B: usize>(
    net: &N,
    targets: &[N::Target; B],
) -> Vec<u64>
where
    N: Network<P, Input = [f32; I], Output = [f32; O], Element = f32> + Clone,
{
    let mut net = net.clone();
    let mut optimizer = Sgd::<f32, P>::new(SgdConfig {
        lr: 0.05,
        momentum: 0.9,
        ..SgdConfig::default()
    })
    .unwrap();
    let mut tape = N::new_tape::<B>();
    let mut rng = Rng::new(7);
    let mut out = Vec::new();
    for _ in 0..3 {
        let mut x = [[0.0f32; I]; B];
        fill(x.as_flattened_mut(), &mut rng);
        let loss = net
            .train_step(&mut tape, &x, targets, &mut optimizer)
            .unwrap();
        out.extend(bits(&[loss]));
        out.extend(bits(N::param_grads(&tape)));
    }
    out.extend(bits(net.params()));
    out.extend(bits(net.state()));
    let mut x = [[0.0f32; I]; B];
    fill(x.as_flattened_mut(), &mut rng);
    let outputs = net.forward_with(&mut tape, &x);
    out.extend(bits(outputs.as_flattened()));
    let loss = net.loss(&mut tape, &x, targets).unwrap();
    out.extend(bits(&[loss]));
    out
}

#[test]
fn training_steps_are_bit_identical_on_every_level() {
    let mut rng = Rng::new(3);
    let labels: [usize; 13] = core::array::from_fn(|_| rng.below(7));
    same_on_every_level("Dense", || {
        train::<_, { Dense::PARAMS }, 37, 7, 13>(&Dense::new(1), &labels)
    });
    let mut targets = [[0.0f32; 3]; 6];
    fill(targets.as_flattened_mut(), &mut rng);
    same_on_every_level("Conv", || {
        train::<_, { Conv::PARAMS }, 162, 3, 6>(&Conv::new(2), &targets)
    });
}

#[test]
fn inference_is_bit_identical_on_every_level() {
    let mut rng = Rng::new(4);
    let mut x = [[0.0f32; 37]; 5];
    fill(x.as_flattened_mut(), &mut rng);
    let mut dense = Dense::new(5);
    // Running statistics other than the initial ones.
    fill(dense.state_mut(), &mut rng);
    for v in dense.state_mut().iter_mut().skip(45) {
        *v = v.abs() + 0.5;
    }
    same_on_every_level("Dense::forward", || bits(dense.forward(&x).as_flattened()));
    same_on_every_level("Dense::predict", || bits(&dense.predict(&x[0])));
    same_on_every_level("Dense::forward_eval", || {
        let mut eval = DenseEval::<5>::new();
        bits(dense.forward_eval(&mut eval, &x).as_flattened())
    });

    let mut image = [[0.0f32; 162]; 3];
    fill(image.as_flattened_mut(), &mut rng);
    let conv = Conv::new(6);
    same_on_every_level("Conv::forward", || {
        bits(conv.forward(&image).as_flattened())
    });

    let mut scores = [[0.0f32; 33]; 4];
    fill(scores.as_flattened_mut(), &mut rng);
    let scorer = Scorer::new(7);
    same_on_every_level("Scorer::infer", || {
        let mut out = [[0.0f32; 5]; 4];
        Scorer::infer(&scorer.params, &scorer.state, &scores, &mut out);
        bits(out.as_flattened())
    });
    same_on_every_level("Scorer::forward_eval", || {
        let mut eval = ScorerEval::<4>::new();
        bits(scorer.forward_eval(&mut eval, &scores).as_flattened())
    });
}

#[test]
fn every_level_of_this_cpu_is_tried() {
    let levels = levels();
    assert!(!levels[..levels.len() - 1].iter().any(|l| !l.is_wide()));
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f") {
        assert_eq!(levels.len(), 3);
    }
}
