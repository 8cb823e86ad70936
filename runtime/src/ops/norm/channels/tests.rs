//! The channel-blocked BatchNorm and Batch Renorm kernels against a per-channel reference over
//! shapes that cross block and lane boundaries, and their accuracy on data with a large offset.

use super::super::test_util::*;
use super::super::{
    batch_norm_eval_backward, batch_norm_eval_forward, batch_norm_train_backward,
    batch_norm_train_forward, batch_renorm_train_backward, batch_renorm_train_forward,
    BatchNormConfig, BatchStats, RenormLimits, RenormStats, DEFAULT_EPS,
};
use super::*;
use crate::Rng;

/// What the reference computes for one batch, flattened `[b][c * S + s]`, per channel `[c]`.
struct Expected {
    y: Vec<f64>,
    dx: Vec<f64>,
    dgamma: Vec<f64>,
    dbeta: Vec<f64>,
    mean: Vec<f64>,
    inv_std: Vec<f64>,
}

/// Batch Renorm (BatchNorm when `r = 1`, `d = 0`) straight from the formulas, one channel at
/// a time, in `f64`: `(r, d)` per channel from `corrections(mean, sigma_batch)`.
fn reference<const B: usize, const C: usize, const S: usize, const N: usize>(
    x: &[[f64; N]; B],
    params: &[[f64; C]; 2],
    dy: &[[f64; N]; B],
    corrections: impl Fn(usize, f64, f64) -> (f64, f64),
) -> Expected {
    let m = (B * S) as f64;
    let mut e = Expected {
        y: vec![0.0; B * N],
        dx: vec![0.0; B * N],
        dgamma: vec![0.0; C],
        dbeta: vec![0.0; C],
        mean: vec![0.0; C],
        inv_std: vec![0.0; C],
    };
    #[allow(clippy::needless_range_loop)] // `c` also selects the channel's elements of x.
    for c in 0..C {
        let at: Vec<(usize, usize)> = (0..B)
            .flat_map(|b| (c * S..(c + 1) * S).map(move |i| (b, i)))
            .collect();
        let mean = at.iter().map(|&(b, i)| x[b][i]).sum::<f64>() / m;
        let var = at
            .iter()
            .map(|&(b, i)| (x[b][i] - mean).powi(2))
            .sum::<f64>()
            / m;
        let sigma = (var + DEFAULT_EPS).sqrt();
        let (r, d) = corrections(c, mean, sigma);
        let (gamma, beta) = (params[0][c], params[1][c]);
        let x_hat = |b: usize, i: usize| (x[b][i] - mean) / sigma;
        let sum_dy: f64 = at.iter().map(|&(b, i)| dy[b][i]).sum();
        let sum_dy_xhat: f64 = at.iter().map(|&(b, i)| dy[b][i] * x_hat(b, i)).sum();
        for &(b, i) in &at {
            e.y[b * N + i] = gamma * (x_hat(b, i) * r + d) + beta;
            e.dx[b * N + i] =
                gamma * r / (sigma * m) * (m * dy[b][i] - sum_dy - x_hat(b, i) * sum_dy_xhat);
        }
        e.dgamma[c] = r * sum_dy_xhat + d * sum_dy;
        e.dbeta[c] = sum_dy;
        e.mean[c] = mean;
        e.inv_std[c] = 1.0 / sigma;
    }
    e
}

const TOL: f64 = 1e-12;

