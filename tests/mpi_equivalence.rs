//! Data-parallel training over MPI reaches the parameters of one process with the same global
//! batch. Run under MPI with 1, 2 or 4 ranks (CI: 2):
//!
//! ```sh
//! cargo build --release --features mpi --test mpi_equivalence
//! mpirun -np 2 target/release/deps/mpi_equivalence-*   # or `cargo test --features mpi`: 1 rank
//! ```
//!
//! Every rank also trains the single-process reference itself (the networks are small), so the
//! comparison needs no communication but the training's own.

use std::sync::atomic::Ordering;

use monograd::prelude::*;
use monograd::runtime::io::Progress;
use monograd::runtime::mpi::rsmpi::traits::Communicator;
use monograd::runtime::mpi::{self, Distributed, DistributedConfig, Operation, ShardedBatches};
use monograd::runtime::Collective;

#[path = "common/counting_allocator.rs"]
mod counting_allocator;

use counting_allocator::ALLOCATIONS;

/// The global batch: the same for every number of ranks.
const GLOBAL: usize = 8;
/// Samples: not a multiple of the global batch, so the last batch of an epoch wraps.
const SAMPLES: usize = 44;

monograd::network! {
    struct Mlp64 {
        type Element = f64;
        input x: [6];
        hidden = linear(x, 12, init = he_normal);
        act = tanh(hidden);
        logits = linear(act, 4);
        loss = softmax_cross_entropy(logits);
    }
}

monograd::network! {
    struct Mlp32 {
        input x: [6];
        hidden = linear(x, 12, init = he_normal);
        act = relu(hidden);
        logits = linear(act, 4);
        loss = softmax_cross_entropy(logits);
    }
}

monograd::network! {
    struct BnMlp64 {
        type Element = f64;
        input x: [6];
        hidden = linear(x, 12, init = he_normal);
        norm = batch_norm(hidden);
        act = relu(norm);
        hidden2 = linear(act, 8, init = he_normal);
        norm2 = batch_norm(hidden2, momentum = 0.2);
        act2 = tanh(norm2);
        logits = linear(act2, 4);
        loss = softmax_cross_entropy(logits);
    }
}

fn data<T: Scalar>() -> (Vec<[T; 6]>, Vec<usize>) {
    let mut rng = Rng::new(11);
    let inputs = (0..SAMPLES)
        .map(|_| core::array::from_fn(|_| rng.normal::<T>()))
        .collect();
    let labels = (0..SAMPLES).map(|i| (i * 7 + i / 3) % 4).collect();
    (inputs, labels)
}

/// `max |a - b| / max |b|`.
fn relative_difference<T: Scalar>(a: &[T], b: &[T]) -> f64 {
    let scale = b
        .iter()
        .map(|v| Scalar::to_f64(*v).abs())
        .fold(0.0, f64::max);
    let diff = a
        .iter()
        .zip(b)
        .map(|(x, y)| (Scalar::to_f64(*x) - Scalar::to_f64(*y)).abs())
        .fold(0.0, f64::max);
    diff / scale
}

struct Checks {
    passed: usize,
    root: bool,
}

impl Checks {
    fn check(&mut self, name: &str, ok: bool, detail: String) {
        assert!(ok, "{name}: {detail}");
        if self.root {
            println!("ok: {name} ({detail})");
        }
        self.passed += 1;
    }
}

