//! Tests of the activations and the softmax layer: PyTorch reference values (f64, and f32 against
//! the same values), finite-difference gradients, `Store::Accumulate`, extremes.

use super::*;
use crate::gradcheck::{assert_gradient, relative_error};
use reference::*;

/// The inputs and upstream gradient of reference/activation.py.
const X: [[f64; 4]; 3] = [
    [-3.7, -2.1, -1.3, -0.6],
    [-0.25, 0.1, 0.35, 0.8],
    [1.45, 2.2, 3.3, 4.05],
];
const W: [[f64; 4]; 3] = [
    [0.3, -1.2, 0.7, 2.1],
    [-0.4, 1.5, -0.9, 0.25],
    [1.1, -0.6, 0.45, -1.7],
];
const X_EXTREME: [[f64; 4]; 2] = [[-1e4, -800.0, -30.0, 0.0], [1e4, 800.0, 30.0, -0.0]];

/// Asserts `relative_error(a, b, floor) <= tol` element-wise, naming the first failure.
#[track_caller]
fn assert_close<const B: usize, const N: usize>(
    what: &str,
    got: &[[f64; N]; B],
    want: &[[f64; N]; B],
    tol: f64,
    floor: f64,
) {
    for (i, (&g, &w)) in got
        .as_flattened()
        .iter()
        .zip(want.as_flattened())
        .enumerate()
    {
        let err = relative_error(g, w, floor);
        assert!(
            err <= tol,
            "{what}[{i}]: got {g:e}, want {w:e}, error {err:e}"
        );
    }
}

fn to_f32<const B: usize, const N: usize>(x: &[[f64; N]; B]) -> [[f32; N]; B] {
    x.map(|row| row.map(|v| v as f32))
}

fn to_f64<const B: usize, const N: usize>(x: &[[f32; N]; B]) -> [[f64; N]; B] {
    x.map(|row| row.map(f64::from))
}

fn from_flat<const B: usize, const N: usize>(flat: &[f64]) -> [[f64; N]; B] {
    core::array::from_fn(|b| core::array::from_fn(|j| flat[b * N + j]))
}

/// Forward and backward against PyTorch (f64 at 1e-12, f32 at 1e-5), the finite-difference
/// gradient of `sum(W * f(x))`, and the `Accumulate` path.
#[allow(clippy::too_many_arguments)]
fn check_activation<A64: Activation<f64>, A32: Activation<f32>>(
    name: &str,
    act: &A64,
    act32: &A32,
    want_y: &[[f64; 4]; 3],
    want_dx: &[[f64; 4]; 3],
    want_extreme_y: &[[f64; 4]; 2],
    want_extreme_dx: &[[f64; 4]; 2],
) {
    let mut y = [[0.0; 4]; 3];
    let mut dx = [[0.0; 4]; 3];
    activation_forward(act, &X, &mut y);
    activation_backward(act, &X, &y, &W, &mut dx, Store::Overwrite);
    assert_close(name, &y, want_y, 1e-12, 1e-12);
    assert_close(name, &dx, want_dx, 1e-12, 1e-12);

    // Extremes: overflow-free, and the derivative at the kink x = 0 as in PyTorch.
    let mut y = [[0.0; 4]; 2];
    let mut dx = [[0.0; 4]; 2];
    activation_forward(act, &X_EXTREME, &mut y);
    activation_backward(
        act,
        &X_EXTREME,
        &y,
        &[[1.0; 4]; 2],
        &mut dx,
        Store::Overwrite,
    );
    assert_close(name, &y, want_extreme_y, 1e-12, 1e-12);
    // A derivative from `y` near 1 (`y (1 - y)`, `1 - y^2`) inherits the absolute error of `y`,
    // an ulp of 1 (1.1e-16): sigmoid(30) is 1 - 843 * 2^-53 here (correctly rounded) and
    // 1 - 842 * 2^-53 in PyTorch, which moves y (1 - y) ~ 9.4e-14 by 1e-3 relative. So tiny
    // derivatives are compared with an absolute 1e-15 (floor 1e-3).
    assert_close(name, &dx, want_extreme_dx, 1e-12, 1e-3);

    // f32: inputs rounded to f32 move the result by ~1e-7 relative; f32 erf/tanh/exp add a few ulps.
    let (x32, w32) = (to_f32(&X), to_f32(&W));
    let mut y32 = [[0.0f32; 4]; 3];
    let mut dx32 = [[0.0f32; 4]; 3];
    activation_forward(act32, &x32, &mut y32);
    activation_backward(act32, &x32, &y32, &w32, &mut dx32, Store::Overwrite);
    assert_close(name, &to_f64(&y32), want_y, 1e-5, 1e-2);
    assert_close(name, &to_f64(&dx32), want_dx, 1e-5, 1e-2);

    // Finite differences of L(x) = sum(W * f(x)), whose gradient is backward with dy = W.
    let loss = |flat: &[f64]| {
        let x: [[f64; 4]; 3] = from_flat(flat);
        let mut y = [[0.0; 4]; 3];
        activation_forward(act, &x, &mut y);
        y.as_flattened()
            .iter()
            .zip(W.as_flattened())
            .map(|(y, w)| y * w)
            .sum()
    };
    let mut y = [[0.0; 4]; 3];
    activation_forward(act, &X, &mut y);
    let mut analytic = [[0.0; 4]; 3];
    activation_backward(act, &X, &y, &W, &mut analytic, Store::Overwrite);
    let mut x = X;
    assert_gradient(
        name,
        loss,
        x.as_flattened_mut(),
        analytic.as_flattened(),
        1e-6,
    );

    // Accumulate adds to what is there.
    let previous = [[0.5, -1.0, 2.0, 0.25]; 3];
    let mut accumulated = previous;
    activation_backward(act, &X, &y, &W, &mut accumulated, Store::Accumulate);
    for ((a, p), g) in accumulated
        .as_flattened()
        .iter()
        .zip(previous.as_flattened())
        .zip(analytic.as_flattened())
    {
        assert_eq!(*a, p + g, "{name}: Accumulate");
    }
}

