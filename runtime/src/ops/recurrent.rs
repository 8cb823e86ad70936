//! Recurrent layers with PyTorch `nn.GRU` and `nn.LSTM` semantics (one layer, `batch_first`,
//! with biases, zero initial state): a whole-sequence forward that keeps what backpropagation
//! through time needs, its backward, and a streaming step for inference one time step at a time.
//!
//! # Equations
//! With `x_t` the input at step `t`, `h_{t-1}` the previous hidden state (`h_{-1} = 0`), `σ` the
//! logistic function and `⊙` the elementwise product, as in PyTorch's documentation:
//!
//! GRU, gates in the order `r, z, n`:
//! ```text
//! r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
//! z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
//! n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))
//! h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}
//! ```
//!
//! LSTM, gates in the order `i, f, g, o` (`c_{-1} = 0`):
//! ```text
//! i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)
//! f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)
//! g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
//! o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)
//! c_t = f_t ⊙ c_{-1} + i_t ⊙ g_t
//! h_t = o_t ⊙ tanh(c_t)
//! ```
//!
//! The output is the hidden state: the whole sequence `y[b][t] = h_t` ([`Output::Sequence`]) or
//! the last state `h_{T-1}` ([`Output::Last`], PyTorch's `h_n[0]`; the LSTM's `c_n` is not an
//! output). Backward takes the matching upstream gradient ([`Upstream`]).
//!
//! # Parameters ([`RnnParams`])
//! PyTorch's tensors, each flattened row-major, for `G` gates (3 for the GRU, 4 for the LSTM):
//! `weight_ih_l0: [G*H, F]` as `[[[T; F]; H]; G]` (gate `g`, unit `j`, input `k` at
//! `(g * H + j) * F + k`), `weight_hh_l0: [G*H, H]` as `[[[T; H]; H]; G]`, `bias_ih_l0` and
//! `bias_hh_l0: [G*H]` as `[[T; H]; G]`. A parameter block is these four in that order,
//! [`rnn_param_len`] elements ([`RnnParams::from_block`] views one); the gradients
//! ([`RnnGrads`], [`RnnGrads::from_block`]) have the same layout. `F` and `H` are at least 1.
//!
//! # Buffers
//! - input `x: [[[T; F]; S]; B]`: batch, time, feature (`batch_first`);
//! - output: `[[[T; H]; S]; B]` (sequence) or `[[T; H]; B]` (last state);
//! - cache, written by the forward and read by the backward, one block of rows of `H` per sample
//!   and step: `[[[[T; H]; GRU_CACHE_ROWS]; S]; B]` holding `r, z, n, W_hn h_{t-1} + b_hn,
//!   h_{t-1}`, or `[[[[T; H]; LSTM_CACHE_ROWS]; S]; B]` holding `i, f, g, o, c_{t-1}, tanh(c_t),
//!   h_{t-1}`.
//!
//! All buffers are the caller's; nothing allocates. Outputs are overwritten, not read.
//! Gradients follow [`Store`]: the parameter gradients and the input gradient are stored or
//! accumulated as a whole (the sum over the batch and the time steps).
//!
//! # Streaming
//! [`gru_step`] and [`lstm_step`] advance a fixed-size state (`h: [T; H]`, or `h` and `c`) by one
//! input `x_t: [T; F]`. They run the same cell as the sequence forward, so stepping through a
//! sequence from a zero state gives its outputs (the tests check it); `reset` is zeroing the
//! state. Iterators over arrays only: no allocation, no index to check, no panic path (a
//! Cortex-M4F program calling both steps links with a panic handler that references an
//! undefined symbol); `no_std`.
//!
//! [`gru_stream_step`] and [`lstm_stream_step`] are the same cells on [`StreamWeights`], a copy
//! of the weights transposed so that each matrix-vector product is a few multiply-adds of whole
//! contiguous rows, with the biases summed in advance, the activations
//! [`sigmoid_fast`] and [`tanh_fast`] (within 2.5 ulps; the LSTM's as quotients combined into
//! two divisions a step) and multiply-adds fused where the CPU
//! has FMA: equal to the sequence forward within rounding, not bit for bit (what a generated
//! `Stream` runs). [`kernels::simd::Level`](crate::kernels::simd::Level) runs them compiled for
//! AVX2 or AVX-512 without a feature query per step. [`stream_linear`] is a stream's `linear`
//! head, inlined into the same step.

use crate::kernels::math::{
    sigmoid, sigmoid_fast, sigmoid_fast_parts, tanh, tanh_fast, tanh_fast_parts, MulAdd,
};
use crate::kernels::small::{dot, LANES};
use crate::kernels::Store;
use crate::{Error, Result, Scalar};

/// Gates of a GRU (`r, z, n`).
pub const GRU_GATES: usize = 3;
/// Gates of an LSTM (`i, f, g, o`).
pub const LSTM_GATES: usize = 4;
/// Rows of `H` the GRU caches per sample and step: `r, z, n, W_hn h + b_hn, h_{t-1}`.
pub const GRU_CACHE_ROWS: usize = 5;
/// Rows of `H` the LSTM caches per sample and step: `i, f, g, o, c_{t-1}, tanh(c_t), h_{t-1}`.
pub const LSTM_CACHE_ROWS: usize = 7;

/// Length of a recurrent layer's parameter block with `gates` gates (3: GRU, 4: LSTM), `input`
/// features and `hidden` units: `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`.
pub const fn rnn_param_len(gates: usize, input: usize, hidden: usize) -> usize {
    gates * hidden * (input + hidden + 2)
}

/// The parameters of a recurrent layer with `G` gates, PyTorch's tensors (see the
/// [module docs](self)).
#[derive(Clone, Copy, Debug)]
pub struct RnnParams<'a, T, const G: usize, const F: usize, const H: usize> {
    /// `weight_ih_l0: [G*H, F]`.
    pub weight_ih: &'a [[[T; F]; H]; G],
    /// `weight_hh_l0: [G*H, H]`.
    pub weight_hh: &'a [[[T; H]; H]; G],
    /// `bias_ih_l0: [G*H]`.
    pub bias_ih: &'a [[T; H]; G],
    /// `bias_hh_l0: [G*H]`.
    pub bias_hh: &'a [[T; H]; G],
}

/// The gradients of [`RnnParams`], same layout.
#[derive(Debug)]
pub struct RnnGrads<'a, T, const G: usize, const F: usize, const H: usize> {
    /// Gradient of `weight_ih_l0`.
    pub weight_ih: &'a mut [[[T; F]; H]; G],
    /// Gradient of `weight_hh_l0`.
    pub weight_hh: &'a mut [[[T; H]; H]; G],
    /// Gradient of `bias_ih_l0`.
    pub bias_ih: &'a mut [[T; H]; G],
    /// Gradient of `bias_hh_l0`.
    pub bias_hh: &'a mut [[T; H]; G],
}

