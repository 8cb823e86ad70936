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
//! The same geometry can be written with names: a [`Conv2dShape`] constant (`in_channels: 1,
//! kernel: [3, 3], stride: [1, 1], ...`) that a type gives through [`Conv2dLayer`]`<NODE>`, read
//! by the kernels as [`NetworkConv2d`]`<Net, NODE>`. `network!` declares each convolution layer
//! so (`Net::C_GEOMETRY`); it costs nothing at run time either.
//!
//! The output size follows PyTorch (floor):
//! `OH = (H + 2 PH - DH (KH - 1) - 1) / SH + 1`, likewise `OW`.
//!
//! # 1-D convolution
//! PyTorch's `nn.Conv1d` over per-sample `[C, L]` sequences is this convolution over `[C, 1, L]`
//! with `H = KH = 1`, `SH = DH = 1`, `PH = 0`: the flat data are identical (`[C, L]` is `[C, 1,
//! L]`, the weight `[C_OUT, C_IN / GROUPS, K]` is `[C_OUT, C_IN / GROUPS, 1, K]`), so the same
//! kernels serve it with no copy; `network!` generates `conv1d` this way. Tested against
//! `F.conv1d`.
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
//! Per sample and group, im2col (the layout of [`crate::kernels::im2col`]) gathers the input
//! windows into a `[(C_IN / GROUPS) KH KW][OH OW]` column matrix and one GEMM gives
//! `Y_g = W_g cols` directly in the `[C, H, W]` output layout. Backward: `dW_g += dY_g colsᵀ`
//! (columns recomputed from `x`) and `dx_g = col2im(W_gᵀ dY_g)`. The column matrix, followed by
//! a zero-padded copy of one group's input image when the convolution pads (it turns every row
//! of a strided gather into copies of a compile-time length; stride-1 convolutions gather from
//! the image itself and leave it unused, see `conv/columns.rs`), lives in a
//! caller-provided workspace of [`Conv2dGeometry::WORKSPACE_LEN`] elements (see
//! [`conv2d_workspace_len`]); a longer workspace is accepted, so one buffer sized for the
//! largest layer can serve a whole network. A stride-1 convolution that keeps the image size,
//! whose forward product runs on the packed GEMM kernels, skips the column matrix: each of its
//! rows is a run of one of `KW` shifted copies of an input channel, from which the GEMM packs
//! it directly (the same result, bit for bit). A 1x1 convolution with stride 1 and no padding uses
//! the input as its column matrix and leaves the workspace untouched. Nothing allocates.
//! Batching the samples into larger GEMMs was measured and lost for the forward pass and the
//! input gradient (see `conv/im2col_gemm.rs`). The weight gradient of a stride-1 convolution
//! batches them when its workspace holds at least two samples' columns and upstream gradients
//! ([`conv2d_weight_workspace_len`] elements; a generated network's training tape gives it that
//! buffer, up to [`CONV2D_WEIGHT_BATCH_BUDGET`] elements): one product then adds up several
//! samples, instead of each sample's product reducing and storing its own tiles. Where it keeps
//! the image size (and its product is not large enough to pack), that product reads the column
//! matrix's rows from shifted copies of the samples' input channels, segment by segment, and
//! the upstream gradients in place, instead of gathering either.
//!
//! A convolution of one input channel that keeps the image size with stride 1 (the first layer
//! of an image network) runs its forward pass and weight gradient on shifted copies of the
//! image instead (`conv/shifted.rs`): its column matrix has only `KH KW` rows, too few for the
//! GEMM to pay for im2col and packing. Its input gradient, which a first layer never needs, stays
//! on the GEMM.
//!
//! Tiny groups (depthwise and small grouped convolutions) make the per-group GEMMs too small to
//! pay for im2col and packing; those geometries run direct loops instead for the forward pass
//! and the input gradient (one multiply-add per tap over each output row), chosen at compile
//! time per pass (see `conv/direct.rs` for the rules and the measurements); the weight gradient
//! always runs on the GEMM, which won on every geometry measured. Both paths compute the same
//! formulas and are tested against the same references; the direct path leaves the workspace
//! untouched.

use crate::kernels::Store;
use crate::Scalar;

mod columns;
mod direct;
mod geometry;
mod im2col_gemm;
mod shifted;

