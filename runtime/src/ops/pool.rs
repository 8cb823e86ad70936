//! Pooling over per-sample `[C, H, W]` images: max pooling, average pooling and global average
//! pooling, as PyTorch's `MaxPool2d`, `AvgPool2d` and `AdaptiveAvgPool2d(1)` + flatten.
//!
//! # Geometry
//! A pooling window is the zero-sized type [`Pool2d`]`<C, H, W, KH, KW, SH, SW, PH, PW, DH, DW>`
//! (kernel, stride, padding, dilation; PyTorch's default stride is the kernel size, which the
//! caller writes out). Its output size is PyTorch's with `ceil_mode=False`:
//! `OH = (H + 2 PH - DH (KH - 1) - 1) / SH + 1` ([`pool2d_output_size`]), which drops the input
//! rows and columns past the last whole window when the stride does not divide the rest.
//! [`Pool2dCeil`] (same parameters) is PyTorch's `ceil_mode=True`: the division rounds up, so a
//! last, partial window covers them, except that a window must start inside the input or the
//! left padding ([`pool2d_output_size_ceil`]). As in PyTorch the padding may be at most half
//! the kernel (`PH <= KH / 2`); an invalid geometry fails to compile, and so does a length that
//! does not fit it. Pooling has no parameters and no workspace.
//!
//! The same geometry can be written with names, as for convolutions: a [`Pool2dShape`]
//! constant (`channels`, `kernel`, `stride`, ..., `ceil_mode`) that a type gives through
//! [`Pool2dLayer`]`<NODE>`, read by the kernels as [`NetworkPool2d`]`<Net, NODE>`; `network!`
//! declares each pooling layer so (`Net::P_GEOMETRY`).
//!
//! PyTorch's `MaxPool1d` / `AvgPool1d` over per-sample `[C, L]` sequences are these over
//! `[C, 1, L]` with `H = KH = 1` (`SH = DH = 1`, `PH = 0`): `network!` generates `max_pool1d`
//! and `avg_pool1d` this way. Tested against `F.max_pool1d` and `F.avg_pool1d`.
//!
//! # Formulas
//! With `window(oy, ox)` the taps `(oy SH + i DH - PH, ox SW + j DW - PW)` that fall inside the
//! image:
//!
//! ```text
//! max:  y[c][oy][ox] = x[c][a],  a = first argmax over window(oy, ox) (row-major order)
//!       dx[c][a] += dy[c][oy][ox]
//! avg:  y[c][oy][ox] = sum_{window(oy, ox)} x[c][.] / (KH KW)
//!       dx[c][p] += dy[c][oy][ox] / (KH KW)   for p in window(oy, ox)
//! global avg: y[c] = sum_p x[c][p] / (H W),   dx[c][p] = dy[c] / (H W)
//! ```
//!
//! Max pooling treats the padding as `-inf` (it never wins), breaks ties by the first position
//! in row-major order and lets NaN win, exactly as PyTorch's CPU kernel; a window whose taps all
//! fall into the padding (possible only with a large dilation) gives `-inf` and passes no
//! gradient (PyTorch 2.15 also gives `-inf`, and its backward then aborts with a heap
//! corruption). Average pooling counts the padding as zeros in the divisor
//! (`count_include_pad=True`): with `ceil_mode=False` no window reaches beyond the padding, so
//! the divisor is always `KH KW`; with `ceil_mode=True` a last window that reaches beyond the
//! padded input divides by the part of it inside (PyTorch's `(hend - hstart) (wend - wstart)`
//! with `hend = min(hstart + KH, H + PH)`). Average pooling has no dilation in PyTorch; `DH = DW = 1` is
//! required at compile time.
//!
//! Max pooling's backward recomputes the argmax from `x` instead of keeping an index buffer from
//! the forward pass: the recomputation costs one more forward (cheap, memory-bound), needs no
//! extra buffer in the training tape, keeps inference and training forward identical, and
//! follows the same rule as the forward pass, so it routes each gradient to the very element
//! the forward pass chose. When the windows tile the image (stride = kernel, 2x2 or 3x3, no
//! padding or dilation) the backward runs blocks of windows through vector compares and writes
//! `dx` once without a zero fill (`pool/tiled.rs`, 2.3x faster on W4's first pooling layer);
//! when they tile it exactly (no rows or columns left over), the forward pass reduces rows of
//! windows in two flat vector passes (`pool/tiled.rs`, 4x faster on W4's layers), and so does
//! the backward, routing each window's gradient in a few more (1.4-1.6x faster than the blocks
//! of windows on W4's layers). For 2x2 windows of `f32` on CPUs with AVX2 (rows of 8 or more),
//! both passes instead run a block of 4 windows from loads to stores in registers
//! (`pool/avx2.rs`, the same bits; W4's backward with the ReLU fused in 111 -> 64 us and 56 ->
//! 35 us on its two layers, Zen 3).
//!
//! A ReLU whose output only a max pooling reads (`pool(relu(conv(x)))`, the usual CNN block)
//! has its backward computed by the pooling's, chunk by chunk while the chunk is in L1
//! ([`max_pool2d_relu_backward`], which `network!` calls for that pattern): the same values as
//! the two passes, the ReLU's pass over three whole arrays saved. Forward, a ReLU computed right
//! before a max pooling of its output is computed by the pooling's call
//! ([`max_pool2d_relu_forward`]): its output is written as before, but pooled without being
//! read back (W4's forward pass 403-406 -> 378-381 µs, Zen 3).
//!
//! # Flatten
//! Flatten needs no kernel: a per-sample `[C, H, W]` tensor is already stored as its flat
//! `[C H W]` vector (channel-major, as `torch.flatten(x, 1)` orders it), so the next layer reads
//! the same buffer.

