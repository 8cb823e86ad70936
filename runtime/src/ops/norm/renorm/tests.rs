//! Batch Renorm tests: reference values (float64 torch reimplementation), equivalence with
//! BatchNorm at r = 1, d = 0, finite differences with r, d frozen, limits and schedule.

use super::super::batch::{affine_channel, channel_moments};
use super::super::reference as pt;
use super::super::test_util::*;
use super::super::{batch_norm_train_backward, batch_norm_train_forward};
use super::*;
use crate::gradcheck::assert_gradient;
use crate::Rng;

fn reference_case<T: Scalar>() {
    const B: usize = 4;
    const C: usize = 3;
    const S: usize = 2;
    const N: usize = 6;
    let tol = tolerance::<T>();
    let params = [cast1::<T, C>(&pt::RENORM_GAMMA), cast1(&pt::RENORM_BETA)];
    let mut state = [
        cast1::<T, C>(&pt::RENORM_RUNNING_MEAN0),
        cast1(&pt::RENORM_RUNNING_VAR0),
    ];
    let limits = RenormLimits::new(pt::RENORM_R_MAX, pt::RENORM_D_MAX).unwrap();
    let config = BatchNormConfig::PYTORCH;
    let (mut saved, mut y) = (RenormStats::zeroed(), [[T::zero(); N]; B]);
    let x1 = cast::<T, N, B>(&pt::RENORM_X1);
    batch_renorm_train_forward::<T, B, C, S, N>(
        &x1, &params, &mut state, &mut saved, &mut y, config, limits,
    );
    assert_close("renorm r", &saved.r, &pt::RENORM_R1, tol);
    assert_close("renorm d", &saved.d, &pt::RENORM_D1, tol);
    assert_close(
        "renorm y",
        y.as_flattened(),
        pt::RENORM_Y1.as_flattened(),
        tol,
    );
    let running1 = [pt::RENORM_RUNNING_MEAN1, pt::RENORM_RUNNING_VAR1];
    assert_close(
        "renorm running, 1 step",
        state.as_flattened(),
        running1.as_flattened(),
        tol,
    );

    let (mut dx, mut dparams) = ([[T::zero(); N]; B], [[T::zero(); C]; 2]);
    batch_renorm_train_backward::<T, B, C, S, N>(
        &x1,
        &params,
        &saved,
        &cast(&pt::RENORM_DY1),
        &mut dx,
        Store::Overwrite,
        &mut dparams,
        Store::Overwrite,
    );
    assert_close(
        "renorm dx",
        dx.as_flattened(),
        pt::RENORM_DX1.as_flattened(),
        tol,
    );
    assert_close("renorm dgamma", &dparams[0], &pt::RENORM_DGAMMA1, tol);
    assert_close("renorm dbeta", &dparams[1], &pt::RENORM_DBETA1, tol);

    for x in [pt::RENORM_X2, pt::RENORM_X3] {
        let x = cast::<T, N, B>(&x);
        batch_renorm_train_forward::<T, B, C, S, N>(
            &x, &params, &mut state, &mut saved, &mut y, config, limits,
        );
    }
    let running3 = [pt::RENORM_RUNNING_MEAN3, pt::RENORM_RUNNING_VAR3];
    assert_close(
        "renorm running, 3 steps",
        state.as_flattened(),
        running3.as_flattened(),
        tol,
    );
}

#[test]
fn matches_float64_torch_reimplementation() {
    // The reference covers a channel with r and d clipped, one with r clipped, one unclipped.
    reference_case::<f64>();
    reference_case::<f32>();
}

const B: usize = 3;
const C: usize = 2;
const S: usize = 2;
const N: usize = C * S;
type Batch = [[f64; N]; B];

fn setup(seed: u64) -> (Batch, [[f64; C]; 2], Batch) {
    let mut rng = Rng::new(seed);
    let x = random(&mut rng, 1.5, 0.3);
    let params = [
        random::<C, 1>(&mut rng, 0.5, 1.0)[0],
        random::<C, 1>(&mut rng, 0.5, 0.0)[0],
    ];
    (x, params, random(&mut rng, 1.0, 0.0))
}

fn forward(
    x: &Batch,
    params: &[[f64; C]; 2],
    state: &[[f64; C]; 2],
    limits: RenormLimits,
) -> (Batch, RenormStats<f64, C>) {
    let (mut state, mut saved, mut y) = (*state, RenormStats::zeroed(), [[0.0; N]; B]);
    batch_renorm_train_forward::<f64, B, C, S, N>(
        x,
        params,
        &mut state,
        &mut saved,
        &mut y,
        BatchNormConfig::PYTORCH,
        limits,
    );
    (y, saved)
}