#[test]
fn relu() {
    check_activation(
        "relu",
        &Relu,
        &Relu,
        &RELU_Y,
        &RELU_DX,
        &RELU_EXTREME_Y,
        &RELU_EXTREME_DX,
    );
}

#[test]
fn leaky_relu_default_and_custom_slope() {
    assert_eq!(LeakyRelu::<f64>::default().negative_slope, 0.01);
    assert_eq!(LeakyRelu::<f32>::default().negative_slope, 0.01f32);
    check_activation(
        "leaky_relu",
        &LeakyRelu::<f64>::default(),
        &LeakyRelu::<f32>::default(),
        &LEAKY_RELU_Y,
        &LEAKY_RELU_DX,
        &LEAKY_RELU_EXTREME_Y,
        &LEAKY_RELU_EXTREME_DX,
    );
    const STEEP: LeakyRelu<f64> = LeakyRelu::new(0.2);
    check_activation(
        "leaky_relu(0.2)",
        &STEEP,
        &LeakyRelu::new(0.2f32),
        &LEAKY_RELU_0_2_Y,
        &LEAKY_RELU_0_2_DX,
        &LEAKY_RELU_0_2_EXTREME_Y,
        &LEAKY_RELU_0_2_EXTREME_DX,
    );
}

#[test]
fn tanh() {
    check_activation(
        "tanh",
        &Tanh,
        &Tanh,
        &TANH_Y,
        &TANH_DX,
        &TANH_EXTREME_Y,
        &TANH_EXTREME_DX,
    );
}

#[test]
fn sigmoid() {
    check_activation(
        "sigmoid",
        &Sigmoid,
        &Sigmoid,
        &SIGMOID_Y,
        &SIGMOID_DX,
        &SIGMOID_EXTREME_Y,
        &SIGMOID_EXTREME_DX,
    );
}

#[test]
fn gelu_exact() {
    check_activation(
        "gelu",
        &Gelu,
        &Gelu,
        &GELU_Y,
        &GELU_DX,
        &GELU_EXTREME_Y,
        &GELU_EXTREME_DX,
    );
}

#[test]
fn gelu_tanh_approximation() {
    check_activation(
        "gelu_tanh",
        &GeluTanh,
        &GeluTanh,
        &GELU_TANH_Y,
        &GELU_TANH_DX,
        &GELU_TANH_EXTREME_Y,
        &GELU_TANH_EXTREME_DX,
    );
}

#[test]
fn identity() {
    check_activation(
        "identity",
        &Identity,
        &Identity,
        &IDENTITY_Y,
        &IDENTITY_DX,
        &IDENTITY_EXTREME_Y,
        &IDENTITY_EXTREME_DX,
    );
}