use core::hint::select_unpredictable;
use core::marker::PhantomData;

use crate::kernels::Store;
use crate::ops::conv::conv2d_output_size;
use crate::Scalar;

#[cfg(all(feature = "std", target_arch = "x86_64"))]
mod avx2;
mod tiled;

#[cfg(all(feature = "std", target_arch = "x86_64"))]
pub(crate) use avx2::{max_pool_2x2_backward_f32, max_pool_2x2_forward_f32};

/// Output length along one axis of a pooling window (PyTorch, `ceil_mode=False`):
/// `(input + 2 padding - dilation (kernel - 1) - 1) / stride + 1`.
///
/// `None` when the output would be empty, when `input`, `kernel`, `stride` or `dilation` is 0,
/// or when `padding > kernel / 2` (PyTorch rejects that). Use
/// [`crate::ops::conv::conv2d_output_remainder`] to detect a floored ("fractional") size.
pub const fn pool2d_output_size(
    input: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
) -> Option<usize> {
    if padding > kernel / 2 {
        return None;
    }
    conv2d_output_size(input, kernel, stride, padding, dilation)
}

/// Output length along one axis with PyTorch's `ceil_mode=True`:
/// `ceil((input + 2 padding - dilation (kernel - 1) - 1) / stride) + 1`, minus one when that
/// last window would start at or beyond `input + padding` (in the right padding only).
///
/// `None` in the cases of [`pool2d_output_size`].
pub const fn pool2d_output_size_ceil(
    input: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
) -> Option<usize> {
    let (floor, remainder) = match (
        pool2d_output_size(input, kernel, stride, padding, dilation),
        crate::ops::conv::conv2d_output_remainder(input, kernel, stride, padding, dilation),
    ) {
        (Some(n), Some(r)) => (n, r),
        _ => return None,
    };
    if remainder == 0 || floor * stride >= input + padding {
        Some(floor)
    } else {
        Some(floor + 1)
    }
}

mod sealed {
    pub trait Sealed {}
}

