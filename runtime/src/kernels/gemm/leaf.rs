//! The innermost loops of the portable GEMM, and their CPU-feature specializations.
//!
//! A leaf computes one register tile over a stretch of `k` and returns it; the drivers in
//! `portable` store it. Leaves are never inlined into the drivers: in one function with the lane
//! reduction or the store to `C`, LLVM's SLP vectorizer pairs up elements of different
//! accumulators and emits shuffles instead of straight vector arithmetic.
//!
//! Each leaf body is generic and `#[inline(always)]`; [`Baseline`] compiles it for the target's
//! baseline instruction set (SSE2 on x86-64, whatever the target has elsewhere). Under `std` on
//! x86-64, [`Avx2Fma`] compiles the same bodies with AVX2 and FMA enabled (selected at run time,
//! so binaries stay portable), which doubles the vector width and fuses each multiply-add, and
//! [`Avx512`] with AVX-512F as well (four times the baseline width).

use crate::Scalar;

/// Instruction-set levels of the leaves, narrowest first. Only x86-64 under `std` has levels
/// above [`Level::Baseline`]; elsewhere every level runs the baseline leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Level {
    /// [`Baseline`].
    Baseline,
    /// `Avx2Fma` (x86-64 with AVX2 and FMA).
    Avx2Fma,
    /// `Avx512` (x86-64 with AVX-512F).
    Avx512,
}

/// The innermost loops, compiled once per instruction-set level.
///
/// # Contract
/// `broadcast_tile` returns `tile[r][w] = sum_{q < kc} x(r, q) * y[q * ldy + w]` where
/// `x(r, q) = x[q * ldx + r]` when `XT`, else `x[r * ldx + q]`; `dot_partials` returns
/// `partial[r][w][l] = sum_q a[r][q * L + l] * b[w][q * L + l]` over the whole `L`-chunks of the
/// (equally long) rows; `dot_segments` returns the same sums over every segment of its rows,
/// a segment's last `len mod L` products added as chunks padded with zeros (half a chunk, then
/// one lane at a time); `packed_tile` computes `tile[r][w] = sum_q a[q][r] * b[q][w]` over the
/// steps of the shorter of the two packed panels (`broadcast_tile` on packed operands, with no
/// stride left to compute) and stores it into `c` as [`TileOut`] says (in the leaf, so the
/// store runs at the leaf's vector width too). Each may fuse a multiply-add (one rounding
/// instead of two).
pub(super) trait Leaf: Copy {
    /// See the trait docs.
    fn broadcast_tile<T: Scalar, const R: usize, const W: usize, const XT: bool>(
        self,
        x: &[T],
        ldx: usize,
        y: &[T],
        ldy: usize,
        kc: usize,
    ) -> [[T; W]; R];

    /// See the trait docs.
    fn dot_partials<T: Scalar, const L: usize, const R: usize, const W: usize>(
        self,
        a: &[&[T]; R],
        b: &[&[T]; W],
    ) -> [[[T; L]; W]; R];

    /// See the trait docs.
    fn packed_tile<T: Scalar, const R: usize, const W: usize>(
        self,
        a: &[[T; R]],
        b: &[[T; W]],
        out: TileOut<T>,
        c: &mut [T],
    );

    /// See the trait docs.
    fn dot_segments<T: Scalar, const L: usize, const R: usize, const W: usize>(
        self,
        a: SegmentRows<'_, T, R>,
        b: SegmentRows<'_, T, W>,
        len: usize,
        segments: usize,
    ) -> [[[T; L]; W]; R];
}

/// The rows of one operand of [`Leaf::dot_segments`]: row `r` of segment `s` is
/// `data[starts[r] + s * segment..][..len]`.
#[derive(Clone, Copy)]
pub(super) struct SegmentRows<'a, T, const N: usize> {
    pub data: &'a [T],
    pub starts: [usize; N],
    pub segment: usize,
}

/// Where [`Leaf::packed_tile`] stores its tile: `c[r * ldc + w] <- alpha * tile[r][w] + beta *
/// c[r * ldc + w]` for `r < rows`, `w < cols` (`rows <= R`, `cols <= W`), not reading `c` when
/// `beta == 0`.
#[derive(Clone, Copy)]
pub(super) struct TileOut<T> {
    pub alpha: T,
    pub beta: T,
    pub ldc: usize,
    pub rows: usize,
    pub cols: usize,
}

