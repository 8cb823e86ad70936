//! On-device fine-tuning: the last layer of [`Digits`] trained for a few SGD
//! steps on the test images the compiled-in network gets wrong, with no heap.
//!
//! The network is split where transfer learning on a microcontroller splits it: the feature
//! extractor ([`DigitsFeatures`]: `hidden` and its ReLU) stays frozen and runs from flash on
//! the first [`DigitsFeatures::PARAMS`] values of [`Digits::PARAMS_STATIC`], and
//! the classifier ([`DigitsHead`]: `logits` with a loss) is a trainable network in RAM,
//! initialised from the last [`DigitsHead::PARAMS`] values. The consts below check at compile
//! time that the three declarations lay those tensors out alike.
//!
//! [`fine_tune`] is the same code on the device (network, tape and optimizer in `static`s built
//! at compile time, see `src/main.rs`) and on the host (`tests/training.rs`).

use monograd::runtime::ops::loss::argmax;
use monograd::runtime::optim::{Optimizer, SgdConfig};
use monograd::runtime::Error;

use crate::testset::{TEST_IMAGES, TEST_LABELS};
use crate::{classify, fnv1a, pixels, Digits, CLASSES, FNV1A_OFFSET, PIXELS};

monograd::network! {
    /// The feature extractor of [`Digits`]: 64 pixels -> 128 ReLU units, frozen.
    /// Inference only; it runs on the first [`DigitsFeatures::PARAMS`] compiled-in parameters of
    /// `Digits` (see [`features`]).
    pub struct DigitsFeatures {
        input pixels: [64];
        hidden = linear(pixels, 128);
        act = relu(hidden);
        output act;
    }
}

monograd::network! {
    /// The classifier of [`Digits`] as a trainable network: 128 features -> 10
    /// scores with a softmax cross-entropy loss, fine-tuned on the device.
    pub struct DigitsHead {
        input features: [128];
        logits = linear(features, 10);
        loss = softmax_cross_entropy(logits);
    }
}

/// Features per image: the width of the hidden layer.
pub const FEATURES: usize = DigitsFeatures::OUTPUT;

// `Digits` is `DigitsFeatures` followed by `DigitsHead`, tensor for tensor.
const _: () = assert!(DigitsFeatures::PARAMS + DigitsHead::PARAMS == Digits::PARAMS);
const _: () = assert!(
    Digits::HIDDEN_WEIGHT.offset == DigitsFeatures::HIDDEN_WEIGHT.offset
        && Digits::HIDDEN_BIAS.offset == DigitsFeatures::HIDDEN_BIAS.offset
        && Digits::HIDDEN_BIAS.len() == DigitsFeatures::HIDDEN_BIAS.len()
);
const _: () = assert!(
    Digits::LOGITS_WEIGHT.offset == DigitsFeatures::PARAMS + DigitsHead::LOGITS_WEIGHT.offset
        && Digits::LOGITS_BIAS.offset == DigitsFeatures::PARAMS + DigitsHead::LOGITS_BIAS.offset
        && Digits::LOGITS_WEIGHT.len() == DigitsHead::LOGITS_WEIGHT.len()
);

/// Images per fine-tuning batch (one batch, every step).
pub const FINE_TUNE_BATCH: usize = 4;
/// SGD steps of [`fine_tune`].
pub const FINE_TUNE_STEPS: usize = 5;
/// The optimizer of [`fine_tune`]: SGD with momentum (its state is one buffer the size of the
/// head's parameters).
pub const FINE_TUNE_SGD: SgdConfig = SgdConfig {
    lr: 0.05,
    momentum: 0.9,
    dampening: 0.0,
    weight_decay: 0.0,
    nesterov: false,
};

// The RAM budget of training, checked at compile time (the tape of the head at the batch size).
const _: () = assert!(
    DigitsHeadTape::<FINE_TUNE_BATCH>::BYTES <= 16 * 1024,
    "the fine-tuning tape must fit in 16 KiB of RAM"
);

/// Stack one training step may use on the device (the `firmware` binary measures the first
/// step and fails above it): the tape holds every buffer, so this is the kernels' frames and
/// the step's locals.
pub const TRAIN_STACK_LIMIT: usize = 2048;