/// The compile-time geometry of a 2-D pooling window, implemented only by [`Pool2d`] and
/// [`Pool2dCeil`] (positional const generics) and [`NetworkPool2d`] (a network's named
/// [`Pool2dShape`]). Each gives the twelve values the layer is declared with; the output size
/// and lengths derive from them.
pub trait Pool2dGeometry: sealed::Sealed {
    /// Channels.
    const C: usize;
    /// Input height.
    const H: usize;
    /// Input width.
    const W: usize;
    /// Window height.
    const KH: usize;
    /// Window width.
    const KW: usize;
    /// Vertical stride.
    const SH: usize;
    /// Horizontal stride.
    const SW: usize;
    /// Padding above and below.
    const PH: usize;
    /// Padding left and right.
    const PW: usize;
    /// Vertical dilation.
    const DH: usize;
    /// Horizontal dilation.
    const DW: usize;
    /// PyTorch's `ceil_mode`: whether the output sizes round up ([`Pool2dCeil`]).
    const CEIL: bool;
    /// Output height, [`pool2d_output_size`]`(H, KH, SH, PH, DH)` (or
    /// [`pool2d_output_size_ceil`]).
    const OUT_H: usize =
        match output_size(Self::CEIL, Self::H, Self::KH, Self::SH, Self::PH, Self::DH) {
            Some(n) => n,
            None => panic!(
                "pool2d: invalid height: need PH <= KH / 2, H + 2 PH >= DH (KH - 1) + 1 and \
             H, KH, SH, DH >= 1"
            ),
        };
    /// Output width, [`pool2d_output_size`]`(W, KW, SW, PW, DW)` (or
    /// [`pool2d_output_size_ceil`]).
    const OUT_W: usize =
        match output_size(Self::CEIL, Self::W, Self::KW, Self::SW, Self::PW, Self::DW) {
            Some(n) => n,
            None => panic!(
                "pool2d: invalid width: need PW <= KW / 2, W + 2 PW >= DW (KW - 1) + 1 and \
             W, KW, SW, DW >= 1"
            ),
        };
    /// Per-sample input length `C H W`.
    const IN_LEN: usize = Self::C * Self::H * Self::W;
    /// Per-sample output length `C OH OW`.
    const OUT_LEN: usize = Self::C * Self::OUT_H * Self::OUT_W;
}

/// [`pool2d_output_size_ceil`] when `ceil`, else [`pool2d_output_size`].
const fn output_size(
    ceil: bool,
    input: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
) -> Option<usize> {
    if ceil {
        pool2d_output_size_ceil(input, kernel, stride, padding, dilation)
    } else {
        pool2d_output_size(input, kernel, stride, padding, dilation)
    }
}

/// The geometry of one pooling layer, as const generics (see the [module docs](self)).
///
/// Never constructed. E.g. the first pooling of the W4 benchmark (2x2, stride 2) is
/// `Pool2d<8, 28, 28, 2, 2, 2, 2, 0, 0, 1, 1>`.
#[derive(Clone, Copy, Debug)]
pub struct Pool2d<
    const C: usize,
    const H: usize,
    const W: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PH: usize,
    const PW: usize,
    const DH: usize,
    const DW: usize,
>;

/// [`Pool2d`] with PyTorch's `ceil_mode=True` (see the [module docs](self)): the same
/// parameters, output sizes from [`pool2d_output_size_ceil`].
#[derive(Clone, Copy, Debug)]
pub struct Pool2dCeil<
    const C: usize,
    const H: usize,
    const W: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PH: usize,
    const PW: usize,
    const DH: usize,
    const DW: usize,
>;

/// The `Sealed` and [`Pool2dGeometry`] impls of a geometry type: `$ceil` is its `CEIL`.
macro_rules! pool2d_impl {
    ($ty:ident, $ceil:expr) => {
        impl<
                const C: usize,
                const H: usize,
                const W: usize,
                const KH: usize,
                const KW: usize,
                const SH: usize,
                const SW: usize,
                const PH: usize,
                const PW: usize,
                const DH: usize,
                const DW: usize,
            > sealed::Sealed for $ty<C, H, W, KH, KW, SH, SW, PH, PW, DH, DW>
        {
        }
        impl<
                const C: usize,
                const H: usize,
                const W: usize,
                const KH: usize,
                const KW: usize,
                const SH: usize,
                const SW: usize,
                const PH: usize,
                const PW: usize,
                const DH: usize,
                const DW: usize,
            > Pool2dGeometry for $ty<C, H, W, KH, KW, SH, SW, PH, PW, DH, DW>
        {
            const C: usize = C;
            const H: usize = H;
            const W: usize = W;
            const KH: usize = KH;
            const KW: usize = KW;
            const SH: usize = SH;
            const SW: usize = SW;
            const PH: usize = PH;
            const PW: usize = PW;
            const DH: usize = DH;
            const DW: usize = DW;
            const CEIL: bool = $ceil;
        }
    };
}

