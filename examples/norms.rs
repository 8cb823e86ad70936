//! Why normalization layers exist: one deep MLP (64 pixels -> 8 hidden layers of 64 sigmoid
//! units -> 10 scores) trained on the 8x8 digits three times, with the same seed, split, batches
//! and optimizer: plain, with BatchNorm after each hidden linear layer, and with LayerNorm there
//! instead. Prints each layer's gradient at initialisation, the three learning curves side by
//! side, and what BatchNorm's running statistics are for; draws the gradient sizes per layer
//! and the learning curves as a figure.
//!
//! ```text
//! cargo run --release --example norms                 # figure in target/figures/
//! cargo run --release --example norms -- --out figures
//! ```
//!
//! Choices, so that the contrast is the one normalization makes and not an artefact:
//! - Sigmoid, because its slope is at most 1/4: without normalization the gradient shrinks at
//!   every layer, the textbook failure of deep networks. With tanh (slope 1 at 0) an 8-layer
//!   plain MLP trains well here, so depth alone would show little.
//! - Xavier (Glorot) initialisation, the one designed for sigmoid and tanh: the plain network's
//!   best start.
//! - SGD with momentum 0.9, lr 0.01: SGD's step is proportional to the gradient, so a vanishing
//!   gradient shows as it is. The plain network stays at chance level at every learning rate
//!   tried (0.01, 0.03, 0.1, 0.3, 1), so this one is not picked against it; BatchNorm reaches
//!   96-98% at all of them. Adam rescales each parameter's step by its gradient's running size,
//!   which hides part of the effect: with Adam lr 1e-3 the plain network slowly leaves chance
//!   level (about 33% after 30 epochs) and LayerNorm trains too (about 98%).
//! - LayerNorm as the other normalization: it normalizes each sample over its units instead of
//!   each unit over the batch. With sigmoid and SGD it does not stop the gradient's decay; with
//!   tanh in place of sigmoid the same LayerNorm network reaches about 99% (measured).

#[path = "common/cli.rs"]
mod cli;
#[path = "common/digits.rs"]
mod digits;
#[path = "common/figure.rs"]
mod figure;

use std::path::PathBuf;
use std::time::Instant;

use figure::{Figure, LegendAt, Line, LinePlot, Panel};

use digits::{Dataset, CLASSES, PIXELS};
use monograd::prelude::*;
use monograd::runtime::ops::loss::argmax;
use monograd::runtime::train::{accuracy, MiniBatches};
use monograd::runtime::{Buffer, Network, TensorInfo};

monograd::network! {
    /// 64 -> 8 x (64 sigmoid) -> 10, no normalization.
    pub struct Plain {
        input x: [64];
        h1 = linear(x, 64, init = xavier_normal);
        a1 = sigmoid(h1);
        h2 = linear(a1, 64, init = xavier_normal);
        a2 = sigmoid(h2);
        h3 = linear(a2, 64, init = xavier_normal);
        a3 = sigmoid(h3);
        h4 = linear(a3, 64, init = xavier_normal);
        a4 = sigmoid(h4);
        h5 = linear(a4, 64, init = xavier_normal);
        a5 = sigmoid(h5);
        h6 = linear(a5, 64, init = xavier_normal);
        a6 = sigmoid(h6);
        h7 = linear(a6, 64, init = xavier_normal);
        a7 = sigmoid(h7);
        h8 = linear(a7, 64, init = xavier_normal);
        a8 = sigmoid(h8);
        logits = linear(a8, 10, init = xavier_normal);
        loss = softmax_cross_entropy(logits);
    }
}

monograd::network! {
    /// The same MLP with BatchNorm between each hidden linear layer and its sigmoid: each unit
    /// normalized over the batch.
    pub struct WithBatchNorm {
        input x: [64];
        h1 = linear(x, 64, init = xavier_normal);
        n1 = batch_norm(h1);
        a1 = sigmoid(n1);
        h2 = linear(a1, 64, init = xavier_normal);
        n2 = batch_norm(h2);
        a2 = sigmoid(n2);
        h3 = linear(a2, 64, init = xavier_normal);
        n3 = batch_norm(h3);
        a3 = sigmoid(n3);
        h4 = linear(a3, 64, init = xavier_normal);
        n4 = batch_norm(h4);
        a4 = sigmoid(n4);
        h5 = linear(a4, 64, init = xavier_normal);
        n5 = batch_norm(h5);
        a5 = sigmoid(n5);
        h6 = linear(a5, 64, init = xavier_normal);
        n6 = batch_norm(h6);
        a6 = sigmoid(n6);
        h7 = linear(a6, 64, init = xavier_normal);
        n7 = batch_norm(h7);
        a7 = sigmoid(n7);
        h8 = linear(a7, 64, init = xavier_normal);
        n8 = batch_norm(h8);
        a8 = sigmoid(n8);
        logits = linear(a8, 10, init = xavier_normal);
        loss = softmax_cross_entropy(logits);
    }
}

