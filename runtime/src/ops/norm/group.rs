//! LayerNorm, InstanceNorm and GroupNorm: per-sample statistics, one shared kernel.
//!
//! Each sample's `N` elements are split into `G` groups of `L = N / G` contiguous elements, and
//! each group is normalized with its own statistics (biased variance, as PyTorch):
//! ```text
//! mu = mean(x_group),  var = mean((x_group - mu)^2),  x_hat = (x - mu) / sqrt(var + eps)
//! y = gamma * x_hat + beta
//! ```
//! | layer | groups `G` | group length `L` | affine `gamma`, `beta` |
//! |---|---|---|---|
//! | LayerNorm | 1 | `N` | per element, length `N` |
//! | InstanceNorm | `C` | `S` | per channel, length `C` (PyTorch default: none) |
//! | GroupNorm | `G` | `(C / G) * S` | per channel, length `C` |
//!
//! Training and eval are the same computation (no running statistics: PyTorch's defaults,
//! `track_running_stats=False` for InstanceNorm). Backward, with `g = dy * gamma` (the gradient
//! with respect to `x_hat`) and sums over the group:
//! ```text
//! dx = (inv_std / L) * (L * g - sum(g) - x_hat * sum(g * x_hat))
//! dgamma = sum over batch (and channel elements) of dy * x_hat,   dbeta = sum of dy
//! ```
//! Parameter block `[[T; P]; 2]`: `[weight (gamma): P | bias (beta): P]`, `P = N` for
//! LayerNorm and `P = C` otherwise; `None` means no affine (`gamma = 1`, `beta = 0`). When
//! `dparams` is `Some`, the gradient of gamma and beta is written there (evaluated at `params`,
//! or at the identity affine if `params` is `None`).
//!
//! A group of a single element normalizes to 0 (`y = beta`, `dx = 0`), never NaN.
//!
//! Groups are contiguous, so every pass runs along memory; the sums over a group (mean,
//! variance, the two sums of backward) use 8 partial sums (`norm/lanes.rs`) so that they
//! vectorize, and the statistics stay two-pass (mean, then mean squared deviation).

use super::lanes;
use crate::{Scalar, Store};

/// What a forward pass of LayerNorm, InstanceNorm or GroupNorm saves for its backward: for each
/// sample `b` and group `g`, the mean and `inv_std = 1 / sqrt(var + eps)`.
///
/// `G = 1` for LayerNorm, `G = C` for InstanceNorm.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupStats<T: Scalar, const B: usize, const G: usize> {
    /// Mean of each group of each sample.
    pub mean: [[T; G]; B],
    /// `1 / sqrt(var + eps)` of each group of each sample.
    pub inv_std: [[T; G]; B],
}

impl<T: Scalar, const B: usize, const G: usize> GroupStats<T, B, G> {
    /// All zeros (overwritten by the next forward).
    pub fn zeroed() -> Self {
        GroupStats {
            mean: [[T::zero(); G]; B],
            inv_std: [[T::zero(); G]; B],
        }
    }
}

impl<T: Scalar, const B: usize, const G: usize> Default for GroupStats<T, B, G> {
    fn default() -> Self {
        Self::zeroed()
    }
}

/// `(gamma, beta)` of parameter `p`, or the identity affine.
#[inline(always)]
fn affine_at<T: Scalar, const P: usize>(params: Option<&[[T; P]; 2]>, p: usize) -> (T, T) {
    match params {
        Some(block) => (block[0][p], block[1][p]),
        None => (T::one(), T::zero()),
    }
}

/// Row `k` (0: gamma, 1: beta) of the parameters of the `len` elements starting at parameter
/// `first`, when there is one parameter per element (`R == 1`).
#[inline(always)]
fn per_element<T, const P: usize>(block: &[[T; P]; 2], k: usize, first: usize, len: usize) -> &[T] {
    &block[k][first..][..len]
}

/// The shared forward: normalizes each of the `G` groups of each sample; elements
/// `[p * R, (p + 1) * R)` use affine parameter `p`.
///
/// Callers guarantee (with compile-time assertions in their own bodies, so that an error names
/// the caller's call site) that `G` divides `N`, `R` divides `N / G`, and `P * R == N`.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
fn group_forward<
    T: Scalar,
    const B: usize,
    const N: usize,
    const G: usize,
    const P: usize,
    const R: usize,