/// Two epochs of Adam in f64, with a checkpoint after the first saved by rank 0 and loaded by
/// every rank into fresh objects: equal to one process within 1e-12, and the resumed run equal
/// to the uninterrupted one bit for bit.
fn adam_f64<const B: usize>(world: &mpi::rsmpi::topology::SimpleCommunicator, checks: &mut Checks) {
    let (inputs, labels) = data::<f64>();
    let config = AdamConfig {
        lr: 1e-2,
        ..AdamConfig::default()
    };

    let mut reference = Mlp64::new(5);
    let mut reference_tape = Mlp64Tape::<GLOBAL>::new();
    let mut reference_adam = Adam::new(config).unwrap();
    let mut reference_batches = MiniBatches::<_, _, GLOBAL>::new(&inputs, &labels, 3).unwrap();
    let mut reference_losses = Vec::new();
    for _ in 0..2 {
        let report = reference_batches
            .train_epoch(
                &mut reference,
                &mut reference_tape,
                &mut reference_adam,
                &inputs,
                &labels,
            )
            .unwrap();
        reference_losses.push(report.mean_loss);
    }

    let mut distributed = Distributed::<f64>::new(world).unwrap();
    // Ranks other than 0 start from another seed: the broadcast must replace it.
    let mut net = Mlp64::new(if distributed.is_root() { 5 } else { 99 });
    let mut tape = Mlp64Tape::<B>::new();
    let mut adam = Adam::new(config).unwrap();
    distributed.sync_from_root(&mut net, &mut adam).unwrap();
    let mut batches = ShardedBatches::<_, _, B>::new(&inputs, &labels, 3, &distributed).unwrap();
    let first = batches
        .train_epoch(
            &mut distributed,
            &mut net,
            &mut tape,
            &mut adam,
            &inputs,
            &labels,
        )
        .unwrap();

    // Rank 0's process id names the file on every rank.
    let mut root_id = [std::process::id()];
    distributed
        .collective_mut()
        .broadcast_from_root(&mut root_id, Operation::Sum)
        .unwrap();
    let path = std::env::temp_dir().join(format!(
        "monograd-mpi-equivalence-{}.safetensors",
        root_id[0]
    ));
    let progress = Progress {
        epoch: 1,
        step: distributed.steps(),
    };
    distributed
        .save_checkpoint(&path, &net, &adam, progress, Some(&batches))
        .unwrap();
    let continued = batches
        .train_epoch(
            &mut distributed,
            &mut net,
            &mut tape,
            &mut adam,
            &inputs,
            &labels,
        )
        .unwrap();

    checks.check(
        "f64 Adam: loss of each epoch as one process's",
        (first.mean_loss - reference_losses[0]).abs() < 1e-12
            && (continued.mean_loss - reference_losses[1]).abs() < 1e-12,
        format!(
            "{:?} vs {reference_losses:?}",
            [first.mean_loss, continued.mean_loss]
        ),
    );
    let diff = relative_difference(net.params(), reference.params());
    checks.check(
        "f64 Adam, 2 epochs: parameters as one process's with the same global batch",
        diff <= 1e-12,
        format!("max relative difference {diff:.2e} <= 1e-12"),
    );
    same_on_every_rank(
        &mut distributed,
        net.params(),
        checks,
        "f64 Adam parameters",
    );

    // Resume in fresh objects from rank 0's checkpoint (the path is read on rank 0 only).
    let mut resumed = Mlp64::new(77);
    let mut resumed_adam = Adam::new(config).unwrap();
    let mut resumed_batches =
        ShardedBatches::<_, _, B>::new(&inputs, &labels, 12345, &distributed).unwrap();
    let loaded = distributed
        .load_checkpoint(
            &path,
            &mut resumed,
            &mut resumed_adam,
            Some(&mut resumed_batches),
        )
        .unwrap();
    assert_eq!(loaded, progress);
    resumed_batches
        .train_epoch(
            &mut distributed,
            &mut resumed,
            &mut tape,
            &mut resumed_adam,
            &inputs,
            &labels,
        )
        .unwrap();
    checks.check(
        "checkpoint written by rank 0, loaded by every rank: the resumed epoch is bit-identical",
        resumed.params() == net.params(),
        format!("step {} of epoch {}", loaded.step, loaded.epoch),
    );

    // Resume the same checkpoint with another number of ranks: each process alone (its own
    // one-rank communicator, batch GLOBAL) continues with the same global batches.
    let alone = mpi::rsmpi::topology::SimpleCommunicator::self_comm();
    let mut single = Distributed::<f64>::new(&alone).unwrap();
    let mut single_net = Mlp64::new(78);
    let mut single_tape = Mlp64Tape::<GLOBAL>::new();
    let mut single_adam = Adam::new(config).unwrap();
    let mut single_batches =
        ShardedBatches::<_, _, GLOBAL>::new(&inputs, &labels, 0, &single).unwrap();
    single
        .load_checkpoint(
            &path,
            &mut single_net,
            &mut single_adam,
            Some(&mut single_batches),
        )
        .unwrap();
    single_batches
        .train_epoch(
            &mut single,
            &mut single_net,
            &mut single_tape,
            &mut single_adam,
            &inputs,
            &labels,
        )
        .unwrap();
    let diff = relative_difference(single_net.params(), net.params());
    checks.check(
        "the checkpoint resumed by 1 rank of 8 samples continues as by these ranks",
        diff <= 1e-12,
        format!("max relative difference {diff:.2e} <= 1e-12"),
    );
    drop(single);
    distributed.collective_mut().barrier(Operation::Sum);
    if distributed.is_root() {
        let _ = std::fs::remove_file(&path);
    }
}

