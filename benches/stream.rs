//! The streaming workloads S1 and S2 of `BENCHMARKS.md`, stepped one sample at a time through
//! the generated `Stream` types, with the protocol of `benches/rtneural/stream_bench.cpp`.
//!
//! ```text
//! cargo bench --bench stream                     # every workload
//! cargo bench --bench stream -- S2-lstm16        # a selection, by name
//! taskset -c 1 cargo bench --bench stream        # pinned to one core
//! ```
//!
//! Protocol (identical in the RTNeural harness and in `reference/bench_stream_pytorch.py`): the
//! input is a 440 Hz sine at 48 kHz plus normal noise (σ 0.05), 2^21 samples (`--samples N`
//! for fewer); one warm-up run, then seven timed runs, each from a reset stream, calling `step`
//! once per sample on the sample in place (a reference into the input, as RTNeural's harness
//! passes `&x[i]`) and summing the outputs (the checksum, which keeps the work observable).
//! Printed per workload: `monograd <name> ns_per_sample <min> <median> checksum <sum>`.
//! `S1-gru8-step_with` and `S2-lstm16-step_with` are the same streams stepped with
//! `step_with(&net.params, x)`, the parameters passed at every call.
//! Weights are the declaration's initialisation (PyTorch's: uniform in ±1/sqrt(H)); the values
//! do not change the work done.

use std::hint::black_box;
use std::time::Instant;

use monograd::runtime::Rng;

monograd::network! {
    /// S1: GRU(1 -> 8) -> linear(8 -> 1), sample in, sample out.
    struct Gru8 {
        input x: [64, 1];
        gru = gru(x, 8, return = last);
        out = linear(gru, 1);
        loss = mse(out);
    }
}

monograd::network! {
    /// S2: LSTM(1 -> 16) -> linear(16 -> 1).
    struct Lstm16 {
        input x: [64, 1];
        lstm = lstm(x, 16, return = last);
        out = linear(lstm, 1);
        loss = mse(out);
    }
}

const RUNS: usize = 7;

/// A 440 Hz sine at 48 kHz with a little noise, as an audio input.
fn signal(samples: usize) -> Vec<f32> {
    let mut rng = Rng::new(7);
    (0..samples)
        .map(|i| {
            let t = i as f32 / 48_000.0;
            0.5 * (2.0 * std::f32::consts::PI * 440.0 * t).sin() + 0.05 * rng.normal::<f32>()
        })
        .collect()
}

/// Times `step` over `x`: one warm-up run and [`RUNS`] timed ones, each after `reset`.
fn run<S>(
    name: &str,
    x: &[f32],
    stream: &mut S,
    reset: impl Fn(&mut S),
    step: impl Fn(&mut S, &[f32; 1]) -> f32,
) {
    let mut ns = Vec::with_capacity(RUNS);
    let mut checksum = 0.0f64;
    for run in 0..=RUNS {
        reset(stream);
        let mut sum = 0.0f64;
        let start = Instant::now();
        for sample in x.as_chunks::<1>().0 {
            sum += f64::from(step(stream, sample));
        }
        let elapsed = start.elapsed();
        checksum = black_box(sum);
        if run > 0 {
            ns.push(elapsed.as_nanos() as f64 / x.len() as f64);
        }
    }
    ns.sort_by(f64::total_cmp);
    println!(
        "monograd {name} ns_per_sample {:.2} {:.2} checksum {checksum:.6e}",
        ns[0],
        ns[ns.len() / 2]
    );
}

fn main() {
    let mut samples = 1usize << 21;
    let mut selected = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--samples" => {
                samples = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--samples N");
            }
            "--bench" => {}
            name => selected.push(name.to_string()),
        }
    }
    let wanted = |name: &str| selected.is_empty() || selected.iter().any(|s| s == name);
    let x = signal(samples);

    if wanted("S1-gru8") {
        let net = Gru8::new(42);
        run(
            "S1-gru8",
            &x,
            &mut Gru8Stream::new(&net.params),
            Gru8Stream::reset,
            |stream, sample| stream.step(sample)[0],
        );
    }
    if wanted("S2-lstm16") {
        let net = Lstm16::new(42);
        run(
            "S2-lstm16",
            &x,
            &mut Lstm16Stream::new(&net.params),
            Lstm16Stream::reset,
            |stream, sample| stream.step(sample)[0],
        );
    }
    // The same streams stepped with the parameters passed at every call (`step_with`), the
    // form that reads the network's own parameter array instead of the stream's prepared copy.
    if wanted("S1-gru8-step_with") {
        let net = Gru8::new(42);
        run(
            "S1-gru8-step_with",
            &x,
            &mut Gru8Stream::new(&net.params),
            Gru8Stream::reset,
            |stream, sample| stream.step_with(&net.params, sample)[0],
        );
    }
    if wanted("S2-lstm16-step_with") {
        let net = Lstm16::new(42);
        run(
            "S2-lstm16-step_with",
            &x,
            &mut Lstm16Stream::new(&net.params),
            Lstm16Stream::reset,
            |stream, sample| stream.step_with(&net.params, sample)[0],
        );
    }
}
