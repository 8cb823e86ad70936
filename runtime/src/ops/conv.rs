//! 2-D convolution over per-sample `[C, H, W]` images, as PyTorch's `nn.Conv2d`.
//!
//! # Geometry
//! A convolution's static configuration is the zero-sized type [`Conv2d`]`<C_IN, H, W, C_OUT,
//! KH, KW, SH, SW, PH, PW, DH, DW, GROUPS, BIAS>` (kernel `KH x KW`, stride `SH, SW`, zero padding
//! `PH, PW`, dilation `DH, DW`). Its [`Conv2dGeometry`] implementation derives the output size,
//! the per-sample lengths and the parameter count at compile time; a geometry with an empty
//! output, a zero kernel, stride or dilation, or groups that do not divide both channel counts
//! fails to compile. The kernels take the array lengths as their own const generics (stable Rust
//! cannot write `[T; C_IN * H * W]`) and check them against the geometry in `const` blocks, so a
//! call that does not fit is a compile error and no shape is checked at run time.
//!
//! The output size follows PyTorch (floor):
//! `OH = (H + 2 PH - DH (KH - 1) - 1) / SH + 1`, likewise `OW`.
//!
//! # Parameter block
//! `[weight: C_OUT x (C_IN / GROUPS) x KH x KW | bias: C_OUT]` (the bias only when `BIAS`),
//! row-major: PyTorch's `weight` and `bias` tensors, flattened and concatenated. Gradients use
//! the same layout.
//!
//! # Formulas
//! With `x̃` the input padded with zeros, `g(o) = o / (C_OUT / GROUPS)` the group of output
//! channel `o`, and input channels `c = g(o) (C_IN / GROUPS) + c'`:
//!
//! ```text
//! y[o][oy][ox]   = bias[o] + sum_{c', i, j} w[o][c'][i][j] x̃[c][oy SH + i DH][ox SW + j DW]
//! dw[o][c'][i][j] = sum_{b, oy, ox} dy[b][o][oy][ox] x̃[b][c][oy SH + i DH][ox SW + j DW]
//! dbias[o]        = sum_{b, oy, ox} dy[b][o][oy][ox]
//! dx̃[c][oy SH + i DH][ox SW + j DW] += w[o][c'][i][j] dy[o][oy][ox]   (over o, i, j, oy, ox)
//! ```
//!
//! # Algorithm and workspace
//! Per sample and group, [`im2col`](crate::kernels::im2col::im2col) gathers the input windows
//! into a `[(C_IN / GROUPS) KH KW][OH OW]` column matrix and one GEMM gives
//! `Y_g = W_g cols` directly in the `[C, H, W]` output layout. Backward: `dW_g += dY_g colsᵀ`
//! (columns recomputed from `x`) and `dx_g = col2im(W_gᵀ dY_g)`. The column matrix lives in a
//! caller-provided workspace of [`Conv2dGeometry::COLS_LEN`] elements (see
//! [`conv2d_cols_len`]); a longer workspace is accepted, so one buffer sized for the largest
//! layer can serve a whole network. A 1x1 convolution with stride 1 and no padding uses the
//! input as its column matrix and leaves the workspace untouched. Nothing allocates.

use crate::kernels::gemm::{gemm, Transpose};
use crate::kernels::im2col::{col2im_add, im2col, Window2d};
use crate::kernels::Store;
use crate::Scalar;

/// Output length along one axis of a convolution (or pooling) window, as PyTorch computes it
/// (floor): `(input + 2 padding - dilation (kernel - 1) - 1) / stride + 1`.
///
/// `None` when the output would be empty (the dilated kernel is longer than the padded input),
/// when `input`, `kernel`, `stride` or `dilation` is 0, or on overflow.
pub const fn conv2d_output_size(
    input: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
) -> Option<usize> {
    match span_and_padded(input, kernel, stride, padding, dilation) {
        Some((span, padded)) => Some((padded - span) / stride + 1),
        None => None,
    }
}

/// How many padded input rows (or columns) lie beyond the last window: `(input + 2 padding -
/// dilation (kernel - 1) - 1) % stride`. PyTorch drops them (the floor in
/// [`conv2d_output_size`]); a non-zero value is what a "fractional output size" means.
///
/// `None` exactly when [`conv2d_output_size`] is `None`.
pub const fn conv2d_output_remainder(
    input: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
) -> Option<usize> {
    match span_and_padded(input, kernel, stride, padding, dilation) {
        Some((span, padded)) => Some((padded - span) % stride),
        None => None,
    }
}