fn check_shape<const B: usize, const C: usize, const S: usize, const N: usize>(seed: u64) {
    let mut rng = Rng::new(seed);
    let x = random::<N, B>(&mut rng, 1.5, 0.7);
    let dy = random::<N, B>(&mut rng, 1.0, 0.2);
    let params = [
        random::<C, 1>(&mut rng, 0.5, 1.0)[0],
        random::<C, 1>(&mut rng, 0.5, 0.0)[0],
    ];
    let running = [
        random::<C, 1>(&mut rng, 0.5, 0.5)[0],
        random::<C, 1>(&mut rng, 0.3, 1.5)[0],
    ];
    let shape = format!("B={B} C={C} S={S}");
    let config = BatchNormConfig::PYTORCH;

    // BatchNorm, training.
    let expected = reference::<B, C, S, N>(&x, &params, &dy, |_, _, _| (1.0, 0.0));
    let (mut state, mut saved, mut y) = (running, BatchStats::zeroed(), [[0.0; N]; B]);
    batch_norm_train_forward::<f64, B, C, S, N>(
        &x, &params, &mut state, &mut saved, &mut y, config,
    );
    assert_close(&format!("{shape} y"), y.as_flattened(), &expected.y, TOL);
    assert_close(&format!("{shape} mean"), &saved.mean, &expected.mean, TOL);
    assert_close(
        &format!("{shape} inv_std"),
        &saved.inv_std,
        &expected.inv_std,
        TOL,
    );
    let m = (B * S) as f64;
    let unbiased = |c: usize| (1.0 / expected.inv_std[c].powi(2) - DEFAULT_EPS) * m / (m - 1.0);
    let running_mean: Vec<f64> = (0..C)
        .map(|c| 0.9 * running[0][c] + 0.1 * expected.mean[c])
        .collect();
    let running_var: Vec<f64> = (0..C)
        .map(|c| 0.9 * running[1][c] + 0.1 * unbiased(c))
        .collect();
    assert_close(
        &format!("{shape} running mean"),
        &state[0],
        &running_mean,
        TOL,
    );
    assert_close(
        &format!("{shape} running var"),
        &state[1],
        &running_var,
        TOL,
    );

    let previous = random::<N, B>(&mut rng, 1.0, 0.0);
    let previous_dp = [random::<C, 1>(&mut rng, 1.0, 0.0)[0]; 2];
    for store in [Store::Overwrite, Store::Accumulate] {
        let (mut dx, mut dparams) = (previous, previous_dp);
        batch_norm_train_backward::<f64, B, C, S, N>(
            &x,
            &params,
            &saved,
            &dy,
            &mut dx,
            store,
            &mut dparams,
            store,
        );
        let base = |prev: &[f64], new: &[f64]| -> Vec<f64> {
            match store {
                Store::Overwrite => new.to_vec(),
                Store::Accumulate => prev.iter().zip(new).map(|(p, n)| p + n).collect(),
            }
        };
        let what = format!("{shape} {store:?}");
        let want_dx = base(previous.as_flattened(), &expected.dx);
        assert_close(&format!("{what} dx"), dx.as_flattened(), &want_dx, TOL);
        let want_dgamma = base(&previous_dp[0], &expected.dgamma);
        assert_close(&format!("{what} dgamma"), &dparams[0], &want_dgamma, TOL);
        let want_dbeta = base(&previous_dp[1], &expected.dbeta);
        assert_close(&format!("{what} dbeta"), &dparams[1], &want_dbeta, TOL);
    }

    // BatchNorm, eval: an affine map per channel with the running statistics.
    batch_norm_eval_forward::<f64, B, C, S, N>(&x, &params, &running, &mut y, DEFAULT_EPS);
    let (mut dx, mut dparams) = ([[0.0; N]; B], [[0.0; C]; 2]);
    batch_norm_eval_backward::<f64, B, C, S, N>(
        &x,
        &params,
        &running,
        &dy,
        &mut dx,
        Store::Overwrite,
        &mut dparams,
        Store::Overwrite,
        DEFAULT_EPS,
    );
    for b in 0..B {
        for i in 0..N {
            let c = i / S;
            let inv_std = 1.0 / (running[1][c] + DEFAULT_EPS).sqrt();
            let x_hat = (x[b][i] - running[0][c]) * inv_std;
            let want_y = params[0][c] * x_hat + params[1][c];
            let want_dx = params[0][c] * inv_std * dy[b][i];
            assert!(
                (y[b][i] - want_y).abs() <= TOL * want_y.abs().max(1.0),
                "{shape} eval y"
            );
            assert!(
                (dx[b][i] - want_dx).abs() <= TOL * want_dx.abs().max(1.0),
                "{shape} eval dx"
            );
        }
    }
    for c in 0..C {
        let inv_std = 1.0 / (running[1][c] + DEFAULT_EPS).sqrt();
        let (mut want_dgamma, mut want_dbeta) = (0.0, 0.0);
        for b in 0..B {
            for i in c * S..(c + 1) * S {
                want_dgamma += dy[b][i] * (x[b][i] - running[0][c]) * inv_std;
                want_dbeta += dy[b][i];
            }
        }
        assert_close(
            &format!("{shape} eval dgamma"),
            &dparams[0][c..=c],
            &[want_dgamma],
            TOL,
        );
        assert_close(
            &format!("{shape} eval dbeta"),
            &dparams[1][c..=c],
            &[want_dbeta],
            TOL,
        );
    }

    // Batch Renorm with clipping active on some channels.
    let limits = RenormLimits::new(1.5, 0.5).unwrap();
    let expected = reference::<B, C, S, N>(&x, &params, &dy, |c, mean, sigma| {
        let sigma_running = (running[1][c] + DEFAULT_EPS).sqrt();
        let r = (sigma / sigma_running).clamp(1.0 / 1.5, 1.5);
        let d = ((mean - running[0][c]) / sigma_running).clamp(-0.5, 0.5);
        (r, d)
    });
    let (mut state, mut saved) = (running, RenormStats::zeroed());
    batch_renorm_train_forward::<f64, B, C, S, N>(
        &x, &params, &mut state, &mut saved, &mut y, config, limits,
    );
    assert_close(
        &format!("{shape} renorm y"),
        y.as_flattened(),
        &expected.y,
        TOL,
    );
    let (mut dx, mut dparams) = ([[0.0; N]; B], [[0.0; C]; 2]);
    batch_renorm_train_backward::<f64, B, C, S, N>(
        &x,
        &params,
        &saved,
        &dy,
        &mut dx,
        Store::Overwrite,
        &mut dparams,
        Store::Overwrite,
    );
    assert_close(
        &format!("{shape} renorm dx"),
        dx.as_flattened(),
        &expected.dx,
        TOL,
    );
    assert_close(
        &format!("{shape} renorm dgamma"),
        &dparams[0],
        &expected.dgamma,
        TOL,
    );
    assert_close(
        &format!("{shape} renorm dbeta"),
        &dparams[1],
        &expected.dbeta,
        TOL,
    );
}

