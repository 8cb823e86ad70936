//! The training workloads of BENCHMARKS.md (W1, W4, W5) declare, have the parameter count their
//! architecture implies, and learn: a few training steps with the workload's optimizer on one
//! fixed batch of random inputs (He initialisation, inputs standard normal, labels uniform in
//! 0..10, as the benchmarks use) cut the loss on that batch markedly.
//!
//! Batches are heap-allocated (`Buffer`): a W1 batch of 64 x 784 floats is 200 KB, and test
//! threads have 2 MB stacks.

use monograd::prelude::*;
use monograd::runtime::{Buffer, Network};

#[path = "../benches/common/networks.rs"]
#[allow(dead_code)] // W3 (Tiny) is a benchmark-only network
mod networks;

use networks::*;

/// A batch of `B` samples of standard normal values, and labels uniform in 0..10.
fn random_batch<const N: usize, const B: usize>(seed: u64) -> (Buffer<[[f32; N]; B]>, [usize; B]) {
    let mut rng = Rng::new(seed);
    let mut x = Buffer::<[[f32; N]; B]>::zeroed();
    for v in x.as_flat_mut() {
        *v = rng.normal();
    }
    let labels = std::array::from_fn(|_| rng.below(10));
    (x, labels)
}

/// Takes `steps` training steps on one batch and returns the loss at the first and at the last
/// step (each measured before that step's update), checking every step's loss is finite.
fn losses_over_steps<const P: usize, const B: usize, N, O>(
    net: &mut N,
    optimizer: &mut O,
    x: &[N::Input; B],
    labels: &[usize; B],
    steps: usize,
) -> (f32, f32)
where
    N: Network<P, Element = f32, Target = usize>,
    O: Optimizer<f32, P>,
{
    let mut tape = N::new_tape::<B>();
    let losses: Vec<f32> = (0..steps)
        .map(|_| {
            net.train_step(&mut tape, x, labels, optimizer)
                .expect("finite loss")
        })
        .collect();
    (losses[0], losses[steps - 1])
}

/// Checks that training cut the loss on its batch markedly: to under a quarter of where it
/// started, and to under half the loss of a uniform guess over 10 classes (`ln 10`), so that
/// the network did not merely shrink over-confident initial outputs.
fn assert_learned(what: &str, first: f32, last: f32) {
    assert!(
        last < 0.25 * first && last < 0.5 * std::f32::consts::LN_10,
        "{what}: loss {first} -> {last}"
    );
}

/// The optimizer of W4 and W5: SGD with momentum 0.9, lr 0.01.
fn sgd_momentum<const P: usize>() -> Sgd<f32, P> {
    Sgd::new(SgdConfig {
        lr: 0.01,
        momentum: 0.9,
        ..SgdConfig::default()
    })
    .unwrap()
}

#[test]
fn w4_cnn_has_9098_parameters_in_pytorch_layout() {
    assert_eq!(Cnn::PARAMS, 80 + 1168 + 7850);
    assert_eq!(Cnn::PARAMS, 9098);
    assert_eq!((Cnn::INPUT, Cnn::OUTPUT, Cnn::STATE), (784, 10, 0));
    let tensors: Vec<(&str, &[usize])> = Cnn::PARAM_TENSORS
        .iter()
        .map(|t| (t.name, t.shape))
        .collect();
    assert_eq!(
        tensors,
        [
            ("c1.weight", &[8, 1, 3, 3][..]),
            ("c1.bias", &[8]),
            ("c2.weight", &[16, 8, 3, 3]),
            ("c2.bias", &[16]),
            ("logits.weight", &[10, 784]),
            ("logits.bias", &[10]),
        ]
    );
}

#[test]
fn w4_cnn_learns_a_batch_with_sgd_momentum() {
    // The workload's batch is 32; 8 keeps this test quick in a debug build. Unoptimized, a step
    // on 32 samples takes about a quarter of a second, and 32 random samples need some 25 steps
    // to be learned (8 need 12), which would make this the slowest test of the suite.
    const B: usize = 8;
    let mut net = Cnn::new(4);
    let (x, labels) = random_batch::<784, B>(40);
    let (first, last) = losses_over_steps(&mut net, &mut sgd_momentum(), &x, &labels, 12);
    assert_learned("W4", first, last);
}

#[test]
fn w1_mlp_learns_a_batch_with_adam() {
    assert_eq!(
        Mlp::PARAMS,
        (784 * 256 + 256) + (256 * 128 + 128) + (128 * 10 + 10)
    );
    assert_eq!(Mlp::PARAMS, 235_146);
    const B: usize = 64;
    let mut net = Mlp::new(1);
    let (x, labels) = random_batch::<784, B>(10);
    let mut adam = Adam::new(AdamConfig {
        lr: 1e-3,
        ..AdamConfig::default()
    })
    .unwrap();
    let (first, last) = losses_over_steps(&mut net, &mut adam, &x, &labels, 10);
    assert_learned("W1", first, last);
}

#[test]
fn w5_batch_norm_mlp_learns_a_batch_with_sgd_momentum() {
    // W1's parameters plus a scale and a shift per normalized unit; running mean and variance
    // per normalized unit are state, not parameters.
    assert_eq!(BnMlp::PARAMS, Mlp::PARAMS + 2 * (256 + 128));
    assert_eq!(BnMlp::STATE, 2 * (256 + 128));
    const B: usize = 64;
    let mut net = BnMlp::new(5);
    let (x, labels) = random_batch::<784, B>(50);
    let (first, last) = losses_over_steps(&mut net, &mut sgd_momentum(), &x, &labels, 10);
    assert_learned("W5", first, last);
    // Training mode moved the running statistics away from their initial (0, 1).
    assert!(net.state[..256].iter().any(|&m| m != 0.0));
}
