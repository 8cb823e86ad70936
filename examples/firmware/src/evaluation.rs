//! The test-set evaluation that the `firmware` binary runs on the device and the host tests run
//! on the host: the same code on both, so equal results mean equal predictions.
//!
//! Nothing here has a panic path of its own (`check-panics.sh` fails CI on any new one in the
//! binary): the loops walk the static arrays with iterators, and `fnv1a` is wrapping arithmetic.

use crate::testset::{TEST_IMAGES, TEST_LABELS, TEST_LEN};
use crate::{logits, CLASSES, PIXELS};
use monograd::runtime::ops::loss::argmax;

/// FNV-1a (32-bit) offset basis: the hash of no bytes.
pub const FNV1A_OFFSET: u32 = 0x811c_9dc5;
/// FNV-1a (32-bit) prime.
const FNV1A_PRIME: u32 = 0x0100_0193;

/// `hash` extended by `bytes` with 32-bit FNV-1a: `h = (h ^ byte) * 16777619` per byte.
pub fn fnv1a(hash: u32, bytes: &[u8]) -> u32 {
    bytes.iter().fold(hash, |h, &byte| {
        (h ^ u32::from(byte)).wrapping_mul(FNV1A_PRIME)
    })
}

/// The pixels of a stored test image scaled as [`logits`] takes them: the data set's integers
/// 0..=16 divided by 16, exactly the `f32` values of the host-side loader.
pub fn pixels(image: &[u8; PIXELS]) -> [f32; PIXELS] {
    image.map(|level| f32::from(level) / 16.0)
}

/// The outcome of classifying every test image with [`logits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evaluation {
    /// Images classified.
    pub images: usize,
    /// Images whose highest-scoring class is their label.
    pub correct: usize,
    /// FNV-1a over the predicted classes, one byte per image in test-set order.
    pub predictions_fnv1a: u32,
    /// FNV-1a over the bits of every logit (`f32::to_bits`, little-endian), image by image. Bit
    /// for bit equal only where the same arithmetic runs: the host's GEMM leaves fuse
    /// multiply-adds on CPUs with FMA, so the host value can differ from the device's.
    pub logits_fnv1a: u32,
}

/// What the compiled-in weights give on the embedded test set, on the device and on the host. The
/// `firmware` binary compares its [`evaluate_test_set`] with this and exits with a failure status
/// on a mismatch; the host tests assert the same values (`tests/device.rs`). Replacing
/// `digits.safetensors` or regenerating `src/testset.rs` changes them.
pub const EXPECTED: Expected = Expected {
    images: TEST_LEN,
    correct: 353,
    predictions_fnv1a: 0xae81_d4d4,
};

/// The device-independent part of an [`Evaluation`]: see [`EXPECTED`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    /// [`Evaluation::images`].
    pub images: usize,
    /// [`Evaluation::correct`].
    pub correct: usize,
    /// [`Evaluation::predictions_fnv1a`].
    pub predictions_fnv1a: u32,
}

impl Evaluation {
    /// Whether the device-independent figures equal `expected`.
    pub fn matches(&self, expected: &Expected) -> bool {
        self.images == expected.images
            && self.correct == expected.correct
            && self.predictions_fnv1a == expected.predictions_fnv1a
    }
}

/// Classifies every embedded test image (one [`logits`] call each, batch 1 on the stack).
pub fn evaluate_test_set() -> Evaluation {
    let mut evaluation = Evaluation {
        images: 0,
        correct: 0,
        predictions_fnv1a: FNV1A_OFFSET,
        logits_fnv1a: FNV1A_OFFSET,
    };
    for (image, &label) in TEST_IMAGES.iter().zip(&TEST_LABELS) {
        let scores: [f32; CLASSES] = logits(&pixels(image));
        for score in scores {
            evaluation.logits_fnv1a =
                fnv1a(evaluation.logits_fnv1a, &score.to_bits().to_le_bytes());
        }
        let class = argmax(&scores);
        // CLASSES is 10, so the class fits in a byte.
        evaluation.predictions_fnv1a = fnv1a(evaluation.predictions_fnv1a, &[class as u8]);
        evaluation.images += 1;
        if class == usize::from(label) {
            evaluation.correct += 1;
        }
    }
    evaluation
}
