//! Causal, dilated 1-D convolution (the audio form of WaveNet and TCNs): over a per-sample
//! `[C, L]` sequence, `dilation * (kernel - 1)` zeros on the left only, so that the output keeps
//! the length `L` and output `t` sees inputs `<= t`:
//!
//! ```text
//! y[o][t] = b[o] + sum_{c in group(o)} sum_k w[o][c][k] * x[c][t - (K - 1 - k) * D]   (x[c][< 0] = 0)
//! ```
//!
//! which is PyTorch's `conv1d(F.pad(x, (D * (K - 1), 0)), w, b, dilation = D, groups = G)`.
//!
//! The whole-sequence form is the symmetric convolution (`padding = D * (K - 1)` on both sides,
//! the existing `conv2d` kernels on `[C, 1, L]`) cut to its first `L` outputs: the first `L`
//! windows of the symmetric padding are exactly the causal ones, and the last `D * (K - 1)`
//! see the right padding. [`causal_crop`] does the cut, [`causal_crop_backward`] its gradient.
//!
//! [`causal_conv1d_step`] is the streaming form: one time step per call, the last
//! `D * (K - 1)` inputs kept in a ring buffer ([`CausalHistory`]). Iterators and `get` only: no
//! allocation, no panic path, `no_std`.

use crate::Scalar;

/// `y[b][c][t] = full[b][c][t]` for `t < L`: the first `L` of each channel's `FULL_L` values
/// (`FULL = C * FULL_L`, `OUT = C * L`, `L <= FULL_L`, checked at compile time).
pub fn causal_crop<
    T: Copy,
    const B: usize,
    const C: usize,
    const FULL_L: usize,
    const L: usize,
    const FULL: usize,
    const OUT: usize,
>(
    full: &[[T; FULL]; B],
    y: &mut [[T; OUT]; B],
) {
    const {
        assert!(FULL == C * FULL_L && OUT == C * L && L <= FULL_L && L > 0);
    };
    for (full_b, y_b) in full.iter().zip(y.iter_mut()) {
        for (full_c, y_c) in full_b.chunks_exact(FULL_L).zip(y_b.chunks_exact_mut(L)) {
            y_c.copy_from_slice(&full_c[..L]);
        }
    }
}

/// The gradient of [`causal_crop`]: `dfull[b][c][t] = dy[b][c][t]` for `t < L`, 0 after (the
/// cut outputs do not reach the loss). `dfull` is overwritten.
pub fn causal_crop_backward<
    T: Scalar,
    const B: usize,
    const C: usize,
    const FULL_L: usize,
    const L: usize,
    const FULL: usize,
    const OUT: usize,
>(
    dy: &[[T; OUT]; B],
    dfull: &mut [[T; FULL]; B],
) {
    const {
        assert!(FULL == C * FULL_L && OUT == C * L && L <= FULL_L && L > 0);
    };
    for (dy_b, dfull_b) in dy.iter().zip(dfull.iter_mut()) {
        for (dy_c, dfull_c) in dy_b.chunks_exact(L).zip(dfull_b.chunks_exact_mut(FULL_L)) {
            let (head, tail) = dfull_c.split_at_mut(L.min(FULL_L));
            head.copy_from_slice(dy_c);
            tail.fill(T::zero());
        }
    }
}

/// The last `HIST = D * (K - 1)` inputs `[T; C]` of a streaming causal convolution, oldest
/// first from `next` (a ring buffer); all zero at the start, as the left padding.
#[derive(Clone, Debug)]
pub struct CausalHistory<T, const C: usize, const HIST: usize> {
    inputs: [[T; C]; HIST],
    /// The slot the next input goes to: the oldest one.
    next: usize,
}

impl<T: Scalar, const C: usize, const HIST: usize> CausalHistory<T, C, HIST> {
    /// An empty history (zero inputs before the first step).
    pub fn new() -> Self {
        Self {
            inputs: [[T::zero(); C]; HIST],
            next: 0,
        }
    }

    /// Back to the start: the same as [`Self::new`].
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// The input `lag >= 1` steps ago (zero before the first step).
    #[inline]
    fn lagged(&self, lag: usize) -> Option<&[T; C]> {
        let slot = (self.next + HIST).checked_sub(lag)?.checked_rem(HIST)?;
        self.inputs.get(slot)
    }

    /// Appends `x`, forgetting the oldest input.
    #[inline]
    fn push(&mut self, x: &[T; C]) {
        if let Some(slot) = self.inputs.get_mut(self.next) {
            *slot = *x;
        }
        self.next = (self.next + 1).checked_rem(HIST).unwrap_or(0);
    }
}

impl<T: Scalar, const C: usize, const HIST: usize> Default for CausalHistory<T, C, HIST> {
    fn default() -> Self {
        Self::new()
    }
}

/// One step of a causal convolution: `y = sum_k W[:, :, k] x_{t - (K - 1 - k) D} + b` (the
/// formula of the [module docs](self) at the current `t`), then `x` joins the history.
///
/// `params` is the layer's block as PyTorch lays it out: the weight `[C_OUT, C_IN / G, K]` then,
/// when `BIAS`, the bias `[C_OUT]` (`PARAMS` elements, checked at compile time, with
/// `HIST = D * (K - 1)` and `G` dividing both channel counts).
pub fn causal_conv1d_step<
    T: Scalar,
    const C_IN: usize,
    const C_OUT: usize,
    const K: usize,
    const D: usize,
    const G: usize,
    const BIAS: bool,
    const HIST: usize,
    const PARAMS: usize,
>(
    params: &[T; PARAMS],
    history: &mut CausalHistory<T, C_IN, HIST>,
    x: &[T; C_IN],
    y: &mut [T; C_OUT],
) {
    const {
        assert!(K > 0 && D > 0 && G > 0 && C_IN.is_multiple_of(G) && C_OUT.is_multiple_of(G));
        assert!(HIST == D * (K - 1), "HIST must be D * (K - 1)");
        assert!(PARAMS == C_OUT * (C_IN / G) * K + if BIAS { C_OUT } else { 0 });
    };
    let (group_in, group_out) = (C_IN / G, C_OUT / G);
    let (weight, bias) = params.split_at(C_OUT * group_in * K);
    // taps[k]: the input the kernel's tap `k` sees, `(K - 1 - k) * D` steps ago.
    let zero = [T::zero(); C_IN];
    let taps: [&[T; C_IN]; K] = core::array::from_fn(|k| match (K - 1 - k) * D {
        0 => x,
        lag => history.lagged(lag).unwrap_or(&zero),
    });
    for (o, (y, w_o)) in y
        .iter_mut()
        .zip(weight.chunks_exact(group_in * K))
        .enumerate()
    {
        let first = (o / group_out) * group_in;
        let mut sum = if BIAS {
            bias.get(o).copied().unwrap_or(T::zero())
        } else {
            T::zero()
        };
        for (c, w_c) in w_o.chunks_exact(K).enumerate() {
            for (&w, tap) in w_c.iter().zip(&taps) {
                sum += w * tap.get(first + c).copied().unwrap_or(T::zero());
            }
        }
        *y = sum;
    }
    history.push(x);
}

#[cfg(all(test, feature = "alloc"))]
mod tests;