/// `(dilation (kernel - 1) + 1, input + 2 padding)` when a window fits, else `None`.
const fn span_and_padded(
    input: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
) -> Option<(usize, usize)> {
    if input == 0 || kernel == 0 || stride == 0 || dilation == 0 {
        return None;
    }
    let span = match dilation.checked_mul(kernel - 1) {
        Some(s) => s + 1,
        None => return None,
    };
    let padded = match padding.checked_mul(2) {
        Some(p) => match p.checked_add(input) {
            Some(n) => n,
            None => return None,
        },
        None => return None,
    };
    if padded < span {
        None
    } else {
        Some((span, padded))
    }
}

/// Parameter count of a convolution: `C_OUT (C_IN / GROUPS) KH KW + (C_OUT if bias)`.
///
/// `None` when `groups` is 0 or does not divide both `c_in` and `c_out`, or on overflow.
pub const fn conv2d_param_count(
    c_in: usize,
    c_out: usize,
    kh: usize,
    kw: usize,
    groups: usize,
    bias: bool,
) -> Option<usize> {
    if groups == 0 || !c_in.is_multiple_of(groups) || !c_out.is_multiple_of(groups) {
        return None;
    }
    let weight = match checked_product(&[c_out, c_in / groups, kh, kw]) {
        Some(n) => n,
        None => return None,
    };
    if bias {
        weight.checked_add(c_out)
    } else {
        Some(weight)
    }
}

/// Workspace length of the convolution kernels: the column matrix of one group of one sample,
/// `(C_IN / GROUPS) KH KW OH OW` (with `OH`, `OW` from [`conv2d_output_size`]).
///
/// `None` when `groups` is 0 or does not divide `c_in`, or on overflow.
pub const fn conv2d_cols_len(
    c_in: usize,
    groups: usize,
    kh: usize,
    kw: usize,
    out_h: usize,
    out_w: usize,
) -> Option<usize> {
    if groups == 0 || !c_in.is_multiple_of(groups) {
        return None;
    }
    checked_product(&[c_in / groups, kh, kw, out_h, out_w])
}

const fn checked_product(factors: &[usize]) -> Option<usize> {
    let mut acc = 1usize;
    let mut i = 0;
    while i < factors.len() {
        acc = match acc.checked_mul(factors[i]) {
            Some(n) => n,
            None => return None,
        };
        i += 1;
    }
    Some(acc)
}

mod sealed {
    pub trait Sealed {}
}

/// The compile-time geometry of a 2-D convolution, implemented only by [`Conv2d`].
///
/// Evaluating a derived constant of an invalid geometry is a compile error (every kernel does).
pub trait Conv2dGeometry: sealed::Sealed {
    /// Input channels.
    const C_IN: usize;
    /// Input height.
    const H: usize;
    /// Input width.
    const W: usize;
    /// Output channels (filters).
    const C_OUT: usize;
    /// Kernel height.
    const KH: usize;
    /// Kernel width.
    const KW: usize;
    /// Vertical stride.
    const SH: usize;
    /// Horizontal stride.
    const SW: usize;
    /// Zero padding above and below.
    const PH: usize;
    /// Zero padding left and right.
    const PW: usize;
    /// Vertical dilation.
    const DH: usize;
    /// Horizontal dilation.
    const DW: usize;
    /// Channel groups (`C_IN` for a depthwise convolution).
    const GROUPS: usize;
    /// Whether the parameter block ends with a bias.
    const BIAS: bool;
    /// Output height, [`conv2d_output_size`]`(H, KH, SH, PH, DH)`.
    const OUT_H: usize;
    /// Output width, [`conv2d_output_size`]`(W, KW, SW, PW, DW)`.
    const OUT_W: usize;
    /// Input channels per group, `C_IN / GROUPS`.
    const GROUP_IN: usize;
    /// Output channels per group, `C_OUT / GROUPS`.
    const GROUP_OUT: usize;
    /// Per-sample input length `C_IN H W`.
    const IN_LEN: usize;
    /// Per-sample output length `C_OUT OH OW`.
    const OUT_LEN: usize;
    /// Weight length `C_OUT (C_IN / GROUPS) KH KW` (the start of the bias in the block).
    const WEIGHT_LEN: usize;
    /// Parameter block length, [`conv2d_param_count`].
    const PARAMS: usize;
    /// Minimum workspace length, [`conv2d_cols_len`].
    const COLS_LEN: usize;
}

