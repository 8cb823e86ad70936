//! GFLOP/s of the GEMM paths on the products of the reference workloads (W1, W5: the dense
//! layers at batch 64; W4: its per-sample convolution GEMMs and its dense layer at batch 32):
//! the packed kernels with caller scratch, matrixmultiply, and the unpacked portable loops,
//! interleaved in one run (best of several rounds). A measurement, not a test (no timing assertion):
//!
//! ```text
//! cargo test --release -p monograd-runtime --test gemm_speed -- --ignored --nocapture
//! ```

use std::hint::black_box;
use std::time::Instant;

use monograd_runtime::kernels::gemm::{gemm_pack_len, gemm_with_backend, GemmBackend, Transpose};

/// `(name, transa, transb, m, k, n)`.
const SHAPES: &[(&str, Transpose, Transpose, usize, usize, usize)] = {
    use Transpose::{No, Yes};
    &[
        ("W1 fwd 64x784->256 A*B^T", No, Yes, 64, 784, 256),
        ("W1 fwd 64x256->128 A*B^T", No, Yes, 64, 256, 128),
        ("W1 fwd 64x128->10 A*B^T", No, Yes, 64, 128, 10),
        ("W1 dx 64x256->784 A*B", No, No, 64, 256, 784),
        ("W1 dx 64x128->256 A*B", No, No, 64, 128, 256),
        ("W1 dx 64x10->128 A*B", No, No, 64, 10, 128),
        ("W1 dW 256x64->784 A^T*B", Yes, No, 256, 64, 784),
        ("W1 dW 128x64->256 A^T*B", Yes, No, 128, 64, 256),
        ("W1 dW 10x64->128 A^T*B", Yes, No, 10, 64, 128),
        ("W4 conv2 fwd 16x72->196 A*B", No, No, 16, 72, 196),
        ("W4 conv2 dx 72x16->196 A^T*B", Yes, No, 72, 16, 196),
        ("W4 conv2 dW 16x196->72 A*B^T", No, Yes, 16, 196, 72),
        ("W4 conv1 dW 8x784->9 A*B^T", No, Yes, 8, 784, 9),
        ("W4 fc fwd 32x784->10 A*B^T", No, Yes, 32, 784, 10),
        ("W4 fc dx 32x10->784 A*B", No, No, 32, 10, 784),
        ("W4 fc dW 10x32->784 A^T*B", Yes, No, 10, 32, 784),
    ]
};

/// `None`: matrixmultiply (a dev-dependency, for this comparison only).
const BACKENDS: [(&str, Option<GemmBackend>); 4] = [
    ("auto+pack", Some(GemmBackend::Auto)),
    ("packed", Some(GemmBackend::Packed)),
    ("matrixmultiply", None),
    ("portable", Some(GemmBackend::Portable)),
];

/// `C <- op(A) op(B)` (row-major, tight leading dims) on one backend.
#[allow(clippy::too_many_arguments)]
fn product(
    backend: Option<GemmBackend>,
    (ta, tb): (Transpose, Transpose),
    (m, k, n): (usize, usize, usize),
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    pack: &mut [f32],
) {
    let Some(backend) = backend else {
        let strides = |t: Transpose, ld: usize| match t {
            Transpose::No => (ld as isize, 1),
            Transpose::Yes => (1, ld as isize),
        };
        let ((rsa, csa), (rsb, csb)) = (strides(ta, lda), strides(tb, ldb));
        assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
        // SAFETY: A holds m x k, B k x n and C m x n elements at these (tight) strides, as
        // asserted; C is a distinct, exclusive slice.
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                rsa,
                csa,
                b.as_ptr(),
                rsb,
                csb,
                0.0,
                c.as_mut_ptr(),
                n as isize,
                1,
            );
        }
        return;
    };
    gemm_with_backend(
        backend, ta, tb, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, n, pack,
    )
    .unwrap();
}