monograd::network! {
    /// The same MLP with LayerNorm in the same places: each sample normalized over its units.
    pub struct WithLayerNorm {
        input x: [64];
        h1 = linear(x, 64, init = xavier_normal);
        n1 = layer_norm(h1);
        a1 = sigmoid(n1);
        h2 = linear(a1, 64, init = xavier_normal);
        n2 = layer_norm(h2);
        a2 = sigmoid(n2);
        h3 = linear(a2, 64, init = xavier_normal);
        n3 = layer_norm(h3);
        a3 = sigmoid(n3);
        h4 = linear(a3, 64, init = xavier_normal);
        n4 = layer_norm(h4);
        a4 = sigmoid(n4);
        h5 = linear(a4, 64, init = xavier_normal);
        n5 = layer_norm(h5);
        a5 = sigmoid(n5);
        h6 = linear(a5, 64, init = xavier_normal);
        n6 = layer_norm(h6);
        a6 = sigmoid(n6);
        h7 = linear(a6, 64, init = xavier_normal);
        n7 = layer_norm(h7);
        a7 = sigmoid(n7);
        h8 = linear(a7, 64, init = xavier_normal);
        n8 = layer_norm(h8);
        a8 = sigmoid(n8);
        logits = linear(a8, 10, init = xavier_normal);
        loss = softmax_cross_entropy(logits);
    }
}

const USAGE: &str = "\
usage: norms [--out DIR]

Trains one 8-hidden-layer sigmoid MLP on the digits plain, with BatchNorm and with LayerNorm,
prints and draws their per-layer gradients and learning curves.

options:
  --out DIR    where figures go (default target/figures)
  -h, --help   this text";

const BATCH: usize = 32;
const EPOCHS: usize = 30;
const LR: f64 = 0.01;
const SEED: u64 = 0;

/// One network in training, with its optimizer, batches and test accuracy curve.
struct Run<const P: usize, N: Network<P>> {
    net: N,
    tape: N::Tape<BATCH>,
    sgd: Sgd<f32, P>,
    batches: MiniBatches<[f32; PIXELS], usize, BATCH>,
    /// Mean training loss of each epoch.
    loss: Vec<f64>,
    /// Test accuracy after each epoch.
    test: Vec<f64>,
}

impl<const P: usize, N> Run<P, N>
where
    N: Network<P, Element = f32, Input = [f32; PIXELS], Target = usize, Output = [f32; CLASSES]>,
{
    fn new(net: N, train: &Dataset) -> Result<Self, Error> {
        Ok(Run {
            net,
            tape: N::new_tape(),
            sgd: Sgd::new(SgdConfig {
                lr: LR,
                momentum: 0.9,
                ..SgdConfig::default()
            })?,
            // The same seed for every network: the same batches in the same order.
            batches: MiniBatches::new(&train.images, &train.labels, SEED)?,
            loss: Vec::new(),
            test: Vec::new(),
        })
    }

    /// Trains one epoch and returns this epoch's columns: loss, train and test accuracy.
    fn epoch(&mut self, train: &Dataset, test: &Dataset) -> Result<String, Error> {
        let report = self.batches.train_epoch(
            &mut self.net,
            &mut self.tape,
            &mut self.sgd,
            &train.images,
            &train.labels,
        )?;
        let train_accuracy = accuracy(&self.net, &mut self.tape, &train.images, &train.labels)?;
        let test_accuracy = accuracy(&self.net, &mut self.tape, &test.images, &test.labels)?;
        self.loss.push(report.mean_loss);
        self.test.push(test_accuracy);
        Ok(format!(
            "{:>7.4} {:>6.1}% {:>6.1}%",
            report.mean_loss,
            100.0 * train_accuracy,
            100.0 * test_accuracy
        ))
    }

    fn final_test(&self) -> f64 {
        self.test[self.test.len() - 1]
    }
}

/// The norm of the loss gradient with respect to each dense layer's weight matrix (input side
/// first), on one batch, at the network's current parameters. Works on a copy: a training-mode
/// forward pass moves BatchNorm's running statistics.
fn layer_gradients<const P: usize, N>(
    net: &N,
    tensors: &[TensorInfo],
    x: &[[f32; PIXELS]; BATCH],
    labels: &[usize; BATCH],
) -> Result<Vec<f64>, Error>
where
    N: Network<P, Element = f32, Input = [f32; PIXELS], Target = usize> + Clone,
{
    let mut net = net.clone();
    let mut tape = N::new_tape::<BATCH>();
    net.forward_train(&mut tape, x).unwrap();
    net.backward(&mut tape, x, labels)?;
    let grads = N::param_grads(&tape);
    Ok(tensors
        .iter()
        .filter(|t| t.shape.len() == 2) // dense weights are [out, in]; norm scales are [n]
        .map(|t| {
            t.slice(&grads[..])
                .iter()
                .map(|&g| f64::from(g) * f64::from(g))
                .sum::<f64>()
                .sqrt()
        })
        .collect())
}

