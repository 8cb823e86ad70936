//! Every path of the GEMM against a naive triple loop in f64.

extern crate std;

use std::format;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use super::*;
use crate::kernels::Store;
use crate::Rng;

/// The implementations a test runs on: each forced path, and the automatic choice.
fn backends() -> Vec<GemmBackend> {
    #[cfg(feature = "std")]
    let all = vec![
        GemmBackend::Portable,
        GemmBackend::PortableBaseline,
        GemmBackend::PortableAvx2,
        GemmBackend::Auto,
        GemmBackend::Packed,
        GemmBackend::PackedAvx2,
        GemmBackend::PackedBaseline,
    ];
    #[cfg(not(feature = "std"))]
    let all = vec![
        GemmBackend::Portable,
        GemmBackend::PortableBaseline,
        GemmBackend::Auto,
        GemmBackend::Packed,
        GemmBackend::PackedBaseline,
    ];
    all
}

const TRANSPOSES: [(Transpose, Transpose); 4] = [
    (Transpose::No, Transpose::No),
    (Transpose::No, Transpose::Yes),
    (Transpose::Yes, Transpose::No),
    (Transpose::Yes, Transpose::Yes),
];

/// A stored matrix: `rows x cols` with leading dimension `ld`, filled with uniform values.
fn random_matrix<T: Scalar>(rng: &mut Rng, rows: usize, cols: usize, ld: usize) -> Vec<T> {
    let len = if rows == 0 { 0 } else { (rows - 1) * ld + cols };
    (0..len).map(|_| rng.uniform::<T>(-1.0, 1.0)).collect()
}

/// `op(X)[r][c]` of a stored row-major matrix.
fn at<T: Scalar>(x: &[T], ld: usize, trans: Transpose, r: usize, c: usize) -> f64 {
    match trans {
        Transpose::No => x[r * ld + c].to_f64(),
        Transpose::Yes => x[c * ld + r].to_f64(),
    }
}

/// One product checked against the naive loop: every element of `C` within a rounding bound
/// scaled by the magnitudes that entered it, and the padding between rows of `C` untouched.
#[allow(clippy::too_many_arguments)]
fn check_case<T: Scalar>(
    backend: GemmBackend,
    (transa, transb): (Transpose, Transpose),
    (m, n, k): (usize, usize, usize),
    alpha: f64,
    beta: f64,
    pad: usize,
    nan_c: bool,
    rng: &mut Rng,
) {
    let (a_rows, a_cols) = stored_shape(transa, m, k);
    let (b_rows, b_cols) = stored_shape(transb, k, n);
    let (lda, ldb, ldc) = (a_cols + pad, b_cols + 2 * pad, n + pad);
    let a = random_matrix::<T>(rng, a_rows, a_cols, lda);
    let b = random_matrix::<T>(rng, b_rows, b_cols, ldb);
    let c_len = if m == 0 { 0 } else { (m - 1) * ldc + n };
    let mut c: Vec<T> = (0..c_len)
        .map(|_| {
            if nan_c {
                T::nan()
            } else {
                rng.uniform::<T>(-1.0, 1.0)
            }
        })
        .collect();
    // Padding between rows gets a sentinel that must survive.
    let sentinel = T::from_f64(1234.5);
    for i in 0..m.saturating_sub(1) {
        for v in &mut c[i * ldc + n..(i + 1) * ldc] {
            *v = sentinel;
        }
    }
    let c0 = c.clone();
    let (alpha_t, beta_t) = (T::from_f64(alpha), T::from_f64(beta));
    // Scratch full of NaN: nothing of its previous contents may reach C.
    let mut pack = vec![T::nan(); gemm_pack_len::<T>(transa, transb, m, n, k)];
    gemm_with_backend(
        backend, transa, transb, m, n, k, alpha_t, &a, lda, &b, ldb, beta_t, &mut c, ldc, &mut pack,
    )
    .unwrap();

    let eps = T::epsilon().to_f64();
    let what = || {
        format!(
            "{} {backend:?} {transa:?}/{transb:?} m={m} n={n} k={k} alpha={alpha} beta={beta} \
             pad={pad} nan_c={nan_c}",
            T::NAME
        )
    };
    for i in 0..m {
        for j in 0..n {
            let (mut dot, mut magnitude) = (0.0, 0.0);
            for p in 0..k {
                let prod = at(&a, lda, transa, i, p) * at(&b, ldb, transb, p, j);
                dot += prod;
                magnitude += prod.abs();
            }
            let old = c0[i * ldc + j].to_f64();
            let (expected, scale) = if beta == 0.0 {
                (alpha * dot, alpha.abs() * magnitude)
            } else {
                (
                    alpha * dot + beta * old,
                    alpha.abs() * magnitude + (beta * old).abs(),
                )
            };
            let got = c[i * ldc + j].to_f64();
            let tol = 4.0 * (k as f64 + 2.0) * eps * scale + 1e-300;
            assert!(
                (got - expected).abs() <= tol,
                "{}: C[{i}][{j}] = {got}, expected {expected} (tolerance {tol:e})",
                what()
            );
        }
        if i + 1 < m {
            assert!(
                c[i * ldc + n..(i + 1) * ldc].iter().all(|&v| v == sentinel),
                "{}: padding after row {i} was written",
                what()
            );
        }
    }
}

