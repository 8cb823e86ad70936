//! The compile-time geometry of a convolution: output sizes, parameter and workspace lengths,
//! and the [`Conv2d`] type that carries them as const generics (see the parent module's docs).

use core::marker::PhantomData;

use crate::kernels::im2col::Window2d;

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

/// Length of the column matrix of one group of one sample, `(C_IN / GROUPS) KH KW OH OW` (with
/// `OH`, `OW` from [`conv2d_output_size`]): the larger part of [`conv2d_workspace_len`].
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

/// Workspace length of the convolution kernels (the minimum `WS_LEN` they accept): the column
/// matrix of one group of one sample ([`conv2d_cols_len`]) followed, when the convolution pads,
/// by a zero-padded copy of one group's input image, `(C_IN / GROUPS) (H + 2 PH) (W + 2 PW)`:
///
/// ```text
/// (C_IN / GROUPS) (KH KW OH OW + (H + 2 PH) (W + 2 PW))   if PH > 0 or PW > 0
/// (C_IN / GROUPS) KH KW OH OW                             otherwise
/// ```
///
/// `None` when `groups` is 0 or does not divide `c_in`, or on overflow.
pub const fn conv2d_workspace_len(
    c_in: usize,
    (h, w): (usize, usize),
    groups: usize,
    (kh, kw): (usize, usize),
    (ph, pw): (usize, usize),
    (out_h, out_w): (usize, usize),
) -> Option<usize> {
    let cols = match conv2d_cols_len(c_in, groups, kh, kw, out_h, out_w) {
        Some(n) => n,
        None => return None,
    };
    if ph == 0 && pw == 0 {
        return Some(cols);
    }
    let (hp, wp) = match (ph.checked_mul(2), pw.checked_mul(2)) {
        (Some(a), Some(b)) => match (h.checked_add(a), w.checked_add(b)) {
            (Some(hp), Some(wp)) => (hp, wp),
            _ => return None,
        },
        _ => return None,
    };
    match checked_product(&[c_in / groups, hp, wp]) {
        Some(padded) => cols.checked_add(padded),
        None => None,
    }
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

/// The compile-time geometry of a 2-D convolution, implemented only by [`Conv2d`] (positional
/// const generics) and [`NetworkConv2d`] (a network's named [`Conv2dShape`]). Each gives the
/// fourteen values the layer is declared with; the others derive from them.
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
    const OUT_H: usize = match conv2d_output_size(Self::H, Self::KH, Self::SH, Self::PH, Self::DH) {
        Some(n) => n,
        None => panic!(
            "conv2d: empty output height: need H + 2 PH >= DH (KH - 1) + 1 and H, KH, SH, DH >= 1"
        ),
    };
    /// Output width, [`conv2d_output_size`]`(W, KW, SW, PW, DW)`.
    const OUT_W: usize = match conv2d_output_size(Self::W, Self::KW, Self::SW, Self::PW, Self::DW) {
        Some(n) => n,
        None => panic!(
            "conv2d: empty output width: need W + 2 PW >= DW (KW - 1) + 1 and W, KW, SW, DW >= 1"
        ),
    };
    /// Input channels per group, `C_IN / GROUPS`.
    const GROUP_IN: usize = {
        assert!(
            Self::GROUPS >= 1
                && Self::C_IN.is_multiple_of(Self::GROUPS)
                && Self::C_OUT.is_multiple_of(Self::GROUPS),
            "conv2d: GROUPS must be >= 1 and divide both C_IN and C_OUT"
        );
        Self::C_IN / Self::GROUPS
    };
    /// Output channels per group, `C_OUT / GROUPS`.
    const GROUP_OUT: usize = {
        assert!(
            Self::GROUPS >= 1
                && Self::C_IN.is_multiple_of(Self::GROUPS)
                && Self::C_OUT.is_multiple_of(Self::GROUPS),
            "conv2d: GROUPS must be >= 1 and divide both C_IN and C_OUT"
        );
        Self::C_OUT / Self::GROUPS
    };
    /// Per-sample input length `C_IN H W`.
    const IN_LEN: usize = Self::C_IN * Self::H * Self::W;
    /// Per-sample output length `C_OUT OH OW`.
    const OUT_LEN: usize = Self::C_OUT * Self::OUT_H * Self::OUT_W;
    /// Weight length `C_OUT (C_IN / GROUPS) KH KW` (the start of the bias in the block).
    const WEIGHT_LEN: usize = Self::C_OUT * Self::GROUP_IN * Self::KH * Self::KW;
    /// Parameter block length, [`conv2d_param_count`].
    const PARAMS: usize = Self::WEIGHT_LEN + if Self::BIAS { Self::C_OUT } else { 0 };
    /// Column matrix length of one group of one sample, [`conv2d_cols_len`].
    const COLS_LEN: usize = Self::GROUP_IN * Self::KH * Self::KW * Self::OUT_H * Self::OUT_W;
    /// Minimum workspace length, [`conv2d_workspace_len`]: the column matrix, then the padded
    /// copy of one group's image when the convolution pads.
    const WORKSPACE_LEN: usize = Self::COLS_LEN
        + if Self::PH > 0 || Self::PW > 0 {
            Self::GROUP_IN * (Self::H + 2 * Self::PH) * (Self::W + 2 * Self::PW)
        } else {
            0
        };
}