/// Test accuracy of the BatchNorm network when it normalizes with the statistics of each test
/// batch of `B` (training mode) instead of its running statistics (evaluation mode).
fn batch_statistics_accuracy<const B: usize>(
    net: &WithBatchNorm,
    test: &Dataset,
) -> Result<f64, Error> {
    // A training-mode forward pass updates the running statistics; keep the real ones intact.
    let mut net = net.clone();
    let mut tape = WithBatchNormTape::<B>::new();
    let mut x = Buffer::<[[f32; PIXELS]; B]>::zeroed();
    let mut correct = 0;
    let mut seen = 0;
    for (images, labels) in test.images.chunks_exact(B).zip(test.labels.chunks_exact(B)) {
        x.copy_from_slice(images);
        let scores = net
            .forward_train(&mut tape, &x)
            .expect("finite running statistics");
        correct += scores
            .iter()
            .zip(labels)
            .filter(|(s, &label)| argmax(&s[..]) == label)
            .count();
        seen += B;
    }
    Ok(correct as f64 / seen as f64)
}

/// The three networks' values, as lines named and styled the same way in every panel;
/// `values[i]` is at x = `first_x + i`.
fn lines(values: [&[f64]; 3], first_x: f64) -> Vec<Line> {
    ["plain", "BatchNorm", "LayerNorm"]
        .iter()
        .zip(values)
        .map(|(name, v)| Line::from_values(*name, v, first_x, 1.0))
        .collect()
}

fn parse_out() -> Result<PathBuf, String> {
    let mut out = cli::default_out();
    let mut cli = cli::Cli::new(USAGE);
    while let Some(option) = cli.next()? {
        match option.as_str() {
            "--out" => out = cli.value("--out")?,
            _ => return Err(cli.unknown(&option)),
        }
    }
    Ok(out)
}

