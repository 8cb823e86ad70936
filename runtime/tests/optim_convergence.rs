//! End-to-end behaviour: every optimizer reduces the loss of a logistic regression (convex), and
//! momentum beats plain gradient descent in an ill-conditioned quadratic "ravine". Both problems
//! are built inline (a few lines each), independent of the ops being written elsewhere.

use monograd_runtime::gradcheck::assert_gradient;
use monograd_runtime::optim::schedule::{CosineAnnealing, Warmup};
use monograd_runtime::optim::{
    clip_grad_norm, Adadelta, AdadeltaConfig, Adagrad, AdagradConfig, Adam, AdamConfig, AdamW,
    AdamWConfig, Optimizer, RmsProp, RmsPropConfig, Schedule, Sgd, SgdConfig,
};
use monograd_runtime::{Rng, Scalar};

const FEATURES: usize = 8;
/// Weights then bias: `[w_0 .. w_7, b]`.
const PARAMS: usize = FEATURES + 1;
const SAMPLES: usize = 200;

/// Binary classification data: `x ~ N(0, I)`, `y = [w* . x + b* + 0.5 noise > 0]`, so the
/// classes overlap a little (the optimum is finite) but are mostly separable.
struct Data {
    x: [[f64; FEATURES]; SAMPLES],
    y: [f64; SAMPLES],
}

fn data() -> Data {
    let mut rng = Rng::new(2024);
    let true_w: [f64; FEATURES] = core::array::from_fn(|_| rng.normal());
    let mut x = [[0.0; FEATURES]; SAMPLES];
    let mut y = [0.0; SAMPLES];
    for (xi, yi) in x.iter_mut().zip(&mut y) {
        *xi = core::array::from_fn(|_| rng.normal());
        let z: f64 = xi.iter().zip(&true_w).map(|(a, b)| a * b).sum::<f64>() + 0.5;
        *yi = f64::from(z + 0.5 * rng.normal::<f64>() > 0.0);
    }
    Data { x, y }
}

/// Mean log-loss `mean(log(1 + e^z) - y z)` with `z = w . x + b`, and its gradient
/// `mean((sigmoid(z) - y) [x, 1])` written into `grad`.
fn logistic_loss(data: &Data, params: &[f64], grad: &mut [f64]) -> f64 {
    grad.fill(0.0);
    let mut loss = 0.0;
    for (x, &y) in data.x.iter().zip(&data.y) {
        let z: f64 = x.iter().zip(params).map(|(a, w)| a * w).sum::<f64>() + params[FEATURES];
        // Stable softplus: log(1 + e^z) = max(z, 0) + log(1 + e^-|z|).
        loss += z.max(0.0) + (-z.abs()).exp().ln_1p() - y * z;
        let residual = 1.0 / (1.0 + (-z).exp()) - y;
        for (g, a) in grad.iter_mut().zip(x) {
            *g += residual * a;
        }
        grad[FEATURES] += residual;
    }
    let n = SAMPLES as f64;
    grad.iter_mut().for_each(|g| *g /= n);
    loss / n
}

#[test]
fn logistic_gradient_is_right() {
    let data = data();
    let mut rng = Rng::new(5);
    let mut point: [f64; PARAMS] = core::array::from_fn(|_| rng.normal::<f64>() * 0.5);
    let mut analytic = [0.0; PARAMS];
    logistic_loss(&data, &point, &mut analytic);
    let mut scratch = [0.0; PARAMS];
    assert_gradient(
        "logistic log-loss",
        |p| logistic_loss(&data, p, &mut scratch),
        &mut point,
        &analytic,
        1e-6,
    );
}

/// Trains from zero for `steps` full-batch steps (in `T`), returning the loss before and after.
fn train<T: Scalar, O: Optimizer<T, PARAMS>>(mut opt: O, steps: usize) -> (f64, f64) {
    let data = data();
    let mut params = [T::zero(); PARAMS];
    let mut grad = [0.0; PARAMS];
    let initial = logistic_loss(&data, &[0.0; PARAMS], &mut grad);
    for _ in 0..steps {
        let wide = params.map(<T as Scalar>::to_f64);
        logistic_loss(&data, &wide, &mut grad);
        opt.step(&mut params, &grad.map(T::from_f64)).unwrap();
    }
    let final_loss = logistic_loss(&data, &params.map(<T as Scalar>::to_f64), &mut grad);
    (initial, final_loss)
}

