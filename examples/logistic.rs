//! Multinomial (softmax) logistic regression as a one-layer network: three Gaussian clouds in the
//! plane, one linear layer, softmax cross-entropy, mini-batch SGD with momentum. Prints the
//! learning progress, the accuracy, the learned weights and a map of the decision regions, and
//! draws the regions with the points.
//!
//! ```text
//! cargo run --release --example logistic               # figure in target/figures/
//! cargo run --release --example logistic -- --out figures
//! ```

#[path = "common/cli.rs"]
mod cli;
#[path = "common/figure.rs"]
mod figure;

use std::path::PathBuf;

use figure::{ContourPlot, Figure, LegendAt, Line, Panel};
use monograd::prelude::*;
use monograd::runtime::ops::loss::argmax;

const USAGE: &str = "\
usage: logistic [--out DIR]

Softmax logistic regression on three Gaussian clouds: progress, weights, decision regions.

options:
  --out DIR    where figures go (default target/figures)
  -h, --help   this text";

monograd::network! {
    /// p(class | x) = softmax(W x + b): multinomial logistic regression.
    pub struct Softmax3 {
        input x: [2];
        scores = linear(x, 3, init = zeros, bias_init = zeros);
        loss = softmax_cross_entropy(scores);
    }
}

const CENTERS: [[f32; 2]; 3] = [[-1.5, -1.0], [1.5, -1.0], [0.0, 1.5]];
const MARKS: [char; 3] = ['a', 'b', 'c'];

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
    let mut rng = Rng::new(2026);
    let (mut points, mut labels) = (Vec::new(), Vec::new());
    for (class, center) in CENTERS.iter().enumerate() {
        for _ in 0..200 {
            let noise: [f32; 2] = [rng.normal(), rng.normal()];
            points.push([center[0] + 0.8 * noise[0], center[1] + 0.8 * noise[1]]);
            labels.push(class);
        }
    }
    println!("3 classes x 200 points around {CENTERS:?} (std 0.8); SGD momentum 0.9, lr 0.05, batch 20\n");

    let mut net = Softmax3::new(0);
    let mut tape = Softmax3Tape::<20>::new();
    let mut sgd = Sgd::new(SgdConfig {
        lr: 0.05,
        momentum: 0.9,
        ..SgdConfig::default()
    })?;
    let mut batches = MiniBatches::new(&points, &labels, 1)?;
    for epoch in 1..=20 {
        let report = batches.train_epoch(&mut net, &mut tape, &mut sgd, &points, &labels)?;
        if epoch % 4 == 0 || epoch == 1 {
            let acc = accuracy(&net, &mut tape, &points, &labels)?;
            println!(
                "epoch {epoch:>2}  loss {:.4}  accuracy {:.1}%",
                report.mean_loss,
                100.0 * acc
            );
        }
    }

    let weight = &net.params[Softmax3::SCORES_WEIGHT.offset..][..6];
    let bias = &net.params[Softmax3::SCORES_BIAS.offset..][..3];
    println!("\nlearned scores s_k(x) = w_k . x + b_k:");
    for k in 0..3 {
        println!(
            "  class {}: w = [{:>6.3}, {:>6.3}], b = {:>6.3}",
            MARKS[k],
            weight[2 * k],
            weight[2 * k + 1],
            bias[k]
        );
    }

    println!("\ndecision regions over [-4, 4] x [-4, 4] (letters: predicted class; CAPITALS: training points)");
    for row in 0..21 {
        let y = 4.0 - row as f32 * 0.4;
        let line: String = (0..61)
            .map(|col| {
                let x = -4.0 + col as f32 * (8.0 / 60.0);
                let near = points
                    .iter()
                    .zip(&labels)
                    .find(|(p, _)| (p[0] - x).abs() < 0.067 && (p[1] - y).abs() < 0.2);
                match near {
                    Some((_, &class)) => MARKS[class].to_ascii_uppercase(),
                    None => MARKS[argmax(&net.predict(&[x, y]))],
                }
            })
            .collect();
        println!("  {line}");
    }

    // The regions as the predicted class (0, 1, 2) with level lines between them, and every
    // fourth training point of each class.
    let classifier = net.clone();
    let paths = (0..3)
        .map(|class| {
            let cloud = points
                .iter()
                .zip(&labels)
                .filter(|(_, &label)| label == class)
                .step_by(4)
                .map(|(p, _)| (f64::from(p[0]), f64::from(p[1])))
                .collect();
            Line::new(
                format!("class {} (every 4th training point)", MARKS[class]),
                cloud,
            )
            .scatter()
        })
        .collect();
    Figure::new(
        "Softmax logistic regression: three classes, linear boundaries",
        1,
        vec![Panel::Contour(ContourPlot {
            title: "predicted class over the plane (regions a, b, c from light blue to yellow)"
                .into(),
            x_label: "x1 (first coordinate)".into(),
            y_label: "x2 (second coordinate)".into(),
            x_range: (-4.0, 4.0),
            y_range: (-4.0, 4.0),
            f: Box::new(move |x, y| argmax(&classifier.predict(&[x as f32, y as f32])) as f64),
            levels: vec![0.5, 1.5],
            level_label: "decision boundaries".into(),
            paths,
            legend: LegendAt::LowerRight,
        })],
    )
    .size(900, 800)
    .save_and_report(&out, "logistic")?;
    Ok(())
}