pool2d_impl!(Pool2d, false);
pool2d_impl!(Pool2dCeil, true);

/// A pooling layer's geometry as named values (`channels: 2, kernel: [2, 2], ...`), the form
/// `network!` declares each layer's in (`Net::P_GEOMETRY`); pairs are `[height, width]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dShape {
    /// Channels ([`Pool2dGeometry::C`]).
    pub channels: usize,
    /// Input height ([`Pool2dGeometry::H`]; 1 for a sequence).
    pub height: usize,
    /// Input width ([`Pool2dGeometry::W`]; the length of a sequence).
    pub width: usize,
    /// Window size, `[KH, KW]`.
    pub kernel: [usize; 2],
    /// Stride, `[SH, SW]`.
    pub stride: [usize; 2],
    /// Padding on each side, `[PH, PW]`.
    pub padding: [usize; 2],
    /// Dilation, `[DH, DW]`.
    pub dilation: [usize; 2],
    /// PyTorch's `ceil_mode` ([`Pool2dGeometry::CEIL`]).
    pub ceil_mode: bool,
}

/// Implemented by a network for its pooling node `NODE`: that layer's [`Pool2dShape`], which
/// the kernels read through [`NetworkPool2d`]`<Net, NODE>`.
pub trait Pool2dLayer<const NODE: usize> {
    /// The layer's geometry.
    const SHAPE: Pool2dShape;
}

/// The geometry of network `Net`'s pooling node `NODE` (see [`Pool2dLayer`]): the same
/// compile-time values as the [`Pool2d`] (or [`Pool2dCeil`]) of the same numbers, named where
/// they are declared. Never constructed.
pub struct NetworkPool2d<Net, const NODE: usize>(PhantomData<Net>);

impl<Net: Pool2dLayer<NODE>, const NODE: usize> sealed::Sealed for NetworkPool2d<Net, NODE> {}

impl<Net: Pool2dLayer<NODE>, const NODE: usize> Pool2dGeometry for NetworkPool2d<Net, NODE> {
    const C: usize = Net::SHAPE.channels;
    const H: usize = Net::SHAPE.height;
    const W: usize = Net::SHAPE.width;
    const KH: usize = Net::SHAPE.kernel[0];
    const KW: usize = Net::SHAPE.kernel[1];
    const SH: usize = Net::SHAPE.stride[0];
    const SW: usize = Net::SHAPE.stride[1];
    const PH: usize = Net::SHAPE.padding[0];
    const PW: usize = Net::SHAPE.padding[1];
    const DH: usize = Net::SHAPE.dilation[0];
    const DW: usize = Net::SHAPE.dilation[1];
    const CEIL: bool = Net::SHAPE.ceil_mode;
}

/// Compile-time check of a kernel's array lengths against its geometry.
const fn assert_lengths<G: Pool2dGeometry>(in_len: usize, out_len: usize) {
    assert!(in_len == G::IN_LEN, "pool2d: IN_LEN must equal C * H * W");
    assert!(
        out_len == G::OUT_LEN,
        "pool2d: OUT_LEN must equal C * OUT_H * OUT_W"
    );
}

const fn assert_no_dilation<G: Pool2dGeometry>() {
    assert!(
        G::DH == 1 && G::DW == 1,
        "avg_pool2d: average pooling has no dilation (DH = DW = 1)"
    );
}

/// The taps of one window that lie inside the image: `first + r DH W + c DW` (flat index into
/// one channel's `H x W` image) for `r < rows`, `c < cols`. Empty when `rows` or `cols` is 0.
#[derive(Clone, Copy)]
struct Window {
    first: usize,
    rows: usize,
    cols: usize,
    /// Average pooling's divisor: the taps inside the padded input (`KH KW` but for a last
    /// window of `ceil_mode` that reaches beyond the padding).
    divisor: usize,
}

