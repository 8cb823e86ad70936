//! The packed, cache-blocked GEMM: operands copied into caller-provided scratch, then one
//! register-tile kernel for every transpose case.
//!
//! # Blocking
//! The classic three-level blocking (Goto and van de Geijn): `op(B)` is cut into blocks of
//! [`KC`] x [`NC`] and `op(A)` into blocks of [`MC`] x [`KC`]; each block is copied ("packed")
//! into the scratch as panels of `NR` columns (`B`) or `MR` rows (`A`), zero-padded to whole
//! panels, in the order the micro-kernel reads them. The micro-kernel (`Leaf::packed_tile`)
//! then computes an `MR x NR` tile of `C` from one panel of each, reading both contiguously with
//! no index arithmetic, whatever the transposes and leading dimensions were. The padding rows
//! and columns only reach tile elements that are never stored.
//!
//! The `B` block (`KC x NC`, at most 512 KB in f32) is reused by every block of rows and lives
//! in L2; one panel of `A` (`MR x KC`, 8 KB) stays in L1 while the kernel walks the panels of `B`.
//!
//! # Scratch
//! [`pack_len`] elements: one `A` block and one `B` block, each no larger than the product
//! needs (small products need little). It is the maximum over the instruction-set levels this
//! build can pick at run time, so a buffer sized once works on every CPU. With less scratch
//! than the picked level needs, [`gemm`] returns `false` and does nothing.
//!
//! Preconditions (checked by the caller, [`super::gemm_with_backend`]): `m, n, k > 0`, every
//! slice holds its matrix, `alpha != 0`. Index arithmetic is safe Rust.

#[cfg(all(feature = "std", target_arch = "x86_64"))]
use super::leaf::{Avx2Fma, Avx512};
use super::leaf::{Baseline, Leaf, Level, TileOut};
use super::Transpose;
use crate::Scalar;

/// Rows of `op(A)` per packed block: a multiple of every level's `MR`.
const MC: usize = 96;

/// Depth of a packed block (steps of `k` per micro-kernel call).
const KC: usize = 256;

/// Columns of `op(B)` per packed block: a multiple of every level's `NR`.
const NC: usize = 512;

/// `(MR, NR)` of the micro-kernel of `level` for elements of `bytes` bytes: `MR` rows of `C`
/// (broadcast elements of `A`) times `NR` columns (two vector registers of `B`). The
/// accumulators take 16 of AVX-512's 32 vector registers, 12 of AVX2's 16, 8 of SSE2's 16.
const fn tile_shape(level: Level, bytes: usize) -> (usize, usize) {
    let lanes = match level {
        Level::Avx512 => 64 / bytes,
        Level::Avx2Fma => 32 / bytes,
        Level::Baseline => 16 / bytes,
    };
    let mr = match level {
        Level::Avx512 => 8,
        Level::Avx2Fma => 6,
        Level::Baseline => 4,
    };
    (mr, 2 * lanes)
}

/// Elements of scratch the product needs with tiles of `mr x nr`.
const fn pack_len_with(mr: usize, nr: usize, m: usize, n: usize, k: usize) -> usize {
    if m == 0 || n == 0 || k == 0 {
        return 0;
    }
    let kc = if k < KC { k } else { KC };
    // Capping first keeps the rounding from overflowing; MC and NC are whole tiles.
    let mc = round_up(if m < MC { m } else { MC }, mr);
    let nc = round_up(if n < NC { n } else { NC }, nr);
    mc * kc + kc * nc
}

/// Elements of scratch [`gemm`] needs for an `m x n x k` product on any level this build may
/// pick (the transposes do not change it). At most `(MC + NC) KC` (155,648 elements); 0 when a
/// dimension is 0.
pub(super) const fn pack_len(bytes: usize, m: usize, n: usize, k: usize) -> usize {
    let levels: &[Level] = if cfg!(all(feature = "std", target_arch = "x86_64")) {
        &[Level::Baseline, Level::Avx2Fma, Level::Avx512]
    } else {
        &[Level::Baseline]
    };
    let mut most = 0;
    let mut i = 0;
    while i < levels.len() {
        let (mr, nr) = tile_shape(levels[i], bytes);
        let len = pack_len_with(mr, nr, m, n, k);
        if len > most {
            most = len;
        }
        i += 1;
    }
    most
}

const fn round_up(x: usize, to: usize) -> usize {
    x.div_ceil(to) * to
}