/// What [`fine_tune`] gives, which the `firmware` binary checks on the device and
/// `tests/training.rs` on the host.
pub const EXPECTED_FINE_TUNE: ExpectedFineTune = ExpectedFineTune {
    losses: [
        1.632_209_8,
        0.362_607_18,
        0.397_943_2,
        0.293_950_17,
        0.035_249_997,
        0.003_214_658_7,
    ],
    correct_after: FINE_TUNE_BATCH,
    params_fnv1a_device: 0x037c_e72a,
};

/// Relative difference allowed between a loss of [`fine_tune`] and [`EXPECTED_FINE_TUNE`]'s.
/// The host's products may fuse multiply-adds or sum in another order than the device's
/// `kernels::small`, so the two builds agree to rounding, not bit for bit.
pub const LOSS_TOLERANCE: f32 = 1e-4;

/// The figures of a [`FineTune`] to reproduce: see [`EXPECTED_FINE_TUNE`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExpectedFineTune {
    /// [`FineTune::losses`], within [`LOSS_TOLERANCE`] (the host's values).
    pub losses: [f32; FINE_TUNE_STEPS + 1],
    /// [`FineTune::correct_after`].
    pub correct_after: usize,
    /// [`FineTune::params_fnv1a`] on the device (Cortex-M4F, `kernels::small`, no fused
    /// multiply-add): bit for bit what every run there gives.
    pub params_fnv1a_device: u32,
}

impl FineTune {
    /// Whether the loss went down and the losses and classes are the expected ones (the checks
    /// common to the host and the device; the device also compares the parameters' checksum).
    pub fn matches(&self, expected: &ExpectedFineTune) -> bool {
        let close = self
            .losses
            .iter()
            .zip(&expected.losses)
            .all(|(&loss, &want)| (loss - want).abs() <= LOSS_TOLERANCE * want.abs().max(1.0));
        close
            && self.losses[FINE_TUNE_STEPS] < self.losses[0]
            && self.correct_after == expected.correct_after
    }
}

/// The parameters of the feature extractor: the first ones compiled into [`Digits`], in flash.
pub fn feature_params() -> Option<&'static [f32; DigitsFeatures::PARAMS]> {
    Digits::PARAMS_STATIC.first_chunk()
}

/// The compiled-in parameters of the classifier: the last ones of [`Digits`], in flash.
pub fn head_params() -> Option<&'static [f32; DigitsHead::PARAMS]> {
    Digits::PARAMS_STATIC.last_chunk()
}

/// The 128 features of one image (pixels scaled as for [`crate::logits`]), computed from flash.
pub fn features(pixels: &[f32; PIXELS]) -> [f32; FEATURES] {
    let mut out = [[0.0; FEATURES]; 1];
    if let Some(params) = feature_params() {
        DigitsFeatures::infer::<1>(params, &[], core::array::from_ref(pixels), &mut out);
    }
    out[0]
}

/// A fine-tuning batch: the features of the first [`FINE_TUNE_BATCH`] test images that the
/// compiled-in network misclassifies (fewer if there are not as many; the rest of the batch
/// then repeats the first ones), and their labels.
pub struct Batch {
    /// Features of each image.
    pub features: [[f32; FEATURES]; FINE_TUNE_BATCH],
    /// Its label.
    pub labels: [usize; FINE_TUNE_BATCH],
    /// Index of each image in the test set.
    pub images: [usize; FINE_TUNE_BATCH],
}

impl Batch {
    /// The misclassified test images, as described on [`Batch`].
    pub fn misclassified() -> Batch {
        let mut batch = Batch {
            features: [[0.0; FEATURES]; FINE_TUNE_BATCH],
            labels: [0; FINE_TUNE_BATCH],
            images: [0; FINE_TUNE_BATCH],
        };
        let mut found = 0;
        for (index, (image, &label)) in TEST_IMAGES.iter().zip(&TEST_LABELS).enumerate() {
            let Some(slot) = batch.images.get_mut(found) else {
                break;
            };
            if classify(&pixels(image)) != usize::from(label) {
                *slot = index;
                found += 1;
            }
        }
        let first = batch.images;
        for (k, image) in batch.images.iter_mut().enumerate().skip(found) {
            if let Some(&repeat) = first.get(k % found.max(1)) {
                *image = repeat;
            }
        }
        for ((features, label), &index) in batch
            .features
            .iter_mut()
            .zip(batch.labels.iter_mut())
            .zip(&batch.images)
        {
            if let (Some(image), Some(&stored)) = (TEST_IMAGES.get(index), TEST_LABELS.get(index)) {
                *features = self::features(&pixels(image));
                *label = usize::from(stored);
            }
        }
        batch
    }
}

