//! The reference workloads W1..W6 of `BENCHMARKS.md`, timed with a small hand-written harness.
//!
//! ```text
//! cargo bench --bench workloads                      # every workload
//! cargo bench --bench workloads -- W1 W3             # a selection, by id or name (mlp_train, ...)
//! cargo bench --bench workloads -- W1parts           # W1 split: forward, loss+backward, optimizer, finite checks
//!                                                    # (also W4parts, W5parts)
//! taskset -c 1 cargo bench --bench workloads         # pinned to one core (BENCHMARKS-RESULTS.md)
//! cargo bench --bench workloads -- threads           # W1, W4, W5 on 1 and 2 threads (runtime::parallel)
//! cargo bench --bench workloads -- optim             # every optimizer alone on W1's parameters, against its bound
//! ```
//!
//! Options: `--min-reps N` (at least 200), `--seconds S` (time budget per workload, default 1),
//! `--w6-runs N` (W6 training runs, default 5), `--json PATH` (also append every row to PATH as
//! a JSON line, see `benches/common/jsonl.rs`; plot such files with
//! `cargo run --release --example benchmark_figure -- PATH...`).
//! `reference/bench_pytorch.py` runs the same workloads in PyTorch with the same protocol and
//! prints the same table.
//!
//! # Protocol (identical in the PyTorch script)
//! - Warm-up: at least 20 calls and at least 0.2 s of calls; the median of the last 20 warm-up
//!   calls estimates the cost of one call.
//! - A timed repetition is `inner` back-to-back calls, `inner` being the smallest count that
//!   lasts 50 µs (1 for every call longer than that; ~100 for W3, so that the clock's ~40 ns per
//!   reading pair stays under 0.1%), and its time divided by `inner` is one sample. There are at
//!   least 200 repetitions (more while they fit in `--seconds`, at most 20000).
//! - Reported: the median sample, and the 10th / 90th percentiles; µs per call, W3 in ns.
//! - After W1, W4 and W5, their floor (`benches/common/floor.rs`): the step alternated round by
//!   round with its matrix products alone, through the same GEMM and scratch
//!   (`gemm_floor_us`, `ratio_to_gemm_floor` = step / products, medians and minima), and the
//!   optimizer step against the bytes it streams over the measured bandwidth of a streaming
//!   update of that size (`optimizer_us`, `optimizer_bound_us`); rows `W1.floor` and `W1.opt`.
//!   The group `optim` does the same for every optimizer on W1's parameter count, each
//!   against the bytes its own update streams (rows `optim.<name>`).
//!   After W2, the same read bound for inference: a read-only stream over its weights' bytes
//!   (`read_bound_us`), row `W2.bound`.
//! - After W4parts, W4's convolution kernels as the step calls them, alternated round by round
//!   with their im2col GEMMs alone: each layer's forward pass (`conv_forward_us`,
//!   `conv_forward_gemm_us`, ratio; rows `W4.convfwd.c1`, `.c2`), then the backward kernels
//!   (weight and input gradients; `conv_backward_us`, `conv_backward_gemm_us`), all three
//!   together (row `W4.convbwd`) and each alone (`W4.convbwd.dw1`, `.dw2`, `.dx2`): what is
//!   above 1 is im2col, packing, col2im and the bias (conv1's forward pass and weight gradient
//!   run on shifted copies of the image, without im2col or GEMM).
//! - Before and after the table, a clock probe (a dependency chain of known latency) prints the
//!   core's effective GHz. It is a coarse indicator only: on a shared VM it drops in many
//!   disturbed runs but not all, and sometimes reads low when the rows are fine. Compare
//!   frameworks on back-to-back runs, as ratios, and repeat.
//!
//! Every workload is single-threaded (monograd has no thread pool). Inputs are random normal,
//! labels uniform in 0..10, weights He-normal (biases PyTorch's default), as `BENCHMARKS.md`
//! says. Each training workload repeats its step on one fixed batch, as the PyTorch script does.
//! W6 trains the digits network of `examples/digits.rs` on the unshuffled split (first 1437
//! rows train, last 360 test), shuffling the batches each epoch, and reports the median training
//! wall time of `--w6-runs` identical runs (same seed, so same accuracy).

#[path = "../examples/common/digits.rs"]
#[allow(dead_code)] // helpers of the examples that the benchmark does not use
mod digits;

use std::hint::black_box;
use std::time::{Duration, Instant};

