//! XOR: no line separates its classes, so logistic regression (one linear layer) cannot get all
//! four points right, while one hidden layer can. Prints both accuracies and both decision
//! regions, and draws them side by side.
//!
//! ```text
//! cargo run --release --example xor               # figure in target/figures/
//! cargo run --release --example xor -- --out figures
//! ```

#[path = "common/cli.rs"]
mod cli;
#[path = "common/figure.rs"]
mod figure;

use std::path::PathBuf;

use figure::{ContourPlot, Figure, LegendAt, Line, Panel};
use monograd::prelude::*;

const USAGE: &str = "\
usage: xor [--out DIR]

Logistic regression and a one-hidden-layer network on XOR: accuracies and decision regions.

options:
  --out DIR    where figures go (default target/figures)
  -h, --help   this text";

monograd::network! {
    /// Logistic regression: one linear unit and the logistic loss.
    pub struct Linear {
        input x: [2];
        z = linear(x, 1);
        loss = logistic_loss(z);
    }
}

monograd::network! {
    /// One hidden layer of 8 tanh units.
    pub struct Hidden {
        input x: [2];
        h = linear(x, 8, init = xavier_normal);
        a = tanh(h);
        z = linear(a, 1);
        loss = logistic_loss(z);
    }
}

const POINTS: [[f32; 2]; 4] = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
const LABELS: [[f32; 1]; 4] = [[0.0], [1.0], [1.0], [0.0]];

/// Accuracy on the four points and an ASCII map of the predicted class over [-0.25, 1.25]^2.
fn report(name: &str, predict: impl Fn(&[f32; 2]) -> f32) {
    let correct = POINTS
        .iter()
        .zip(&LABELS)
        .filter(|(x, y)| (predict(x) > 0.0) == (y[0] > 0.5))
        .count();
    println!(
        "{name}: {correct}/4 points right ({:.0}% accuracy)",
        25.0 * correct as f64
    );
    println!("  decision regions ('#' = class 1, '.' = class 0; digits mark the training points)");
    for row in 0..13 {
        let y = 1.25 - row as f32 * 0.125;
        let line: String = (0..27)
            .map(|col| {
                let x = -0.25 + col as f32 * 0.0625;
                let point = POINTS
                    .iter()
                    .zip(&LABELS)
                    .find(|(p, _)| (p[0] - x).abs() < 0.03 && (p[1] - y).abs() < 0.06);
                match point {
                    Some((_, label)) => {
                        if label[0] > 0.5 {
                            '1'
                        } else {
                            '0'
                        }
                    }
                    None if predict(&[x, y]) > 0.0 => '#',
                    None => '.',
                }
            })
            .collect();
        println!("    {line}");
    }
    println!();
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

/// The decision regions of a network with logit `z(x, y)`, and the four points.
fn regions(title: &str, z: Box<dyn Fn(f64, f64) -> f64>) -> Panel {
    let points = |label: f32| -> Vec<(f64, f64)> {
        POINTS
            .iter()
            .zip(&LABELS)
            .filter(|(_, y)| y[0] == label)
            .map(|(p, _)| (f64::from(p[0]), f64::from(p[1])))
            .collect()
    };
    Panel::Contour(ContourPlot {
        title: title.into(),
        x_label: "x1 (first input)".into(),
        y_label: "x2 (second input)".into(),
        x_range: (-0.5, 1.5),
        y_range: (-0.5, 1.5),
        f: z,
        levels: vec![0.0],
        level_label: "decision boundary (logit z = 0)".into(),
        paths: vec![
            Line::new("class 0: (0,0), (1,1)", points(0.0)).scatter(),
            Line::new("class 1: (0,1), (1,0)", points(1.0)).scatter(),
        ],
        legend: LegendAt::UpperRight,
    })
}

fn main() {
    cli::run(run)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let out = parse_out()?;
    println!("XOR: (0,0) -> 0, (0,1) -> 1, (1,0) -> 1, (1,1) -> 0; full-batch Adam, 2000 steps\n");

    let mut linear = Linear::new(1);
    let mut tape = LinearTape::<4>::new();
    let mut adam = Adam::new(AdamConfig {
        lr: 0.05,
        ..AdamConfig::default()
    })?;
    let mut loss = 0.0;
    for _ in 0..2000 {
        loss = linear.train_step(&mut tape, &POINTS, &LABELS, &mut adam)?;
    }
    println!(
        "logistic regression ({} parameters): final loss {loss:.4} (ln 2 = 0.6931 is chance)",
        Linear::PARAMS
    );
    report("logistic regression", |x| linear.predict(x)[0]);

    let mut hidden = Hidden::new(1);
    let mut tape = HiddenTape::<4>::new();
    let mut adam = Adam::new(AdamConfig {
        lr: 0.05,
        ..AdamConfig::default()
    })?;
    for _ in 0..2000 {
        loss = hidden.train_step(&mut tape, &POINTS, &LABELS, &mut adam)?;
    }
    println!(
        "one hidden layer ({} parameters): final loss {loss:.4}",
        Hidden::PARAMS
    );
    report("one hidden layer", |x| hidden.predict(x)[0]);

    let linear_net = linear.clone();
    let hidden_net = hidden.clone();
    Figure::new(
        "XOR: decision regions (blue: predicts 0, yellow: predicts 1)",
        2,
        vec![
            regions(
                "logistic regression: one line cannot separate them",
                Box::new(move |x, y| f64::from(linear_net.predict(&[x as f32, y as f32])[0])),
            ),
            regions(
                "one hidden layer of 8 tanh units",
                Box::new(move |x, y| f64::from(hidden_net.predict(&[x as f32, y as f32])[0])),
            ),
        ],
    )
    .size(1300, 600)
    .save_and_report(&out, "xor")?;
    Ok(())
}