>(
    x: &[[T; N]; B],
    params: Option<&[[T; P]; 2]>,
    saved: &mut GroupStats<T, B, G>,
    y: &mut [[T; N]; B],
    eps: f64,
) {
    let len = N / G;
    let count = T::from_usize(len);
    let eps = T::from_f64(eps);
    for (b, (x_row, y_row)) in x.iter().zip(y.iter_mut()).enumerate() {
        let groups = x_row.chunks_exact(len).zip(y_row.chunks_exact_mut(len));
        for (g, (xs, ys)) in groups.enumerate() {
            let mean = lanes::sum(xs) / count;
            let var = lanes::sum_squared_deviations(xs, mean) / count;
            let inv_std = (var + eps).sqrt().recip();
            saved.mean[b][g] = mean;
            saved.inv_std[b][g] = inv_std;
            let first = g * len / R;
            match params {
                // One parameter per element: zip with the parameter rows so that the loop
                // vectorizes (indexing them per element would not).
                Some(block) if R == 1 => {
                    let affine = per_element(block, 0, first, len)
                        .iter()
                        .zip(per_element(block, 1, first, len));
                    for ((out, &v), (&gamma, &beta)) in ys.iter_mut().zip(xs).zip(affine) {
                        *out = (v - mean) * (gamma * inv_std) + beta;
                    }
                }
                _ => {
                    let runs = xs.chunks_exact(R).zip(ys.chunks_exact_mut(R));
                    for (p, (x_run, y_run)) in (first..).zip(runs) {
                        let (gamma, beta) = affine_at(params, p);
                        let scale = gamma * inv_std;
                        for (out, &v) in y_run.iter_mut().zip(x_run) {
                            *out = (v - mean) * scale + beta;
                        }
                    }
                }
            }
        }
    }
}

/// The shared backward of [`group_forward`].
#[allow(clippy::too_many_arguments)]
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
fn group_backward<
    T: Scalar,
    const B: usize,
    const N: usize,
    const G: usize,
    const P: usize,
    const R: usize,
>(
    x: &[[T; N]; B],
    params: Option<&[[T; P]; 2]>,
    saved: &GroupStats<T, B, G>,
    dy: &[[T; N]; B],
    dx: &mut [[T; N]; B],
    dx_store: Store,
    mut dparams: Option<&mut [[T; P]; 2]>,
    dparams_store: Store,
) {
    let len = N / G;
    let count = T::from_usize(len);
    if let (Some(grads), Store::Overwrite) = (dparams.as_deref_mut(), dparams_store) {
        // Summed over the batch below, so start from zero.
        grads.as_flattened_mut().fill(T::zero());
    }
    for (b, ((x_row, dy_row), dx_row)) in x.iter().zip(dy).zip(dx.iter_mut()).enumerate() {
        let groups = x_row
            .chunks_exact(len)
            .zip(dy_row.chunks_exact(len))
            .zip(dx_row.chunks_exact_mut(len));
        for (g, ((xs, gs), dxs)) in groups.enumerate() {
            let (mean, inv_std) = (saved.mean[b][g], saved.inv_std[b][g]);
            let first = g * len / R;
            let dx_of = |v: T, d: T, gamma: T, mean_g: T, mean_g_xhat: T| {
                let x_hat = (v - mean) * inv_std;
                inv_std * (gamma * d - mean_g - x_hat * mean_g_xhat)
            };
            if R == 1 {
                // One parameter per element: reductions in lanes, everything else zipped
                // along the group so that it vectorizes.
                if let Some([dgamma, dbeta]) = dparams.as_deref_mut() {
                    let grads = dgamma[first..][..len]
                        .iter_mut()
                        .zip(&mut dbeta[first..][..len]);
                    for ((dg, db), (&v, &d)) in grads.zip(xs.iter().zip(gs)) {
                        *dg += d * ((v - mean) * inv_std);
                        *db += d;
                    }
                }
                let gammas = params.map(|block| per_element(block, 0, first, len));
                let (sum_g, sum_g_xhat) = match gammas {
                    Some(gammas) => lanes::weighted_gradient_sums(xs, gs, gammas, mean, inv_std),
                    None => lanes::gradient_sums(xs, gs, mean, inv_std),
                };
                let (mean_g, mean_g_xhat) = (sum_g / count, sum_g_xhat / count);
                let values = dxs.iter_mut().zip(xs.iter().zip(gs));
                match gammas {
                    Some(gammas) => {
                        for ((out, (&v, &d)), &gamma) in values.zip(gammas) {
                            dx_store.apply(out, dx_of(v, d, gamma, mean_g, mean_g_xhat));
                        }
                    }
                    None => {
                        for (out, (&v, &d)) in values {
                            dx_store.apply(out, dx_of(v, d, T::one(), mean_g, mean_g_xhat));
                        }
                    }
                }
                continue;
            }
            let (mut sum_g, mut sum_g_xhat) = (T::zero(), T::zero());
            for (p, (x_run, dy_run)) in (first..).zip(xs.chunks_exact(R).zip(gs.chunks_exact(R))) {
                let (gamma, _) = affine_at(params, p);
                let (run_dy, run_dy_xhat) = lanes::gradient_sums(x_run, dy_run, mean, inv_std);
                sum_g += gamma * run_dy;
                sum_g_xhat += gamma * run_dy_xhat;
                if let Some(grads) = dparams.as_deref_mut() {
                    grads[0][p] += run_dy_xhat;
                    grads[1][p] += run_dy;
                }
            }
            let (mean_g, mean_g_xhat) = (sum_g / count, sum_g_xhat / count);
            let runs = xs
                .chunks_exact(R)
                .zip(gs.chunks_exact(R))
                .zip(dxs.chunks_exact_mut(R));
            for (p, ((x_run, dy_run), dx_run)) in (first..).zip(runs) {
                let (gamma, _) = affine_at(params, p);
                for ((out, &v), &d) in dx_run.iter_mut().zip(x_run).zip(dy_run) {
                    dx_store.apply(out, dx_of(v, d, gamma, mean_g, mean_g_xhat));
                }
            }
        }
    }
}

