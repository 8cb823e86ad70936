//! The main job: a 64 -> 128 -> ReLU -> 10 network on the 8x8 handwritten digits, trained with
//! Adam on shuffled mini-batches, with a progress bar and per-epoch lines, learning curves and a
//! confusion matrix drawn as figures, and the test digits it gets wrong.
//!
//! ```text
//! cargo run --release --example digits                # shuffled split (seed 0), 1437 train / 360 test
//! cargo run --release --example digits -- --benchmark # W6 of BENCHMARKS.md: unshuffled split, 30 epochs
//! cargo run --release --example digits -- --epochs 50 --lr 0.002 --seed 7 --out figures
//! cargo run --release --example digits -- --save model.safetensors  # default target/digits.safetensors
//! ```
//!
//! The trained network is saved (safetensors, PyTorch names); `cargo run --release --example
//! predict` loads it and reproduces the test accuracy without training.

#[path = "common/cli.rs"]
mod cli;
#[path = "common/digits.rs"]
mod digits;
#[path = "common/figure.rs"]
mod figure;
#[path = "common/mlp.rs"]
mod mlp;
#[path = "common/progress.rs"]
mod progress;
#[path = "common/report.rs"]
mod report;

use std::path::PathBuf;
use std::time::Instant;

use digits::CLASSES;
use figure::{Figure, Heatmap, ImageGrid, LegendAt, Line, LinePlot, Panel};
use mlp::{DigitsNet, DigitsNetTape};
use monograd::prelude::*;
use monograd::runtime::ops::loss::argmax;

const USAGE: &str = "\
usage: digits [--benchmark] [--epochs N] [--lr RATE] [--seed S] [--out DIR] [--save PATH]

Trains a 64 -> 128 ReLU -> 10 network on the 8x8 digits with Adam, prints its progress and
the digits it gets wrong, and draws its learning curves and confusion matrix.

options:
  --benchmark   workload W6 of BENCHMARKS.md: the unshuffled split
  --epochs N    epochs of training (default 30)
  --lr RATE     Adam's learning rate (default 0.001)
  --seed S      seed of the split, the initial weights and the batch order (default 0)
  --out DIR     where figures go (default target/figures)
  --save PATH   where the trained network goes (default target/digits.safetensors)
  -h, --help    this text";

const BATCH: usize = 32;

struct Options {
    benchmark: bool,
    epochs: usize,
    lr: f64,
    seed: u64,
    out: PathBuf,
    save: PathBuf,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        benchmark: false,
        epochs: 30,
        lr: 1e-3,
        seed: 0,
        out: cli::default_out(),
        save: PathBuf::from("target/digits.safetensors"),
    };
    let mut cli = cli::Cli::new(USAGE);
    while let Some(option) = cli.next()? {
        match option.as_str() {
            "--benchmark" => options.benchmark = true,
            "--epochs" => options.epochs = cli.value("--epochs")?,
            "--lr" => options.lr = cli.value("--lr")?,
            "--seed" => options.seed = cli.value("--seed")?,
            "--out" => options.out = cli.value("--out")?,
            "--save" => options.save = cli.value("--save")?,
            _ => return Err(cli.unknown(&option)),
        }
    }
    if options.epochs == 0 {
        return Err("--epochs must be at least 1".into());
    }
    Ok(options)
}

/// Per-epoch measurements.
#[derive(Default)]
struct Curves {
    train_loss: Vec<f64>,
    test_loss: Vec<f64>,
    train_accuracy: Vec<f64>,
    test_accuracy: Vec<f64>,
}

