//! "No allocation per step" for data-parallel training, proven with a counting global
//! allocator that counts every thread (the workers' allocations are the point): after the
//! trainer exists and one warm-up step (which gives each worker its copy of the network and
//! its share buffers), a step of the W1 and W5 networks on 2 and 4 threads, with synchronised
//! or per-worker BatchNorm, and a failing step, allocate nothing.
//!
//! The count is global, so this file holds a single test: nothing else runs while it counts.
//! The threads' `Mutex`, `RwLock` and `Condvar` are futex-based on Linux and allocate nothing;
//! creating threads (`Parallel::new`) does, once.

use std::sync::atomic::Ordering;

use monograd::prelude::*;
use monograd::runtime::parallel::{BatchNormStatistics, Parallel};
use monograd::runtime::{Buffer, Network};

#[path = "../benches/common/networks.rs"]
mod networks;

use networks::*;

#[path = "common/counting_allocator.rs"]
mod counting_allocator;

use counting_allocator::ALLOCATIONS;

fn batch<const N: usize, const B: usize>(seed: u64) -> (Buffer<[[f32; N]; B]>, [usize; B]) {
    let mut rng = Rng::new(seed);
    let mut x = Buffer::<[[f32; N]; B]>::zeroed();
    for v in x.as_flat_mut() {
        *v = rng.normal();
    }
    (x, core::array::from_fn(|_| rng.below(10)))
}

/// Allocations of every thread during two steps after a warm-up step (and of a failing step).
fn check<Net, const P: usize, const W: usize, const PB: usize, const B: usize>(
    name: &str,
    mut net: Net,
    statistics: BatchNormStatistics,
) where
    Net: Network<P, Element = f32, Input = [f32; 784], Target = usize> + Clone + Send + 'static,
{
    let (x, y) = batch::<784, B>(1);
    let mut bad = batch::<784, B>(2).0;
    bad[B - 1][0] = f32::NAN;
    let mut trainer = Parallel::<Net, P, W, PB>::new()
        .unwrap()
        .with_batch_norm(statistics);
    let mut adam = Adam::<f32, P>::new(AdamConfig::default()).unwrap();
    trainer.train_step(&mut net, &x, &y, &mut adam).unwrap();
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    trainer.train_step(&mut net, &x, &y, &mut adam).unwrap();
    assert!(trainer.train_step(&mut net, &bad, &y, &mut adam).is_err());
    trainer.train_step(&mut net, &x, &y, &mut adam).unwrap();
    let allocations = ALLOCATIONS.load(Ordering::SeqCst) - before;
    assert_eq!(
        allocations, 0,
        "{name} on {W} threads ({statistics:?}): {allocations} allocations in three steps"
    );
}

#[test]
fn parallel_steps_allocate_nothing() {
    check::<Mlp, { Mlp::PARAMS }, 2, 32, 64>("W1", Mlp::new(1), BatchNormStatistics::Global);
    check::<Mlp, { Mlp::PARAMS }, 4, 16, 64>("W1", Mlp::new(1), BatchNormStatistics::Global);
    check::<BnMlp, { BnMlp::PARAMS }, 2, 32, 64>("W5", BnMlp::new(2), BatchNormStatistics::Global);
    check::<BnMlp, { BnMlp::PARAMS }, 4, 16, 64>("W5", BnMlp::new(2), BatchNormStatistics::Global);
    check::<BnMlp, { BnMlp::PARAMS }, 2, 32, 64>(
        "W5",
        BnMlp::new(2),
        BatchNormStatistics::PerWorker,
    );
}
