//! Max pooling's forward and backward passes for 2x2 windows of stride 2 that tile the image
//! (PyTorch's `max_pool2d(x, 2)` on even sizes, W4's two layers), on 256-bit vectors: `f32` on
//! x86-64 with AVX2, rows of at least 8 inputs (this module is compiled under `std` on x86-64
//! only). Where these kernels do not run, [`super::tiled`]'s flat passes do, with the same
//! bits.
//!
//! # Why intrinsics
//! [`super::tiled`]'s flat passes write their running maxima, window maxima and routed
//! gradients through four stack buffers, pass after pass, so that LLVM vectorizes each pass;
//! with the ReLU's backward fused in, W4's first layer took 111 µs where streaming its arrays
//! (read 1 MB, write 1.6 MB) takes 47 µs (Zen 3). Here one block of 4 windows goes from
//! loads to stores in registers: the two input rows as two vectors of 8, and in each vector
//! a window's pair of taps side by side.
//!
//! # The rule (PyTorch's, as in [`super::tiled`])
//! Each window's gradient goes to its first tap, in row-major order `(a, b)` over `(c, d)`,
//! equal to the window's maximum; the other taps get `+0`. Per block:
//! - `m`: the maximum of each pair (`max` with the pair swapped), then of the two rows: each
//!   window's maximum in both of its lanes of both vectors;
//! - `e0 = (row 0 == m)`, swapped within pairs to see the other tap: `a` takes it if `a == m`,
//!   `b` if `b == m` and not `a`; `c` and `d` likewise, if neither `a` nor `b` took it;
//! - the gradients `dy` of the 4 windows, each in its pair of lanes, masked by those.
//!
//! For inputs without NaN that is the rule bit for bit (`==` holds for `-0` against `+0` as in
//! PyTorch's comparisons, and `max` returns one of the equal taps). A block with a NaN among
//! its taps takes PyTorch's running maximum window by window ([`super::RunningMax`]), where a
//! NaN wins. A row whose width is not a multiple of 8 ends with a block over its last 8
//! columns, which redoes 1-3 windows of the block before it (the same inputs give the same
//! bits; when accumulating, a blend keeps their sums). Stack copies of the last columns were
//! slower than the flat passes: the wide loads right after the copies stalled on store
//! forwarding.
//!
//! With the ReLU before the pooling fused in (`pool(relu(x))`, [`super::max_pool2d_relu_backward`]),
//! the routed gradient is the ReLU output's (`dy_relu`, overwritten) and the ReLU input's
//! gets `dy_relu * (0 if y <= 0 else 1)`, the product
//! [`crate::ops::activation::activation_backward`] computes.

use crate::kernels::Store;

/// `dx (store)` the gradient of `x`'s max pooling over 2x2 windows of stride 2, `x` rows of
/// `width` (even) inputs in pairs, `dy` the windows' gradients (`width / 2` per pair of rows);
/// with `dy_relu`, that gradient goes to `dy_relu` (overwritten) and `dx (store)` gets it times
/// the ReLU's derivative at its output `x`. Returns `true` when it ran, `false` (nothing
/// written) where this CPU or the width has no kernel: no AVX2, or `width < 8` (less than one
/// block). Panics on lengths that do not fit together (odd
/// `width`, `x` not whole pairs of rows, `dy` not a quarter of `x`, `dx` or `dy_relu` not as
/// long as `x`).
pub(crate) fn max_pool_2x2_backward_f32(
    x: &[f32],
    dy: &[f32],
    width: usize,
    dy_relu: Option<&mut [f32]>,
    dx: &mut [f32],
    store: Store,
) -> bool {
    if width < COLUMNS || !std::is_x86_feature_detected!("avx2") {
        return false;
    }
    assert!(
        width.is_multiple_of(2)
            && x.len().is_multiple_of(2 * width)
            && dy.len() * 4 == x.len()
            && dx.len() == x.len()
            && dy_relu.as_ref().is_none_or(|d| d.len() == x.len()),
        "max_pool_2x2_backward: rows of {width} inputs in pairs, a quarter as many gradients"
    );
    let accumulate = store == Store::Accumulate;
    // SAFETY: the CPU has AVX2 (checked above), and the lengths fit together (asserted above):
    // all that the kernels require.
    unsafe {
        match (dy_relu, accumulate) {
            (None, false) => avx2::<false, false>(x, dy, width, &mut [], dx),
            (None, true) => avx2::<false, true>(x, dy, width, &mut [], dx),
            (Some(r), false) => avx2::<true, false>(x, dy, width, r, dx),
            (Some(r), true) => avx2::<true, true>(x, dy, width, r, dx),
        }
    }
    true
}

