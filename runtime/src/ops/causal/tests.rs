//! Tests of the causal convolution: PyTorch reference values (reference/causal.py) for the
//! whole-sequence form (symmetric convolution + crop) and its gradients, finite differences of
//! the crop, and the streaming step against the whole sequence.

extern crate std;

use std::vec::Vec;

use super::*;
use crate::gradcheck::assert_gradient;
use crate::ops::conv::{
    conv2d_backward_input, conv2d_backward_params, conv2d_forward, Conv2d, Conv2dGeometry,
};
use crate::Store;

fn value(seed: usize, i: usize) -> f64 {
    ((i * 7919 + seed * 104729) % 1009) as f64 / 504.5 - 1.0
}

fn filled<const N: usize>(seed: usize, offset: usize) -> [f64; N] {
    core::array::from_fn(|i| value(seed, offset + i))
}

fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "{what}[{i}]: {g} vs PyTorch {w}");
    }
}

// plain: B 2, C_IN 2, C_OUT 3, K 3, D 2, G 1, L 7: padding D (K - 1) = 4 on both sides.
const L: usize = 7;
const PAD: usize = 4;
const FULL_L: usize = L + PAD;
type Plain = Conv2d<2, 1, L, 3, 1, 3, 1, 1, 0, PAD, 1, 2, 1, true>;
const WS: usize = <Plain as Conv2dGeometry>::WORKSPACE_LEN;

/// `[weight | bias]` of reference/causal.py (seeds 2 and 3).
fn plain_params() -> [f64; 21] {
    let weight: [f64; 18] = filled(2, 0);
    let bias: [f64; 3] = filled(3, 0);
    core::array::from_fn(|i| if i < 18 { weight[i] } else { bias[i - 18] })
}

fn plain_forward(x: &[[f64; 14]; 2], params: &[f64; 21]) -> [[f64; 21]; 2] {
    let mut full = [[0.0; 3 * FULL_L]; 2];
    let mut ws = [0.0; WS];
    conv2d_forward::<f64, Plain, 2, 14, { 3 * FULL_L }, 21, WS>(x, params, &mut full, &mut ws);
    let mut y = [[0.0; 21]; 2];
    causal_crop::<f64, 2, 3, FULL_L, L, { 3 * FULL_L }, 21>(&full, &mut y);
    y
}

#[test]
fn whole_sequence_matches_pytorch_and_its_gradients() {
    let x = [filled::<14>(1, 0), filled::<14>(1, 14)];
    let params = plain_params();
    let y = plain_forward(&x, &params);
    assert_close("y", y.as_flattened(), &reference::plain::Y, 1e-12);

    let dy = [filled::<21>(4, 0), filled::<21>(4, 21)];
    let mut dfull = [[7.0; 3 * FULL_L]; 2];
    causal_crop_backward::<f64, 2, 3, FULL_L, L, { 3 * FULL_L }, 21>(&dy, &mut dfull);
    let mut ws = [0.0; WS];
    let mut dparams = [0.0; 21];
    conv2d_backward_params::<f64, Plain, 2, 14, { 3 * FULL_L }, 21, WS>(
        &x,
        &dfull,
        &mut dparams,
        &mut ws,
        Store::Overwrite,
    );
    let mut dx = [[0.0; 14]; 2];
    conv2d_backward_input::<f64, Plain, 2, 14, { 3 * FULL_L }, 21, WS>(
        &dfull,
        &params,
        &mut dx,
        &mut ws,
        Store::Overwrite,
    );
    assert_close("dw", &dparams[..18], &reference::plain::DW, 1e-12);
    assert_close("db", &dparams[18..], &reference::plain::DB, 1e-12);
    assert_close("dx", dx.as_flattened(), &reference::plain::DX, 1e-12);
}

#[test]
fn crop_gradient_matches_finite_differences() {
    let dy = [filled::<21>(5, 0), filled::<21>(5, 21)];
    let mut dfull = [[0.0; 3 * FULL_L]; 2];
    causal_crop_backward::<f64, 2, 3, FULL_L, L, { 3 * FULL_L }, 21>(&dy, &mut dfull);
    let mut full: Vec<f64> = (0..2 * 3 * FULL_L).map(|i| value(6, i)).collect();
    let loss = |full: &[f64]| {
        let mut input = [[0.0; 3 * FULL_L]; 2];
        input.as_flattened_mut().copy_from_slice(full);
        let mut y = [[0.0; 21]; 2];
        causal_crop::<f64, 2, 3, FULL_L, L, { 3 * FULL_L }, 21>(&input, &mut y);
        y.as_flattened()
            .iter()
            .zip(dy.as_flattened())
            .map(|(a, b)| a * b)
            .sum()
    };
    assert_gradient("causal_crop", loss, &mut full, dfull.as_flattened(), 1e-7);
}

/// Steps `x: [B][C_IN][L]` through a streaming layer, one sample after the other, into
/// `[B][C_OUT][L]`.
fn stream<
    const C_IN: usize,
    const C_OUT: usize,
    const K: usize,
    const D: usize,
    const G: usize,
    const HIST: usize,
    const P: usize,
>(
    x: &[f64],
    batch: usize,
    len: usize,
    params: &[f64; P],
) -> Vec<f64> {
    let mut y = std::vec![0.0; batch * C_OUT * len];
    let mut history = CausalHistory::<f64, C_IN, HIST>::new();
    for b in 0..batch {
        history.reset();
        for t in 0..len {
            let x_t: [f64; C_IN] = core::array::from_fn(|c| x[(b * C_IN + c) * len + t]);
            let mut y_t = [0.0; C_OUT];
            causal_conv1d_step::<f64, C_IN, C_OUT, K, D, G, true, HIST, P>(
                params,
                &mut history,
                &x_t,
                &mut y_t,
            );
            for (o, v) in y_t.iter().enumerate() {
                y[(b * C_OUT + o) * len + t] = *v;
            }
        }
    }
    y
}

