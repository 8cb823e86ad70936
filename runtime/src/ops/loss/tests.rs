//! Tests of the losses: PyTorch reference values (f64 at 1e-12, f32 against PyTorch's own f32 at
//! 1e-6), finite differences of the loss-only variant against the fused gradient,
//! `Store::Accumulate`, large logits, and every error.

use super::*;
use crate::gradcheck::{assert_gradient, relative_error};
use reference::*;
extern crate std;
use std::string::ToString;

const LOGITS: [[f64; 5]; 4] = [
    [1.2, -0.7, 0.3, 2.5, -1.9],
    [0.05, 0.8, -2.2, 1.1, 0.4],
    [-0.3, -1.4, 2.9, 0.6, 1.7],
    [3.1, 0.2, -0.5, -2.6, 0.9],
];
const LABELS: [usize; 4] = [2, 0, 4, 1];
const LARGE: [[f64; 3]; 3] = [[1e4, 0.0, -1e4]; 3];
const LARGE_LABELS: [usize; 3] = [0, 1, 2];

const Z: [[f64; 4]; 3] = [
    [-2.3, -0.4, 0.7, 1.9],
    [0.15, -1.1, 3.2, -0.8],
    [2.6, -3.4, 0.45, 1.3],
];
const TARGETS01: [[f64; 4]; 3] = [
    [0.0, 1.0, 0.3, 1.0],
    [0.5, 0.0, 0.9, 0.25],
    [1.0, 0.0, 0.7, 0.0],
];
const Z_SIGNED: [[f64; 2]; 4] = [[0.8, -1.6], [2.1, 0.35], [-0.45, -2.7], [1.3, -0.2]];
const Y_SIGNED: [[f64; 2]; 4] = [[1.0, -1.0], [-1.0, 1.0], [-1.0, 1.0], [1.0, 1.0]];

const PRED: [[f64; 4]; 3] = [
    [0.3, -1.2, 2.5, 0.8],
    [1.7, -0.45, 0.0, -2.1],
    [0.9, 1.35, -0.6, 3.3],
];
const TARGET: [[f64; 4]; 3] = [
    [0.1, -0.9, 2.0, 1.5],
    [1.2, 0.3, -0.25, -2.4],
    [1.4, 1.0, -1.1, 2.8],
];

#[track_caller]
fn assert_close<const B: usize, const N: usize>(
    what: &str,
    got: &[[f64; N]; B],
    want: &[[f64; N]; B],
    tol: f64,
) {
    for (i, (&g, &w)) in got
        .as_flattened()
        .iter()
        .zip(want.as_flattened())
        .enumerate()
    {
        let err = relative_error(g, w, 1e-12);
        assert!(
            err <= tol,
            "{what}[{i}]: got {g:e}, want {w:e}, error {err:e}"
        );
    }
}