/// Shapes mixing the sizes around the tile widths (1, 4, 8 and the k-blocks) in every role,
/// without running all 14^3 combinations.
fn shapes() -> Vec<(usize, usize, usize)> {
    const SIZES: [usize; 14] = [1, 2, 3, 5, 7, 8, 16, 17, 31, 33, 64, 65, 100, 129];
    let mut all = Vec::new();
    // Each size in each role, the others small and odd.
    for &s in &SIZES {
        all.extend([
            (s, 3, 5),
            (5, s, 3),
            (3, 5, s),
            (s, s, 7),
            (7, s, s),
            (s, 9, s),
        ]);
    }
    // A walk through the cube that pairs different sizes.
    for (i, &m) in SIZES.iter().enumerate() {
        let n = SIZES[(i * 5 + 3) % SIZES.len()];
        let k = SIZES[(i * 3 + 7) % SIZES.len()];
        all.push((m, n, k));
    }
    // Dense-layer shapes: batch x in x out in its three products, and k past the k-block.
    all.extend([(1, 256, 300), (64, 33, 10), (10, 17, 64), (4, 8, 600)]);
    all
}

fn check_shapes<T: Scalar>(seed: u64) {
    let mut rng = Rng::new(seed);
    for backend in backends() {
        for (case, &trans) in TRANSPOSES.iter().enumerate() {
            for (s, &shape) in shapes().iter().enumerate() {
                // alpha/beta and padding vary with the shape so every variant meets every path.
                let alpha = [1.0, 0.5, -2.0][(s + case) % 3];
                let beta = [0.0, 1.0, 0.5, -2.0][(s / 3 + case) % 4];
                let pad = (s + case) % 3;
                check_case::<T>(backend, trans, shape, alpha, beta, pad, false, &mut rng);
            }
        }
    }
}

#[test]
fn matches_naive_f32() {
    check_shapes::<f32>(1);
}

#[test]
fn matches_naive_f64() {
    check_shapes::<f64>(2);
}

#[test]
fn every_alpha_beta_on_every_path() {
    let mut rng = Rng::new(3);
    for backend in backends() {
        for trans in TRANSPOSES {
            for shape in [(1, 1, 1), (5, 17, 33), (33, 8, 7), (17, 65, 9)] {
                for alpha in [0.0, 1.0, 0.5, -2.0] {
                    for beta in [0.0, 1.0, 0.5, -2.0] {
                        check_case::<f32>(backend, trans, shape, alpha, beta, 1, false, &mut rng);
                        check_case::<f64>(backend, trans, shape, alpha, beta, 0, false, &mut rng);
                    }
                }
            }
        }
    }
}

#[test]
fn beta_zero_never_reads_c() {
    let mut rng = Rng::new(4);
    for backend in backends() {
        for trans in TRANSPOSES {
            for shape in [
                (1, 1, 1),
                (1, 16, 2),
                (4, 8, 3),
                (9, 33, 17),
                (64, 10, 300),
                (3, 3, 0),
            ] {
                for alpha in [1.0, -2.0, 0.0] {
                    check_case::<f32>(backend, trans, shape, alpha, 0.0, 2, true, &mut rng);
                    check_case::<f64>(backend, trans, shape, alpha, 0.0, 0, true, &mut rng);
                }
            }
        }
    }
}

#[test]
fn alpha_zero_or_empty_k_does_not_read_a_or_b() {
    for backend in backends() {
        let a = [f64::NAN; 6];
        let b = [f64::NAN; 6];
        let mut c = [1.0, 2.0, 3.0, 4.0];
        gemm_with_backend(
            backend,
            Transpose::No,
            Transpose::No,
            2,
            2,
            3,
            0.0,
            &a,
            3,
            &b,
            2,
            0.5,
            &mut c,
            2,
            &mut [f64::NAN; 64],
        )
        .unwrap();
        assert_eq!(c, [0.5, 1.0, 1.5, 2.0], "{backend:?}");
        gemm_with_backend(
            backend,
            Transpose::Yes,
            Transpose::Yes,
            2,
            2,
            0,
            1.0,
            &[],
            0,
            &[],
            0,
            -2.0,
            &mut c,
            2,
            &mut [],
        )
        .unwrap();
        assert_eq!(c, [-1.0, -2.0, -3.0, -4.0], "{backend:?}");
    }
}

#[test]
fn empty_products_touch_nothing() {
    for backend in backends() {
        let mut c = [7.0f32; 3];
        gemm_with_backend(
            backend,
            Transpose::No,
            Transpose::No,
            0,
            3,
            4,
            1.0,
            &[],
            4,
            &[1.0; 12],
            3,
            0.0,
            &mut c,
            3,
            &mut [f32::NAN; 64],
        )
        .unwrap();
        assert_eq!(c, [7.0; 3]);
    }
}

