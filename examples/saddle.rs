//! Escaping a saddle point. `f(x, y) = x^2 / 2 + y^4 / 4 - y^2 / 2` has a saddle at (0, 0)
//! (curvature +1 along x, -1 along y) and its minima at (0, +-1), where f = -1/4. Every method
//! starts at (2, 0.001), almost on the ridge line y = 0 that leads into the saddle, and runs 150
//! steps:
//!
//! - gradient descent moves y away from the ridge by a factor 1 + lr per step, so from 0.001
//!   it lingers near the saddle for dozens of steps (and from exactly y = 0 it never leaves);
//! - SGD (the same, with noise in the gradient) is pushed off the ridge by the noise;
//! - momentum compounds the small escaping steps;
//! - Adagrad, RMSprop and Adam divide each coordinate's step by its gradient's size, so the
//!   tiny y gradient gets a full-size step at once.
//!
//! Prints the steps each needs to leave the saddle and draws the trajectories over the level
//! sets, and f minus its minimum against the step.
//!
//! ```text
//! cargo run --release --example saddle
//! ```

#[path = "common/cli.rs"]
mod cli;
#[path = "common/figure.rs"]
mod figure;
#[path = "common/surface.rs"]
mod surface;

use figure::{ContourPlot, Figure, LegendAt, Line, LinePlot, Panel};
use monograd::prelude::*;
use surface::Point;

const USAGE: &str = "\
usage: saddle [--seed S] [--out DIR]

SGD, momentum and adaptive methods leaving the saddle point of f(x, y) = x^2/2 + y^4/4 - y^2/2:
steps to escape, trajectories over the level sets.

options:
  --seed S     seed of SGD's gradient noise (default 0)
  --out DIR    where figures go (default target/figures)
  -h, --help   this text";

const START: Point = [2.0, 0.001];
const STEPS: usize = 150;
const LR: f64 = 0.1;
/// Standard deviation of the noise added to each gradient coordinate for SGD.
const NOISE: f64 = 0.1;
const F_MIN: f64 = -0.25;

fn f(x: f64, y: f64) -> f64 {
    0.5 * x * x + 0.25 * y.powi(4) - 0.5 * y * y
}

fn gradient(p: &Point) -> Point {
    [p[0], p[1].powi(3) - p[1]]
}

/// The first step at which the point is more than 0.5 away from the ridge y = 0 (half-way to a
/// minimum).
fn escape_step(points: &[Point]) -> Option<usize> {
    points.iter().position(|p| p[1].abs() > 0.5)
}

fn main() {
    cli::run(|| {
        let options = cli::SeedAndOut::parse(USAGE)?;
        println!(
            "saddle: f(x, y) = x^2/2 + y^4/4 - y^2/2, saddle at (0, 0), minima at (0, +-1) with f = {F_MIN};\n\
             every method starts at ({}, {}) and takes {STEPS} steps\n",
            START[0], START[1]
        );
        let exact = |p: &Point, _| gradient(p);
        let mut rng = Rng::new(options.seed);
        let noisy = move |p: &Point, _| {
            let g = gradient(p);
            [
                g[0] + NOISE * rng.normal::<f64>(),
                g[1] + NOISE * rng.normal::<f64>(),
            ]
        };
        let runs: Vec<(String, Vec<Point>)> = vec![
            (
                format!("gradient descent, lr {LR}"),
                surface::trajectory(surface::gradient_descent(LR)?, START, STEPS, exact)?,
            ),
            (
                format!("SGD (noisy gradient), lr {LR}"),
                surface::trajectory(surface::gradient_descent(LR)?, START, STEPS, noisy)?,
            ),
            (
                format!("momentum 0.9, lr {LR}"),
                surface::trajectory(surface::momentum(LR, 0.9)?, START, STEPS, exact)?,
            ),
            (
                "Adagrad, lr 0.5".into(),
                surface::trajectory(
                    Adagrad::new(AdagradConfig {
                        lr: 0.5,
                        ..AdagradConfig::default()
                    })?,
                    START,
                    STEPS,
                    exact,
                )?,
            ),
            (
                "RMSprop, lr 0.01".into(),
                surface::trajectory(RmsProp::new(RmsPropConfig::default())?, START, STEPS, exact)?,
            ),
            (
                "Adam, lr 0.05".into(),
                surface::trajectory(
                    Adam::new(AdamConfig {
                        lr: 0.05,
                        ..AdamConfig::default()
                    })?,
                    START,
                    STEPS,
                    exact,
                )?,
            ),
        ];

        println!("(SGD: gradient descent with N(0, {NOISE}^2) noise added to each gradient coordinate)\n");
        println!(
            "{:<36} {:>17} {:>22}",
            "method", "steps to |y| > 0.5", "f - f_min after 150"
        );
        for (name, points) in &runs {
            let last = points[points.len() - 1];
            println!(
                "{name:<36} {:>17} {:>22.2e}",
                escape_step(points).map_or("not yet".into(), |t| t.to_string()),
                f(last[0], last[1]) - F_MIN
            );
        }
        let stuck = surface::trajectory(surface::gradient_descent(LR)?, [2.0, 0.0], STEPS, exact)?;
        let end = stuck[STEPS];
        println!(
            "\ngradient descent started exactly on the ridge, at (2, 0), ends at ({:.2e}, {}) with f - f_min = {:.4}:\n\
             the y gradient is exactly 0 there, so nothing pushes it off, and it converges to the saddle.\n\
             Noise (SGD) or any asymmetry does; the adaptive methods amplify the slightest one.",
            end[0],
            end[1],
            f(end[0], end[1]) - F_MIN
        );

        let paths = runs
            .iter()
            .map(|(name, points)| Line::new(name.clone(), surface::xy(points)))
            .collect();
        let contour = ContourPlot {
            title: "trajectories over the level sets of f".into(),
            x_label: "x (parameter 1)".into(),
            y_label: "y (parameter 2)".into(),
            x_range: (-3.2, 2.2),
            y_range: (-1.5, 1.5),
            f: Box::new(f),
            levels: vec![-0.2, -0.1, 0.0, 0.1, 0.25, 0.5, 0.8, 1.2, 1.7, 2.3],
            level_label: "level sets of f".into(),
            paths,
            legend: LegendAt::UpperLeft,
        };
        let curves = LinePlot::new(
            "distance above the minimum value",
            "step",
            "f(x, y) - f_min (log scale)",
            runs.iter()
                .map(|(name, points)| {
                    let values: Vec<f64> = points.iter().map(|p| f(p[0], p[1]) - F_MIN).collect();
                    Line::from_values(name.clone(), &values, 0.0, 1.0)
                })
                .collect(),
        )
        .log_y()
        .legend_at(LegendAt::LowerLeft);
        Figure::new(
            "Escaping the saddle point of x^2/2 + y^4/4 - y^2/2 from (2, 0.001)",
            2,
            vec![Panel::Contour(contour), Panel::Lines(curves)],
        )
        .size(1400, 650)
        .save_and_report(&options.out, "saddle")?;
        Ok(())
    })
}