/// The geometry of one convolution layer, as const generics (see the [module docs](self)).
///
/// Never constructed: it names a [`Conv2dGeometry`] for the kernels, e.g. the first layer of
/// the W4 benchmark is `Conv2d<1, 28, 28, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, true>`.
#[derive(Clone, Copy, Debug)]
pub struct Conv2d<
    const C_IN: usize,
    const H: usize,
    const W: usize,
    const C_OUT: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PH: usize,
    const PW: usize,
    const DH: usize,
    const DW: usize,
    const GROUPS: usize,
    const BIAS: bool,
>;

macro_rules! conv2d_impl {
    ($($item:item)*) => {
        impl<
                const C_IN: usize,
                const H: usize,
                const W: usize,
                const C_OUT: usize,
                const KH: usize,
                const KW: usize,
                const SH: usize,
                const SW: usize,
                const PH: usize,
                const PW: usize,
                const DH: usize,
                const DW: usize,
                const GROUPS: usize,
                const BIAS: bool,
            > sealed::Sealed
            for Conv2d<C_IN, H, W, C_OUT, KH, KW, SH, SW, PH, PW, DH, DW, GROUPS, BIAS>
        {
        }
        impl<
                const C_IN: usize,
                const H: usize,
                const W: usize,
                const C_OUT: usize,
                const KH: usize,
                const KW: usize,
                const SH: usize,
                const SW: usize,
                const PH: usize,
                const PW: usize,
                const DH: usize,
                const DW: usize,
                const GROUPS: usize,
                const BIAS: bool,
            > Conv2dGeometry
            for Conv2d<C_IN, H, W, C_OUT, KH, KW, SH, SW, PH, PW, DH, DW, GROUPS, BIAS>
        {
            $($item)*
        }
    };
}

conv2d_impl! {
    const C_IN: usize = C_IN;
    const H: usize = H;
    const W: usize = W;
    const C_OUT: usize = C_OUT;
    const KH: usize = KH;
    const KW: usize = KW;
    const SH: usize = SH;
    const SW: usize = SW;
    const PH: usize = PH;
    const PW: usize = PW;
    const DH: usize = DH;
    const DW: usize = DW;
    const GROUPS: usize = GROUPS;
    const BIAS: bool = BIAS;
    const OUT_H: usize = match conv2d_output_size(H, KH, SH, PH, DH) {
        Some(n) => n,
        None => panic!(
            "conv2d: empty output height: need H + 2 PH >= DH (KH - 1) + 1 and H, KH, SH, DH >= 1"
        ),
    };
    const OUT_W: usize = match conv2d_output_size(W, KW, SW, PW, DW) {
        Some(n) => n,
        None => panic!(
            "conv2d: empty output width: need W + 2 PW >= DW (KW - 1) + 1 and W, KW, SW, DW >= 1"
        ),
    };
    const GROUP_IN: usize = {
        assert!(
            GROUPS >= 1 && C_IN.is_multiple_of(GROUPS) && C_OUT.is_multiple_of(GROUPS),
            "conv2d: GROUPS must be >= 1 and divide both C_IN and C_OUT"
        );
        C_IN / GROUPS
    };
    const GROUP_OUT: usize = {
        assert!(
            GROUPS >= 1 && C_IN.is_multiple_of(GROUPS) && C_OUT.is_multiple_of(GROUPS),
            "conv2d: GROUPS must be >= 1 and divide both C_IN and C_OUT"
        );
        C_OUT / GROUPS
    };
    const IN_LEN: usize = C_IN * H * W;
    const OUT_LEN: usize = C_OUT * Self::OUT_H * Self::OUT_W;
    const WEIGHT_LEN: usize = C_OUT * Self::GROUP_IN * KH * KW;
    const PARAMS: usize = Self::WEIGHT_LEN + if BIAS { C_OUT } else { 0 };
    const COLS_LEN: usize = Self::GROUP_IN * KH * KW * Self::OUT_H * Self::OUT_W;
}

