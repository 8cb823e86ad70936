//! Convolutions of one input channel that keep the image size with stride 1 (`C_IN = 1`, no
//! groups, `OH = H`, `OW = W`: W4's first layer, 1 -> 8, 3x3, padding 1): the forward pass and
//! the weight gradient straight from shifted copies of the image, without a column matrix.
//!
//! With the output as large as the image, the tap `(i, j)` of output pixel `p` (flat in
//! `H x W`) reads the image at `p + (i DH - PH) W + (j DW - PW)`, a fixed offset from `p`, but
//! for the pixels whose window leaves the image. Each tap column `j` gets a copy of the image
//! in the workspace with `PH W + PW` zeros before and after it (the rows above and below) and
//! the columns that only out-of-image reads land on (the row wrap-around of shift
//! `j DW - PW`) set to zero. Every tap is then a contiguous run of one copy, and:
//! - the forward pass is, per block of [`LANES`] pixels, the bias plus one multiply-add per
//!   tap and output channel, [`CHANNELS`] output channels at a time (independent chains of
//!   additions), each tap's lanes read from its copy;
//! - the weight gradient is, per pair of output channels and group of three taps, six running
//!   dot products over [`LANES`] lanes (five loads for six products), kept in the workspace
//!   across samples and reduced once at the end; the bias sums `dy` the same way, four
//!   channels at a time.
//!
//! On an AVX2 CPU (AMD Zen 3, W4's first layer, `W4parts`): forward 78-93 -> 72 us and weight
//! gradient 80-82 -> 67 us after the channels were interleaved and the lane arrays copied by
//! indexing instead of `array::map` (whose copies went through `memcpy`), against GEMMs of
//! 94-96 and 45-46 us.
//!
//! With `C_IN = 1` the column matrix has only `KH KW` rows, too few for the GEMM to amortize
//! its packing, and im2col writes `KH KW` times the image for each sample and pass. W4's first
//! layer (f32, batch 32, 2-core AVX-512 machine under a load of 7-12): forward 91 -> 40 us
//! (medians of runs one after the other); weight and bias gradient 1.50-1.76x the time of its
//! GEMMs alone -> 1.06-1.30x (alternating builds, `W4.convbwd.dw1`, minima 90.5-110.9 -> 63.7-84.0 us). A single
//! running dot product per tap was latency-bound (125 us), and an array of ten lane
//! accumulators was kept in memory by the compiler (800 us).
//!
//! The loops run compiled for the widest instruction set the CPU has, picked by the CPU alone
//! as the GEMM's leaves are ([`Level::of_cpu`], not limited by `with_max_level`), with each
//! multiply-add fused where the CPU has FMA (AVX2 or AVX-512 levels) and rounded twice
//! elsewhere (other CPUs, `no_std`). Their lanes and summation order are fixed in the source,
//! so one CPU gives the same bits whatever level the calling code runs at. Fused, W4's first
//! layer (Zen 3, `W4parts`, two alternating rounds): forward 72.9-73.1 -> 58.4-58.5 us, weight
//! gradient 67.1-67.3 -> 58.4-58.5 us; rounded twice, each multiply-add was two of the two
//! pipes' operations, and the loops ran at that bound.

use super::Conv2dGeometry;
use crate::kernels::gemm::RowOffsets;
use crate::kernels::math::{Fused, MulAdd, Unfused};
use crate::kernels::simd::{Level, Simd};
use crate::kernels::Store;
use crate::Scalar;

/// Pixels per block (one 512-bit vector of f32).
const LANES: usize = 16;

/// Output channels per pass of the forward pass's accumulators.
const CHANNELS: usize = 4;

/// Most taps (`KH KW`) this path serves: the forward pass keeps their starts in an array of
/// this length, and the weight gradient's lane sums grow with them.
const MAX_TAPS: usize = 9;