#[test]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
fn gemm_gflops() {
    let rounds = 15;
    println!(
        "{:<32} {:>10} {:>10} {:>14} {:>10}   (GFLOP/s, f32, best of {rounds} interleaved rounds)",
        "shape", BACKENDS[0].0, BACKENDS[1].0, BACKENDS[2].0, BACKENDS[3].0
    );
    // An optional filter: only the shapes whose name contains it.
    let only = std::env::var("GEMM_SPEED_ONLY").unwrap_or_default();
    for &(name, ta, tb, m, k, n) in SHAPES.iter().filter(|s| s.0.contains(&*only)) {
        let (ar, ac) = if ta == Transpose::No { (m, k) } else { (k, m) };
        let (br, bc) = if tb == Transpose::No { (k, n) } else { (n, k) };
        let a: Vec<f32> = (0..ar * ac)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 8.0)
            .collect();
        let b: Vec<f32> = (0..br * bc)
            .map(|i| ((i * 5 % 11) as f32 - 5.0) / 8.0)
            .collect();
        let mut c = vec![0.0f32; m * n];
        let mut pack = vec![0.0f32; gemm_pack_len::<f32>(ta, tb, m, n, k)];
        let flops = 2.0 * (m * n * k) as f64;
        // About 1 ms per measurement.
        let reps = ((1e6 / (flops / 50.0)) as usize).clamp(3, 20_000);
        let mut times = vec![Vec::new(); BACKENDS.len()];
        for _ in 0..rounds {
            for (t, &(_, backend)) in times.iter_mut().zip(&BACKENDS) {
                let start = Instant::now();
                for _ in 0..reps {
                    product(
                        backend,
                        (ta, tb),
                        (m, k, n),
                        black_box(&a),
                        ac,
                        black_box(&b),
                        bc,
                        &mut c,
                        &mut pack,
                    );
                    black_box(&mut c);
                }
                t.push(start.elapsed().as_secs_f64() / reps as f64);
            }
        }
        let gflops: Vec<f64> = times
            .iter_mut()
            .map(|t| {
                // The fastest round: the machine is shared, and interference only slows down.
                flops / t.iter().copied().fold(f64::INFINITY, f64::min) / 1e9
            })
            .collect();
        println!(
            "{name:<32} {:>10.1} {:>10.1} {:>14.1} {:>10.1}",
            gflops[0], gflops[1], gflops[2], gflops[3]
        );
    }
}

/// Time per call of `backend` on one product, best of `rounds` (seconds).
#[allow(clippy::too_many_arguments)]
fn best_time(
    backend: GemmBackend,
    (ta, tb): (Transpose, Transpose),
    (m, k, n): (usize, usize, usize),
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    pack: &mut [f32],
    reps: usize,
) -> f64 {
    let start = Instant::now();
    for _ in 0..reps {
        gemm_with_backend(
            backend,
            ta,
            tb,
            m,
            n,
            k,
            1.0,
            black_box(a),
            lda,
            black_box(b),
            ldb,
            0.0,
            c,
            n,
            pack,
        )
        .unwrap();
        black_box(&mut *c);
    }
    start.elapsed().as_secs_f64() / reps as f64
}

/// The crossover between the unpacked and the packed path: portable time / packed time (> 1:
/// packing wins) for small products of the layers' three orientations.
#[test]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
fn gemm_crossover() {
    use Transpose::{No, Yes};
    let layers = [
        (784, 256),
        (64, 64),
        (128, 10),
        (10, 64),
        (8, 8),
        (256, 128),
    ];
    let batches = [1, 2, 4, 8, 12, 16, 32, 64];
    println!("portable time / packed time (f32, best of 9 interleaved rounds); > 1: packed wins");
    println!(
        "{:<18} {:>8} {:>8} {:>8}",
        "batch x in -> out", "A*B^T", "A*B", "A^T*B"
    );
    for (input, output) in layers {
        for batch in batches {
            let mut ratios = Vec::new();
            // Forward Y = X W^T, input gradient dX = dY W, weight gradient dW = dY^T X.
            for (trans, (m, k, n)) in [
                ((No, Yes), (batch, input, output)),
                ((No, No), (batch, output, input)),
                ((Yes, No), (output, batch, input)),
            ] {
                let (ar, ac) = if trans.0 == No { (m, k) } else { (k, m) };
                let (br, bc) = if trans.1 == No { (k, n) } else { (n, k) };
                let a: Vec<f32> = (0..ar * ac).map(|i| (i % 7) as f32 / 8.0).collect();
                let b: Vec<f32> = (0..br * bc).map(|i| (i % 5) as f32 / 8.0).collect();
                let mut c = vec![0.0f32; m * n];
                let mut pack = vec![0.0f32; gemm_pack_len::<f32>(trans.0, trans.1, m, n, k)];
                let reps = (200_000 / (m * n * k)).clamp(5, 20_000);
                let (mut portable, mut packed) = (f64::INFINITY, f64::INFINITY);
                for _ in 0..9 {
                    let dims = (m, k, n);
                    portable = portable.min(best_time(
                        GemmBackend::Portable,
                        trans,
                        dims,
                        &a,
                        ac,
                        &b,
                        bc,
                        &mut c,
                        &mut pack,
                        reps,
                    ));
                    packed = packed.min(best_time(
                        GemmBackend::Packed,
                        trans,
                        dims,
                        &a,
                        ac,
                        &b,
                        bc,
                        &mut c,
                        &mut pack,
                        reps,
                    ));
                }
                ratios.push(portable / packed);
            }
            println!(
                "{:<18} {:>8.2} {:>8.2} {:>8.2}",
                format!("{batch} x {input} -> {output}"),
                ratios[0],
                ratios[1],
                ratios[2]
            );
        }
    }
}
