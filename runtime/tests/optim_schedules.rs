//! Every schedule against `torch.optim.lr_scheduler` values (reference/schedule.py, base lr
//! 0.1), to 1e-12 relative.

#[rustfmt::skip]
#[path = "optim_data/schedules.rs"]
mod data;

use monograd_runtime::optim::schedule::{
    Constant, CosineAnnealing, Exponential, Harmonic, Milestones, StepDecay, Warmup,
};
use monograd_runtime::optim::Schedule;

const BASE: f64 = 0.1;

fn check<S: Schedule, const T: usize>(what: &str, schedule: &S, torch: &[f64; T]) {
    for (t, &want) in torch.iter().enumerate() {
        let got = schedule.lr(t as u64);
        let scale = want.abs().max(got.abs());
        assert!(
            (got - want).abs() <= 1e-12 * scale,
            "{what}: lr({t}) = {got:e}, torch {want:e}"
        );
    }
}

fn step_decay() -> StepDecay {
    StepDecay::new(BASE, 3, 0.5).unwrap()
}

fn harmonic() -> Harmonic {
    Harmonic::new(BASE, 4, 2.0).unwrap()
}

#[test]
fn step_decay_matches_step_lr() {
    check("StepLR", &step_decay(), &data::STEP_DECAY);
}

#[test]
fn milestones_match_multi_step_lr() {
    // Unsorted with a repeat: MultiStepLR counts 5 twice.
    let s = Milestones::new(BASE, [9, 5, 2, 5], 0.1).unwrap();
    check("MultiStepLR", &s, &data::MILESTONES);
}

#[test]
fn exponential_matches_exponential_lr() {
    check(
        "ExponentialLR",
        &Exponential::new(BASE, 0.9).unwrap(),
        &data::EXPONENTIAL,
    );
}

#[test]
fn cosine_matches_cosine_annealing_lr_past_t_max() {
    let s = CosineAnnealing::new(BASE, 10, 0.001).unwrap();
    check("CosineAnnealingLR", &s, &data::COSINE);
    assert_eq!(s.lr(10), 0.001);
}

#[test]
fn harmonic_matches_its_formula_via_lambda_lr() {
    check("LambdaLR harmonic", &harmonic(), &data::HARMONIC);
    // a / (floor(t / N) + c), directly.
    assert_eq!(harmonic().lr(0), BASE / 2.0);
    assert_eq!(harmonic().lr(9), BASE / 4.0);
}

#[test]
fn warmup_matches_linear_lr_and_sequential_lr() {
    let constant = Constant::new(BASE).unwrap();
    check(
        "LinearLR",
        &Warmup::new(constant, 5, 0.1).unwrap(),
        &data::WARMUP_CONSTANT,
    );
    let cosine = CosineAnnealing::new(BASE, 10, 0.0).unwrap();
    check(
        "warm-up + cosine",
        &Warmup::new(cosine, 4, 0.25).unwrap(),
        &data::WARMUP_COSINE,
    );
    let step = StepDecay::new(BASE, 3, 0.5).unwrap();
    check(
        "warm-up + StepLR",
        &Warmup::new(step, 3, 0.2).unwrap(),
        &data::WARMUP_STEP_DECAY,
    );
    let milestones = Milestones::new(BASE, [2, 6], 0.3).unwrap();
    check(
        "warm-up + MultiStepLR",
        &Warmup::new(milestones, 2, 0.5).unwrap(),
        &data::WARMUP_MILESTONES,
    );
    let exponential = Exponential::new(BASE, 0.8).unwrap();
    check(
        "warm-up + ExponentialLR",
        &Warmup::new(exponential, 5, 0.1).unwrap(),
        &data::WARMUP_EXPONENTIAL,
    );
    check(
        "warm-up + harmonic",
        &Warmup::new(harmonic(), 3, 0.3).unwrap(),
        &data::WARMUP_HARMONIC,
    );
}

#[test]
fn schedules_are_small_copy_values() {
    fn copy<S: Copy>(s: S) -> (S, S) {
        (s, s)
    }
    let (a, b) = copy(Warmup::new(Milestones::new(BASE, [3, 7], 0.5).unwrap(), 2, 0.0).unwrap());
    assert_eq!(a, b);
    assert_eq!(a.inner().lr(7), BASE * 0.25);
    assert!(core::mem::size_of::<Milestones<2>>() <= 32);
}