/// Zeros before and after each shifted copy: the largest offset of a tap, `PH W + PW`.
pub(super) const fn margin<G: Conv2dGeometry>() -> usize {
    G::PH * G::W + G::PW
}

/// Elements of one shifted copy.
pub(super) const fn copy_len<G: Conv2dGeometry>() -> usize {
    G::H * G::W + 2 * margin::<G>()
}

/// Workspace elements of the `KW` shifted copies (of one channel).
pub(super) const fn workspace_len<G: Conv2dGeometry>() -> usize {
    G::KW * copy_len::<G>()
}

/// Whether the forward pass and the weight gradient of `G` run here.
pub(super) const fn applies<G: Conv2dGeometry>() -> bool {
    G::C_IN == 1
        && G::GROUPS == 1
        && copies_apply::<G>()
        && G::KH * G::KW <= MAX_TAPS
        && workspace_len::<G>() <= G::WORKSPACE_LEN
}

/// Whether every tap of `G` is a contiguous run of a shifted copy ([`shifted_copies`], at
/// [`tap_start`]): stride 1 and an output as large as the image.
pub(super) const fn copies_apply<G: Conv2dGeometry>() -> bool {
    G::SH == 1 && G::SW == 1 && G::OUT_H == G::H && G::OUT_W == G::W && G::PW < G::W
}

/// Where tap `t` (row-major in the kernel) of pixel 0 reads in the workspace.
#[inline(always)]
pub(super) fn tap_start<G: Conv2dGeometry>(t: usize) -> usize {
    let (i, j) = (t / G::KW, t % G::KW);
    // margin + (i DH - PH) W + (j DW - PW) >= 0: the margin is the largest negative offset.
    j * copy_len::<G>() + margin::<G>() + i * G::DH * G::W + j * G::DW - G::PH * G::W - G::PW
}

/// Where the rows of the column matrix of `C` channels start in their shifted copies (each
/// channel's `KW` copies after the previous channel's, [`workspace_len`] apart): row
/// `(c KH + i) KW + j` at `c workspace_len + tap_start(i KW + j)`, as the packed GEMM reads a
/// `B` with [`RowOffsets`].
pub(super) const fn tap_rows<G: Conv2dGeometry>() -> RowOffsets {
    RowOffsets {
        radices: [G::KH, G::KW],
        strides: [workspace_len::<G>(), G::DH * G::W, copy_len::<G>() + G::DW],
        // The margin is `PH W + PW`.
        base: margin::<G>() - G::PH * G::W - G::PW,
    }
}

/// Fills the `KW` shifted copies of `image` (one channel, `H W`) into `copies`.
#[inline(always)]
pub(super) fn shifted_copies<T: Scalar, G: Conv2dGeometry>(image: &[T], copies: &mut [T]) {
    let (w, hw, margin) = (G::W, G::H * G::W, margin::<G>());
    let copies = copies[..workspace_len::<G>()].chunks_exact_mut(copy_len::<G>());
    for (j, copy) in copies.enumerate() {
        let (before, rest) = copy.split_at_mut(margin);
        let (body, after) = rest.split_at_mut(hw);
        before.fill(T::zero());
        after.fill(T::zero());
        body.copy_from_slice(&image[..hw]);
        // Output column ox reads image column ox + shift; when that leaves the image it
        // reads the neighbouring row's columns [W + shift, W) (shift < 0) or [0, shift)
        // (shift > 0) instead, which no pixel reads otherwise: zero them.
        let shift = (j * G::DW) as isize - G::PW as isize;
        let (lo, hi) = if shift < 0 {
            (w - shift.unsigned_abs(), w)
        } else {
            (0, shift as usize)
        };
        if lo < hi {
            for row in body.chunks_exact_mut(w) {
                row[lo..hi].fill(T::zero());
            }
        }
    }
}

