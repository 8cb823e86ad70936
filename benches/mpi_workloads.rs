//! Training steps per second of workloads W1, W4 and W5 (`BENCHMARKS.md`) on 1 rank and on every
//! rank of the job, with the same global batch, in one run:
//!
//! ```text
//! cargo bench --features mpi --bench mpi_workloads --no-run
//! mpirun -np 2 target/release/deps/mpi_workloads-*      # (as root: --allow-run-as-root)
//! ```
//!
//! Phase 1: rank 0 alone (a one-rank communicator, the whole global batch) while the others wait
//! without spinning. Phase 2: every rank, each on `global / ranks` samples, one gradient
//! all-reduce per step. Each phase times blocks of steps after a warm-up and reports the median
//! block's steps per second; rank 0 prints both and their ratio. Each training workload repeats
//! its step on one fixed batch, as `benches/workloads.rs` does.

use std::time::{Duration, Instant};

use monograd::prelude::*;
use monograd::runtime::mpi::rsmpi::topology::SimpleCommunicator;
use monograd::runtime::mpi::rsmpi::traits::{Communicator, CommunicatorCollectives};

use monograd::runtime::mpi::{self, Distributed, Operation};
use monograd::runtime::{Collective, Network};

#[path = "common/networks.rs"]
mod networks;

use networks::*;

const WARMUP_STEPS: usize = 20;
const BLOCKS: usize = 7;
const STEPS_PER_BLOCK: usize = 30;