/// Compile-time check of a kernel's array lengths against its geometry.
const fn assert_lengths<G: Conv2dGeometry>(
    in_len: usize,
    out_len: usize,
    params: usize,
    cols_len: usize,
) {
    assert!(
        G::GROUP_IN * G::GROUPS == G::C_IN && G::GROUP_OUT * G::GROUPS == G::C_OUT,
        "conv2d: GROUPS must divide C_IN and C_OUT"
    );
    assert!(
        in_len == G::IN_LEN,
        "conv2d: IN_LEN must equal C_IN * H * W"
    );
    assert!(
        out_len == G::OUT_LEN,
        "conv2d: OUT_LEN must equal C_OUT * OUT_H * OUT_W"
    );
    assert!(
        params == G::PARAMS,
        "conv2d: PARAMS must equal C_OUT * (C_IN / GROUPS) * KH * KW (+ C_OUT with bias)"
    );
    assert!(
        cols_len >= G::COLS_LEN,
        "conv2d: COLS_LEN must be at least (C_IN / GROUPS) * KH * KW * OUT_H * OUT_W"
    );
}

/// The im2col window of one group.
const fn group_window<G: Conv2dGeometry>() -> Window2d {
    Window2d {
        channels: G::GROUP_IN,
        h: G::H,
        w: G::W,
        kh: G::KH,
        kw: G::KW,
        sh: G::SH,
        sw: G::SW,
        ph: G::PH,
        pw: G::PW,
        dh: G::DH,
        dw: G::DW,
        oh: G::OUT_H,
        ow: G::OUT_W,
    }
}

/// Whether the column matrix equals the input (1x1 kernel, stride 1, no padding).
const fn is_pointwise<G: Conv2dGeometry>() -> bool {
    G::KH == 1 && G::KW == 1 && G::SH == 1 && G::SW == 1 && G::PH == 0 && G::PW == 0
}

/// `C <- op(A) op(B) + beta C` with lengths the geometry guarantees.
#[inline]
fn product<T: Scalar>(
    (transa, a, lda): (Transpose, &[T], usize),
    (transb, b, ldb): (Transpose, &[T], usize),
    (m, n, k): (usize, usize, usize),
    beta: T,
    c: &mut [T],
    ldc: usize,
) {
    if gemm(
        transa,
        transb,
        m,
        n,
        k,
        T::one(),
        a,
        lda,
        b,
        ldb,
        beta,
        c,
        ldc,
    )
    .is_err()
    {
        unreachable!("conv2d: GEMM operand lengths follow from the compile-time geometry");
    }
}

/// The column matrix of one group: the input itself for a pointwise convolution, else im2col
/// into the workspace.
#[inline]
fn columns<'a, T: Scalar, G: Conv2dGeometry>(x_group: &'a [T], cols: &'a mut [T]) -> &'a [T] {
    if is_pointwise::<G>() {
        return x_group;
    }
    let window = const { group_window::<G>() };
    let cols = &mut cols[..G::COLS_LEN];
    if im2col(&window, x_group, cols).is_err() {
        unreachable!("conv2d: im2col lengths follow from the compile-time geometry");
    }
    cols
}

