//! Learning-rate schedules on the digits MLP of the `digits` example: SGD with momentum 0.9
//! from the same initial weights on the same batches, its learning rate set before every step
//! by one of four schedules of `monograd::runtime::optim::schedule`, all starting from (or
//! warming up to) the same rate:
//!
//! - constant;
//! - step decay: multiplied by 0.3 every 5 epochs (PyTorch's `StepLR`);
//! - harmonic: `base / (epoch + 1)`, the `1/t` decay of stochastic approximation;
//! - cosine annealing to 0 after a linear warm-up of 2 epochs from 1/20 of the rate.
//!
//! The base rate, 0.4 with momentum 0.9, is a fast one, too large to keep: with it constant,
//! the batch noise and the step size keep the loss high and jumpy; the decaying schedules take
//! the same large steps early and then shrink them, and end far lower. (With `--lr 0.05` a
//! constant rate does fine on this small problem: schedules matter when the rate is pushed up to
//! train fast.) Prints each run's final losses and accuracy and draws the schedules and the
//! loss curves in one figure with two panels.
//!
//! ```text
//! cargo run --release --example schedules
//! cargo run --release --example schedules -- --lr 0.05 --epochs 30
//! ```

#[path = "common/cli.rs"]
mod cli;
#[path = "common/digits.rs"]
mod digits;
#[path = "common/figure.rs"]
mod figure;
#[path = "common/mlp.rs"]
mod mlp;

use std::path::PathBuf;

use figure::{Figure, LegendAt, Line, LinePlot, Panel};
use mlp::{DigitsNet, DigitsNetTape};
use monograd::prelude::*;
use monograd::runtime::optim::schedule::{
    Constant, CosineAnnealing, Harmonic, Schedule, StepDecay, Warmup,
};

const USAGE: &str = "\
usage: schedules [--lr RATE] [--epochs N] [--out DIR]

Trains the digits MLP with SGD (momentum 0.9) under a constant, a step, a harmonic and a
warm-up + cosine learning-rate schedule; prints the results and draws schedules and losses.

options:
  --lr RATE    the schedules' base learning rate (default 0.4)
  --epochs N   epochs per run, at least 5 (default 20)
  --out DIR    where figures go (default target/figures)
  -h, --help   this text";

const BATCH: usize = 32;
const MOMENTUM: f64 = 0.9;

struct Options {
    lr: f64,
    epochs: usize,
    out: PathBuf,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        lr: 0.4,
        epochs: 20,
        out: cli::default_out(),
    };
    let mut cli = cli::Cli::new(USAGE);
    while let Some(option) = cli.next()? {
        match option.as_str() {
            "--lr" => options.lr = cli.value("--lr")?,
            "--epochs" => options.epochs = cli.value("--epochs")?,
            "--out" => options.out = cli.value("--out")?,
            _ => return Err(cli.unknown(&option)),
        }
    }
    if options.epochs < 5 {
        return Err(format!(
            "--epochs must be at least 5 (the step schedule decays every 5), not {}",
            options.epochs
        ));
    }
    if !(options.lr > 0.0 && options.lr.is_finite()) {
        return Err(format!(
            "--lr must be a positive number, not {}",
            options.lr
        ));
    }
    Ok(options)
}

struct Run {
    name: String,
    /// The learning rate of every step.
    rates: Vec<f64>,
    /// Mean batch loss of each epoch.
    losses: Vec<f64>,
    train_loss: f64,
    test_loss: f64,
    test_accuracy: f64,
}

/// Trains a copy of `start`, setting the learning rate to `schedule.lr(step)` before each step.
fn run(
    name: String,
    schedule: &dyn Fn(u64) -> f64,
    start: &DigitsNet,
    epochs: usize,
    train: &digits::Dataset,
    test: &digits::Dataset,
) -> Result<Run, Error> {
    let mut net = start.clone();
    let mut tape = DigitsNetTape::<BATCH>::new();
    let mut sgd = Sgd::new(SgdConfig {
        lr: schedule(0),
        momentum: MOMENTUM,
        ..SgdConfig::default()
    })?;
    let mut batches = digits::Batches::<BATCH>::new(train.len(), 1);
    let (mut rates, mut losses) = (Vec::new(), Vec::new());
    for _ in 0..epochs {
        let mut sum = 0.0;
        batches.epoch(train, |x, y| {
            // The optimizer's own step counter drives the schedule (per-step schedules).
            let lr = schedule.lr(sgd.steps());
            sgd.set_learning_rate(lr)?;
            rates.push(lr);
            sum += f64::from(net.train_step(&mut tape, x, y, &mut sgd)?);
            Ok::<(), Error>(())
        })?;
        losses.push(sum / batches.per_epoch() as f64);
    }
    Ok(Run {
        name,
        rates,
        losses,
        train_loss: evaluate_loss(&net, &mut tape, &train.images, &train.labels)?,
        test_loss: evaluate_loss(&net, &mut tape, &test.images, &test.labels)?,
        test_accuracy: accuracy(&net, &mut tape, &test.images, &test.labels)?,
    })
}