/// Leaves compiled for the target's baseline instruction set.
#[derive(Clone, Copy)]
pub(super) struct Baseline;

impl Leaf for Baseline {
    #[inline(never)]
    fn broadcast_tile<T: Scalar, const R: usize, const W: usize, const XT: bool>(
        self,
        x: &[T],
        ldx: usize,
        y: &[T],
        ldy: usize,
        kc: usize,
    ) -> [[T; W]; R] {
        broadcast_tile_body::<T, R, W, XT, false>(x, ldx, y, ldy, kc)
    }

    #[inline(never)]
    fn dot_partials<T: Scalar, const L: usize, const R: usize, const W: usize>(
        self,
        a: &[&[T]; R],
        b: &[&[T]; W],
    ) -> [[[T; L]; W]; R] {
        dot_partials_body::<T, L, R, W, false>(a, b)
    }

    #[inline]
    fn packed_tile<T: Scalar, const R: usize, const W: usize>(
        self,
        a: &[[T; R]],
        b: &[[T; W]],
        out: TileOut<T>,
        c: &mut [T],
    ) {
        #[inline(never)]
        fn tile<T: Scalar, const R: usize, const W: usize>(
            a: &[[T; R]],
            b: &[[T; W]],
            rows: usize,
            cols: usize,
        ) -> [[T; W]; R] {
            partial_tile_body::<T, R, W, false>(a, b, rows, cols)
        }
        #[inline(never)]
        fn store<T: Scalar, const R: usize, const W: usize>(
            tile: &[[T; W]; R],
            out: TileOut<T>,
            c: &mut [T],
        ) {
            store_tile_body(tile, out, c)
        }
        #[inline(never)]
        fn fused<T: Scalar, const R: usize, const W: usize>(
            a: &[[T; R]],
            b: &[[T; W]],
            out: TileOut<T>,
            c: &mut [T],
        ) {
            fused_tile_body::<T, R, W, false>(a, b, out, c)
        }
        if out.rows == R && out.cols == W {
            fused(a, b, out, c);
        } else {
            store(&tile(a, b, out.rows, out.cols), out, c);
        }
    }

    #[inline(never)]
    fn dot_segments<T: Scalar, const L: usize, const R: usize, const W: usize>(
        self,
        a: SegmentRows<'_, T, R>,
        b: SegmentRows<'_, T, W>,
        len: usize,
        segments: usize,
    ) -> [[[T; L]; W]; R] {
        dot_segments_body::<T, L, R, W, false>(a, b, len, segments)
    }
}

