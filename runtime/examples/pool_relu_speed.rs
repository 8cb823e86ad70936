//! The backward pass of `max_pool2d(relu(x), 2)` on W4's two pooling layers (`f32`, batch 32:
//! 8 x 28 x 28 and 16 x 14 x 14 images), as two calls (`max_pool2d_backward`, then the ReLU's
//! `activation_backward`) and as the one call `network!` emits for that pattern
//! (`max_pool2d_relu_backward`), on the widest instruction-set level of this CPU
//! (`kernels::simd::Level`), as the generated backward runs them.
//!
//! ```text
//! cargo run -p monograd-runtime --release --example pool_relu_speed
//! ```
//!
//! The two forms alternate, sample by sample (each sample: 20 calls); printed are the median
//! and the minimum µs per call over 61 samples, and the ratio of the medians. Both forms give
//! the same bits (checked here on the first sample, and by the runtime's unit tests).

use std::hint::black_box;
use std::time::Instant;

use monograd_runtime::kernels::simd::{Level, Simd};
use monograd_runtime::ops::activation::{activation_backward, Relu};
use monograd_runtime::ops::pool::{max_pool2d_backward, max_pool2d_relu_backward, Pool2d};
use monograd_runtime::Store;

const B: usize = 32;
const SAMPLES: usize = 61;
const CALLS: usize = 20;

/// The arrays of one layer: the ReLU's output, the pooling's upstream gradient, the ReLU
/// output's gradient and the ReLU input's.
struct Layer<const IN: usize, const OUT: usize> {
    y: Vec<[f32; IN]>,
    dy: Vec<[f32; OUT]>,
    dy_relu: Vec<[f32; IN]>,
    dx: Vec<[f32; IN]>,
}

impl<const IN: usize, const OUT: usize> Layer<IN, OUT> {
    fn new() -> Self {
        // A ReLU's output: about half zeros, the rest spread positives.
        let y = (0..B)
            .map(|b| {
                core::array::from_fn(|i| {
                    let v = ((b * IN + i) * 7919 % 1009) as f32 / 504.5 - 1.0;
                    v.max(0.0)
                })
            })
            .collect();
        let dy = (0..B)
            .map(|b| core::array::from_fn(|i| ((b * OUT + i) * 104_729 % 997) as f32 / 498.5 - 1.0))
            .collect();
        Layer {
            y,
            dy,
            dy_relu: vec![[0.0; IN]; B],
            dx: vec![[0.0; IN]; B],
        }
    }
}

/// Which form of the backward pass to run.
#[derive(Clone, Copy)]
enum Form {
    TwoCalls,
    Fused,
}

struct Backward<'a, G, const IN: usize, const OUT: usize> {
    layer: &'a mut Layer<IN, OUT>,
    form: Form,
    geometry: core::marker::PhantomData<G>,
}

impl<G: monograd_runtime::ops::pool::Pool2dGeometry, const IN: usize, const OUT: usize> Simd
    for Backward<'_, G, IN, OUT>
{
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let l = self.layer;
        let y: &[[f32; IN]; B] = l.y[..].try_into().expect("B rows");
        let dy: &[[f32; OUT]; B] = l.dy[..].try_into().expect("B rows");
        let dy_relu: &mut [[f32; IN]; B] = (&mut l.dy_relu[..]).try_into().expect("B rows");
        let dx: &mut [[f32; IN]; B] = (&mut l.dx[..]).try_into().expect("B rows");
        for _ in 0..CALLS {
            match self.form {
                Form::TwoCalls => {
                    max_pool2d_backward::<f32, G, B, IN, OUT>(y, dy, dy_relu, Store::Overwrite);
                    activation_backward(&Relu, y, y, dy_relu, dx, Store::Overwrite);
                }
                Form::Fused => max_pool2d_relu_backward::<f32, G, B, IN, OUT>(
                    y,
                    dy,
                    dy_relu,
                    dx,
                    Store::Overwrite,
                ),
            }
            black_box(&mut *dx);
        }
    }
}

/// The two gradients a form computed: the ReLU output's and the ReLU input's.
type Gradients<const IN: usize> = (Vec<[f32; IN]>, Vec<[f32; IN]>);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn measure<G: monograd_runtime::ops::pool::Pool2dGeometry, const IN: usize, const OUT: usize>(
    name: &str,
    level: Level,
) {
    let mut layer = Layer::<IN, OUT>::new();
    let mut times = [Vec::new(), Vec::new()];
    let mut outputs: [Option<Gradients<IN>>; 2] = [None, None];
    for _ in 0..SAMPLES {
        for (k, form) in [Form::TwoCalls, Form::Fused].into_iter().enumerate() {
            let start = Instant::now();
            level.run(Backward::<G, IN, OUT> {
                layer: &mut layer,
                form,
                geometry: core::marker::PhantomData,
            });
            times[k].push(start.elapsed().as_secs_f64() * 1e6 / CALLS as f64);
            if outputs[k].is_none() {
                outputs[k] = Some((layer.dy_relu.clone(), layer.dx.clone()));
            }
        }
    }
    let bits = |v: &Vec<[f32; IN]>| v.iter().flatten().map(|x| x.to_bits()).collect::<Vec<_>>();
    let [Some(two), Some(fused)] = &outputs else {
        unreachable!("both forms ran")
    };
    assert!(
        bits(&two.0) == bits(&fused.0) && bits(&two.1) == bits(&fused.1),
        "{name}: the two forms differ"
    );
    let [two, fused] = times.map(|t| {
        let min = t.iter().copied().fold(f64::INFINITY, f64::min);
        (median(t), min)
    });
    println!(
        "{level:?} {name}: two calls {:.1} us (min {:.1}), fused {:.1} us (min {:.1}), fused / two calls {:.2}",
        two.0,
        two.1,
        fused.0,
        fused.1,
        fused.0 / two.0
    );
}

fn main() {
    let level = Level::detect();
    measure::<Pool2d<8, 28, 28, 2, 2, 2, 2, 0, 0, 1, 1>, 6272, 1568>("8x28x28", level);
    measure::<Pool2d<16, 14, 14, 2, 2, 2, 2, 0, 0, 1, 1>, 3136, 784>("16x14x14", level);
}
