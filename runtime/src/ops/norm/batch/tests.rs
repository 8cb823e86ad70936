//! BatchNorm tests: PyTorch reference values, finite differences, Store modes, small batches.

use super::super::reference as pt;
use super::super::test_util::*;
use super::super::{init_running_stats, DEFAULT_EPS};
use super::*;
use crate::gradcheck::assert_gradient;
use crate::Rng;

/// One PyTorch reference case: three training steps, gradients of the first, and eval.
struct Case<const B: usize, const C: usize, const N: usize> {
    gamma: [f64; C],
    beta: [f64; C],
    x: [[[f64; N]; B]; 3],
    y1: [[f64; N]; B],
    dy1: [[f64; N]; B],
    dx1: [[f64; N]; B],
    dgamma1: [f64; C],
    dbeta1: [f64; C],
    running1: [[f64; C]; 2],
    running3: [[f64; C]; 2],
    eval_x: [[f64; N]; B],
    eval_dy: [[f64; N]; B],
    eval_y: [[f64; N]; B],
    eval_dx: [[f64; N]; B],
    eval_dgamma: [f64; C],
    eval_dbeta: [f64; C],
}

fn check_case<T: Scalar, const B: usize, const C: usize, const S: usize, const N: usize>(
    case: &Case<B, C, N>,
) {
    let tol = tolerance::<T>();
    let params = [cast1::<T, C>(&case.gamma), cast1(&case.beta)];
    let mut state = [[T::zero(); C]; 2];
    init_running_stats(&mut state);
    let mut saved = BatchStats::zeroed();
    let mut y = [[T::zero(); N]; B];
    let config = BatchNormConfig::PYTORCH;

    let x1 = cast::<T, N, B>(&case.x[0]);
    batch_norm_train_forward::<T, B, C, S, N>(&x1, &params, &mut state, &mut saved, &mut y, config);
    assert_close("train y", y.as_flattened(), case.y1.as_flattened(), tol);
    assert_close(
        "running after 1 step",
        state.as_flattened(),
        case.running1.as_flattened(),
        tol,
    );

    let mut dx = [[T::zero(); N]; B];
    let mut dparams = [[T::zero(); C]; 2];
    let dy = cast(&case.dy1);
    batch_norm_train_backward::<T, B, C, S, N>(
        &x1,
        &params,
        &saved,
        &dy,
        &mut dx,
        Store::Overwrite,
        &mut dparams,
        Store::Overwrite,
    );
    assert_close("train dx", dx.as_flattened(), case.dx1.as_flattened(), tol);
    assert_close("train dgamma", &dparams[0], &case.dgamma1, tol);
    assert_close("train dbeta", &dparams[1], &case.dbeta1, tol);

    for x in &case.x[1..] {
        let x = cast(x);
        batch_norm_train_forward::<T, B, C, S, N>(
            &x, &params, &mut state, &mut saved, &mut y, config,
        );
    }
    assert_close(
        "running after 3 steps",
        state.as_flattened(),
        case.running3.as_flattened(),
        tol,
    );

    let x = cast(&case.eval_x);
    batch_norm_eval_forward::<T, B, C, S, N>(&x, &params, &state, &mut y, DEFAULT_EPS);
    assert_close("eval y", y.as_flattened(), case.eval_y.as_flattened(), tol);
    let dy = cast(&case.eval_dy);
    batch_norm_eval_backward::<T, B, C, S, N>(
        &x,
        &params,
        &state,
        &dy,
        &mut dx,
        Store::Overwrite,
        &mut dparams,
        Store::Overwrite,
        DEFAULT_EPS,
    );
    assert_close(
        "eval dx",
        dx.as_flattened(),
        case.eval_dx.as_flattened(),
        tol,
    );
    assert_close("eval dgamma", &dparams[0], &case.eval_dgamma, tol);
    assert_close("eval dbeta", &dparams[1], &case.eval_dbeta, tol);
}