/// LayerNorm forward over the whole sample (PyTorch `normalized_shape` = every per-sample dim):
/// `y = gamma * (x - mu) / sqrt(var + eps) + beta`, statistics over the `N` elements of each
/// sample, per-element affine `params: [[T; N]; 2]` (`elementwise_affine=True`; `None` for
/// `False`). Same in training and eval.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn layer_norm_forward<T: Scalar, const B: usize, const N: usize>(
    x: &[[T; N]; B],
    params: Option<&[[T; N]; 2]>,
    saved: &mut GroupStats<T, B, 1>,
    y: &mut [[T; N]; B],
    eps: f64,
) {
    group_forward::<T, B, N, 1, N, 1>(x, params, saved, y, eps);
}

/// LayerNorm backward: `dx (dx_store) (inv_std / N) * (N * g - sum(g) - x_hat * sum(g * x_hat))`
/// with `g = dy * gamma`; `dparams[0] (dparams_store) sum_b dy * x_hat`,
/// `dparams[1] (dparams_store) sum_b dy` (per element).
#[allow(clippy::too_many_arguments)]
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn layer_norm_backward<T: Scalar, const B: usize, const N: usize>(
    x: &[[T; N]; B],
    params: Option<&[[T; N]; 2]>,
    saved: &GroupStats<T, B, 1>,
    dy: &[[T; N]; B],
    dx: &mut [[T; N]; B],
    dx_store: Store,
    dparams: Option<&mut [[T; N]; 2]>,
    dparams_store: Store,
) {
    group_backward::<T, B, N, 1, N, 1>(x, params, saved, dy, dx, dx_store, dparams, dparams_store);
}

/// InstanceNorm forward: each channel of each sample normalized over its `S` elements;
/// optional per-channel affine `params: [[T; C]; 2]` (PyTorch default `affine=False`: pass
/// `None`). No running statistics (PyTorch default `track_running_stats=False`), so training
/// and eval are the same. Does not compile when `N != C * S` or `S == 1` (PyTorch raises for a
/// single spatial element).
pub fn instance_norm_forward<
    T: Scalar,
    const B: usize,
    const C: usize,
    const S: usize,
    const N: usize,
>(
    x: &[[T; N]; B],
    params: Option<&[[T; C]; 2]>,
    saved: &mut GroupStats<T, B, C>,
    y: &mut [[T; N]; B],
    eps: f64,
) {
    assert_layout!(C, S, N);
    const {
        assert!(
            S > 1,
            "InstanceNorm needs more than 1 spatial element per channel (S > 1), as PyTorch \
             (\"Expected more than 1 spatial element when training\")"
        )
    }
    group_forward::<T, B, N, C, C, S>(x, params, saved, y, eps);
}