/// `y[b] <- conv2d(x[b], weight) + bias` for every sample (flat batches; `bias` empty without
/// one).
pub(super) fn forward<T: Scalar, G: Conv2dGeometry>(
    x: &[T],
    weight: &[T],
    bias: &[T],
    y: &mut [T],
    workspace: &mut [T],
) {
    Level::of_cpu().run(Forward::<T, G> {
        x,
        weight,
        bias,
        y,
        workspace,
        geometry: core::marker::PhantomData,
    });
}

struct Forward<'a, T, G> {
    x: &'a [T],
    weight: &'a [T],
    bias: &'a [T],
    y: &'a mut [T],
    workspace: &'a mut [T],
    geometry: core::marker::PhantomData<G>,
}

impl<T: Scalar, G: Conv2dGeometry> Simd for Forward<'_, T, G> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        self.body::<Unfused>();
    }

    #[inline(always)]
    fn run_fma(self) {
        self.body::<Fused>();
    }
}

impl<T: Scalar, G: Conv2dGeometry> Forward<'_, T, G> {
    /// The pass, with the multiply-adds of `M`.
    #[inline(always)]
    fn body<M: MulAdd>(self) {
        let (hw, taps) = (G::H * G::W, G::KH * G::KW);
        let starts: [usize; MAX_TAPS] = core::array::from_fn(|t| tap_start::<G>(t.min(taps - 1)));
        let bias = |o: usize| if G::BIAS { self.bias[o] } else { T::zero() };
        let samples = self
            .x
            .chunks_exact(hw)
            .zip(self.y.chunks_exact_mut(G::OUT_LEN));
        for (image, y) in samples {
            shifted_copies::<T, G>(image, self.workspace);
            let copies = &self.workspace[..workspace_len::<G>()];
            let blocks = hw / LANES;
            for block in 0..blocks {
                let p = block * LANES;
                // Each tap's lanes straight from its copy (a copy into a stack array first
                // stored and reloaded every one of them: the array does not fit AVX2's
                // registers). Both ends of the range spelled out: `[start..][..LANES]` was
                // 4-9 % slower on W4's first layer (Zen 3).
                let tap = |t: usize| &copies[starts[t] + p..starts[t] + p + LANES];
                // Four output channels at a time, tap by tap: four independent chains of
                // additions where one channel's nine waited on each other (each channel adds
                // its taps in the same order, so the same bits).
                for first in (0..G::C_OUT).step_by(CHANNELS) {
                    let count = CHANNELS.min(G::C_OUT - first);
                    let mut acc = [[T::zero(); LANES]; CHANNELS];
                    for (c, acc) in acc.iter_mut().enumerate().take(count) {
                        *acc = [bias(first + c); LANES];
                    }
                    for t in 0..taps {
                        let lanes = tap(t);
                        for (c, acc) in acc.iter_mut().enumerate().take(count) {
                            let w = self.weight[(first + c) * taps + t];
                            for (a, &v) in acc.iter_mut().zip(lanes) {
                                *a = M::mul_add(w, v, *a);
                            }
                        }
                    }
                    for (c, acc) in acc.iter().enumerate().take(count) {
                        let o = first + c;
                        y[o * hw + p..o * hw + p + LANES].copy_from_slice(acc);
                    }
                }
            }
            for p in blocks * LANES..hw {
                for (o, weights) in self.weight.chunks_exact(taps).enumerate() {
                    let mut acc = bias(o);
                    for (&start, &w) in starts.iter().zip(weights) {
                        acc = M::mul_add(w, copies[start + p], acc);
                    }
                    y[o * hw + p] = acc;
                }
            }
        }
    }
}

/// Workspace elements of the weight gradient's running lane sums, after the copies: `LANES`
/// per tap and output channel, and per output channel for the bias.
const fn lane_sums_len<G: Conv2dGeometry>() -> usize {
    G::C_OUT * (G::KH * G::KW + 1) * LANES
}

