//! A step is a transaction: `Ok` leaves every parameter and state value finite, `Err` leaves
//! parameters, state buffers, step counter and learning rate exactly as they were. Checked for
//! every optimizer on the failures that reach them: a NaN or infinite gradient, an update that
//! overflows, and the 0/0 of a zero `eps`.

use monograd_runtime::optim::*;
use monograd_runtime::Error;

const N: usize = 37;

/// Everything a step may change, bit for bit.
#[derive(Debug, PartialEq)]
struct Snapshot {
    params: Vec<u32>,
    buffers: Vec<(&'static str, Vec<u32>)>,
    steps: u64,
    lr: u64,
}

fn snapshot<O: Optimizer<f32, N>>(opt: &O, params: &[f32; N]) -> Snapshot {
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    Snapshot {
        params: bits(params),
        buffers: (0..opt.state_buffer_count())
            .map(|i| {
                let (name, b) = opt.state_buffer(i).unwrap();
                (name, bits(b))
            })
            .collect(),
        steps: opt.steps(),
        lr: opt.learning_rate().to_bits(),
    }
}

fn all_finite<O: Optimizer<f32, N>>(opt: &O, params: &[f32; N]) -> bool {
    params.iter().all(|v| v.is_finite())
        && (0..opt.state_buffer_count())
            .all(|i| opt.state_buffer(i).unwrap().1.iter().all(|v| v.is_finite()))
}

fn gradient(t: usize) -> [f32; N] {
    core::array::from_fn(|i| ((i * 7 + t * 3) % 11) as f32 / 5.0 - 1.0)
}

/// A few good steps, then each bad gradient: `Err`, nothing changed; then good steps again.
fn rejects_bad_gradients<O: Optimizer<f32, N>>(name: &str, mut opt: O) {
    let mut w: [f32; N] = core::array::from_fn(|i| i as f32 / 10.0 - 1.5);
    for t in 0..3 {
        opt.step(&mut w, &gradient(t)).unwrap();
    }
    for (index, bad) in [
        (0, f32::NAN),
        (17, f32::INFINITY),
        (N - 1, f32::NEG_INFINITY),
    ] {
        let mut g = gradient(5);
        g[index] = bad;
        let before = snapshot(&opt, &w);
        match opt.step(&mut w, &g) {
            Err(Error::NonFiniteValue {
                what: "gradient",
                index: i,
                ..
            }) => assert_eq!(i, index, "{name}"),
            other => panic!("{name}: {bad} at {index}: {other:?}"),
        }
        assert_eq!(
            snapshot(&opt, &w),
            before,
            "{name}: a failed step changed something"
        );
    }
    opt.step(&mut w, &gradient(6)).unwrap();
    assert!(all_finite(&opt, &w), "{name}");
}

/// An update that overflows `f32`: `Err` and nothing changed, or `Ok` and finite.
fn never_returns_ok_with_overflow<O: Optimizer<f32, N>>(name: &str, mut opt: O, scale: f32) {
    let mut w: [f32; N] = core::array::from_fn(|i| (i as f32 - 18.0) * 1e37);
    // A gradient of constant sign, so that the weights drift steadily towards -inf.
    let g = [scale; N];
    for _ in 0..300 {
        let before = snapshot(&opt, &w);
        match opt.step(&mut w, &g) {
            Ok(()) => assert!(all_finite(&opt, &w), "{name}: Ok with a non-finite value"),
            Err(Error::NonFiniteValue { what, .. }) => {
                assert_ne!(what, "gradient", "{name}");
                assert_eq!(
                    snapshot(&opt, &w),
                    before,
                    "{name}: a failed step changed something"
                );
                return;
            }
            Err(other) => panic!("{name}: {other}"),
        }
    }
    panic!("{name}: the overflow was never reported");
}

#[test]
fn every_optimizer_rejects_non_finite_gradients_and_changes_nothing() {
    let sgd = |c: SgdConfig| Sgd::<f32, N>::new(c).unwrap();
    rejects_bad_gradients("sgd", sgd(SgdConfig::default()));
    rejects_bad_gradients(
        "nesterov",
        sgd(SgdConfig {
            momentum: 0.9,
            nesterov: true,
            weight_decay: 1e-4,
            ..Default::default()
        }),
    );
    rejects_bad_gradients("adam", Adam::<f32, N>::new(AdamConfig::default()).unwrap());
    rejects_bad_gradients(
        "amsgrad",
        Adam::<f32, N>::new(AdamConfig {
            amsgrad: true,
            ..Default::default()
        })
        .unwrap(),
    );
    rejects_bad_gradients(
        "adamw",
        AdamW::<f32, N>::new(AdamWConfig::default()).unwrap(),
    );
    rejects_bad_gradients(
        "adagrad",
        Adagrad::<f32, N>::new(AdagradConfig::default()).unwrap(),
    );
    rejects_bad_gradients(
        "rmsprop centered momentum",
        RmsProp::<f32, N>::new(RmsPropConfig {
            centered: true,
            momentum: 0.5,
            ..Default::default()
        })
        .unwrap(),
    );
    rejects_bad_gradients(
        "adadelta",
        Adadelta::<f32, N>::new(AdadeltaConfig::default()).unwrap(),
    );
}

#[test]
fn overflowing_updates_are_errors_not_infinite_weights() {
    let huge = 1e30;
    never_returns_ok_with_overflow(
        "sgd",
        Sgd::<f32, N>::new(SgdConfig {
            lr: 1e9,
            momentum: 0.9,
            ..Default::default()
        })
        .unwrap(),
        huge,
    );
    never_returns_ok_with_overflow(
        "adam",
        Adam::<f32, N>::new(AdamConfig {
            lr: 2e38,
            ..Default::default()
        })
        .unwrap(),
        1.0,
    );
    never_returns_ok_with_overflow(
        "adagrad",
        Adagrad::<f32, N>::new(AdagradConfig {
            lr: 2e38,
            ..Default::default()
        })
        .unwrap(),
        1.0,
    );
    never_returns_ok_with_overflow(
        "rmsprop",
        RmsProp::<f32, N>::new(RmsPropConfig {
            lr: 2e38,
            ..Default::default()
        })
        .unwrap(),
        1.0,
    );
    never_returns_ok_with_overflow(
        "adadelta",
        Adadelta::<f32, N>::new(AdadeltaConfig {
            lr: 2e38,
            ..Default::default()
        })
        .unwrap(),
        1.0,
    );
}

#[test]
fn adam_with_zero_eps_reports_the_zero_over_zero() {
    // A parameter whose gradient has always been 0 has m = v = 0: m / sqrt(v) = 0 / 0.
    let mut adam = Adam::<f32, N>::new(AdamConfig {
        eps: 0.0,
        ..Default::default()
    })
    .unwrap();
    let mut w = [1.0f32; N];
    let mut g = gradient(0).map(|v| if v == 0.0 { 0.25 } else { v });
    g[3] = 0.0;
    let before = snapshot(&adam, &w);
    match adam.step(&mut w, &g) {
        Err(Error::NonFiniteValue {
            what, index, value, ..
        }) => {
            assert_eq!((what, index), ("Adam: parameter after the update", 3));
            assert!(value.is_nan());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(snapshot(&adam, &w), before);
    // Without the zero the same configuration steps normally (the slow, checked path).
    g[3] = 0.5;
    adam.step(&mut w, &g).unwrap();
    assert!(all_finite(&adam, &w));
}

#[test]
fn the_checked_path_computes_what_the_fast_path_computes() {
    // eps = 0 forces the dry run before every update; with gradients that never vanish the
    // results must equal those of a tiny eps's fast path up to that eps.
    let run = |eps: f64| {
        let mut adam = Adam::<f64, N>::new(AdamConfig {
            eps,
            ..Default::default()
        })
        .unwrap();
        let mut w = [0.5f64; N];
        for t in 0..20 {
            let g = gradient(t).map(|v| f64::from(v) + 3.0);
            adam.step(&mut w, &g).unwrap();
        }
        w
    };
    let (checked, fast) = (run(0.0), run(1e-300));
    assert_eq!(checked, fast);
}

#[test]
fn restored_state_is_measured_before_it_is_trusted() {
    // A checkpoint restore hands out the buffers mutably; values close to overflow written there
    // must be caught by the next step, not assumed bounded.
    let mut sgd = Sgd::<f32, N>::new(SgdConfig {
        lr: 0.1,
        momentum: 0.9,
        ..Default::default()
    })
    .unwrap();
    let mut w = [0.0f32; N];
    sgd.step(&mut w, &gradient(0)).unwrap();
    sgd.state_buffer_mut(0).unwrap().1[5] = f32::MAX;
    let before = snapshot(&sgd, &w);
    let mut g = gradient(1);
    g[5] = f32::MAX;
    assert!(matches!(
        sgd.step(&mut w, &g),
        Err(Error::NonFiniteValue {
            what: "SGD: momentum_buffer" | "SGD: parameter after the update",
            index: 5,
            ..
        })
    ));
    assert_eq!(snapshot(&sgd, &w), before);
}

#[test]
fn a_failed_scheduled_step_keeps_the_learning_rate() {
    let mut sgd = Sgd::<f32, N>::new(SgdConfig::default()).unwrap();
    let mut w = [0.0f32; N];
    let mut g = gradient(0);
    g[0] = f32::NAN;
    let schedule = |_step: u64| 0.5;
    assert!(sgd.step_scheduled(&schedule, &mut w, &g).is_err());
    assert_eq!(sgd.learning_rate(), SgdConfig::default().lr);
}