fn main() {
    cli::run(|| {
        let options = parse_options()?;
        let data = digits::load()?;
        let (train, test) = digits::shuffled_split(&data, 0);
        let start = DigitsNet::new(0);
        let per_epoch = train.len().div_ceil(BATCH) as u64;
        let total = per_epoch * options.epochs as u64;
        let lr = options.lr;
        println!(
            "schedules: the digits MLP, SGD momentum {MOMENTUM}, batch {BATCH}, {} epochs of {per_epoch} steps, \
             base learning rate {lr}\n",
            options.epochs
        );

        let constant = Constant::new(lr)?;
        let step = StepDecay::new(lr, 5 * per_epoch, 0.3)?;
        let harmonic = Harmonic::new(lr, per_epoch, 1.0)?;
        let warmup = 2 * per_epoch;
        let cosine = Warmup::new(CosineAnnealing::new(lr, total - warmup, 0.0)?, warmup, 0.05)?;
        let schedules: [(String, &dyn Fn(u64) -> f64); 4] = [
            (format!("constant {lr}"), &|t| constant.lr(t)),
            ("step: x0.3 every 5 epochs".into(), &|t| step.lr(t)),
            ("harmonic: lr / (epoch + 1)".into(), &|t| harmonic.lr(t)),
            ("warm-up 2 epochs, then cosine".into(), &|t| cosine.lr(t)),
        ];
        let mut runs = Vec::new();
        for (name, schedule) in schedules {
            runs.push(run(name, schedule, &start, options.epochs, &train, &test)?);
        }

        println!(
            "{:<32} {:>9} {:>11} {:>10} {:>9}",
            "schedule", "final lr", "train loss", "test loss", "test acc"
        );
        for r in &runs {
            println!(
                "{:<32} {:>9.2e} {:>11.4} {:>10.4} {:>8.1}%",
                r.name,
                r.rates.last().copied().unwrap_or(f64::NAN),
                r.train_loss,
                r.test_loss,
                100.0 * r.test_accuracy
            );
        }
        let best = runs
            .iter()
            .min_by(|a, b| a.train_loss.total_cmp(&b.train_loss))
            .map_or("", |r| r.name.as_str());
        println!(
            "\nlowest final training loss: {best}; constant: {:.4}, {:.0}x the lowest.\n\
             A constant rate keeps taking steps of the same size, batch noise included; a decaying one\n\
             takes the large steps early and then shrinks them (the harmonic 1/t decay is the classic\n\
             convergence condition; the cosine's warm-up lets the largest rate start gently).",
            runs[0].train_loss,
            runs[0].train_loss
                / runs
                    .iter()
                    .map(|r| r.train_loss)
                    .fold(f64::INFINITY, f64::min)
        );

        let rates = LinePlot::new(
            "learning rate of each step",
            "epoch (45 steps each)",
            "learning rate",
            runs.iter()
                .map(|r| Line::from_values(r.name.clone(), &r.rates, 0.0, 1.0 / per_epoch as f64))
                .collect(),
        )
        .legend_at(LegendAt::MiddleRight);
        let losses = LinePlot::new(
            "training loss",
            "epoch",
            "mean batch cross-entropy over the epoch (nats, log scale)",
            runs.iter()
                .map(|r| Line::from_values(r.name.clone(), &r.losses, 1.0, 1.0))
                .collect(),
        )
        .log_y();
        Figure::new(
            &format!(
                "Learning-rate schedules: the digits MLP, SGD momentum {MOMENTUM}, base rate {lr}"
            ),
            2,
            vec![Panel::Lines(rates), Panel::Lines(losses)],
        )
        .size(1400, 600)
        .save_and_report(&options.out, "schedules")?;
        Ok(())
    })
}