/// Forward pass: `y[b] = conv2d(x[b], weight) + bias` for every sample (formula in the
/// [module docs](self)).
///
/// `params` is the block `[weight | bias]`; `cols` is scratch (contents ignored on entry,
/// unspecified on return). `y` is overwritten.
///
/// ```
/// use monograd_runtime::ops::conv::{conv2d_forward, Conv2d};
/// // The first layer of the W4 benchmark: 1x28x28 -> 8x28x28, 3x3, padding 1, with bias.
/// type Conv1 = Conv2d<1, 28, 28, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, true>;
/// let x = [[0.5f32; 784]; 2];
/// let params = [0.1f32; 80]; // 8 * 1 * 3 * 3 weights, then 8 biases
/// let mut y = [[0.0f32; 6272]; 2];
/// let mut cols = [0.0f32; 7056]; // 1 * 3 * 3 * 28 * 28
/// conv2d_forward::<f32, Conv1, 2, 784, 6272, 80, 7056>(&x, &params, &mut y, &mut cols);
/// assert!((y[1][29] - (0.1 + 9.0 * 0.5 * 0.1)).abs() < 1e-6); // channel 0, row 1, column 1
/// ```
///
/// A length that does not fit the geometry does not compile:
///
/// ```compile_fail
/// # use monograd_runtime::ops::conv::{conv2d_forward, Conv2d};
/// # type Conv1 = Conv2d<1, 28, 28, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, true>;
/// # let x = [[0.5f32; 784]; 2];
/// # let params = [0.1f32; 80];
/// let mut y = [[0.0f32; 6271]; 2]; // one short
/// # let mut cols = [0.0f32; 7056];
/// conv2d_forward::<f32, Conv1, 2, 784, 6271, 80, 7056>(&x, &params, &mut y, &mut cols);
/// ```
///
/// Nor does an invalid geometry, such as groups that do not divide the channels
///
/// ```compile_fail
/// # use monograd_runtime::ops::conv::{conv2d_forward, Conv2d};
/// type Bad = Conv2d<3, 4, 4, 4, 1, 1, 1, 1, 0, 0, 1, 1, 2, false>;
/// let x = [[0.5f32; 48]; 1];
/// let params = [0.1f32; 4];
/// let mut y = [[0.0f32; 64]; 1];
/// let mut cols = [0.0f32; 16];
/// conv2d_forward::<f32, Bad, 1, 48, 64, 4, 16>(&x, &params, &mut y, &mut cols);
/// ```
///
/// or a kernel larger than the padded input (empty output):
///
/// ```compile_fail
/// # use monograd_runtime::ops::conv::{conv2d_forward, Conv2d};
/// type Bad = Conv2d<1, 2, 2, 1, 3, 3, 1, 1, 0, 0, 1, 1, 1, false>;
/// let x = [[0.5f32; 4]; 1];
/// let params = [0.1f32; 9];
/// let mut y = [[0.0f32; 1]; 1];
/// let mut cols = [0.0f32; 9];
/// conv2d_forward::<f32, Bad, 1, 4, 1, 9, 9>(&x, &params, &mut y, &mut cols);
/// ```
pub fn conv2d_forward<
    T: Scalar,
    G: Conv2dGeometry,
    const B: usize,
    const IN_LEN: usize,
    const OUT_LEN: usize,
    const PARAMS: usize,
    const COLS_LEN: usize,
>(
    x: &[[T; IN_LEN]; B],
    params: &[T; PARAMS],
    y: &mut [[T; OUT_LEN]; B],
    cols: &mut [T; COLS_LEN],
) {
    const { assert_lengths::<G>(IN_LEN, OUT_LEN, PARAMS, COLS_LEN) };
    let (weight, bias) = params.split_at(G::WEIGHT_LEN);
    let ck = G::GROUP_IN * G::KH * G::KW;
    let (group_in_len, ohw) = (G::GROUP_IN * G::H * G::W, G::OUT_H * G::OUT_W);
    for (xb, yb) in x.iter().zip(y.iter_mut()) {
        // Starting from the bias and accumulating saves a second pass over y.
        let beta = if G::BIAS {
            for (row, &b) in yb.chunks_exact_mut(ohw).zip(bias) {
                row.fill(b);
            }
            T::one()
        } else {
            T::zero()
        };
        let groups = xb
            .chunks_exact(group_in_len)
            .zip(weight.chunks_exact(G::GROUP_OUT * ck))
            .zip(yb.chunks_exact_mut(G::GROUP_OUT * ohw));
        for ((x_group, w_group), y_group) in groups {
            let cols = columns::<T, G>(x_group, cols);
            product(
                (Transpose::No, w_group, ck),
                (Transpose::No, cols, ohw),
                (G::GROUP_OUT, ohw, ck),
                beta,
                y_group,
                ohw,
            );
        }
    }
}

/// Input gradient: `dx[b] (store) conv2dᵀ(dy[b], weight)`, i.e. `col2im(W_gᵀ dY_g)` per group
/// (formula in the [module docs](self)). The bias does not enter; `x` is not needed.
///
/// `params` is the block `[weight | bias]`; `cols` is scratch.
pub fn conv2d_backward_input<
    T: Scalar,
    G: Conv2dGeometry,
    const B: usize,
    const IN_LEN: usize,
    const OUT_LEN: usize,
    const PARAMS: usize,
    const COLS_LEN: usize,