fn main() {
    cli::run(run)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let out = parse_out()?;
    let start = Instant::now();
    let data = digits::load()?;
    let (train, test) = digits::shuffled_split(&data, SEED);

    println!(
        "norms: {} training and {} test images of 8x8 pixels, shuffled split (seed {SEED})",
        train.len(),
        test.len()
    );
    println!(
        "one MLP, 64 -> 8 hidden layers of 64 sigmoid units -> 10, Xavier init (seed {SEED}):"
    );
    println!(
        "  plain ({} parameters), with BatchNorm ({}), with LayerNorm ({}) after each hidden linear layer",
        Plain::PARAMS,
        WithBatchNorm::PARAMS,
        WithLayerNorm::PARAMS
    );
    println!("each trained with SGD momentum 0.9, lr {LR}, batch {BATCH}, {EPOCHS} epochs, on the same batches\n");

    let mut plain = Run::new(Plain::new(SEED), &train)?;
    let mut batch = Run::new(WithBatchNorm::new(SEED), &train)?;
    let mut layer = Run::new(WithLayerNorm::new(SEED), &train)?;

    // Each layer's gradient at initialisation, on the first training batch.
    let mut x = Buffer::<[[f32; PIXELS]; BATCH]>::zeroed();
    x.copy_from_slice(&train.images[..BATCH]);
    let labels: [usize; BATCH] = std::array::from_fn(|i| train.labels[i]);
    let gradients = [
        layer_gradients(&plain.net, Plain::PARAM_TENSORS, &x, &labels)?,
        layer_gradients(&batch.net, WithBatchNorm::PARAM_TENSORS, &x, &labels)?,
        layer_gradients(&layer.net, WithLayerNorm::PARAM_TENSORS, &x, &labels)?,
    ];
    println!("each dense layer's weight gradient norm at initialisation, on the first batch:");
    println!(
        "{:>7} {:>11} {:>11} {:>11}",
        "layer", "plain", "BatchNorm", "LayerNorm"
    );
    let [plain_g, batch_g, layer_g] = &gradients;
    for (layer, ((p, b), l)) in plain_g.iter().zip(batch_g).zip(layer_g).enumerate() {
        println!("{:>7} {p:>11.2e} {b:>11.2e} {l:>11.2e}", layer + 1);
    }
    println!();
    // How many times smaller the first layer's gradient is than the last layer's, and how many
    // times the largest layer's gradient is the smallest's.
    let decay = |g: &[f64]| g[g.len() - 1] / g[0];
    let spread = |g: &[f64]| {
        let (lo, hi) = g.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
        hi / lo
    };

    // Each title over its model's "loss" column: 8 columns of epoch, then 25 per model.
    println!("{:11}{:<25}{:<25}LayerNorm", "", "plain", "BatchNorm");
    println!(
        "{:9}{}",
        "epoch",
        "   loss   train    test  ".repeat(3).trim_end()
    );
    for epoch in 1..=EPOCHS {
        let columns = [
            plain.epoch(&train, &test)?,
            batch.epoch(&train, &test)?,
            layer.epoch(&train, &test)?,
        ];
        println!("{epoch:>3}/{EPOCHS}  {}", columns.join("  "));
    }
    println!();

    // BatchNorm normalizes with batch statistics in training and with the running averages of
    // those statistics in evaluation (what `accuracy`, `predict` and `forward` use), so that a
    // prediction does not depend on which other samples share its batch.
    println!("BatchNorm network, test accuracy by the statistics it normalizes with:");
    println!(
        "  {:<52} {:>6.2}%",
        "running statistics (evaluation mode, any batch)",
        100.0 * batch.final_test()
    );
    for (size, accuracy) in [
        (360, batch_statistics_accuracy::<360>(&batch.net, &test)?),
        (40, batch_statistics_accuracy::<40>(&batch.net, &test)?),
        (8, batch_statistics_accuracy::<8>(&batch.net, &test)?),
        (2, batch_statistics_accuracy::<2>(&batch.net, &test)?),
    ] {
        let what = format!("statistics of each test batch of {size:>3} (training mode)");
        println!("  {what:<52} {:>6.2}%", 100.0 * accuracy);
    }

    println!("\nwhat this shows:");
    println!(
        "- without normalization, the gradient reaching the first layer is {:.0}x smaller than the",
        decay(&gradients[0])
    );
    println!(
        "  last layer's (it passes through eight sigmoids, whose slope is at most 1/4); after {EPOCHS}"
    );
    println!(
        "  epochs the plain network is at {:.1}% test accuracy, where chance is 10%.",
        100.0 * plain.final_test()
    );
    println!(
        "- BatchNorm (each unit normalized over the batch) keeps the layers' gradients within {:.1}x",
        spread(&gradients[1])
    );
    println!(
        "  of each other, and the same network, optimizer and batches reach {:.1}%.",
        100.0 * batch.final_test()
    );
    println!(
        "- LayerNorm (each sample normalized over its units) still lets it shrink {:.0}x from the last",
        decay(&gradients[2])
    );
    println!(
        "  layer to the first with sigmoid, and reaches {:.1}% with this optimizer.",
        100.0 * layer.final_test()
    );
    println!(
        "- evaluation uses running statistics: with those of small test batches the same weights"
    );
    println!("  predict worse, and each prediction depends on its batch-mates.");
    println!();
    draw(
        &gradients,
        [&plain.loss, &batch.loss, &layer.loss],
        [&plain.test, &batch.test, &layer.test],
        &out,
    )?;
    println!(
        "(all of the above took {:.1} s)",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Gradient norms per layer, training loss and test accuracy per epoch, in three panels.
fn draw(
    gradients: &[Vec<f64>; 3],
    losses: [&[f64]; 3],
    tests: [&[f64]; 3],
    out: &std::path::Path,
) -> Result<(), String> {
    let percent = |v: &[f64]| v.iter().map(|a| 100.0 * a).collect::<Vec<f64>>();
    let gradient_panel = LinePlot::new(
        "weight gradient per layer, at initialisation",
        "dense layer (1 = input side, 9 = output)",
        "gradient norm |dL/dW| (log scale)",
        lines([&gradients[0], &gradients[1], &gradients[2]], 1.0),
    )
    .log_y()
    .legend_at(LegendAt::LowerRight);
    let loss_panel = LinePlot::new(
        "training loss per epoch",
        "epoch",
        "mean batch cross-entropy (nats, log scale)",
        lines(losses, 1.0),
    )
    .log_y()
    .legend_at(LegendAt::LowerLeft);
    let (p, b, l) = (percent(tests[0]), percent(tests[1]), percent(tests[2]));
    let accuracy_panel = LinePlot::new(
        "test accuracy after each epoch",
        "epoch",
        "test accuracy (% of 360 images)",
        lines([&p, &b, &l], 1.0),
    )
    .legend_at(LegendAt::MiddleRight);
    Figure::new(
        "8 hidden sigmoid layers on the digits: plain, BatchNorm, LayerNorm (SGD momentum 0.9)",
        3,
        vec![
            Panel::Lines(gradient_panel),
            Panel::Lines(loss_panel),
            Panel::Lines(accuracy_panel),
        ],
    )
    .size(1900, 560)
    .save_and_report(out, "norms")
}