#[test]
fn matches_pytorch_batch_norm1d_on_feature_vectors() {
    let case = Case {
        gamma: pt::BN_FEAT_GAMMA,
        beta: pt::BN_FEAT_BETA,
        x: [pt::BN_FEAT_X1, pt::BN_FEAT_X2, pt::BN_FEAT_X3],
        y1: pt::BN_FEAT_Y1,
        dy1: pt::BN_FEAT_DY1,
        dx1: pt::BN_FEAT_DX1,
        dgamma1: pt::BN_FEAT_DGAMMA1,
        dbeta1: pt::BN_FEAT_DBETA1,
        running1: [pt::BN_FEAT_RUNNING_MEAN1, pt::BN_FEAT_RUNNING_VAR1],
        running3: [pt::BN_FEAT_RUNNING_MEAN3, pt::BN_FEAT_RUNNING_VAR3],
        eval_x: pt::BN_FEAT_EVAL_X,
        eval_dy: pt::BN_FEAT_EVAL_DY,
        eval_y: pt::BN_FEAT_EVAL_Y,
        eval_dx: pt::BN_FEAT_EVAL_DX,
        eval_dgamma: pt::BN_FEAT_EVAL_DGAMMA,
        eval_dbeta: pt::BN_FEAT_EVAL_DBETA,
    };
    check_case::<f64, 4, 3, 1, 3>(&case);
    check_case::<f32, 4, 3, 1, 3>(&case);
}

#[test]
fn matches_pytorch_batch_norm2d_on_maps() {
    let case = Case {
        gamma: pt::BN_MAP_GAMMA,
        beta: pt::BN_MAP_BETA,
        x: [pt::BN_MAP_X1, pt::BN_MAP_X2, pt::BN_MAP_X3],
        y1: pt::BN_MAP_Y1,
        dy1: pt::BN_MAP_DY1,
        dx1: pt::BN_MAP_DX1,
        dgamma1: pt::BN_MAP_DGAMMA1,
        dbeta1: pt::BN_MAP_DBETA1,
        running1: [pt::BN_MAP_RUNNING_MEAN1, pt::BN_MAP_RUNNING_VAR1],
        running3: [pt::BN_MAP_RUNNING_MEAN3, pt::BN_MAP_RUNNING_VAR3],
        eval_x: pt::BN_MAP_EVAL_X,
        eval_dy: pt::BN_MAP_EVAL_DY,
        eval_y: pt::BN_MAP_EVAL_Y,
        eval_dx: pt::BN_MAP_EVAL_DX,
        eval_dgamma: pt::BN_MAP_EVAL_DGAMMA,
        eval_dbeta: pt::BN_MAP_EVAL_DBETA,
    };
    check_case::<f64, 2, 3, 4, 12>(&case);
    check_case::<f32, 2, 3, 4, 12>(&case);
}

const B: usize = 3;
const C: usize = 2;
const S: usize = 3;
const N: usize = C * S;

/// Random input, parameters, running statistics and loss weights.
type Batch = [[f64; N]; B];
type Block = [[f64; C]; 2];
/// A backward pass with its inputs bound: (dx, dx_store, dparams, dparams_store).
type Backward<'a> = &'a dyn Fn(&mut Batch, Store, &mut Block, Store);

fn setup(seed: u64) -> (Batch, Block, Block, Batch) {
    let mut rng = Rng::new(seed);
    let x = random::<N, B>(&mut rng, 1.5, 0.3);
    let params = [
        random::<C, 1>(&mut rng, 0.5, 1.0)[0],
        random::<C, 1>(&mut rng, 0.5, 0.0)[0],
    ];
    let state = [
        random::<C, 1>(&mut rng, 0.5, 0.0)[0],
        random::<C, 1>(&mut rng, 0.2, 1.5)[0],
    ];
    let w = random::<N, B>(&mut rng, 1.0, 0.0);
    (x, params, state, w)
}