/// `y <-` the max pooling of `x` over 2x2 windows of stride 2: `x` rows of `width` (even)
/// inputs in pairs, `y` a maximum per window (`width / 2` per pair of rows), each PyTorch's
/// running maximum over the taps in row-major order (the first of equal maxima, NaN where a
/// tap is NaN), bit for bit as [`super::tiled`]'s `pick`. With `relu`, the ReLU before the
/// pooling fused in (`pool(relu(x))`): `relu <-` the ReLU of `x` (as
/// [`crate::ops::activation::Relu`]: `0` where `x < 0`, else `x`, NaN and `-0` kept) and `y`
/// pools that, each block's ReLU pooled in registers instead of read back. Returns `true` when
/// it ran, `false` (nothing written) where [`max_pool_2x2_backward_f32`] has no kernel either.
/// Panics on lengths that do not fit together (`relu` not as long as `x`).
pub(crate) fn max_pool_2x2_forward_f32(
    x: &[f32],
    width: usize,
    relu: Option<&mut [f32]>,
    y: &mut [f32],
) -> bool {
    if width < COLUMNS || !std::is_x86_feature_detected!("avx2") {
        return false;
    }
    assert!(
        width.is_multiple_of(2)
            && x.len().is_multiple_of(2 * width)
            && y.len() * 4 == x.len()
            && relu.as_ref().is_none_or(|r| r.len() == x.len()),
        "max_pool_2x2_forward: rows of {width} inputs in pairs, a quarter as many outputs"
    );
    // SAFETY: the CPU has AVX2 (checked above), and the lengths fit together (asserted above).
    unsafe {
        match relu {
            None => forward_avx2::<false>(x, width, &mut [], y),
            Some(relu) => forward_avx2::<true>(x, width, relu, y),
        }
    }
    true
}

/// The forward kernel: per block of 4 windows, `pick(pick(a, b), pick(c, d))` as
/// `max(second, first)` (which keeps the first of equal values, `-0` before `+0`), the even
/// lanes gathered into 4 outputs, and NaN where a tap is NaN. A width that is not a multiple of
/// 8 ends with a block over the last 8 columns (it stores 1-3 outputs again, the same values).
/// With `RELU`, each row's 8 inputs go through the ReLU first (`x < 0` selects `+0`; false for
/// NaN and `-0`, which stay), and are stored to `relu` (the redone columns again, the same
/// values).
///
/// # Safety
/// The CPU has AVX2; `width >= 8` is even, `x.len()` a multiple of `2 width`,
/// `y.len() = x.len() / 4`, and with `RELU` `relu.len() = x.len()`.
#[target_feature(enable = "avx2")]
unsafe fn forward_avx2<const RELU: bool>(x: &[f32], width: usize, relu: &mut [f32], y: &mut [f32]) {
    use core::arch::x86_64::*;
    let pairs = x.len() / (2 * width);
    let zero = _mm256_setzero_ps();
    let last = width - COLUMNS;
    let even = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    for p in 0..pairs {
        let (row, outputs) = (2 * p * width, p * width / 2);
        let mut c = 0;
        loop {
            // SAFETY: `c + 8 <= width`, so columns `c..c + 8` of both rows of pair `p` lie in
            // `x` (and in `relu`, as long with `RELU`) and outputs `c / 2..c / 2 + 4` of its
            // `width / 2` in `y` (a quarter of `x`).
            unsafe {
                let mut upper = _mm256_loadu_ps(x.as_ptr().add(row + c));
                let mut lower = _mm256_loadu_ps(x.as_ptr().add(row + width + c));
                if RELU {
                    upper = _mm256_andnot_ps(_mm256_cmp_ps::<_CMP_LT_OQ>(upper, zero), upper);
                    lower = _mm256_andnot_ps(_mm256_cmp_ps::<_CMP_LT_OQ>(lower, zero), lower);
                    _mm256_storeu_ps(relu.as_mut_ptr().add(row + c), upper);
                    _mm256_storeu_ps(relu.as_mut_ptr().add(row + width + c), lower);
                }
                // At each even lane: pick(a, b) = b > a ? b : a, then pick over the two rows.
                let upper_max = _mm256_max_ps(_mm256_permute_ps::<0xB1>(upper), upper);
                let lower_max = _mm256_max_ps(_mm256_permute_ps::<0xB1>(lower), lower);
                let max = _mm256_max_ps(lower_max, upper_max);
                let nan = _mm256_or_ps(
                    _mm256_cmp_ps::<_CMP_UNORD_Q>(upper, upper),
                    _mm256_cmp_ps::<_CMP_UNORD_Q>(lower, lower),
                );
                let nan = _mm256_or_ps(nan, _mm256_permute_ps::<0xB1>(nan));
                let max = _mm256_blendv_ps(max, _mm256_set1_ps(f32::NAN), nan);
                let max = _mm256_permutevar8x32_ps(max, even);
                _mm_storeu_ps(
                    y.as_mut_ptr().add(outputs + c / 2),
                    _mm256_castps256_ps128(max),
                );
            }
            if c == last {
                break;
            }
            c = (c + COLUMNS).min(last);
        }
    }
}