/// One product `C <- alpha op(A) op(B) + beta C` without `C`.
#[derive(Clone, Copy)]
pub struct Product<'a, T> {
    pub transa: Transpose,
    pub transb: Transpose,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub alpha: T,
    pub a: &'a [T],
    pub lda: usize,
    pub b: &'a [T],
    pub ldb: usize,
    pub beta: T,
    pub ldc: usize,
    /// Where the rows of a non-transposed `B` start when not at `q ldb` (`ldb` is then
    /// unused); only the packed kernels read such a `B`.
    pub b_rows: Option<RowOffsets>,
}

/// The start in `b` of each row `q` of a non-transposed `B` whose rows lie at offsets affine in
/// the digits of `q = (d0 n1 + d1) n2 + d2`: `base + d0 s0 + d1 s1 + d2 s2`. The rows of a
/// stride-1 convolution's column matrix are so, read from shifted copies of the input channels
/// (`d0` the channel, `d1`, `d2` the tap's row and column): packing them straight from the copies
/// skips writing the column matrix first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowOffsets {
    /// `n1`, `n2`: the radices of the two lower digits (both at least 1).
    pub radices: [usize; 2],
    /// `s0`, `s1`, `s2`.
    pub strides: [usize; 3],
    /// Where row 0 starts.
    pub base: usize,
}

impl RowOffsets {
    /// The digits `(d0, d1, d2)` of row `q`.
    fn digits(self, q: usize) -> [usize; 3] {
        let [n1, n2] = self.radices;
        [q / (n1 * n2), q / n2 % n1, q % n2]
    }

    /// The digits of the row after the one of `digits`.
    #[inline(always)]
    fn next(self, [d0, d1, d2]: [usize; 3]) -> [usize; 3] {
        let [n1, n2] = self.radices;
        if d2 + 1 < n2 {
            [d0, d1, d2 + 1]
        } else if d1 + 1 < n1 {
            [d0, d1 + 1, 0]
        } else {
            [d0 + 1, 0, 0]
        }
    }

    /// Where the row of `digits` starts.
    #[inline(always)]
    fn start(self, [d0, d1, d2]: [usize; 3]) -> usize {
        let [s0, s1, s2] = self.strides;
        self.base + d0 * s0 + d1 * s1 + d2 * s2
    }

    /// Where row `q` starts.
    pub fn row_start(self, q: usize) -> usize {
        self.start(self.digits(q))
    }

    /// The largest start of rows `0..k` (`k > 0`). The start grows with each digit, so it is
    /// the last row's, or the last row's with a lower digit one less and the digits below it
    /// at their largest, where that row comes earlier.
    pub fn last_start(self, k: usize) -> usize {
        let [n1, n2] = self.radices;
        let [d0, d1, d2] = self.digits(k - 1);
        let mut most = self.start([d0, d1, d2]);
        if d1 > 0 {
            most = most.max(self.start([d0, d1 - 1, n2 - 1]));
        }
        if d0 > 0 {
            most = most.max(self.start([d0 - 1, n1 - 1, n2 - 1]));
        }
        most
    }
}

/// Runs the product on the widest leaves this CPU supports up to `max_level`, packing into
/// `pack`. Returns `false`, touching nothing, when `pack` is shorter than that level needs.
#[inline]
pub(super) fn gemm<T: Scalar>(
    max_level: Level,
    p: Product<'_, T>,
    c: &mut [T],
    pack: &mut [T],
) -> bool {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if let Some(leaf) = Avx512::detect().filter(|_| max_level >= Level::Avx512) {
        return if T::BYTES == 4 {
            run::<T, _, 8, 32>(leaf, p, c, pack)
        } else {
            run::<T, _, 8, 16>(leaf, p, c, pack)
        };
    }
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if let Some(leaf) = Avx2Fma::detect().filter(|_| max_level >= Level::Avx2Fma) {
        return if T::BYTES == 4 {
            run::<T, _, 6, 16>(leaf, p, c, pack)
        } else {
            run::<T, _, 6, 8>(leaf, p, c, pack)
        };
    }
    #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
    let _ = max_level;
    if T::BYTES == 4 {
        run::<T, _, 4, 8>(Baseline, p, c, pack)
    } else {
        run::<T, _, 4, 4>(Baseline, p, c, pack)
    }
}

