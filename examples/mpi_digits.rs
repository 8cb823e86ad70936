//! The digits classifier of the `digits` example trained data-parallel over MPI: every rank holds
//! the network and trains on its share of each global batch of 32; rank 0 prints the progress,
//! writes the checkpoints and saves the trained network.
//!
//! ```text
//! cargo build --release --features mpi --example mpi_digits
//! mpirun -np 2 target/release/examples/mpi_digits                      # 16 samples per rank
//! mpirun -np 2 target/release/examples/mpi_digits -- --average-every 4  # local SGD
//! mpirun -np 2 target/release/examples/mpi_digits --checkpoint target/mpi_digits.ckpt --epochs 10
//! mpirun -np 4 target/release/examples/mpi_digits --checkpoint target/mpi_digits.ckpt --resume --epochs 20
//! ```
//!
//! (As root, Open MPI's `mpirun` also needs `--allow-run-as-root`, and `--oversubscribe` to
//! start more ranks than cores.) The global batch, and so the training, is the same for 1, 2,
//! 4, ... 32 ranks; a checkpoint written with one number of ranks resumes with another. Every
//! rank prints its process id on stderr, which `.ci/run` uses to stop or kill one and check
//! that the others end within `--timeout`.

#[path = "common/cli.rs"]
mod cli;
#[path = "common/digits.rs"]
mod digits;
#[path = "common/mlp.rs"]
mod mlp;

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mlp::{DigitsNet, DigitsNetTape};
use monograd::prelude::*;
use monograd::runtime::io::Progress;
use monograd::runtime::mpi::rsmpi::topology::SimpleCommunicator;
use monograd::runtime::mpi::rsmpi::traits::Communicator;
use monograd::runtime::mpi::{self, Distributed, DistributedConfig, ShardedBatches};

const USAGE: &str = "\
usage: mpirun -np RANKS mpi_digits [--epochs N] [--lr RATE] [--seed S] [--average-every K]
                                   [--timeout SECONDS] [--checkpoint PATH [--resume]]
                                   [--print-every N] [--save PATH]

Trains the 64 -> 128 ReLU -> 10 digits network with Adam on global batches of 32 samples,
shared by the ranks (1, 2, 4, 8, 16 or 32 of them).

options:
  --epochs N           epochs of training, in all (default 30)
  --lr RATE            Adam's learning rate (default 0.001)
  --seed S             seed of the split, the initial weights and the batch order (default 0)
  --average-every K    local SGD: average the parameters every K steps instead of all-reducing
                       the gradient every step (default 1: every step)
  --timeout SECONDS    a collective that waits longer aborts the job (default 60)
  --checkpoint PATH    rank 0 writes a checkpoint there after every epoch
  --resume             first load the checkpoint (written with any number of ranks)
  --print-every N      print every N-th epoch's line (default 1)
  --save PATH          where rank 0 saves the trained network (default target/mpi_digits.safetensors)
  -h, --help           this text";

/// The global batch: every rank count trains on the same batches.
const GLOBAL_BATCH: usize = 32;

struct Options {
    epochs: u64,
    lr: f64,
    seed: u64,
    average_every: usize,
    timeout: f64,
    checkpoint: Option<PathBuf>,
    resume: bool,
    print_every: u64,
    save: PathBuf,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        epochs: 30,
        lr: 1e-3,
        seed: 0,
        average_every: 1,
        timeout: 60.0,
        checkpoint: None,
        resume: false,
        print_every: 1,
        save: PathBuf::from("target/mpi_digits.safetensors"),
    };
    let mut cli = cli::Cli::new(USAGE);
    while let Some(option) = cli.next()? {
        match option.as_str() {
            "--epochs" => options.epochs = cli.value("--epochs")?,
            "--lr" => options.lr = cli.value("--lr")?,
            "--seed" => options.seed = cli.value("--seed")?,
            "--average-every" => options.average_every = cli.value("--average-every")?,
            "--timeout" => options.timeout = cli.value("--timeout")?,
            "--checkpoint" => options.checkpoint = Some(cli.value("--checkpoint")?),
            "--resume" => options.resume = true,
            "--print-every" => options.print_every = cli.value("--print-every")?,
            "--save" => options.save = cli.value("--save")?,
            _ => return Err(cli.unknown(&option)),
        }
    }
    if options.epochs == 0 || options.print_every == 0 {
        return Err("--epochs and --print-every must be at least 1".into());
    }
    if !(options.timeout.is_finite() && options.timeout > 0.0) {
        return Err("--timeout must be a positive number of seconds".into());
    }
    if options.resume && options.checkpoint.is_none() {
        return Err("--resume needs --checkpoint PATH".into());
    }
    Ok(options)
}