#[test]
fn every_optimizer_reduces_the_logistic_loss() {
    let mut results = Vec::new();
    // Loss bound after `steps` steps: ln 2 = 0.693 at w = 0, ~0.12 near the optimum; Adadelta's
    // defaults start with steps of ~sqrt(eps) = 1e-3 and are still accelerating.
    let mut record = |name: &'static str, (initial, last): (f64, f64)| {
        let bound = if name.starts_with("Adadelta") {
            0.5
        } else {
            0.25
        };
        results.push((name, initial, last, bound));
    };
    let steps = 150;
    record(
        "SGD",
        train(
            Sgd::<f32, PARAMS>::new(SgdConfig {
                lr: 0.5,
                ..SgdConfig::default()
            })
            .unwrap(),
            steps,
        ),
    );
    record(
        "SGD momentum",
        train(
            Sgd::<f32, PARAMS>::new(SgdConfig {
                lr: 0.1,
                momentum: 0.9,
                dampening: 0.1,
                weight_decay: 1e-4,
                ..SgdConfig::default()
            })
            .unwrap(),
            steps,
        ),
    );
    record(
        "SGD Nesterov",
        train(
            Sgd::<f64, PARAMS>::new(SgdConfig {
                lr: 0.1,
                momentum: 0.9,
                nesterov: true,
                ..SgdConfig::default()
            })
            .unwrap(),
            steps,
        ),
    );
    let adam = AdamConfig {
        lr: 0.05,
        ..AdamConfig::default()
    };
    record(
        "Adam",
        train(Adam::<f32, PARAMS>::new(adam).unwrap(), steps),
    );
    record(
        "Adam AMSGrad",
        train(
            Adam::<f64, PARAMS>::new(AdamConfig {
                amsgrad: true,
                ..adam
            })
            .unwrap(),
            steps,
        ),
    );
    record(
        "AdamW",
        train(
            AdamW::<f32, PARAMS>::new(AdamWConfig {
                lr: 0.05,
                ..AdamWConfig::default()
            })
            .unwrap(),
            steps,
        ),
    );
    record(
        "Adagrad",
        train(
            Adagrad::<f32, PARAMS>::new(AdagradConfig {
                lr: 0.2,
                ..AdagradConfig::default()
            })
            .unwrap(),
            steps,
        ),
    );
    record(
        "RMSprop",
        train(
            RmsProp::<f32, PARAMS>::new(RmsPropConfig {
                lr: 0.01,
                ..RmsPropConfig::default()
            })
            .unwrap(),
            steps,
        ),
    );
    record(
        "RMSprop centered momentum",
        train(
            RmsProp::<f64, PARAMS>::new(RmsPropConfig {
                lr: 0.005,
                momentum: 0.5,
                centered: true,
                ..RmsPropConfig::default()
            })
            .unwrap(),
            steps,
        ),
    );
    record(
        "Adadelta (defaults)",
        train(
            Adadelta::<f32, PARAMS>::new(AdadeltaConfig::default()).unwrap(),
            steps,
        ),
    );
    for (name, initial, last, bound) in results {
        assert!((initial - core::f64::consts::LN_2).abs() < 1e-12);
        assert!(
            last < bound,
            "{name}: loss {initial} -> {last} after {steps} steps (bound {bound})"
        );
    }
}

/// The ravine `f(w) = (w_0^2 + KAPPA w_1^2) / 2`: a long shallow valley along `w_0` with steep
/// walls along `w_1` (condition number `KAPPA`).
const KAPPA: f64 = 100.0;

fn ravine<O: Optimizer<f64, 2>>(mut opt: O, steps: usize) -> f64 {
    let mut w = [-10.0, 1.0];
    for _ in 0..steps {
        let grad = [w[0], KAPPA * w[1]];
        opt.step(&mut w, &grad).unwrap();
    }
    (w[0] * w[0] + KAPPA * w[1] * w[1]) / 2.0
}

#[test]
fn momentum_beats_plain_sgd_in_a_ravine() {
    // Plain gradient descent gets its best rate, 2 / (L + mu): it then contracts the error by
    // (kappa - 1) / (kappa + 1) = 0.98 per step. Heavy-ball momentum 0.9 at the same rate
    // contracts by sqrt(0.9) = 0.95 in every direction. Nesterov's stability limit is tighter
    // (lr L < 2 (1 + mu) / (1 + 2 mu)); at lr = 1 / L it contracts by sqrt(0.9 * 0.99) = 0.94.
    let lr = 2.0 / (KAPPA + 1.0);
    let steps = 200;
    let config = SgdConfig {
        lr,
        ..SgdConfig::default()
    };
    let start = ravine(Sgd::new(SgdConfig { lr: 0.0, ..config }).unwrap(), 1);
    let plain = ravine(Sgd::new(config).unwrap(), steps);
    let momentum = ravine(
        Sgd::new(SgdConfig {
            momentum: 0.9,
            ..config
        })
        .unwrap(),
        steps,
    );
    let nesterov = ravine(
        Sgd::new(SgdConfig {
            lr: 1.0 / KAPPA,
            momentum: 0.9,
            nesterov: true,
            ..config
        })
        .unwrap(),
        steps,
    );
    assert!(plain < start, "plain SGD converges: {start} -> {plain}");
    assert!(
        momentum < 1e-3 * plain,
        "momentum {momentum:e} vs plain {plain:e}"
    );
    assert!(
        nesterov < 1e-3 * plain,
        "Nesterov {nesterov:e} vs plain {plain:e}"
    );
}

#[test]
fn schedule_and_clipping_drive_a_training_loop() {
    // The generated train_step's shape: clip, then step at the scheduled rate.
    let data = data();
    let schedule = Warmup::new(CosineAnnealing::new(0.1, 90, 0.0).unwrap(), 10, 0.1).unwrap();
    let mut opt = Adam::<f64, PARAMS>::new(AdamConfig::default()).unwrap();
    let mut params = [0.0; PARAMS];
    let mut grad = [0.0; PARAMS];
    let initial = logistic_loss(&data, &params, &mut grad);
    for _ in 0..100 {
        logistic_loss(&data, &params, &mut grad);
        let norm = clip_grad_norm(&mut grad, 0.1, 2.0).unwrap();
        assert!(norm.is_finite());
        opt.step_scheduled(&schedule, &mut params, &grad).unwrap();
    }
    assert_eq!(opt.steps(), 100);
    assert_eq!(opt.learning_rate(), schedule.lr(99));
    let last = logistic_loss(&data, &params, &mut grad);
    assert!(last < 0.6 * initial, "{initial} -> {last}");
}