impl<'a, T, const G: usize, const F: usize, const H: usize> RnnParams<'a, T, G, F, H> {
    /// Views a parameter block (`weight_ih | weight_hh | bias_ih | bias_hh`, see the
    /// [module docs](self)) as the four tensors.
    ///
    /// # Errors
    /// [`Error::Length`] when `block` does not hold exactly [`rnn_param_len`]`(G, F, H)`
    /// elements.
    pub fn from_block(block: &'a [T]) -> Result<Self> {
        let found = block.len();
        let view = || {
            let (weight_ih, rest) = take::<T, G, H, F>(block)?;
            let (weight_hh, rest) = take::<T, G, H, H>(rest)?;
            let (bias_ih, rest) = take::<T, 1, G, H>(rest)?;
            let (bias_hh, rest) = take::<T, 1, G, H>(rest)?;
            rest.is_empty().then_some(RnnParams {
                weight_ih,
                weight_hh,
                bias_ih: &bias_ih[0],
                bias_hh: &bias_hh[0],
            })
        };
        view().ok_or(Error::Length {
            what: "recurrent layer: parameter block",
            expected: rnn_param_len(G, F, H),
            found,
        })
    }
}

impl<'a, T, const G: usize, const F: usize, const H: usize> RnnGrads<'a, T, G, F, H> {
    /// Views a gradient block, laid out as the parameter block, as the four tensors.
    ///
    /// # Errors
    /// [`Error::Length`] when `block` does not hold exactly [`rnn_param_len`]`(G, F, H)`
    /// elements.
    pub fn from_block(block: &'a mut [T]) -> Result<Self> {
        let found = block.len();
        let view = |block| {
            let (weight_ih, rest) = take_mut::<T, G, H, F>(block)?;
            let (weight_hh, rest) = take_mut::<T, G, H, H>(rest)?;
            let (bias_ih, rest) = take_mut::<T, 1, G, H>(rest)?;
            let (bias_hh, rest) = take_mut::<T, 1, G, H>(rest)?;
            rest.is_empty().then_some(RnnGrads {
                weight_ih,
                weight_hh,
                bias_ih: &mut bias_ih[0],
                bias_hh: &mut bias_hh[0],
            })
        };
        view(block).ok_or(Error::Length {
            what: "recurrent layer: gradient block",
            expected: rnn_param_len(G, F, H),
            found,
        })
    }
}

impl<'a, T, const G: usize, const F: usize, const H: usize> RnnParams<'a, T, G, F, H> {
    /// The block at `OFFSET` of a network's parameter array (the layout the `network!` macro
    /// emits), as [`Self::from_block`] views it; the bounds are checked at compile time, so
    /// there is no error and no panic path.
    #[inline]
    pub fn at<const P: usize, const OFFSET: usize>(params: &'a [T; P]) -> Self {
        const {
            assert!(
                OFFSET + rnn_param_len(G, F, H) <= P,
                "recurrent layer: parameter block past the end of the parameters"
            )
        };
        let view = || {
            let (_, block) = params.split_at_checked(OFFSET)?;
            let (block, _) = block.split_at_checked(rnn_param_len(G, F, H))?;
            Self::from_block(block).ok()
        };
        match view() {
            Some(view) => view,
            None => unreachable!("bounds checked at compile time"),
        }
    }
}

impl<'a, T, const G: usize, const F: usize, const H: usize> RnnGrads<'a, T, G, F, H> {
    /// The gradient block at `OFFSET` of a network's parameter-gradient array, as
    /// [`RnnParams::at`].
    #[inline]
    pub fn at<const P: usize, const OFFSET: usize>(grads: &'a mut [T; P]) -> Self {
        const {
            assert!(
                OFFSET + rnn_param_len(G, F, H) <= P,
                "recurrent layer: gradient block past the end of the gradients"
            )
        };
        let (_, block) = grads.split_at_mut(OFFSET);
        let (block, _) = block.split_at_mut(rnn_param_len(G, F, H));
        match Self::from_block(block) {
            Ok(view) => view,
            Err(_) => unreachable!("bounds checked at compile time"),
        }
    }
}

/// A batch of flat per-sample buffers `[[E; N]; B]` viewed as sequences `[[[E; F]; S]; B]`
/// (`N = S * F`, checked at compile time): how a network's `[T, F]` node, stored flat, reaches
/// the sequence kernels.
#[inline]
pub fn sequences<E, const B: usize, const S: usize, const F: usize, const N: usize>(
    x: &[[E; N]; B],
) -> &[[[E; F]; S]; B] {
    const { assert!(N == S * F && S > 0 && F > 0, "sequences: N must be S * F") };
    let (rows, _) = x.as_flattened().as_chunks::<F>();
    let (samples, _) = rows.as_chunks::<S>();
    match samples.first_chunk::<B>() {
        Some(view) => view,
        None => unreachable!("lengths checked at compile time"),
    }
}

/// [`sequences`] for a mutable buffer.
#[inline]
pub fn sequences_mut<E, const B: usize, const S: usize, const F: usize, const N: usize>(
    x: &mut [[E; N]; B],
) -> &mut [[[E; F]; S]; B] {
    const { assert!(N == S * F && S > 0 && F > 0, "sequences: N must be S * F") };
    let (rows, _) = x.as_flattened_mut().as_chunks_mut::<F>();
    let (samples, _) = rows.as_chunks_mut::<S>();
    match samples.first_chunk_mut::<B>() {
        Some(view) => view,
        None => unreachable!("lengths checked at compile time"),
    }
}

/// `G` row-major `R x C` matrices, one after the other.
type Stack<T, const G: usize, const R: usize, const C: usize> = [[[T; C]; R]; G];

/// The first `G * R * C` elements of `s` as `[[[T; C]; R]; G]`, and the rest.
fn take<T, const G: usize, const R: usize, const C: usize>(
    s: &[T],
) -> Option<(&Stack<T, G, R, C>, &[T])> {
    let (head, rest) = s.split_at_checked(G * R * C)?;
    let (rows, _) = head.as_chunks::<C>();
    let (matrices, _) = rows.as_chunks::<R>();
    Some((matrices.first_chunk::<G>()?, rest))
}

/// [`take`] for a mutable slice.
fn take_mut<T, const G: usize, const R: usize, const C: usize>(
    s: &mut [T],
) -> Option<(&mut Stack<T, G, R, C>, &mut [T])> {
    let (head, rest) = s.split_at_mut_checked(G * R * C)?;
    let (rows, _) = head.as_chunks_mut::<C>();
    let (matrices, _) = rows.as_chunks_mut::<R>();
    Some((matrices.first_chunk_mut::<G>()?, rest))
}

/// GRU parameters (`G = 3`: `r, z, n`).
pub type GruParams<'a, T, const F: usize, const H: usize> = RnnParams<'a, T, GRU_GATES, F, H>;
/// GRU gradients.
pub type GruGrads<'a, T, const F: usize, const H: usize> = RnnGrads<'a, T, GRU_GATES, F, H>;
/// LSTM parameters (`G = 4`: `i, f, g, o`).
pub type LstmParams<'a, T, const F: usize, const H: usize> = RnnParams<'a, T, LSTM_GATES, F, H>;
/// LSTM gradients.
pub type LstmGrads<'a, T, const F: usize, const H: usize> = RnnGrads<'a, T, LSTM_GATES, F, H>;