/// A BatchNorm network, two epochs of SGD with momentum in f64: the statistics are those of the
/// global batch (SyncBatchNorm), so parameters, running statistics and batch counters equal one
/// process's.
fn batch_norm_f64<const B: usize>(
    world: &mpi::rsmpi::topology::SimpleCommunicator,
    checks: &mut Checks,
) {
    let (inputs, labels) = data::<f64>();
    let config = SgdConfig {
        lr: 0.05,
        momentum: 0.9,
        ..SgdConfig::default()
    };
    let mut reference = BnMlp64::new(4);
    let mut reference_tape = BnMlp64Tape::<GLOBAL>::new();
    let mut reference_sgd = Sgd::new(config).unwrap();
    let mut reference_batches = MiniBatches::<_, _, GLOBAL>::new(&inputs, &labels, 6).unwrap();
    let mut distributed = Distributed::<f64>::new(world).unwrap();
    let mut net = BnMlp64::new(4);
    let mut tape = BnMlp64Tape::<B>::new();
    let mut sgd = Sgd::new(config).unwrap();
    distributed.sync_from_root(&mut net, &mut sgd).unwrap();
    let mut batches = ShardedBatches::<_, _, B>::new(&inputs, &labels, 6, &distributed).unwrap();
    let mut allocations_before_second_epoch = 0;
    for epoch in 0..2 {
        if epoch == 1 {
            allocations_before_second_epoch = ALLOCATIONS.load(Ordering::Relaxed);
        }
        reference_batches
            .train_epoch(
                &mut reference,
                &mut reference_tape,
                &mut reference_sgd,
                &inputs,
                &labels,
            )
            .unwrap();
        batches
            .train_epoch(
                &mut distributed,
                &mut net,
                &mut tape,
                &mut sgd,
                &inputs,
                &labels,
            )
            .unwrap();
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - allocations_before_second_epoch;
    checks.check(
        "BatchNorm: the second epoch allocates nothing (statistics all-reduces included)",
        allocations == 0,
        format!("{allocations} allocations"),
    );
    let params = relative_difference(net.params(), reference.params());
    let state = relative_difference(net.state(), reference.state());
    checks.check(
        "BatchNorm f64, 2 epochs: parameters and running statistics as one process's",
        params <= 1e-12
            && state <= 1e-12
            && net.num_batches_tracked == reference.num_batches_tracked,
        format!(
            "max relative difference {params:.2e} and {state:.2e} <= 1e-12, counters {:?}",
            net.num_batches_tracked
        ),
    );
    same_on_every_rank(
        &mut distributed,
        net.state(),
        checks,
        "BatchNorm running statistics",
    );
}

/// Checks that `values` are bit-identical on every rank (rank 0's broadcast to all).
fn same_on_every_rank<T: Scalar + mpi::rsmpi::traits::Equivalence>(
    distributed: &mut Distributed<'_, f64>,
    values: &[T],
    checks: &mut Checks,
    what: &str,
) {
    let mut root = values.to_vec();
    distributed
        .collective_mut()
        .broadcast_from_root(&mut root, Operation::Sum)
        .unwrap();
    let same = u8::from(root == values);
    let mut flags = [f64::from(same)];
    distributed
        .collective_mut()
        .all_reduce_sum(&mut flags)
        .unwrap();
    checks.check(
        &format!("{what}: bit-identical on every rank"),
        flags[0] as usize == distributed.ranks(),
        format!("{} of {} ranks", flags[0], distributed.ranks()),
    );
}

/// 20 steps of SGD with momentum in f32: equal to one process within 1e-5.
fn sgd_f32<const B: usize>(world: &mpi::rsmpi::topology::SimpleCommunicator, checks: &mut Checks) {
    let (inputs, labels) = data::<f32>();
    let config = SgdConfig {
        lr: 0.05,
        momentum: 0.9,
        ..SgdConfig::default()
    };
    let mut reference = Mlp32::new(8);
    let mut reference_tape = Mlp32Tape::<GLOBAL>::new();
    let mut reference_sgd = Sgd::new(config).unwrap();
    let mut distributed = Distributed::<f32>::new(world).unwrap();
    let mut net = Mlp32::new(8);
    let mut tape = Mlp32Tape::<B>::new();
    let mut sgd = Sgd::new(config).unwrap();
    distributed.sync_from_root(&mut net, &mut sgd).unwrap();
    let rank = distributed.rank();
    let mut allocations_after_first_step = 0;
    for step in 0..20 {
        if step == 1 {
            allocations_after_first_step = ALLOCATIONS.load(Ordering::Relaxed);
        }
        let start = (step * GLOBAL) % (SAMPLES - GLOBAL);
        let x: [[f32; 6]; GLOBAL] = core::array::from_fn(|k| inputs[start + k]);
        let y: [usize; GLOBAL] = core::array::from_fn(|k| labels[start + k]);
        reference
            .train_step(&mut reference_tape, &x, &y, &mut reference_sgd)
            .unwrap();
        let x_shard: [[f32; 6]; B] = core::array::from_fn(|k| x[rank * B + k]);
        let y_shard: [usize; B] = core::array::from_fn(|k| y[rank * B + k]);
        distributed
            .train_step(&mut net, &mut tape, &x_shard, &y_shard, &mut sgd)
            .unwrap();
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - allocations_after_first_step;
    checks.check(
        "steps after the first allocate nothing (gradient all-reduce included)",
        allocations == 0,
        format!("{allocations} allocations in 19 steps"),
    );
    let diff = relative_difference(net.params(), reference.params());
    checks.check(
        "f32 SGD momentum, 20 steps: parameters as one process's",
        diff <= 1e-5,
        format!("max relative difference {diff:.2e} <= 1e-5"),
    );
}

/// A bad label on the last rank only, in a BatchNorm network: every rank's step fails and nothing
/// changes anywhere (parameters, running statistics, batch counters, optimizer).
fn failed_step_changes_nothing<const B: usize>(
    world: &mpi::rsmpi::topology::SimpleCommunicator,
    checks: &mut Checks,
) {
    let (inputs, labels) = data::<f64>();
    let mut distributed = Distributed::<f64>::new(world).unwrap();
    let mut net = BnMlp64::new(1);
    let mut tape = BnMlp64Tape::<B>::new();
    let mut adam = Adam::new(AdamConfig::default()).unwrap();
    distributed.sync_from_root(&mut net, &mut adam).unwrap();
    let x: [[f64; 6]; B] = core::array::from_fn(|k| inputs[k]);
    let mut y: [usize; B] = core::array::from_fn(|k| labels[k]);
    distributed
        .train_step(&mut net, &mut tape, &x, &y, &mut adam)
        .unwrap();
    let before = *net.params();
    let state_before = net.state().to_vec();
    let counters_before = net.num_batches_tracked;
    let steps = adam.steps();
    let last = distributed.ranks() - 1;
    if distributed.rank() == last {
        y[0] = 9;
    }
    let error = distributed
        .train_step(&mut net, &mut tape, &x, &y, &mut adam)
        .unwrap_err();
    let expected = if distributed.rank() == last {
        matches!(error, Error::LabelOutOfRange { label: 9, .. })
    } else {
        matches!(error, Error::Collective { peer: Some(p), .. } if p == last)
    };
    checks.check(
        "a bad label on one rank (BatchNorm network): every rank's step fails, naming it, and changes nothing",
        expected
            && *net.params() == before
            && net.state() == &state_before[..]
            && net.num_batches_tracked == counters_before
            && adam.steps() == steps
            && distributed.steps() == 1,
        format!("{error}"),
    );
}

/// Local SGD averaging every 3 steps: after an average the ranks hold the same parameters; with
/// one rank it is plain training.
fn local_sgd<const B: usize>(
    world: &mpi::rsmpi::topology::SimpleCommunicator,
    checks: &mut Checks,
) {
    let (inputs, labels) = data::<f64>();
    let config = DistributedConfig {
        average_every: 3,
        ..DistributedConfig::default()
    };
    let mut distributed = Distributed::<f64>::with_config(world, config).unwrap();
    let mut net = Mlp64::new(2);
    let mut plain = Mlp64::new(2);
    let mut tape = Mlp64Tape::<B>::new();
    let mut adam = Adam::new(AdamConfig::default()).unwrap();
    let mut plain_adam = Adam::new(AdamConfig::default()).unwrap();
    distributed.sync_from_root(&mut net, &mut adam).unwrap();
    let rank = distributed.rank();
    for step in 0..6 {
        let x: [[f64; 6]; B] =
            core::array::from_fn(|k| inputs[(step * GLOBAL + rank * B + k) % SAMPLES]);
        let y: [usize; B] =
            core::array::from_fn(|k| labels[(step * GLOBAL + rank * B + k) % SAMPLES]);
        distributed
            .train_step(&mut net, &mut tape, &x, &y, &mut adam)
            .unwrap();
        plain
            .train_step(&mut tape, &x, &y, &mut plain_adam)
            .unwrap();
    }
    same_on_every_rank(
        &mut distributed,
        net.params(),
        checks,
        "local SGD parameters after averaging",
    );
    if distributed.ranks() == 1 {
        checks.check(
            "local SGD on one rank is plain training",
            net.params() == plain.params(),
            "bit-identical".into(),
        );
    }
}

fn run<const B: usize>(world: &mpi::rsmpi::topology::SimpleCommunicator, checks: &mut Checks) {
    adam_f64::<B>(world, checks);
    sgd_f32::<B>(world, checks);
    batch_norm_f64::<B>(world, checks);
    failed_step_changes_nothing::<B>(world, checks);
    local_sgd::<B>(world, checks);
}

fn main() {
    let universe = mpi::initialize().expect("MPI initializes once");
    let world = universe.world();
    let ranks = usize::try_from(world.size()).unwrap();
    let mut checks = Checks {
        passed: 0,
        root: world.rank() == 0,
    };
    if checks.root {
        println!(
            "{ranks} rank(s), global batch {GLOBAL}, {} per rank",
            GLOBAL / ranks.max(1)
        );
    }
    match ranks {
        1 => run::<8>(&world, &mut checks),
        2 => run::<4>(&world, &mut checks),
        4 => run::<2>(&world, &mut checks),
        // (8 ranks would leave one sample per rank, which BatchNorm's training does not take.)
        _ => {
            panic!("run with 1, 2 or 4 ranks (2 samples or more of the global batch {GLOBAL} each)")
        }
    }
    if checks.root {
        println!("{} passed, 0 failed", checks.passed);
    }
}
