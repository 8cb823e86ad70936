//! The machine's floor under a training step: how close W1, W4 and W5 run to what their
//! matrix products and their optimizer's memory traffic cost on their own.
//!
//! - GEMM floor: the step's matrix products (the shapes its layers pass to the GEMM), timed
//!   through `runtime::kernels::gemm::gemm_packed` with packing scratch, the same kernels and
//!   choice of kernel the step's `linear` and `conv2d` layers run, on operands of the same
//!   sizes. A dense layer `n -> m` at batch `B` contributes its forward `X W^T`, its weight
//!   gradient `dY^T X` and, except for a first layer (whose input needs no gradient, so the
//!   step skips it), its input gradient `dY W`; a convolution contributes its im2col products
//!   per sample (forward `W cols`, weight gradient `dY cols^T`, input gradient `W^T dY`). What
//!   the step does besides (im2col, activations, loss, bias, optimizer, checks) is the gap
//!   between the step and this floor: `ratio_to_gemm_floor = step / floor`.
//! - Optimizer bound: the bytes the update must stream (Adam reads the parameters, gradient and
//!   both moments and writes the parameters and moments: `7 P` values; SGD with momentum reads
//!   parameters, gradient and velocity and writes parameters and velocity: `5 P`) over the
//!   bandwidth of a streaming update `x[i] = x[i] + s y[i]` (read both, write one: the same
//!   read-then-write pattern, no write-allocate traffic) moving as many bytes, compiled for the
//!   widest vector instructions. `optimizer_bound_us = bytes / bandwidth`. A step is a
//!   transaction: before writing, it reads the gradient and the parameters once more to prove
//!   the update finite (`optim::GradientScan`, `check_us` alone), so the bound of the whole
//!   step, check included, is `(values_moved + 2) P` values over the same bandwidth
//!   (`with_check_bound_us`, `ratio_with_check`).
//!
//! - W2's read bound: a batch-1 forward pass reads each weight once, so it cannot beat a
//!   read-only stream over as many bytes (`read_bound`, row `W2.bound`).
//!
//! The step, the products, the optimizer step and the stream alternate round after round, so
//! that a change in the machine's load weighs on all four alike; each is reported by its median
//! and minimum over the rounds.

use std::hint::black_box;
use std::time::Instant;

use monograd::runtime::kernels::gemm::{gemm_pack_len, gemm_packed, Transpose};
use monograd::runtime::kernels::simd::{dispatch, Simd};
use monograd::runtime::optim::{GradientScan, Optimizer};
use monograd::runtime::{Buffer, Network, Rng};

use super::{jsonl, median_of, Options};

/// One matrix product of a step, `count` times per step (once per sample for a convolution):
/// `C (m x n) = op(A) op(B)`, `op(A)` `m x k`. `accumulate`: every call after the first adds
/// to `C` (a convolution's weight gradient summed over the samples).
#[derive(Clone, Copy, Debug)]
pub struct Product {
    pub transa: Transpose,
    pub transb: Transpose,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub count: usize,
    pub accumulate: bool,
}

impl Product {
    const fn once(transa: Transpose, transb: Transpose, m: usize, n: usize, k: usize) -> Self {
        Product {
            transa,
            transb,
            m,
            n,
            k,
            count: 1,
            accumulate: false,
        }
    }

    /// Multiply-adds per step.
    fn work(&self) -> usize {
        self.m * self.n * self.k * self.count
    }
}

/// The products of a chain of dense layers `(inputs, outputs)` at batch `batch`: forward
/// `Y = X W^T`, weight gradient `dW = dY^T X` and input gradient `dX = dY W` (not for the
/// network's first layer, when `first` says the chain starts with it).
pub fn dense_products(batch: usize, layers: &[(usize, usize)], first: bool) -> Vec<Product> {
    use Transpose::{No, Yes};
    let mut products = Vec::new();
    for (i, &(inputs, outputs)) in layers.iter().enumerate() {
        products.push(Product::once(No, Yes, batch, outputs, inputs));
        products.push(Product::once(Yes, No, outputs, inputs, batch));
        if i > 0 || !first {
            products.push(Product::once(No, No, batch, inputs, outputs));
        }
    }
    products
}