/// The geometry of one convolution layer, as const generics (see the [module docs](crate::ops::conv)).
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
}

/// A convolution layer's geometry as named values (`in_channels: 1, kernel: [3, 3], ...`), the
/// form `network!` declares each layer's in (`Net::C_GEOMETRY`); pairs are `[height, width]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dShape {
    /// Input channels ([`Conv2dGeometry::C_IN`]).
    pub in_channels: usize,
    /// Input height ([`Conv2dGeometry::H`]; 1 for a sequence).
    pub height: usize,
    /// Input width ([`Conv2dGeometry::W`]; the length of a sequence).
    pub width: usize,
    /// Output channels ([`Conv2dGeometry::C_OUT`]).
    pub out_channels: usize,
    /// Kernel size, `[KH, KW]`.
    pub kernel: [usize; 2],
    /// Stride, `[SH, SW]`.
    pub stride: [usize; 2],
    /// Zero padding on each side, `[PH, PW]`.
    pub padding: [usize; 2],
    /// Dilation, `[DH, DW]`.
    pub dilation: [usize; 2],
    /// Channel groups ([`Conv2dGeometry::GROUPS`]).
    pub groups: usize,
    /// Whether the parameter block ends with a bias ([`Conv2dGeometry::BIAS`]).
    pub bias: bool,
}

/// Implemented by a network for its convolution node `NODE`: that layer's [`Conv2dShape`], which
/// the kernels read through [`NetworkConv2d`]`<Net, NODE>`.
pub trait Conv2dLayer<const NODE: usize> {
    /// The layer's geometry.
    const SHAPE: Conv2dShape;
}

/// The geometry of network `Net`'s convolution node `NODE` (see [`Conv2dLayer`]): the same
/// compile-time values as the [`Conv2d`] of the same numbers, named where they are declared.
/// Never constructed.
pub struct NetworkConv2d<Net, const NODE: usize>(PhantomData<Net>);

impl<Net: Conv2dLayer<NODE>, const NODE: usize> sealed::Sealed for NetworkConv2d<Net, NODE> {}

impl<Net: Conv2dLayer<NODE>, const NODE: usize> Conv2dGeometry for NetworkConv2d<Net, NODE> {
    const C_IN: usize = Net::SHAPE.in_channels;
    const H: usize = Net::SHAPE.height;
    const W: usize = Net::SHAPE.width;
    const C_OUT: usize = Net::SHAPE.out_channels;
    const KH: usize = Net::SHAPE.kernel[0];
    const KW: usize = Net::SHAPE.kernel[1];
    const SH: usize = Net::SHAPE.stride[0];
    const SW: usize = Net::SHAPE.stride[1];
    const PH: usize = Net::SHAPE.padding[0];
    const PW: usize = Net::SHAPE.padding[1];
    const DH: usize = Net::SHAPE.dilation[0];
    const DW: usize = Net::SHAPE.dilation[1];
    const GROUPS: usize = Net::SHAPE.groups;
    const BIAS: bool = Net::SHAPE.bias;
}

/// Compile-time check of a kernel's array lengths against its geometry.
pub(super) const fn assert_lengths<G: Conv2dGeometry>(
    in_len: usize,
    out_len: usize,
    params: usize,
    workspace_len: usize,
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
        workspace_len >= G::WORKSPACE_LEN,
        "conv2d: WS_LEN must be at least (C_IN / GROUPS) * (KH * KW * OUT_H * OUT_W \
         + (H + 2 * PH) * (W + 2 * PW)), without the last term when PH = PW = 0"
    );
}

/// The im2col window of one group.
pub(super) const fn group_window<G: Conv2dGeometry>() -> Window2d {
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
