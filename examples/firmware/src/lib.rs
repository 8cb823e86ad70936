//! A handwritten-digit classifier declared with `monograd::network!` and run on a
//! microcontroller: `#![no_std]`, no heap, the trained parameters compiled in from a safetensors
//! file as `static`s (flash), and every buffer of an inference on the stack.
//!
//! The crate depends on `monograd` without default features, so the runtime is built with
//! neither `std` nor `alloc`; `cargo build -p firmware-example --target thumbv7em-none-eabihf
//! --release` compiles it for a Cortex-M4F. The parameters come from `digits.safetensors`, the file
//! that `cargo run --release --example digits -- --save examples/firmware/digits.safetensors`
//! writes: `network!` reads and checks it at compile time (`weights = "digits.safetensors";`) and
//! emits them as [`Digits::PARAMS_STATIC`]. The host-side tests check that [`classify`] agrees
//! with the digits example's network loaded from the same file through the std API.
//!
//! With feature `device` the crate also builds the `firmware` binary (`src/main.rs`), a
//! `#![no_main]` Cortex-M4F program that runs [`evaluate_test_set`] on the embedded
//! [`testset`] under QEMU and checks it against [`EXPECTED`], the values the host tests assert.
#![no_std]

mod evaluation;
pub mod testset;
pub mod training;

pub use evaluation::{
    evaluate_test_set, fnv1a, pixels, Evaluation, Expected, EXPECTED, FNV1A_OFFSET,
};

monograd::network! {
    /// Classifies an 8x8 grey image of a handwritten digit: 64 pixels -> 128 ReLU units -> 10
    /// scores, the network of the `digits` example, with the weights it trained compiled in.
    /// Inference only: no loss, no tape, no training code.
    pub struct Digits {
        input pixels: [64];
        hidden = linear(pixels, 128);
        act = relu(hidden);
        logits = linear(act, 10);
        weights = "digits.safetensors";
        output logits;
    }
}

/// Pixels per image: 8x8, row-major from the top-left.
pub const PIXELS: usize = Digits::INPUT;
/// Number of classes: the digits 0 to 9.
pub const CLASSES: usize = Digits::OUTPUT;

// The budget of a small Cortex-M part, checked at compile time: a larger network fails the build
// here rather than overflowing flash or the stack on the device. INFER_BYTES counts the
// activation buffers of one inference; the kernels' own stack frames come on top (README.md).
const _: () = assert!(
    Digits::PARAM_BYTES <= 40 * 1024,
    "the parameters must fit in 40 KiB of flash"
);
const _: () = assert!(
    Digits::INFER_BYTES <= 1024,
    "the activations of one inference must fit in 1 KiB of stack"
);

/// Stack that one inference may use beyond [`Digits::INFER_BYTES`]: the kernels' own frames
/// (saved registers, loop state, the GEMM tile accumulators) and the frame of [`logits`], which
/// `INFER_BYTES` does not count. The `firmware` binary measures the stack of one [`logits`] call
/// on the device and fails unless it is at most `INFER_BYTES + KERNEL_STACK_ALLOWANCE`.
pub const KERNEL_STACK_ALLOWANCE: usize = 1024;

/// The ten class scores (logits) of one image whose pixels are intensities scaled to [0, 1]
/// (the data set's 0..=16 divided by 16). Uses only the stack: no heap, no std.
pub fn logits(pixels: &[f32; PIXELS]) -> [f32; CLASSES] {
    let mut out = [[0.0; CLASSES]; 1];
    Digits::infer_static::<1>(core::array::from_ref(pixels), &mut out);
    out[0]
}

/// The digit (0 to 9) in an image scaled as for [`logits`]: its highest-scoring class.
pub fn classify(pixels: &[f32; PIXELS]) -> usize {
    monograd::runtime::ops::loss::argmax(&logits(pixels))
}