impl Window {
    /// Calls `f(p)` for every tap, in row-major order.
    #[inline(always)]
    fn for_each_tap<G: Pool2dGeometry>(self, mut f: impl FnMut(usize)) {
        for r in 0..self.rows {
            let row = self.first + r * G::DH * G::W;
            for c in 0..self.cols {
                f(row + c * G::DW);
            }
        }
    }
}

/// Along one axis, the taps `k < kernel` of output `o` that land inside `0..n`, as
/// `(first position, count)`: tap `k` is at `o stride + k dilation - padding`.
#[inline(always)]
const fn valid_taps(
    o: usize,
    (kernel, stride, padding, dilation): (usize, usize, usize, usize),
    n: usize,
) -> (usize, usize) {
    let start = o * stride; // the window's first tap, shifted by `padding`
    let lo = if start >= padding {
        0
    } else {
        (padding - start).div_ceil(dilation)
    };
    let hi = if start > n - 1 + padding {
        0
    } else {
        let last = (n - 1 + padding - start) / dilation + 1;
        if last < kernel {
            last
        } else {
            kernel
        }
    };
    if lo >= hi {
        (0, 0)
    } else {
        (start + lo * dilation - padding, hi - lo)
    }
}

/// Along one axis, how many taps of output `o`'s window lie inside the padded input `0..n + 2
/// padding` (dilation 1, as average pooling): `kernel` unless a `ceil_mode` window overhangs.
#[inline(always)]
const fn padded_taps(o: usize, kernel: usize, stride: usize, padding: usize, n: usize) -> usize {
    let (start, end) = (o * stride, n + 2 * padding);
    if start + kernel <= end {
        kernel
    } else {
        end - start
    }
}

/// Calls `f(o, window)` for every output position `o` (flat in `OH x OW`), in order. Computing
/// each window's valid range once keeps the padding tests out of the tap loops.
#[inline(always)]
fn for_each_window<G: Pool2dGeometry>(mut f: impl FnMut(usize, Window)) {
    for oy in 0..G::OUT_H {
        let (iy, rows) = valid_taps(oy, (G::KH, G::SH, G::PH, G::DH), G::H);
        let padded_rows = padded_taps(oy, G::KH, G::SH, G::PH, G::H);
        for ox in 0..G::OUT_W {
            let (ix, cols) = valid_taps(ox, (G::KW, G::SW, G::PW, G::DW), G::W);
            let divisor = if G::CEIL {
                padded_rows * padded_taps(ox, G::KW, G::SW, G::PW, G::W)
            } else {
                G::KH * G::KW
            };
            let window = if G::PH == 0 && G::PW == 0 && !G::CEIL {
                // Without padding every window lies inside the image (the output size is
                // floored), and constant extents let the compiler unroll the taps.
                Window {
                    first: oy * G::SH * G::W + ox * G::SW,
                    rows: G::KH,
                    cols: G::KW,
                    divisor,
                }
            } else {
                Window {
                    first: iy * G::W + ix,
                    rows,
                    cols,
                    divisor,
                }
            };
            f(oy * G::OUT_W + ox, window);
        }
    }
}

/// PyTorch's running maximum over a window's taps (`val > maxval || isnan(val)`): the first of
/// equal maxima wins, and once a NaN is seen only a later NaN replaces it.
#[derive(Clone, Copy)]
struct RunningMax<T> {
    best: T,
    arg: usize,
    nan: bool,
}

impl<T: Scalar> RunningMax<T> {
    /// Before the first tap: `-inf` at the window's first position, as PyTorch starts.
    #[inline(always)]
    fn new(first: usize) -> Self {
        RunningMax {
            best: T::neg_infinity(),
            arg: first,
            nan: false,
        }
    }

    #[inline(always)]
    fn push(&mut self, v: T, p: usize) {
        // Non-short-circuit logic and selects, not branches: which tap wins depends on the data
        // and mispredicts half the time (branching made max pooling ~3x slower). `best` keeps
        // growing after a NaN, but `arg` and `value()` no longer look at it then.
        let greater = v > self.best;
        let is_nan = v.is_nan();
        self.arg = select_unpredictable((greater & !self.nan) | is_nan, p, self.arg);
        self.best = select_unpredictable(greater, v, self.best);
        self.nan |= is_nan;
    }