/// The blocked loops with `MR x NR` tiles (see the module docs).
fn run<T: Scalar, K: Leaf, const MR: usize, const NR: usize>(
    leaf: K,
    p: Product<'_, T>,
    c: &mut [T],
    pack: &mut [T],
) -> bool {
    const { assert!(MC.is_multiple_of(MR) && NC.is_multiple_of(NR)) };
    let Product { m, n, k, .. } = p;
    if pack.len() < pack_len_with(MR, NR, m, n, k) {
        return false;
    }
    let kc_max = k.min(KC);
    let a_len = round_up(m.min(MC), MR) * kc_max;
    let b_len = round_up(n.min(NC), NR) * kc_max;
    let (a_pack, rest) = pack.split_at_mut(a_len);
    let a_pack = a_pack.as_chunks_mut::<MR>().0;
    let b_pack = rest[..b_len].as_chunks_mut::<NR>().0;
    let mut j0 = 0;
    while j0 < n {
        let nc = NC.min(n - j0);
        let mut beta = p.beta;
        let mut p0 = 0;
        while p0 < k {
            let kc = KC.min(k - p0);
            pack_b(p, p0, kc, j0, nc, b_pack);
            let mut i0 = 0;
            while i0 < m {
                let mc = MC.min(m - i0);
                pack_a(p, i0, mc, p0, kc, a_pack);
                let block = Block {
                    alpha: p.alpha,
                    beta,
                    i0,
                    mc,
                    j0,
                    nc,
                    kc,
                    ldc: p.ldc,
                };
                block_product(leaf, block, a_pack, b_pack, c);
                i0 += mc;
            }
            p0 += kc;
            // Later k-blocks add to what the first one stored.
            beta = T::one();
        }
        j0 += nc;
    }
    true
}

/// Where one pair of packed blocks lands in `C`.
#[derive(Clone, Copy)]
struct Block<T> {
    alpha: T,
    beta: T,
    i0: usize,
    mc: usize,
    j0: usize,
    nc: usize,
    kc: usize,
    ldc: usize,
}

/// `C[i0.., j0..] <- alpha A_block B_block + beta C[i0.., j0..]` over the packed blocks, one
/// `MR x NR` tile at a time: each panel of `A` (in L1) against every panel of `B`.
#[inline(always)]
fn block_product<T: Scalar, K: Leaf, const MR: usize, const NR: usize>(
    leaf: K,
    blk: Block<T>,
    a_pack: &[[T; MR]],
    b_pack: &[[T; NR]],
    c: &mut [T],
) {
    let kc = blk.kc;
    let a_panels = a_pack.chunks_exact(kc).take(blk.mc.div_ceil(MR));
    for (ip, a_panel) in a_panels.enumerate() {
        let i = blk.i0 + ip * MR;
        let rows = MR.min(blk.i0 + blk.mc - i);
        let b_panels = b_pack.chunks_exact(kc).take(blk.nc.div_ceil(NR));
        for (jp, b_panel) in b_panels.enumerate() {
            let j = blk.j0 + jp * NR;
            let out = TileOut {
                alpha: blk.alpha,
                beta: blk.beta,
                ldc: blk.ldc,
                rows,
                cols: NR.min(blk.j0 + blk.nc - j),
            };
            leaf.packed_tile::<T, MR, NR>(a_panel, b_panel, out, &mut c[i * blk.ldc + j..]);
        }
    }
}

/// Packs rows `i0..i0 + mc`, columns `p0..p0 + kc` of `op(A)` as panels of `MR` rows:
/// `panel[q][r] = op(A)[i0 + MR * panel_index + r][p0 + q]`, zero past row `m`.
fn pack_a<T: Scalar, const MR: usize>(
    p: Product<'_, T>,
    i0: usize,
    mc: usize,
    p0: usize,
    kc: usize,
    a_pack: &mut [[T; MR]],
) {
    let (a, lda) = (p.a, p.lda);
    for (ip, panel) in a_pack
        .chunks_exact_mut(kc)
        .take(mc.div_ceil(MR))
        .enumerate()
    {
        let i = i0 + ip * MR;
        let rows = MR.min(i0 + mc - i);
        match p.transa {
            // op(A)[i][p] = a[i * lda + p]: each row of the panel is a contiguous run, gathered
            // by the transposing kernel where there is one (`transpose`).
            Transpose::No if rows == MR => {
                let runs: [&[T]; MR] = core::array::from_fn(|r| &a[(i + r) * lda + p0..][..kc]);
                if T::gather_columns(&runs, kc, panel.as_flattened_mut()) {
                    continue;
                }
                for (q, dst) in panel.iter_mut().enumerate() {
                    for (d, run) in dst.iter_mut().zip(&runs) {
                        *d = run[q];
                    }
                }
            }
            Transpose::No => {
                for r in 0..MR {
                    if r < rows {
                        let src = &a[(i + r) * lda + p0..][..kc];
                        for (dst, &v) in panel.iter_mut().zip(src) {
                            dst[r] = v;
                        }
                    } else {
                        for dst in panel.iter_mut() {
                            dst[r] = T::zero();
                        }
                    }
                }
            }
            // op(A)[i][p] = a[p * lda + i]: each step of the panel is a contiguous run.
            Transpose::Yes => {
                for (q, dst) in panel.iter_mut().enumerate() {
                    let src = &a[(p0 + q) * lda + i..][..rows];
                    copy_padded(src, dst);
                }
            }
        }
    }
}

