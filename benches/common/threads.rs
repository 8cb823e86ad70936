//! Data-parallel training steps (`runtime::parallel::Parallel`) of W1, W4 and W5: steps per
//! second on 1 thread (`train_step`), and with the trainer on 1 and 2 worker threads, as ratios
//! to the 1-thread step. Each workload says whether its optimizer writes are split across the
//! workers (`parallel::SPLIT_WRITES_FROM`).
//!
//! The three are measured in one run and interleaved: each round times a few steps of each in
//! turn, and each is reported by its median over the rounds, so that a change in the machine's
//! load (a shared VM) weighs on all three alike and their ratios stay meaningful.
//!
//! Beside the wall time, the CPU time of all the process's threads per step (Linux:
//! `/proc/self/task/*/schedstat`, nanoseconds on a CPU; each variant then runs alone for as
//! many steps again) says what the threads cost: when the machine has fewer free cores than
//! threads, a step waits for a descheduled worker at each synchronisation and its wall time
//! grows while its CPU time does not.

use std::time::Instant;

/// Nanoseconds every thread of this process has spent on a CPU (Linux), or `None`.
fn cpu_ns() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

use monograd::runtime::optim::Optimizer;
use monograd::runtime::parallel::{Parallel, SPLIT_WRITES_FROM};
use monograd::runtime::Network;

use super::{black_box, median_of, Options};

/// Steps per timed sample of one variant in a round.
const STEPS_PER_SAMPLE: usize = 4;
/// Fewest rounds, whatever the time budget.
const MIN_ROUNDS: usize = 30;

/// One variant's training step on the fixed batch.
type Step<'a> = Box<dyn FnMut() + 'a>;

/// Times `train_step` of `net` on a fixed batch of `B` on one thread, through
/// `Parallel<N, P, 1, B>` and through `Parallel<N, P, 2, PB2>` (`B = 2 * PB2`), each from the
/// same start with a fresh optimizer from `optimizer`; prints one row each.
pub fn compare<const P: usize, const I: usize, const B: usize, const PB2: usize, N, O>(
    options: &Options,
    id: &str,
    net: N,
    optimizer: impl Fn() -> O,
    x: &[[f32; I]; B],
    labels: &[usize; B],
) where
    N: Network<P, Element = f32, Input = [f32; I], Target = usize> + Clone + Send + 'static,
    O: Optimizer<f32, P>,
{
    let (mut single_net, mut one_net, mut two_net) = (net.clone(), net.clone(), net);
    let (mut single_opt, mut one_opt, mut two_opt) = (optimizer(), optimizer(), optimizer());
    let mut tape = N::new_tape::<B>();
    let mut one = Parallel::<N, P, 1, B>::new().expect("a trainer");
    let mut two = Parallel::<N, P, 2, PB2>::new().expect("a trainer");
    let mut variants: [(&str, Step<'_>); 3] = [
        (
            "1 thread (train_step)",
            Box::new(|| {
                let loss = single_net.train_step(&mut tape, black_box(x), labels, &mut single_opt);
                black_box(loss.expect("finite loss"));
            }),
        ),
        (
            "Parallel, 1 worker",
            Box::new(|| {
                let loss = one.train_step(&mut one_net, black_box(x), labels, &mut one_opt);
                black_box(loss.expect("finite loss"));
            }),
        ),
        (
            "Parallel, 2 worker threads",
            Box::new(|| {
                let loss = two.train_step(&mut two_net, black_box(x), labels, &mut two_opt);
                black_box(loss.expect("finite loss"));
            }),
        ),
    ];
    for (_, step) in variants.iter_mut() {
        for _ in 0..20 {
            step();
        }
    }
    let mut samples: [Vec<f64>; 3] = Default::default();
    let start = Instant::now();
    while samples[0].len() < MIN_ROUNDS || start.elapsed().as_secs_f64() < 3.0 * options.seconds {
        for ((_, step), samples) in variants.iter_mut().zip(&mut samples) {
            let t = Instant::now();
            for _ in 0..STEPS_PER_SAMPLE {
                step();
            }
            samples.push(t.elapsed().as_secs_f64() / STEPS_PER_SAMPLE as f64);
        }
    }
    let rounds = samples[0].len();
    let medians = samples.map(|mut s| median_of(&mut s));
    // CPU time: each variant alone for as many steps as the rounds took, so that the kernel's
    // lag in accounting the running thread (up to a scheduler tick) is one error per variant.
    let steps = rounds * STEPS_PER_SAMPLE;
    let cpu = variants.each_mut().map(|(_, step)| {
        let before = cpu_ns()?;
        for _ in 0..steps {
            step();
        }
        Some((cpu_ns()?.saturating_sub(before)) as f64 / 1e3 / steps as f64)
    });
    if let Some(load) = load_average() {
        println!("{id:<8} load average (1 min) after the timed rounds: {load}");
    }
    println!(
        "{id:<8} {P} parameters: optimizer writes {} across the 2 workers (from {SPLIT_WRITES_FROM})",
        if P >= SPLIT_WRITES_FROM {
            "split"
        } else {
            "not split"
        }
    );
    for (((how, _), median), cpu) in variants.iter().zip(medians).zip(cpu) {
        let cpu = cpu.map_or("-".to_string(), |us| format!("{us:.2}"));
        println!(
            "{id:<8} {how:<28} {:>10.0} {:>9.2}x {:>11.2} {cpu:>11}  ({rounds} rounds of {STEPS_PER_SAMPLE})",
            1.0 / median,
            medians[0] / median,
            median * 1e6,
        );
    }
}

/// The load average over the last minute (Linux), or `None`.
fn load_average() -> Option<String> {
    let loads = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(loads.split_whitespace().next()?.to_string())
}

/// The table's header, after the machine's load: two threads scale only on two free cores,
/// and with other processes running a step waits for a descheduled worker at every
/// synchronisation.
pub fn header() {
    if let Some(load) = load_average() {
        println!("load average (1 min) at the start: {load}");
    }
    println!(
        "{:<8} {:<28} {:>10} {:>10} {:>11} {:>11}",
        "id", "training step", "steps/s", "vs 1 thr", "us/step", "CPU us/step"
    );
}
