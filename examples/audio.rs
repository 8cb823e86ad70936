//! A small GRU learns an audio effect from input/output pairs, then runs sample by sample in real
//! time: the job of guitar-amp and pedal models, which RTNeural-style libraries run but cannot
//! train.
//!
//! The effect is a soft clipper followed by a one-pole low-pass filter at 48 kHz:
//!
//! ```text
//! d[n] = tanh(3 x[n])                       (distortion)
//! y[n] = a y[n-1] + (1 - a) d[n]            (a = exp(-2 pi 3 kHz / 48 kHz): the filter's memory)
//! ```
//!
//! The network is the benchmark's S1 shape, GRU(1 -> 8) -> linear(8 -> 1): trained on windows of
//! 32 samples of a synthetic signal (a few sines with random frequencies, levels and a slow
//! tremolo, plus noise), the target being the effect's output at each window's last sample
//! (`return = last`); then `AudioStream` runs a held-out signal one sample per call, carrying
//! the GRU's state across the whole signal. Prints the training progress, the error against the
//! effect (RMS and the error-to-signal ratio used for audio models, next to the error of the
//! clipper without its filter), the time per sample and the real-time factor at 48 kHz, and
//! draws input, target and streamed output over a few milliseconds.
//!
//! ```text
//! cargo run --release --example audio
//! cargo run --release --example audio -- --steps 1000 --seed 3
//! ```

#[path = "common/cli.rs"]
mod cli;
#[path = "common/figure.rs"]
mod figure;
#[path = "common/progress.rs"]
mod progress;

use std::path::PathBuf;
use std::time::Instant;

use figure::{Figure, LegendAt, Line, LinePlot, Panel};
use monograd::prelude::*;
use progress::Progress;

const USAGE: &str = "\
usage: audio [--steps N] [--seed S] [--out DIR]

Trains GRU(1 -> 8) -> linear(1) to imitate a soft clipper with a one-pole filter from a synthetic
signal, then streams a held-out signal through it one sample at a time: prints the error and the
real-time factor at 48 kHz and draws the signals.

options:
  --steps N    training steps (batches of 32 windows), at least 100 (default 3000)
  --seed S     seed of the signals, the initial weights and the batches (default 0)
  --out DIR    where figures go (default target/figures)
  -h, --help   this text";

/// Samples per window of the training sequences.
const WINDOW: usize = 32;
const BATCH: usize = 32;
const RATE: f64 = 48_000.0;
/// The filter's corner frequency.
const CORNER_HZ: f64 = 3_000.0;
/// The clipper's drive.
const DRIVE: f32 = 3.0;

monograd::network! {
    /// GRU(1 -> 8) over a window of samples, its last state into one output sample.
    struct Audio {
        input x: [32, 1];
        gru = gru(x, 8, return = last);
        out = linear(gru, 1);
        loss = mse(out);
    }
}

struct Options {
    steps: usize,
    seed: u64,
    out: PathBuf,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        steps: 3000,
        seed: 0,
        out: cli::default_out(),
    };
    let mut cli = cli::Cli::new(USAGE);
    while let Some(option) = cli.next()? {
        match option.as_str() {
            "--steps" => options.steps = cli.value("--steps")?,
            "--seed" => options.seed = cli.value("--seed")?,
            "--out" => options.out = cli.value("--out")?,
            _ => return Err(cli.unknown(&option)),
        }
    }
    if options.steps < 100 {
        return Err(format!(
            "--steps must be at least 100, not {}",
            options.steps
        ));
    }
    Ok(options)
}

/// `seconds` of a synthetic signal: three sines at random frequencies (80 Hz to 2 kHz) and
/// levels, each with a slow tremolo, plus a little noise; peaks around 0.5 to 1.
fn signal(rng: &mut Rng, seconds: f64) -> Vec<f32> {
    let n = (seconds * RATE) as usize;
    let voices: Vec<(f64, f64, f64, f64)> = (0..3)
        .map(|_| {
            let hz = 80.0 * (25.0f64).powf(rng.uniform::<f64>(0.0, 1.0));
            let level = 0.1 + 0.3 * rng.uniform::<f64>(0.0, 1.0);
            let tremolo_hz = 0.5 + 4.0 * rng.uniform::<f64>(0.0, 1.0);
            let phase = std::f64::consts::TAU * rng.uniform::<f64>(0.0, 1.0);
            (hz, level, tremolo_hz, phase)
        })
        .collect();
    (0..n)
        .map(|i| {
            let t = i as f64 / RATE;
            let tone: f64 = voices
                .iter()
                .map(|&(hz, level, tremolo, phase)| {
                    let envelope = 0.6 + 0.4 * (std::f64::consts::TAU * tremolo * t).sin();
                    level * envelope * (std::f64::consts::TAU * hz * t + phase).sin()
                })
                .sum();
            (tone + 0.01 * rng.normal::<f64>()) as f32
        })
        .collect()
}

/// The effect: `tanh(3 x)` through a one-pole low-pass filter.
fn effect(x: &[f32]) -> Vec<f32> {
    let a = (-std::f64::consts::TAU * CORNER_HZ / RATE).exp() as f32;
    let mut y = 0.0f32;
    x.iter()
        .map(|&v| {
            y = a * y + (1.0 - a) * (DRIVE * v).tanh();
            y
        })
        .collect()
}