>(
    dy: &[[T; OUT_LEN]; B],
    params: &[T; PARAMS],
    dx: &mut [[T; IN_LEN]; B],
    cols: &mut [T; COLS_LEN],
    store: Store,
) {
    const { assert_lengths::<G>(IN_LEN, OUT_LEN, PARAMS, COLS_LEN) };
    let weight = &params[..G::WEIGHT_LEN];
    let ck = G::GROUP_IN * G::KH * G::KW;
    let (group_in_len, ohw) = (G::GROUP_IN * G::H * G::W, G::OUT_H * G::OUT_W);
    let window = const { group_window::<G>() };
    let cols = &mut cols[..G::COLS_LEN];
    for (dyb, dxb) in dy.iter().zip(dx.iter_mut()) {
        let groups = dyb
            .chunks_exact(G::GROUP_OUT * ohw)
            .zip(weight.chunks_exact(G::GROUP_OUT * ck))
            .zip(dxb.chunks_exact_mut(group_in_len));
        for ((dy_group, w_group), dx_group) in groups {
            let w_t = (Transpose::Yes, w_group, ck);
            let dy_group = (Transpose::No, dy_group, ohw);
            let dims = (ck, ohw, G::GROUP_OUT);
            if is_pointwise::<G>() {
                // The columns are the input, so the GEMM writes the gradient directly.
                product(w_t, dy_group, dims, store.beta(), dx_group, ohw);
                continue;
            }
            product(w_t, dy_group, dims, T::zero(), cols, ohw);
            if store == Store::Overwrite {
                dx_group.fill(T::zero());
            }
            if col2im_add(&window, cols, dx_group).is_err() {
                unreachable!("conv2d: col2im lengths follow from the compile-time geometry");
            }
        }
    }
}

/// Parameter gradient: `dweight (store) sum_b dY_g[b] cols_g(x[b])ᵀ` per group and
/// `dbias (store) sum_{b, oy, ox} dy` (formula in the [module docs](self)), into the block
/// `dparams = [dweight | dbias]`.
///
/// The columns are recomputed from `x` into the scratch `cols`.
pub fn conv2d_backward_params<
    T: Scalar,
    G: Conv2dGeometry,
    const B: usize,
    const IN_LEN: usize,
    const OUT_LEN: usize,
    const PARAMS: usize,
    const COLS_LEN: usize,
>(
    x: &[[T; IN_LEN]; B],
    dy: &[[T; OUT_LEN]; B],
    dparams: &mut [T; PARAMS],
    cols: &mut [T; COLS_LEN],
    store: Store,
) {
    const { assert_lengths::<G>(IN_LEN, OUT_LEN, PARAMS, COLS_LEN) };
    if B == 0 {
        if store == Store::Overwrite {
            dparams.fill(T::zero());
        }
        return;
    }
    let (dweight, dbias) = dparams.split_at_mut(G::WEIGHT_LEN);
    let ck = G::GROUP_IN * G::KH * G::KW;
    let (group_in_len, ohw) = (G::GROUP_IN * G::H * G::W, G::OUT_H * G::OUT_W);
    for (b, (xb, dyb)) in x.iter().zip(dy).enumerate() {
        // The first sample applies the caller's store mode, later ones add to it.
        let beta = if b == 0 { store.beta() } else { T::one() };
        let groups = xb
            .chunks_exact(group_in_len)
            .zip(dyb.chunks_exact(G::GROUP_OUT * ohw))
            .zip(dweight.chunks_exact_mut(G::GROUP_OUT * ck));
        for ((x_group, dy_group), dw_group) in groups {
            let cols = columns::<T, G>(x_group, cols);
            product(
                (Transpose::No, dy_group, ohw),
                (Transpose::Yes, cols, ohw),
                (G::GROUP_OUT, ck, ohw),
                beta,
                dw_group,
                ck,
            );
        }
    }
    for (o, db) in dbias.iter_mut().enumerate() {
        let sum = dy
            .iter()
            .map(|dyb| dyb[o * ohw..(o + 1) * ohw].iter().copied().sum::<T>())
            .sum::<T>();
        store.apply(db, sum);
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests;
