//! Shared by the integration tests that check a generated backward pass against finite
//! differences of the generated loss.

#![allow(dead_code)] // each test file uses what it needs

use monograd::runtime::gradcheck::assert_gradient;
use monograd::runtime::{Network, Rng};

/// Checks `d loss / d params` of `net` at its current parameters on one batch.
pub fn check_gradient<const P: usize, const B: usize, N: Network<P, Element = f64>>(
    what: &str,
    net: &mut N,
    x: &[N::Input; B],
    targets: &[N::Target; B],
) {
    let mut tape = N::new_tape::<B>();
    net.forward_train(&mut tape, x).unwrap();
    net.backward(&mut tape, x, targets).expect("finite loss");
    let analytic = N::param_grads(&tape).to_vec();
    assert!(
        analytic.iter().any(|&g| g != 0.0),
        "{what}: all-zero gradient"
    );
    let mut params = net.params().to_vec();
    assert_gradient(
        what,
        |p| {
            net.params_mut().copy_from_slice(p);
            net.forward_train(&mut tape, x).unwrap();
            net.backward(&mut tape, x, targets).expect("finite loss")
        },
        &mut params,
        &analytic,
        1e-6,
    );
}

pub fn random_batch<const N: usize, const B: usize>(seed: u64) -> [[f64; N]; B] {
    let mut rng = Rng::new(seed);
    core::array::from_fn(|_| core::array::from_fn(|_| rng.normal()))
}

/// Checks a gradient with respect to the inputs of `net` (`analytic`, flattened like `flat`):
/// `batch` builds the batch of inputs from flat values (one sample after the other), and the
/// loss is the training-mode loss against `targets`.
pub fn check_input_gradient<const P: usize, const B: usize, N: Network<P, Element = f64>>(
    what: &str,
    net: &mut N,
    flat: &mut [f64],
    batch: impl Fn(&[f64]) -> [N::Input; B],
    targets: &[N::Target; B],
    analytic: &[f64],
) {
    assert!(
        analytic.iter().any(|&g| g != 0.0),
        "{what}: all-zero input gradient"
    );
    let mut tape = N::new_tape::<B>();
    assert_gradient(
        what,
        |v| {
            let x = batch(v);
            net.forward_train(&mut tape, &x).unwrap();
            net.backward(&mut tape, &x, targets).expect("finite loss")
        },
        flat,
        analytic,
        1e-6,
    );
}