/// Packs rows `p0..p0 + kc`, columns `j0..j0 + nc` of `op(B)` as panels of `NR` columns:
/// `panel[q][w] = op(B)[p0 + q][j0 + NR * panel_index + w]`, zero past column `n`.
fn pack_b<T: Scalar, const NR: usize>(
    p: Product<'_, T>,
    p0: usize,
    kc: usize,
    j0: usize,
    nc: usize,
    b_pack: &mut [[T; NR]],
) {
    let (b, ldb) = (p.b, p.ldb);
    if let (Transpose::No, Some(rows)) = (p.transb, p.b_rows) {
        return pack_b_rows(b, rows, p0, kc, j0, nc, b_pack);
    }
    for (jp, panel) in b_pack
        .chunks_exact_mut(kc)
        .take(nc.div_ceil(NR))
        .enumerate()
    {
        let j = j0 + jp * NR;
        let cols = NR.min(j0 + nc - j);
        match p.transb {
            // op(B)[p][j] = b[p * ldb + j]: each step of the panel is a contiguous run.
            Transpose::No => {
                for (q, dst) in panel.iter_mut().enumerate() {
                    let src = &b[(p0 + q) * ldb + j..][..cols];
                    copy_padded(src, dst);
                }
            }
            // op(B)[p][j] = b[j * ldb + p]: each column of the panel is a contiguous run,
            // gathered by the transposing kernel where there is one (`transpose`).
            Transpose::Yes if cols == NR => {
                let runs: [&[T]; NR] = core::array::from_fn(|w| &b[(j + w) * ldb + p0..][..kc]);
                if T::gather_columns(&runs, kc, panel.as_flattened_mut()) {
                    continue;
                }
                for (q, dst) in panel.iter_mut().enumerate() {
                    for (d, run) in dst.iter_mut().zip(&runs) {
                        *d = run[q];
                    }
                }
            }
            Transpose::Yes => {
                for w in 0..NR {
                    if w < cols {
                        let src = &b[(j + w) * ldb + p0..][..kc];
                        for (dst, &v) in panel.iter_mut().zip(src) {
                            dst[w] = v;
                        }
                    } else {
                        for dst in panel.iter_mut() {
                            dst[w] = T::zero();
                        }
                    }
                }
            }
        }
    }
}

/// [`pack_b`] of a `B` whose rows start at [`RowOffsets`]: row by row (one start each, its
/// digits carried from the previous row's), each row's runs copied into every panel.
fn pack_b_rows<T: Scalar, const NR: usize>(
    b: &[T],
    rows: RowOffsets,
    p0: usize,
    kc: usize,
    j0: usize,
    nc: usize,
    b_pack: &mut [[T; NR]],
) {
    let mut digits = rows.digits(p0);
    for q in 0..kc {
        let row = &b[rows.start(digits) + j0..][..nc];
        for (jp, src) in row.chunks(NR).enumerate() {
            copy_padded(src, &mut b_pack[jp * kc + q]);
        }
        digits = rows.next(digits);
    }
}

/// `dst <- src` followed by zeros. A whole row is a fixed-size copy the compiler inlines
/// (`copy_from_slice` of a run-time length calls `memmove`, which cost 5% of a product).
#[inline(always)]
fn copy_padded<T: Scalar, const N: usize>(src: &[T], dst: &mut [T; N]) {
    if let Some(whole) = src.first_chunk::<N>() {
        *dst = *whole;
    } else {
        for (d, s) in dst
            .iter_mut()
            .zip(src.iter().copied().chain(core::iter::repeat(T::zero())))
        {
            *d = s;
        }
    }
}