/// InstanceNorm backward: the formula of the [module docs](self) with `L = S`; the parameter
/// gradient (when `dparams` is `Some`) sums over batch and space per channel.
#[allow(clippy::too_many_arguments)]
pub fn instance_norm_backward<
    T: Scalar,
    const B: usize,
    const C: usize,
    const S: usize,
    const N: usize,
>(
    x: &[[T; N]; B],
    params: Option<&[[T; C]; 2]>,
    saved: &GroupStats<T, B, C>,
    dy: &[[T; N]; B],
    dx: &mut [[T; N]; B],
    dx_store: Store,
    dparams: Option<&mut [[T; C]; 2]>,
    dparams_store: Store,
) {
    assert_layout!(C, S, N);
    const {
        assert!(
            S > 1,
            "InstanceNorm needs more than 1 spatial element per channel (S > 1), as PyTorch \
             (\"Expected more than 1 spatial element when training\")"
        )
    }
    group_backward::<T, B, N, C, C, S>(x, params, saved, dy, dx, dx_store, dparams, dparams_store);
}

/// GroupNorm forward: each sample's `C` channels split into `G` groups of `C / G` consecutive
/// channels, each group normalized over its `(C / G) * S` elements; per-channel affine
/// `params: [[T; C]; 2]` (PyTorch default `affine=True`; `None` for `False`). Same in training
/// and eval. Does not compile when `N != C * S` or `C % G != 0` (reported by `cargo build`,
/// not `cargo check`):
/// ```compile_fail
/// use monograd_runtime::ops::norm::{group_norm_forward, GroupStats};
/// let x = [[0.5f32; 6]; 2]; // C = 6 channels, S = 1
/// let (mut saved, mut y) = (GroupStats::<f32, 2, 4>::zeroed(), [[0.0; 6]; 2]);
/// group_norm_forward::<f32, 2, 6, 1, 6, 4>(&x, None, &mut saved, &mut y, 1e-5); // 4 does not divide 6
/// ```
/// ```
/// use monograd_runtime::ops::norm::{group_norm_forward, GroupStats};
/// let x = [[0.5f32; 6]; 2];
/// let (mut saved, mut y) = (GroupStats::<f32, 2, 3>::zeroed(), [[0.0; 6]; 2]);
/// group_norm_forward::<f32, 2, 6, 1, 6, 3>(&x, None, &mut saved, &mut y, 1e-5);
/// assert_eq!(y, [[0.0; 6]; 2]); // constant groups normalize to 0
/// ```
pub fn group_norm_forward<
    T: Scalar,
    const B: usize,
    const C: usize,
    const S: usize,
    const N: usize,
    const G: usize,
>(
    x: &[[T; N]; B],
    params: Option<&[[T; C]; 2]>,
    saved: &mut GroupStats<T, B, G>,
    y: &mut [[T; N]; B],
    eps: f64,
) {
    assert_layout!(C, S, N);
    const {
        assert!(
            G > 0 && C.is_multiple_of(G),
            "GroupNorm: the number of groups G must divide the number of channels C"
        )
    }
    group_forward::<T, B, N, G, C, S>(x, params, saved, y, eps);
}

/// GroupNorm backward: the formula of the [module docs](self) with `L = (C / G) * S`; the
/// parameter gradient (when `dparams` is `Some`) sums over batch and space per channel.
#[allow(clippy::too_many_arguments)]
pub fn group_norm_backward<
    T: Scalar,
    const B: usize,
    const C: usize,
    const S: usize,
    const N: usize,
    const G: usize,
>(
    x: &[[T; N]; B],
    params: Option<&[[T; C]; 2]>,
    saved: &GroupStats<T, B, G>,
    dy: &[[T; N]; B],
    dx: &mut [[T; N]; B],
    dx_store: Store,
    dparams: Option<&mut [[T; C]; 2]>,
    dparams_store: Store,
) {
    assert_layout!(C, S, N);
    const {
        assert!(
            G > 0 && C.is_multiple_of(G),
            "GroupNorm: the number of groups G must divide the number of channels C"
        )
    }
    group_backward::<T, B, N, G, C, S>(x, params, saved, dy, dx, dx_store, dparams, dparams_store);
}

#[cfg(all(test, feature = "std"))]
mod tests;