    #[inline(always)]
    fn value(&self) -> T {
        if self.nan {
            T::nan()
        } else {
            self.best
        }
    }
}

/// Calls `f(o, max)` with the running maximum over each window of one channel, `None` when no
/// tap of the window lies inside the image.
#[inline(always)]
fn window_max<T: Scalar, G: Pool2dGeometry>(
    image: &[T],
    mut f: impl FnMut(usize, Option<RunningMax<T>>),
) {
    for_each_window::<G>(|o, window| {
        if window.rows == 0 || window.cols == 0 {
            return f(o, None);
        }
        let mut max = RunningMax::new(window.first);
        window.for_each_tap::<G>(|p| max.push(image[p], p));
        f(o, Some(max));
    });
}

/// Max pooling forward: `y[c][oy][ox] = max over the window` (padding as `-inf`; see the
/// [module docs](self)). `y` is overwritten.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn max_pool2d_forward<
    T: Scalar,
    G: Pool2dGeometry,
    const B: usize,
    const IN_LEN: usize,
    const OUT_LEN: usize,
>(
    x: &[[T; IN_LEN]; B],
    y: &mut [[T; OUT_LEN]; B],
) {
    const { assert_lengths::<G>(IN_LEN, OUT_LEN) };
    let (x, y) = (x.as_flattened(), y.as_flattened_mut());
    if const { tiled::forward_applies::<G>() } {
        tiled::max_pool2d_forward::<T, G>(x, y);
    } else {
        max_pool2d_forward_windows::<T, G>(x, y);
    }
}

/// Max pooling forward of the ReLU before it (`pool(relu(x))`, the usual CNN block): `relu <-`
/// the ReLU of `x`, as [`activation_forward`](crate::ops::activation::activation_forward) of
/// [`Relu`](crate::ops::activation::Relu) writes it, and `y <-` its max pooling, as
/// [`max_pool2d_forward`] of `relu`: the same values, bit for bit, as the two calls. When the
/// windows tile the image, in one pass: 2x2 windows of `f32` with AVX2 pool each block's ReLU
/// in registers (the ReLU's output is written, never read back), other geometries go chunk by
/// chunk while the chunk is in L1; else as the two calls.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn max_pool2d_relu_forward<
    T: Scalar,
    G: Pool2dGeometry,
    const B: usize,
    const IN_LEN: usize,
    const OUT_LEN: usize,
>(
    x: &[[T; IN_LEN]; B],
    relu: &mut [[T; IN_LEN]; B],
    y: &mut [[T; OUT_LEN]; B],
) {
    const { assert_lengths::<G>(IN_LEN, OUT_LEN) };
    if const { tiled::forward_applies::<G>() } {
        let (x, relu, y) = (
            x.as_flattened(),
            relu.as_flattened_mut(),
            y.as_flattened_mut(),
        );
        tiled::max_pool2d_relu_forward::<T, G>(x, relu, y);
    } else {
        crate::ops::activation::activation_forward(&crate::ops::activation::Relu, x, relu);
        max_pool2d_forward::<T, G, B, IN_LEN, OUT_LEN>(relu, y);
    }
}

/// [`max_pool2d_forward`] over flat batches for any geometry, window by window.
#[inline(always)]
fn max_pool2d_forward_windows<T: Scalar, G: Pool2dGeometry>(x: &[T], y: &mut [T]) {
    let (hw, ohw) = (G::H * G::W, G::OUT_H * G::OUT_W);
    for (image, out) in x.chunks_exact(hw).zip(y.chunks_exact_mut(ohw)) {
        window_max::<T, G>(image, |o, max| {
            out[o] = max.map_or(T::neg_infinity(), |m| m.value());
        });
    }
}

/// Max pooling backward: `dx (store) sum over windows of dy routed to the window's first
/// argmax`, recomputed from `x` (why: see the [module docs](self)).
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn max_pool2d_backward<
    T: Scalar,
    G: Pool2dGeometry,
    const B: usize,
    const IN_LEN: usize,
    const OUT_LEN: usize,
