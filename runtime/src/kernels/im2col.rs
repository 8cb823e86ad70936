//! im2col / col2im: the copies that turn a 2-D convolution into a GEMM.
//!
//! # Data model
//! An image is `C` channels of `H x W` values, row-major (`x[(c * H + y) * W + x]`). A sliding
//! window of `KH x KW` taps with stride `(SH, SW)`, zero padding `(PH, PW)` and dilation
//! `(DH, DW)` visits `OH x OW` output positions. The column matrix has one row per
//! (channel, tap) and one column per output position:
//!
//! ```text
//! cols[(c * KH + i) * KW + j][oy * OW + ox] = x[c][oy * SH + i * DH - PH][ox * SW + j * DW - PW]
//! ```
//!
//! or 0 where that index falls into the padding. With the weight of `C_out` filters as a
//! `[C_out][C * KH * KW]` matrix, `W * cols` is the `[C_out][OH * OW]` output: exactly the
//! per-sample `[C, H, W]` layout, so no transposition follows the GEMM. [`col2im_add`] is the
//! adjoint of [`im2col`] (it scatters and sums what im2col gathers), which is what the input
//! gradient needs.
//!
//! These slice-based functions take the geometry at run time. The convolution kernels use a
//! version with the geometry known at compile time that reads through a zero-padded copy of the
//! image (`ops/conv/columns.rs`, about 3x faster), tested against these.

use crate::error::{check_len, Error, Result};
use crate::Scalar;

/// The geometry of a sliding window over a stack of images (see the module docs).
///
/// Any values are memory-safe: positions outside the image read as (or drop into) padding. The
/// output size is normally `(H + 2 PH - DH (KH - 1) - 1) / SH + 1` (floored), see
/// [`crate::ops::conv::conv2d_output_size`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window2d {
    /// Number of channels `C`.
    pub channels: usize,
    /// Input height `H`.
    pub h: usize,
    /// Input width `W`.
    pub w: usize,
    /// Kernel height `KH`.
    pub kh: usize,
    /// Kernel width `KW`.
    pub kw: usize,
    /// Vertical stride `SH` (>= 1).
    pub sh: usize,
    /// Horizontal stride `SW` (>= 1).
    pub sw: usize,
    /// Zero rows added above and below `PH`.
    pub ph: usize,
    /// Zero columns added left and right `PW`.
    pub pw: usize,
    /// Vertical dilation `DH` (distance between taps, >= 1).
    pub dh: usize,
    /// Horizontal dilation `DW` (>= 1).
    pub dw: usize,
    /// Output height `OH`.
    pub oh: usize,
    /// Output width `OW`.
    pub ow: usize,
}

impl Window2d {
    /// Elements of the image stack: `C * H * W`.
    pub const fn image_len(&self) -> usize {
        self.channels * self.h * self.w
    }

    /// Elements of the column matrix: `C * KH * KW * OH * OW`.
    pub const fn cols_len(&self) -> usize {
        self.channels * self.kh * self.kw * self.oh * self.ow
    }

    fn check(&self, what: &'static str, image: usize, cols: usize) -> Result<()> {
        if self.sh == 0 || self.sw == 0 {
            return Err(Error::InvalidParameter {
                name: what,
                value: 0.0,
                expected: "strides >= 1",
            });
        }
        check_len(what, self.image_len(), image)?;
        check_len(what, self.cols_len(), cols)
    }

    /// The input row that tap row `i` of output row `oy` reads, `None` in the padding.
    #[inline(always)]
    pub(crate) fn input_row(&self, oy: usize, i: usize) -> Option<usize> {
        // Wrapping turns a row above the image into a huge one, rejected like one below.
        let iy = (oy * self.sh + i * self.dh).wrapping_sub(self.ph);
        if iy < self.h {
            Some(iy)
        } else {
            None
        }
    }

    /// For tap column `j`: the output columns `lo..hi` whose tap lands inside the image and the
    /// input column that output `lo` reads (`ox` reads `first + (ox - lo) sw`). `lo == hi` when
    /// no column does.
    #[inline(always)]
    pub(crate) fn column_span(&self, j: usize) -> (usize, usize, usize) {
        let (lo, hi) = self.valid_columns(j);
        if lo == hi {
            (0, 0, 0)
        } else {
            (lo, hi, lo * self.sw + j * self.dw - self.pw)
        }
    }