/// Every activation stays finite, forward and backward, at ±1e4 and beyond f32's `exp` overflow
/// (x = ±100).
#[test]
fn f32_extremes_are_finite() {
    fn finite<A: Activation<f32>>(name: &str, act: &A) {
        let x = [[-1e4f32, -100.0, 100.0, 1e4]];
        let mut y = [[0.0f32; 4]];
        let mut dx = [[0.0f32; 4]];
        activation_forward(act, &x, &mut y);
        activation_backward(act, &x, &y, &[[1.0; 4]], &mut dx, Store::Overwrite);
        for v in y[0].iter().chain(&dx[0]) {
            assert!(v.is_finite(), "{name}: {y:?} {dx:?}");
        }
    }
    finite("relu", &Relu);
    finite("leaky_relu", &LeakyRelu::default());
    finite("tanh", &Tanh);
    finite("sigmoid", &Sigmoid);
    finite("gelu", &Gelu);
    finite("gelu_tanh", &GeluTanh);
    finite("identity", &Identity);
    let mut y = [[0.0f32; 2]];
    activation_forward(&Sigmoid, &[[-1e4f32, 1e4]], &mut y);
    assert_eq!(y, [[0.0, 1.0]]);
}

#[test]
fn nan_propagates_through_forward() {
    let x = [[f64::NAN; 1]];
    let mut y = [[0.0; 1]];
    activation_forward(&Relu, &x, &mut y);
    assert!(y[0][0].is_nan(), "relu(NaN) is NaN as in PyTorch");
    let mut dx = [[0.0; 1]];
    activation_backward(&Relu, &x, &y, &[[2.0]], &mut dx, Store::Overwrite);
    assert_eq!(dx, [[2.0]], "PyTorch passes the gradient through at NaN");
    activation_forward(&Sigmoid, &x, &mut y);
    assert!(y[0][0].is_nan());
}

#[test]
fn softmax_reference_and_gradient() {
    let mut y = [[0.0; 4]; 3];
    let mut dx = [[0.0; 4]; 3];
    softmax_forward(&X, &mut y);
    softmax_backward(&y, &W, &mut dx, Store::Overwrite);
    assert_close("softmax", &y, &SOFTMAX_Y, 1e-12, 1e-12);
    assert_close("softmax", &dx, &SOFTMAX_DX, 1e-12, 1e-12);
    for row in &y {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-15);
    }

    let mut y32 = [[0.0f32; 4]; 3];
    let mut dx32 = [[0.0f32; 4]; 3];
    softmax_forward(&to_f32(&X), &mut y32);
    softmax_backward(&y32, &to_f32(&W), &mut dx32, Store::Overwrite);
    assert_close("softmax f32", &to_f64(&y32), &SOFTMAX_Y, 1e-5, 1e-2);
    assert_close("softmax f32", &to_f64(&dx32), &SOFTMAX_DX, 1e-5, 1e-2);

    let loss = |flat: &[f64]| {
        let x: [[f64; 4]; 3] = from_flat(flat);
        let mut y = [[0.0; 4]; 3];
        softmax_forward(&x, &mut y);
        y.as_flattened()
            .iter()
            .zip(W.as_flattened())
            .map(|(y, w)| y * w)
            .sum()
    };
    let mut x = X;
    assert_gradient(
        "softmax",
        loss,
        x.as_flattened_mut(),
        dx.as_flattened(),
        1e-6,
    );

    let previous = [[1.0, -2.0, 0.5, 3.0]; 3];
    let mut accumulated = previous;
    softmax_backward(&y, &W, &mut accumulated, Store::Accumulate);
    for ((a, p), g) in accumulated
        .as_flattened()
        .iter()
        .zip(previous.as_flattened())
        .zip(dx.as_flattened())
    {
        assert_eq!(*a, p + g, "softmax: Accumulate");
    }
}

#[test]
fn softmax_of_large_logits_is_finite() {
    let x = [[1e4, 0.0, -1e4, 5.0]];
    let mut y = [[0.0; 4]];
    let mut dx = [[0.0; 4]];
    softmax_forward(&x, &mut y);
    softmax_backward(&y, &[[0.5, -1.0, 2.0, 0.25]], &mut dx, Store::Overwrite);
    assert_close("softmax large", &y, &SOFTMAX_LARGE_Y, 1e-12, 1e-12);
    assert_close("softmax large", &dx, &SOFTMAX_LARGE_DX, 1e-12, 1e-12);

    let mut y32 = [[0.0f32; 4]];
    softmax_forward(&to_f32(&x), &mut y32);
    assert_eq!(y32, [[1.0, 0.0, 0.0, 0.0]]);

    let mut y = [[0.0; 3]];
    softmax_forward(&[[1.0, f64::NAN, 2.0]], &mut y);
    assert!(y[0].iter().all(|v| v.is_nan()), "NaN poisons its row");
}

