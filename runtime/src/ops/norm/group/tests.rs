//! LayerNorm / InstanceNorm / GroupNorm tests: PyTorch reference values, finite differences,
//! Store modes, degenerate groups.

use super::super::reference as pt;
use super::super::test_util::*;
use super::super::DEFAULT_EPS;
use super::*;
use crate::gradcheck::assert_gradient;
use crate::Rng;

fn layer_norm_reference<T: Scalar>() {
    let tol = tolerance::<T>();
    let params = [cast1::<T, 6>(&pt::LN_GAMMA), cast1(&pt::LN_BETA)];
    let x = cast::<T, 6, 3>(&pt::LN_X);
    let (mut saved, mut y) = (GroupStats::zeroed(), [[T::zero(); 6]; 3]);
    layer_norm_forward(&x, Some(&params), &mut saved, &mut y, DEFAULT_EPS);
    assert_close(
        "layer_norm y",
        y.as_flattened(),
        pt::LN_Y.as_flattened(),
        tol,
    );
    let (mut dx, mut dparams) = ([[T::zero(); 6]; 3], [[T::zero(); 6]; 2]);
    layer_norm_backward(
        &x,
        Some(&params),
        &saved,
        &cast(&pt::LN_DY),
        &mut dx,
        Store::Overwrite,
        Some(&mut dparams),
        Store::Overwrite,
    );
    assert_close(
        "layer_norm dx",
        dx.as_flattened(),
        pt::LN_DX.as_flattened(),
        tol,
    );
    assert_close("layer_norm dgamma", &dparams[0], &pt::LN_DGAMMA, tol);
    assert_close("layer_norm dbeta", &dparams[1], &pt::LN_DBETA, tol);
}

fn instance_norm_reference<T: Scalar>() {
    let tol = tolerance::<T>();
    // Default: no affine.
    let x = cast::<T, 12, 2>(&pt::IN_X);
    let (mut saved, mut y) = (GroupStats::zeroed(), [[T::zero(); 12]; 2]);
    instance_norm_forward::<T, 2, 3, 4, 12>(&x, None, &mut saved, &mut y, DEFAULT_EPS);
    assert_close(
        "instance_norm y",
        y.as_flattened(),
        pt::IN_Y.as_flattened(),
        tol,
    );
    let mut dx = [[T::zero(); 12]; 2];
    let dy = cast(&pt::IN_DY);
    instance_norm_backward::<T, 2, 3, 4, 12>(
        &x,
        None,
        &saved,
        &dy,
        &mut dx,
        Store::Overwrite,
        None,
        Store::Overwrite,
    );
    assert_close(
        "instance_norm dx",
        dx.as_flattened(),
        pt::IN_DX.as_flattened(),
        tol,
    );

    // affine=True.
    let params = [
        cast1::<T, 3>(&pt::IN_AFFINE_GAMMA),
        cast1(&pt::IN_AFFINE_BETA),
    ];
    let x = cast::<T, 12, 2>(&pt::IN_AFFINE_X);
    instance_norm_forward::<T, 2, 3, 4, 12>(&x, Some(&params), &mut saved, &mut y, DEFAULT_EPS);
    let expected_y = pt::IN_AFFINE_Y;
    assert_close(
        "instance_norm affine y",
        y.as_flattened(),
        expected_y.as_flattened(),
        tol,
    );
    let mut dparams = [[T::zero(); 3]; 2];
    instance_norm_backward::<T, 2, 3, 4, 12>(
        &x,
        Some(&params),
        &saved,
        &cast(&pt::IN_AFFINE_DY),
        &mut dx,
        Store::Overwrite,
        Some(&mut dparams),
        Store::Overwrite,
    );
    let expected_dx = pt::IN_AFFINE_DX;
    assert_close(
        "instance_norm affine dx",
        dx.as_flattened(),
        expected_dx.as_flattened(),
        tol,
    );
    assert_close(
        "instance_norm dgamma",
        &dparams[0],
        &pt::IN_AFFINE_DGAMMA,
        tol,
    );
    assert_close(
        "instance_norm dbeta",
        &dparams[1],
        &pt::IN_AFFINE_DBETA,
        tol,
    );
}