use geometry::{assert_lengths, group_window};
pub use geometry::{
    conv2d_cols_len, conv2d_output_remainder, conv2d_output_size, conv2d_param_count,
    conv2d_workspace_len, Conv2d, Conv2dGeometry, Conv2dLayer, Conv2dShape, NetworkConv2d,
};

/// Which loops the forward or input-gradient pass runs on, fixed at compile time by the
/// geometry (tests run both). The weight gradient always runs on the GEMM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    /// im2col + GEMM ([`im2col_gemm`]).
    Gemm,
    /// Direct loops for tiny groups ([`direct`]).
    Direct,
    /// Shifted copies of a single-channel image ([`shifted`]), forward pass only.
    Shifted,
}

impl Path {
    /// The path of the weight gradient: shifted copies where they apply, else the GEMM.
    const fn weight<G: Conv2dGeometry>() -> Path {
        if shifted::weight_applies::<G>() {
            Path::Shifted
        } else {
            Path::Gemm
        }
    }

    /// The path of the forward pass.
    const fn forward<G: Conv2dGeometry>() -> Path {
        if shifted::applies::<G>() {
            Path::Shifted
        } else if direct::direct_forward::<G>() {
            Path::Direct
        } else {
            Path::Gemm
        }
    }

    /// The path of the input gradient.
    const fn input<G: Conv2dGeometry>() -> Path {
        if direct::direct_input::<G>() {
            Path::Direct
        } else {
            Path::Gemm
        }
    }
}

/// Forward pass: `y[b] = conv2d(x[b], weight) + bias` for every sample (formula in the
/// [module docs](self)).
///
/// `params` is the block `[weight | bias]`; `workspace` is scratch (contents ignored on entry,
/// unspecified on return) of at least [`Conv2dGeometry::WORKSPACE_LEN`] elements. `y` is
/// overwritten.
///
/// ```
/// use monograd_runtime::ops::conv::{conv2d_forward, Conv2d};
/// // The first layer of the W4 benchmark: 1x28x28 -> 8x28x28, 3x3, padding 1, with bias.
/// type Conv1 = Conv2d<1, 28, 28, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, true>;
/// let x = [[0.5f32; 784]; 2];
/// let params = [0.1f32; 80]; // 8 * 1 * 3 * 3 weights, then 8 biases
/// let mut y = [[0.0f32; 6272]; 2];
/// let mut workspace = [0.0f32; 7956]; // 1 * (3 * 3 * 28 * 28 + 30 * 30)
/// conv2d_forward::<f32, Conv1, 2, 784, 6272, 80, 7956>(&x, &params, &mut y, &mut workspace);
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
/// # let mut workspace = [0.0f32; 7956];
/// conv2d_forward::<f32, Conv1, 2, 784, 6271, 80, 7956>(&x, &params, &mut y, &mut workspace);
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
/// let mut workspace = [0.0f32; 16];
/// conv2d_forward::<f32, Bad, 1, 48, 64, 4, 16>(&x, &params, &mut y, &mut workspace);
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
/// let mut workspace = [0.0f32; 9];
/// conv2d_forward::<f32, Bad, 1, 4, 1, 9, 9>(&x, &params, &mut y, &mut workspace);
/// ```
pub fn conv2d_forward<
    T: Scalar,
    G: Conv2dGeometry,
    const B: usize,
    const IN_LEN: usize,
    const OUT_LEN: usize,
    const PARAMS: usize,
    const WS_LEN: usize,
>(
    x: &[[T; IN_LEN]; B],
    params: &[T; PARAMS],
    y: &mut [[T; OUT_LEN]; B],
    workspace: &mut [T; WS_LEN],
) {
    conv2d_forward_packed::<T, G, B, IN_LEN, OUT_LEN, PARAMS, WS_LEN>(
        x,
        params,
        y,
        workspace,
        &mut [],
    );
}

/// [`conv2d_forward`] with scratch for the packed GEMM: `pack` (contents ignored on entry,
/// unspecified on return) of at least [`conv2d_pack_len`] elements lets the large products run
/// on the packed kernels; a shorter one (an empty slice included) runs them unpacked. Neither
/// allocates.
pub fn conv2d_forward_packed<
    T: Scalar,
    G: Conv2dGeometry,
    const B: usize,
    const IN_LEN: usize,
    const OUT_LEN: usize,
    const PARAMS: usize,
    const WS_LEN: usize,