fn train_loss(x: &[[f64; N]; B], params: &[[f64; C]; 2], w: &[[f64; N]; B]) -> f64 {
    let (mut state, mut saved, mut y) = ([[0.0; C]; 2], BatchStats::zeroed(), [[0.0; N]; B]);
    batch_norm_train_forward::<f64, B, C, S, N>(
        x,
        params,
        &mut state,
        &mut saved,
        &mut y,
        BatchNormConfig::PYTORCH,
    );
    weighted_sum(w, &y)
}

fn eval_loss(
    x: &[[f64; N]; B],
    params: &[[f64; C]; 2],
    state: &[[f64; C]; 2],
    w: &[[f64; N]; B],
) -> f64 {
    let mut y = [[0.0; N]; B];
    batch_norm_eval_forward::<f64, B, C, S, N>(x, params, state, &mut y, DEFAULT_EPS);
    weighted_sum(w, &y)
}

#[test]
fn train_gradients_match_finite_differences() {
    let (x, params, _, w) = setup(1);
    let mut state = [[0.0; C]; 2];
    let (mut saved, mut y) = (BatchStats::zeroed(), [[0.0; N]; B]);
    batch_norm_train_forward::<f64, B, C, S, N>(
        &x,
        &params,
        &mut state,
        &mut saved,
        &mut y,
        BatchNormConfig::PYTORCH,
    );
    let (mut dx, mut dparams) = ([[0.0; N]; B], [[0.0; C]; 2]);
    batch_norm_train_backward::<f64, B, C, S, N>(
        &x,
        &params,
        &saved,
        &w,
        &mut dx,
        Store::Overwrite,
        &mut dparams,
        Store::Overwrite,
    );
    // The whole batch is the input: the statistics move with every element.
    assert_gradient(
        "batch_norm train dx",
        |flat| train_loss(&unflatten(flat), &params, &w),
        x.clone().as_flattened_mut(),
        dx.as_flattened(),
        GRAD_TOL,
    );
    assert_gradient(
        "batch_norm train dparams",
        |flat| train_loss(&x, &unflatten(flat), &w),
        params.clone().as_flattened_mut(),
        dparams.as_flattened(),
        GRAD_TOL,
    );
}

#[test]
fn eval_gradients_match_finite_differences() {
    let (x, params, state, w) = setup(2);
    let (mut dx, mut dparams) = ([[0.0; N]; B], [[0.0; C]; 2]);
    batch_norm_eval_backward::<f64, B, C, S, N>(
        &x,
        &params,
        &state,
        &w,
        &mut dx,
        Store::Overwrite,
        &mut dparams,
        Store::Overwrite,
        DEFAULT_EPS,
    );
    assert_gradient(
        "batch_norm eval dx",
        |flat| eval_loss(&unflatten(flat), &params, &state, &w),
        x.clone().as_flattened_mut(),
        dx.as_flattened(),
        GRAD_TOL,
    );
    assert_gradient(
        "batch_norm eval dparams",
        |flat| eval_loss(&x, &unflatten(flat), &state, &w),
        params.clone().as_flattened_mut(),
        dparams.as_flattened(),
        GRAD_TOL,
    );
}