fn group_norm_reference<T: Scalar>() {
    let tol = tolerance::<T>();
    let params = [cast1::<T, 4>(&pt::GN_GAMMA), cast1(&pt::GN_BETA)];
    let x = cast::<T, 12, 2>(&pt::GN_X);
    let (mut saved, mut y) = (GroupStats::zeroed(), [[T::zero(); 12]; 2]);
    // The reference layer uses eps = 1e-3, which checks that eps reaches the kernel.
    group_norm_forward::<T, 2, 4, 3, 12, 2>(&x, Some(&params), &mut saved, &mut y, 1e-3);
    assert_close(
        "group_norm y",
        y.as_flattened(),
        pt::GN_Y.as_flattened(),
        tol,
    );
    let (mut dx, mut dparams) = ([[T::zero(); 12]; 2], [[T::zero(); 4]; 2]);
    group_norm_backward::<T, 2, 4, 3, 12, 2>(
        &x,
        Some(&params),
        &saved,
        &cast(&pt::GN_DY),
        &mut dx,
        Store::Overwrite,
        Some(&mut dparams),
        Store::Overwrite,
    );
    assert_close(
        "group_norm dx",
        dx.as_flattened(),
        pt::GN_DX.as_flattened(),
        tol,
    );
    assert_close("group_norm dgamma", &dparams[0], &pt::GN_DGAMMA, tol);
    assert_close("group_norm dbeta", &dparams[1], &pt::GN_DBETA, tol);
}

#[test]
fn matches_pytorch_layer_norm() {
    layer_norm_reference::<f64>();
    layer_norm_reference::<f32>();
}

#[test]
fn matches_pytorch_instance_norm_with_and_without_affine() {
    instance_norm_reference::<f64>();
    instance_norm_reference::<f32>();
}

#[test]
fn matches_pytorch_group_norm() {
    group_norm_reference::<f64>();
    group_norm_reference::<f32>();
}

const B: usize = 2;
const C: usize = 4;
const S: usize = 3;
const N: usize = C * S;
const G: usize = 2;

type Batch = [[f64; N]; B];

/// A layer under test; its backward reruns the forward for the saved statistics.
trait Layer<const P: usize> {
    const NAME: &'static str;
    fn forward(x: &Batch, params: Option<&[[f64; P]; 2]>, y: &mut Batch);
    fn backward(
        x: &Batch,
        params: Option<&[[f64; P]; 2]>,
        dy: &Batch,
        dx: &mut Batch,
        dx_store: Store,
        dparams: Option<&mut [[f64; P]; 2]>,
        dparams_store: Store,
    );
}

/// Expands to a [`Layer`] for one of the per-sample norms, given its forward and backward
/// with every const generic but `T` filled in.
macro_rules! layer {
    ($name:ident, $p:expr, $stats:ty, $forward:path, $backward:path) => {
        struct $name;
        impl Layer<{ $p }> for $name {
            const NAME: &'static str = stringify!($name);
            fn forward(x: &Batch, params: Option<&[[f64; $p]; 2]>, y: &mut Batch) {
                let mut saved = <$stats>::zeroed();
                $forward(x, params, &mut saved, y, DEFAULT_EPS);
            }
            fn backward(
                x: &Batch,
                params: Option<&[[f64; $p]; 2]>,
                dy: &Batch,
                dx: &mut Batch,
                dx_store: Store,
                dparams: Option<&mut [[f64; $p]; 2]>,
                dparams_store: Store,
            ) {
                let (mut saved, mut y) = (<$stats>::zeroed(), [[0.0; N]; B]);
                $forward(x, params, &mut saved, &mut y, DEFAULT_EPS);
                $backward(x, params, &saved, dy, dx, dx_store, dparams, dparams_store);
            }
        }
    };
}