/// Where the forward writes its result: every hidden state, or the last one.
#[derive(Debug)]
pub enum Output<'a, T, const B: usize, const S: usize, const H: usize> {
    /// `y[b][t] = h_t`.
    Sequence(&'a mut [[[T; H]; S]; B]),
    /// `y[b] = h_{S-1}` (zero when `S = 0`).
    Last(&'a mut [[T; H]; B]),
}

/// The gradient arriving at the output, matching the [`Output`] of the forward.
#[derive(Clone, Copy, Debug)]
pub enum Upstream<'a, T, const B: usize, const S: usize, const H: usize> {
    /// `dL/dy[b][t]` for the whole sequence.
    Sequence(&'a [[[T; H]; S]; B]),
    /// `dL/dh_{S-1}[b]` for the last state.
    Last(&'a [[T; H]; B]),
}

/// `out[g] = W[g] v + b[g]` for each gate: `out[g][j] = sum_k W[g][j][k] v[k] + b[g][j]`.
#[inline]
fn affine<T: Scalar, const G: usize, const K: usize, const H: usize>(
    weight: &[[[T; K]; H]; G],
    bias: &[[T; H]; G],
    v: &[T; K],
    out: &mut [[T; H]; G],
) {
    for ((w_g, b_g), out_g) in weight.iter().zip(bias).zip(out.iter_mut()) {
        for ((w_row, &b), o) in w_g.iter().zip(b_g).zip(out_g.iter_mut()) {
            *o = row_dot(w_row, v) + b;
        }
    }
}

/// `sum_k w[k] v[k]`: four partial sums (one 128-bit register of `f32`) added as
/// `(p0 + p1) + (p2 + p3)`, then the tail in order, for rows shorter than `2 * LANES`;
/// [`dot`]'s [`LANES`] partial sums for longer ones (`dot` adds its lanes one after the other,
/// which costs more than it saves on a short row).
#[inline(always)]
fn row_dot<T: Scalar, const K: usize>(w: &[T; K], v: &[T; K]) -> T {
    if K < 2 * LANES {
        let (w_chunks, w_tail) = w.as_chunks::<4>();
        let (v_chunks, v_tail) = v.as_chunks::<4>();
        let mut p = [T::zero(); 4];
        for (wc, vc) in w_chunks.iter().zip(v_chunks) {
            for ((p, &w), &v) in p.iter_mut().zip(wc).zip(vc) {
                *p += w * v;
            }
        }
        let [p0, p1, p2, p3] = p;
        w_tail
            .iter()
            .zip(v_tail)
            .fold((p0 + p1) + (p2 + p3), |sum, (&w, &v)| sum + w * v)
    } else {
        dot(w, v)
    }
}

/// `out (store) sum_g W[g]^T d[g]`: `out[k] = sum_g sum_j W[g][j][k] d[g][j]`.
#[inline]
fn affine_transpose<T: Scalar, const G: usize, const K: usize, const H: usize>(
    weight: &[[[T; K]; H]; G],
    d: &[[T; H]; G],
    out: &mut [T; K],
    store: Store,
) {
    let mut sum = [T::zero(); K];
    for (w_g, d_g) in weight.iter().zip(d) {
        for (w_row, &dj) in w_g.iter().zip(d_g) {
            for (s, &w) in sum.iter_mut().zip(w_row) {
                *s += w * dj;
            }
        }
    }
    for (o, s) in out.iter_mut().zip(sum) {
        store.apply(o, s);
    }
}

/// `dW[g] += d[g] v^T` and `db[g] += d[g]`.
#[inline]
fn accumulate_outer<T: Scalar, const G: usize, const K: usize, const H: usize>(
    d: &[[T; H]; G],
    v: &[T; K],
    weight_grad: &mut [[[T; K]; H]; G],
    bias_grad: &mut [[T; H]; G],
) {
    for ((d_g, dw_g), db_g) in d
        .iter()
        .zip(weight_grad.iter_mut())
        .zip(bias_grad.iter_mut())
    {
        for ((&dj, dw_row), db) in d_g.iter().zip(dw_g.iter_mut()).zip(db_g.iter_mut()) {
            *db += dj;
            for (dw, &vk) in dw_row.iter_mut().zip(v) {
                *dw += dj * vk;
            }
        }
    }
}

/// Zeroes the gradients for [`Store::Overwrite`] (the backward then accumulates).
fn prepare<T: Scalar, const G: usize, const F: usize, const H: usize>(
    grads: &mut RnnGrads<'_, T, G, F, H>,
    store: Store,
) {
    if store == Store::Overwrite {
        *grads.weight_ih = [[[T::zero(); F]; H]; G];
        *grads.weight_hh = [[[T::zero(); H]; H]; G];
        *grads.bias_ih = [[T::zero(); H]; G];
        *grads.bias_hh = [[T::zero(); H]; G];
    }
}

/// The parameter gradients of one step (accumulated), its input gradient (stored, when wanted)
/// and the part of the gradient at `h_{t-1}` that flows through `W_hh` (returned), given the
/// gradients `d_ih` and `d_hh` of the gates' two affine maps.
#[allow(clippy::too_many_arguments)]
fn backward_step_common<T: Scalar, const G: usize, const F: usize, const H: usize>(
    params: &RnnParams<'_, T, G, F, H>,
    grads: &mut RnnGrads<'_, T, G, F, H>,
    x: &[T; F],
    h_prev: &[T; H],
    d_ih: &[[T; H]; G],
    d_hh: &[[T; H]; G],
    dx: Option<&mut [T; F]>,
    store: Store,
) -> [T; H] {
    accumulate_outer(d_ih, x, grads.weight_ih, grads.bias_ih);
    accumulate_outer(d_hh, h_prev, grads.weight_hh, grads.bias_hh);
    if let Some(dx) = dx {
        affine_transpose(params.weight_ih, d_ih, dx, store);
    }
    let mut dh_prev = [T::zero(); H];
    affine_transpose(params.weight_hh, d_hh, &mut dh_prev, Store::Overwrite);
    dh_prev
}

// ------------------------------------------------------------------------------------------
// GRU
// ------------------------------------------------------------------------------------------

/// One GRU step: from `x` and `h_prev`, the cache rows `r, z, n, W_hn h + b_hn, h_prev` and the
/// new state (returned).
#[inline]
fn gru_cell<T: Scalar, const F: usize, const H: usize>(
    params: &GruParams<'_, T, F, H>,
    x: &[T; F],
    h_prev: &[T; H],
    cache: &mut [[T; H]; GRU_CACHE_ROWS],
) -> [T; H] {
    let mut xi = [[T::zero(); H]; GRU_GATES];
    let mut hh = [[T::zero(); H]; GRU_GATES];
    affine(params.weight_ih, params.bias_ih, x, &mut xi);
    affine(params.weight_hh, params.bias_hh, h_prev, &mut hh);
    let [xr, xz, xn] = &xi;
    let [hr, hz, hn] = &hh;
    let [r, z, n, hn_cache, h_cache] = cache;
    // One loop per gate, each over independent units, so that the activations vectorize.
    for ((r, &xr), &hr) in r.iter_mut().zip(xr).zip(hr) {
        *r = sigmoid(xr + hr);
    }
    for ((z, &xz), &hz) in z.iter_mut().zip(xz).zip(hz) {
        *z = sigmoid(xz + hz);
    }
    for (((n, &xn), &hn), &r) in n.iter_mut().zip(xn).zip(hn).zip(r.iter()) {
        *n = tanh(xn + r * hn);
    }
    let mut h = [T::zero(); H];
    for (((h, &z), &n), &hp) in h.iter_mut().zip(z.iter()).zip(n.iter()).zip(h_prev) {
        *h = (T::one() - z) * n + z * hp;
    }
    *hn_cache = *hn;
    *h_cache = *h_prev;
    h
}

/// GRU forward over whole sequences from a zero state: fills `cache` for [`gru_backward`] and
/// writes `out` (see the [module docs](self) for the layouts).
pub fn gru_forward<T: Scalar, const B: usize, const S: usize, const F: usize, const H: usize>(
    params: &GruParams<'_, T, F, H>,
    x: &[[[T; F]; S]; B],
    cache: &mut [[[[T; H]; GRU_CACHE_ROWS]; S]; B],
    out: Output<'_, T, B, S, H>,
) {
    rnn_forward(x, cache, out, [T::zero(); H], |x, h, cache| {
        *h = gru_cell(params, x, h, cache);
        *h
    });
}

/// The sequence loop shared by both cells: each sample starts from `zero`, and
/// `cell(x_t, state, cache_t)` advances the state and returns `h_t`.
#[inline]
fn rnn_forward<
    T: Scalar,
    St: Copy,
    const B: usize,
    const S: usize,
    const F: usize,
    const H: usize,
    const R: usize,
>(
    x: &[[[T; F]; S]; B],
    cache: &mut [[[[T; H]; R]; S]; B],
    out: Output<'_, T, B, S, H>,
    zero: St,
    mut cell: impl FnMut(&[T; F], &mut St, &mut [[T; H]; R]) -> [T; H],
) {
    match out {
        Output::Sequence(y) => {
            for ((x_b, cache_b), y_b) in x.iter().zip(cache.iter_mut()).zip(y.iter_mut()) {
                let mut state = zero;
                for ((x_t, cache_t), y_t) in x_b.iter().zip(cache_b.iter_mut()).zip(y_b.iter_mut())
                {
                    *y_t = cell(x_t, &mut state, cache_t);
                }
            }
        }
        Output::Last(y) => {
            for ((x_b, cache_b), y_b) in x.iter().zip(cache.iter_mut()).zip(y.iter_mut()) {
                let mut state = zero;
                let mut h = [T::zero(); H];
                for (x_t, cache_t) in x_b.iter().zip(cache_b.iter_mut()) {
                    h = cell(x_t, &mut state, cache_t);
                }
                *y_b = h;
            }
        }
    }
}

/// GRU backward through time: parameter gradients (stored or accumulated into `grads` as a
/// whole) and, when `dx` is given, the input gradient (with the same `store`). `x` and `cache`
/// are the forward's; `upstream` matches its [`Output`].
pub fn gru_backward<T: Scalar, const B: usize, const S: usize, const F: usize, const H: usize>(
    params: &GruParams<'_, T, F, H>,
    x: &[[[T; F]; S]; B],
    cache: &[[[[T; H]; GRU_CACHE_ROWS]; S]; B],
    upstream: Upstream<'_, T, B, S, H>,
    grads: &mut GruGrads<'_, T, F, H>,
    dx: Option<&mut [[[T; F]; S]; B]>,
    store: Store,
) {
    prepare(grads, store);
    rnn_backward(
        x,
        cache,
        upstream,
        dx,
        |x_t, cache_t, dh, dx_t, _dc: &mut [T; H]| {
            let [r, z, n, hn, h_prev] = cache_t;
            let mut d_ih = [[T::zero(); H]; GRU_GATES];
            let mut d_hh = [[T::zero(); H]; GRU_GATES];
            let mut carry = [T::zero(); H];
            let [ar, az, an] = &mut d_ih;
            let [_, _, dhn] = &mut d_hh;
            let values = r.iter().zip(z).zip(n).zip(hn).zip(h_prev);
            let outs = ar
                .iter_mut()
                .zip(az.iter_mut())
                .zip(an.iter_mut())
                .zip(dhn.iter_mut());
            for (((((&r, &z), &n), &hn), &hp), ((((ar, az), an), dhn), (carry, &dh))) in
                values.zip(outs.zip(carry.iter_mut().zip(dh.iter())))
            {
                let one = T::one();
                let dn = dh * (one - z);
                let dz = dh * (hp - n);
                *carry = dh * z;
                *an = dn * (one - n * n);
                *dhn = *an * r;
                *ar = *an * hn * r * (one - r);
                *az = dz * z * (one - z);
            }
            let [hr, hz, _] = &mut d_hh;
            *hr = d_ih[0];
            *hz = d_ih[1];
            let dh_prev =
                backward_step_common(params, grads, x_t, h_prev, &d_ih, &d_hh, dx_t, store);
            let mut out = carry;
            for (o, d) in out.iter_mut().zip(dh_prev) {
                *o += d;
            }
            out
        },
    );
}

/// The backward loop shared by both cells, last step first. `step(x_t, cache_t, dh_t, dx_t,
/// dc)` turns the gradient at `h_t` into the one at `h_{t-1}` (and the LSTM's cell-state
/// gradient `dc` in place), accumulating the parameter gradients and storing `dx_t`.
#[inline]
fn rnn_backward<
    T: Scalar,
    const B: usize,
    const S: usize,
    const F: usize,
    const H: usize,
    const R: usize,
>(
    x: &[[[T; F]; S]; B],
    cache: &[[[[T; H]; R]; S]; B],
    upstream: Upstream<'_, T, B, S, H>,
    dx: Option<&mut [[[T; F]; S]; B]>,
    mut step: impl FnMut(&[T; F], &[[T; H]; R], &[T; H], Option<&mut [T; F]>, &mut [T; H]) -> [T; H],
) {
    let mut dx = dx;
    for (b, (x_b, cache_b)) in x.iter().zip(cache).enumerate() {
        let mut dh = [T::zero(); H];
        let mut dc = [T::zero(); H];
        let (up_seq, up_last) = match upstream {
            Upstream::Sequence(d) => (d.get(b), None),
            Upstream::Last(d) => (None, d.get(b)),
        };
        if let Some(last) = up_last {
            dh = *last;
        }
        let mut dx_b = dx.as_deref_mut().and_then(|dx| dx.get_mut(b));
        for (t, (x_t, cache_t)) in x_b.iter().zip(cache_b).enumerate().rev() {
            if let Some(up_t) = up_seq.and_then(|d| d.get(t)) {
                for (d, &u) in dh.iter_mut().zip(up_t) {
                    *d += u;
                }
            }
            let dx_t = dx_b.as_deref_mut().and_then(|dx| dx.get_mut(t));
            dh = step(x_t, cache_t, &dh, dx_t, &mut dc);
        }
    }
}

/// One GRU step of streaming inference: `h <- GRU(x, h)`. Start from `h = [0; H]` (PyTorch's
/// default initial state); the states equal [`gru_forward`]'s sequence outputs.
#[inline]
pub fn gru_step<T: Scalar, const F: usize, const H: usize>(
    params: &GruParams<'_, T, F, H>,
    x: &[T; F],
    h: &mut [T; H],
) {
    let mut cache = [[T::zero(); H]; GRU_CACHE_ROWS];
    *h = gru_cell(params, x, h, &mut cache);
}

// ------------------------------------------------------------------------------------------
// LSTM
// ------------------------------------------------------------------------------------------

/// One LSTM step: from `x`, `h_prev` and `c` (updated in place to `c_t`), the cache rows
/// `i, f, g, o, c_prev, tanh(c_t), h_prev` and the new hidden state (returned).
#[inline]
fn lstm_cell<T: Scalar, const F: usize, const H: usize>(
    params: &LstmParams<'_, T, F, H>,
    x: &[T; F],
    h_prev: &[T; H],
    c: &mut [T; H],
    cache: &mut [[T; H]; LSTM_CACHE_ROWS],
) -> [T; H] {
    let mut xi = [[T::zero(); H]; LSTM_GATES];
    let mut hh = [[T::zero(); H]; LSTM_GATES];
    affine(params.weight_ih, params.bias_ih, x, &mut xi);
    affine(params.weight_hh, params.bias_hh, h_prev, &mut hh);
    for (x_g, h_g) in xi.iter_mut().zip(&hh) {
        for (a, &b) in x_g.iter_mut().zip(h_g) {
            *a += b;
        }
    }
    let [ai, af, ag, ao] = &xi;
    let [i, f, g, o, c_prev, tanh_c, h_cache] = cache;
    *c_prev = *c;
    *h_cache = *h_prev;
    // One loop per gate, each over independent units, so that the activations vectorize.
    for (i, &a) in i.iter_mut().zip(ai) {
        *i = sigmoid(a);
    }
    for (f, &a) in f.iter_mut().zip(af) {
        *f = sigmoid(a);
    }
    for (g, &a) in g.iter_mut().zip(ag) {
        *g = tanh(a);
    }
    for (o, &a) in o.iter_mut().zip(ao) {
        *o = sigmoid(a);
    }
    for (((c, &f), &i), &g) in c.iter_mut().zip(f.iter()).zip(i.iter()).zip(g.iter()) {
        *c = f * *c + i * g;
    }
    for (tc, &c) in tanh_c.iter_mut().zip(c.iter()) {
        *tc = tanh(c);
    }
    let mut h = [T::zero(); H];
    for ((h, &o), &tc) in h.iter_mut().zip(o.iter()).zip(tanh_c.iter()) {
        *h = o * tc;
    }
    h
}

/// LSTM forward over whole sequences from a zero state (`h` and `c`): fills `cache` for
/// [`lstm_backward`] and writes `out` (see the [module docs](self) for the layouts).
pub fn lstm_forward<T: Scalar, const B: usize, const S: usize, const F: usize, const H: usize>(
    params: &LstmParams<'_, T, F, H>,
    x: &[[[T; F]; S]; B],
    cache: &mut [[[[T; H]; LSTM_CACHE_ROWS]; S]; B],
    out: Output<'_, T, B, S, H>,
) {
    let zero = ([T::zero(); H], [T::zero(); H]);
    rnn_forward(x, cache, out, zero, |x, (h, c), cache| {
        *h = lstm_cell(params, x, h, c, cache);
        *h
    });
}

/// LSTM backward through time: parameter gradients (stored or accumulated into `grads` as a
/// whole) and, when `dx` is given, the input gradient (with the same `store`). `x` and `cache`
/// are the forward's; `upstream` matches its [`Output`] (the gradient of `h`; `c_n` is not an
/// output).
pub fn lstm_backward<T: Scalar, const B: usize, const S: usize, const F: usize, const H: usize>(
    params: &LstmParams<'_, T, F, H>,
    x: &[[[T; F]; S]; B],
    cache: &[[[[T; H]; LSTM_CACHE_ROWS]; S]; B],
    upstream: Upstream<'_, T, B, S, H>,
    grads: &mut LstmGrads<'_, T, F, H>,
    dx: Option<&mut [[[T; F]; S]; B]>,
    store: Store,
) {
    prepare(grads, store);
    rnn_backward(x, cache, upstream, dx, |x_t, cache_t, dh, dx_t, dc| {
        let [i, f, g, o, c_prev, tanh_c, h_prev] = cache_t;
        let mut d = [[T::zero(); H]; LSTM_GATES];
        let [di, df, dg, d_o] = &mut d;
        let values = i.iter().zip(f).zip(g).zip(o).zip(c_prev.iter().zip(tanh_c));
        let outs = di
            .iter_mut()
            .zip(df.iter_mut())
            .zip(dg.iter_mut())
            .zip(d_o.iter_mut());
        for (((((&i, &f), &g), &o), (&cp, &tc)), ((((di, df), dg), d_o), (dc, &dh))) in
            values.zip(outs.zip(dc.iter_mut().zip(dh)))
        {
            let one = T::one();
            let dct = *dc + dh * o * (one - tc * tc);
            *d_o = dh * tc * o * (one - o);
            *di = dct * g * i * (one - i);
            *df = dct * cp * f * (one - f);
            *dg = dct * i * (one - g * g);
            *dc = dct * f;
        }
        backward_step_common(params, grads, x_t, h_prev, &d, &d, dx_t, store)
    });
}

/// One LSTM step of streaming inference: `(h, c) <- LSTM(x, (h, c))`. Start from zero states
/// (PyTorch's default); the `h` equal [`lstm_forward`]'s sequence outputs.
#[inline]
pub fn lstm_step<T: Scalar, const F: usize, const H: usize>(
    params: &LstmParams<'_, T, F, H>,
    x: &[T; F],
    h: &mut [T; H],
    c: &mut [T; H],
) {
    let mut cache = [[T::zero(); H]; LSTM_CACHE_ROWS];
    *h = lstm_cell(params, x, h, c, &mut cache);
}

// ------------------------------------------------------------------------------------------
// Streaming with prepared weights
// ------------------------------------------------------------------------------------------

/// A recurrent layer's weights laid out for streaming: each matrix transposed and its gates
/// interleaved, `w_ih[k] = [W_ih[g][j][k] for g, j]` (`[[[T; H]; G]; F]`, so `[F][G*H]`) and
/// `w_hh` likewise (`[H][G*H]`), and the biases summed once here rather than at every step:
/// `b_x` starts the product with `x` and `b_h` the one with `h`. A matrix-vector product is
/// then `K` multiply-adds of a contiguous `G*H` row by one scalar (`acc += w[k] * v[k]`),
/// which vectorizes with no horizontal sum, as a column-major GEMV does.
///
/// `G = 3` is the GRU (`b_x = [b_ir + b_hr, b_iz + b_hz, b_in]`, `b_h = [0, 0, b_hn]`: `b_hn`
/// is scaled by `r`), `G = 4` the LSTM (`b_x = b_ih + b_hh`, `b_h` unused and zero).
/// [`gru_stream_step`] and [`lstm_stream_step`] use it; a generated `Stream` holds one per
/// recurrent layer.
///
/// Aligned to 64 bytes (a cache line, an AVX-512 vector): where `G*H` fills whole vectors, no
/// load of a row straddles two cache lines, whatever address the stream lands at (measured: an
/// LSTM(1 -> 16) step took 74 to 94 ns depending on the stack address without it).
#[derive(Clone, Debug)]
#[repr(align(64))]
pub struct StreamWeights<T, const G: usize, const F: usize, const H: usize> {
    w_ih: [[[T; H]; G]; F],
    w_hh: [[[T; H]; G]; H],
    b_x: [[T; H]; G],
    b_h: [[T; H]; G],
}

impl<T: Scalar, const G: usize, const F: usize, const H: usize> StreamWeights<T, G, F, H> {
    /// The prepared copy of `params`.
    pub fn new(params: &RnnParams<'_, T, G, F, H>) -> Self {
        let mut weights = StreamWeights {
            w_ih: [[[T::zero(); H]; G]; F],
            w_hh: [[[T::zero(); H]; G]; H],
            b_x: [[T::zero(); H]; G],
            b_h: [[T::zero(); H]; G],
        };
        weights.load(params);
        weights
    }

    /// Replaces the copy with `params` (after a training step, or another model).
    pub fn load(&mut self, params: &RnnParams<'_, T, G, F, H>) {
        transpose_into(params.weight_ih, &mut self.w_ih);
        transpose_into(params.weight_hh, &mut self.w_hh);
        // The GRU's candidate gate `n` (its last) keeps its hidden bias inside `r * (...)`.
        let folded = if G == GRU_GATES { GRU_GATES - 1 } else { G };
        let gates = params.bias_ih.iter().zip(params.bias_hh);
        let outs = self.b_x.iter_mut().zip(self.b_h.iter_mut());
        for (g, ((b_ih, b_hh), (b_x, b_h))) in gates.zip(outs).enumerate() {
            if g < folded {
                for ((x, &i), &h) in b_x.iter_mut().zip(b_ih).zip(b_hh) {
                    *x = i + h;
                }
                *b_h = [T::zero(); H];
            } else {
                *b_x = *b_ih;
                *b_h = *b_hh;
            }
        }
    }
}

/// `out[k][g][j] = w[g][j][k]`.
fn transpose_into<T: Scalar, const G: usize, const K: usize, const H: usize>(
    w: &[[[T; K]; H]; G],
    out: &mut [[[T; H]; G]; K],
) {
    for (k, out_k) in out.iter_mut().enumerate() {
        for (w_g, out_g) in w.iter().zip(out_k.iter_mut()) {
            for (w_row, o) in w_g.iter().zip(out_g.iter_mut()) {
                if let Some(&w) = w_row.get(k) {
                    *o = w;
                }
            }
        }
    }
}

/// `acc[g][j] += sum_k w_t[k][g][j] v[k]`: one contiguous multiply-add of `G*H` elements per
/// `k`. From `K = 4` on, into four partial sums (`k mod 4`, the first starting from `acc`, the
/// others from their first product) added as `(p0 + p1) + (p2 + p3)`, so that the chain of
/// dependent additions, which bounds a step's latency, is a quarter as long. Only the gates
/// whose `gates` entry is `true` are computed (the LSTM computes `o` apart, last).
#[inline(always)]
fn accumulate_columns<T: Scalar, M: MulAdd, const G: usize, const K: usize, const H: usize>(
    w_t: &[[[T; H]; G]; K],
    v: &[T; K],
    acc: &mut [[T; H]; G],
    gates: [bool; G],
) {
    let (w_chunks, w_tail) = w_t.as_chunks::<4>();
    let (v_chunks, v_tail) = v.as_chunks::<4>();
    // `acc[g] (+)= w_k[g] * v_k` for the gates asked for (constants: the tests fold away once
    // inlined).
    let update = |acc: &mut [[T; H]; G], w_k: &[[T; H]; G], v_k: T, first: bool| {
        for ((acc_g, w_g), &on) in acc.iter_mut().zip(w_k).zip(&gates) {
            if on {
                for (a, &w) in acc_g.iter_mut().zip(w_g) {
                    *a = if first {
                        w * v_k
                    } else {
                        M::mul_add(w, v_k, *a)
                    };
                }
            }
        }
    };
    if w_chunks.is_empty() {
        for (w_k, &v_k) in w_tail.iter().zip(v_tail) {
            update(acc, w_k, v_k, false);
        }
        return;
    }
    let zero = [[T::zero(); H]; G];
    let mut partial = [*acc, zero, zero, zero];
    for (c, (w4, v4)) in w_chunks.iter().zip(v_chunks).enumerate() {
        for (i, ((p, w_k), &v_k)) in partial.iter_mut().zip(w4).zip(v4).enumerate() {
            // The first product of partial sums 1 to 3 starts them: no `0 +`.
            update(p, w_k, v_k, c == 0 && i > 0);
        }
    }
    let [p0, p1, p2, p3] = &mut partial;
    for (w_k, &v_k) in w_tail.iter().zip(v_tail) {
        update(p0, w_k, v_k, false);
    }
    let sums = p0.iter().zip(p1.iter()).zip(p2.iter().zip(p3.iter()));
    for ((acc_g, ((p0, p1), (p2, p3))), &on) in acc.iter_mut().zip(sums).zip(&gates) {
        if on {
            let sums = p0.iter().zip(p1).zip(p2.iter().zip(p3));
            for (a, ((&p0, &p1), (&p2, &p3))) in acc_g.iter_mut().zip(sums) {
                *a = (p0 + p1) + (p2 + p3);
            }
        }
    }
}

/// [`gru_step`] with [`StreamWeights`], for streaming inference: `h <- GRU(x, h)`, the same
/// cell with the biases summed in advance, the products' terms summed in another order (see
/// `accumulate_columns`), multiply-adds computed as `M` says ([`Unfused`](crate::kernels::math::Unfused), or
/// [`Fused`](crate::kernels::math::Fused) in
/// code compiled for FMA) and the activations [`sigmoid_fast`] and [`tanh_fast`] (within 2.41
/// and 2.35 ulps, where [`gru_forward`] has [`sigmoid`] and [`tanh`], within 0.51 (1.25 and 1
/// without `f64` hardware)): equal
/// to [`gru_forward`]'s states within rounding. `r` and `z` are one loop over `2H` units (one
/// AVX-512 vector for `H = 8`), `n` another; they vectorize (the `math` functions are
/// branch-free). No allocation, no panic path, `no_std`.
#[inline(always)]
pub fn gru_stream_step<T: Scalar, M: MulAdd, const F: usize, const H: usize>(
    weights: &StreamWeights<T, GRU_GATES, F, H>,
    x: &[T; F],
    h: &mut [T; H],
) {
    // The product with `h` is on the chain from one step to the next, the one with `x` is not.
    let mut a_h = weights.b_h;
    accumulate_columns::<T, M, GRU_GATES, H, H>(&weights.w_hh, h, &mut a_h, [true; GRU_GATES]);
    let mut a_x = weights.b_x;
    accumulate_columns::<T, M, GRU_GATES, F, H>(&weights.w_ih, x, &mut a_x, [true; GRU_GATES]);
    gru_stream_update::<T, M, H>(a_x, &a_h, h);
}

/// The GRU step's activations and new state from `a_x = W_ih x + b_x` and
/// `a_h = W_hh h + b_h` (biases as [`StreamWeights`] folds them).
#[inline(always)]
fn gru_stream_update<T: Scalar, M: MulAdd, const H: usize>(
    mut a_x: [[T; H]; GRU_GATES],
    a_h: &[[T; H]; GRU_GATES],
    h: &mut [T; H],
) {
    let rz = a_x.as_flattened_mut().iter_mut().zip(a_h.as_flattened());
    for (a, &b) in rz.take(2 * H) {
        *a = sigmoid_fast::<T, M>(*a + b);
    }
    let [r, z, n] = &mut a_x;
    let [_, _, hn] = &a_h;
    for ((n, &hn), &r) in n.iter_mut().zip(hn).zip(r.iter()) {
        *n = tanh_fast::<T, M>(M::mul_add(r, hn, *n));
    }
    for ((h, &z), &n) in h.iter_mut().zip(z.iter()).zip(n.iter()) {
        *h = M::mul_add(z, *h, (T::one() - z) * n);
    }
}

/// [`lstm_step`] with [`StreamWeights`], for streaming inference: `(h, c) <- LSTM(x, (h, c))`,
/// the same cell with the biases summed in advance, the products' terms summed in another
/// order (see `accumulate_columns`), multiply-adds as `M` says and the activations of
/// [`sigmoid_fast`] and [`tanh_fast`] as quotients ([`sigmoid_fast_parts`],
/// [`tanh_fast_parts`]) combined into two divisions instead of five:
///
/// ```text
/// c_t = f c + i g = (n_f c (d_i d_g) + n_i n_g d_f) / ((d_i d_g) d_f)
/// h_t = o tanh(c_t) = (n_o n_t) / (d_o d_t)
/// ```
///
/// Every `d` is in `[1, 2]` and every `n` at most 1 in magnitude, so nothing overflows; each
/// product adds a rounding (a few ulps in all, against the 2.5 of each activation). Why: the
/// step is a chain (`h` → products → `i, f, g` → `c` → `tanh(c)` → `h`), and a CPU divides one
/// vector at a time, each taking 8 to 10 cycles of the divider on the x86-64 cores measured,
/// so that `i`, `f`, `g` and `o`'s four divisions queued one behind the other on that chain (an
/// LSTM(1 -> 16) step on a Zen 4: 71 ns with five divisions, 66 ns with two, alternated in one
/// process). The numerator's terms are `f c` and `i g` times `d_i d_f d_g` (1 to 8), so they
/// are subnormal only where those nearly are. Equal to [`lstm_forward`]'s states within
/// rounding. No allocation, no panic path, `no_std`.
#[inline(always)]
pub fn lstm_stream_step<T: Scalar, M: MulAdd, const F: usize, const H: usize>(
    weights: &StreamWeights<T, LSTM_GATES, F, H>,
    x: &[T; F],
    h: &mut [T; H],
    c: &mut [T; H],
) {
    let mut a = weights.b_x;
    accumulate_columns::<T, M, LSTM_GATES, F, H>(&weights.w_ih, x, &mut a, [true; LSTM_GATES]);
    // `i, f, g` first, and `c` from them: their activations can run while the product of
    // `o`, which only the last multiplication needs, takes the multiply-add units.
    accumulate_columns::<T, M, LSTM_GATES, H, H>(
        &weights.w_hh,
        h,
        &mut a,
        [true, true, true, false],
    );
    lstm_stream_cell_state::<T, M, H>(&a, c);
    accumulate_columns::<T, M, LSTM_GATES, H, H>(
        &weights.w_hh,
        h,
        &mut a,
        [false, false, false, true],
    );
    lstm_stream_hidden_state::<T, M, H>(&a, c, h);
}

/// `c <- f c + i g` from the LSTM step's pre-activations `a = [i, f, g, _]`, one division.
#[inline(always)]
fn lstm_stream_cell_state<T: Scalar, M: MulAdd, const H: usize>(
    a: &[[T; H]; LSTM_GATES],
    c: &mut [T; H],
) {
    let [ai, af, ag, _] = a;
    for (((c, &ai), &af), &ag) in c.iter_mut().zip(ai).zip(af).zip(ag) {
        let (n_i, d_i) = sigmoid_fast_parts::<T, M>(ai);
        let (n_f, d_f) = sigmoid_fast_parts::<T, M>(af);
        let (n_g, d_g) = tanh_fast_parts::<T, M>(ag);
        let d_ig = d_i * d_g;
        *c = M::mul_add(n_i * n_g, d_f, (n_f * *c) * d_ig) / (d_ig * d_f);
    }
}

/// `h <- o tanh(c)` from the pre-activation `a[3]` of `o`, one division.
#[inline(always)]
fn lstm_stream_hidden_state<T: Scalar, M: MulAdd, const H: usize>(
    a: &[[T; H]; LSTM_GATES],
    c: &[T; H],
    h: &mut [T; H],
) {
    let [_, _, _, ao] = a;
    for ((h, &ao), &c) in h.iter_mut().zip(ao).zip(c.iter()) {
        let (n_o, d_o) = sigmoid_fast_parts::<T, M>(ao);
        let (n_t, d_t) = tanh_fast_parts::<T, M>(c);
        *h = (n_o * n_t) / (d_o * d_t);
    }
}

/// Whether a recurrent layer's rows of `H` elements are shorter than a 64-byte vector (an
/// AVX-512 register), where [`gru_stream_step_params`] and [`lstm_stream_step_params`] take a
/// dot product per row. From a vector on, compilers vectorize the loop over rows instead, with
/// a gather per column (measured: an LSTM(1 -> 16) step 1.3 to 2.2 us, against 61 ns for a
/// GRU(1 -> 8) by rows), and transposing the weights into a [`StreamWeights`] on the stack at
/// each call costs less (0.9 to 1.5 us for the LSTM).
const fn rows_fit_a_vector<T, const H: usize>() -> bool {
    H * core::mem::size_of::<T>() < 64
}

/// `out[g] = W[g] v` for each gate, rows of PyTorch's layout: each row's dot product in 16
/// partial sums (`k mod 16`: one AVX-512 vector of `f32`) added as a tree, then the tail.
/// For rows shorter than a vector (see `rows_fit_a_vector`).
#[inline(always)]
fn gates_by_rows<T: Scalar, M: MulAdd, const G: usize, const K: usize, const H: usize>(
    w: &[[[T; K]; H]; G],
    v: &[T; K],
) -> [[T; H]; G] {
    let mut out = [[T::zero(); H]; G];
    let (v_chunks, v_tail) = v.as_chunks::<16>();
    for (w_g, out_g) in w.iter().zip(out.iter_mut()) {
        for (row, o) in w_g.iter().zip(out_g.iter_mut()) {
            let (w_chunks, w_tail) = row.as_chunks::<16>();
            let mut p = [T::zero(); 16];
            for (wc, vc) in w_chunks.iter().zip(v_chunks) {
                for ((p, &w), &v) in p.iter_mut().zip(wc).zip(vc) {
                    *p = M::mul_add(w, v, *p);
                }
            }
            let (lo, hi) = p.split_at(8);
            let q: [T; 8] = core::array::from_fn(|l| lo[l] + hi[l]);
            let r: [T; 4] = core::array::from_fn(|l| q[l] + q[l + 4]);
            let mut sum = (r[0] + r[2]) + (r[1] + r[3]);
            for (&w, &v) in w_tail.iter().zip(v_tail) {
                sum = M::mul_add(w, v, sum);
            }
            *o = sum;
        }
    }
    out
}

/// [`gru_stream_step`] on the parameters as they are ([`RnnParams`], PyTorch's layout) instead
/// of [`StreamWeights`]: for rows shorter than a 64-byte vector, each product a dot product per
/// row and the biases added at each step, then the same activations; for longer rows, the
/// weights prepared into a [`StreamWeights`] on the stack and [`gru_stream_step`] (see
/// `rows_fit_a_vector`). What a generated stream's `step_with` runs: no prepared copy to keep
/// up to date, at the price of the products' horizontal sums or of the preparation at every
/// call. Equal to [`gru_forward`]'s states within rounding. No allocation, no panic path,
/// `no_std`.
#[inline(always)]
pub fn gru_stream_step_params<T: Scalar, M: MulAdd, const F: usize, const H: usize>(
    params: &GruParams<'_, T, F, H>,
    x: &[T; F],
    h: &mut [T; H],
) {
    if !rows_fit_a_vector::<T, H>() {
        let weights = StreamWeights::new(params);
        gru_stream_step::<T, M, F, H>(&weights, x, h);
        return;
    }
    let mut a_h = gates_by_rows::<T, M, GRU_GATES, H, H>(params.weight_hh, h);
    let mut a_x = gates_by_rows::<T, M, GRU_GATES, F, H>(params.weight_ih, x);
    // As `StreamWeights` folds them: `b_hn` stays inside `r * (...)`.
    let folded = params
        .bias_ih
        .as_flattened()
        .iter()
        .zip(params.bias_hh.as_flattened());
    for (a, (&b_i, &b_h)) in a_x.as_flattened_mut().iter_mut().zip(folded).take(2 * H) {
        *a += b_i + b_h;
    }
    let [_, _, a_n] = &mut a_x;
    let [_, _, h_n] = &mut a_h;
    let [_, _, b_in] = params.bias_ih;
    let [_, _, b_hn] = params.bias_hh;
    for (((a, h), &b_i), &b_h) in a_n.iter_mut().zip(h_n.iter_mut()).zip(b_in).zip(b_hn) {
        *a += b_i;
        *h += b_h;
    }
    gru_stream_update::<T, M, H>(a_x, &a_h, h);
}

/// [`lstm_stream_step`] on the parameters as they are ([`RnnParams`], PyTorch's layout), as
/// [`gru_stream_step_params`] is to [`gru_stream_step`] (by rows for rows shorter than a
/// 64-byte vector, else through a [`StreamWeights`] prepared on the stack at each call): equal
/// to [`lstm_forward`]'s states within rounding. No allocation, no panic path, `no_std`.
#[inline(always)]
pub fn lstm_stream_step_params<T: Scalar, M: MulAdd, const F: usize, const H: usize>(
    params: &LstmParams<'_, T, F, H>,
    x: &[T; F],
    h: &mut [T; H],
    c: &mut [T; H],
) {
    if !rows_fit_a_vector::<T, H>() {
        let weights = StreamWeights::new(params);
        lstm_stream_step::<T, M, F, H>(&weights, x, h, c);
        return;
    }
    let mut a = gates_by_rows::<T, M, LSTM_GATES, H, H>(params.weight_hh, h);
    let a_x = gates_by_rows::<T, M, LSTM_GATES, F, H>(params.weight_ih, x);
    let biases = params.bias_ih.iter().zip(params.bias_hh);
    for ((a_g, x_g), (b_i, b_h)) in a.iter_mut().zip(&a_x).zip(biases) {
        for (((a, &ax), &b_i), &b_h) in a_g.iter_mut().zip(x_g).zip(b_i).zip(b_h) {
            *a += ax + (b_i + b_h);
        }
    }
    lstm_stream_cell_state::<T, M, H>(&a, c);
    lstm_stream_hidden_state::<T, M, H>(&a, c, h);
}

/// `y = W x` (`W: [N][K]`) for a stream's vector layers (a `linear` after a recurrent layer's
/// `return = last`): each row a dot product in eight partial sums (`k mod 8`) added as a
/// balanced tree, then the `K mod 8` last products, with multiply-adds as `M` says. Inlined
/// into the step (`#[inline(always)]`), so it runs on the step's instruction-set level instead
/// of calling a kernel compiled for the baseline.
#[inline(always)]
pub fn stream_linear<T: Scalar, M: MulAdd, const K: usize, const N: usize>(
    w: &[[T; K]; N],
    x: &[T; K],
    y: &mut [T; N],
) {
    for (y, row) in y.iter_mut().zip(w) {
        let (x_chunks, x_tail) = x.as_chunks::<8>();
        let (w_chunks, w_tail) = row.as_chunks::<8>();
        let mut partial = [T::zero(); 8];
        for (xc, wc) in x_chunks.iter().zip(w_chunks) {
            for ((p, &xv), &wv) in partial.iter_mut().zip(xc).zip(wc) {
                *p = M::mul_add(xv, wv, *p);
            }
        }
        let [p0, p1, p2, p3, p4, p5, p6, p7] = partial;
        let mut sum = ((p0 + p4) + (p2 + p6)) + ((p1 + p5) + (p3 + p7));
        for (&xv, &wv) in x_tail.iter().zip(w_tail) {
            sum = M::mul_add(xv, wv, sum);
        }
        *y = sum;
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests;