#[test]
fn streaming_steps_match_pytorch() {
    let x: [f64; 28] = filled(1, 0);
    let y = stream::<2, 3, 3, 2, 1, 4, 21>(&x, 2, L, &plain_params());
    assert_close("plain stream", &y, &reference::plain::Y, 1e-12);

    // grouped: B 1, C_IN 4, C_OUT 2, K 2, D 3, G 2, L 6.
    let x: [f64; 24] = filled(1, 0);
    let weight: [f64; 8] = filled(2, 0);
    let bias: [f64; 2] = filled(3, 0);
    let params: [f64; 10] = core::array::from_fn(|i| if i < 8 { weight[i] } else { bias[i - 8] });
    let y = stream::<4, 2, 2, 3, 2, 3, 10>(&x, 1, 6, &params);
    assert_close("grouped stream", &y, &reference::grouped::Y, 1e-12);
}

#[test]
fn a_kernel_of_one_keeps_no_history() {
    let params = [2.0f32, 0.5];
    let mut history = CausalHistory::<f32, 1, 0>::new();
    let mut y = [0.0f32];
    for x in [1.0f32, -3.0] {
        causal_conv1d_step::<f32, 1, 1, 1, 4, 1, true, 0, 2>(&params, &mut history, &[x], &mut y);
        assert_eq!(y[0], 2.0 * x + 0.5);
    }
}

#[test]
fn reset_forgets_the_history() {
    let params = plain_params();
    let mut history = CausalHistory::<f64, 2, 4>::new();
    let mut first = [0.0; 3];
    causal_conv1d_step::<f64, 2, 3, 3, 2, 1, true, 4, 21>(
        &params,
        &mut history,
        &[0.5, -0.25],
        &mut first,
    );
    let mut y = [0.0; 3];
    for _ in 0..5 {
        causal_conv1d_step::<f64, 2, 3, 3, 2, 1, true, 4, 21>(
            &params,
            &mut history,
            &[0.9, 0.1],
            &mut y,
        );
    }
    history.reset();
    causal_conv1d_step::<f64, 2, 3, 3, 2, 1, true, 4, 21>(
        &params,
        &mut history,
        &[0.5, -0.25],
        &mut y,
    );
    assert_eq!(y, first);
}

#[rustfmt::skip]
mod reference {
    pub mod plain {
        pub const Y: [f64; 42] = [-0.17330939286756164, -0.24484397606870173, 0.061636549547629205, -0.2653786879432972, -0.8275736409971308, 0.33859093726334166, -0.6756210949816368, -0.28601358830977114, -0.4669540046420668, -1.0129105640906764, -0.9521963380123979, -0.9360954580234774, 0.8691459716859464, 0.4940107908899194, -1.3323154051593142, -1.0161205247912495, -0.8743754180659495, -0.4259317284184659, 0.16846498461320847, -1.3872167342284163, -1.1232750635754911, -0.23128513350116534, -0.30281971670230556, -0.20339540763455943, -0.5304106451254861, -0.9571664730016571, -0.6453130939483201, -0.8052139269861631, -0.43265810873594523, -0.6135985250682411, -0.9637042632167776, -0.9029900371384989, -0.8401188117644864, 0.4715646397487038, 0.5899874371489108, -1.0760528877368305, -0.7598580073687654, -0.5109308591359628, -0.06248716948847888, 0.49001110913571705, -1.1984753668912393, -0.8017289390529829];
        pub const DX: [f64; 28] = [0.5639639675035678, -0.21658885687877494, -1.2250901450866873, -0.37760060348832747, -0.20447488952254284, 0.16331215296228882, 0.38783456326166577, -0.43660474952385936, -0.19275578269312565, 1.6427681098065872, 0.7328513153668521, 0.7418682796359033, 0.05273745409255254, -0.10806507537219534, -1.1041567419488234, -1.2583468309496002, -0.33225941747267673, -0.1671340492554128, 0.4797280373565561, 0.4362609654831, 0.527978618597145, 1.243192830432942, 1.7526513116343396, 1.5227639058188887, 0.7438131150664828, -0.5930569375128305, -0.1427479738841999, -2.255978650028829];
        pub const DW: [f64; 18] = [0.1683343466777201, 2.120017955349329, -1.5590900920457211, 0.42045573976923245, 2.167519087381063, -1.8379578835082864, 0.04775454998177934, 2.291752817310214, -0.9613989456634586, 0.39049348725690775, 2.490283189647975, -1.5204016183388154, -0.5980977937904743, 0.7251328725317532, 0.11201073391999272, -0.4105292211523444, 0.8289045763549265, -0.7271268199681554];
        pub const DB: [f64; 3] = [-0.2953419226957381, -0.01585728444003942, 0.26362735381565905];
    }
    pub mod grouped {
        pub const Y: [f64; 12] = [-0.8664546337668614, -0.6073671937694544, -0.34827975377204756, -0.31234941031214597, 0.021879398594021604, 0.3561082075001892, 0.0468833029984845, -0.05834408067727426, -0.27655461598831527, 0.11095679027503699, 0.2101139300311075, -0.4102532116796207];
    }
}