layer!(LayerNorm, N, GroupStats<f64, B, 1>, layer_norm_forward::<f64, B, N>, layer_norm_backward::<f64, B, N>);
layer!(
    InstanceNorm,
    C,
    GroupStats<f64, B, C>,
    instance_norm_forward::<f64, B, C, S, N>,
    instance_norm_backward::<f64, B, C, S, N>
);
layer!(
    GroupNorm,
    C,
    GroupStats<f64, B, G>,
    group_norm_forward::<f64, B, C, S, N, G>,
    group_norm_backward::<f64, B, C, S, N, G>
);

fn loss<L: Layer<P>, const P: usize>(x: &Batch, params: Option<&[[f64; P]; 2]>, w: &Batch) -> f64 {
    let mut y = [[0.0; N]; B];
    L::forward(x, params, &mut y);
    weighted_sum(w, &y)
}

/// Finite differences for dx and (when affine) dgamma/dbeta, then the Accumulate paths.
fn check_layer<L: Layer<P>, const P: usize>(affine: bool, seed: u64) {
    let mut rng = Rng::new(seed);
    let x: Batch = random(&mut rng, 1.5, 0.4);
    let w: Batch = random(&mut rng, 1.0, 0.0);
    let params = [
        random::<P, 1>(&mut rng, 0.5, 1.0)[0],
        random::<P, 1>(&mut rng, 0.5, 0.0)[0],
    ];
    let params = affine.then_some(&params);
    let (mut dx, mut dparams) = ([[0.0; N]; B], [[0.0; P]; 2]);
    L::backward(
        &x,
        params,
        &w,
        &mut dx,
        Store::Overwrite,
        Some(&mut dparams),
        Store::Overwrite,
    );
    assert_gradient(
        L::NAME,
        |flat| loss::<L, P>(&unflatten(flat), params, &w),
        x.clone().as_flattened_mut(),
        dx.as_flattened(),
        GRAD_TOL,
    );
    // Without affine, dparams is the gradient at the identity affine (gamma = 1, beta = 0).
    let at = params.copied().unwrap_or([[1.0; P], [0.0; P]]);
    assert_gradient(
        L::NAME,
        |flat| loss::<L, P>(&x, Some(&unflatten(flat)), &w),
        at.clone().as_flattened_mut(),
        dparams.as_flattened(),
        GRAD_TOL,
    );

    let before_dx: Batch = random(&mut rng, 1.0, 0.0);
    let before_dp = [[0.5; P], [-0.25; P]];
    let (mut acc_dx, mut acc_dp) = (before_dx, before_dp);
    L::backward(
        &x,
        params,
        &w,
        &mut acc_dx,
        Store::Accumulate,
        Some(&mut acc_dp),
        Store::Accumulate,
    );
    let sums = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p + q).collect::<Vec<_>>();
    let expected_dx = sums(before_dx.as_flattened(), dx.as_flattened());
    assert_close("accumulated dx", acc_dx.as_flattened(), &expected_dx, 1e-14);
    let expected_dp = sums(before_dp.as_flattened(), dparams.as_flattened());
    assert_close(
        "accumulated dparams",
        acc_dp.as_flattened(),
        &expected_dp,
        1e-14,
    );
    // Overwrite ignores what was there, and None skips the parameter gradient.
    let mut over_dx = before_dx;
    L::backward(
        &x,
        params,
        &w,
        &mut over_dx,
        Store::Overwrite,
        None,
        Store::Overwrite,
    );
    assert_eq!(over_dx, dx);
}

#[test]
fn layer_norm_gradients_match_finite_differences() {
    check_layer::<LayerNorm, N>(true, 1);
    check_layer::<LayerNorm, N>(false, 2);
}