/// What [`fine_tune`] did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FineTune {
    /// The mean loss on the batch before each step, then after the last one.
    pub losses: [f32; FINE_TUNE_STEPS + 1],
    /// Images of the batch whose highest-scoring class is their label, before and after.
    pub correct_before: usize,
    /// See [`Self::correct_before`].
    pub correct_after: usize,
    /// FNV-1a over the bits of the trained parameters (`f32::to_bits`, little-endian).
    pub params_fnv1a: u32,
}

/// Images of `batch` that `head` classifies correctly (evaluation mode, into `tape`).
fn correct<const B: usize>(
    head: &DigitsHead,
    tape: &mut DigitsHeadTape<B>,
    features: &[[f32; FEATURES]; B],
    labels: &[usize; B],
) -> usize {
    let scores: &[[f32; CLASSES]; B] = head.forward_with(tape, features);
    scores
        .iter()
        .zip(labels)
        .filter(|(scores, &label)| argmax(*scores) == label)
        .count()
}

/// Copies the compiled-in classifier parameters into `head` (a network in RAM).
pub fn start_from_compiled_weights(head: &mut DigitsHead) {
    if let Some(params) = head_params() {
        head.params.copy_from_slice(params);
    }
}

/// [`FINE_TUNE_STEPS`] training steps of `head` on `batch` with `optimizer`, from wherever
/// `head` starts ([`start_from_compiled_weights`]). `step` is called before each step with its
/// index and may measure it: it gets the call that runs the step and returns its loss.
///
/// # Errors
/// As `DigitsHead::train_step` (a label out of range, a non-finite loss or update).
pub fn fine_tune<O: Optimizer<f32, { DigitsHead::PARAMS }>>(
    head: &mut DigitsHead,
    tape: &mut DigitsHeadTape<FINE_TUNE_BATCH>,
    optimizer: &mut O,
    batch: &Batch,
    mut step: impl FnMut(usize, &mut dyn FnMut() -> Result<f32, Error>) -> Result<f32, Error>,
) -> Result<FineTune, Error> {
    let mut losses = [0.0; FINE_TUNE_STEPS + 1];
    let correct_before = correct(head, tape, &batch.features, &batch.labels);
    for (index, loss) in losses.iter_mut().take(FINE_TUNE_STEPS).enumerate() {
        *loss = step(index, &mut || {
            head.train_step(tape, &batch.features, &batch.labels, optimizer)
        })?;
    }
    if let Some(last) = losses.last_mut() {
        *last = head.loss(tape, &batch.features, &batch.labels)?;
    }
    let correct_after = correct(head, tape, &batch.features, &batch.labels);
    let params_fnv1a = head.params.iter().fold(FNV1A_OFFSET, |hash, value| {
        fnv1a(hash, &value.to_bits().to_le_bytes())
    });
    Ok(FineTune {
        losses,
        correct_before,
        correct_after,
        params_fnv1a,
    })
}

monograd::network! {
    /// The whole of [`Digits`] as a trainable network with the same compiled-in
    /// weights and a frozen feature layer: the declaration a larger part (its tape is
    /// `DigitsTrainableTape::<4>::BYTES` = 81,256 B at a batch of 4, plus the network's 38,440 B)
    /// would fine-tune. Not run here; without a heap its constructors are `const`, checked below.
    pub struct DigitsTrainable {
        input pixels: [64];
        hidden = linear(pixels, 128, frozen = true);
        act = relu(hidden);
        logits = linear(act, 10);
        loss = softmax_cross_entropy(logits);
        weights = "digits.safetensors";
    }
}

// Without a heap (the device build): the network starting from the file, its tape and their
// sizes are compile-time values, and the tape is exactly `TAPE_BYTES`.
#[cfg(feature = "device")]
const _: () = {
    let _network: DigitsTrainable = DigitsTrainable::from_weights_static();
    let _tape: DigitsTrainableTape<4> = DigitsTrainableTape::new_static();
    assert!(
        core::mem::size_of::<DigitsTrainableTape<4>>() == DigitsTrainableTape::<4>::BYTES
            && core::mem::size_of::<DigitsTrainable>() == Digits::PARAM_BYTES
            && DigitsTrainableTape::<4>::BYTES == 81_256
    );
};