fn backward(
    x: &Batch,
    params: &[[f64; C]; 2],
    saved: &RenormStats<f64, C>,
    w: &Batch,
) -> (Batch, [[f64; C]; 2]) {
    let (mut dx, mut dparams) = ([[0.0; N]; B], [[0.0; C]; 2]);
    batch_renorm_train_backward::<f64, B, C, S, N>(
        x,
        params,
        saved,
        w,
        &mut dx,
        Store::Overwrite,
        &mut dparams,
        Store::Overwrite,
    );
    (dx, dparams)
}

/// `sum(w * y)` with `r`, `d` frozen at `r`, `d` (the function whose gradient backward gives):
/// batch statistics still follow `x`.
fn frozen_loss(x: &Batch, params: &[[f64; C]; 2], r: &[f64; C], d: &[f64; C], w: &Batch) -> f64 {
    let mut y = [[0.0; N]; B];
    for c in 0..C {
        let (mean, var) = channel_moments::<f64, B, S, N>(x, c);
        let inv_std = 1.0 / (var + 1e-5).sqrt();
        let gamma = params[0][c];
        affine_channel::<f64, B, S, N>(
            x,
            &mut y,
            c,
            mean,
            gamma * inv_std * r[c],
            gamma * d[c] + params[1][c],
        );
    }
    weighted_sum(w, &y)
}

#[test]
fn gradients_match_finite_differences_with_r_and_d_frozen() {
    // Unclipped (running stats near the batch's) and clipped (far) corrections.
    for (seed, state, limits) in [
        (
            1,
            [[0.2, 0.5], [2.0, 1.5]],
            RenormLimits::new(3.0, 5.0).unwrap(),
        ),
        (
            2,
            [[3.0, -4.0], [0.05, 30.0]],
            RenormLimits::new(1.5, 0.5).unwrap(),
        ),
    ] {
        let (x, params, w) = setup(seed);
        let (_, saved) = forward(&x, &params, &state, limits);
        let (dx, dparams) = backward(&x, &params, &saved, &w);
        let (r, d) = (saved.r, saved.d);
        assert_gradient(
            "batch_renorm dx (r, d frozen)",
            |flat| frozen_loss(&unflatten(flat), &params, &r, &d, &w),
            x.clone().as_flattened_mut(),
            dx.as_flattened(),
            GRAD_TOL,
        );
        assert_gradient(
            "batch_renorm dparams",
            |flat| frozen_loss(&x, &unflatten(flat), &r, &d, &w),
            params.clone().as_flattened_mut(),
            dparams.as_flattened(),
            GRAD_TOL,
        );
    }
}

#[test]
fn clipped_corrections_make_backward_the_exact_gradient_of_forward() {
    // Running variance tiny and running mean far: r = r_max and d = +-d_max in every channel,
    // locally constant, so finite differences of the real forward must match backward.
    let (x, params, w) = setup(3);
    let state = [[-20.0, 20.0], [1e-3, 1e-3]];
    let limits = RenormLimits::new(2.0, 1.0).unwrap();
    let (_, saved) = forward(&x, &params, &state, limits);
    assert_eq!(saved.r, [2.0, 2.0]);
    assert_eq!(saved.d, [1.0, -1.0]);
    let (dx, _) = backward(&x, &params, &saved, &w);
    assert_gradient(
        "batch_renorm dx (clipped)",
        |flat| weighted_sum(&w, &forward(&unflatten(flat), &params, &state, limits).0),
        x.clone().as_flattened_mut(),
        dx.as_flattened(),
        GRAD_TOL,
    );
}