/// The im2col products of a convolution per sample, `samples` times: `channels_in ->
/// channels_out` with a `kernel x kernel` window over an output of `pixels` positions. `first`:
/// the network's first layer, whose input gradient the step skips.
pub fn conv_products(
    samples: usize,
    channels_in: usize,
    channels_out: usize,
    kernel: usize,
    pixels: usize,
    first: bool,
) -> Vec<Product> {
    let mut products = conv_forward_products(samples, channels_in, channels_out, kernel, pixels);
    products.extend(conv_backward_products(
        samples,
        channels_in,
        channels_out,
        kernel,
        pixels,
        first,
    ));
    products
}

/// The forward product of [`conv_products`]: `Y = W cols`, `[C_out][CK] x [CK][pixels]` per
/// sample.
pub fn conv_forward_products(
    samples: usize,
    channels_in: usize,
    channels_out: usize,
    kernel: usize,
    pixels: usize,
) -> Vec<Product> {
    let ck = channels_in * kernel * kernel;
    vec![Product {
        count: samples,
        ..Product::once(Transpose::No, Transpose::No, channels_out, pixels, ck)
    }]
}

/// The backward half of [`conv_products`]: the weight gradient's products and, unless `first`,
/// the input gradient's.
pub fn conv_backward_products(
    samples: usize,
    channels_in: usize,
    channels_out: usize,
    kernel: usize,
    pixels: usize,
    first: bool,
) -> Vec<Product> {
    use Transpose::{No, Yes};
    let ck = channels_in * kernel * kernel;
    let per_sample = |transa, transb, m, n, k, accumulate| Product {
        transa,
        transb,
        m,
        n,
        k,
        count: samples,
        accumulate,
    };
    // dW += dY cols^T: [C_out][pixels] x ([CK][pixels])^T, summed over the samples.
    let mut products = vec![per_sample(No, Yes, channels_out, ck, pixels, true)];
    if !first {
        // dcols = W^T dY: ([C_out][CK])^T x [C_out][pixels].
        products.push(per_sample(Yes, No, ck, pixels, channels_out, false));
    }
    products
}

/// Times `kernels` (convolution kernels of one step: `pass` is `conv_backward` for the weight
/// and input gradients, `conv_forward` for forward passes) alternating with `products` (their
/// GEMMs alone, [`conv_backward_products`] or [`conv_forward_products`]) and prints the row
/// `id`: `{pass}_us`, `{pass}_gemm_us` and their ratio, of the medians (and of the minima).
/// What is above 1 is im2col, col2im, packing and the bias.
pub fn conv_kernels(
    options: &Options,
    id: &str,
    pass: &str,
    batch: usize,
    products: Vec<Product>,
    mut kernels: impl FnMut(),
) {
    let work: usize = products.iter().map(Product::work).sum();
    let mut operands = Operands::new(products);
    for _ in 0..10 {
        kernels();
        operands.run();
    }
    let mut samples: [Vec<f64>; 2] = Default::default();
    let start = Instant::now();
    while samples[0].len() < MIN_ROUNDS || start.elapsed().as_secs_f64() < options.seconds {
        let t = Instant::now();
        kernels();
        samples[0].push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        operands.run();
        samples[1].push(t.elapsed().as_secs_f64());
    }
    let rounds = samples[0].len();
    let [conv, gemm] = samples.map(summary);
    let ratio = conv.median / gemm.median;
    let ratio_min = conv.min / gemm.min;
    let gflops = 2.0 * work as f64 / gemm.median / 1e9;
    println!(
        "{:<10} {pass}_us {:>7.1} (min {:.1})  {pass}_gemm_us {:>7.1} (min {:.1}, {gflops:.1} GFLOP/s)  \
         ratio {ratio:.2} (min/min {ratio_min:.2})  [{rounds} rounds]",
        id,
        conv.median * 1e6,
        conv.min * 1e6,
        gemm.median * 1e6,
        gemm.min * 1e6,
    );
    jsonl::row_with(
        id,
        pass,
        batch,
        "us",
        [conv.median, conv.p10, conv.p90].map(|t| t * 1e6),
        rounds,
        1,
        None,
        &[
            (&format!("{pass}_us"), conv.median * 1e6),
            (&format!("{pass}_min_us"), conv.min * 1e6),
            (&format!("{pass}_gemm_us"), gemm.median * 1e6),
            (&format!("{pass}_gemm_min_us"), gemm.min * 1e6),
            ("ratio_to_gemm", ratio),
        ],
    );
}