>(
    x: &[[T; IN_LEN]; B],
    dy: &[[T; OUT_LEN]; B],
    dx: &mut [[T; IN_LEN]; B],
    store: Store,
) {
    const { assert_lengths::<G>(IN_LEN, OUT_LEN) };
    let (x, dy, dx) = (x.as_flattened(), dy.as_flattened(), dx.as_flattened_mut());
    if const { tiled::flat_backward_applies::<G>() } {
        tiled::max_pool2d_backward_flat::<T, G>(x, dy, dx, store);
    } else if const { tiled::applies::<G>() } {
        tiled::max_pool2d_backward::<T, G>(x, dy, dx, store);
    } else {
        max_pool2d_backward_windows::<T, G>(x, dy, dx, store);
    }
}

/// Max pooling backward through the ReLU before it (`pool(relu(x))`, the ReLU's output read
/// by nothing else): `dy_relu <-` the pooling's gradient, as [`max_pool2d_backward`] with
/// [`Store::Overwrite`], and `dx (store) dy_relu * (0 if y <= 0 else 1)`, as
/// [`activation_backward`](crate::ops::activation::activation_backward) of
/// [`Relu`](crate::ops::activation::Relu) with the same `y` (the ReLU's output, the pooling's
/// input). The same values, bit for bit, as the two calls; when the windows tile the image, in
/// one pass whose ReLU part reads each chunk while it is in L1 (W4's two pooling layers: the
/// ReLU backward's own pass over three arrays of 200k and 100k values is gone), else as the two
/// calls.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn max_pool2d_relu_backward<
    T: Scalar,
    G: Pool2dGeometry,
    const B: usize,
    const IN_LEN: usize,
    const OUT_LEN: usize,
>(
    y: &[[T; IN_LEN]; B],
    dy: &[[T; OUT_LEN]; B],
    dy_relu: &mut [[T; IN_LEN]; B],
    dx: &mut [[T; IN_LEN]; B],
    store: Store,
) {
    const { assert_lengths::<G>(IN_LEN, OUT_LEN) };
    if const { tiled::flat_backward_applies::<G>() } {
        let (y, dy) = (y.as_flattened(), dy.as_flattened());
        let (dy_relu, dx) = (dy_relu.as_flattened_mut(), dx.as_flattened_mut());
        tiled::max_pool2d_relu_backward_flat::<T, G>(y, dy, dy_relu, dx, store);
    } else {
        max_pool2d_backward::<T, G, B, IN_LEN, OUT_LEN>(y, dy, dy_relu, Store::Overwrite);
        let relu = crate::ops::activation::Relu;
        crate::ops::activation::activation_backward(&relu, y, y, dy_relu, dx, store);
    }
}

/// [`max_pool2d_backward`] over flat batches for any geometry: zero `dx` (Overwrite), then add
/// each window's gradient at its running-maximum argmax.
fn max_pool2d_backward_windows<T: Scalar, G: Pool2dGeometry>(
    x: &[T],
    dy: &[T],
    dx: &mut [T],
    store: Store,
) {
    if store == Store::Overwrite {
        dx.fill(T::zero());
    }
    let (hw, ohw) = (G::H * G::W, G::OUT_H * G::OUT_W);
    let channels = x
        .chunks_exact(hw)
        .zip(dy.chunks_exact(ohw))
        .zip(dx.chunks_exact_mut(hw));
    for ((image, grad_out), grad_in) in channels {
        window_max::<T, G>(image, |o, max| {
            if let Some(m) = max {
                grad_in[m.arg] += grad_out[o];
            }
        });
    }
}

/// Average pooling forward: `y[c][oy][ox] = sum over the window / (KH KW)`, padding counted as
/// zeros (`count_include_pad=True`; a `ceil_mode` window overhanging the padded input divides
/// by its part inside it). `y` is overwritten.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn avg_pool2d_forward<
    T: Scalar,
    G: Pool2dGeometry,
    const B: usize,
    const IN_LEN: usize,
    const OUT_LEN: usize,
