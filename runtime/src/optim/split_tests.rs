//! A step whose check phase was done by chunks ([`Optimizer::step_scanned`] with the combined
//! [`GradientScan`]s of the chunks, as a data-parallel step does), and a step whose writes are
//! split in chunks applied by several threads ([`Optimizer::step_split`]), are the whole step,
//! bit for bit, for every optimizer: the same update, the same state, the same errors, and on
//! `Err` nothing changed.

extern crate std;
use std::format;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// `parts` chunks, run on scoped threads in a scrambled order (two threads take turns at the
/// chunks from opposite ends), counting the calls.
struct Scattered {
    parts: usize,
    calls: AtomicUsize,
}

impl Scattered {
    fn new(parts: usize) -> Self {
        Scattered {
            parts,
            calls: AtomicUsize::new(0),
        }
    }
}

impl Workers for Scattered {
    fn parts(&self) -> usize {
        self.parts
    }

    fn run(&self, job: &(dyn Fn(usize) + Sync)) {
        let parts = self.parts;
        let count = |k: usize| {
            self.calls.fetch_add(1, Ordering::Relaxed);
            job(k);
        };
        std::thread::scope(|scope| {
            scope.spawn(|| (0..parts).rev().filter(|k| k % 2 == 1).for_each(count));
            (0..parts).filter(|k| k % 2 == 0).for_each(count);
        });
    }
}

/// Every state buffer, the step counter and the learning rate.
fn state_of<O: Optimizer<f64, N>>(optimizer: &O) -> (Vec<f64>, u64, f64) {
    let mut state = std::vec![0.0; optimizer.state_buffer_count() * N];
    optimizer.save_state(&mut state).unwrap();
    (state, optimizer.steps(), optimizer.learning_rate())
}

/// Three steps of two optimizers made by `make` from the same start, one through `step`, one
/// through `step_scanned`, must agree bitwise; then a gradient with a NaN in the middle, and
/// parameters with an infinity, fail the same way on both and change nothing. The same for
/// `step_split` on 1 to 100 chunks (at most 64 used).
fn splits_as_whole<O: Optimizer<f64, N>>(name: &str, make: impl Fn() -> O) {
    steps_as_whole(name, &make, None);
    for parts in [1, 2, 3, 5, 8, 64, 100] {
        steps_as_whole(name, &make, Some(&Scattered::new(parts)));
    }
}

/// `step` against `step_scanned` (`workers` `None`) or `step_split` on `workers`.
fn steps_as_whole<O: Optimizer<f64, N>>(
    name: &str,
    make: impl Fn() -> O,
    workers: Option<&Scattered>,
) {
    let name = &format!("{name} ({} chunks)", workers.map_or(0, |w| w.parts));
    let step_other = |o: &mut O, w: &mut [f64; N], g: &[f64; N], scan: &GradientScan| match workers
    {
        None => o.step_scanned(w, g, scan),
        Some(workers) => o.step_split(w, g, scan, workers),
    };
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
        step_other(&mut split, &mut w_split, &grads, &scan).unwrap();
        assert!(
            w_whole
                .iter()
                .zip(&w_split)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{name}: parameters after step {step}"
        );
        assert_eq!(
            state_of(&whole),
            state_of(&split),
            "{name}: state after step {step}"
        );
    }
    if let Some(workers) = workers {
        assert_eq!(
            workers.calls.load(Ordering::Relaxed),
            3 * workers.parts,
            "{name}: every chunk once per step"
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
        let calls = workers.map(|w| w.calls.load(Ordering::Relaxed));
        let got = step_other(
            &mut split,
            &mut p_split,
            &grads,
            &chunked_scan(&params, &grads),
        );
        assert_eq!(
            workers.map(|w| w.calls.load(Ordering::Relaxed)),
            calls,
            "{name}: a failed step ran chunks"
        );
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
fn every_optimizer_steps_the_same_with_a_chunked_scan_or_split_writes() {
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
    splits_as_whole("RMSprop momentum", || {
        RmsProp::new(RmsPropConfig {
            momentum: 0.5,
            weight_decay: 1e-2,
            ..RmsPropConfig::default()
        })
        .unwrap()
    });
    splits_as_whole("AdamW AMSGrad", || {
        AdamW::new(AdamWConfig {
            amsgrad: true,
            ..AdamWConfig::default()
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

/// After a step that could not prove its update finite (the dry run, then the update), the
/// bounds the optimizer keeps are the largest magnitudes of its state buffers, measured by
/// the chunks of the update as they write them, on one thread or split.
fn measures_as_whole<O, const K: usize>(name: &str, make: impl Fn() -> O)
where
    O: Optimizer<f64, N> + guard::Guarded<f64, N, K>,
{
    for workers in [None, Some(Scattered::new(3)), Some(Scattered::new(64))] {
        let mut rng = Rng::new(11);
        let mut optimizer = make();
        let mut w: [f64; N] = core::array::from_fn(|_| rng.normal());
        for _ in 0..3 {
            let grads: [f64; N] = core::array::from_fn(|_| rng.normal::<f64>());
            // Forgets the bounds (as a restored checkpoint does): the next step measures.
            let _ = optimizer.state_buffer_mut(0);
            let scan = GradientScan::of(&w, &grads);
            match &workers {
                None => optimizer.step(&mut w, &grads).unwrap(),
                Some(workers) => optimizer
                    .step_split(&mut w, &grads, &scan, workers)
                    .unwrap(),
            }
            let kept = optimizer.bounds_mut().get();
            assert_eq!(kept, Some(optimizer.measured_bounds()), "{name}");
            assert!(kept.unwrap()[0] > 0.0, "{name}");
        }
    }
}

#[test]
fn a_step_that_measures_its_state_measures_it_whole() {
    measures_as_whole("Adam AMSGrad, eps 0", || {
        Adam::new(AdamConfig {
            eps: 0.0,
            amsgrad: true,
            ..AdamConfig::default()
        })
        .unwrap()
    });
    measures_as_whole("RMSprop centered, momentum", || {
        RmsProp::new(RmsPropConfig {
            momentum: 0.9,
            centered: true,
            ..RmsPropConfig::default()
        })
        .unwrap()
    });
    measures_as_whole("Adagrad", || {
        Adagrad::new(AdagradConfig::default()).unwrap()
    });
    measures_as_whole("Adadelta", || {
        Adadelta::new(AdadeltaConfig::default()).unwrap()
    });
    measures_as_whole("SGD momentum", || {
        Sgd::new(SgdConfig {
            momentum: 0.9,
            ..SgdConfig::default()
        })
        .unwrap()
    });
}