#[track_caller]
fn assert_scalar_close(what: &str, got: f64, want: f64, tol: f64) {
    let err = relative_error(got, want, 1e-12);
    assert!(
        err <= tol,
        "{what}: got {got:e}, want {want:e}, error {err:e}"
    );
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

/// Runs the fused form (into a NaN-filled buffer: `Overwrite` must not read it), checks that the
/// loss-only form gives the same loss, checks the gradient against finite differences of the
/// loss-only form, and checks `Accumulate`. Returns the loss and the gradient.
fn check_fused<const B: usize, const N: usize>(
    name: &str,
    x: &[[f64; N]; B],
    fused: impl Fn(&[[f64; N]; B], &mut [[f64; N]; B], Store) -> Result<f64>,
    loss_only: impl Fn(&[[f64; N]; B]) -> Result<f64>,
) -> (f64, [[f64; N]; B]) {
    let mut grad = [[f64::NAN; N]; B];
    let loss = fused(x, &mut grad, Store::Overwrite).unwrap();
    assert_eq!(
        loss,
        loss_only(x).unwrap(),
        "{name}: fused and loss-only agree"
    );

    let mut point = *x;
    assert_gradient(
        name,
        |flat| loss_only(&from_flat(flat)).unwrap(),
        point.as_flattened_mut(),
        grad.as_flattened(),
        1e-6,
    );

    let previous: [[f64; N]; B] =
        core::array::from_fn(|b| core::array::from_fn(|j| (b * N + j) as f64 - 1.5));
    let mut accumulated = previous;
    assert_eq!(fused(x, &mut accumulated, Store::Accumulate).unwrap(), loss);
    for ((a, p), g) in accumulated
        .as_flattened()
        .iter()
        .zip(previous.as_flattened())
        .zip(grad.as_flattened())
    {
        assert_scalar_close(name, *a, p + g, 1e-15);
    }
    (loss, grad)
}

#[test]
fn cross_entropy_matches_pytorch() {
    let (loss, grad) = check_fused(
        "softmax_cross_entropy",
        &LOGITS,
        |z, g, s| softmax_cross_entropy_with_grad(z, &LABELS, g, s),
        |z| softmax_cross_entropy(z, &LABELS),
    );
    assert_scalar_close("ce loss", loss, CE_LOSS, 1e-12);
    assert_close("ce grad", &grad, &CE_DLOGITS, 1e-12);

    let mut grad32 = [[0.0f32; 5]; 4];
    let loss32 =
        softmax_cross_entropy_with_grad(&to_f32(&LOGITS), &LABELS, &mut grad32, Store::Overwrite)
            .unwrap();
    assert_scalar_close("ce loss f32", loss32.into(), CE_LOSS_F32, 1e-6);
    assert_close("ce grad f32", &to_f64(&grad32), &CE_DLOGITS_F32, 1e-6);
}

#[test]
fn cross_entropy_of_large_logits_is_exact() {
    let mut grad = [[0.0; 3]; 3];
    let loss = softmax_cross_entropy_with_grad(&LARGE, &LARGE_LABELS, &mut grad, Store::Overwrite)
        .unwrap();
    assert_eq!(loss, CE_LARGE_LOSS);
    assert_close("ce large grad", &grad, &CE_LARGE_DLOGITS, 1e-15);

    let mut grad32 = [[0.0f32; 3]; 3];
    let loss32 = softmax_cross_entropy_with_grad(
        &to_f32(&LARGE),
        &LARGE_LABELS,
        &mut grad32,
        Store::Overwrite,
    )
    .unwrap();
    assert_eq!(f64::from(loss32), CE_LARGE_LOSS_F32);
    assert_close(
        "ce large grad f32",
        &to_f64(&grad32),
        &CE_LARGE_DLOGITS_F32,
        1e-7,
    );

    // Per sample: -ln softmax([1e4, 0, -1e4])[label] is exactly 0, 1e4, 2e4.
    for (label, want) in CE_LARGE_PER_SAMPLE.iter().enumerate() {
        assert_eq!(softmax_cross_entropy(&[LARGE[0]], &[label]), Ok(want.abs()));
        assert_eq!(
            softmax_cross_entropy(&[to_f32(&LARGE)[0]], &[label]),
            Ok(want.abs() as f32)
        );
    }
}

#[test]
fn cross_entropy_rejects_labels_before_writing() {
    let mut grad = [[7.0; 5]; 4];
    let err = softmax_cross_entropy_with_grad(&LOGITS, &[2, 0, 5, 1], &mut grad, Store::Overwrite)
        .unwrap_err();
    assert_eq!(
        err,
        Error::LabelOutOfRange {
            what: "softmax_cross_entropy",
            sample: 2,
            label: 5,
            classes: 5
        }
    );
    assert_eq!(
        err.to_string(),
        "softmax_cross_entropy: label 5 of sample 2 is out of range for 5 classes (labels must be 0..5)"
    );
    assert_eq!(grad, [[7.0; 5]; 4], "nothing written");
    assert!(softmax_cross_entropy(&LOGITS, &[2, 0, 4, usize::MAX]).is_err());
}

#[test]
fn cross_entropy_of_nan_or_inf_is_non_finite() {
    let mut logits = LOGITS;
    logits[1][3] = f64::NAN;
    let mut grad = [[0.0; 5]; 4];
    let err =
        softmax_cross_entropy_with_grad(&logits, &LABELS, &mut grad, Store::Overwrite).unwrap_err();
    assert!(
        matches!(err, Error::NonFinite { what: "softmax_cross_entropy", value } if value.is_nan())
    );
    logits[1][3] = f64::INFINITY;
    assert!(matches!(
        softmax_cross_entropy(&logits, &LABELS),
        Err(Error::NonFinite {
            what: "softmax_cross_entropy",
            ..
        })
    ));
}

#[test]
fn binary_cross_entropy_matches_pytorch() {
    let (loss, grad) = check_fused(
        "logistic_loss",
        &Z,
        |z, g, s| logistic_loss_with_grad(z, &TARGETS01, g, s),
        |z| logistic_loss(z, &TARGETS01),
    );
    assert_scalar_close("bce loss", loss, BCE_LOSS, 1e-12);
    assert_close("bce grad", &grad, &BCE_DZ, 1e-12);

    let mut grad32 = [[0.0f32; 4]; 3];
    let loss32 = logistic_loss_with_grad(
        &to_f32(&Z),
        &to_f32(&TARGETS01),
        &mut grad32,
        Store::Overwrite,
    )
    .unwrap();
    assert_scalar_close("bce loss f32", loss32.into(), BCE_LOSS_F32, 1e-6);
    assert_close("bce grad f32", &to_f64(&grad32), &BCE_DZ_F32, 1e-6);

    let large = [[1e4, -1e4, 800.0, -800.0]];
    let mut grad = [[0.0; 4]];
    let loss =
        logistic_loss_with_grad(&large, &[[0.0, 1.0, 1.0, 0.5]], &mut grad, Store::Overwrite);
    assert_eq!(loss, Ok(BCE_LARGE_LOSS));
    assert_eq!(grad, BCE_LARGE_DZ);
    let mut grad32 = [[0.0f32; 4]];
    let loss32 = logistic_loss_with_grad(
        &to_f32(&large),
        &[[0.0, 1.0, 1.0, 0.5]],
        &mut grad32,
        Store::Overwrite,
    );
    assert_eq!(loss32, Ok(BCE_LARGE_LOSS as f32));
    assert_eq!(to_f64(&grad32), BCE_LARGE_DZ);
}

#[test]
fn binary_cross_entropy_rejects_targets_before_writing() {
    for (bad, shown) in [(1.5, "1.5"), (-0.25, "-0.25"), (f64::NAN, "NaN")] {
        let mut targets = TARGETS01;
        targets[2][1] = bad;
        let mut grad = [[7.0; 4]; 3];
        let err = logistic_loss_with_grad(&Z, &targets, &mut grad, Store::Overwrite).unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidTarget {
                what: "logistic_loss",
                index: 9,
                expected: "a probability in [0, 1]",
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            std::format!(
                "logistic_loss: target value {shown} at index 9 is invalid \
                 (expected a probability in [0, 1])"
            )
        );
        assert_eq!(grad, [[7.0; 4]; 3], "nothing written");
        assert!(logistic_loss(&Z, &targets).is_err());
    }
    let mut z = Z;
    z[0][0] = f64::NAN;
    assert!(matches!(
        logistic_loss(&z, &TARGETS01),
        Err(Error::NonFinite {
            what: "logistic_loss",
            ..
        })
    ));
}

#[test]
fn signed_logistic_loss_matches_pytorch_and_the_01_form() {
    let (loss, grad) = check_fused(
        "logistic_loss_signed",
        &Z_SIGNED,
        |z, g, s| logistic_loss_signed_with_grad(z, &Y_SIGNED, g, s),
        |z| logistic_loss_signed(z, &Y_SIGNED),
    );
    assert_scalar_close("signed loss", loss, SIGNED_LOSS, 1e-12);
    assert_close("signed grad", &grad, &SIGNED_DZ, 1e-12);

    // The same numbers as the {0, 1} form with p = (y + 1) / 2.
    let p = Y_SIGNED.map(|row| row.map(|y| (y + 1.0) / 2.0));
    let mut grad01 = [[0.0; 2]; 4];
    let loss01 = logistic_loss_with_grad(&Z_SIGNED, &p, &mut grad01, Store::Overwrite);
    assert_eq!(loss01, Ok(loss));
    assert_eq!(grad01, grad);

    // Direct definition: mean of ln(1 + exp(-y z)), gradient -y sigmoid(-y z) / n.
    let n = 8.0;
    let mut direct = 0.0;
    for (z, y) in Z_SIGNED.as_flattened().iter().zip(Y_SIGNED.as_flattened()) {
        direct += (-y * z).exp().ln_1p() / n;
    }
    assert_scalar_close("signed direct", loss, direct, 1e-14);
}

#[test]
fn signed_logistic_loss_rejects_labels() {
    for bad in [0.0, 0.5, 2.0, f64::NAN] {
        let mut labels = Y_SIGNED;
        labels[3][0] = bad;
        let mut grad = [[7.0; 2]; 4];
        let err = logistic_loss_signed_with_grad(&Z_SIGNED, &labels, &mut grad, Store::Overwrite)
            .unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidTarget {
                what: "logistic_loss_signed",
                index: 6,
                expected: "-1 or +1",
                ..
            }
        ));
        assert_eq!(grad, [[7.0; 2]; 4], "nothing written");
        assert!(logistic_loss_signed(&Z_SIGNED, &labels).is_err());
    }
}

