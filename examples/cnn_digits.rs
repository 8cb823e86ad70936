//! A small convolutional network on the 8x8 digits, seen as `[1, 8, 8]` images, against the MLP of
//! the `digits` example trained alongside it on the same split with the same recipe (Adam lr
//! 1e-3, batch 32, 30 epochs, same batch order): per-epoch progress, both learning curves, the
//! confusion matrix, the digits it still gets wrong, and what its first layer learned.
//!
//! ```text
//! cargo run --release --example cnn_digits              # shuffled split (seed 0), as `digits`
//! cargo run --release --example cnn_digits -- --seed 3  # another split, init and batch order
//! ```
//!
//! The CNN's lead is not one lucky seed. Measured: on the seed-0 split, with initialisation and
//! batch-order seeds 0 to 9, the CNN ends between 98.61% and 99.72% (mean 99.17%) and the MLP
//! between 96.67% and 98.06% (mean 97.64%); with `--seed 0` to `9` (split included) the CNN is
//! ahead on every one (means 98.83% and 97.25%). Smaller variants (8 and 16 channels, with or
//! without BatchNorm) fell to the MLP's 98.06% or below on some seeds.

#[path = "common/digits.rs"]
mod digits;
#[path = "common/plot.rs"]
mod plot;
#[path = "common/report.rs"]
mod report;

use std::time::Instant;

use monograd::prelude::*;
use monograd::runtime::ops::loss::argmax;
use monograd::runtime::train::{accuracy, MiniBatches};

monograd::network! {
    /// Classifies 8x8 digit images: two 3x3 convolutions (16 and 32 channels, each followed by
    /// BatchNorm and ReLU), a 2x2 max pool, and a linear layer from the 32x4x4 features to 10
    /// scores. The convolutions have no bias: BatchNorm subtracts each channel's mean, which
    /// would cancel it (its own shift `beta` plays that role).
    pub struct DigitsCnn {
        input image: [1, 8, 8];
        conv1 = conv2d(image, 16, kernel = 3, padding = 1, bias = false, init = he_normal);
        norm1 = batch_norm(conv1);
        act1 = relu(norm1);
        conv2 = conv2d(act1, 32, kernel = 3, padding = 1, bias = false, init = he_normal);
        norm2 = batch_norm(conv2);
        act2 = relu(norm2);
        pool = max_pool2d(act2, 2);
        features = flatten(pool);
        logits = linear(features, 10);
        loss = softmax_cross_entropy(logits);
    }
}

#[path = "common/mlp.rs"]
mod mlp;

use mlp::{DigitsNet as DigitsMlp, DigitsNetTape as DigitsMlpTape};

const BATCH: usize = 32;
const TRAIN: usize = 1437;
const EPOCHS: usize = 30;
const LR: f64 = 1e-3;

fn parse_seed() -> Result<u64, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(0),
        [flag, value] if flag == "--seed" => value.parse().map_err(|e| format!("--seed: {e}")),
        _ => Err("usage: cnn_digits [--seed S]".into()),
    }
}