/// Operands of the products, allocated once, and the packing scratch.
struct Operands {
    products: Vec<Product>,
    buffers: Vec<(Vec<f32>, Vec<f32>, Vec<f32>)>,
    pack: Vec<f32>,
}

impl Operands {
    fn new(products: Vec<Product>) -> Self {
        let mut rng = Rng::new(7);
        let mut random = |len: usize| -> Vec<f32> { (0..len).map(|_| rng.normal()).collect() };
        let buffers = products
            .iter()
            .map(|p| (random(p.m * p.k), random(p.k * p.n), random(p.m * p.n)))
            .collect();
        let pack_len = products
            .iter()
            .map(|p| gemm_pack_len::<f32>(p.transa, p.transb, p.m, p.n, p.k))
            .max()
            .unwrap_or(0);
        Operands {
            products,
            buffers,
            pack: vec![0.0; pack_len],
        }
    }

    /// Every product of one step.
    fn run(&mut self) {
        for (p, (a, b, c)) in self.products.iter().zip(&mut self.buffers) {
            // Row-major leading dimensions of the operands as stored.
            let lda = if p.transa == Transpose::No { p.k } else { p.m };
            let ldb = if p.transb == Transpose::No { p.n } else { p.k };
            for call in 0..p.count {
                let beta = if p.accumulate && call > 0 { 1.0 } else { 0.0 };
                gemm_packed(
                    p.transa,
                    p.transb,
                    p.m,
                    p.n,
                    p.k,
                    1.0,
                    black_box(&a[..]),
                    lda,
                    black_box(&b[..]),
                    ldb,
                    beta,
                    c,
                    p.n,
                    &mut self.pack,
                )
                .expect("operands sized for their product");
            }
            black_box(&mut c[..]);
        }
    }
}

/// `x[i] = x[i] + s * y[i]`: reads both, writes one, compiled for the widest vector level.
struct Update<'a> {
    x: &'a mut [f32],
    y: &'a [f32],
    s: f32,
}

impl Simd for Update<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        for (x, &y) in self.x.iter_mut().zip(self.y) {
            *x += self.s * y;
        }
    }
}

/// `sum_i x[i]` with [`READ_LANES`] partial sums (eight 512-bit registers: the adds' latency
/// hidden), a read-only stream compiled for the widest vector level.
struct Read<'a>(&'a [f32]);

const READ_LANES: usize = 128;

impl Simd for Read<'_> {
    type Output = f32;
    #[inline(always)]
    fn run(self) -> f32 {
        let (chunks, tail) = self.0.as_chunks::<READ_LANES>();
        let mut sums = [0.0f32; READ_LANES];
        for chunk in chunks {
            for (s, &v) in sums.iter_mut().zip(chunk) {
                *s += v;
            }
        }
        sums.iter().sum::<f32>() + tail.iter().sum::<f32>()
    }
}

/// Times `infer` (one call: a batch-1 forward pass whose weights, `bytes` of them, are read
/// once) alternating with a read-only stream over a buffer of `bytes`, and prints the row
/// `<id>.bound`: `infer_us`, `read_bound_us` (`bytes` over the measured read bandwidth) and
/// their ratio.
pub fn read_bound(options: &Options, id: &str, bytes: usize, mut infer: impl FnMut()) {
    let buffer = vec![0.5f32; bytes / 4];
    // Calls per sample: enough for the clock's resolution (a call is a few microseconds).
    const CALLS: usize = 20;
    let mut infer_samples = Vec::new();
    let mut read_samples = Vec::new();
    let start = Instant::now();
    while infer_samples.len() < 5 * MIN_ROUNDS || start.elapsed().as_secs_f64() < options.seconds {
        let t = Instant::now();
        for _ in 0..CALLS {
            infer();
        }
        infer_samples.push(t.elapsed().as_secs_f64() / CALLS as f64);
        let t = Instant::now();
        for _ in 0..CALLS {
            black_box(dispatch(Read(black_box(&buffer))));
        }
        read_samples.push(t.elapsed().as_secs_f64() / CALLS as f64);
    }
    let rounds = infer_samples.len();
    let (infer, read) = (summary(infer_samples), summary(read_samples));
    let bandwidth = bytes as f64 / read.median;
    let ratio = infer.median / read.median;
    println!(
        "{:<10} infer_us {:>6.2} (min {:.2})  read_bound_us {:>6.2} ({:.2} MB of weights at {:.1} GB/s)  \
         ratio {ratio:.2}  [{rounds} rounds]",
        format!("{id}.bound"),
        infer.median * 1e6,
        infer.min * 1e6,
        read.median * 1e6,
        bytes as f64 / 1e6,
        bandwidth / 1e9,
    );
    jsonl::row_with(
        &format!("{id}.bound"),
        "read_bound",
        1,
        "us",
        [infer.median, infer.p10, infer.p90].map(|t| t * 1e6),
        rounds,
        CALLS,
        None,
        &[
            ("infer_us", infer.median * 1e6),
            ("read_bound_us", read.median * 1e6),
            ("bytes", bytes as f64),
            ("bandwidth_gb_s", bandwidth / 1e9),
            ("ratio_to_bound", ratio),
        ],
    );
}