#[test]
fn mse_matches_pytorch() {
    let (loss, grad) = check_fused(
        "mse",
        &PRED,
        |x, g, s| mse_with_grad(x, &TARGET, g, s),
        |x| mse(x, &TARGET),
    );
    assert_scalar_close("mse_with_grad loss", loss, MSE_LOSS, 1e-12);
    assert_close("mse_with_grad grad", &grad, &MSE_DPRED, 1e-12);

    let mut grad32 = [[0.0f32; 4]; 3];
    let loss32 = mse_with_grad(
        &to_f32(&PRED),
        &to_f32(&TARGET),
        &mut grad32,
        Store::Overwrite,
    )
    .unwrap();
    assert_scalar_close("mse_with_grad loss f32", loss32.into(), MSE_LOSS, 1e-6);
    assert_close("mse_with_grad grad f32", &to_f64(&grad32), &MSE_DPRED, 1e-5);

    let mut target = TARGET;
    target[1][2] = f64::NAN;
    assert!(matches!(
        mse(&PRED, &target),
        Err(Error::NonFinite { what: "mse", .. })
    ));
    assert!(matches!(
        mse(&[[1e300f64]], &[[-1e300]]),
        Err(Error::NonFinite { what: "mse", .. })
    ));
}

#[test]
fn argmax_first_max_wins_and_nan_never_wins() {
    assert_eq!(argmax(&[0.5, 2.0, -1.0, 2.0]), 1);
    assert_eq!(argmax(&[f64::NAN, -3.0, f64::NAN, -1.0]), 3);
    assert_eq!(argmax(&[f64::NAN, f64::NEG_INFINITY]), 1);
    assert_eq!(argmax(&[f64::NEG_INFINITY, f64::NEG_INFINITY]), 0);
    assert_eq!(argmax(&[f32::NAN, f32::NAN]), 0);
    assert_eq!(argmax(&[3.0f32]), 0);
}

