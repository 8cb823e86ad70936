//! A step whose check phase was done by chunks ([`Optimizer::step_scanned`] with the combined
//! [`GradientScan`]s of the chunks, as a data-parallel step does) is the whole step, bit for
//! bit, for every optimizer: the same update, the same state, the same errors, and on `Err`
//! nothing changed.

extern crate std;
use std::format;
use std::vec::Vec;

use super::*;
use crate::Rng;

const N: usize = 103;

/// The scan of `params` and `grads` as the combination of the scans of uneven chunks, taken
/// out of order.
fn chunked_scan(params: &[f64; N], grads: &[f64; N]) -> GradientScan {
    let bounds = [(40, 77), (0, 13), (77, N), (13, 40)];
    bounds
        .iter()
        .fold(GradientScan::EMPTY, |scan, &(start, end)| {
            scan.combine(GradientScan::of(&params[start..end], &grads[start..end]))
        })
}

/// Every state buffer, the step counter and the learning rate.
fn state_of<O: Optimizer<f64, N>>(optimizer: &O) -> (Vec<f64>, u64, f64) {
    let mut state = std::vec![0.0; optimizer.state_buffer_count() * N];
    optimizer.save_state(&mut state).unwrap();
    (state, optimizer.steps(), optimizer.learning_rate())
}

/// Three steps of two optimizers made by `make` from the same start, one through `step`, one
/// through `step_scanned`, must agree bitwise; then a gradient with a NaN in the middle, and
/// parameters with an infinity, fail the same way on both and change nothing.
fn splits_as_whole<O: Optimizer<f64, N>>(name: &str, make: impl Fn() -> O) {
    let mut rng = Rng::new(7);
    let mut whole = make();
    let mut split = make();
    let mut w_whole: [f64; N] = core::array::from_fn(|_| rng.normal());
    let mut w_split = w_whole;
    for step in 0..3 {
        let grads: [f64; N] = core::array::from_fn(|_| rng.normal::<f64>() * 0.1);
        let scan = chunked_scan(&w_split, &grads);
        assert_eq!(scan, GradientScan::of(&w_split, &grads), "{name}");
        whole.step(&mut w_whole, &grads).unwrap();
        split.step_scanned(&mut w_split, &grads, &scan).unwrap();
        assert_eq!(w_whole, w_split, "{name}: parameters after step {step}");
        assert_eq!(
            state_of(&whole),
            state_of(&split),
            "{name}: state after step {step}"
        );
    }
    let mut bad_grads: [f64; N] = core::array::from_fn(|_| rng.normal());
    bad_grads[50] = f64::NAN;
    let mut bad_params = w_split;
    bad_params[90] = f64::INFINITY;
    let good_grads: [f64; N] = core::array::from_fn(|_| rng.normal());
    for (params, grads) in [(w_split, bad_grads), (bad_params, good_grads)] {
        let (mut p_whole, mut p_split) = (params, params);
        let before = state_of(&split);
        let expected = whole.step(&mut p_whole, &grads);
        let got = split.step_scanned(&mut p_split, &grads, &chunked_scan(&params, &grads));
        let error = got.expect_err(name);
        assert_eq!(
            format!("{error:?}"),
            format!("{:?}", expected.expect_err(name)),
            "{name}"
        );
        assert!(
            p_split
                .iter()
                .zip(&params)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{name}: parameters changed by a failed step"
        );
        assert_eq!(
            state_of(&split),
            before,
            "{name}: state changed by a failed step"
        );
    }
}

#[test]
fn every_optimizer_steps_the_same_with_a_chunked_scan() {
    splits_as_whole("SGD", || Sgd::new(SgdConfig::default()).unwrap());
    splits_as_whole("SGD momentum", || {
        Sgd::new(SgdConfig {
            lr: 0.05,
            momentum: 0.9,
            dampening: 0.1,
            weight_decay: 1e-3,
            nesterov: false,
        })
        .unwrap()
    });
    splits_as_whole("SGD Nesterov", || {
        Sgd::new(SgdConfig {
            momentum: 0.9,
            nesterov: true,
            ..SgdConfig::default()
        })
        .unwrap()
    });
    splits_as_whole("Adam", || Adam::new(AdamConfig::default()).unwrap());
    splits_as_whole("Adam AMSGrad, L2", || {
        Adam::new(AdamConfig {
            amsgrad: true,
            weight_decay: 1e-2,
            ..AdamConfig::default()
        })
        .unwrap()
    });
    splits_as_whole("Adam, eps 0 (dry run)", || {
        Adam::new(AdamConfig {
            eps: 0.0,
            ..AdamConfig::default()
        })
        .unwrap()
    });
    splits_as_whole("AdamW", || AdamW::new(AdamWConfig::default()).unwrap());
    splits_as_whole("Adagrad", || {
        Adagrad::new(AdagradConfig {
            lr_decay: 1e-3,
            weight_decay: 1e-3,
            ..AdagradConfig::default()
        })
        .unwrap()
    });
    splits_as_whole("RMSprop centered, momentum", || {
        RmsProp::new(RmsPropConfig {
            momentum: 0.9,
            centered: true,
            ..RmsPropConfig::default()
        })
        .unwrap()
    });
    splits_as_whole("RMSprop", || {
        RmsProp::new(RmsPropConfig::default()).unwrap()
    });
    splits_as_whole("Adadelta", || {
        Adadelta::new(AdadeltaConfig {
            weight_decay: 1e-2,
            ..AdadeltaConfig::default()
        })
        .unwrap()
    });
}

#[test]
fn a_scan_of_chunks_is_the_scan_of_the_whole() {
    let mut rng = Rng::new(3);
    let params: [f64; N] = core::array::from_fn(|_| rng.normal());
    let mut grads: [f64; N] = core::array::from_fn(|_| rng.normal());
    assert_eq!(
        chunked_scan(&params, &grads),
        GradientScan::of(&params, &grads)
    );
    assert_eq!(
        GradientScan::EMPTY.combine(GradientScan::of(&params, &grads)),
        GradientScan::of(&params, &grads)
    );
    grads[100] = f64::NEG_INFINITY;
    let scan = chunked_scan(&params, &grads);
    assert_eq!(scan, scan.combine(GradientScan::EMPTY));
    assert!(scan.extents(&grads).is_err());
}