#[test]
fn instance_norm_gradients_match_finite_differences() {
    check_layer::<InstanceNorm, C>(false, 3);
    check_layer::<InstanceNorm, C>(true, 4);
}

#[test]
fn group_norm_gradients_match_finite_differences() {
    check_layer::<GroupNorm, C>(true, 5);
    check_layer::<GroupNorm, C>(false, 6);
}

#[test]
fn shared_kernel_agrees_across_layers() {
    // GroupNorm with G = 1 is LayerNorm with per-channel affine; with G = C it is InstanceNorm.
    let mut rng = Rng::new(7);
    let x: Batch = random(&mut rng, 2.0, 1.0);
    let (mut y_ln, mut y_gn) = ([[0.0; N]; B], [[0.0; N]; B]);
    layer_norm_forward(&x, None, &mut GroupStats::zeroed(), &mut y_ln, DEFAULT_EPS);
    group_norm_forward::<f64, B, C, S, N, 1>(
        &x,
        None,
        &mut GroupStats::zeroed(),
        &mut y_gn,
        DEFAULT_EPS,
    );
    assert_eq!(y_ln, y_gn);
    let (mut y_in, mut y_gc) = ([[0.0; N]; B], [[0.0; N]; B]);
    instance_norm_forward::<f64, B, C, S, N>(
        &x,
        None,
        &mut GroupStats::zeroed(),
        &mut y_in,
        DEFAULT_EPS,
    );
    group_norm_forward::<f64, B, C, S, N, C>(
        &x,
        None,
        &mut GroupStats::zeroed(),
        &mut y_gc,
        DEFAULT_EPS,
    );
    assert_eq!(y_in, y_gc);
}

#[test]
fn single_element_groups_and_single_samples_stay_finite() {
    // G = C with S = 1: each group is one element, normalized to 0, so y = beta; batch of one.
    let x = [[3.0f64, -1.0, 7.0]];
    let params = [[2.0, 3.0, 4.0], [0.5, -0.5, 1.5]];
    let (mut saved, mut y) = (GroupStats::zeroed(), [[0.0; 3]; 1]);
    group_norm_forward::<f64, 1, 3, 1, 3, 3>(&x, Some(&params), &mut saved, &mut y, DEFAULT_EPS);
    assert_eq!(y, [params[1]]);
    let (mut dx, mut dp) = ([[9.0; 3]; 1], [[9.0; 3]; 2]);
    group_norm_backward::<f64, 1, 3, 1, 3, 3>(
        &x,
        Some(&params),
        &saved,
        &[[1.0, 2.0, 3.0]],
        &mut dx,
        Store::Overwrite,
        Some(&mut dp),
        Store::Overwrite,
    );
    assert_eq!(dx, [[0.0; 3]]);
    assert_eq!(dp, [[0.0; 3], [1.0, 2.0, 3.0]]);
    // LayerNorm of one sample in f32, constant input: y = beta, finite.
    let (mut saved, mut y) = (GroupStats::zeroed(), [[0.0f32; 4]; 1]);
    let params = [[1.0f32; 4], [0.25; 4]];
    layer_norm_forward(
        &[[2.5f32; 4]],
        Some(&params),
        &mut saved,
        &mut y,
        DEFAULT_EPS,
    );
    assert_eq!(y, [[0.25; 4]]);
}

