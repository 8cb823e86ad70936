//! The main job: a 64 -> 128 -> ReLU -> 10 network on the 8x8 handwritten digits, trained with
//! Adam on shuffled mini-batches, with per-epoch progress, a learning curve, a confusion matrix
//! and the test digits it gets wrong.
//!
//! ```text
//! cargo run --release --example digits                # shuffled split (seed 0), 1437 train / 360 test
//! cargo run --release --example digits -- --benchmark # W6 of BENCHMARKS.md: unshuffled split, 30 epochs
//! cargo run --release --example digits -- --epochs 50 --lr 0.002 --seed 7
//! cargo run --release --example digits -- --save model.safetensors  # default target/digits.safetensors
//! ```
//!
//! The trained network is saved (safetensors, PyTorch names); `cargo run --release --example
//! predict` loads it and reproduces the test accuracy without training.

#[path = "common/digits.rs"]
mod digits;
#[path = "common/plot.rs"]
mod plot;
#[path = "common/report.rs"]
mod report;

use std::time::Instant;

use monograd::prelude::*;
use monograd::runtime::train::{accuracy, evaluate_loss, MiniBatches};

#[path = "common/mlp.rs"]
mod mlp;

use mlp::{DigitsNet, DigitsNetTape};

const BATCH: usize = 32;
const TRAIN: usize = 1437;

struct Options {
    benchmark: bool,
    epochs: usize,
    lr: f64,
    seed: u64,
    save: String,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        benchmark: false,
        epochs: 30,
        lr: 1e-3,
        seed: 0,
        save: "target/digits.safetensors".to_string(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--benchmark" => options.benchmark = true,
            "--epochs" => {
                options.epochs = value("--epochs")?
                    .parse()
                    .map_err(|e| format!("--epochs: {e}"))?
            }
            "--lr" => options.lr = value("--lr")?.parse().map_err(|e| format!("--lr: {e}"))?,
            "--seed" => {
                options.seed = value("--seed")?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?
            }
            "--save" => options.save = value("--save")?,
            "--help" | "-h" => {
                println!(
                    "usage: digits [--benchmark] [--epochs N] [--lr RATE] [--seed S] [--save PATH]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}` (try --help)")),
        }
    }
    Ok(options)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = parse_options()?;
    let data = digits::load()?;

    // Split: the benchmark (W6) takes the rows in file order; otherwise a fixed shuffle, so that
    // train and test come from the same writers.
    let mut order: Vec<usize> = (0..data.len()).collect();
    if !options.benchmark {
        Rng::new(options.seed).shuffle(&mut order);
    }
    let train = data.subset(&order[..TRAIN]);
    let test = data.subset(&order[TRAIN..]);

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

    let (mut train_curve, mut test_curve) = (Vec::new(), Vec::new());
    let mut training_time = 0.0;
    for epoch in 1..=options.epochs {
        let start = Instant::now();
        let report =
            batches.train_epoch(&mut net, &mut tape, &mut adam, &train.images, &train.labels)?;
        let seconds = start.elapsed().as_secs_f64();
        training_time += seconds;
        let train_accuracy = accuracy(&net, &mut tape, &train.images, &train.labels)?;
        let test_accuracy = accuracy(&net, &mut tape, &test.images, &test.labels)?;
        train_curve.push(train_accuracy);
        test_curve.push(test_accuracy);
        println!(
            "epoch {epoch:>3}/{}  loss {:.4}  train {:>5.1}%  test {:>5.1}%  {:>6.1} ms",
            options.epochs,
            report.mean_loss,
            100.0 * train_accuracy,
            100.0 * test_accuracy,
            1e3 * seconds
        );
    }

    let test_loss = evaluate_loss(&net, &mut tape, &test.images, &test.labels)?;
    let test_accuracy = *test_curve.last().unwrap_or(&0.0);
    println!(
        "\ntest accuracy {:.2}%, test loss {test_loss:.4}; training took {:.3} s ({:.0} µs per step)\n",
        100.0 * test_accuracy,
        training_time,
        1e6 * training_time / (options.epochs * batches.batches_per_epoch()) as f64
    );
    net.save(&options.save)?;
    println!(
        "saved the trained network to {}; `cargo run --release --example predict -- {}{}{}` \
         evaluates it without training\n",
        options.save,
        options.save,
        if options.benchmark {
            " --benchmark"
        } else {
            ""
        },
        if options.seed != 0 {
            format!(" --seed {}", options.seed)
        } else {
            String::new()
        },
    );

    let curves = [
        plot::Series {
            name: "train accuracy",
            values: &train_curve,
            mark: '•',
        },
        plot::Series {
            name: "test accuracy",
            values: &test_curve,
            mark: '×',
        },
    ];
    println!(
        "{}",
        plot::line_chart("accuracy per epoch", &curves, 60, 12)
    );

    // Confusion matrix and the digits it gets wrong.
    let predicted: Vec<usize> = test
        .images
        .iter()
        .map(|image| monograd::runtime::ops::loss::argmax(&net.predict(image)))
        .collect();
    println!("{}", report::confusion_matrix(&test.labels, &predicted));
    print!(
        "{}",
        report::misclassified(&test.images, &test.labels, &predicted, 8)
    );
    Ok(())
}