/// Medians and minima of one quantity's samples, in seconds.
struct Summary {
    median: f64,
    min: f64,
    p10: f64,
    p90: f64,
}

fn summary(mut samples: Vec<f64>) -> Summary {
    let median = median_of(&mut samples);
    Summary {
        median,
        min: samples[0],
        p10: super::percentile(&samples, 0.1),
        p90: super::percentile(&samples, 0.9),
    }
}

/// Fewest rounds, whatever the time budget.
const MIN_ROUNDS: usize = 30;

/// Values per parameter the check phase of a step reads from memory (`optim::GradientScan`:
/// the gradient and the parameters).
pub const CHECK_VALUES: usize = 2;

/// `x[i] = y[i] / (sqrt(x[i]) + 1)` over a block that stays in L1, `repeats` times: one
/// correctly rounded square root and one division per element, the divider work of an Adam,
/// Adagrad, RMSprop or Adadelta update, at the throughput of the unit that computes both (on
/// Zen 4 it, not the memory, sets those updates' pace). Compiled for the widest vector level.
struct SqrtDiv<'a> {
    x: &'a mut [f32],
    y: &'a [f32],
    repeats: usize,
}

impl Simd for SqrtDiv<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        for _ in 0..self.repeats {
            for (x, &y) in self.x.iter_mut().zip(self.y) {
                *x = y / (x.sqrt() + 1.0);
            }
        }
    }
}

/// Elements of [`SqrtDiv`]'s block: 32 KB of `f32` in two buffers, within L1.
const SQRT_DIV_BLOCK: usize = 4096;