/// Per-sample normalization straight from the formulas, in `f64`: `G` groups per sample,
/// element `i` uses affine parameter `param_of(i)` (`gamma = 1`, `beta = 0` when `params` is
/// `None`). Returns `y`, `dx`, `dgamma`, `dbeta` (flattened) and each group's variance.
#[allow(clippy::type_complexity)]
fn group_reference<const B2: usize, const N2: usize, const P: usize>(
    x: &[[f64; N2]; B2],
    dy: &[[f64; N2]; B2],
    groups: usize,
    params: Option<&[[f64; P]; 2]>,
    param_of: impl Fn(usize) -> usize,
) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let len = N2 / groups;
    let l = len as f64;
    let (mut y, mut dx) = (vec![0.0; B2 * N2], vec![0.0; B2 * N2]);
    let (mut dgamma, mut dbeta, mut variances) = (vec![0.0; P], vec![0.0; P], vec![]);
    let affine = |i: usize| params.map_or((1.0, 0.0), |p| (p[0][param_of(i)], p[1][param_of(i)]));
    for b in 0..B2 {
        for g in 0..groups {
            let range = g * len..(g + 1) * len;
            let mean = range.clone().map(|i| x[b][i]).sum::<f64>() / l;
            let var = range.clone().map(|i| (x[b][i] - mean).powi(2)).sum::<f64>() / l;
            variances.push(var);
            let inv_std = 1.0 / (var + DEFAULT_EPS).sqrt();
            let x_hat = |i: usize| (x[b][i] - mean) * inv_std;
            let grad = |i: usize| dy[b][i] * affine(i).0;
            let sum_g: f64 = range.clone().map(grad).sum();
            let sum_g_xhat: f64 = range.clone().map(|i| grad(i) * x_hat(i)).sum();
            for i in range {
                y[b * N2 + i] = affine(i).0 * x_hat(i) + affine(i).1;
                dx[b * N2 + i] = inv_std / l * (l * grad(i) - sum_g - x_hat(i) * sum_g_xhat);
                dgamma[param_of(i)] += dy[b][i] * x_hat(i);
                dbeta[param_of(i)] += dy[b][i];
            }
        }
    }
    (y, dx, dgamma, dbeta, variances)
}

/// Runs one layer (forward, then backward with Overwrite and with Accumulate) and compares it
/// with [`group_reference`].
macro_rules! check_against_reference {
    ($what:expr, $b:expr, $n:expr, $p:expr, $groups:expr, $param_of:expr,
     $stats:ty, $forward:expr, $backward:expr, $seed:expr) => {{
        let mut rng = Rng::new($seed);
        let x = random::<{ $n }, { $b }>(&mut rng, 1.5, 0.4);
        let dy = random::<{ $n }, { $b }>(&mut rng, 1.0, 0.1);
        let block = [
            random::<{ $p }, 1>(&mut rng, 0.5, 1.0)[0],
            random::<{ $p }, 1>(&mut rng, 0.5, 0.0)[0],
        ];
        for params in [Some(&block), None] {
            let what = format!("{} affine {}", $what, params.is_some());
            let (y_ref, dx_ref, dgamma_ref, dbeta_ref, _) =
                group_reference::<{ $b }, { $n }, { $p }>(&x, &dy, $groups, params, $param_of);
            let (mut saved, mut y) = (<$stats>::zeroed(), [[0.0; $n]; $b]);
            $forward(&x, params, &mut saved, &mut y, DEFAULT_EPS);
            assert_close(&format!("{what} y"), y.as_flattened(), &y_ref, 1e-12);
            let before_dx = random::<{ $n }, { $b }>(&mut rng, 1.0, 0.0);
            let before_dp = [[0.5; $p], [-0.25; $p]];
            for store in [Store::Overwrite, Store::Accumulate] {
                let (mut dx, mut dparams) = (before_dx, before_dp);
                $backward(
                    &x,
                    params,
                    &saved,
                    &dy,
                    &mut dx,
                    store,
                    Some(&mut dparams),
                    store,
                );
                let add = |before: &[f64], new: &[f64]| -> Vec<f64> {
                    match store {
                        Store::Overwrite => new.to_vec(),
                        Store::Accumulate => before.iter().zip(new).map(|(a, b)| a + b).collect(),
                    }
                };
                let want_dx = add(before_dx.as_flattened(), &dx_ref);
                assert_close(
                    &format!("{what} {store:?} dx"),
                    dx.as_flattened(),
                    &want_dx,
                    1e-12,
                );
                let want_dgamma = add(&before_dp[0], &dgamma_ref);
                assert_close(
                    &format!("{what} {store:?} dgamma"),
                    &dparams[0],
                    &want_dgamma,
                    1e-12,
                );
                let want_dbeta = add(&before_dp[1], &dbeta_ref);
                assert_close(
                    &format!("{what} {store:?} dbeta"),
                    &dparams[1],
                    &want_dbeta,
                    1e-12,
                );
            }
        }
    }};
}