/// Defines a leaf set compiled with extra x86-64 target features: a token type that only
/// `detect` can create, on a CPU with every feature, and a [`Leaf`] impl that calls the bodies
/// through `#[target_feature]` functions (`unsafe` to call, sound given the token).
#[cfg(all(feature = "std", target_arch = "x86_64"))]
macro_rules! x86_leaf {
    ($(#[$doc:meta])* $name:ident, $features:literal, [$($feature:tt),+]) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub(super) struct $name {
            _detected: (),
        }

        impl $name {
            /// `Some` when this CPU has every feature the leaves are compiled with (std caches
            /// the CPUID query, so this is a few loads).
            #[inline]
            pub(super) fn detect() -> Option<Self> {
                if $(std::is_x86_feature_detected!($feature))&&+ {
                    Some($name { _detected: () })
                } else {
                    None
                }
            }
        }

        impl Leaf for $name {
            #[inline]
            fn broadcast_tile<T: Scalar, const R: usize, const W: usize, const XT: bool>(
                self,
                x: &[T],
                ldx: usize,
                y: &[T],
                ldy: usize,
                kc: usize,
            ) -> [[T; W]; R] {
                #[target_feature(enable = $features)]
                fn leaf<T: Scalar, const R: usize, const W: usize, const XT: bool>(
                    x: &[T],
                    ldx: usize,
                    y: &[T],
                    ldy: usize,
                    kc: usize,
                ) -> [[T; W]; R] {
                    broadcast_tile_body::<T, R, W, XT, true>(x, ldx, y, ldy, kc)
                }
                // SAFETY: `self` exists only if `detect` found every feature of `$features` on
                // this CPU, the only requirement of a `#[target_feature]` function; the body is
                // safe Rust.
                unsafe { leaf::<T, R, W, XT>(x, ldx, y, ldy, kc) }
            }

            #[inline]
            fn dot_partials<T: Scalar, const L: usize, const R: usize, const W: usize>(
                self,
                a: &[&[T]; R],
                b: &[&[T]; W],
            ) -> [[[T; L]; W]; R] {
                #[target_feature(enable = $features)]
                fn leaf<T: Scalar, const L: usize, const R: usize, const W: usize>(
                    a: &[&[T]; R],
                    b: &[&[T]; W],
                ) -> [[[T; L]; W]; R] {
                    dot_partials_body::<T, L, R, W, true>(a, b)
                }
                // SAFETY: as in `broadcast_tile`: the CPU has every feature of `$features`.
                unsafe { leaf::<T, L, R, W>(a, b) }
            }

            #[inline]
            fn packed_tile<T: Scalar, const R: usize, const W: usize>(
                self,
                a: &[[T; R]],
                b: &[[T; W]],
                out: TileOut<T>,
                c: &mut [T],
            ) {
                #[target_feature(enable = $features)]
                fn tile<T: Scalar, const R: usize, const W: usize>(
                    a: &[[T; R]],
                    b: &[[T; W]],
                    rows: usize,
                    cols: usize,
                ) -> [[T; W]; R] {
                    partial_tile_body::<T, R, W, true>(a, b, rows, cols)
                }
                #[target_feature(enable = $features)]
                fn store<T: Scalar, const R: usize, const W: usize>(
                    tile: &[[T; W]; R],
                    out: TileOut<T>,
                    c: &mut [T],
                ) {
                    store_tile_body(tile, out, c)
                }
                #[target_feature(enable = $features)]
                fn fused<T: Scalar, const R: usize, const W: usize>(
                    a: &[[T; R]],
                    b: &[[T; W]],
                    out: TileOut<T>,
                    c: &mut [T],
                ) {
                    fused_tile_body::<T, R, W, true>(a, b, out, c)
                }
                if out.rows == R && out.cols == W {
                    // SAFETY: as in `broadcast_tile`: the CPU has every feature of `$features`.
                    unsafe { fused::<T, R, W>(a, b, out, c) }
                } else {
                    // SAFETY: as above.
                    let tile = unsafe { tile::<T, R, W>(a, b, out.rows, out.cols) };
                    // SAFETY: as above.
                    unsafe { store::<T, R, W>(&tile, out, c) }
                }
            }

            #[inline]
            fn dot_segments<T: Scalar, const L: usize, const R: usize, const W: usize>(
                self,
                a: SegmentRows<'_, T, R>,
                b: SegmentRows<'_, T, W>,
                len: usize,
                segments: usize,
            ) -> [[[T; L]; W]; R] {
                #[target_feature(enable = $features)]
                fn leaf<T: Scalar, const L: usize, const R: usize, const W: usize>(
                    a: SegmentRows<'_, T, R>,
                    b: SegmentRows<'_, T, W>,
                    len: usize,
                    segments: usize,
                ) -> [[[T; L]; W]; R] {
                    dot_segments_body::<T, L, R, W, true>(a, b, len, segments)
                }
                // SAFETY: as in `broadcast_tile`: the CPU has every feature of `$features`.
                unsafe { leaf::<T, L, R, W>(a, b, len, segments) }
            }
        }
    };
}

#[cfg(all(feature = "std", target_arch = "x86_64"))]
x86_leaf!(
    /// Leaves compiled with AVX2 and FMA (256-bit vectors, fused multiply-add).
    Avx2Fma,
    "avx2,fma",
    ["avx2", "fma"]
);

#[cfg(all(feature = "std", target_arch = "x86_64"))]
x86_leaf!(
    /// Leaves compiled with AVX-512F as well (512-bit vectors).
    Avx512,
    "avx512f,avx2,fma",
    ["avx512f", "avx2", "fma"]
);

/// `acc + x * y`, fused into one rounding when `FMA`: only instantiated where the CPU has FMA,
/// since elsewhere `mul_add` is a slow software (libm) routine.
#[inline(always)]
fn madd<T: Scalar, const FMA: bool>(acc: T, x: T, y: T) -> T {
    if FMA {
        x.mul_add(y, acc)
    } else {
        acc + x * y
    }
}

/// The first `N` elements of `s`. Callers pass slices whose length the checked extents
/// guarantee, so the `None` arm is an internal invariant.
#[inline(always)]
fn head<T: Copy, const N: usize>(s: &[T]) -> [T; N] {
    match s.first_chunk::<N>() {
        Some(h) => *h,
        None => unreachable!("gemm: operand extents were checked by the caller"),
    }
}