/// Columns per block: one vector of 8 `f32` per input row, 4 windows.
const COLUMNS: usize = 8;

/// The kernel over every pair of rows (see the module docs); `RELU` with the ReLU fused in
/// (`dy_relu` as long as `x`, else empty), `ACCUMULATE` to add to `dx`.
///
/// # Safety
/// The CPU has AVX2; `width` is even and at least 8, `x.len()` a multiple of `2 width`,
/// `dy.len() = x.len() / 4`, `dx.len() = x.len()`, and with `RELU` `dy_relu.len() = x.len()`.
#[target_feature(enable = "avx2")]
unsafe fn avx2<const RELU: bool, const ACCUMULATE: bool>(
    x: &[f32],
    dy: &[f32],
    width: usize,
    dy_relu: &mut [f32],
    dx: &mut [f32],
) {
    let pairs = x.len() / (2 * width);
    let full = width / COLUMNS * COLUMNS;
    // A width that is not a multiple of 8 ends with a block over the last 8 columns, which
    // overlaps the block before it by `redone` columns (even: the windows line up).
    let redone = (full + COLUMNS - width) % COLUMNS;
    for p in 0..pairs {
        let (row, grads) = (2 * p * width, p * width / 2);
        let block = |c: usize, skip: usize| Block {
            x0: row + c,
            x1: row + width + c,
            dy: grads + c / 2,
            skip,
        };
        for c in (0..full).step_by(COLUMNS) {
            // SAFETY: `c + 8 <= full <= width`, so columns `c..c + 8` of both rows of pair `p`
            // and gradients `c / 2..c / 2 + 4` of its `width / 2` lie within `x` (pairs of
            // rows), `dx`, `dy_relu` (with `RELU`; as long as `x`) and `dy` (a quarter of `x`).
            unsafe { block(c, 0).run::<RELU, ACCUMULATE, false>(x, dy, dy_relu, dx) };
        }
        if redone > 0 {
            // SAFETY: as above for `c = width - 8` (`width >= 8`).
            unsafe {
                block(width - COLUMNS, redone / 2).run::<RELU, ACCUMULATE, true>(x, dy, dy_relu, dx)
            };
        }
    }
}

/// Where one block's data starts: columns of the upper and the lower row (`x0`, `x1`, in `x`,
/// `dx` and `dy_relu` alike) and its 4 windows' gradients (`dy`); its first `skip` windows were
/// done by the block before it (a row's last block, see [`avx2`]).
struct Block {
    x0: usize,
    x1: usize,
    dy: usize,
    skip: usize,
}