>(
    x: &[[T; IN_LEN]; B],
    params: &[T; PARAMS],
    y: &mut [[T; OUT_LEN]; B],
    workspace: &mut [T; WS_LEN],
    pack: &mut [T],
) {
    const { assert_lengths::<G>(IN_LEN, OUT_LEN, PARAMS, WS_LEN) };
    forward_on::<T, G>(
        const { Path::forward::<G>() },
        x.as_flattened(),
        params,
        y.as_flattened_mut(),
        workspace,
        pack,
    );
}

/// Elements of workspace at which [`conv2d_backward_params`] batches the samples of its weight
/// gradient (at least [`Conv2dGeometry::WORKSPACE_LEN`]; equal to it where it does not batch:
/// strides above 1, pointwise and single-channel shifted-path convolutions, or samples too large
/// for two of them to fit in [`CONV2D_WEIGHT_BATCH_BUDGET`] elements): 4 samples' shifted copies
/// of the input channels where the convolution keeps the image size (`KW` copies per channel),
/// else 8 samples' columns and upstream gradients, or as many as fit in the budget. With a
/// shorter workspace (down to `WORKSPACE_LEN`) the weight gradient batches fewer samples, or
/// none: same results within rounding, more time.
pub const fn conv2d_weight_workspace_len<G: Conv2dGeometry>() -> usize {
    if matches!(Path::weight::<G>(), Path::Shifted) {
        G::WORKSPACE_LEN
    } else {
        im2col_gemm::weight_workspace_len::<G>()
    }
}

/// Elements (512 KB of `f32`) up to which [`conv2d_weight_workspace_len`] asks for a batched
/// weight gradient's columns: on W4's second layer (`BENCHMARKS.md`, AMD Zen 3), batches of 3,
/// 7, 14 and 32 samples were within 5 % of each other, 0.75x the time of one sample per product.
pub const CONV2D_WEIGHT_BATCH_BUDGET: usize = im2col_gemm::WEIGHT_BATCH_BUDGET;

/// Elements of packing scratch the `_packed` convolution functions of `G` use (the most any
/// of its GEMMs needs; 0 when all of them are small enough to run unpacked, or its passes run
/// on the direct loops).
pub const fn conv2d_pack_len<T: Scalar, G: Conv2dGeometry>() -> usize {
    let forward = matches!(Path::forward::<G>(), Path::Gemm);
    let input = matches!(Path::input::<G>(), Path::Gemm);
    im2col_gemm::pack_len::<T, G>(forward, input)
}

/// [`conv2d_forward`] over flat batches whose lengths the caller checked, on a given path.
fn forward_on<T: Scalar, G: Conv2dGeometry>(
    path: Path,
    x: &[T],
    params: &[T],
    y: &mut [T],
    workspace: &mut [T],
    pack: &mut [T],
) {
    let (weight, bias) = params.split_at(G::WEIGHT_LEN);
    if path == Path::Shifted {
        return shifted::forward::<T, G>(x, weight, bias, y, workspace);
    }
    let ohw = G::OUT_H * G::OUT_W;
    for (xb, yb) in x
        .chunks_exact(G::IN_LEN)
        .zip(y.chunks_exact_mut(G::OUT_LEN))
    {
        // Starting from the bias and accumulating saves a second pass over y.
        if G::BIAS {
            for (row, &b) in yb.chunks_exact_mut(ohw).zip(bias) {
                row.fill(b);
            }
        }
        match path {
            Path::Gemm => {
                let beta = if G::BIAS { T::one() } else { T::zero() };
                im2col_gemm::forward::<T, G>(xb, weight, beta, yb, workspace, pack);
            }
            Path::Direct => {
                if !G::BIAS {
                    yb.fill(T::zero());
                }
                direct::forward::<T, G>(xb, weight, yb);
            }
            Path::Shifted => unreachable!("handled above"),
        }
    }
}

/// Input gradient: `dx[b] (store) conv2dᵀ(dy[b], weight)`, i.e. `col2im(W_gᵀ dY_g)` per group
/// (formula in the [module docs](self)). The bias does not enter; `x` is not needed.
///
/// `params` is the block `[weight | bias]`; `workspace` is scratch.
pub fn conv2d_backward_input<
    T: Scalar,
    G: Conv2dGeometry,
    const B: usize,
    const IN_LEN: usize,
    const OUT_LEN: usize,
    const PARAMS: usize,
    const WS_LEN: usize,