/// Body of [`Leaf::broadcast_tile`].
#[inline(always)]
fn broadcast_tile_body<
    T: Scalar,
    const R: usize,
    const W: usize,
    const XT: bool,
    const FMA: bool,
>(
    x: &[T],
    ldx: usize,
    y: &[T],
    ldy: usize,
    kc: usize,
) -> [[T; W]; R] {
    let mut tile = [[T::zero(); W]; R];
    for q in 0..kc {
        let xs: [T; R] = if XT {
            head(&x[q * ldx..])
        } else {
            core::array::from_fn(|r| x[r * ldx + q])
        };
        let ys: [T; W] = head(&y[q * ldy..]);
        for (row, &xv) in tile.iter_mut().zip(&xs) {
            for (t, &yv) in row.iter_mut().zip(&ys) {
                *t = madd::<T, FMA>(*t, xv, yv);
            }
        }
    }
    tile
}

/// Body of [`Leaf::dot_partials`].
#[inline(always)]
fn dot_partials_body<T: Scalar, const L: usize, const R: usize, const W: usize, const FMA: bool>(
    a: &[&[T]; R],
    b: &[&[T]; W],
) -> [[[T; L]; W]; R] {
    let mut partial = [[[T::zero(); L]; W]; R];
    add_chunks::<T, L, R, W, FMA>(&mut partial, a, b);
    partial
}

/// `partial[r][w][l] += a[r][q L + l] * b[w][q L + l]` over the whole `L`-chunks of the rows.
#[inline(always)]
fn add_chunks<T: Scalar, const L: usize, const R: usize, const W: usize, const FMA: bool>(
    partial: &mut [[[T; L]; W]; R],
    a: &[&[T]; R],
    b: &[&[T]; W],
) {
    let chunks = a[0].len() / L;
    let ac: [&[[T; L]]; R] = core::array::from_fn(|r| &a[r].as_chunks::<L>().0[..chunks]);
    let bc: [&[[T; L]]; W] = core::array::from_fn(|w| &b[w].as_chunks::<L>().0[..chunks]);
    for q in 0..chunks {
        let av: [[T; L]; R] = core::array::from_fn(|r| ac[r][q]);
        let bv: [[T; L]; W] = core::array::from_fn(|w| bc[w][q]);
        add_products::<T, L, R, W, FMA>(partial, &av, &bv);
    }
}

/// `partial[r][w][l] += av[r][l] * bv[w][l]`.
#[inline(always)]
fn add_products<T: Scalar, const L: usize, const R: usize, const W: usize, const FMA: bool>(
    partial: &mut [[[T; L]; W]; R],
    av: &[[T; L]; R],
    bv: &[[T; L]; W],
) {
    for (part_row, arow) in partial.iter_mut().zip(av) {
        for (part, brow) in part_row.iter_mut().zip(bv) {
            for ((p, &x), &y) in part.iter_mut().zip(arow).zip(brow) {
                *p = madd::<T, FMA>(*p, x, y);
            }
        }
    }
}

/// Body of [`Leaf::dot_segments`].
#[inline(always)]
fn dot_segments_body<T: Scalar, const L: usize, const R: usize, const W: usize, const FMA: bool>(
    a: SegmentRows<'_, T, R>,
    b: SegmentRows<'_, T, W>,
    len: usize,
    segments: usize,
) -> [[[T; L]; W]; R] {
    let mut partial = [[[T::zero(); L]; W]; R];
    let whole = len - len % L;
    for s in 0..segments {
        let ar = a.segment_rows(s, len);
        let br = b.segment_rows(s, len);
        add_chunks::<T, L, R, W, FMA>(&mut partial, &ar, &br);
        // The last `len mod L` products: half a chunk's lanes, then single lanes, as whole
        // chunks zero-padded in both operands (the padding adds `0 * 0`).
        let mut p = whole;
        if L > 1 && p + L / 2 <= len {
            let av = padded::<T, L, R>(&ar, p, L / 2);
            let bv = padded::<T, L, W>(&br, p, L / 2);
            add_products::<T, L, R, W, FMA>(&mut partial, &av, &bv);
            p += L / 2;
        }
        for q in p..len {
            let av = padded::<T, L, R>(&ar, q, 1);
            let bv = padded::<T, L, W>(&br, q, 1);
            add_products::<T, L, R, W, FMA>(&mut partial, &av, &bv);
        }
    }
    partial
}