impl Block {
    /// One block (see the module docs); `REDONE` for a row's last block, whose first `skip`
    /// windows the block before it did.
    ///
    /// # Safety
    /// The CPU has AVX2; elements `x0..x0 + 8` and `x1..x1 + 8` lie within `x`, `dx` and (with
    /// `RELU`) `dy_relu`, and `dy..dy + 4` within `dy`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn run<const RELU: bool, const ACCUMULATE: bool, const REDONE: bool>(
        &self,
        x: &[f32],
        dy: &[f32],
        dy_relu: &mut [f32],
        dx: &mut [f32],
    ) {
        use core::arch::x86_64::*;
        // SAFETY: the caller guarantees the ranges read and written here.
        unsafe {
            let upper = _mm256_loadu_ps(x.as_ptr().add(self.x0));
            let lower = _mm256_loadu_ps(x.as_ptr().add(self.x1));
            let nan = _mm256_or_ps(
                _mm256_cmp_ps::<_CMP_UNORD_Q>(upper, upper),
                _mm256_cmp_ps::<_CMP_UNORD_Q>(lower, lower),
            );
            if _mm256_movemask_ps(nan) != 0 {
                self.running_max::<RELU, ACCUMULATE>(x, dy, dy_relu, dx);
                return;
            }
            // Each tap's pair partner: lanes (0 1)(2 3)... swapped. (Macros, not closures: the
            // expressions stay in this function's AVX2 code.)
            macro_rules! swap {
                ($v:expr) => {
                    _mm256_permute_ps::<0xB1>($v)
                };
            }
            let (upper_pairs, lower_pairs) = (
                _mm256_max_ps(upper, swap!(upper)),
                _mm256_max_ps(lower, swap!(lower)),
            );
            let max = _mm256_max_ps(upper_pairs, lower_pairs);
            // The second lane of each pair: where a tap's partner comes first.
            let second = _mm256_castsi256_ps(_mm256_setr_epi32(0, -1, 0, -1, 0, -1, 0, -1));
            let upper_max = _mm256_cmp_ps::<_CMP_EQ_OQ>(upper, max);
            let lower_max = _mm256_cmp_ps::<_CMP_EQ_OQ>(lower, max);
            // a: a == m; b: b == m and not a == m (its partner, first in the pair).
            let upper_takes = _mm256_andnot_ps(_mm256_and_ps(swap!(upper_max), second), upper_max);
            let upper_holds = _mm256_or_ps(upper_max, swap!(upper_max));
            let lower_first = _mm256_and_ps(swap!(lower_max), second);
            let lower_takes = _mm256_andnot_ps(_mm256_or_ps(lower_first, upper_holds), lower_max);
            // [g0 g0 g1 g1 g2 g2 g3 g3]
            let grads = _mm256_permutevar8x32_ps(
                _mm256_castps128_ps256(_mm_loadu_ps(dy.as_ptr().add(self.dy))),
                _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3),
            );
            let skipped = _mm256_castsi256_ps(_mm256_cmpgt_epi32(
                _mm256_set1_epi32(2 * self.skip as i32),
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            ));
            let routed = [
                (self.x0, upper, _mm256_and_ps(upper_takes, grads)),
                (self.x1, lower, _mm256_and_ps(lower_takes, grads)),
            ];
            for (start, y, g) in routed {
                let out = if RELU {
                    _mm256_storeu_ps(dy_relu.as_mut_ptr().add(start), g);
                    // The ReLU's derivative from its output: 0 where `y <= 0`, else 1.
                    let off = _mm256_cmp_ps::<_CMP_LE_OQ>(y, _mm256_setzero_ps());
                    _mm256_mul_ps(g, _mm256_andnot_ps(off, _mm256_set1_ps(1.0)))
                } else {
                    g
                };
                let p = dx.as_mut_ptr().add(start);
                let out = if ACCUMULATE {
                    // The skipped windows' lanes keep their sums (elsewhere the same values
                    // are stored again: the same inputs give the same bits).
                    let old = _mm256_loadu_ps(p);
                    let new = _mm256_add_ps(old, out);
                    // Only a row's last block (`REDONE`) skips lanes: a blend on every block
                    // became a masked store (`vmaskmovps`, slow on AMD CPUs) on every block.
                    if REDONE {
                        _mm256_blendv_ps(new, old, skipped)
                    } else {
                        new
                    }
                } else {
                    out
                };
                _mm256_storeu_ps(p, out);
            }
        }
    }

    /// The block's 4 windows with PyTorch's running maximum, one by one (a NaN among the
    /// taps). Out of line: rare.
    #[inline(never)]
    fn running_max<const RELU: bool, const ACCUMULATE: bool>(
        &self,
        x: &[f32],
        dy: &[f32],
        dy_relu: &mut [f32],
        dx: &mut [f32],
    ) {
        use crate::ops::activation::{Activation, Relu};
        for w in self.skip..COLUMNS / 2 {
            let taps = [
                self.x0 + 2 * w,
                self.x0 + 2 * w + 1,
                self.x1 + 2 * w,
                self.x1 + 2 * w + 1,
            ];
            let mut max = super::RunningMax::new(0);
            for (t, &p) in taps.iter().enumerate() {
                max.push(x[p], t);
            }
            for (t, &p) in taps.iter().enumerate() {
                let g = if t == max.arg { dy[self.dy + w] } else { 0.0 };
                let out = if RELU {
                    dy_relu[p] = g;
                    g * Relu.derivative(x[p], x[p])
                } else {
                    g
                };
                dx[p] = if ACCUMULATE { dx[p] + out } else { out };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{max_pool_2x2_backward_f32, max_pool_2x2_forward_f32};
    use crate::kernels::Store;
    use crate::ops::activation::{Activation, Relu};
    use crate::ops::pool::RunningMax;

    /// The gradients window by window with PyTorch's running maximum: `(dy_relu, dx)` for the
    /// ReLU fused in, else `dx` in both.
    fn reference(
        x: &[f32],
        dy: &[f32],
        width: usize,
        relu: bool,
        dx: &[f32],
        store: Store,
    ) -> (Vec<f32>, Vec<f32>) {
        let mut routed = vec![0.0f32; x.len()];
        for (w, &g) in dy.iter().enumerate() {
            let (pair, col) = (w / (width / 2), 2 * (w % (width / 2)));
            let top = 2 * pair * width + col;
            let taps = [top, top + 1, top + width, top + width + 1];
            let mut max = RunningMax::new(0);
            for (t, &p) in taps.iter().enumerate() {
                max.push(x[p], t);
            }
            routed[taps[max.arg]] = g;
        }
        let out: Vec<f32> = routed
            .iter()
            .zip(x)
            .zip(dx)
            .map(|((&g, &y), &old)| {
                let g = if relu { g * Relu.derivative(y, y) } else { g };
                match store {
                    Store::Overwrite => g,
                    Store::Accumulate => old + g,
                }
            })
            .collect();
        (routed, out)
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// The kernel against [`reference`], bit for bit, for widths around whole blocks of 8
    /// (the last block redoing 1-3 windows), with and without the ReLU, both store modes, on
    /// inputs full of ties (signed zeros among them) with NaN and infinities in some windows
    /// (also in the redone ones), and upstream gradients of both signs with a NaN and an
    /// infinity among them.
    #[test]
    fn matches_the_running_maximum_window_by_window() {
        if !std::is_x86_feature_detected!("avx2") {
            return;
        }
        let specials = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0];
        for width in [8, 10, 12, 14, 16, 18, 22, 24, 28, 30, 62] {
            let pairs = 7;
            let n = 2 * pairs * width;
            for special_every in [0, 37, 11] {
                let x: Vec<f32> = (0..n)
                    .map(
                        |i| match (special_every > 0 && i % special_every == 5, i * 7 % 5) {
                            (true, _) => specials[i / special_every.max(1) % 4],
                            (_, 0) => 0.0,
                            (_, 1) => -0.0,
                            (_, 2) => -1.0,
                            (_, v) => v as f32,
                        },
                    )
                    .collect();
                let dy: Vec<f32> = (0..n / 4)
                    .map(|i| match i % 29 {
                        3 => f32::NAN,
                        4 => f32::NEG_INFINITY,
                        _ => (i as f32 * 0.37).sin(),
                    })
                    .collect();
                let start: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
                for relu in [false, true] {
                    for store in [Store::Overwrite, Store::Accumulate] {
                        let (want_relu, want) = reference(&x, &dy, width, relu, &start, store);
                        let mut got = start.clone();
                        let mut got_relu = vec![f32::NAN; n];
                        let ran = max_pool_2x2_backward_f32(
                            &x,
                            &dy,
                            width,
                            relu.then_some(&mut got_relu[..]),
                            &mut got,
                            store,
                        );
                        let case = format!(
                            "width {width}, specials every {special_every}, relu {relu}, {store:?}"
                        );
                        assert!(ran, "{case}: the kernel did not run");
                        assert!(bits(&got) == bits(&want), "{case}: dx");
                        if relu {
                            assert!(bits(&got_relu) == bits(&want_relu), "{case}: dy_relu");
                        }
                    }
                }
            }
        }
    }

    /// The forward kernel against PyTorch's running maximum window by window, bit for bit, for
    /// widths around whole blocks of 8 (the last block storing 1-3 outputs again), on ties
    /// between signed zeros (the first wins) and NaN of either sign and a payload (canonical NaN
    /// out) and infinities in some windows; with the ReLU fused in, the ReLU's output (NaN and
    /// `-0` kept) against [`Relu`]'s, and its pooling.
    #[test]
    fn forward_matches_the_running_maximum_window_by_window() {
        if !std::is_x86_feature_detected!("avx2") {
            return;
        }
        let specials = [
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0x7fc0_0123),
            f32::INFINITY,
            f32::NEG_INFINITY,
        ];
        for width in [8, 10, 12, 14, 16, 18, 22, 24, 28, 30, 62] {
            let n = 2 * 5 * width;
            for special_every in [0, 37, 13] {
                let x: Vec<f32> = (0..n)
                    .map(|i| {
                        match (
                            special_every > 0 && i % special_every == 5,
                            (i * 7 + i / 5) % 4,
                        ) {
                            (true, _) => specials[i / special_every.max(1) % specials.len()],
                            (_, 0) => 0.0,
                            (_, 1) => -0.0,
                            (_, 2) => -1.0,
                            _ => -2.0,
                        }
                    })
                    .collect();
                for relu in [false, true] {
                    let pooled: Vec<f32> = if relu {
                        x.iter().map(|&v| Relu.forward(v)).collect()
                    } else {
                        x.clone()
                    };
                    let want: Vec<f32> = (0..n / 4)
                        .map(|w| {
                            let (pair, col) = (w / (width / 2), 2 * (w % (width / 2)));
                            let top = 2 * pair * width + col;
                            let mut max = RunningMax::new(0);
                            for (t, p) in [top, top + 1, top + width, top + width + 1]
                                .into_iter()
                                .enumerate()
                            {
                                max.push(pooled[p], t);
                            }
                            max.value()
                        })
                        .collect();
                    let mut got = vec![7.0f32; n / 4];
                    let mut got_relu = vec![7.0f32; n];
                    let case =
                        format!("width {width}, specials every {special_every}, relu {relu}");
                    assert!(
                        max_pool_2x2_forward_f32(
                            &x,
                            width,
                            relu.then_some(&mut got_relu[..]),
                            &mut got
                        ),
                        "{case}: ran"
                    );
                    assert!(bits(&got) == bits(&want), "{case}");
                    if relu {
                        assert!(
                            bits(&got_relu) == bits(&pooled),
                            "{case}: the ReLU's output"
                        );
                    } else {
                        assert!(got_relu.iter().all(|&v| v == 7.0), "{case}: no ReLU output");
                    }
                }
            }
        }
    }

    /// Rows narrower than one block are left to the portable passes, untouched.
    #[test]
    fn declines_rows_narrower_than_a_block() {
        for width in [2, 4, 6] {
            let x = vec![1.0f32; 4 * width];
            let mut dx = vec![f32::NAN; 4 * width];
            let mut dy = vec![1.0f32; width];
            let ran = max_pool_2x2_backward_f32(&x, &dy, width, None, &mut dx, Store::Overwrite);
            assert!(!ran && dx.iter().all(|v| v.is_nan()), "width {width}");
            let ran = max_pool_2x2_forward_f32(&x, width, None, &mut dy);
            assert!(
                !ran && dy.iter().all(|&v| v == 1.0),
                "width {width}: forward"
            );
        }
    }
}
