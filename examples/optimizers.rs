//! Seven optimizers on one problem: the digits MLP of the `digits` example (64 -> 128 ReLU ->
//! 10), trained from the same initial weights on the same batches in the same order by SGD,
//! SGD with momentum, SGD with Nesterov momentum, Adagrad, RMSprop, Adam and Adadelta (PyTorch's
//! default hyper-parameters, except SGD's learning rate, which has a default of 0.001 that barely
//! moves in this budget: 0.1 plain, 0.01 with momentum 0.9). Prints each one's final losses and test accuracy and draws the training loss
//! against the step on a log scale.
//!
//! ```text
//! cargo run --release --example optimizers                 # figure in target/figures/
//! cargo run --release --example optimizers -- --epochs 30 --out figures
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
use std::time::Instant;

use figure::{Figure, Line, LinePlot, Panel};
use mlp::{DigitsNet, DigitsNetTape};
use monograd::prelude::*;

const USAGE: &str = "\
usage: optimizers [--epochs N] [--out DIR]

Trains the digits MLP from one start with SGD, momentum, Nesterov, Adagrad, RMSprop, Adam and
Adadelta, prints their losses and accuracies, and draws the loss curves.

options:
  --epochs N   epochs per optimizer (default 15)
  --out DIR    where figures go (default target/figures)
  -h, --help   this text";

const BATCH: usize = 32;
const PARAMS: usize = DigitsNet::PARAMS;
/// Steps averaged into one point of the loss curve: batch losses are noisy.
const WINDOW: usize = 15;

struct Options {
    epochs: usize,
    out: PathBuf,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        epochs: 15,
        out: cli::default_out(),
    };
    let mut cli = cli::Cli::new(USAGE);
    while let Some(option) = cli.next()? {
        match option.as_str() {
            "--epochs" => options.epochs = cli.value("--epochs")?,
            "--out" => options.out = cli.value("--out")?,
            _ => return Err(cli.unknown(&option)),
        }
    }
    if options.epochs == 0 {
        return Err("--epochs must be at least 1".into());
    }
    Ok(options)
}

struct Run {
    name: &'static str,
    /// Mean batch loss of each window of `WINDOW` steps.
    losses: Vec<f64>,
    train_loss: f64,
    test_loss: f64,
    test_accuracy: f64,
}

/// Trains a copy of `start` with `optimizer` for `epochs`, recording every step's loss.
fn run<O: Optimizer<f32, PARAMS>>(
    name: &'static str,
    start: &DigitsNet,
    mut optimizer: O,
    epochs: usize,
    train: &digits::Dataset,
    test: &digits::Dataset,
) -> Result<Run, Error> {
    let mut net = start.clone();
    let mut tape = DigitsNetTape::<BATCH>::new();
    let mut batches = digits::Batches::<BATCH>::new(train.len(), 1);
    let mut steps = Vec::new();
    for _ in 0..epochs {
        batches.epoch(train, |x, y| {
            steps.push(f64::from(net.train_step(
                &mut tape,
                x,
                y,
                &mut optimizer,
            )?));
            Ok::<(), Error>(())
        })?;
    }
    Ok(Run {
        name,
        losses: steps
            .chunks(WINDOW)
            .map(|w| w.iter().sum::<f64>() / w.len() as f64)
            .collect(),
        train_loss: evaluate_loss(&net, &mut tape, &train.images, &train.labels)?,
        test_loss: evaluate_loss(&net, &mut tape, &test.images, &test.labels)?,
        test_accuracy: accuracy(&net, &mut tape, &test.images, &test.labels)?,
    })
}

fn main() {
    cli::run(|| {
        let options = parse_options()?;
        let started = Instant::now();
        let data = digits::load()?;
        let (train, test) = digits::shuffled_split(&data, 0);
        let start = DigitsNet::new(0);
        let steps_per_epoch = train.len().div_ceil(BATCH);
        println!(
            "optimizers: the digits MLP (64 -> 128 ReLU -> 10), {} epochs of {steps_per_epoch} steps \
             (batch {BATCH}) from the same initial weights and on the same batches\n",
            options.epochs
        );

        let sgd = |lr, momentum, nesterov| {
            Sgd::new(SgdConfig {
                lr,
                momentum,
                nesterov,
                ..SgdConfig::default()
            })
        };
        let e = options.epochs;
        let runs = [
            run(
                "SGD (lr 0.1)",
                &start,
                sgd(0.1, 0.0, false)?,
                e,
                &train,
                &test,
            )?,
            run(
                "momentum 0.9 (lr 0.01)",
                &start,
                sgd(0.01, 0.9, false)?,
                e,
                &train,
                &test,
            )?,
            run(
                "Nesterov 0.9 (lr 0.01)",
                &start,
                sgd(0.01, 0.9, true)?,
                e,
                &train,
                &test,
            )?,
            run(
                "Adagrad (lr 0.01)",
                &start,
                Adagrad::new(AdagradConfig::default())?,
                e,
                &train,
                &test,
            )?,
            run(
                "RMSprop (lr 0.01)",
                &start,
                RmsProp::new(RmsPropConfig::default())?,
                e,
                &train,
                &test,
            )?,
            run(
                "Adam (lr 0.001)",
                &start,
                Adam::new(AdamConfig::default())?,
                e,
                &train,
                &test,
            )?,
            run(
                "Adadelta (lr 1.0)",
                &start,
                Adadelta::new(AdadeltaConfig::default())?,
                e,
                &train,
                &test,
            )?,
        ];

        println!(
            "{:<24} {:>11} {:>10} {:>9}",
            "optimizer", "train loss", "test loss", "test acc"
        );
        for r in &runs {
            println!(
                "{:<24} {:>11.4} {:>10.4} {:>8.1}%",
                r.name,
                r.train_loss,
                r.test_loss,
                100.0 * r.test_accuracy
            );
        }
        let mut ranked: Vec<&Run> = runs.iter().collect();
        ranked.sort_by(|a, b| a.train_loss.total_cmp(&b.train_loss));
        let names: Vec<&str> = ranked.iter().map(|r| r.name).collect();
        println!(
            "\nfrom lowest to highest training loss: {}",
            names.join(", ")
        );
        println!(
            "momentum 0.9 at lr 0.01 takes steps like plain SGD at lr 0.1 once the velocity has built up\n\
             (0.01 / (1 - 0.9) = 0.1), so its curve follows SGD's; Nesterov differs from it only slightly."
        );

        let lines = runs
            .iter()
            .map(|r| Line::from_values(r.name, &r.losses, WINDOW as f64, WINDOW as f64))
            .collect();
        let plot = LinePlot::new(
            &format!("mean training loss over each {WINDOW} steps"),
            "step (optimizer updates of batch 32)",
            "cross-entropy loss (nats, log scale)",
            lines,
        )
        .log_y();
        Figure::new(
            "Seven optimizers on the digits MLP, same start, same batches",
            1,
            vec![Panel::Lines(plot)],
        )
        .size(1000, 650)
        .save_and_report(&options.out, "optimizers")?;
        println!("({:.1} s in all)", started.elapsed().as_secs_f64());
        Ok(())
    })
}