    /// The output columns `ox` whose tap `j` lands inside the image, as `lo..hi`: for
    /// `ox < lo` the tap is in the left padding, for `ox >= hi` in the right one.
    #[inline]
    fn valid_columns(&self, j: usize) -> (usize, usize) {
        // ix = ox * sw + offset must lie in 0..w.
        let offset = (j * self.dw) as isize - self.pw as isize;
        let sw = self.sw as isize;
        let lo = if offset >= 0 {
            0
        } else {
            ((-offset + sw - 1) / sw) as usize
        };
        let last = self.w as isize - 1 - offset;
        let hi = if last < 0 {
            0
        } else {
            (last / sw) as usize + 1
        };
        let hi = hi.min(self.ow);
        (lo.min(hi), hi)
    }
}

/// `cols <- im2col(x)`: gathers every window tap of `x` (`C x H x W`) into `cols`
/// (`[C * KH * KW][OH * OW]`), writing 0 for taps in the padding. Every element of `cols` is
/// written.
///
/// Errors with [`Error::Length`] when `x` or `cols` does not have the length the window implies,
/// and [`Error::InvalidParameter`] for a zero stride.
pub fn im2col<T: Scalar>(win: &Window2d, x: &[T], cols: &mut [T]) -> Result<()> {
    win.check("im2col: x / cols", x.len(), cols.len())?;
    let ohw = win.oh * win.ow;
    if ohw == 0 {
        return Ok(());
    }
    let hw = win.h * win.w;
    let mut rows = cols.chunks_exact_mut(ohw);
    for c in 0..win.channels {
        let image = &x[c * hw..(c + 1) * hw];
        for i in 0..win.kh {
            for j in 0..win.kw {
                let Some(row) = rows.next() else {
                    unreachable!("cols has C * KH * KW rows")
                };
                let (lo, hi) = win.valid_columns(j);
                // Only evaluated when lo < hi, where it is >= 0 by construction.
                let first_ix = (lo * win.sw + j * win.dw).wrapping_sub(win.pw);
                for (oy, out) in row.chunks_exact_mut(win.ow).enumerate() {
                    let iy = (oy * win.sh + i * win.dh).wrapping_sub(win.ph);
                    if iy >= win.h || lo == hi {
                        // Above/below the image (wrapping makes "above" huge), or no column valid.
                        out.fill(T::zero());
                        continue;
                    }
                    let line = &image[iy * win.w..(iy + 1) * win.w];
                    out[..lo].fill(T::zero());
                    out[hi..].fill(T::zero());
                    let valid = &mut out[lo..hi];
                    if win.sw == 1 {
                        valid.copy_from_slice(&line[first_ix..first_ix + valid.len()]);
                    } else {
                        for (o, &v) in valid
                            .iter_mut()
                            .zip(line[first_ix..].iter().step_by(win.sw))
                        {
                            *o = v;
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// `x += col2im(cols)`: adds every column entry back onto the image element it was gathered from
/// by [`im2col`] (taps in the padding are dropped). Overlapping windows sum. `x` is read, so a
/// caller that wants `x = col2im(cols)` zeroes it first.
///
/// Errors as [`im2col`].
pub fn col2im_add<T: Scalar>(win: &Window2d, cols: &[T], x: &mut [T]) -> Result<()> {
    win.check("col2im_add: x / cols", x.len(), cols.len())?;
    let ohw = win.oh * win.ow;
    if ohw == 0 {
        return Ok(());
    }
    let hw = win.h * win.w;
    let mut rows = cols.chunks_exact(ohw);
    for c in 0..win.channels {
        let image = &mut x[c * hw..(c + 1) * hw];
        for i in 0..win.kh {
            for j in 0..win.kw {
                let Some(row) = rows.next() else {
                    unreachable!("cols has C * KH * KW rows")
                };
                let (lo, hi) = win.valid_columns(j);
                if lo == hi {
                    continue;
                }
                let first_ix = (lo * win.sw + j * win.dw).wrapping_sub(win.pw);
                for (oy, src) in row.chunks_exact(win.ow).enumerate() {
                    let iy = (oy * win.sh + i * win.dh).wrapping_sub(win.ph);
                    if iy >= win.h {
                        continue;
                    }
                    let line = &mut image[iy * win.w + first_ix..(iy + 1) * win.w];
                    let src = &src[lo..hi];
                    if win.sw == 1 {
                        // Contiguous on both sides: vectorizes, unlike the strided iterator.
                        for (o, &v) in line[..src.len()].iter_mut().zip(src) {
                            *o += v;
                        }
                    } else {
                        for (o, &v) in line.iter_mut().step_by(win.sw).zip(src) {
                            *o += v;
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    /// The definition, one element at a time.
    fn naive_tap(win: &Window2d, x: &[f64], row: usize, col: usize) -> f64 {
        let c = row / (win.kh * win.kw);
        let i = row / win.kw % win.kh;
        let j = row % win.kw;
        let (oy, ox) = (col / win.ow, col % win.ow);
        let iy = (oy * win.sh + i * win.dh) as isize - win.ph as isize;
        let ix = (ox * win.sw + j * win.dw) as isize - win.pw as isize;
        if iy < 0 || ix < 0 || iy >= win.h as isize || ix >= win.w as isize {
            0.0
        } else {
            x[(c * win.h + iy as usize) * win.w + ix as usize]
        }
    }

    fn windows() -> impl Iterator<Item = Window2d> {
        let mut all = std::vec::Vec::new();
        for (h, w) in [(1, 1), (4, 5), (7, 3)] {
            for (kh, kw) in [(1, 1), (3, 2), (2, 3)] {
                for (sh, sw) in [(1, 1), (2, 3)] {
                    for (ph, pw) in [(0, 0), (1, 2), (3, 1)] {
                        for (dh, dw) in [(1, 1), (2, 1)] {
                            let out = |n: usize, k: usize, s: usize, p: usize, d: usize| {
                                crate::ops::conv::conv2d_output_size(n, k, s, p, d)
                            };
                            if let (Some(oh), Some(ow)) =
                                (out(h, kh, sh, ph, dh), out(w, kw, sw, pw, dw))
                            {
                                all.push(Window2d {
                                    channels: 2,
                                    h,
                                    w,
                                    kh,
                                    kw,
                                    sh,
                                    sw,
                                    ph,
                                    pw,
                                    dh,
                                    dw,
                                    oh,
                                    ow,
                                });
                            }
                        }
                    }
                }
            }
        }
        all.into_iter()
    }

    #[test]
    fn im2col_matches_the_definition_and_col2im_is_its_adjoint() {
        let mut count = 0;
        for win in windows() {
            count += 1;
            let x: std::vec::Vec<f64> = (0..win.image_len()).map(|i| i as f64 + 1.0).collect();
            let mut cols = std::vec![f64::NAN; win.cols_len()];
            im2col(&win, &x, &mut cols).unwrap();
            let ohw = win.oh * win.ow;
            for (k, &v) in cols.iter().enumerate() {
                assert_eq!(v, naive_tap(&win, &x, k / ohw, k % ohw), "{win:?} at {k}");
            }
            // <im2col(x), c> == <x, col2im(c)> for an arbitrary c.
            let c: std::vec::Vec<f64> = (0..cols.len()).map(|i| (i % 7) as f64 - 3.0).collect();
            let mut back = std::vec![0.5; x.len()];
            col2im_add(&win, &c, &mut back).unwrap();
            let lhs: f64 = cols.iter().zip(&c).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * (b - 0.5)).sum();
            assert_eq!(lhs, rhs, "{win:?}");
        }
        assert!(count > 80, "only {count} windows tested");
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let win = windows().next().unwrap();
        let x = std::vec![0.0f32; win.image_len() + 1];
        let mut cols = std::vec![0.0f32; win.cols_len()];
        assert!(matches!(
            im2col(&win, &x, &mut cols),
            Err(Error::Length { .. })
        ));
        let zero_stride = Window2d { sh: 0, ..win };
        assert!(col2im_add(&zero_stride, &cols, &mut [0.0; 1]).is_err());
    }
}
