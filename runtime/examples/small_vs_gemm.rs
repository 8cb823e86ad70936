//! Host speed of the small-size kernels (`kernels::small`) against the GEMM behind the typed
//! wrappers (`kernels::gemm::gemm`, the automatic choice of implementation), on the dense layers of the
//! reference workloads W2 (784 -> 256 -> 128 -> 10) and W3 (2 -> 16 -> 16 -> 1) of BENCHMARKS.md
//! at batch 1, 4 and 8. This is the measurement behind the size rule that sends products to
//! `kernels::small`.
//!
//! ```text
//! cargo run -p monograd-runtime --release --example small_vs_gemm
//! ```
//!
//! For each layer `B x IN -> OUT`, the three products of a dense layer: forward `Y = X * W^T`
//! (`a_bt`), input gradient `dX = dY * W` (`a_b`) and weight gradient `dW = dY^T * X` (`at_b`),
//! all with `Store::Overwrite`. (The typed wrappers also inline products of at most 64
//! multiply-adds, which this slice call does not: the rows 1 x 2 -> 16 and 1 x 16 -> 1.) The two implementations alternate, sample by sample, so that both
//! see the same machine; a sample is enough back-to-back calls to last about 20 µs. Printed: the
//! median ns per call of each over 101 samples and `gemm / small` (above 1: small is faster).

use std::hint::black_box;
use std::time::Instant;

use monograd_runtime::kernels::gemm::{gemm, Transpose};
use monograd_runtime::kernels::{small, Store};
use monograd_runtime::Rng;

const SAMPLES: usize = 101;
const SAMPLE_NS: f64 = 20_000.0;

/// A boxed `[[f32; C]; R]` of uniform values in [-1, 1) (a W2 weight does not belong on the
/// stack).
fn random<const R: usize, const C: usize>(rng: &mut Rng) -> Box<[[f32; C]; R]> {
    let rows: Vec<[f32; C]> = (0..R)
        .map(|_| core::array::from_fn(|_| rng.uniform::<f32>(-1.0, 1.0)))
        .collect();
    match rows.into_boxed_slice().try_into() {
        Ok(array) => array,
        Err(_) => unreachable!("R rows were collected"),
    }
}

/// Nanoseconds per call of `f`, over `inner` back-to-back calls.
fn sample(f: &mut impl FnMut(), inner: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..inner {
        f();
    }
    start.elapsed().as_nanos() as f64 / inner as f64
}

/// Median ns per call of `small` and `gemm`, sampled alternately; prints one row.
fn compare(name: &str, mut small: impl FnMut(), mut gemm: impl FnMut()) {
    let warm = sample(&mut small, 50).max(sample(&mut gemm, 50)).max(1.0);
    let inner = ((SAMPLE_NS / warm) as usize).max(1);
    let mut small_ns = Vec::with_capacity(SAMPLES);
    let mut gemm_ns = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        small_ns.push(sample(&mut small, inner));
        gemm_ns.push(sample(&mut gemm, inner));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (s, g) = (median(&mut small_ns), median(&mut gemm_ns));
    println!("{name:<28} {s:>10.0} {g:>10.0} {:>8.2}", g / s);
}

/// `C (store) op(A) * op(B)` on the slice GEMM, for matrices stored as arrays of rows.
#[allow(clippy::too_many_arguments)]
fn on_gemm(
    (transa, a, lda): (Transpose, &[f32], usize),
    (transb, b, ldb): (Transpose, &[f32], usize),
    [m, n, k]: [usize; 3],
    c: &mut [f32],
    store: Store,
) {
    let result = gemm(
        transa,
        transb,
        m,
        n,
        k,
        1.0,
        a,
        lda,
        b,
        ldb,
        store.beta(),
        c,
        n,
    );
    if let Err(error) = result {
        panic!("the array shapes fit: {error:?}");
    }
}

/// The three products of a dense layer `B x IN -> OUT`.
fn layer<const B: usize, const IN: usize, const OUT: usize>(rng: &mut Rng) {
    let x = random::<B, IN>(rng);
    let w = random::<OUT, IN>(rng);
    let dy = random::<B, OUT>(rng);
    // Separate outputs, so that the two closures of a row can live side by side.
    let (mut y, mut y2) = (random::<B, OUT>(rng), random::<B, OUT>(rng));
    let (mut dx, mut dx2) = (random::<B, IN>(rng), random::<B, IN>(rng));
    let (mut dw, mut dw2) = (random::<OUT, IN>(rng), random::<OUT, IN>(rng));
    let store = Store::Overwrite;
    let (no, yes) = (Transpose::No, Transpose::Yes);
    let shape = format!("{B} x {IN} -> {OUT}");
    compare(
        &format!("a_bt  {shape}"),
        || small::matmul_a_bt(black_box(&*x), black_box(&*w), black_box(&mut *y), store),
        || {
            let (a, b) = (black_box(x.as_flattened()), black_box(w.as_flattened()));
            let c = black_box(y2.as_flattened_mut());
            on_gemm((no, a, IN), (yes, b, IN), [B, OUT, IN], c, store);
        },
    );
    compare(
        &format!("a_b   {shape}"),
        || small::matmul_a_b(black_box(&*dy), black_box(&*w), black_box(&mut *dx), store),
        || {
            let (a, b) = (black_box(dy.as_flattened()), black_box(w.as_flattened()));
            let c = black_box(dx2.as_flattened_mut());
            on_gemm((no, a, OUT), (no, b, IN), [B, IN, OUT], c, store);
        },
    );
    compare(
        &format!("at_b  {shape}"),
        || small::matmul_at_b(black_box(&*dy), black_box(&*x), black_box(&mut *dw), store),
        || {
            let (a, b) = (black_box(dy.as_flattened()), black_box(x.as_flattened()));
            let c = black_box(dw2.as_flattened_mut());
            on_gemm((yes, a, OUT), (no, b, IN), [OUT, IN, B], c, store);
        },
    );
}

fn main() {
    let mut rng = Rng::new(0);
    println!(
        "{:<28} {:>10} {:>10} {:>8}",
        "f32, ns per call", "small", "gemm", "ratio"
    );
    layer::<1, 784, 256>(&mut rng);
    layer::<1, 256, 128>(&mut rng);
    layer::<1, 128, 10>(&mut rng);
    layer::<1, 2, 16>(&mut rng);
    layer::<1, 16, 16>(&mut rng);
    layer::<1, 16, 1>(&mut rng);
    layer::<4, 784, 256>(&mut rng);
    layer::<4, 256, 128>(&mut rng);
    layer::<4, 128, 10>(&mut rng);
    layer::<4, 16, 16>(&mut rng);
    layer::<8, 784, 256>(&mut rng);
    layer::<8, 128, 10>(&mut rng);
    layer::<8, 16, 16>(&mut rng);
}
