//! "No allocation after the buffers exist", proven with a counting global allocator: after one
//! warm-up call each, every training and inference entry point of the benchmark networks (and of
//! a deep MLP and a LayerNorm + GELU network) allocates nothing, and neither does any optimizer
//! step.
//!
//! The allocator counts per thread, so tests running in parallel do not count each other. The
//! same file runs against a build without `std` (`cargo test -p monograd --no-default-features
//! --features alloc --test no_allocation`, in CI), where the runtime has neither matrixmultiply
//! nor thread-locals.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use monograd::prelude::*;
use monograd::runtime::{Buffer, Network};

#[path = "../benches/common/networks.rs"]
mod networks;

use networks::*;

struct Counting;

std::thread_local! {
    /// Allocations and bytes requested by this thread.
    static COUNT: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

fn count(bytes: usize) {
    // `try_with`: the thread-local may be gone while a thread shuts down.
    let _ = COUNT.try_with(|c| {
        let (n, b) = c.get();
        c.set((n + 1, b + bytes));
    });
}

// SAFETY: forwards every call to the system allocator unchanged; it only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract for `layout` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with this `layout` (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: as `alloc` and `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` twice (warm-up, then measured) and returns the allocations of the second run.
fn allocations_of(mut f: impl FnMut()) -> (usize, usize) {
    f();
    let (count, bytes) = COUNT.with(Cell::get);
    f();
    let (count_after, bytes_after) = COUNT.with(Cell::get);
    (count_after - count, bytes_after - bytes)
}

fn assert_none(what: &str, f: impl FnMut()) {
    let (count, bytes) = allocations_of(f);
    assert_eq!(
        (count, bytes),
        (0, 0),
        "{what}: {count} allocations, {bytes} bytes"
    );
}

fn batch<const N: usize, const B: usize>(seed: u64) -> (Buffer<[[f32; N]; B]>, [usize; B]) {
    let mut rng = Rng::new(seed);
    let mut x = Buffer::<[[f32; N]; B]>::zeroed();
    for v in x.as_flat_mut() {
        *v = rng.normal();
    }
    (x, core::array::from_fn(|_| rng.below(10)))
}

/// Every entry point of a network with `usize` targets, at batch `B`, with Adam and SGD.
fn check_network<const P: usize, const I: usize, const O: usize, const B: usize, N>(
    name: &str,
    mut net: N,
) where
    N: Network<P, Element = f32, Input = [f32; I], Output = [f32; O], Target = usize>,
{
    let (x, y) = batch::<I, B>(1);
    let mut tape = N::new_tape::<B>();
    let mut adam = Adam::<f32, P>::new(AdamConfig::default()).unwrap();
    let mut sgd = Sgd::<f32, P>::new(SgdConfig {
        lr: 0.01,
        momentum: 0.9,
        ..SgdConfig::default()
    })
    .unwrap();
    assert_none(&format!("{name}::train_step (Adam)"), || {
        net.train_step(&mut tape, &x, &y, &mut adam).unwrap();
    });
    assert_none(&format!("{name}::train_step (SGD)"), || {
        net.train_step(&mut tape, &x, &y, &mut sgd).unwrap();
    });
    assert_none(&format!("{name}::forward_train"), || {
        net.forward_train(&mut tape, &x).unwrap();
    });
    assert_none(&format!("{name}::backward"), || {
        net.backward(&mut tape, &x, &y).unwrap();
    });
    assert_none(&format!("{name}::loss"), || {
        net.loss(&mut tape, &x, &y).unwrap();
    });
    assert_none(&format!("{name}::forward_with"), || {
        net.forward_with(&mut tape, &x);
    });
}

/// The inherent inference methods, which the trait does not have.
macro_rules! check_inference {
    ($name:literal, $net:expr, $ty:ident, $eval:ident, $in:expr) => {{
        let net = $net;
        let (x, _) = batch::<{ $in }, 32>(2);
        let mut out = [[0.0f32; $ty::OUTPUT]; 2];
        let x2: &[[f32; $in]; 2] = x[..2].try_into().unwrap();
        assert_none(concat!($name, "::infer::<2>"), || {
            $ty::infer::<2>(&net.params, &net.state, x2, &mut out);
        });
        assert_none(concat!($name, "::infer::<1>"), || {
            $ty::infer::<1>(
                &net.params,
                &net.state,
                core::array::from_ref(&x[0]),
                &mut [[0.0; $ty::OUTPUT]],
            );
        });
        assert_none(concat!($name, "::forward::<32>"), || {
            std::hint::black_box(net.forward(&x));
        });
        assert_none(concat!($name, "::predict"), || {
            std::hint::black_box(net.predict(&x[3]));
        });
        let mut eval = $eval::<32>::new();
        assert_none(concat!($name, "::forward_eval"), || {
            net.forward_eval(&mut eval, &x);
        });
    }};
}

monograd::network! {
    /// A deep, narrow MLP: 20 layers of 64.
    pub struct Deep {
        input x: [64];
        h1 = linear(x, 64); a1 = relu(h1);
        h2 = linear(a1, 64); a2 = relu(h2);
        h3 = linear(a2, 64); a3 = relu(h3);
        h4 = linear(a3, 64); a4 = relu(h4);
        h5 = linear(a4, 64); a5 = relu(h5);
        h6 = linear(a5, 64); a6 = relu(h6);
        h7 = linear(a6, 64); a7 = relu(h7);
        h8 = linear(a7, 64); a8 = relu(h8);
        h9 = linear(a8, 64); a9 = relu(h9);
        h10 = linear(a9, 64); a10 = relu(h10);
        h11 = linear(a10, 64); a11 = relu(h11);
        h12 = linear(a11, 64); a12 = relu(h12);
        h13 = linear(a12, 64); a13 = relu(h13);
        h14 = linear(a13, 64); a14 = relu(h14);
        h15 = linear(a14, 64); a15 = relu(h15);
        h16 = linear(a15, 64); a16 = relu(h16);
        h17 = linear(a16, 64); a17 = relu(h17);
        h18 = linear(a17, 64); a18 = relu(h18);
        h19 = linear(a18, 64); a19 = relu(h19);
        logits = linear(a19, 10);
        loss = softmax_cross_entropy(logits);
    }
}

monograd::network! {
    /// LayerNorm and GELU.
    pub struct Transformerish {
        input x: [96];
        h = linear(x, 128);
        n = layer_norm(h);
        g = gelu(n, approximate = tanh);
        logits = linear(g, 10, weight_norm = true);
        loss = softmax_cross_entropy(logits);
    }
}

// One test per network, so that the harness runs them side by side (W1's are seconds each in a
// debug build); the allocator counts per thread.
#[test]
fn w1_training_allocates_nothing_after_warm_up() {
    check_network::<{ Mlp::PARAMS }, 784, 10, 64, _>("W1 Mlp", Mlp::new(0));
}

#[test]
fn w1_training_at_batch_32_allocates_nothing_after_warm_up() {
    check_network::<{ Mlp::PARAMS }, 784, 10, 32, _>("W1 Mlp (batch 32)", Mlp::new(0));
}

#[test]
fn w4_training_allocates_nothing_after_warm_up() {
    check_network::<{ Cnn::PARAMS }, 784, 10, 32, _>("W4 Cnn", Cnn::new(0));
}

#[test]
fn w5_training_allocates_nothing_after_warm_up() {
    check_network::<{ BnMlp::PARAMS }, 784, 10, 64, _>("W5 BnMlp", BnMlp::new(0));
}

#[test]
fn deep_training_allocates_nothing_after_warm_up() {
    check_network::<{ Deep::PARAMS }, 64, 10, 32, _>("Deep", Deep::new(0));
}

#[test]
fn layer_norm_gelu_training_allocates_nothing_after_warm_up() {
    check_network::<{ Transformerish::PARAMS }, 96, 10, 32, _>(
        "Transformerish",
        Transformerish::new(0),
    );
}

#[test]
fn inference_allocates_nothing_after_warm_up() {
    // Without `std`, `forward` keeps its buffers on the stack (no thread-locals to cache heap
    // buffers in): give it room, as a firmware or no_std program would size its stack.
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| {
            check_inference!("Mlp", Mlp::new(0), Mlp, MlpEval, 784);
            check_inference!("W3 Tiny", Tiny::new(0), Tiny, TinyEval, 2);
            check_inference!("Cnn", Cnn::new(0), Cnn, CnnEval, 784);
            check_inference!("BnMlp", BnMlp::new(0), BnMlp, BnMlpEval, 784);
            check_inference!(
                "BnMlp folded",
                BnMlp::new(0).fold(),
                BnMlpFolded,
                BnMlpFoldedEval,
                784
            );
            check_inference!("Deep", Deep::new(0), Deep, DeepEval, 64);
            check_inference!(
                "Transformerish",
                Transformerish::new(0),
                Transformerish,
                TransformerishEval,
                96
            );
            check_inference!(
                "Transformerish folded",
                Transformerish::new(0).fold(),
                TransformerishFolded,
                TransformerishFoldedEval,
                96
            );
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn tiny_regression_training_allocates_nothing() {
    // W3's network (2 -> 16 -> 16 -> 1, mse): targets are values, not labels.
    let mut net = Tiny::new(0);
    let (x, _) = batch::<2, 16>(3);
    let y: [[f32; 1]; 16] = core::array::from_fn(|i| [x[i][0] * x[i][1]]);
    let mut tape = TinyTape::<16>::new();
    let mut adam = Adam::new(AdamConfig::default()).unwrap();
    assert_none("W3 Tiny::train_step", || {
        net.train_step(&mut tape, &x, &y, &mut adam).unwrap();
    });
    assert_none("W3 Tiny::loss", || {
        net.loss(&mut tape, &x, &y).unwrap();
    });
}

#[test]
fn optimizer_steps_allocate_nothing() {
    // Every optimizer's step on a W1-sized parameter vector.
    const P: usize = Mlp::PARAMS;
    let mut params = Buffer::<[f32; P]>::zeroed();
    let mut grads = Buffer::<[f32; P]>::zeroed();
    grads
        .iter_mut()
        .enumerate()
        .for_each(|(i, g)| *g = (i % 7) as f32 - 3.0);
    macro_rules! optimizer {
        ($name:literal, $opt:expr) => {{
            let mut opt = $opt;
            assert_none(concat!($name, "::step"), || {
                opt.step(&mut params, &grads).unwrap()
            });
        }};
    }
    optimizer!(
        "Sgd",
        Sgd::<f32, P>::new(SgdConfig {
            momentum: 0.9,
            nesterov: true,
            ..Default::default()
        })
        .unwrap()
    );
    optimizer!(
        "Adam",
        Adam::<f32, P>::new(AdamConfig {
            amsgrad: true,
            ..Default::default()
        })
        .unwrap()
    );
    optimizer!(
        "AdamW",
        AdamW::<f32, P>::new(AdamWConfig::default()).unwrap()
    );
    optimizer!(
        "Adagrad",
        Adagrad::<f32, P>::new(AdagradConfig::default()).unwrap()
    );
    optimizer!(
        "RmsProp",
        RmsProp::<f32, P>::new(RmsPropConfig {
            centered: true,
            momentum: 0.5,
            ..Default::default()
        })
        .unwrap()
    );
    optimizer!(
        "Adadelta",
        Adadelta::<f32, P>::new(AdadeltaConfig::default()).unwrap()
    );
}

monograd::network! {
    /// Recurrent layers and a causal convolution, for the streaming type.
    struct Streamed {
        input x: [2, 16];
        c = conv1d(x, 3, kernel = 3, dilation = 2, padding = causal);
        a = tanh(c);
        output a;
    }
}

monograd::network! {
    struct StreamedRnn {
        input x: [16, 1];
        g = gru(x, 8);
        l = lstm(g, 4, return = last);
        out = linear(l, 1);
        loss = mse(out);
    }
}

#[test]
fn streaming_allocates_nothing_even_at_the_first_step() {
    let (conv, rnn) = (Streamed::new(1), StreamedRnn::new(2));
    let before = COUNT.with(Cell::get);
    let mut conv_stream = StreamedStream::new(&conv.params);
    let mut rnn_stream = StreamedRnnStream::new(&rnn.params);
    let mut sum = 0.0;
    for t in 0..64 {
        let x = (t as f32 * 0.1).sin();
        sum += conv_stream.step(&[x, -x])[0];
        sum += rnn_stream.step(&[x])[0];
        // The form with the parameters passed at every call.
        sum += conv_stream.step_with(&conv.params, &[x, -x])[0];
        sum += rnn_stream.step_with(&rnn.params, &[x])[0];
    }
    rnn_stream.reset();
    conv_stream.reset();
    assert_eq!(COUNT.with(Cell::get), before, "allocations while streaming");
    assert!(sum.is_finite());
}

monograd::network! {
    /// Two inputs: an image and a vector joined after the convolution.
    pub struct TwoInputs {
        input image: [1, 8, 8];
        input extra: [5];
        c = conv2d(image, 4, kernel = 3, padding = 1);
        a = relu(c);
        f = flatten(a);
        joined = concat(f, extra);
        logits = linear(joined, 10);
        loss = softmax_cross_entropy(logits);
    }
}

monograd::network! {
    /// An auxiliary loss (weighed) on a head of its own.
    pub struct AuxHead {
        input x: [32];
        h = linear(x, 64);
        a = relu(h);
        aux = linear(a, 10);
        aux_loss = softmax_cross_entropy(aux, weight = 0.4);
        logits = linear(a, 10);
        loss = softmax_cross_entropy(logits);
    }
}

#[test]
fn auxiliary_losses_allocate_nothing() {
    check_network::<{ AuxHead::PARAMS }, 32, 10, 16, _>("AuxHead", AuxHead::new(0));
}

#[test]
fn two_input_networks_allocate_nothing() {
    let (flat, y) = batch::<69, 16>(4);
    let x: [TwoInputsInput; 16] = core::array::from_fn(|s| TwoInputsInput {
        image: core::array::from_fn(|i| flat[s][i]),
        extra: core::array::from_fn(|i| flat[s][64 + i]),
    });
    let mut net = TwoInputs::new(0);
    let mut tape = TwoInputsTape::<16>::new();
    let mut adam = Adam::new(AdamConfig::default()).unwrap();
    assert_none("TwoInputs::train_step", || {
        net.train_step(&mut tape, &x, &y, &mut adam).unwrap();
    });
    let upstream = [[1.0f32; 10]; 16];
    assert_none("TwoInputs::input_grad_from", || {
        net.forward_train(&mut tape, &x).unwrap();
        net.input_grad_from(&mut tape, &x, &upstream);
    });
    assert_none("TwoInputs::backward_with_input_grad", || {
        net.backward_with_input_grad(&mut tape, &x, &y).unwrap();
    });
    let mut out = [[0.0f32; 10]; 4];
    let x4: &[TwoInputsInput; 4] = x[..4].try_into().unwrap();
    assert_none("TwoInputs::infer::<4>", || {
        TwoInputs::infer::<4>(&net.params, &net.state, x4, &mut out);
    });
    assert_none("TwoInputs::forward", || {
        std::hint::black_box(net.forward(&x));
    });
    assert_none("TwoInputs::predict", || {
        std::hint::black_box(net.predict(&x[3]));
    });
    let mut eval = TwoInputsEval::<16>::new();
    assert_none("TwoInputs::forward_eval", || {
        net.forward_eval(&mut eval, &x);
    });
}