#[test]
fn long_groups_match_a_per_group_reference() {
    // Groups of 16 and more go through the lane sums (shorter ones are summed serially), with
    // and without tails; LayerNorm and GroupNorm with S = 1 take the per-element-affine path.
    check_against_reference!(
        "LayerNorm N=37", 3, 37, 37, 1, |i| i, GroupStats<f64, 3, 1>,
        layer_norm_forward::<f64, 3, 37>, layer_norm_backward::<f64, 3, 37>, 1
    );
    check_against_reference!(
        "GroupNorm C=48 S=1 G=2", 2, 48, 48, 2, |i| i, GroupStats<f64, 2, 2>,
        group_norm_forward::<f64, 2, 48, 1, 48, 2>, group_norm_backward::<f64, 2, 48, 1, 48, 2>, 2
    );
    check_against_reference!(
        "GroupNorm C=6 S=7 G=2", 2, 42, 6, 2, |i| i / 7, GroupStats<f64, 2, 2>,
        group_norm_forward::<f64, 2, 6, 7, 42, 2>, group_norm_backward::<f64, 2, 6, 7, 42, 2>, 3
    );
    check_against_reference!(
        "InstanceNorm C=3 S=40", 2, 120, 3, 3, |i| i / 40, GroupStats<f64, 2, 3>,
        instance_norm_forward::<f64, 2, 3, 40, 120>, instance_norm_backward::<f64, 2, 3, 40, 120>, 4
    );
}

#[test]
fn large_offset_keeps_layer_norm_accurate_in_f32() {
    // Values 1e4 + noise of standard deviation 1: two-pass statistics lose only the rounding of
    // the mean (see the BatchNorm test of the same name in `channels`); E[x^2] - E[x]^2 would
    // lose the variance entirely.
    fn errors<const N2: usize>(seed: u64) -> (f64, f64) {
        let mut rng = Rng::new(seed);
        let x: [[f32; N2]; 2] =
            core::array::from_fn(|_| core::array::from_fn(|_| 1e4 + rng.normal::<f64>() as f32));
        let (mut saved, mut y) = (GroupStats::<f32, 2, 1>::zeroed(), [[0.0f32; N2]; 2]);
        layer_norm_forward::<f32, 2, N2>(&x, None, &mut saved, &mut y, DEFAULT_EPS);
        let x64 = x.map(|row| row.map(f64::from));
        let (y_ref, _, _, _, variances) = group_reference::<2, N2, N2>(&x64, &x64, 1, None, |i| i);
        let var_error = (0..2)
            .map(|b| {
                let inv_std = f64::from(saved.inv_std[b][0]);
                let var = 1.0 / (inv_std * inv_std) - DEFAULT_EPS;
                (var - variances[b]).abs() / variances[b]
            })
            .fold(0.0, f64::max);
        let y_error = y
            .as_flattened()
            .iter()
            .zip(&y_ref)
            .map(|(&a, e)| (f64::from(a) - e).abs())
            .fold(0.0, f64::max);
        (var_error, y_error)
    }
    // 8 elements: serial sums; 256: lane sums.
    for (var_error, y_error) in [errors::<8>(1), errors::<256>(2)] {
        assert!(
            var_error < 1e-5,
            "relative error of the variance {var_error:e}"
        );
        assert!(y_error < 1e-2, "error of y {y_error:e}");
    }
}
