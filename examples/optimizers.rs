//! Every optimizer on the same problem: the digits MLP of the `digits` example, trained from the
//! same initial weights for 15 epochs by each optimizer (PyTorch's defaults unless a learning
//! rate is given), plus plain SGD under two learning-rate schedules. Prints the final test
//! accuracy and loss of each, and their loss curves.
//!
//! ```text
//! cargo run --release --example optimizers
//! ```

#[path = "common/digits.rs"]
mod digits;
#[path = "common/plot.rs"]
mod plot;

use monograd::prelude::*;
use monograd::runtime::optim::schedule::{CosineAnnealing, Harmonic, Warmup};
use monograd::runtime::train::{accuracy, evaluate_loss, MiniBatches};

#[path = "common/mlp.rs"]
mod mlp;

use mlp::{DigitsNet, DigitsNetTape};

const BATCH: usize = 32;
const EPOCHS: usize = 15;
const PARAMS: usize = DigitsNet::PARAMS;

struct Run {
    name: String,
    losses: Vec<f64>,
    test_accuracy: f64,
    test_loss: f64,
}

/// Trains a fresh copy of `start` with `optimizer`; before each epoch the learning rate is
/// `schedule(epoch)` when one is given.
fn run<O: Optimizer<f32, PARAMS>>(
    name: &str,
    start: &DigitsNet,
    mut optimizer: O,
    schedule: Option<&dyn Fn(u64) -> f64>,
    train: &digits::Dataset,
    test: &digits::Dataset,
) -> Result<Run, Error> {
    let mut net = start.clone();
    let mut tape = DigitsNetTape::<BATCH>::new();
    let mut batches = MiniBatches::new(&train.images, &train.labels, 1)?;
    let mut losses = Vec::new();
    for epoch in 0..EPOCHS {
        if let Some(schedule) = schedule {
            optimizer.set_learning_rate(schedule(epoch as u64))?;
        }
        let report = batches.train_epoch(
            &mut net,
            &mut tape,
            &mut optimizer,
            &train.images,
            &train.labels,
        )?;
        losses.push(report.mean_loss);
    }
    Ok(Run {
        name: name.to_string(),
        losses,
        test_accuracy: accuracy(&net, &mut tape, &test.images, &test.labels)?,
        test_loss: evaluate_loss(&net, &mut tape, &test.images, &test.labels)?,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = digits::load()?;
    let mut order: Vec<usize> = (0..data.len()).collect();
    Rng::new(0).shuffle(&mut order);
    let (train, test) = (data.subset(&order[..1437]), data.subset(&order[1437..]));
    let start = DigitsNet::new(0);
    println!("digits MLP, {EPOCHS} epochs of batch {BATCH} from the same initial weights\n");

    let cosine = CosineAnnealing::new(0.1, EPOCHS as u64, 0.0)?;
    let warm_cosine = Warmup::new(cosine, 3, 0.1)?;
    let harmonic = Harmonic::new(0.1, 5, 1.0)?; // a / (floor(t / N) + c): 0.1, then 0.05 after 5 epochs, ...
    let sgd = |lr, momentum, nesterov| SgdConfig {
        lr,
        momentum,
        nesterov,
        ..SgdConfig::default()
    };
    let runs = vec![
        run(
            "SGD lr 0.1",
            &start,
            Sgd::new(sgd(0.1, 0.0, false))?,
            None,
            &train,
            &test,
        )?,
        run(
            "SGD momentum 0.9, lr 0.01",
            &start,
            Sgd::new(sgd(0.01, 0.9, false))?,
            None,
            &train,
            &test,
        )?,
        run(
            "SGD Nesterov 0.9, lr 0.01",
            &start,
            Sgd::new(sgd(0.01, 0.9, true))?,
            None,
            &train,
            &test,
        )?,
        run(
            "SGD lr 0.1, harmonic 0.1/(t/5+1)",
            &start,
            Sgd::new(sgd(0.1, 0.0, false))?,
            Some(&|t| harmonic.lr(t)),
            &train,
            &test,
        )?,
        run(
            "SGD lr 0.1, warm-up + cosine",
            &start,
            Sgd::new(sgd(0.1, 0.0, false))?,
            Some(&|t| warm_cosine.lr(t)),
            &train,
            &test,
        )?,
        run(
            "Adagrad (lr 0.01)",
            &start,
            Adagrad::new(AdagradConfig::default())?,
            None,
            &train,
            &test,
        )?,
        run(
            "RMSprop (lr 0.01)",
            &start,
            RmsProp::new(RmsPropConfig::default())?,
            None,
            &train,
            &test,
        )?,
        run(
            "Adadelta (lr 1.0)",
            &start,
            Adadelta::new(AdadeltaConfig::default())?,
            None,
            &train,
            &test,
        )?,
        run(
            "Adam (lr 0.001)",
            &start,
            Adam::new(AdamConfig::default())?,
            None,
            &train,
            &test,
        )?,
        run(
            "Adam AMSGrad",
            &start,
            Adam::new(AdamConfig {
                amsgrad: true,
                ..AdamConfig::default()
            })?,
            None,
            &train,
            &test,
        )?,
        run(
            "AdamW (weight decay 0.01)",
            &start,
            AdamW::new(AdamWConfig::default())?,
            None,
            &train,
            &test,
        )?,
    ];

    println!(
        "{:<36} {:>10} {:>10} {:>10}",
        "optimizer", "train loss", "test loss", "test acc"
    );
    for r in &runs {
        println!(
            "{:<36} {:>10.4} {:>10.4} {:>9.1}%",
            r.name,
            r.losses.last().copied().unwrap_or(f64::NAN),
            r.test_loss,
            100.0 * r.test_accuracy
        );
    }
    println!();
    // Losses span two orders of magnitude: plot their logarithm.
    const MARKS: [char; 11] = ['s', 'm', 'n', 'h', 'c', 'g', 'r', 'd', 'A', 'M', 'W'];
    let log_losses: Vec<Vec<f64>> = runs
        .iter()
        .map(|r| r.losses.iter().map(|l| l.log10()).collect())
        .collect();
    let series: Vec<plot::Series> = runs
        .iter()
        .zip(&log_losses)
        .zip(MARKS)
        .map(|((r, values), mark)| plot::Series {
            name: &r.name,
            values,
            mark,
        })
        .collect();
    let title = "log10 training loss per epoch";
    println!(
        "{}",
        plot::line_chart(&format!("{title}: SGD and Adagrad"), &series[..6], 60, 14)
    );
    println!(
        "{}",
        plot::line_chart(&format!("{title}: adaptive methods"), &series[6..], 60, 14)
    );
    Ok(())
}