/// Times `optimizer.step` on `params` and `grads` (P values each, the optimizer's state as
/// large) alternating, round by round, with a streaming update moving the bytes the step
/// must move (`values_moved` values per parameter), with the step's check alone
/// (`GradientScan::of`) and, for an update with a square root and a division per element
/// (`divides`), with [`SqrtDiv`] over P elements; prints the row `optim.<name>`:
/// `optimizer_us`, the bound `optimizer_bound_us` (those bytes over the stream's bandwidth)
/// and their ratio, the same with the check's reads counted in the bound
/// (`with_check_bound_us`, `ratio_with_check`), and `divider_us` (0 when `!divides`), under
/// which no exactly rounded update of this kind can run whatever its memory traffic.
/// Medians over the rounds.
pub fn optimizer_alone<const P: usize, O: Optimizer<f32, P>>(
    options: &Options,
    name: &str,
    optimizer: &mut O,
    params: &mut [f32; P],
    grads: &[f32; P],
    values_moved: usize,
    divides: bool,
) {
    let id = format!("optim.{name}");
    let bytes = (values_moved * P * 4) as f64;
    // Stream buffers moving the optimizer's bytes: 3 values moved per element.
    let stream_len = values_moved * P / 3;
    let mut stream_x = vec![1.0f32; stream_len];
    let stream_y = vec![0.5f32; stream_len];
    // `grads` and its opposite in turn: with one constant gradient, centered RMSprop's
    // averages converge to `v = mean^2` and rounding soon makes the difference negative (NaN,
    // a failed step); alternating signs keep it at `g^2`.
    let mut opposite = Buffer::<[f32; P]>::zeroed();
    for (o, &g) in opposite.iter_mut().zip(grads) {
        *o = -g;
    }
    let mut flip = false;
    let mut step = |params: &mut [f32; P]| {
        flip = !flip;
        let grads = if flip { &*opposite } else { grads };
        optimizer
            .step(params, black_box(grads))
            .expect("a finite update");
        black_box(&mut *params);
    };
    let mut divider_x = vec![1.0f32; SQRT_DIV_BLOCK];
    let divider_y = vec![0.5f32; SQRT_DIV_BLOCK];
    for _ in 0..20 {
        step(params);
    }
    let mut samples: [Vec<f64>; 4] = Default::default();
    let start = Instant::now();
    while samples[0].len() < 10 * MIN_ROUNDS || start.elapsed().as_secs_f64() < options.seconds {
        let t = Instant::now();
        step(params);
        samples[0].push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        dispatch(Update {
            x: &mut stream_x,
            y: &stream_y,
            s: black_box(1e-7),
        });
        black_box(&mut stream_x);
        samples[1].push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        black_box(GradientScan::of(
            black_box(&params[..]),
            black_box(&grads[..]),
        ));
        samples[2].push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        if divides {
            dispatch(SqrtDiv {
                x: &mut divider_x,
                y: black_box(&divider_y),
                repeats: P / SQRT_DIV_BLOCK,
            });
            black_box(&mut divider_x);
        }
        // Per element, scaled to P.
        let elements = (P / SQRT_DIV_BLOCK * SQRT_DIV_BLOCK).max(1);
        samples[3].push(t.elapsed().as_secs_f64() * P as f64 / elements as f64);
    }
    let rounds = samples[0].len();
    let [time, stream, check, divider] = samples.map(summary);
    let divider = if divides { divider.median } else { 0.0 };
    let bandwidth = (3 * stream_len * 4) as f64 / stream.median;
    let bound = bytes / bandwidth;
    let with_check_bound = ((values_moved + CHECK_VALUES) * P * 4) as f64 / bandwidth;
    let ratio = time.median / bound;
    let ratio_with_check = time.median / with_check_bound;
    println!(
        "{id:<22} optimizer_us {:>6.1} (min {:.1})  bound_us {:>6.1} ({values_moved} P, {:.2} MB at {:.1} GB/s)  \
         ratio {ratio:.2}  check_us {:.1}  with_check_bound_us {:.1}  ratio_with_check \
         {ratio_with_check:.2}  divider_us {:.1}  [{rounds} rounds]",
        time.median * 1e6,
        time.min * 1e6,
        bound * 1e6,
        bytes / 1e6,
        bandwidth / 1e9,
        check.median * 1e6,
        with_check_bound * 1e6,
        divider * 1e6,
    );
    jsonl::row_with(
        &id,
        "optimizer_bound",
        1,
        "us",
        [time.median, time.p10, time.p90].map(|t| t * 1e6),
        rounds,
        1,
        None,
        &[
            ("optimizer_us", time.median * 1e6),
            ("optimizer_min_us", time.min * 1e6),
            ("optimizer_bound_us", bound * 1e6),
            ("values_moved", values_moved as f64),
            ("bytes", bytes),
            ("bandwidth_gb_s", bandwidth / 1e9),
            ("ratio_to_bound", ratio),
            ("check_us", check.median * 1e6),
            ("with_check_bound_us", with_check_bound * 1e6),
            ("ratio_with_check", ratio_with_check),
            ("divider_us", divider * 1e6),
        ],
    );
}