/// The message of a failing `gemm` call.
#[allow(clippy::too_many_arguments)]
fn gemm_error(
    transa: Transpose,
    transb: Transpose,
    (m, n, k): (usize, usize, usize),
    a_len: usize,
    lda: usize,
    b_len: usize,
    ldb: usize,
    c_len: usize,
    ldc: usize,
) -> String {
    let a = vec![0.0f32; a_len];
    let b = vec![0.0f32; b_len];
    let mut c = vec![0.0f32; c_len];
    gemm(
        transa, transb, m, n, k, 1.0, &a, lda, &b, ldb, 0.0, &mut c, ldc,
    )
    .unwrap_err()
    .to_string()
}

#[test]
fn checked_gemm_reports_short_slices_and_leading_dimensions() {
    use Transpose::{No, Yes};
    // A is 2 x 3 with lda 4: needs 4 + 3 = 7 elements.
    assert_eq!(
        gemm_error(No, No, (2, 5, 3), 6, 4, 15, 5, 10, 5),
        "gemm: A: expected a slice of length 7, found length 6"
    );
    // B stored 5 x 3 (transposed): needs 4 * 3 + 3 = 15.
    assert_eq!(
        gemm_error(No, Yes, (2, 5, 3), 6, 3, 14, 3, 10, 5),
        "gemm: B: expected a slice of length 15, found length 14"
    );
    // C is 2 x 5 with ldc 6: needs 11.
    assert_eq!(
        gemm_error(No, No, (2, 5, 3), 6, 3, 15, 5, 10, 6),
        "gemm: C: expected a slice of length 11, found length 10"
    );
    // A stored transposed is 3 x 2: lda must be >= 2, not >= k.
    assert_eq!(
        gemm_error(Yes, No, (2, 5, 3), 6, 1, 15, 5, 10, 5),
        "gemm: lda = 1 is invalid (expected >= the row length of the matrix as stored \
         (k or n when not transposed, m or k when transposed))"
    );
    assert!(gemm_error(No, No, (2, 5, 3), 6, 3, 15, 4, 10, 5).starts_with("gemm: ldb = 4 "));
    assert!(gemm_error(No, No, (2, 5, 3), 6, 3, 15, 5, 10, 4).starts_with("gemm: ldc = 4 "));
    // An extent that overflows usize is too long for any slice, not a panic.
    assert_eq!(
        gemm_error(No, No, (3, 1, 2), 6, usize::MAX, 2, 1, 3, 1),
        format!(
            "gemm: A: expected a slice of length {}, found length 6",
            usize::MAX
        )
    );
    // Transposed A accepts lda = m and a single stored row accepts any lda >= its length.
    let mut c = [0.0f32; 2];
    gemm(
        Transpose::No,
        Transpose::No,
        1,
        2,
        2,
        1.0,
        &[1.0, 2.0],
        usize::MAX,
        &[1.0, 0.0, 0.0, 1.0],
        2,
        0.0,
        &mut c,
        7,
    )
    .unwrap();
    assert_eq!(c, [1.0, 2.0]);
}