>(
    dy: &[[T; OUT_LEN]; B],
    params: &[T; PARAMS],
    dx: &mut [[T; IN_LEN]; B],
    workspace: &mut [T; WS_LEN],
    store: Store,
) {
    conv2d_backward_input_packed::<T, G, B, IN_LEN, OUT_LEN, PARAMS, WS_LEN>(
        dy,
        params,
        dx,
        workspace,
        store,
        &mut [],
    );
}

/// [`conv2d_backward_input`] with scratch for the packed GEMM (see [`conv2d_forward_packed`]).
pub fn conv2d_backward_input_packed<
    T: Scalar,
    G: Conv2dGeometry,
    const B: usize,
    const IN_LEN: usize,
    const OUT_LEN: usize,
    const PARAMS: usize,
    const WS_LEN: usize,
>(
    dy: &[[T; OUT_LEN]; B],
    params: &[T; PARAMS],
    dx: &mut [[T; IN_LEN]; B],
    workspace: &mut [T; WS_LEN],
    store: Store,
    pack: &mut [T],
) {
    const { assert_lengths::<G>(IN_LEN, OUT_LEN, PARAMS, WS_LEN) };
    let path = const { Path::input::<G>() };
    backward_input_on::<T, G>(
        path,
        dy.as_flattened(),
        params,
        dx.as_flattened_mut(),
        workspace,
        store,
        pack,
    );
}

/// [`conv2d_backward_input`] over flat batches, on a given path.
fn backward_input_on<T: Scalar, G: Conv2dGeometry>(
    path: Path,
    dy: &[T],
    params: &[T],
    dx: &mut [T],
    workspace: &mut [T],
    store: Store,
    pack: &mut [T],
) {
    let weight = &params[..G::WEIGHT_LEN];
    for (dyb, dxb) in dy
        .chunks_exact(G::OUT_LEN)
        .zip(dx.chunks_exact_mut(G::IN_LEN))
    {
        match path {
            // The shifted copies serve the forward pass only.
            Path::Gemm | Path::Shifted => {
                im2col_gemm::backward_input::<T, G>(dyb, weight, dxb, workspace, store, pack)
            }
            Path::Direct => {
                if store == Store::Overwrite {
                    dxb.fill(T::zero());
                }
                direct::backward_input::<T, G>(dyb, weight, dxb);
            }
        }
    }
}

/// Parameter gradient: `dweight (store) sum_b dY_g[b] cols_g(x[b])ᵀ` per group and
/// `dbias (store) sum_{b, oy, ox} dy` (formula in the [module docs](self)), into the block
/// `dparams = [dweight | dbias]`.
///
/// The columns are recomputed from `x` into the scratch `workspace`.
pub fn conv2d_backward_params<
    T: Scalar,
    G: Conv2dGeometry,
    const B: usize,
    const IN_LEN: usize,
    const OUT_LEN: usize,
    const PARAMS: usize,
    const WS_LEN: usize,
>(
    x: &[[T; IN_LEN]; B],
    dy: &[[T; OUT_LEN]; B],
    dparams: &mut [T; PARAMS],
    workspace: &mut [T; WS_LEN],
    store: Store,
) {
    conv2d_backward_params_packed::<T, G, B, IN_LEN, OUT_LEN, PARAMS, WS_LEN>(
        x,
        dy,
        dparams,
        workspace,
        store,
        &mut [],
    );
}

/// [`conv2d_backward_params`] with scratch for the packed GEMM (see [`conv2d_forward_packed`]).
pub fn conv2d_backward_params_packed<
    T: Scalar,
    G: Conv2dGeometry,
    const B: usize,
    const IN_LEN: usize,
    const OUT_LEN: usize,
    const PARAMS: usize,
    const WS_LEN: usize,
>(
    x: &[[T; IN_LEN]; B],
    dy: &[[T; OUT_LEN]; B],
    dparams: &mut [T; PARAMS],
    workspace: &mut [T; WS_LEN],
    store: Store,
    pack: &mut [T],
) {
    const { assert_lengths::<G>(IN_LEN, OUT_LEN, PARAMS, WS_LEN) };
    backward_params_on::<T, G>(
        x.as_flattened(),
        dy.as_flattened(),
        dparams,
        workspace,
        store,
        pack,
    );
}