/// Whether the weight gradient of `G` runs here too: [`applies`], with room in the workspace
/// for the lane sums.
pub(super) const fn weight_applies<G: Conv2dGeometry>() -> bool {
    applies::<G>() && workspace_len::<G>() + lane_sums_len::<G>() <= G::WORKSPACE_LEN
}

/// `dweight (store) sum_b dY[b] cols(x[b])ᵀ` and `dbias (store) sum_{b, p} dy` (flat batches;
/// `dbias` empty without a bias).
pub(super) fn backward_weight<T: Scalar, G: Conv2dGeometry>(
    x: &[T],
    dy: &[T],
    dweight: &mut [T],
    dbias: &mut [T],
    workspace: &mut [T],
    store: Store,
) {
    if store == Store::Overwrite {
        dweight.fill(T::zero());
        dbias.fill(T::zero());
    }
    Level::of_cpu().run(Weight::<T, G> {
        x,
        dy,
        dweight,
        dbias,
        workspace,
        geometry: core::marker::PhantomData,
    });
}

struct Weight<'a, T, G> {
    x: &'a [T],
    dy: &'a [T],
    dweight: &'a mut [T],
    dbias: &'a mut [T],
    workspace: &'a mut [T],
    geometry: core::marker::PhantomData<G>,
}

/// `sums[c][k][l] += sum over blocks b of dy_c[b][l] x_k[b][l]` for two output channels and
/// three taps at once: five loads for six products, six independent chains of additions (in
/// registers: six named lane arrays, which the compiler keeps in vectors where an array of them
/// was left in memory).
#[inline(always)]
fn six_sums<T: Scalar, M: MulAdd>(
    dy: [&[[T; LANES]]; 2],
    x: [&[[T; LANES]]; 3],
    sums: &mut [[[T; LANES]; 3]; 2],
) {
    let [[mut s00, mut s01, mut s02], [mut s10, mut s11, mut s12]] = *sums;
    let blocks = dy[0].iter().zip(dy[1]).zip(x[0]).zip(x[1]).zip(x[2]);
    for ((((d, e), a), b), c) in blocks {
        for l in 0..LANES {
            s00[l] = M::mul_add(d[l], a[l], s00[l]);
            s01[l] = M::mul_add(d[l], b[l], s01[l]);
            s02[l] = M::mul_add(d[l], c[l], s02[l]);
            s10[l] = M::mul_add(e[l], a[l], s10[l]);
            s11[l] = M::mul_add(e[l], b[l], s11[l]);
            s12[l] = M::mul_add(e[l], c[l], s12[l]);
        }
    }
    *sums = [[s00, s01, s02], [s10, s11, s12]];
}

/// `sums[o (KH KW + 1) + KH KW][l] += dy_o[b][l]` over the whole blocks `b` of every output
/// channel `o`: four channels at a time inside the block loop, so that eight vector registers
/// of independent additions (AVX2) replace one channel's two, whose chains of additions waited
/// on each other. Each lane adds the same values in the same order as one channel at a time.
#[inline(always)]
fn bias_sums<T: Scalar, G: Conv2dGeometry>(dy: &[T], blocks: usize, sums: &mut [[T; LANES]]) {
    let (hw, taps) = (G::H * G::W, G::KH * G::KW);
    for first in (0..G::C_OUT).step_by(CHANNELS) {
        let count = CHANNELS.min(G::C_OUT - first);
        let mut acc = [[T::zero(); LANES]; CHANNELS];
        for (c, acc) in acc.iter_mut().enumerate().take(count) {
            *acc = sums[(first + c) * (taps + 1) + taps];
        }
        for b in 0..blocks {
            for (c, acc) in acc.iter_mut().enumerate().take(count) {
                let d = &dy[(first + c) * hw + b * LANES..][..LANES];
                for l in 0..LANES {
                    acc[l] += d[l];
                }
            }
        }
        for (c, acc) in acc.iter().enumerate().take(count) {
            sums[(first + c) * (taps + 1) + taps] = *acc;
        }
    }
}