/// `rows[r][from..from + count]` followed by zeros, `L` elements per row (`count <= L`).
#[inline(always)]
fn padded<T: Scalar, const L: usize, const N: usize>(
    rows: &[&[T]; N],
    from: usize,
    count: usize,
) -> [[T; L]; N] {
    let mut chunks = [[T::zero(); L]; N];
    for (chunk, row) in chunks.iter_mut().zip(rows) {
        for (c, &v) in chunk.iter_mut().zip(&row[from..from + count]) {
            *c = v;
        }
    }
    chunks
}

impl<'a, T, const N: usize> SegmentRows<'a, T, N> {
    /// The rows of segment `s`, `len` elements each.
    #[inline(always)]
    fn segment_rows(&self, s: usize, len: usize) -> [&'a [T]; N] {
        let mut rows: [&'a [T]; N] = [&[]; N];
        for (row, &start) in rows.iter_mut().zip(&self.starts) {
            *row = &self.data[start + s * self.segment..][..len];
        }
        rows
    }
}

/// Body of [`Leaf::packed_tile`]'s product (its store is [`store_tile_body`], in a function of
/// its own: in one function, LLVM's SLP vectorizer reshuffles the accumulators). The tile is
/// kept as two halves of rows: one array of more than 128 accumulators is left in memory by
/// LLVM (an 8 x 32 tile ran at 1/30 of the speed), two arrays of half the size are promoted to
/// registers.
#[inline(always)]
fn packed_tile_body<T: Scalar, const R: usize, const W: usize, const FMA: bool>(
    a: &[[T; R]],
    b: &[[T; W]],
) -> [[T; W]; R] {
    match R {
        8 => halves::<T, R, 4, W, FMA>(a, b),
        6 => halves::<T, R, 3, W, FMA>(a, b),
        4 => halves::<T, R, 2, W, FMA>(a, b),
        _ => halves::<T, R, 0, W, FMA>(a, b),
    }
}

/// [`packed_tile_body`] with rows `..H` and `H..` in separate arrays (`H = 0`: one array).
#[inline(always)]
fn halves<T: Scalar, const R: usize, const H: usize, const W: usize, const FMA: bool>(
    a: &[[T; R]],
    b: &[[T; W]],
) -> [[T; W]; R] {
    let mut top = [[T::zero(); W]; H];
    let mut rest = [[T::zero(); W]; R];
    for (xs, ys) in a.iter().zip(b) {
        for (row, &xv) in top.iter_mut().zip(xs) {
            for (t, &yv) in row.iter_mut().zip(ys) {
                *t = madd::<T, FMA>(*t, xv, yv);
            }
        }
        for (row, &xv) in rest.iter_mut().take(R - H).zip(&xs[H..]) {
            for (t, &yv) in row.iter_mut().zip(ys) {
                *t = madd::<T, FMA>(*t, xv, yv);
            }
        }
    }
    core::array::from_fn(|r| if r < H { top[r] } else { rest[r - H] })
}

/// [`packed_tile_body`] for a tile of which only rows `..rows` and columns `..cols` are
/// stored. When the columns fit in half the tile (the last panel of a product whose columns are
/// not a multiple of `W`: W4's 196 pixels leave 4 of 16), only that half is computed, every row
/// of it. Else only the first half of the rows is computed when the stored ones fit in it, the
/// first two thirds or three quarters when they fit in those (the others are zero): W6's batch
/// of 32 in tiles of 6 rows leaves 2 (half a tile), a batch of 64 or W4's 16 output channels
/// leave 4 (two thirds). Every computed element is the same sum in the same order as in the
/// whole tile.
#[inline(always)]
fn partial_tile_body<T: Scalar, const R: usize, const W: usize, const FMA: bool>(
    a: &[[T; R]],
    b: &[[T; W]],
    rows: usize,
    cols: usize,
) -> [[T; W]; R] {
    // `W` is a constant: one arm remains (a half of `W` must be a constant too).
    match (W, cols) {
        (32, ..=16) => return first_columns::<T, R, W, 16, FMA>(a, b),
        (16, ..=8) => return first_columns::<T, R, W, 8, FMA>(a, b),
        (8, ..=4) => return first_columns::<T, R, W, 4, FMA>(a, b),
        _ => {}
    }
    match (R, rows) {
        (8, ..=4) => first_rows::<T, R, 4, W, FMA>(a, b),
        (8, 5..=6) => first_rows::<T, R, 6, W, FMA>(a, b),
        (6, ..=3) => first_rows::<T, R, 3, W, FMA>(a, b),
        (6, 4) => first_rows::<T, R, 4, W, FMA>(a, b),
        (4, ..=2) => first_rows::<T, R, 2, W, FMA>(a, b),
        _ => packed_tile_body::<T, R, W, FMA>(a, b),
    }
}

/// Columns `..H` of [`packed_tile_body`] (`H <= W`), the rest zero.
#[inline(always)]
fn first_columns<T: Scalar, const R: usize, const W: usize, const H: usize, const FMA: bool>(
    a: &[[T; R]],
    b: &[[T; W]],
) -> [[T; W]; R] {
    let mut acc = [[T::zero(); H]; R];
    for (xs, ys) in a.iter().zip(b) {
        let ys = head::<T, H>(ys);
        for (row, &xv) in acc.iter_mut().zip(xs) {
            for (t, &yv) in row.iter_mut().zip(&ys) {
                *t = madd::<T, FMA>(*t, xv, yv);
            }
        }
    }
    core::array::from_fn(|r| core::array::from_fn(|w| if w < H { acc[r][w] } else { T::zero() }))
}

/// Rows `..P` of [`packed_tile_body`] (`P <= R`), the rest zero.
#[inline(always)]
fn first_rows<T: Scalar, const R: usize, const P: usize, const W: usize, const FMA: bool>(
    a: &[[T; R]],
    b: &[[T; W]],
) -> [[T; W]; R] {
    let mut acc = [[T::zero(); W]; P];
    for (xs, ys) in a.iter().zip(b) {
        for (row, &xv) in acc.iter_mut().zip(xs) {
            for (t, &yv) in row.iter_mut().zip(ys) {
                *t = madd::<T, FMA>(*t, xv, yv);
            }
        }
    }
    core::array::from_fn(|r| if r < P { acc[r] } else { [T::zero(); W] })
}

/// [`packed_tile_body`] and the store of a whole tile in one function.
#[inline(always)]
fn fused_tile_body<T: Scalar, const R: usize, const W: usize, const FMA: bool>(
    a: &[[T; R]],
    b: &[[T; W]],
    out: TileOut<T>,
    c: &mut [T],
) {
    let tile = packed_tile_body::<T, R, W, FMA>(a, b);
    if out.beta == T::zero() {
        store_rows::<T, R, W, true, true>(&tile, out, c);
    } else {
        store_rows::<T, R, W, true, false>(&tile, out, c);
    }
}

/// The store of [`Leaf::packed_tile`] (see [`TileOut`]), with constant bounds for a whole tile.
#[inline(always)]
fn store_tile_body<T: Scalar, const R: usize, const W: usize>(
    tile: &[[T; W]; R],
    out: TileOut<T>,
    c: &mut [T],
) {
    match (out.rows == R && out.cols == W, out.beta == T::zero()) {
        (true, true) => store_rows::<T, R, W, true, true>(tile, out, c),
        (true, false) => store_rows::<T, R, W, true, false>(tile, out, c),
        (false, true) => store_rows::<T, R, W, false, true>(tile, out, c),
        (false, false) => store_rows::<T, R, W, false, false>(tile, out, c),
    }
}

/// [`store_tile_body`] for a whole tile (`FULL`) or a partial one, overwriting (`OVERWRITE`,
/// `beta == 0`) or not.
#[inline(always)]
fn store_rows<
    T: Scalar,
    const R: usize,
    const W: usize,
    const FULL: bool,
    const OVERWRITE: bool,
>(
    tile: &[[T; W]; R],
    out: TileOut<T>,
    c: &mut [T],
) {
    let TileOut {
        alpha,
        beta,
        ldc,
        rows,
        cols,
    } = out;
    let (rows, cols) = if FULL { (R, W) } else { (rows, cols) };
    for (r, t_row) in tile.iter().enumerate().take(rows) {
        let c_row = &mut c[r * ldc..][..cols];
        for (o, &t) in c_row.iter_mut().zip(t_row) {
            *o = if OVERWRITE {
                alpha * t
            } else {
                alpha * t + beta * *o
            };
        }
    }
}