/// Times `train_step` of `net` on a fixed batch against the floor of its products and of its
/// optimizer (module docs) and prints two rows, `<id>.floor` and `<id>.opt_bound`.
/// `values_moved`: values the optimizer streams per parameter (7 for Adam, 5 for SGD with
/// momentum).
#[allow(clippy::too_many_arguments)]
pub fn report<const P: usize, const I: usize, const B: usize, N, O>(
    options: &Options,
    id: &str,
    net: &mut N,
    optimizer: &mut O,
    x: &[[f32; I]; B],
    labels: &[usize; B],
    products: Vec<Product>,
    values_moved: usize,
) where
    N: Network<P, Element = f32, Input = [f32; I], Target = usize>,
    O: Optimizer<f32, P>,
{
    let work: usize = products.iter().map(Product::work).sum();
    let mut operands = Operands::new(products);
    let mut tape = N::new_tape::<B>();
    let bytes = (values_moved * P * 4) as f64;
    // Stream buffers moving the optimizer's bytes: 3 values moved per element.
    let stream_len = values_moved * P / 3;
    let mut stream_x = vec![1.0f32; stream_len];
    let stream_y = vec![0.5f32; stream_len];

    let mut step = || {
        let loss = net.train_step(&mut tape, black_box(x), black_box(labels), optimizer);
        black_box(loss.expect("finite loss"));
    };
    // Warm-up: every part a few times.
    for _ in 0..10 {
        step();
        operands.run();
    }
    let mut samples: [Vec<f64>; 2] = Default::default();
    let start = Instant::now();
    while samples[0].len() < MIN_ROUNDS || start.elapsed().as_secs_f64() < 2.0 * options.seconds {
        let t = Instant::now();
        step();
        samples[0].push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        operands.run();
        samples[1].push(t.elapsed().as_secs_f64());
    }
    let rounds = samples[0].len();
    let [step_time, floor] = samples.map(summary);

    // The optimizer alone and the stream, alternating, on the gradient of the last step.
    let mut optimizer_samples = Vec::new();
    let mut stream_samples = Vec::new();
    let mut check_samples = Vec::new();
    let grads = N::param_grads(&tape);
    for _ in 0..rounds {
        let t = Instant::now();
        optimizer
            .step(net.params_mut(), black_box(grads))
            .expect("a finite update");
        black_box(net.params());
        optimizer_samples.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        dispatch(Update {
            x: &mut stream_x,
            y: &stream_y,
            s: black_box(1e-7),
        });
        black_box(&mut stream_x);
        stream_samples.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        black_box(GradientScan::of(
            black_box(&net.params()[..]),
            black_box(&grads[..]),
        ));
        check_samples.push(t.elapsed().as_secs_f64());
    }
    let optimizer_time = summary(optimizer_samples);
    let check_time = summary(check_samples);
    let stream = summary(stream_samples);
    let stream_bytes = (3 * stream_len * 4) as f64;
    let bandwidth = stream_bytes / stream.median;
    let bound = bytes / bandwidth;
    let with_check_bound = ((values_moved + CHECK_VALUES) * P * 4) as f64 / bandwidth;

    let ratio = step_time.median / floor.median;
    let ratio_min = step_time.min / floor.min;
    let gflops = 2.0 * work as f64 / floor.median / 1e9;
    println!(
        "{:<10} step_us {:>9.1} (min {:.1})  gemm_floor_us {:>9.1} (min {:.1}, {gflops:.1} GFLOP/s)  \
         ratio_to_gemm_floor {ratio:.2} (min/min {ratio_min:.2})  [{rounds} rounds]",
        format!("{id}.floor"),
        step_time.median * 1e6,
        step_time.min * 1e6,
        floor.median * 1e6,
        floor.min * 1e6,
    );
    let optimizer_ratio = optimizer_time.median / bound;
    let ratio_with_check = optimizer_time.median / with_check_bound;
    println!(
        "{:<10} optimizer_us {:>6.1} (min {:.1})  optimizer_bound_us {:>6.1} ({:.2} MB at {:.1} GB/s)  \
         ratio {optimizer_ratio:.2}  check_us {:.1}  with_check_bound_us {:.1}  ratio_with_check \
         {ratio_with_check:.2}",
        format!("{id}.opt"),
        optimizer_time.median * 1e6,
        optimizer_time.min * 1e6,
        bound * 1e6,
        bytes / 1e6,
        bandwidth / 1e9,
        check_time.median * 1e6,
        with_check_bound * 1e6,
    );
    let us = |s: &Summary| [s.median, s.p10, s.p90].map(|t| t * 1e6);
    jsonl::row_with(
        &format!("{id}.floor"),
        "gemm_floor",
        B,
        "us",
        us(&floor),
        rounds,
        1,
        Some(gflops),
        &[
            ("step_us", step_time.median * 1e6),
            ("step_min_us", step_time.min * 1e6),
            ("gemm_floor_us", floor.median * 1e6),
            ("gemm_floor_min_us", floor.min * 1e6),
            ("ratio_to_gemm_floor", ratio),
        ],
    );
    jsonl::row_with(
        &format!("{id}.opt"),
        "optimizer_bound",
        B,
        "us",
        us(&optimizer_time),
        rounds,
        1,
        None,
        &[
            ("optimizer_us", optimizer_time.median * 1e6),
            ("optimizer_bound_us", bound * 1e6),
            ("bytes", bytes),
            ("bandwidth_gb_s", bandwidth / 1e9),
            ("ratio_to_bound", optimizer_ratio),
            ("check_us", check_time.median * 1e6),
            ("with_check_bound_us", with_check_bound * 1e6),
            ("ratio_with_check", ratio_with_check),
        ],
    );
}