#[test]
fn unit_limits_are_exactly_batch_norm() {
    let (x, params, w) = setup(4);
    let start = [[0.7, -0.3], [0.4, 2.5]];
    let (mut state_rn, mut state_bn) = (start, start);
    let (mut saved_rn, mut saved_bn) = (RenormStats::zeroed(), BatchStats::zeroed());
    let (mut y_rn, mut y_bn) = ([[0.0; N]; B], [[0.0; N]; B]);
    let config = BatchNormConfig::PYTORCH;
    batch_renorm_train_forward::<f64, B, C, S, N>(
        &x,
        &params,
        &mut state_rn,
        &mut saved_rn,
        &mut y_rn,
        config,
        RenormLimits::BATCH_NORM,
    );
    batch_norm_train_forward::<f64, B, C, S, N>(
        &x,
        &params,
        &mut state_bn,
        &mut saved_bn,
        &mut y_bn,
        config,
    );
    assert_eq!(
        (y_rn, state_rn, &saved_rn.batch),
        (y_bn, state_bn, &saved_bn)
    );
    assert_eq!((saved_rn.r, saved_rn.d), ([1.0; C], [0.0; C]));
    let (dx_rn, dp_rn) = backward(&x, &params, &saved_rn, &w);
    let (mut dx_bn, mut dp_bn) = ([[0.0; N]; B], [[0.0; C]; 2]);
    batch_norm_train_backward::<f64, B, C, S, N>(
        &x,
        &params,
        &saved_bn,
        &w,
        &mut dx_bn,
        Store::Overwrite,
        &mut dp_bn,
        Store::Overwrite,
    );
    assert_eq!((dx_rn, dp_rn), (dx_bn, dp_bn));
}

#[test]
fn accumulate_adds_to_previous_gradients() {
    let (x, params, w) = setup(5);
    let (_, saved) = forward(
        &x,
        &params,
        &[[0.1, 0.2], [0.5, 3.0]],
        RenormLimits::new(1.5, 0.3).unwrap(),
    );
    let (dx, dparams) = backward(&x, &params, &saved, &w);
    let mut acc_dx: Batch = random(&mut Rng::new(6), 1.0, 0.0);
    let mut acc_dp = [[1.0, -2.0], [0.5, 0.25]];
    let (before_dx, before_dp) = (acc_dx, acc_dp);
    batch_renorm_train_backward::<f64, B, C, S, N>(
        &x,
        &params,
        &saved,
        &w,
        &mut acc_dx,
        Store::Accumulate,
        &mut acc_dp,
        Store::Accumulate,
    );
    let sums = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p + q).collect::<Vec<_>>();
    let expected = sums(before_dx.as_flattened(), dx.as_flattened());
    assert_close("accumulated dx", acc_dx.as_flattened(), &expected, 1e-14);
    let expected = sums(before_dp.as_flattened(), dparams.as_flattened());
    assert_close(
        "accumulated dparams",
        acc_dp.as_flattened(),
        &expected,
        1e-14,
    );
}

#[test]
fn limits_are_validated() {
    assert!(RenormLimits::new(1.0, 0.0).is_ok());
    assert!(RenormLimits::new(f64::INFINITY, f64::INFINITY).is_ok());
    assert!(RenormLimits::new(0.5, 1.0).is_err());
    assert!(RenormLimits::new(f64::NAN, 1.0).is_err());
    assert!(RenormLimits::new(2.0, -1.0).is_err());
    assert!(RenormLimits::new(2.0, f64::NAN).is_err());
    // Crossed limits built by hand do not panic (clamp would).
    let (x, params, _) = setup(7);
    let crossed = RenormLimits {
        r_max: 0.5,
        d_max: -1.0,
    };
    let (y, _) = forward(&x, &params, &[[0.0; C], [1.0; C]], crossed);
    assert!(y.as_flattened().iter().all(|v| v.is_finite()));
}

#[test]
fn paper_schedule_ramps_linearly_after_warm_up() {
    let schedule = RenormSchedule::PAPER;
    let at = |step| {
        let l = schedule.limits(step).unwrap();
        (l.r_max, l.d_max)
    };
    assert_eq!(at(0), (1.0, 0.0));
    assert_eq!(at(5_000), (1.0, 0.0));
    // Halfway through the r ramp (5k..40k); d ramp (5k..25k) is at 7/8.
    assert_eq!(at(22_500), (2.0, 4.375));
    assert_eq!(at(25_000), (1.0 + 2.0 * 20_000.0 / 35_000.0, 5.0));
    assert_eq!(at(40_000), (3.0, 5.0));
    assert_eq!(at(u64::MAX), (3.0, 5.0));
    // A ramp that ends before the warm-up jumps at the warm-up.
    let abrupt = RenormSchedule {
        warmup_steps: 10,
        r_ramp_end: 0,
        d_ramp_end: 10,
        ..schedule
    };
    assert_eq!(abrupt.limits(9).unwrap(), RenormLimits::BATCH_NORM);
    assert_eq!(
        abrupt.limits(10).unwrap(),
        RenormLimits::new(3.0, 5.0).unwrap()
    );
    let invalid = RenormSchedule {
        r_max: 0.5,
        ..schedule
    };
    assert!(invalid.limits(0).is_err());
}