fn adam<const P: usize>() -> Result<Adam<f32, P>, monograd::runtime::Error> {
    Adam::new(AdamConfig {
        lr: LR,
        ..AdamConfig::default()
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seed = parse_seed()?;
    let data = digits::load()?;

    // The split of the `digits` example: a fixed shuffle, first 1437 train, last 360 test.
    let mut order: Vec<usize> = (0..data.len()).collect();
    Rng::new(seed).shuffle(&mut order);
    let train = data.subset(&order[..TRAIN]);
    let test = data.subset(&order[TRAIN..]);

    println!(
        "cnn_digits: {} training and {} test images of 8x8 pixels, shuffled split (seed {seed})",
        train.len(),
        test.len()
    );
    println!(
        "CNN: [1,8,8] -> conv3x3(16) BN ReLU -> conv3x3(32) BN ReLU -> maxpool2 -> 512 -> 10, {} parameters",
        DigitsCnn::PARAMS
    );
    println!(
        "MLP of the digits example: 64 -> 128 ReLU -> 10, {} parameters",
        DigitsMlp::PARAMS
    );
    println!(
        "both: Adam lr {LR}, batch {BATCH}, {EPOCHS} epochs, the same batches in the same order\n"
    );

    let mut cnn = DigitsCnn::new(seed);
    let mut cnn_tape = DigitsCnnTape::<BATCH>::new();
    let mut cnn_adam = adam()?;
    let mut cnn_batches = MiniBatches::new(&train.images, &train.labels, seed)?;
    let mut mlp = DigitsMlp::new(seed);
    let mut mlp_tape = DigitsMlpTape::<BATCH>::new();
    let mut mlp_adam = adam()?;
    let mut mlp_batches = MiniBatches::new(&train.images, &train.labels, seed)?;

    let (mut cnn_curve, mut mlp_curve) = (Vec::new(), Vec::new());
    let mut training_time = 0.0;
    for epoch in 1..=EPOCHS {
        let start = Instant::now();
        let report = cnn_batches.train_epoch(
            &mut cnn,
            &mut cnn_tape,
            &mut cnn_adam,
            &train.images,
            &train.labels,
        )?;
        let seconds = start.elapsed().as_secs_f64();
        training_time += seconds;
        mlp_batches.train_epoch(
            &mut mlp,
            &mut mlp_tape,
            &mut mlp_adam,
            &train.images,
            &train.labels,
        )?;
        let train_accuracy = accuracy(&cnn, &mut cnn_tape, &train.images, &train.labels)?;
        let test_accuracy = accuracy(&cnn, &mut cnn_tape, &test.images, &test.labels)?;
        let mlp_accuracy = accuracy(&mlp, &mut mlp_tape, &test.images, &test.labels)?;
        cnn_curve.push(test_accuracy);
        mlp_curve.push(mlp_accuracy);
        println!(
            "epoch {epoch:>3}/{EPOCHS}  loss {:.4}  train {:>5.1}%  test {:>5.1}%  {:>6.1} ms   (MLP test {:>5.1}%)",
            report.mean_loss,
            100.0 * train_accuracy,
            100.0 * test_accuracy,
            1e3 * seconds,
            100.0 * mlp_accuracy,
        );
    }

    let correct = |accuracy: f64| (accuracy * test.len() as f64).round();
    let (cnn_final, mlp_final) = (cnn_curve[EPOCHS - 1], mlp_curve[EPOCHS - 1]);
    println!(
        "\ntest accuracy after {EPOCHS} epochs: CNN {:.2}% ({} of {}), MLP {:.2}% ({} of {})",
        100.0 * cnn_final,
        correct(cnn_final),
        test.len(),
        100.0 * mlp_final,
        correct(mlp_final),
        test.len()
    );
    println!(
        "CNN training took {training_time:.2} s ({:.0} µs per step)\n",
        1e6 * training_time / (EPOCHS * cnn_batches.batches_per_epoch()) as f64
    );

    let curves = [
        plot::Series {
            name: "MLP test accuracy",
            values: &mlp_curve,
            mark: '•',
        },
        plot::Series {
            name: "CNN test accuracy",
            values: &cnn_curve,
            mark: '×',
        },
    ];
    println!(
        "{}",
        plot::line_chart("test accuracy per epoch", &curves, 60, 12)
    );

    let predicted: Vec<usize> = test
        .images
        .iter()
        .map(|image| argmax(&cnn.predict(image)))
        .collect();
    println!("CNN {}", report::confusion_matrix(&test.labels, &predicted));
    print!(
        "{}",
        report::misclassified(&test.images, &test.labels, &predicted, 8)
    );

    show_first_layer(&cnn, &test.images[0]);
    Ok(())
}

/// The 16 learned 3x3 filters of the first convolution, and the map each produces (after
/// BatchNorm and ReLU) on one digit: what the first layer looks for.
fn show_first_layer(cnn: &DigitsCnn, digit: &[f32; 64]) {
    let weights = DigitsCnn::CONV1_WEIGHT.slice(&cnn.params[..]);
    let mut tape = DigitsCnnTape::<1>::new();
    cnn.forward_with(&mut tape, &[*digit]);
    let maps = &tape.values.act1[0];

    // One picture per channel: the filter, and below it the map it produces.
    let pictures: Vec<Vec<String>> = weights
        .chunks(9)
        .zip(maps.chunks(64))
        .map(|(filter, map)| {
            // Each weight drawn as a 2x2 block of pixels, so that a 3x3 filter is big enough to
            // see; scaled from its most negative weight (blank) to its most positive (█).
            let (lo, hi) = filter
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &w| {
                    (lo.min(w), hi.max(w))
                });
            let filter: Vec<f32> = (0..36)
                .map(|i| (filter[(i / 12) * 3 + (i % 6) / 2] - lo) / (hi - lo).max(1e-12))
                .collect();
            let peak = map.iter().fold(0.0f32, |m, &v| m.max(v)).max(1e-12);
            let map: Vec<f32> = map.iter().map(|v| v / peak).collect();
            let mut lines = report::ascii_art(&filter, 6);
            lines.push(String::new());
            lines.extend(report::ascii_art(&map, 8));
            lines
        })
        .collect();

    println!("\nwhat the first layer learned: its 16 filters (3x3; blank = most negative weight,");
    println!("█ = most positive) and, below each, the map it makes of this test digit (after");
    println!("BatchNorm and ReLU, scaled to its maximum):\n");
    print!(
        "{}",
        report::side_by_side(&["input".to_string()], &[report::ascii_art(digit, 8)])
    );
    for first in (0..pictures.len()).step_by(8) {
        let channels = first..(first + 8).min(pictures.len());
        let captions: Vec<String> = channels
            .clone()
            .map(|c| format!("filter {}", c + 1))
            .collect();
        println!();
        print!("{}", report::side_by_side(&captions, &pictures[channels]));
    }
}