fn main() {
    cli::run(|| {
        let options = parse_options()?;
        let universe = mpi::initialize()?;
        let world = universe.world();
        let ranks = usize::try_from(world.size())?;
        // One write, so that the ranks' lines do not interleave.
        let line = format!(
            "mpi_digits: rank {} of {ranks}, process {}\n",
            world.rank(),
            std::process::id()
        );
        std::io::stderr().write_all(line.as_bytes())?;
        match ranks {
            1 => train::<32>(&options, &world),
            2 => train::<16>(&options, &world),
            4 => train::<8>(&options, &world),
            8 => train::<4>(&options, &world),
            16 => train::<2>(&options, &world),
            32 => train::<1>(&options, &world),
            _ => Err(format!(
                "{ranks} ranks: the global batch of {GLOBAL_BATCH} must split evenly (1, 2, 4, 8, 16 or 32 ranks)"
            )
            .into()),
        }
    })
}

/// Trains with `B` samples per rank.
fn train<const B: usize>(
    options: &Options,
    world: &SimpleCommunicator,
) -> Result<(), Box<dyn std::error::Error>> {
    let data = digits::load()?;
    let (train, test) = digits::split(&data, false, options.seed);
    let config = DistributedConfig {
        timeout: Duration::from_secs_f64(options.timeout),
        average_every: options.average_every,
    };
    let mut distributed = Distributed::<f32>::with_config(world, config)?;
    let root = distributed.is_root();

    let mut net = DigitsNet::new(options.seed);
    let mut tape = DigitsNetTape::<B>::new();
    let mut adam = Adam::new(AdamConfig {
        lr: options.lr,
        ..AdamConfig::default()
    })?;
    let mut batches =
        ShardedBatches::new(&train.images, &train.labels, options.seed, &distributed)?;
    let mut progress = Progress::default();
    if let (true, Some(path)) = (options.resume, &options.checkpoint) {
        progress = distributed.load_checkpoint(path, &mut net, &mut adam, Some(&mut batches))?;
    }
    distributed.sync_from_root(&mut net, &mut adam)?;

    if root {
        println!(
            "mpi_digits: {} ranks x {B} samples = global batch {GLOBAL_BATCH}; {} training and {} test images",
            distributed.ranks(),
            train.len(),
            test.len()
        );
        println!(
            "{}; Adam lr {}, collectives time out after {} s{}\n",
            if options.average_every == 1 {
                "gradient all-reduced every step".to_string()
            } else {
                format!(
                    "local SGD, parameters averaged every {} steps",
                    options.average_every
                )
            },
            options.lr,
            options.timeout,
            if progress.epoch > 0 {
                format!(
                    ", resumed at epoch {} (step {})",
                    progress.epoch, progress.step
                )
            } else {
                String::new()
            }
        );
    }

    let first = progress.epoch + 1;
    let start = Instant::now();
    for epoch in first..=options.epochs {
        let report = batches.train_epoch(
            &mut distributed,
            &mut net,
            &mut tape,
            &mut adam,
            &train.images,
            &train.labels,
        )?;
        progress = Progress {
            epoch,
            step: distributed.steps(),
        };
        if let Some(path) = &options.checkpoint {
            distributed.save_checkpoint(path, &net, &adam, progress, Some(&batches))?;
        }
        // Plain lines: mpirun forwards the output through a terminal of its own, even to a pipe.
        if root && epoch % options.print_every == 0 {
            let test_accuracy = accuracy(&net, &mut tape, &test.images, &test.labels)?;
            println!(
                "epoch {epoch:>4}/{}  step {:>6}  loss {:.4}  test {:>5.1}%  {:>7.2} s",
                options.epochs,
                progress.step,
                report.mean_loss,
                100.0 * test_accuracy,
                start.elapsed().as_secs_f64()
            );
        }
    }

    if root {
        let test_accuracy = accuracy(&net, &mut tape, &test.images, &test.labels)?;
        net.save(&options.save)?;
        println!(
            "\ntest accuracy {:.2}% after {} steps; saved the network to {}",
            100.0 * test_accuracy,
            distributed.steps(),
            options.save.display()
        );
    }
    Ok(())
}