use monograd::prelude::*;
use monograd::runtime::kernels::reduce::max_abs_pair;
use monograd::runtime::network::check_state_finite;
use monograd::runtime::ops::conv::{
    conv2d_backward_input_packed, conv2d_backward_params_packed, conv2d_forward_packed,
    conv2d_pack_len, conv2d_weight_workspace_len, Conv2d,
};
use monograd::runtime::train::{accuracy, MiniBatches};
use monograd::runtime::{Buffer, Network, Store};

#[path = "common/floor.rs"]
mod floor;
#[path = "common/jsonl.rs"]
mod jsonl;
#[path = "common/networks.rs"]
mod networks;

#[path = "common/threads.rs"]
mod threads;

use networks::*;

#[path = "../examples/common/mlp.rs"]
mod mlp;

use mlp::{DigitsNet, DigitsNetTape};

const WARMUP_CALLS: usize = 20;
const WARMUP_TIME: Duration = Duration::from_millis(200);
const MIN_SAMPLE: Duration = Duration::from_micros(50);
const MAX_REPS: usize = 20_000;

struct Options {
    selected: Vec<String>,
    min_reps: usize,
    seconds: f64,
    w6_runs: usize,
    json: Option<std::path::PathBuf>,
}

/// Per-call times of one workload.
struct Stats {
    median: f64,
    p10: f64,
    p90: f64,
    reps: usize,
    inner: usize,
}

/// Warm-up, calibration and timed repetitions of `call` (see the module docs); times in seconds.
fn measure(options: &Options, mut call: impl FnMut()) -> Stats {
    let mut warm = Vec::new();
    let start = Instant::now();
    while warm.len() < WARMUP_CALLS || start.elapsed() < WARMUP_TIME {
        let t = Instant::now();
        call();
        warm.push(t.elapsed().as_secs_f64());
    }
    let estimate = median_of(&mut warm[warm.len() - WARMUP_CALLS..].to_vec()).max(1e-9);
    let inner = (MIN_SAMPLE.as_secs_f64() / estimate).ceil().max(1.0) as usize;
    let budget = (options.seconds / (estimate * inner as f64)) as usize;
    let reps = budget.clamp(options.min_reps, MAX_REPS.max(options.min_reps));

    let mut samples = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        for _ in 0..inner {
            call();
        }
        samples.push(t.elapsed().as_secs_f64() / inner as f64);
    }
    samples.sort_by(f64::total_cmp);
    Stats {
        median: percentile(&samples, 0.5),
        p10: percentile(&samples, 0.1),
        p90: percentile(&samples, 0.9),
        reps,
        inner,
    }
}