/// `sqrt(mean((a - b)^2))` and the error-to-signal ratio `sum((a - b)^2) / sum(b^2)`.
fn errors(output: &[f32], target: &[f32]) -> (f64, f64) {
    let (mut error, mut energy) = (0.0f64, 0.0f64);
    for (&o, &t) in output.iter().zip(target) {
        error += f64::from(o - t).powi(2);
        energy += f64::from(t).powi(2);
    }
    ((error / target.len() as f64).sqrt(), error / energy)
}

fn main() {
    cli::run(|| {
        let options = parse_options()?;
        let mut rng = Rng::new(options.seed);
        let train_x = signal(&mut rng, 4.0);
        let train_y = effect(&train_x);
        let test_x = signal(&mut rng, 1.0);
        let test_y = effect(&test_x);
        println!(
            "effect: tanh({DRIVE} x) then a one-pole low-pass at {CORNER_HZ} Hz; {} training \
             samples, {} test samples at {RATE} Hz",
            train_x.len(),
            test_x.len()
        );
        println!(
            "network: GRU(1 -> 8) -> linear(8 -> 1), {} parameters, trained on windows of {WINDOW} \
             samples",
            Audio::PARAMS
        );

        // ---- training: random windows, the target at each window's last sample --------------
        let mut net = Audio::new(options.seed);
        let mut tape = AudioTape::<BATCH>::new();
        let mut adam = Adam::new(AdamConfig {
            lr: 3e-3,
            ..Default::default()
        })?;
        let chunks = 10;
        let per_chunk = options.steps.div_ceil(chunks);
        let progress = Progress::new(chunks, "training");
        let mut losses = Vec::new();
        let start = Instant::now();
        let (mut x, mut targets) = ([[0.0f32; WINDOW]; BATCH], [[0.0f32; 1]; BATCH]);
        for chunk in 0..chunks {
            let mut sum = 0.0;
            for _ in 0..per_chunk {
                for (window, target) in x.iter_mut().zip(targets.iter_mut()) {
                    let end = WINDOW + rng.below(train_x.len() - WINDOW);
                    window.copy_from_slice(&train_x[end - WINDOW..end]);
                    target[0] = train_y[end - 1];
                }
                sum += net.train_step(&mut tape, &x, &targets, &mut adam)?;
            }
            let mean = f64::from(sum) / per_chunk as f64;
            losses.push(((chunk + 1) * per_chunk, mean));
            progress.epoch_done(&format!(
                "steps {:>5}: mean training loss (MSE) {mean:.2e}",
                (chunk + 1) * per_chunk
            ));
        }
        progress.finish();
        println!(
            "trained {} steps in {:.1} s",
            chunks * per_chunk,
            start.elapsed().as_secs_f64()
        );

        // ---- streaming: one sample per call over the whole test signal ------------------------
        let mut stream = AudioStream::new();
        let mut output = vec![0.0f32; test_x.len()];
        let start = Instant::now();
        for (y, &x) in output.iter_mut().zip(&test_x) {
            *y = stream.step(&net.params, &[x])[0];
        }
        let elapsed = start.elapsed().as_secs_f64();
        let (rms, esr) = errors(&output, &test_y);
        let clipped: Vec<f32> = test_x.iter().map(|&v| (DRIVE * v).tanh()).collect();
        let (rms_clip, esr_clip) = errors(&clipped, &test_y);
        println!(
            "streamed {} held-out samples: RMS error {rms:.4}, error-to-signal ratio {:.3}% \
             (the clipper without its filter: RMS {rms_clip:.4}, ESR {:.2}%)",
            test_x.len(),
            100.0 * esr,
            100.0 * esr_clip
        );
        let ns = 1e9 * elapsed / test_x.len() as f64;
        println!(
            "{ns:.0} ns per sample: {:.0}x faster than real time at 48 kHz (budget {:.0} ns)",
            (test_x.len() as f64 / RATE) / elapsed,
            1e9 / RATE
        );

        // ---- figure: 4 ms of the held-out signal, and the training loss --------------------
        let shown = (0.004 * RATE) as usize;
        let from = test_x.len() / 2;
        let ms = 1000.0 / RATE;
        let series = |v: &[f32]| -> Vec<f64> {
            v[from..from + shown]
                .iter()
                .map(|&s| f64::from(s))
                .collect()
        };
        let signals = LinePlot::new(
            "4 ms of the held-out signal, streamed sample by sample",
            "time (ms)",
            "amplitude",
            vec![
                Line::from_values("input", &series(&test_x), 0.0, ms).dashed(),
                Line::from_values(
                    "target: tanh(3x) + one-pole filter",
                    &series(&test_y),
                    0.0,
                    ms,
                ),
                Line::from_values("GRU stream", &series(&output), 0.0, ms),
            ],
        )
        .legend_at(LegendAt::LowerLeft);
        let curve = LinePlot::new(
            "training loss",
            "step",
            "mean MSE over the last steps",
            vec![Line::new(
                "GRU(1 -> 8) -> linear",
                losses.iter().map(|&(s, l)| (s as f64, l)).collect(),
            )],
        )
        .log_y();
        Figure::new(
            "A GRU learns a soft clipper with a low-pass filter, then streams at 48 kHz",
            2,
            vec![Panel::Lines(signals), Panel::Lines(curve)],
        )
        .save_and_report(&options.out, "audio")?;
        Ok(())
    })
}