/// Median steps per second over `BLOCKS` blocks of `STEPS_PER_BLOCK` distributed steps of `net`
/// on a fixed random batch of `B` samples of `I` values per rank.
fn steps_per_second<const P: usize, const I: usize, const B: usize, N, O>(
    distributed: &mut Distributed<'_, f32>,
    net: &mut N,
    optimizer: &mut O,
) -> Result<f64, Error>
where
    N: Network<P, Element = f32, Input = [f32; I], Target = usize>
        + monograd::runtime::io::Persistent<Element = f32>,
    O: Optimizer<f32, P>,
{
    let mut rng = Rng::new(1 + distributed.rank() as u64);
    let mut tape = N::new_tape::<B>();
    let mut x: Box<[[f32; I]; B]> = boxed([0.0; I]);
    for value in x.iter_mut().flatten() {
        *value = rng.normal();
    }
    let mut targets: Box<[usize; B]> = boxed(0);
    for label in targets.iter_mut() {
        *label = rng.below(10);
    }
    distributed.sync_from_root(net, optimizer)?;
    for _ in 0..WARMUP_STEPS {
        distributed.train_step(net, &mut tape, &x, &targets, optimizer)?;
    }
    let mut rates = Vec::with_capacity(BLOCKS);
    for _ in 0..BLOCKS {
        let start = Instant::now();
        for _ in 0..STEPS_PER_BLOCK {
            distributed.train_step(net, &mut tape, &x, &targets, optimizer)?;
        }
        rates.push(STEPS_PER_BLOCK as f64 / start.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    Ok(rates[BLOCKS / 2])
}

fn boxed<X: Copy, const B: usize>(value: X) -> Box<[X; B]> {
    match vec![value; B].into_boxed_slice().try_into() {
        Ok(array) => array,
        Err(_) => unreachable!("a vec of length B converts to [X; B]"),
    }
}

fn adam() -> Result<Adam<f32, { Mlp::PARAMS }>, Error> {
    Adam::new(AdamConfig {
        lr: 1e-3,
        ..AdamConfig::default()
    })
}

fn momentum<const P: usize>() -> Result<Sgd<f32, P>, Error> {
    Sgd::new(SgdConfig {
        lr: 0.01,
        momentum: 0.9,
        ..SgdConfig::default()
    })
}

/// W1, W4 and W5 with `B1`, `B4`, `B5` samples per rank: steps per second of each.
fn workloads<const B1: usize, const B4: usize, const B5: usize>(
    distributed: &mut Distributed<'_, f32>,
) -> Result<[f64; 3], Error> {
    let w1 = steps_per_second::<{ Mlp::PARAMS }, 784, B1, _, _>(
        distributed,
        &mut Mlp::new(0),
        &mut adam()?,
    )?;
    let w4 = steps_per_second::<{ Cnn::PARAMS }, 784, B4, _, _>(
        distributed,
        &mut Cnn::new(0),
        &mut momentum()?,
    )?;
    let w5 = steps_per_second::<{ BnMlp::PARAMS }, 784, B5, _, _>(
        distributed,
        &mut BnMlp::new(0),
        &mut momentum()?,
    )?;
    Ok([w1, w4, w5])
}

/// Waits for every rank at a barrier, sleeping rather than spinning (so that a waiting rank
/// leaves its core to the one being timed).
fn idle_barrier(world: &SimpleCommunicator) {
    let mut request = world.immediate_barrier();
    loop {
        match request.test() {
            Ok(_) => return,
            Err(pending) => request = pending,
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let universe = mpi::initialize()?;
    let world = universe.world();
    let ranks = usize::try_from(world.size())?;
    let root = world.rank() == 0;

    // Phase 1: rank 0 alone, the whole global batch.
    let alone = SimpleCommunicator::self_comm();
    let single = if root {
        let mut distributed = Distributed::<f32>::new(&alone)?;
        Some(workloads::<64, 32, 64>(&mut distributed)?)
    } else {
        None
    };
    idle_barrier(&world);

    // Phase 2: every rank, global / ranks samples each.
    let mut distributed = Distributed::<f32>::new(&world)?;
    let together = match ranks {
        1 => workloads::<64, 32, 64>(&mut distributed)?,
        2 => workloads::<32, 16, 32>(&mut distributed)?,
        4 => workloads::<16, 8, 16>(&mut distributed)?,
        _ => return Err("run with 1, 2 or 4 ranks".into()),
    };
    // The all-reduce alone, W1's size: the communication part of a W1 step.
    let mut gradient = vec![0.5f32; Mlp::PARAMS + 1 + ranks];
    let collective = distributed.collective_mut();
    for _ in 0..WARMUP_STEPS {
        collective.all_reduce_sum(&mut gradient)?;
    }
    let mut seconds = Vec::with_capacity(BLOCKS);
    for _ in 0..BLOCKS {
        let start = Instant::now();
        for _ in 0..STEPS_PER_BLOCK {
            collective.all_reduce_sum(&mut gradient)?;
        }
        seconds.push(start.elapsed().as_secs_f64() / STEPS_PER_BLOCK as f64);
    }
    seconds.sort_by(f64::total_cmp);
    let all_reduce = seconds[BLOCKS / 2];
    collective.barrier(Operation::Sum);

    if let (true, Some(single)) = (root, single) {
        println!("steps per second, global batch as BENCHMARKS.md (W1 64, W4 32, W5 64); median of {BLOCKS} blocks of {STEPS_PER_BLOCK} steps");
        println!("| workload | 1 rank | {ranks} ranks | ratio |");
        println!("|---|---|---|---|");
        for (name, (one, all)) in ["W1 mlp_train", "W4 cnn_train", "W5 bn_mlp_train"]
            .iter()
            .zip(single.iter().zip(together.iter()))
        {
            println!("| {name} | {one:.0} | {all:.0} | {:.2} |", all / one);
        }
        let bytes = (gradient.len() * 4) as f64;
        println!(
            "all-reduce of W1's gradient ({:.0} KB) on {ranks} ranks: {:.0} µs, {:.2} GB/s of the ring's 2(p-1)/p traffic",
            bytes / 1e3,
            all_reduce * 1e6,
            2.0 * (ranks as f64 - 1.0) / ranks as f64 * bytes / all_reduce / 1e9
        );
    }
    Ok(())
}