#[test]
fn count_correct_counts_argmax_hits() {
    // Predictions: 3, 3, 2, 0.
    assert_eq!(count_correct(&LOGITS, &LABELS), 0);
    assert_eq!(count_correct(&LOGITS, &[3, 3, 2, 0]), 4);
    assert_eq!(
        count_correct(&LOGITS, &[3, 0, 2, 7]),
        2,
        "an out-of-range label is wrong"
    );
    let nan_row = [[f64::NAN; 3], [0.0, 1.0, 0.5]];
    assert_eq!(
        count_correct(&nan_row, &[0, 1]),
        1,
        "a NaN row is never correct"
    );
}

/// Generated by reference/loss.py (PyTorch); do not edit by hand.
#[rustfmt::skip]
mod reference {
    pub const CE_LOSS: f64 = 2.3079623579464865;
    pub const CE_DLOGITS: [[f64; 5]; 4] = [[0.04743397246504776, 0.007094633765841684, -0.2307147859547406, 0.17404931709794277, 0.002136862625908384], [-0.2166627457958839, 0.07057496770393475, 0.0035137207421355892, 0.09526624174954829, 0.04730781560026529], [0.007000044144062959, 0.0023301122801686336, 0.17172879434532295, 0.017217330354973238, -0.19827628112452783], [0.20894343662004633, -0.2385032593075132, 0.00570911246938961, 0.0006991175214960128, 0.023151592696581264]];
    pub const CE_LARGE_LOSS: f64 = 10000.0;
    pub const CE_LARGE_DLOGITS: [[f64; 3]; 3] = [[0.0, 0.0, 0.0], [0.3333333333333333, -0.3333333333333333, 0.0], [0.3333333333333333, 0.0, -0.3333333333333333]];
    pub const CE_LOSS_F32: f64 = 2.307962417602539;
    pub const CE_DLOGITS_F32: [[f64; 5]; 4] = [[0.04743397235870361, 0.007094632834196091, -0.23071478307247162, 0.17404931783676147, 0.002136862836778164], [-0.21666274964809418, 0.07057496905326843, 0.0035137194208800793, 0.09526623785495758, 0.0473078154027462], [0.007000044919550419, 0.0023301115725189447, 0.17172880470752716, 0.017217330634593964, -0.19827628135681152], [0.2089434415102005, -0.23850326240062714, 0.005709113087505102, 0.0006991177797317505, 0.023151597008109093]];
    pub const CE_LARGE_LOSS_F32: f64 = 10000.0;
    pub const CE_LARGE_DLOGITS_F32: [[f64; 3]; 3] = [[0.0, 0.0, 0.0], [0.3333333432674408, -0.3333333432674408, 0.0], [0.3333333432674408, 0.0, -0.3333333432674408]];
    pub const CE_LARGE_PER_SAMPLE: [f64; 3] = [-0.0, 10000.0, 20000.0];
    pub const BCE_LOSS: f64 = 0.5191008715337072;
    pub const BCE_DZ: [[f64; 4]; 3] = [[0.007593580084571346, -0.04989063834270433, 0.03068231434734718, -0.010842372863583158], [0.0031191537786458, 0.02081165786707353, 0.005069523100269637, 0.005002126572698963], [-0.005761535028612226, 0.0026912887248708764, -0.007446730504231493, 0.06548624858687989]];
    pub const BCE_LOSS_F32: f64 = 0.5191009044647217;
    pub const BCE_DZ_F32: [[f64; 4]; 3] = [[0.0075935800559818745, -0.04989063739776611, 0.030682310461997986, -0.010842368006706238], [0.0031191508751362562, 0.0208116564899683, 0.005069524049758911, 0.005002126097679138], [-0.005761533975601196, 0.0026912884786725044, -0.007446726318448782, 0.06548625230789185]];
    pub const BCE_LARGE_LOSS: f64 = 5100.0;
    pub const BCE_LARGE_DZ: [[f64; 4]; 1] = [[0.25, -0.25, 0.0, -0.125]];
    pub const SIGNED_LOSS: f64 = 0.9501678645529097;
    pub const SIGNED_DZ: [[f64; 2]; 4] = [[-0.038753189859048444, 0.020997701858259436], [0.11136289735054838, -0.05167280263533375], [0.04867009575634726, -0.11712833049287544], [-0.026770627119680174, -0.06872924966405974]];
    pub const MSE_LOSS: f64 = 0.22562499999999996;
    pub const MSE_DPRED: [[f64; 4]; 3] = [[0.033333333333333326, -0.04999999999999999, 0.08333333333333333, -0.11666666666666665], [0.08333333333333333, -0.125, 0.041666666666666664, 0.04999999999999997], [-0.08333333333333331, 0.05833333333333335, 0.08333333333333334, 0.08333333333333333]];
}
