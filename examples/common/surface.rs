//! Optimizers on a function of two parameters: the runtime's optimizers step a `[f64; 2]`
//! parameter array with a gradient the example computes itself, which is all an optimizer
//! needs (a network's `train_step` does the same with its flat parameter buffer).

use monograd::prelude::*;

/// A point of the plane: the two parameters.
pub type Point = [f64; 2];

/// One optimizer update of `params` from `grads`. Every update of these examples goes through
/// here, so that a change of `Optimizer::step`'s signature is one edit.
pub fn step<O: Optimizer<f64, 2>>(
    optimizer: &mut O,
    params: &mut Point,
    grads: &Point,
) -> Result<(), Error> {
    optimizer.step(params, grads)
}

/// The points visited by `steps` updates of `optimizer` from `start` (start included), with
/// `gradient(point, step)` the gradient it is given at each.
pub fn trajectory<O: Optimizer<f64, 2>>(
    mut optimizer: O,
    start: Point,
    steps: usize,
    mut gradient: impl FnMut(&Point, usize) -> Point,
) -> Result<Vec<Point>, Error> {
    let mut point = start;
    let mut points = vec![point];
    for t in 0..steps {
        let grads = gradient(&point, t);
        step(&mut optimizer, &mut point, &grads)?;
        points.push(point);
    }
    Ok(points)
}

/// Plain gradient descent: SGD without momentum, at learning rate `lr`.
pub fn gradient_descent(lr: f64) -> Result<Sgd<f64, 2>, Error> {
    Sgd::new(SgdConfig {
        lr,
        ..SgdConfig::default()
    })
}

/// SGD with (heavy-ball) momentum `momentum` at learning rate `lr`.
pub fn momentum(lr: f64, momentum: f64) -> Result<Sgd<f64, 2>, Error> {
    Sgd::new(SgdConfig {
        lr,
        momentum,
        ..SgdConfig::default()
    })
}

/// The points as (x, y) pairs, for plotting.
pub fn xy(points: &[Point]) -> Vec<(f64, f64)> {
    points.iter().map(|p| (p[0], p[1])).collect()
}