/// The core's effective clock in GHz, from a dependency chain of known latency (shift, xor and a
/// 64-bit multiply: 5 cycles per step on current x86 cores), median of 5 runs of ~20 ms. Not a
/// workload: a coarse check of the machine's state, printed before and after the table.
fn clock_probe() -> f64 {
    const STEPS: u64 = 10_000_000;
    let mut runs: Vec<f64> = (0..5)
        .map(|_| {
            let mut x = black_box(1u64);
            let start = Instant::now();
            for _ in 0..STEPS {
                x = (x ^ (x >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            }
            black_box(x);
            5.0 * STEPS as f64 / start.elapsed().as_secs_f64() / 1e9
        })
        .collect();
    median_of(&mut runs)
}

fn median_of(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    percentile(values, 0.5)
}

/// Linear interpolation between closest ranks (numpy's default), on sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let low = position.floor() as usize;
    let high = position.ceil() as usize;
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
}

/// One row of the table: `flops` per call (0 when not counted), times scaled by `unit`.
fn report(id: &str, name: &str, batch: usize, stats: &Stats, ns: bool, flops: f64) {
    let (scale, unit) = if ns { (1e9, "ns") } else { (1e6, "us") };
    let gflops = if flops > 0.0 {
        format!("{:9.2}", flops / stats.median / 1e9)
    } else {
        format!("{:>9}", "-")
    };
    println!(
        "{id:<8} {name:<14} {batch:>5} {:>11.2} {:>11.2} {:>11.2}  {unit:<4} {:>6}x{:<5} {gflops}",
        stats.median * scale,
        stats.p10 * scale,
        stats.p90 * scale,
        stats.reps,
        stats.inner,
    );
    jsonl::row(
        id,
        name,
        batch,
        unit,
        [stats.median, stats.p10, stats.p90].map(|t| t * scale),
        stats.reps,
        stats.inner,
        (flops > 0.0).then(|| flops / stats.median / 1e9),
    );
}

/// FLOPs of a chain of dense layers for batch `b`: `2 b n m` forward per layer n -> m.
fn dense_flops(b: usize, layers: &[(usize, usize)]) -> f64 {
    layers.iter().map(|&(n, m)| 2.0 * (b * n * m) as f64).sum()
}

const MLP_LAYERS: [(usize, usize); 3] = [(784, 256), (256, 128), (128, 10)];

/// A heap-allocated batch of standard-normal inputs and uniform labels in 0..10.
fn random_batch<const N: usize, const B: usize>(seed: u64) -> (Buffer<[[f32; N]; B]>, [usize; B]) {
    let mut rng = Rng::new(seed);
    let mut x = Buffer::<[[f32; N]; B]>::zeroed();
    for value in x.as_flat_mut() {
        *value = rng.normal();
    }
    let labels = std::array::from_fn(|_| rng.below(10));
    (x, labels)
}

fn adam() -> Adam<f32, { Mlp::PARAMS }> {
    Adam::new(AdamConfig {
        lr: 1e-3,
        ..AdamConfig::default()
    })
    .expect("valid Adam configuration")
}

fn sgd_momentum<const P: usize>() -> Sgd<f32, P> {
    Sgd::new(SgdConfig {
        lr: 0.01,
        momentum: 0.9,
        ..SgdConfig::default()
    })
    .expect("valid SGD configuration")
}

/// A training workload split into its three parts, each timed on its own on the same batch
/// (their sum is close to the whole step): `forward_train` (up to the logits), the loss and
/// `backward` (every parameter gradient), and the optimizer's `step`.
#[allow(clippy::too_many_arguments)]
fn parts<const P: usize, const I: usize, const B: usize, N, O>(
    options: &Options,
    id: &str,
    net: &mut N,
    tape: &mut N::Tape<B>,
    optimizer: &mut O,
    x: &[[f32; I]; B],
    labels: &[usize; B],
    forward_flops: f64,
) where
    N: Network<P, Element = f32, Input = [f32; I], Target = usize>,
    O: Optimizer<f32, P>,
{
    let stats = measure(options, || {
        black_box(
            net.forward_train(tape, black_box(x))
                .expect("finite statistics"),
        );
    });
    report(
        &format!("{id}.fwd"),
        "forward_train",
        B,
        &stats,
        false,
        forward_flops,
    );

    net.forward_train(tape, x).expect("finite statistics");
    let stats = measure(options, || {
        let loss = net.backward(tape, black_box(x), black_box(labels));
        black_box(loss.expect("finite loss"));
        black_box(N::param_grads(tape));
    });
    report(
        &format!("{id}.bwd"),
        "loss+backward",
        B,
        &stats,
        false,
        2.0 * forward_flops,
    );

    let stats = measure(options, || {
        optimizer
            .step(net.params_mut(), black_box(N::param_grads(tape)))
            .expect("a finite update");
        black_box(net.params());
    });
    report(
        &format!("{id}.opt"),
        "optimizer_step",
        B,
        &stats,
        false,
        0.0,
    );

    // What makes a step a transaction, included in the times above: the scan of the gradient
    // and the parameters that the optimizer runs before updating (`optim::guard`), and the
    // check of the running statistics after the forward pass. Its share of the whole step is
    // the cost of "Ok means finite".
    let stats = measure(options, || {
        black_box(max_abs_pair(
            black_box(&N::param_grads(tape)[..]),
            black_box(&net.params()[..]),
        ));
        black_box(check_state_finite(net.state(), N::state_tensors()).is_ok());
    });
    report(&format!("{id}.fin"), "finite_checks", B, &stats, false, 0.0);
}

fn w1(options: &Options, split: bool) {
    let (x, labels) = random_batch::<784, 64>(101);
    let forward = dense_flops(64, &MLP_LAYERS);
    let workload = ("W1", "mlp_train", forward);
    let floor = Floor {
        products: floor::dense_products(64, &MLP_LAYERS, true),
        values_moved: ADAM_VALUES_MOVED,
    };
    train_workload(
        options,
        workload,
        Mlp::new(1),
        adam(),
        &x,
        &labels,
        split,
        floor,
    );
}

/// Values per parameter an Adam update streams: reads p, g, m, v, writes p, m, v.
const ADAM_VALUES_MOVED: usize = 7;
/// Values per parameter an SGD update with momentum streams: reads p, g, v, writes p, v.
const SGD_MOMENTUM_VALUES_MOVED: usize = 5;

/// What a training workload's floor is made of (`benches/common/floor.rs`): the step's matrix
/// products and the values per parameter its optimizer streams.
struct Floor {
    products: Vec<floor::Product>,
    values_moved: usize,
}

/// Times one `train_step` of `net` on a fixed batch (`WNparts`: its forward, loss + backward and
/// optimizer step separately), then the step against its floor. `workload` is `(id, name,
/// forward FLOPs)`.
#[allow(clippy::too_many_arguments)]
fn train_workload<const P: usize, const I: usize, const B: usize, N, O>(
    options: &Options,
    (id, name, forward_flops): (&str, &str, f64),
    mut net: N,
    mut optimizer: O,
    x: &[[f32; I]; B],
    labels: &[usize; B],
    split: bool,
    floor: Floor,
) where
    N: Network<P, Element = f32, Input = [f32; I], Target = usize>,
    O: Optimizer<f32, P>,
{
    let mut tape = N::new_tape::<B>();
    if split {
        return parts(
            options,
            id,
            &mut net,
            &mut tape,
            &mut optimizer,
            x,
            labels,
            forward_flops,
        );
    }
    let stats = measure(options, || {
        let loss = net.train_step(&mut tape, black_box(x), black_box(labels), &mut optimizer);
        black_box(loss.expect("finite loss"));
    });
    report(id, name, B, &stats, false, 3.0 * forward_flops);
    floor::report(
        options,
        id,
        &mut net,
        &mut optimizer,
        x,
        labels,
        floor.products,
        floor.values_moved,
    );
}

fn w2(options: &Options) {
    let net = Mlp::new(1);
    let (x, _) = random_batch::<784, 1>(102);
    let mut out = [[0.0f32; 10]; 1];
    let stats = measure(options, || {
        Mlp::infer::<1>(&net.params, &net.state, black_box(&*x), &mut out);
        black_box(&mut out);
    });
    report(
        "W2",
        "mlp_infer",
        1,
        &stats,
        false,
        dense_flops(1, &MLP_LAYERS),
    );
    floor::read_bound(options, "W2", Mlp::PARAMS * 4, || {
        Mlp::infer::<1>(&net.params, &net.state, black_box(&*x), &mut out);
        black_box(&mut out);
    });
}

fn w3(options: &Options) {
    let net = Tiny::new(1);
    let (x, _) = random_batch::<2, 1>(103);
    let mut out = [[0.0f32; 1]; 1];
    let stats = measure(options, || {
        Tiny::infer::<1>(&net.params, &net.state, black_box(&*x), &mut out);
        black_box(&mut out);
    });
    report(
        "W3",
        "tiny_infer",
        1,
        &stats,
        true,
        dense_flops(1, &[(2, 16), (16, 16), (16, 1)]),
    );
}

/// Forward FLOPs of W4, the convolutions counted like dense layers: 2 per weight tap per output
/// pixel.
const W4_FORWARD_FLOPS: f64 =
    2.0 * 32.0 * (28.0 * 28.0 * 8.0 * 9.0 + 14.0 * 14.0 * 16.0 * 8.0 * 9.0 + 784.0 * 10.0);

fn w4(options: &Options, split: bool) {
    let (x, labels) = random_batch::<784, 32>(104);
    let workload = ("W4", "cnn_train", W4_FORWARD_FLOPS);
    let optimizer = sgd_momentum::<{ Cnn::PARAMS }>();
    // conv1 1 -> 8 over 28 x 28, conv2 8 -> 16 over 14 x 14 (3 x 3 windows), dense 784 -> 10.
    let mut products = floor::conv_products(32, 1, 8, 3, 28 * 28, true);
    products.extend(floor::conv_products(32, 8, 16, 3, 14 * 14, false));
    products.extend(floor::dense_products(32, &[(784, 10)], false));
    let floor = Floor {
        products,
        values_moved: SGD_MOMENTUM_VALUES_MOVED,
    };
    train_workload(
        options,
        workload,
        Cnn::new(1),
        optimizer,
        &x,
        &labels,
        split,
        floor,
    );
    if split {
        w4_conv_parts(options);
    }
}

/// W4's convolution kernels as the step runs them against their GEMMs alone. Forward: each
/// layer's forward pass (`W4.convfwd.c1`, `.c2`). Backward: conv1's weight gradient; conv2's
/// weight and input gradients (conv1's input gradient is skipped, the network's input needs
/// none), all three together (row `W4.convbwd`) and each against its own products
/// (`W4.convbwd.dw1`, `.dw2`, `.dx2`).
fn w4_conv_parts(options: &Options) {
    let mut kernels = W4ConvKernels::new();
    let forward = "conv_forward";
    let c1 = floor::conv_forward_products(32, 1, 8, 3, 28 * 28);
    floor::conv_kernels(options, "W4.convfwd.c1", forward, 32, c1, || kernels.c1());
    let c2 = floor::conv_forward_products(32, 8, 16, 3, 14 * 14);
    floor::conv_kernels(options, "W4.convfwd.c2", forward, 32, c2, || kernels.c2());
    let mut products = floor::conv_backward_products(32, 1, 8, 3, 28 * 28, true);
    products.extend(floor::conv_backward_products(32, 8, 16, 3, 14 * 14, false));
    let backward = "conv_backward";
    floor::conv_kernels(
        options,
        "W4.convbwd",
        backward,
        32,
        products.clone(),
        || {
            kernels.dw1();
            kernels.dw2();
            kernels.dx2();
        },
    );
    type Kernel = fn(&mut W4ConvKernels);
    let parts: [(&str, Kernel); 3] = [
        ("W4.convbwd.dw1", W4ConvKernels::dw1),
        ("W4.convbwd.dw2", W4ConvKernels::dw2),
        ("W4.convbwd.dx2", W4ConvKernels::dx2),
    ];
    for ((id, kernel), product) in parts.into_iter().zip(products) {
        floor::conv_kernels(options, id, backward, 32, vec![product], || {
            kernel(&mut kernels)
        });
    }
}

type W4Conv1 = Conv2d<1, 28, 28, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, true>;
type W4Conv2 = Conv2d<8, 14, 14, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, true>;
/// Workspace of both layers, long enough for the weight gradients' batches (the network's
/// training tape has one buffer for the columns and one for those batches, each sized for the
/// larger layer; `conv2d_weight_workspace_len` is at least a layer's `WORKSPACE_LEN`).
const W4_CONV_WS: usize = {
    let (a, b) = (
        conv2d_weight_workspace_len::<W4Conv1>(),
        conv2d_weight_workspace_len::<W4Conv2>(),
    );
    if a > b {
        a
    } else {
        b
    }
};

/// Random operands of W4's convolution kernels, and their scratch.
struct W4ConvKernels {
    x1: Vec<f32>,
    params1: Vec<f32>,
    y1: Vec<f32>,
    y2: Vec<f32>,
    dy1: Vec<f32>,
    x2: Vec<f32>,
    dy2: Vec<f32>,
    params2: Vec<f32>,
    dparams1: Vec<f32>,
    dparams2: Vec<f32>,
    dx2: Vec<f32>,
    workspace: Vec<f32>,
    pack: Vec<f32>,
}

impl W4ConvKernels {
    fn new() -> Self {
        let mut rng = Rng::new(41);
        let mut random = |len: usize| -> Vec<f32> { (0..len).map(|_| rng.normal()).collect() };
        let pack_len = conv2d_pack_len::<f32, W4Conv1>().max(conv2d_pack_len::<f32, W4Conv2>());
        W4ConvKernels {
            x1: random(32 * 784),
            params1: random(8 * 9 + 8),
            y1: vec![0.0; 32 * 8 * 784],
            y2: vec![0.0; 32 * 16 * 196],
            dy1: random(32 * 8 * 784),
            x2: random(32 * 8 * 196),
            dy2: random(32 * 16 * 196),
            params2: random(16 * 72 + 16),
            dparams1: vec![0.0; 8 * 9 + 8],
            dparams2: vec![0.0; 16 * 72 + 16],
            dx2: vec![0.0; 32 * 8 * 196],
            workspace: vec![0.0; W4_CONV_WS],
            pack: vec![0.0; pack_len],
        }
    }

    /// conv1's forward pass.
    fn c1(&mut self) {
        conv2d_forward_packed::<f32, W4Conv1, 32, 784, 6272, 80, W4_CONV_WS>(
            black_box(self.x1.as_chunks().0.try_into().unwrap()),
            black_box(self.params1[..].try_into().unwrap()),
            self.y1.as_chunks_mut().0.try_into().unwrap(),
            (&mut self.workspace[..]).try_into().unwrap(),
            &mut self.pack,
        );
        black_box(&mut self.y1);
    }

    /// conv2's forward pass.
    fn c2(&mut self) {
        conv2d_forward_packed::<f32, W4Conv2, 32, 1568, 3136, 1168, W4_CONV_WS>(
            black_box(self.x2.as_chunks().0.try_into().unwrap()),
            black_box(self.params2[..].try_into().unwrap()),
            self.y2.as_chunks_mut().0.try_into().unwrap(),
            (&mut self.workspace[..]).try_into().unwrap(),
            &mut self.pack,
        );
        black_box(&mut self.y2);
    }

    /// conv1's weight and bias gradient.
    fn dw1(&mut self) {
        conv2d_backward_params_packed::<f32, W4Conv1, 32, 784, 6272, 80, W4_CONV_WS>(
            black_box(self.x1.as_chunks().0.try_into().unwrap()),
            black_box(self.dy1.as_chunks().0.try_into().unwrap()),
            (&mut self.dparams1[..]).try_into().unwrap(),
            (&mut self.workspace[..]).try_into().unwrap(),
            Store::Overwrite,
            &mut self.pack,
        );
        black_box(&mut self.dparams1);
    }

    /// conv2's weight and bias gradient.
    fn dw2(&mut self) {
        conv2d_backward_params_packed::<f32, W4Conv2, 32, 1568, 3136, 1168, W4_CONV_WS>(
            black_box(self.x2.as_chunks().0.try_into().unwrap()),
            black_box(self.dy2.as_chunks().0.try_into().unwrap()),
            (&mut self.dparams2[..]).try_into().unwrap(),
            (&mut self.workspace[..]).try_into().unwrap(),
            Store::Overwrite,
            &mut self.pack,
        );
        black_box(&mut self.dparams2);
    }

    /// conv2's input gradient.
    fn dx2(&mut self) {
        conv2d_backward_input_packed::<f32, W4Conv2, 32, 1568, 3136, 1168, W4_CONV_WS>(
            black_box(self.dy2.as_chunks().0.try_into().unwrap()),
            black_box(self.params2[..].try_into().unwrap()),
            self.dx2.as_chunks_mut().0.try_into().unwrap(),
            (&mut self.workspace[..]).try_into().unwrap(),
            Store::Overwrite,
            &mut self.pack,
        );
        black_box(&mut self.dx2);
    }
}

fn w5(options: &Options, split: bool) {
    let (x, labels) = random_batch::<784, 64>(105);
    let workload = ("W5", "bn_mlp_train", dense_flops(64, &MLP_LAYERS));
    let optimizer = sgd_momentum::<{ BnMlp::PARAMS }>();
    let floor = Floor {
        products: floor::dense_products(64, &MLP_LAYERS, true),
        values_moved: SGD_MOMENTUM_VALUES_MOVED,
    };
    train_workload(
        options,
        workload,
        BnMlp::new(1),
        optimizer,
        &x,
        &labels,
        split,
        floor,
    );
}

fn w6(options: &Options) -> Result<(), Box<dyn std::error::Error>> {
    const TRAIN: usize = 1437;
    const EPOCHS: usize = 30;
    let data = digits::load()?;
    let order: Vec<usize> = (0..data.len()).collect();
    let train = data.subset(&order[..TRAIN]);
    let test = data.subset(&order[TRAIN..]);

    let mut times = Vec::new();
    let mut test_accuracy = 0.0;
    let mut steps = 0;
    for _ in 0..options.w6_runs.max(1) {
        let mut net = DigitsNet::new(0);
        let mut tape = DigitsNetTape::<32>::new();
        let mut optimizer = Adam::new(AdamConfig {
            lr: 1e-3,
            ..AdamConfig::default()
        })?;
        let mut batches = MiniBatches::new(&train.images, &train.labels, 0)?;
        let start = Instant::now();
        for _ in 0..EPOCHS {
            let report = batches.train_epoch(
                &mut net,
                &mut tape,
                &mut optimizer,
                black_box(&train.images),
                &train.labels,
            )?;
            black_box(report);
        }
        times.push(start.elapsed().as_secs_f64());
        steps = EPOCHS * batches.batches_per_epoch();
        test_accuracy = accuracy(&net, &mut tape, &test.images, &test.labels)?;
    }
    let runs = times.len();
    times.sort_by(f64::total_cmp);
    let total = percentile(&times, 0.5);
    let quantiles = [0.5, 0.1, 0.9].map(|q| percentile(&times, q) * 1e3);
    jsonl::row("W6", "digits", 32, "ms", quantiles, runs, 1, None);
    println!(
        "{:<8} {:<14} {:>5} {:>11.2}  ms total training time (median of {runs} runs), {steps} steps = {:.2} us/step; test accuracy {:.2}%",
        "W6",
        "digits",
        32,
        total * 1e3,
        total * 1e6 / steps as f64,
        100.0 * test_accuracy
    );
    Ok(())
}

/// W1, W4 and W5 on one thread and with the data-parallel trainer on 1 and 2 threads.
fn data_parallel(options: &Options) {
    threads::header();
    let (x, labels) = random_batch::<784, 64>(101);
    threads::compare::<{ Mlp::PARAMS }, 784, 64, 32, _, _>(
        options,
        "W1",
        Mlp::new(1),
        adam,
        &x,
        &labels,
    );
    let (x, labels) = random_batch::<784, 32>(104);
    threads::compare::<{ Cnn::PARAMS }, 784, 32, 16, _, _>(
        options,
        "W4",
        Cnn::new(1),
        sgd_momentum::<{ Cnn::PARAMS }>,
        &x,
        &labels,
    );
    let (x, labels) = random_batch::<784, 64>(105);
    threads::compare::<{ BnMlp::PARAMS }, 784, 64, 32, _, _>(
        options,
        "W5",
        BnMlp::new(1),
        sgd_momentum::<{ BnMlp::PARAMS }>,
        &x,
        &labels,
    );
}

/// Values per parameter each optimizer's update streams (reads and writes), in the order
/// [`optimizers`] times them, and whether it takes a square root and a division per parameter.
const OPTIMIZERS: [(&str, usize, bool); 10] = [
    // Reads p, g, writes p.
    ("sgd", 3, false),
    // Reads p, g, velocity, writes p, velocity.
    ("sgd_momentum", SGD_MOMENTUM_VALUES_MOVED, false),
    ("sgd_nesterov", SGD_MOMENTUM_VALUES_MOVED, false),
    // Reads p, g, m, v, writes p, m, v.
    ("adam", ADAM_VALUES_MOVED, true),
    ("adamw", ADAM_VALUES_MOVED, true),
    // And the running maximum of v, read and written.
    ("amsgrad", ADAM_VALUES_MOVED + 2, true),
    // Reads p, g, the sum of squares, writes p and the sum.
    ("adagrad", 5, true),
    // Reads p, g, the average of squares, writes p and the average.
    ("rmsprop", 5, true),
    // And the average gradient, read and written.
    ("rmsprop_centered", 7, true),
    // Reads p, g, the averages of squared gradients and of squared updates, writes all but g.
    ("adadelta", 7, true),
];

/// Every optimizer on W1's parameter count (random parameters and gradient, the same for
/// each), each step against the bytes it streams over the measured bandwidth
/// (`floor::optimizer_alone`): rows `optim.<name>`.
fn optimizers(options: &Options) {
    const P: usize = Mlp::PARAMS;
    let mut rng = Rng::new(106);
    let mut params = Buffer::<[f32; P]>::zeroed();
    let mut grads = Buffer::<[f32; P]>::zeroed();
    for (w, g) in params.iter_mut().zip(grads.iter_mut()) {
        *w = 0.05 * rng.normal::<f32>();
        *g = 1e-3 * rng.normal::<f32>();
    }
    let start = params.clone();
    for (name, values_moved, divides) in OPTIMIZERS {
        params.copy_from_slice(&start[..]);
        let (p, g) = (&mut *params, &*grads);
        match name {
            "sgd" => {
                let mut o = Sgd::new(SgdConfig::default()).expect("valid");
                floor::optimizer_alone(options, name, &mut o, p, g, values_moved, divides);
            }
            "sgd_momentum" => {
                let mut o = sgd_momentum::<P>();
                floor::optimizer_alone(options, name, &mut o, p, g, values_moved, divides);
            }
            "sgd_nesterov" => {
                let config = SgdConfig {
                    lr: 0.01,
                    momentum: 0.9,
                    nesterov: true,
                    ..SgdConfig::default()
                };
                let mut o = Sgd::new(config).expect("valid");
                floor::optimizer_alone(options, name, &mut o, p, g, values_moved, divides);
            }
            "adam" => {
                floor::optimizer_alone(options, name, &mut adam(), p, g, values_moved, divides)
            }
            "adamw" => {
                let mut o = AdamW::new(AdamWConfig::default()).expect("valid");
                floor::optimizer_alone(options, name, &mut o, p, g, values_moved, divides);
            }
            "amsgrad" => {
                let config = AdamConfig {
                    amsgrad: true,
                    ..AdamConfig::default()
                };
                let mut o = Adam::new(config).expect("valid");
                floor::optimizer_alone(options, name, &mut o, p, g, values_moved, divides);
            }
            "adagrad" => {
                let mut o = Adagrad::new(AdagradConfig::default()).expect("valid");
                floor::optimizer_alone(options, name, &mut o, p, g, values_moved, divides);
            }
            "rmsprop" => {
                let mut o = RmsProp::new(RmsPropConfig::default()).expect("valid");
                floor::optimizer_alone(options, name, &mut o, p, g, values_moved, divides);
            }
            "rmsprop_centered" => {
                let config = RmsPropConfig {
                    centered: true,
                    ..RmsPropConfig::default()
                };
                let mut o = RmsProp::new(config).expect("valid");
                floor::optimizer_alone(options, name, &mut o, p, g, values_moved, divides);
            }
            "adadelta" => {
                let mut o = Adadelta::new(AdadeltaConfig::default()).expect("valid");
                floor::optimizer_alone(options, name, &mut o, p, g, values_moved, divides);
            }
            _ => unreachable!("every entry of OPTIMIZERS is timed"),
        }
    }
}

/// Ids and names; the `parts` entries split a training step, `threads` compares thread counts,
/// `optim` times every optimizer alone (none of them runs by default).
const WORKLOADS: [(&str, &str); 11] = [
    ("W1", "mlp_train"),
    ("W2", "mlp_infer"),
    ("W3", "tiny_infer"),
    ("W4", "cnn_train"),
    ("W5", "bn_mlp_train"),
    ("W6", "digits"),
    ("W1parts", "mlp_train_parts"),
    ("W4parts", "cnn_train_parts"),
    ("W5parts", "bn_mlp_train_parts"),
    ("threads", "data_parallel"),
    ("optim", "optimizers"),
];

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        selected: Vec::new(),
        min_reps: 200,
        seconds: 1.0,
        w6_runs: 5,
        json: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            // cargo bench passes --bench to harness = false targets.
            "--bench" => {}
            "--min-reps" => {
                options.min_reps = value("--min-reps")?
                    .parse()
                    .map_err(|e| format!("--min-reps: {e}"))?;
                if options.min_reps < 200 {
                    return Err("--min-reps: BENCHMARKS.md asks for at least 200".into());
                }
            }
            "--seconds" => {
                options.seconds = value("--seconds")?
                    .parse()
                    .map_err(|e| format!("--seconds: {e}"))?
            }
            "--w6-runs" => {
                options.w6_runs = value("--w6-runs")?
                    .parse()
                    .map_err(|e| format!("--w6-runs: {e}"))?
            }
            "--json" => options.json = Some(value("--json")?.into()),
            "--help" | "-h" => {
                println!(
                    "usage: workloads [--min-reps N] [--seconds S] [--w6-runs N] [--json PATH] [WORKLOAD...]\n\
                     workloads: {} (default: W1..W6)",
                    WORKLOADS
                        .iter()
                        .map(|(id, name)| format!("{id}|{name}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                std::process::exit(0);
            }
            other if other.starts_with('-') => {
                return Err(format!("unknown option `{other}` (try --help)"))
            }
            name => {
                let id = WORKLOADS
                    .iter()
                    .find(|(id, long)| {
                        id.eq_ignore_ascii_case(name) || long.eq_ignore_ascii_case(name)
                    })
                    .map(|(id, _)| id.to_string())
                    .ok_or_else(|| format!("unknown workload `{name}` (try --help)"))?;
                options.selected.push(id);
            }
        }
    }
    if options.selected.is_empty() {
        options.selected = WORKLOADS
            .iter()
            .map(|(id, _)| id.to_string())
            .filter(|id| id.starts_with('W') && !id.ends_with("parts"))
            .collect();
    }
    Ok(options)
}

/// The processor's model name (Linux: `/proc/cpuinfo`), or the architecture elsewhere.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|name| name.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = parse_options()?;
    #[cfg(target_arch = "x86_64")]
    let cpu = format!(
        "avx2 {}, fma {}, avx512f {} (run time); compiled for avx2 {}, fma {}",
        std::is_x86_feature_detected!("avx2"),
        std::is_x86_feature_detected!("fma"),
        std::is_x86_feature_detected!("avx512f"),
        cfg!(target_feature = "avx2"),
        cfg!(target_feature = "fma"),
    );
    #[cfg(not(target_arch = "x86_64"))]
    let cpu = String::from(std::env::consts::ARCH);
    let cpu = format!("{}; {cpu}", cpu_model());
    if let Some(path) = &options.json {
        jsonl::open(path, &cpu)?;
    }
    println!("monograd reference workloads (BENCHMARKS.md), 1 thread; {cpu}");
    println!("clock probe before: {:.2} GHz", clock_probe());
    println!(
        "{:<8} {:<14} {:>5} {:>11} {:>11} {:>11}  {:<4} {:>12} {:>9}",
        "id", "workload", "batch", "median", "p10", "p90", "unit", "reps x inner", "GFLOP/s"
    );
    for id in &options.selected {
        match id.as_str() {
            "W1" => w1(&options, false),
            "W1parts" => w1(&options, true),
            "W2" => w2(&options),
            "W3" => w3(&options),
            "W4" => w4(&options, false),
            "W4parts" => w4(&options, true),
            "W5" => w5(&options, false),
            "W5parts" => w5(&options, true),
            "W6" => w6(&options)?,
            "threads" => data_parallel(&options),
            "optim" => optimizers(&options),
            _ => unreachable!("parse_options only accepts known ids"),
        }
    }
    println!("clock probe after: {:.2} GHz", clock_probe());
    Ok(())
}