/// `C (store) op(A) op(B)` for the typed wrappers, checked against the naive loop.
fn check_typed<T: Scalar, const M: usize, const K: usize, const N: usize>(rng: &mut Rng) {
    let a: [[T; K]; M] = core::array::from_fn(|_| core::array::from_fn(|_| rng.normal()));
    let at: [[T; M]; K] = core::array::from_fn(|p| core::array::from_fn(|i| a[i][p]));
    let b: [[T; N]; K] = core::array::from_fn(|_| core::array::from_fn(|_| rng.normal()));
    let bt: [[T; K]; N] = core::array::from_fn(|j| core::array::from_fn(|p| b[p][j]));
    let expected: [[f64; N]; M] = core::array::from_fn(|i| {
        core::array::from_fn(|j| (0..K).map(|p| a[i][p].to_f64() * b[p][j].to_f64()).sum())
    });
    let c0: [[T; N]; M] = core::array::from_fn(|_| core::array::from_fn(|_| rng.normal()));
    let tol = 8.0 * (K as f64 + 2.0) * T::epsilon().to_f64() * (K as f64 + 1.0) * 4.0;
    for backend in backends() {
        for store in [Store::Overwrite, Store::Accumulate] {
            for name in ["matmul_a_b", "matmul_a_bt", "matmul_at_b"] {
                let mut c = c0;
                if store == Store::Overwrite {
                    c = [[T::nan(); N]; M];
                }
                let mut pack =
                    vec![T::nan(); gemm_pack_len::<T>(Transpose::Yes, Transpose::No, M, N, K)];
                let pack = &mut pack[..];
                match name {
                    "matmul_a_b" => matmul_a_b_with_backend(backend, &a, &b, &mut c, store, pack),
                    "matmul_a_bt" => {
                        matmul_a_bt_with_backend(backend, &a, &bt, &mut c, store, pack)
                    }
                    _ => matmul_at_b_with_backend(backend, &at, &b, &mut c, store, pack),
                }
                for i in 0..M {
                    for j in 0..N {
                        let base = if store == Store::Accumulate {
                            c0[i][j].to_f64()
                        } else {
                            0.0
                        };
                        let want = base + expected[i][j];
                        let got = c[i][j].to_f64();
                        assert!(
                            (got - want).abs() <= tol,
                            "{name} {} {backend:?} {store:?} M={M} K={K} N={N} [{i}][{j}]: \
                             {got} vs {want}",
                            T::NAME
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn typed_wrappers_both_store_modes() {
    let mut rng = Rng::new(5);
    check_typed::<f32, 1, 2, 16>(&mut rng);
    check_typed::<f32, 1, 16, 1>(&mut rng);
    check_typed::<f32, 3, 5, 4>(&mut rng);
    check_typed::<f32, 17, 33, 9>(&mut rng);
    check_typed::<f64, 64, 10, 65>(&mut rng);
    check_typed::<f64, 8, 129, 7>(&mut rng);
    check_typed::<f64, 0, 3, 2>(&mut rng);
    check_typed::<f64, 2, 0, 3>(&mut rng);
}

#[test]
fn public_wrappers_use_the_same_contract() {
    let a = [[1.0f64, 2.0], [3.0, 4.0]];
    let b = [[5.0, 6.0], [7.0, 8.0]];
    let mut c = [[f64::NAN; 2]; 2];
    matmul_a_b(&a, &b, &mut c, Store::Overwrite);
    assert_eq!(c, [[19.0, 22.0], [43.0, 50.0]]);
    matmul_a_bt(&a, &b, &mut c, Store::Accumulate);
    assert_eq!(c, [[19.0 + 17.0, 22.0 + 23.0], [43.0 + 39.0, 50.0 + 53.0]]);
    matmul_at_b(&a, &b, &mut c, Store::Overwrite);
    assert_eq!(c, [[26.0, 30.0], [38.0, 44.0]]);
    let mut flat = [f64::NAN; 4];
    gemm(
        Transpose::No,
        Transpose::No,
        2,
        2,
        2,
        1.0,
        a.as_flattened(),
        2,
        b.as_flattened(),
        2,
        0.0,
        &mut flat,
        2,
    )
    .unwrap();
    assert_eq!(flat, [19.0, 22.0, 43.0, 50.0]);
}

#[test]
fn threshold_sends_small_products_to_the_portable_path() {
    use Transpose::{No, Yes};
    // Dense layer 784 -> 256: forward A*B^T, input gradient A*B, weight gradient A^T*B.
    for batch in [1, 4] {
        assert!(
            !prefers_packed(No, Yes, batch, 256, 784),
            "forward, batch {batch}"
        );
        assert!(
            !prefers_packed(No, No, batch, 784, 256),
            "dx, batch {batch}"
        );
    }
    assert!(!prefers_packed(No, Yes, 1, 16, 16), "tiny layer");
    assert!(!prefers_packed(Yes, No, 16, 2, 1), "tiny weight gradient");
    assert!(!prefers_packed(No, Yes, 64, 10, 128), "10 outputs");
    assert!(prefers_packed(No, Yes, 64, 256, 784), "forward, batch 64");
    assert!(prefers_packed(No, No, 64, 784, 256), "dx, batch 64");
    assert!(prefers_packed(Yes, No, 256, 784, 64), "dW, batch 64");
    assert!(prefers_packed(Yes, No, 256, 784, 1), "dW, batch 1");
    assert!(prefers_packed(Yes, Yes, 64, 64, 64));
    // Where the packed kernels run at most AVX2, from 12 rows of `A * B` and 10 of `A^T * B`
    // (W4's second convolution forward, a batch-16 input gradient, a 10-output weight gradient);
    // the scratch is sized for either.
    for (trans, (m, n, k)) in [
        ((No, No), (16, 196, 72)),
        ((No, No), (16, 784, 256)),
        ((Yes, No), (10, 128, 64)),
    ] {
        assert!(packs_on(PackedRules::Avx2, trans.0, trans.1, m, n, k));
        assert!(!packs_on(PackedRules::Avx512, trans.0, trans.1, m, n, k));
        assert!(prefers_packed(trans.0, trans.1, m, n, k));
    }
    assert!(
        !packs_on(PackedRules::Avx2, No, No, 8, 784, 256),
        "dx, batch 8"
    );
    assert!(!packs_on(PackedRules::Avx2, No, No, 12, 8, 8), "8 outputs");
}

/// Products past every block size (`MC = 96` rows, `KC = 256` steps, `NC = 512` columns), so
/// that the packed loops run several blocks of each, on every packed level.
#[test]
fn packed_blocks_past_the_block_sizes() {
    let mut rng = Rng::new(6);
    for backend in [
        GemmBackend::Packed,
        GemmBackend::PackedAvx2,
        GemmBackend::PackedBaseline,
        GemmBackend::Auto,
    ] {
        for (s, &trans) in TRANSPOSES.iter().enumerate() {
            let shape = [
                (197, 1030, 9),
                (100, 33, 600),
                (3, 1100, 513),
                (97, 1025, 257),
            ][s];
            let (alpha, beta) = ([1.0, -2.0][s % 2], [0.0, 0.5][s / 2]);
            check_case::<f32>(backend, trans, shape, alpha, beta, 1, s == 0, &mut rng);
        }
        check_case::<f64>(
            backend,
            TRANSPOSES[2],
            (130, 40, 300),
            1.0,
            1.0,
            0,
            false,
            &mut rng,
        );
    }
}

/// With scratch one element short of what the packed kernels need, or none, every backend
/// falls back to the unpacked loops: the same result up to rounding, nothing allocated, no
/// panic.
#[test]
fn short_scratch_falls_back_to_the_unpacked_loops() {
    let mut rng = Rng::new(7);
    for (transa, transb) in TRANSPOSES {
        let (m, n, k) = (70, 65, 300);
        let (a_rows, a_cols) = stored_shape(transa, m, k);
        let (b_rows, b_cols) = stored_shape(transb, k, n);
        let a = random_matrix::<f32>(&mut rng, a_rows, a_cols, a_cols);
        let b = random_matrix::<f32>(&mut rng, b_rows, b_cols, b_cols);
        let full = gemm_pack_len::<f32>(transa, transb, m, n, k);
        let mut reference = vec![0.0f32; m * n];
        let mut pack = vec![f32::NAN; full];
        gemm_packed(
            transa,
            transb,
            m,
            n,
            k,
            1.0,
            &a,
            a_cols,
            &b,
            b_cols,
            0.0,
            &mut reference,
            n,
            &mut pack,
        )
        .unwrap();
        for backend in [
            GemmBackend::Packed,
            GemmBackend::PackedBaseline,
            GemmBackend::Auto,
        ] {
            for len in [full - 1, 1, 0] {
                let mut pack = vec![f32::NAN; len];
                let mut c = vec![f32::NAN; m * n];
                gemm_with_backend(
                    backend, transa, transb, m, n, k, 1.0, &a, a_cols, &b, b_cols, 0.0, &mut c, n,
                    &mut pack,
                )
                .unwrap();
                for (i, (&got, &want)) in c.iter().zip(&reference).enumerate() {
                    assert!(
                        (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                        "{backend:?} {transa:?}/{transb:?} scratch {len}: C[{i}] = {got}, \
                         packed {want}"
                    );
                }
            }
        }
    }
}

#[test]
fn pack_len_is_bounded_and_small_for_small_products() {
    use Transpose::{No, Yes};
    assert_eq!(gemm_pack_len::<f32>(No, No, 0, 5, 5), 0);
    assert_eq!(gemm_pack_len::<f64>(No, Yes, 5, 5, 0), 0);
    // One tile of rows and columns at most, times k.
    assert!(gemm_pack_len::<f32>(No, No, 2, 3, 4) <= (8 + 32) * 4);
    // Bounded by the blocking whatever the dims, without overflow.
    let bound = (96 + 512) * 256;
    assert!(gemm_pack_len::<f32>(Yes, No, usize::MAX, usize::MAX, usize::MAX) <= bound);
    assert!(gemm_pack_len::<f64>(No, Yes, 1 << 40, 3, 1 << 40) <= bound);
    // W1's largest product.
    let w1 = gemm_pack_len::<f32>(No, Yes, 64, 256, 784);
    assert!(w1 > 0 && w1 <= bound, "{w1}");
}

/// `gemm_pack_len` covers the tiles every level really runs with (`packed::tile_shape` and the
/// tile sizes of `packed::gemm` must agree): exactly that much scratch takes the packed path.
#[test]
fn pack_len_suffices_on_every_level() {
    fn check<T: Scalar>() {
        for level in [
            leaf::Level::Baseline,
            leaf::Level::Avx2Fma,
            leaf::Level::Avx512,
        ] {
            for (m, n, k) in [
                (1, 1, 1),
                (7, 33, 5),
                (97, 513, 257),
                (8, 32, 256),
                (6, 16, 3),
            ] {
                for (transa, transb) in TRANSPOSES {
                    let (a_rows, a_cols) = stored_shape(transa, m, k);
                    let (b_rows, b_cols) = stored_shape(transb, k, n);
                    let a = vec![T::one(); a_rows * a_cols];
                    let b = vec![T::one(); b_rows * b_cols];
                    let mut c = vec![T::nan(); m * n];
                    let mut pack = vec![T::nan(); gemm_pack_len::<T>(transa, transb, m, n, k)];
                    let product = packed::Product {
                        transa,
                        transb,
                        m,
                        n,
                        k,
                        alpha: T::one(),
                        a: &a,
                        lda: a_cols,
                        b: &b,
                        ldb: b_cols,
                        beta: T::zero(),
                        ldc: n,
                        b_rows: None,
                    };
                    assert!(
                        packed::gemm(level, product, &mut c, &mut pack),
                        "{} {level:?} {m}x{k}->{n}: the packed path ran",
                        T::NAME
                    );
                    assert!(c.iter().all(|&v| v == T::from_f64(k as f64)));
                }
            }
        }
    }
    check::<f32>();
    check::<f64>();
}

/// A last panel of few rows (computed as half a tile) gives each of its rows the same bits as
/// the same row inside a whole tile: `C = A B` with `m = 1..=7` against the first rows of
/// the product with `m = 24` whose first rows of `A` are the same, on every packed level, both
/// transposes of `A`, `f32` and `f64`.
/// The packed paths alone, at every level this build can force.
fn packed_backends() -> Vec<GemmBackend> {
    backends()
        .into_iter()
        .filter(|b| {
            matches!(
                b,
                GemmBackend::Packed | GemmBackend::PackedAvx2 | GemmBackend::PackedBaseline
            )
        })
        .collect()
}

#[test]
fn rows_of_a_partial_panel_equal_the_same_rows_in_a_whole_tile() {
    fn check<T: Scalar>(rng: &mut Rng) {
        let (n, k, tall) = (40, 37, 24);
        let big_a = random_matrix::<T>(rng, tall, k, k);
        let b = random_matrix::<T>(rng, k, n, n);
        for backend in packed_backends() {
            for transa in [Transpose::No, Transpose::Yes] {
                // `A` stored as given (rows of `k`) or transposed (`k` rows of `m`).
                let stored = |m: usize| -> (Vec<T>, usize) {
                    match transa {
                        Transpose::No => (big_a[..m * k].to_vec(), k),
                        Transpose::Yes => {
                            let t = (0..k * m).map(|i| big_a[(i % m) * k + i / m]).collect();
                            (t, m)
                        }
                    }
                };
                let product = |m: usize| -> Vec<T> {
                    let (a, lda) = stored(m);
                    let mut c = vec![T::nan(); m * n];
                    let mut pack =
                        vec![T::nan(); gemm_pack_len::<T>(transa, Transpose::No, m, n, k)];
                    let one = T::one();
                    gemm_with_backend(
                        backend,
                        transa,
                        Transpose::No,
                        m,
                        n,
                        k,
                        one,
                        &a,
                        lda,
                        &b,
                        n,
                        T::zero(),
                        &mut c,
                        n,
                        &mut pack,
                    )
                    .unwrap();
                    c
                };
                let whole = product(tall);
                // Every row count of a partial panel of every tile height (4, 6, 8).
                for m in 1..=7 {
                    let part = product(m);
                    let same = part
                        .iter()
                        .zip(&whole)
                        .all(|(p, w)| Scalar::to_f64(*p).to_bits() == Scalar::to_f64(*w).to_bits());
                    assert!(same, "{} {backend:?} {transa:?} m = {m}", T::NAME);
                }
            }
        }
    }
    let mut rng = Rng::new(31);
    check::<f32>(&mut rng);
    check::<f64>(&mut rng);
}

#[test]
fn columns_of_a_partial_panel_equal_the_same_columns_in_a_whole_tile() {
    fn check<T: Scalar>(rng: &mut Rng) {
        // 64 columns: whole panels at every tile width (8, 16, 32); 22 rows: a partial row
        // panel at every tile height (4, 6, 8) too.
        let (m, k, wide) = (22, 37, 64);
        let a = random_matrix::<T>(rng, m, k, k);
        let b = random_matrix::<T>(rng, k, wide, wide);
        for backend in packed_backends() {
            for beta in [T::zero(), T::from_f64(0.75)] {
                // `C <- A B[:, ..n] + beta C`, B read in place (its first `n` columns).
                let product = |n: usize| -> Vec<T> {
                    let mut c: Vec<T> = (0..m * n)
                        .map(|i| T::from_f64(((i / n) * wide + i % n) as f64 * 0.01))
                        .collect();
                    let mut pack =
                        vec![T::nan(); gemm_pack_len::<T>(Transpose::No, Transpose::No, m, n, k)];
                    gemm_with_backend(
                        backend,
                        Transpose::No,
                        Transpose::No,
                        m,
                        n,
                        k,
                        T::one(),
                        &a,
                        k,
                        &b,
                        wide,
                        beta,
                        &mut c,
                        n,
                        &mut pack,
                    )
                    .unwrap();
                    c
                };
                let whole = product(wide);
                // Every column count of a last panel up to half a tile (and past it), at every
                // tile width.
                for n in (1..=20).chain(33..=44) {
                    let part = product(n);
                    let same = (0..m * n).all(|i| {
                        let w = whole[(i / n) * wide + i % n];
                        Scalar::to_f64(part[i]).to_bits() == Scalar::to_f64(w).to_bits()
                    });
                    assert!(
                        same,
                        "{} {backend:?} beta {} n = {n}",
                        T::NAME,
                        beta.to_f64()
                    );
                }
            }
        }
    }
    let mut rng = Rng::new(32);
    check::<f32>(&mut rng);
    check::<f64>(&mut rng);
}

/// `RowOffsets::last_start` is the largest start of the first `k` rows, for every `k` of a few
/// digit layouts (against every row's start).
#[test]
fn row_offsets_last_start_is_the_largest() {
    for (radices, strides, base) in [
        ([3, 3], [100, 14, 17], 0),
        ([1, 1], [5, 0, 0], 3),
        ([2, 5], [1, 40, 3], 7),
        ([4, 1], [0, 9, 0], 0),
    ] {
        let rows = packed::RowOffsets {
            radices,
            strides,
            base,
        };
        for k in 1..60 {
            let most = (0..k).map(|q| rows.row_start(q)).max().unwrap();
            assert_eq!(rows.last_start(k), most, "{rows:?}, {k} rows");
        }
    }
}

/// `gemm_packed_rows` against `gemm_packed` on `B` gathered from the same rows: the same bits
/// (the same panels), `beta` 0 (C NaN-filled, never read) and 1, across the packed blocks'
/// depth and width (`k > 256`, `n > 512`) and partial tiles; `false`, touching nothing, where
/// the product would not pack or an operand is short.
fn check_packed_rows<T: Scalar>(seed: u64) {
    let mut rng = Rng::new(seed);
    // (m, n, radices, channels): k = channels * radices[0] * radices[1].
    for (m, n, radices, channels) in [
        (32, 36, [3, 3], 4),
        (37, 100, [3, 3], 32),
        (33, 600, [5, 3], 2),
        (64, 11, [1, 1], 7),
    ] {
        let k = channels * radices[0] * radices[1];
        // Rows at overlapping offsets, as shifted copies of an image give them.
        let rows = packed::RowOffsets {
            radices,
            strides: [radices[1] * (n + 9) + 5, 3, n + 9],
            base: 2,
        };
        let b_len = rows.last_start(k) + n + 4;
        let b: Vec<T> = random_matrix(&mut rng, 1, b_len, b_len);
        let a: Vec<T> = random_matrix(&mut rng, m, k, k + 1);
        let mut gathered = vec![T::zero(); k * n];
        for (q, row) in gathered.chunks_exact_mut(n).enumerate() {
            row.copy_from_slice(&b[rows.row_start(q)..][..n]);
        }
        let no = Transpose::No;
        let pack_len = gemm_pack_len::<T>(no, no, m, n, k);
        let start: Vec<T> = random_matrix(&mut rng, m, n, n);
        for beta in [T::zero(), T::one()] {
            let fill = |c: &mut Vec<T>| {
                if beta == T::zero() {
                    c.fill(T::nan());
                } else {
                    c.copy_from_slice(&start);
                }
            };
            let (mut want, mut got) = (vec![T::zero(); m * n], vec![T::zero(); m * n]);
            fill(&mut want);
            fill(&mut got);
            let mut pack = vec![T::nan(); pack_len];
            gemm_packed(
                no,
                no,
                m,
                n,
                k,
                T::one(),
                &a,
                k + 1,
                &gathered,
                n,
                beta,
                &mut want,
                n,
                &mut pack,
            )
            .unwrap();
            let ran = gemm_packed_rows(
                (m, n, k),
                (&a, k + 1),
                (&b, rows),
                beta,
                (&mut got, n),
                &mut pack,
            );
            let what = format!("{} {m}x{k}->{n}, beta {:?}", T::NAME, Scalar::to_f64(beta));
            assert_eq!(ran, gemm_packs_rows::<T>((m, n, k), pack_len), "{what}");
            if ran {
                let bits = |v: &[T]| {
                    v.iter()
                        .map(|&x| Scalar::to_f64(x).to_bits())
                        .collect::<Vec<_>>()
                };
                assert_eq!(bits(&got), bits(&want), "{what}");
            }
        }
        // Declined: scratch one short, B one short, A one short: C untouched.
        let mut c = vec![T::nan(); m * n];
        let cases: [(&[T], &[T], usize); 3] = [
            (&a, &b, pack_len - 1),
            (&a, &b[..b_len - 5], pack_len),
            (&a[..m * (k + 1) - 2], &b, pack_len),
        ];
        for (i, (a, b, pack_len)) in cases.into_iter().enumerate() {
            let pack = &mut vec![T::nan(); pack_len];
            let ran = gemm_packed_rows(
                (m, n, k),
                (a, k + 1),
                (b, rows),
                T::one(),
                (&mut c, n),
                pack,
            );
            assert!(!ran, "{m}x{k}->{n}: case {i} declined");
            assert!(
                c.iter().all(|v| v.is_nan()),
                "{m}x{k}->{n}: case {i} left C alone"
            );
        }
    }
}

#[test]
fn packed_rows_give_the_gathered_products_bits() {
    check_packed_rows::<f32>(71);
    check_packed_rows::<f64>(72);
    // Where this CPU's rules pack these products, the rows path ran (asserted per case above
    // against `gemm_packs_rows`); 32 rows of `A * B` pack on every rule set.
    let no = Transpose::No;
    assert!(gemm_packs_rows::<f32>(
        (32, 36, 36),
        gemm_pack_len::<f32>(no, no, 32, 36, 36)
    ));
}

/// `gemm_nt_segments` on every level against the naive sum over the segments, on small
/// integers (every sum exact in any order, so the result must be exact): tiles of every size
/// left over (`m`, `n` not multiples of the tile), segments shorter than a vector, with half a
/// chunk and single elements left over, groups of segments (W4's second convolution's shape in
/// `f64` walks over 5 segments in groups of 2 or 3); `beta` 0 (C NaN-filled, never read) and 2;
/// the padding between rows of `C` untouched; an infinity in a whole chunk and among the
/// leftover products; and `false`, touching nothing, for a zero dimension or a short operand.
fn check_segments<T: Scalar>(seed: u64) {
    let mut rng = Rng::new(seed);
    let small = |rng: &mut Rng| T::from_f64(rng.uniform::<f64>(-4.0, 5.0).floor());
    let levels = [
        leaf::Level::Baseline,
        leaf::Level::Avx2Fma,
        leaf::Level::Avx512,
    ];
    for (m, n, len, segments) in [
        (1, 1, 1, 1),
        (3, 2, 5, 2),
        (4, 3, 8, 3),
        (5, 7, 13, 4),
        (9, 8, 31, 3),
        (2, 5, 4, 9),
        (6, 4, 3, 6),
        (16, 72, 196, 5),
    ] {
        let lda = len + 3;
        let a_rows = packed::RowOffsets {
            radices: [1, 1],
            strides: [lda, 0, 0],
            base: 1,
        };
        let a_segment = m * lda + 5;
        // B's rows at overlapping offsets, as shifted copies of an image give them.
        let b_rows = packed::RowOffsets {
            radices: [2, 3],
            strides: [3 * (len + 9) + 5, 3, len + 9],
            base: 2,
        };
        let b_segment = b_rows.last_start(n) + len + 4;
        let a_len = (segments - 1) * a_segment + a_rows.last_start(m) + len;
        let b_len = (segments - 1) * b_segment + b_rows.last_start(n) + len;
        let mut a: Vec<T> = (0..a_len).map(|_| small(&mut rng)).collect();
        let mut b: Vec<T> = (0..b_len).map(|_| small(&mut rng)).collect();
        let ldc = n + 2;
        let start: Vec<T> = (0..m * ldc).map(|_| small(&mut rng)).collect();
        for infinity in [false, true] {
            if infinity {
                // Row 0 of A: in the first chunk of segment 0 and the last element of the last.
                a[a_rows.row_start(0)] = T::infinity();
                a[(segments - 1) * a_segment + a_rows.row_start(0) + len - 1] = -T::infinity();
                b[b_rows.row_start(0)] = T::zero();
            }
            let dot = |i: usize, j: usize| {
                let mut sum = 0.0;
                for s in 0..segments {
                    let ar = &a[s * a_segment + a_rows.row_start(i)..][..len];
                    let br = &b[s * b_segment + b_rows.row_start(j)..][..len];
                    for (x, y) in ar.iter().zip(br) {
                        sum += Scalar::to_f64(*x) * Scalar::to_f64(*y);
                    }
                }
                sum
            };
            let a_op = SegmentedRows {
                data: &a,
                rows: a_rows,
                segment: a_segment,
            };
            let b_op = SegmentedRows {
                data: &b,
                rows: b_rows,
                segment: b_segment,
            };
            for level in levels {
                for beta in [0.0, 2.0] {
                    let mut c = if beta == 0.0 {
                        vec![T::nan(); m * ldc]
                    } else {
                        start.clone()
                    };
                    for row in c.chunks_exact_mut(ldc) {
                        row[n..].fill(T::from_f64(7.0));
                    }
                    let dims = (m, n, len, segments);
                    let beta_t = T::from_f64(beta);
                    let what = format!(
                        "{} {m}x{n}, {segments} x {len}, {level:?}, beta {beta}, inf {infinity}",
                        T::NAME
                    );
                    assert!(
                        gemm_nt_segments_at(level, dims, a_op, b_op, beta_t, (&mut c, ldc)),
                        "{what}"
                    );
                    for i in 0..m {
                        for j in 0..ldc {
                            let got = Scalar::to_f64(c[i * ldc + j]);
                            let want = if j >= n {
                                7.0
                            } else if beta == 0.0 {
                                dot(i, j)
                            } else {
                                dot(i, j) + beta * Scalar::to_f64(start[i * ldc + j])
                            };
                            let same = got == want || (got.is_nan() && want.is_nan());
                            assert!(same, "{what}: C[{i}][{j}] = {got}, want {want}");
                        }
                    }
                }
            }
        }
        // Declined, C untouched: a zero dimension, A or B one short, C one short.
        let a_op = SegmentedRows {
            data: &a,
            rows: a_rows,
            segment: a_segment,
        };
        let b_op = SegmentedRows {
            data: &b,
            rows: b_rows,
            segment: b_segment,
        };
        let short_a = SegmentedRows {
            data: &a[..a_len - 1],
            ..a_op
        };
        let short_b = SegmentedRows {
            data: &b[..b_len - 1],
            ..b_op
        };
        let mut c = vec![T::nan(); m * ldc];
        let full = (m, n, len, segments);
        let cases = [
            ((0, n, len, segments), a_op, b_op, m * ldc),
            ((m, 0, len, segments), a_op, b_op, m * ldc),
            ((m, n, 0, segments), a_op, b_op, m * ldc),
            ((m, n, len, 0), a_op, b_op, m * ldc),
            (full, short_a, b_op, m * ldc),
            (full, a_op, short_b, m * ldc),
            (full, a_op, b_op, (m - 1) * ldc + n - 1),
        ];
        for (case, (dims, a_op, b_op, c_len)) in cases.into_iter().enumerate() {
            let ran = gemm_nt_segments(dims, a_op, b_op, T::one(), (&mut c[..c_len], ldc));
            assert!(!ran, "{m}x{n}, {segments} x {len}: case {case} declined");
            assert!(c.iter().all(|v| v.is_nan()), "case {case} left C alone");
        }
    }
}

#[test]
fn segmented_products_equal_the_sum_over_segments() {
    check_segments::<f32>(81);
    check_segments::<f64>(82);
}