/// Generated by reference/activation.py (PyTorch, float64); do not edit by hand.
#[rustfmt::skip]
mod reference {
    pub const RELU_Y: [[f64; 4]; 3] = [[0.0, 0.0, 0.0, 0.0], [0.0, 0.1, 0.35, 0.8], [1.45, 2.2, 3.3, 4.05]];
    pub const RELU_DX: [[f64; 4]; 3] = [[0.0, 0.0, 0.0, 0.0], [0.0, 1.5, -0.9, 0.25], [1.1, -0.6, 0.45, -1.7]];
    pub const RELU_EXTREME_Y: [[f64; 4]; 2] = [[0.0, 0.0, 0.0, 0.0], [10000.0, 800.0, 30.0, -0.0]];
    pub const RELU_EXTREME_DX: [[f64; 4]; 2] = [[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0]];
    pub const LEAKY_RELU_Y: [[f64; 4]; 3] = [[-0.037000000000000005, -0.021, -0.013000000000000001, -0.006], [-0.0025, 0.1, 0.35, 0.8], [1.45, 2.2, 3.3, 4.05]];
    pub const LEAKY_RELU_DX: [[f64; 4]; 3] = [[0.003, -0.012, 0.006999999999999999, 0.021], [-0.004, 1.5, -0.9, 0.25], [1.1, -0.6, 0.45, -1.7]];
    pub const LEAKY_RELU_EXTREME_Y: [[f64; 4]; 2] = [[-100.0, -8.0, -0.3, 0.0], [10000.0, 800.0, 30.0, -0.0]];
    pub const LEAKY_RELU_EXTREME_DX: [[f64; 4]; 2] = [[0.01, 0.01, 0.01, 0.01], [1.0, 1.0, 1.0, 0.01]];
    pub const LEAKY_RELU_0_2_Y: [[f64; 4]; 3] = [[-0.7400000000000001, -0.42000000000000004, -0.26, -0.12], [-0.05, 0.1, 0.35, 0.8], [1.45, 2.2, 3.3, 4.05]];
    pub const LEAKY_RELU_0_2_DX: [[f64; 4]; 3] = [[0.06, -0.24, 0.13999999999999999, 0.42000000000000004], [-0.08000000000000002, 1.5, -0.9, 0.25], [1.1, -0.6, 0.45, -1.7]];
    pub const LEAKY_RELU_0_2_EXTREME_Y: [[f64; 4]; 2] = [[-2000.0, -160.0, -6.0, 0.0], [10000.0, 800.0, 30.0, -0.0]];
    pub const LEAKY_RELU_0_2_EXTREME_DX: [[f64; 4]; 2] = [[0.2, 0.2, 0.2, 0.2], [1.0, 1.0, 1.0, 0.2]];
    pub const TANH_Y: [[f64; 4]; 3] = [[-0.9987782412811312, -0.9704519366134539, -0.8617231593133063, -0.5370495669980353], [-0.24491866240370913, 0.09966799462495582, 0.3363755443363322, 0.664036770267849], [0.8956928738431645, 0.9757431300314515, 0.9972829600991421, 0.9993931059399421]];
    pub const TANH_DX: [[f64; 4]; 3] = [[0.0007326074230111161, -0.06986764646783632, 0.18020323769216584, 1.494313301433168], [-0.37600593952255124, 1.4850994362711596, -0.7981663438551926, 0.139763791933061], [0.21750770332123023, -0.028755206517855528, 0.002442013873151844, -0.002062813659516538]];
    pub const TANH_EXTREME_Y: [[f64; 4]; 2] = [[-1.0, -1.0, -1.0, 0.0], [1.0, 1.0, 1.0, -0.0]];
    pub const TANH_EXTREME_DX: [[f64; 4]; 2] = [[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0]];
    pub const SIGMOID_Y: [[f64; 4]; 3] = [[0.024127021417669196, 0.10909682119561293, 0.2141650169574414, 0.35434369377420455], [0.43782349911420193, 0.52497918747894, 0.5866175789173301, 0.6899744811276125], [0.8099984339846871, 0.9002495108803148, 0.9644288107273639, 0.9828759666842724]];
    pub const SIGMOID_DX: [[f64; 4]; 3] = [[0.0070634724765541584, -0.11663364576075046, 0.11780885372834214, 0.48044690495898035], [-0.09845363309503935, 0.374064060289338, -0.21824765552025008, 0.0534774241300736], [0.16929106801974578, -0.05388019742404126, 0.015437645894864897, -0.02861236135784015]];
    pub const SIGMOID_EXTREME_Y: [[f64; 4]; 2] = [[0.0, 0.0, 9.357622968839299e-14, 0.5], [1.0, 1.0, 0.9999999999999065, 0.5]];
    pub const SIGMOID_EXTREME_DX: [[f64; 4]; 2] = [[0.0, 0.0, 9.357622968838423e-14, 0.25], [0.0, 0.0, 9.348077867342945e-14, 0.25]];
    pub const GELU_Y: [[f64; 4]; 3] = [[-0.000398859013866415, -0.037515283181914785, -0.1258406299612934, -0.16455187065004412], [-0.10032341857926907, 0.053982783727702904, 0.22289072791146666, 0.6305156811332827], [1.3433825735660099, 2.1694124154703034, 3.2984047003301336, 4.04989628429328]];
    pub const GELU_DX: [[f64; 4]; 3] = [[-0.00043916618026811126, 0.08940135719529664, -0.08818507955357748, 0.1560685476314869], [-0.1218506580465456, 0.8692846380370953, -0.6913482953368927, 0.2549744609064474], [1.2415095679097363, -0.6384843940489263, 0.45234047401042204, -1.700709918401077]];
    pub const GELU_EXTREME_Y: [[f64; 4]; 2] = [[-0.0, -0.0, -0.0, 0.0], [10000.0, 800.0, 30.0, -0.0]];
    pub const GELU_EXTREME_DX: [[f64; 4]; 2] = [[0.0, 0.0, -4.420938404635643e-195, 0.5], [1.0, 1.0, 1.0, 0.5]];
    pub const GELU_TANH_Y: [[f64; 4]; 3] = [[-0.0002718060213921236, -0.037330995038887836, -0.1260709876826906, -0.16458480076918525], [-0.100324649298315, 0.053982751045435165, 0.22288619605225668, 0.6304316914364482], [1.3431551866677907, 2.1696785270380117, 3.2986887718816638, 4.049944784732579]];
    pub const GELU_TANH_DX: [[f64; 4]; 3] = [[-0.0003470181707364632, 0.09042106704911891, -0.0881146488488117, 0.1564677800017856], [-0.12185836193957583, 0.8692826839076351, -0.69130370957171, 0.25489593276432576], [1.2416738729325019, -0.638951369547331, 0.4521373715239751, -1.7004561864779308]];
    pub const GELU_TANH_EXTREME_Y: [[f64; 4]; 2] = [[-0.0, -0.0, -0.0, 0.0], [10000.0, 800.0, 30.0, -0.0]];
    pub const GELU_TANH_EXTREME_DX: [[f64; 4]; 2] = [[0.0, 0.0, 0.0, 0.5], [1.0, 1.0, 1.0, 0.5]];
    pub const IDENTITY_Y: [[f64; 4]; 3] = [[-3.7, -2.1, -1.3, -0.6], [-0.25, 0.1, 0.35, 0.8], [1.45, 2.2, 3.3, 4.05]];
    pub const IDENTITY_DX: [[f64; 4]; 3] = [[0.3, -1.2, 0.7, 2.1], [-0.4, 1.5, -0.9, 0.25], [1.1, -0.6, 0.45, -1.7]];
    pub const IDENTITY_EXTREME_Y: [[f64; 4]; 2] = [[-10000.0, -800.0, -30.0, 0.0], [10000.0, 800.0, 30.0, -0.0]];
    pub const IDENTITY_EXTREME_DX: [[f64; 4]; 2] = [[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]];
    pub const SOFTMAX_Y: [[f64; 4]; 3] = [[0.02552703102740338, 0.1264362123772691, 0.28138896548917824, 0.5666477911061493], [0.14086813575350013, 0.19990140007862162, 0.25667847853241504, 0.40255198563546324], [0.04359091956526549, 0.09228197744382881, 0.2772303812593415, 0.5868967217315642]];
    pub const SOFTMAX_DX: [[f64; 4]; 3] = [[-0.02406860260792888, -0.30886688769285625, -0.1527568655870992, 0.48569235588788434], [-0.07228397803558732, 0.2772368126358513, -0.2600492346118658, 0.055096400011601813], [0.08632701816050453, 0.025874937225401764, 0.3688245076066073, -0.4810264629925136]];
    pub const SOFTMAX_LARGE_Y: [[f64; 4]; 1] = [[1.0, 0.0, 0.0, 0.0]];
    pub const SOFTMAX_LARGE_DX: [[f64; 4]; 1] = [[0.0, -0.0, 0.0, -0.0]];
}
