//! The compile-time geometry of a convolution: output sizes, parameter and workspace lengths,
//! and the [`Conv2d`] type that carries them as const generics (see the parent module's docs).

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
    /// Column matrix length of one group of one sample, [`conv2d_cols_len`].
    const COLS_LEN: usize;
    /// Minimum workspace length, [`conv2d_workspace_len`]: the column matrix, then the padded
    /// copy of one group's image when the convolution pads.
    const WORKSPACE_LEN: usize;
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
    const WORKSPACE_LEN: usize = Self::COLS_LEN
        + if PH > 0 || PW > 0 {
            Self::GROUP_IN * (H + 2 * PH) * (W + 2 * PW)
        } else {
            0
        };
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