impl<T: Scalar, G: Conv2dGeometry> Simd for Weight<'_, T, G> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        self.body::<Unfused>();
    }

    #[inline(always)]
    fn run_fma(self) {
        self.body::<Fused>();
    }
}

impl<T: Scalar, G: Conv2dGeometry> Weight<'_, T, G> {
    /// The pass, with the multiply-adds of `M`.
    #[inline(always)]
    fn body<M: MulAdd>(self) {
        let (hw, taps) = (G::H * G::W, G::KH * G::KW);
        let (copies, sums) = self.workspace.split_at_mut(workspace_len::<G>());
        let sums = &mut sums[..lane_sums_len::<G>()];
        sums.fill(T::zero());
        let (sums, _) = sums.as_chunks_mut::<LANES>();
        let blocks = hw / LANES;
        let samples = self
            .x
            .chunks_exact(hw)
            .zip(self.dy.chunks_exact(G::OUT_LEN));
        for (image, dy) in samples {
            shifted_copies::<T, G>(image, copies);
            let x = |t: usize| {
                let start = tap_start::<G>(t.min(taps - 1));
                &copies[start..start + hw]
            };
            let dy_blocks = |o: usize| &dy[o * hw..(o + 1) * hw].as_chunks::<LANES>().0[..blocks];
            // Pairs of output channels (the last one twice when their number is odd), three
            // taps at a time (the last tap repeated to fill a group); only the real ones are
            // stored.
            // The lane sums are copied in and out by plain indexing: built with `array::map`,
            // their six 64-byte arrays and the slices went through `memcpy` calls, which took
            // as long as the sums themselves (W4's first layer on AVX2).
            for o in (0..G::C_OUT).step_by(2) {
                let pair = [o, (o + 1).min(G::C_OUT - 1)];
                for t in (0..taps).step_by(3) {
                    let group = [t, (t + 1).min(taps - 1), (t + 2).min(taps - 1)];
                    let x = |j: usize| &x(group[j]).as_chunks::<LANES>().0[..blocks];
                    let mut lanes = [[[T::zero(); LANES]; 3]; 2];
                    for (k, lanes) in lanes.iter_mut().enumerate() {
                        for (j, lanes) in lanes.iter_mut().enumerate() {
                            *lanes = sums[pair[k] * (taps + 1) + group[j]];
                        }
                    }
                    six_sums::<T, M>(
                        [dy_blocks(pair[0]), dy_blocks(pair[1])],
                        [x(0), x(1), x(2)],
                        &mut lanes,
                    );
                    for (k, &o) in pair.iter().enumerate().take(G::C_OUT - o) {
                        for (j, &t) in group.iter().enumerate().take(taps - t) {
                            sums[o * (taps + 1) + t] = lanes[k][j];
                        }
                    }
                }
            }
            if G::BIAS {
                bias_sums::<T, G>(dy, blocks, sums);
            }
            for (o, dy) in dy.chunks_exact(hw).enumerate() {
                // The pixels after the last whole block.
                let dweight = &mut self.dweight[o * taps..(o + 1) * taps];
                for (p, &d) in dy.iter().enumerate().skip(blocks * LANES) {
                    for (t, dw) in dweight.iter_mut().enumerate() {
                        *dw = M::mul_add(d, x(t)[p], *dw);
                    }
                    if G::BIAS {
                        self.dbias[o] += d;
                    }
                }
            }
        }
        let channels = sums
            .chunks_exact(taps + 1)
            .zip(self.dweight.chunks_exact_mut(taps));
        for (o, (sums, dweight)) in channels.enumerate() {
            for (dw, lanes) in dweight.iter_mut().zip(sums) {
                *dw += lanes.iter().fold(T::zero(), |s, &v| s + v);
            }
            if G::BIAS {
                self.dbias[o] += sums[taps].iter().fold(T::zero(), |s, &v| s + v);
            }
        }
    }
}