fn main() {
    cli::run(|| {
        let options = parse_options()?;
        let data = digits::load()?;

        let (train, test) = digits::split(&data, options.benchmark, options.seed);

        println!(
            "digits: {} training and {} test images of 8x8 pixels, {} split",
            train.len(),
            test.len(),
            if options.benchmark {
                "unshuffled (benchmark W6)"
            } else {
                "shuffled"
            }
        );
        println!(
            "network: 64 -> 128 ReLU -> 10, {} parameters ({} KiB); Adam lr {}, batch {BATCH}, {} epochs\n",
            DigitsNet::PARAMS,
            DigitsNet::PARAM_BYTES / 1024,
            options.lr,
            options.epochs
        );

        let mut net = DigitsNet::new(options.seed);
        let mut tape = DigitsNetTape::<BATCH>::new();
        let mut adam = Adam::new(AdamConfig {
            lr: options.lr,
            ..AdamConfig::default()
        })?;
        let mut batches = MiniBatches::new(&train.images, &train.labels, options.seed)?;

        let mut curves = Curves::default();
        let mut training_time = 0.0;
        let progress = progress::Progress::new(options.epochs, "training");
        for epoch in 1..=options.epochs {
            let start = Instant::now();
            let report = batches.train_epoch(
                &mut net,
                &mut tape,
                &mut adam,
                &train.images,
                &train.labels,
            )?;
            let seconds = start.elapsed().as_secs_f64();
            training_time += seconds;
            let train_accuracy = accuracy(&net, &mut tape, &train.images, &train.labels)?;
            let test_accuracy = accuracy(&net, &mut tape, &test.images, &test.labels)?;
            curves.train_loss.push(report.mean_loss);
            curves
                .test_loss
                .push(evaluate_loss(&net, &mut tape, &test.images, &test.labels)?);
            curves.train_accuracy.push(train_accuracy);
            curves.test_accuracy.push(test_accuracy);
            progress.epoch_done(&format!(
                "epoch {epoch:>3}/{}  loss {:.4}  train {:>5.1}%  test {:>5.1}%  {:>6.1} ms",
                options.epochs,
                report.mean_loss,
                100.0 * train_accuracy,
                100.0 * test_accuracy,
                1e3 * seconds
            ));
        }
        progress.finish();

        let test_loss = curves.test_loss[options.epochs - 1];
        let test_accuracy = curves.test_accuracy[options.epochs - 1];
        println!(
            "\ntest accuracy {:.2}%, test loss {test_loss:.4}; training took {:.3} s ({:.0} µs per step)\n",
            100.0 * test_accuracy,
            training_time,
            1e6 * training_time / (options.epochs * batches.batches_per_epoch()) as f64
        );

        net.save(&options.save)?;
        println!(
            "saved the trained network to {}; `cargo run --release --example predict -- --load {}{}{}` evaluates it without training\n",
            options.save.display(),
            options.save.display(),
            if options.benchmark { " --benchmark" } else { "" },
            if options.seed != 0 { format!(" --seed {}", options.seed) } else { String::new() },
        );

        // Confusion matrix and the digits it gets wrong.
        let predicted: Vec<usize> = test
            .images
            .iter()
            .map(|image| argmax(&net.predict(image)))
            .collect();
        println!("{}", report::confusion_matrix(&test.labels, &predicted));
        print!(
            "{}",
            report::misclassified(&test.images, &test.labels, &predicted, 8)
        );

        draw_curves(&curves, &options)?;
        draw_confusion(&test, &predicted, &options)?;
        Ok(())
    })
}

/// Loss and accuracy per epoch, training and test, in two panels.
fn draw_curves(curves: &Curves, options: &Options) -> Result<(), String> {
    let percent = |v: &[f64]| v.iter().map(|a| 100.0 * a).collect::<Vec<f64>>();
    let loss = LinePlot::new(
        "loss per epoch",
        "epoch",
        "cross-entropy loss (nats, log scale)",
        vec![
            Line::from_values(
                "training (mean over the epoch's batches)",
                &curves.train_loss,
                1.0,
                1.0,
            ),
            Line::from_values("test (after the epoch)", &curves.test_loss, 1.0, 1.0),
        ],
    )
    .log_y();
    let accuracy = LinePlot::new(
        "accuracy after each epoch",
        "epoch",
        "accuracy (% of images classified correctly)",
        vec![
            Line::from_values("training set", &percent(&curves.train_accuracy), 1.0, 1.0),
            Line::from_values("test set", &percent(&curves.test_accuracy), 1.0, 1.0),
        ],
    )
    .legend_at(LegendAt::LowerRight);
    Figure::new(
        &format!(
            "digits: 64 -> 128 ReLU -> 10, Adam lr {}, batch {BATCH}",
            options.lr
        ),
        2,
        vec![Panel::Lines(loss), Panel::Lines(accuracy)],
    )
    .size(1300, 550)
    .save_and_report(&options.out, "digits_curves")
}

/// The confusion matrix of the test set, and the misclassified test digits.
fn draw_confusion(
    test: &digits::Dataset,
    predicted: &[usize],
    options: &Options,
) -> Result<(), String> {
    let mut counts = vec![0.0; CLASSES * CLASSES];
    for (&label, &guess) in test.labels.iter().zip(predicted) {
        counts[label * CLASSES + guess] += 1.0;
    }
    let confusion = Heatmap {
        title: "confusion matrix of the test set".into(),
        x_label: "predicted digit".into(),
        y_label: "true digit".into(),
        value_label: "test images".into(),
        rows: CLASSES,
        cols: CLASSES,
        values: counts,
        annotate: true,
    };
    let wrong: Vec<usize> = (0..test.len())
        .filter(|&i| predicted[i] != test.labels[i])
        .take(24)
        .collect();
    let mistakes = ImageGrid {
        title: format!(
            "misclassified test digits ({} of {}), true -> predicted",
            wrong.len(),
            predicted
                .iter()
                .zip(&test.labels)
                .filter(|(p, l)| p != l)
                .count()
        ),
        columns: ((wrong.len() as f64).sqrt().ceil() as usize).clamp(1, 6),
        images: wrong
            .iter()
            .map(|&i| {
                (
                    format!("{} -> {}", test.labels[i], predicted[i]),
                    8,
                    8,
                    test.images[i].iter().map(|&v| f64::from(v)).collect(),
                )
            })
            .collect(),
        diverging: false,
        value_label: "pixel intensity (0 to 1)".into(),
    };
    Figure::new(
        "digits: what the trained network gets wrong",
        2,
        vec![Panel::Heatmap(confusion), Panel::Images(mistakes)],
    )
    .size(1400, 620)
    .save_and_report(&options.out, "digits_confusion")
}