/// [`conv2d_backward_params`] over flat batches.
fn backward_params_on<T: Scalar, G: Conv2dGeometry>(
    x: &[T],
    dy: &[T],
    dparams: &mut [T],
    workspace: &mut [T],
    store: Store,
    pack: &mut [T],
) {
    let path = const { Path::weight::<G>() };
    backward_params_path::<T, G>(path, x, dy, dparams, workspace, store, pack);
}

/// [`backward_params_on`] on a given path ([`Path::Shifted`] or the GEMM).
fn backward_params_path<T: Scalar, G: Conv2dGeometry>(
    path: Path,
    x: &[T],
    dy: &[T],
    dparams: &mut [T],
    workspace: &mut [T],
    store: Store,
    pack: &mut [T],
) {
    let (dweight, dbias) = dparams.split_at_mut(G::WEIGHT_LEN);
    if path == Path::Shifted {
        return shifted::backward_weight::<T, G>(x, dy, dweight, dbias, workspace, store);
    }
    if store == Store::Overwrite && x.is_empty() {
        // An empty batch must still overwrite.
        dweight.fill(T::zero());
        dbias.fill(T::zero());
    }
    let copies = workspace.len() / im2col_gemm::copies_per_sample::<G>();
    if im2col_gemm::weight_from_copies::<G>() && copies >= 1 {
        // The bias too, batch by batch while the batch's `dy` is in cache.
        return im2col_gemm::backward_weight_from_copies::<T, G>(
            x, dy, dweight, dbias, workspace, store,
        );
    }
    let batch = workspace.len() / im2col_gemm::weight_batch_per_sample::<G>();
    if im2col_gemm::weight_batches::<G>() && batch >= 2 && x.len() >= 2 * G::IN_LEN {
        im2col_gemm::backward_weight_batched::<T, G>(x, dy, store.beta(), dweight, workspace, pack);
    } else {
        let samples = x.chunks_exact(G::IN_LEN).zip(dy.chunks_exact(G::OUT_LEN));
        for (b, (xb, dyb)) in samples.enumerate() {
            // The first sample applies the caller's store mode, later ones add to it.
            let beta = if b == 0 { store.beta() } else { T::one() };
            im2col_gemm::backward_weight::<T, G>(xb, dyb, beta, dweight, workspace, pack);
        }
    }
    bias_gradient::<T, G>(dy, dbias, store);
}

/// `dbias[o] (store)` the sum of output channel `o` of every sample of `dy` ([`sum_rows`]);
/// nothing without a bias (`dbias` empty).
fn bias_gradient<T: Scalar, G: Conv2dGeometry>(dy: &[T], dbias: &mut [T], store: Store) {
    let ohw = G::OUT_H * G::OUT_W;
    for (o, db) in dbias.iter_mut().enumerate() {
        let rows = dy
            .chunks_exact(G::OUT_LEN)
            .map(|dyb| &dyb[o * ohw..(o + 1) * ohw]);
        store.apply(db, sum_rows(rows));
    }
}

/// The sum of every element of `rows`, in [`SUM_LANES`] running partial sums (lane `l` adds the
/// elements at `l` modulo [`SUM_LANES`] of each row) reduced at the end.
///
/// One running sum is a chain of dependent additions (the compiler may not reorder them), so
/// it runs at the latency of an add, not at vector throughput. W4 (f32, batch 32, medians):
/// the bias gradient of its first layer (8 channels x 784 pixels) 145 -> 14.5 us, of its second
/// (16 x 196) 52 -> 8 us. Rounding differs from a serial sum, as it would between summation
/// orders in any library.
fn sum_rows<'a, T: Scalar>(rows: impl Iterator<Item = &'a [T]>) -> T {
    let mut lanes = [T::zero(); SUM_LANES];
    let mut tail = T::zero();
    for row in rows {
        let (chunks, rest) = row.as_chunks::<SUM_LANES>();
        for chunk in chunks {
            for (l, &v) in lanes.iter_mut().zip(chunk) {
                *l += v;
            }
        }
        for &v in rest {
            tail += v;
        }
    }
    let mut width = SUM_LANES;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            lanes[l] += lanes[l + width];
        }
    }
    lanes[0] + tail
}

/// Partial sums of [`sum_rows`]: 16 f32 (four 128-bit or one 512-bit register), enough
/// independent adds to hide their latency.
const SUM_LANES: usize = 16;

#[cfg(all(test, feature = "alloc"))]
mod tests;