#[test]
fn kernels_match_a_per_channel_reference_across_block_and_lane_boundaries() {
    // Channels per block: 4096 / (B * S), at most MAX_BLOCK = 64.
    check_shape::<2, 1, 1, 1>(1); // one value per channel and sample
    check_shape::<3, 70, 1, 70>(2); // blocks of 64 + 6 channels
    check_shape::<5, 130, 1, 130>(3); // 64 + 64 + 2
    check_shape::<65, 3, 1, 3>(4); // 63 channels per block: one partial block
    check_shape::<4, 67, 3, 201>(5); // S below the lane threshold, 64 + 3
    check_shape::<2, 5, 17, 85>(6); // two chunks of 8 lanes and a tail of 1
    check_shape::<3, 2, 40, 80>(7); // whole chunks, no tail
    check_shape::<9, 2, 500, 1000>(8); // B * S > 4096: one channel per block
}

/// Largest relative error of `1 / inv_std^2 - eps` (the variance) and largest absolute error
/// of `y` (with `gamma = 1`, `beta = 0`, so `y` is `x_hat`, of order 1) of an `f32` training
/// forward on `x`, against a two-pass `f64` reference on the same `f32` values.
fn offset_errors<const B: usize, const C: usize, const S: usize, const N: usize>(
    x: &[[f32; N]; B],
) -> (f64, f64) {
    let params = [[1.0f32; C], [0.0; C]];
    let (mut state, mut saved, mut y) = ([[0.0; C], [1.0; C]], BatchStats::zeroed(), [[0.0; N]; B]);
    batch_norm_train_forward::<f32, B, C, S, N>(
        x,
        &params,
        &mut state,
        &mut saved,
        &mut y,
        BatchNormConfig::PYTORCH,
    );
    let x64 = x.map(|row| row.map(f64::from));
    let expected = reference::<B, C, S, N>(&x64, &[[1.0; C], [0.0; C]], &x64, |_, _, _| (1.0, 0.0));
    let variance = |inv_std: f64| 1.0 / (inv_std * inv_std) - DEFAULT_EPS;
    let var_error = (0..C)
        .map(|c| {
            let want = variance(expected.inv_std[c]);
            (variance(f64::from(saved.inv_std[c])) - want).abs() / want
        })
        .fold(0.0, f64::max);
    let y_error = y
        .as_flattened()
        .iter()
        .zip(&expected.y)
        .map(|(&a, e)| (f64::from(a) - e).abs())
        .fold(0.0, f64::max);
    (var_error, y_error)
}

/// `E[x^2] - E[x]^2` of channel `c` in `f32` (the one-pass formula the kernels avoid).
fn one_pass_variance<const B: usize, const S: usize, const N: usize>(
    x: &[[f32; N]; B],
    c: usize,
) -> f64 {
    let values = x.iter().flat_map(|row| &row[c * S..(c + 1) * S]);
    let m = (B * S) as f32;
    let (sum, squares) = values.fold((0.0f32, 0.0f32), |(s, q), &v| (s + v, q + v * v));
    f64::from(squares / m - (sum / m) * (sum / m))
}

#[test]
fn large_offset_keeps_the_variance_accurate_in_f32() {
    // Values 1e4 + noise of standard deviation 1 (f32 resolves them to ~1e-3): a two-pass
    // variance loses only the rounding of the mean, E[x^2] - E[x]^2 loses everything (x^2 ~ 1e8
    // is resolved to ~8).
    let mut rng = Rng::new(11);
    let mut offset = |_| 1e4 + rng.normal::<f64>() as f32;
    let vectors: [[f32; 3]; 64] = core::array::from_fn(|_| core::array::from_fn(&mut offset));
    let maps: [[f32; 100]; 4] = core::array::from_fn(|_| core::array::from_fn(&mut offset));
    // The data is hard: the one-pass formula is off by more than the variance itself.
    let true_variance = |c| variance_of(vectors.iter().map(|row| row[c]));
    for c in 0..3 {
        let one_pass = one_pass_variance::<64, 1, 3>(&vectors, c);
        assert!((one_pass - true_variance(c)).abs() > 0.5 * true_variance(c));
    }
    // The batch mean rounds to ~1e-3 in f32 (a sum of ~6e5 resolved to 0.06), which shifts
    // x_hat by ~1e-3 and the variance by its square; nothing else is lost.
    for (var_error, y_error) in [
        offset_errors::<64, 3, 1, 3>(&vectors),
        offset_errors::<4, 2, 50, 100>(&maps),
    ] {
        assert!(
            var_error < 1e-5,
            "relative error of the variance {var_error:e}"
        );
        assert!(y_error < 1e-2, "error of y {y_error:e}");
    }
}

/// Biased variance in `f64` (two passes).
fn variance_of(values: impl Iterator<Item = f32> + Clone) -> f64 {
    let n = values.clone().count() as f64;
    let mean = values.clone().map(f64::from).sum::<f64>() / n;
    values.map(|v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n
}