#[test]
fn accumulate_adds_to_previous_gradients() {
    let (x, params, state, w) = setup(3);
    let mut running = state;
    let (mut saved, mut y) = (BatchStats::zeroed(), [[0.0; N]; B]);
    batch_norm_train_forward::<f64, B, C, S, N>(
        &x,
        &params,
        &mut running,
        &mut saved,
        &mut y,
        BatchNormConfig::PYTORCH,
    );
    let before_dx = random::<N, B>(&mut Rng::new(9), 1.0, 0.0);
    let before_dp = [[0.25, -0.5], [1.0, 2.0]];
    let train: Backward = &|dx, s1, dp, s2| {
        batch_norm_train_backward::<f64, B, C, S, N>(&x, &params, &saved, &w, dx, s1, dp, s2)
    };
    let eval: Backward = &|dx, s1, dp, s2| {
        batch_norm_eval_backward::<f64, B, C, S, N>(
            &x,
            &params,
            &state,
            &w,
            dx,
            s1,
            dp,
            s2,
            DEFAULT_EPS,
        )
    };
    for backward in [train, eval] {
        let (mut dx, mut dp) = ([[0.0; N]; B], [[0.0; C]; 2]);
        backward(&mut dx, Store::Overwrite, &mut dp, Store::Overwrite);
        let (mut acc_dx, mut acc_dp) = (before_dx, before_dp);
        backward(
            &mut acc_dx,
            Store::Accumulate,
            &mut acc_dp,
            Store::Accumulate,
        );
        for ((a, b), n) in acc_dx
            .as_flattened()
            .iter()
            .zip(before_dx.as_flattened())
            .zip(dx.as_flattened())
        {
            assert!((a - (b + n)).abs() < 1e-14);
        }
        for ((a, b), n) in acc_dp
            .as_flattened()
            .iter()
            .zip(before_dp.as_flattened())
            .zip(dp.as_flattened())
        {
            assert!((a - (b + n)).abs() < 1e-14);
        }
        // Mixed: accumulate into dx only.
        let mut mixed_dx = before_dx;
        let mut mixed_dp = before_dp;
        backward(
            &mut mixed_dx,
            Store::Accumulate,
            &mut mixed_dp,
            Store::Overwrite,
        );
        assert_eq!(mixed_dp, dp);
        assert_eq!(mixed_dx, acc_dx);
    }
}

#[test]
fn two_values_per_channel_and_constant_channels_stay_finite() {
    // Smallest batch that compiles: B = 2, S = 1. A constant channel (variance 0) gives
    // y = beta and a finite dx thanks to eps, never NaN.
    let x = [[1.0f64, 5.0], [3.0, 5.0]];
    let params = [[2.0, 3.0], [0.5, -1.0]];
    let mut state = [[0.0; 2], [1.0; 2]];
    let (mut saved, mut y) = (BatchStats::zeroed(), [[0.0; 2]; 2]);
    batch_norm_train_forward::<f64, 2, 2, 1, 2>(
        &x,
        &params,
        &mut state,
        &mut saved,
        &mut y,
        BatchNormConfig::PYTORCH,
    );
    let expected0 = 2.0 / (1.0f64 + 1e-5).sqrt();
    assert!((y[0][0] - (0.5 - expected0)).abs() < 1e-12);
    assert!((y[1][0] - (0.5 + expected0)).abs() < 1e-12);
    assert_eq!([y[0][1], y[1][1]], [-1.0, -1.0]);
    // Unbiased variance of {1, 3} is 2; of {5, 5} is 0.
    assert!((state[1][0] - (0.9 + 0.1 * 2.0)).abs() < 1e-15);
    assert!((state[1][1] - 0.9).abs() < 1e-15);
    assert!((state[0][1] - 0.5).abs() < 1e-15);
    let (mut dx, mut dp) = ([[0.0; 2]; 2], [[0.0; 2]; 2]);
    batch_norm_train_backward::<f64, 2, 2, 1, 2>(
        &x,
        &params,
        &saved,
        &[[1.0, 2.0], [-1.0, 4.0]],
        &mut dx,
        Store::Overwrite,
        &mut dp,
        Store::Overwrite,
    );
    assert!(dx
        .as_flattened()
        .iter()
        .chain(dp.as_flattened())
        .all(|v| v.is_finite()));
    // A constant channel still has a gradient: gamma / sqrt(eps) * (dy - mean(dy)), as PyTorch.
    let steep = 3.0 / 1e-5f64.sqrt();
    assert!((dx[0][1] + steep).abs() < 1e-9 && (dx[1][1] - steep).abs() < 1e-9);
    assert_eq!(dp[1], [0.0, 6.0]);
}