>(
    x: &[[T; IN_LEN]; B],
    y: &mut [[T; OUT_LEN]; B],
) {
    const {
        assert_lengths::<G>(IN_LEN, OUT_LEN);
        assert_no_dilation::<G>();
    };
    let scale = T::one() / T::from_usize(G::KH * G::KW);
    let (hw, ohw) = (G::H * G::W, G::OUT_H * G::OUT_W);
    for (xb, yb) in x.iter().zip(y.iter_mut()) {
        for (image, out) in xb.chunks_exact(hw).zip(yb.chunks_exact_mut(ohw)) {
            for_each_window::<G>(|o, window| {
                let mut sum = T::zero();
                window.for_each_tap::<G>(|p| sum += image[p]);
                out[o] = if G::CEIL {
                    sum / T::from_usize(window.divisor)
                } else {
                    sum * scale
                };
            });
        }
    }
}

/// Average pooling backward: `dx[c][p] (store) sum over the windows containing p of
/// dy[c][oy][ox] / (KH KW)`. `x` is not needed.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn avg_pool2d_backward<
    T: Scalar,
    G: Pool2dGeometry,
    const B: usize,
    const IN_LEN: usize,
    const OUT_LEN: usize,
>(
    dy: &[[T; OUT_LEN]; B],
    dx: &mut [[T; IN_LEN]; B],
    store: Store,
) {
    const {
        assert_lengths::<G>(IN_LEN, OUT_LEN);
        assert_no_dilation::<G>();
    };
    if store == Store::Overwrite {
        dx.as_flattened_mut().fill(T::zero());
    }
    let scale = T::one() / T::from_usize(G::KH * G::KW);
    let (hw, ohw) = (G::H * G::W, G::OUT_H * G::OUT_W);
    for (dyb, dxb) in dy.iter().zip(dx.iter_mut()) {
        for (grad_out, grad_in) in dyb.chunks_exact(ohw).zip(dxb.chunks_exact_mut(hw)) {
            for_each_window::<G>(|o, window| {
                let g = if G::CEIL {
                    grad_out[o] / T::from_usize(window.divisor)
                } else {
                    grad_out[o] * scale
                };
                window.for_each_tap::<G>(|p| grad_in[p] += g);
            });
        }
    }
}

const fn assert_global_lengths(c: usize, h: usize, w: usize, in_len: usize) {
    assert!(
        h >= 1 && w >= 1,
        "global_avg_pool: H and W must be at least 1"
    );
    assert!(
        in_len == c * h * w,
        "global_avg_pool: IN_LEN must equal C * H * W"
    );
}

/// Global average pooling `[C, H, W] -> [C]`: `y[c] = sum_p x[c][p] / (H W)`. `y` is overwritten.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn global_avg_pool_forward<
    T: Scalar,
    const B: usize,
    const C: usize,
    const H: usize,
    const W: usize,
    const IN_LEN: usize,
>(
    x: &[[T; IN_LEN]; B],
    y: &mut [[T; C]; B],
) {
    const { assert_global_lengths(C, H, W, IN_LEN) };
    let scale = T::one() / T::from_usize(H * W);
    for (xb, yb) in x.iter().zip(y.iter_mut()) {
        for (image, out) in xb.chunks_exact(H * W).zip(yb.iter_mut()) {
            *out = image.iter().copied().sum::<T>() * scale;
        }
    }
}

/// Global average pooling backward: `dx[c][p] (store) dy[c] / (H W)`.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
pub fn global_avg_pool_backward<
    T: Scalar,
    const B: usize,
    const C: usize,
    const H: usize,
    const W: usize,
    const IN_LEN: usize,
>(
    dy: &[[T; C]; B],
    dx: &mut [[T; IN_LEN]; B],
    store: Store,
) {
    const { assert_global_lengths(C, H, W, IN_LEN) };
    let scale = T::one() / T::from_usize(H * W);
    for (dyb, dxb) in dy.iter().zip(dx.iter_mut()) {
        for (&g, grad_in) in dyb.iter().zip(dxb.chunks_exact_mut(H * W)) {
            let v = g * scale;
            for d in grad_in {
                store.apply(d, v);
            }
        }
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests;
