//! Latency and throughput of `kernels::math::tanh` for `f32` (and of `tanh_fast`, for
//! comparison) on every instruction-set level this CPU has (`kernels::simd::Level`).
//!
//! ```text
//! cargo run -p monograd-runtime --release --example tanh_speed
//! ```
//!
//! - `chain`: 16 values, each step `v = tanh(1.5 v + b)` (`b` spread over `[-1, 1]`), 1000
//!   steps in a row: ns per step, the latency of a 16-wide tanh (plus one multiply and one add)
//!   as a tiny network's layer sees it.
//! - `slice`: `y = tanh(x)` over 16 384 values in `[-5, 5]`: ns per element, the throughput of
//!   the batched activations of training.
//!
//! The functions alternate, sample by sample; printed are the medians over 41 samples.

use std::hint::black_box;
use std::time::Instant;

use monograd_runtime::kernels::math::{tanh, tanh_fast, Unfused};
use monograd_runtime::kernels::simd::{Level, Simd};

const SAMPLES: usize = 41;
const STEPS: usize = 1000;
const SLICE: usize = 16_384;

struct Chain<F> {
    f: F,
    v: [f32; 16],
    b: [f32; 16],
}

impl<F: Fn(f32) -> f32> Simd for Chain<F> {
    type Output = [f32; 16];
    #[inline(always)]
    fn run(self) -> [f32; 16] {
        let mut v = self.v;
        for _ in 0..STEPS {
            for (v, &b) in v.iter_mut().zip(&self.b) {
                *v = (self.f)(1.5 * *v + b);
            }
        }
        v
    }
}

struct Slice<'a, F> {
    f: F,
    x: &'a [f32],
    y: &'a mut [f32],
}

impl<F: Fn(f32) -> f32> Simd for Slice<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        for (y, &x) in self.y.iter_mut().zip(self.x) {
            *y = (self.f)(x);
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One sample of each measurement of `f`: ns per chain step, ns per slice element.
fn sample<F: Fn(f32) -> f32 + Copy>(level: Level, f: F, x: &[f32], y: &mut [f32]) -> (f64, f64) {
    let b: [f32; 16] = core::array::from_fn(|i| i as f32 / 7.5 - 1.0);
    let start = Instant::now();
    let out = level.run(Chain {
        f,
        v: black_box([0.1; 16]),
        b: black_box(b),
    });
    black_box(out);
    let chain = start.elapsed().as_nanos() as f64 / STEPS as f64;

    let start = Instant::now();
    for _ in 0..4 {
        level.run(Slice {
            f,
            x: black_box(x),
            y: &mut *y,
        });
        black_box(&mut *y);
    }
    let slice = start.elapsed().as_nanos() as f64 / (4 * x.len()) as f64;
    (chain, slice)
}

fn measure(level: Level) {
    let x: Vec<f32> = (0..SLICE)
        .map(|i| (i as f32 / SLICE as f32) * 10.0 - 5.0)
        .collect();
    let mut y = vec![0.0f32; SLICE];
    let names = ["tanh", "tanh_fast"];
    let mut chain = vec![Vec::new(); names.len()];
    let mut slice = vec![Vec::new(); names.len()];
    for _ in 0..SAMPLES {
        let samples = [
            sample(level, tanh::<f32>, &x, &mut y),
            sample(level, tanh_fast::<f32, Unfused>, &x, &mut y),
        ];
        for (k, (c, s)) in samples.into_iter().enumerate() {
            chain[k].push(c);
            slice[k].push(s);
        }
    }
    for (k, name) in names.iter().enumerate() {
        println!(
            "{level:?} {name}: chain {:.1} ns/step, slice {:.3} ns/element",
            median(chain[k].clone()),
            median(slice[k].clone())
        );
    }
}

fn main() {
    let mut level = Some(Level::detect());
    while let Some(l) = level {
        measure(l);
        level = l.narrower();
    }
}
