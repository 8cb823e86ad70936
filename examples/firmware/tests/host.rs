//! The firmware's inference checked on the host: the weights compiled in are those of
//! `digits.safetensors`, it agrees with the `digits` example's network loaded from that file
//! through the std API (run-time loader, heap-allocated tape, batched), and the stored parameters
//! classify digits they were not trained on.

mod common;

use firmware_example::{classify, logits, Digits, CLASSES};
use monograd::runtime::ops::loss::argmax;
use monograd::runtime::train::accuracy;

monograd::network! {
    /// The network of the `digits` example (`examples/common/mlp.rs`), which wrote the file.
    struct DigitsNet {
        input pixels: [64];
        hidden = linear(pixels, 128, init = he_normal);
        act = relu(hidden);
        logits = linear(act, 10);
        loss = softmax_cross_entropy(logits);
    }
}

/// The `digits` example's network with the firmware's weights, read at run time.
fn loaded() -> DigitsNet {
    DigitsNet::load(concat!(env!("CARGO_MANIFEST_DIR"), "/digits.safetensors")).unwrap()
}

#[test]
fn compiled_in_weights_are_the_files() {
    let net = loaded();
    assert_eq!(Digits::PARAMS_STATIC, &*net.params);
    assert_eq!(Digits::PARAM_TENSORS, DigitsNet::PARAM_TENSORS);
    assert_eq!(*Digits::from_weights().params, *net.params);
}

/// Batch of the std-side evaluation: a different code path from the firmware's batch of 1.
const BATCH: usize = 32;

#[test]
fn firmware_inference_matches_the_std_api() {
    let (train, test) = common::split().unwrap();
    let net = loaded();
    let mut tape = DigitsNetTape::<BATCH>::new();
    for data in [&train, &test] {
        for (start, images) in data.images.chunks(BATCH).enumerate() {
            // The last chunk is short: pad it with its first image and ignore the padding.
            let batch: [[f32; 64]; BATCH] =
                std::array::from_fn(|k| images.get(k).copied().unwrap_or(images[0]));
            let expected = net.forward_with(&mut tape, &batch);
            for (k, image) in images.iter().enumerate() {
                let firmware = logits(image);
                let scale = expected[k].iter().fold(1.0f32, |m, v| m.max(v.abs()));
                for c in 0..CLASSES {
                    assert!(
                        (firmware[c] - expected[k][c]).abs() <= 1e-5 * scale,
                        "image {}: class {c}: firmware {} vs std {}",
                        start * BATCH + k,
                        firmware[c],
                        expected[k][c]
                    );
                }
                assert_eq!(classify(image), argmax(&expected[k]));
            }
        }
    }
}

#[test]
fn stored_parameters_classify_held_out_digits() {
    let (_, test) = common::split().unwrap();
    let correct = test
        .images
        .iter()
        .zip(&test.labels)
        .filter(|(image, &label)| classify(image) == label)
        .count();
    let firmware_accuracy = correct as f64 / test.images.len() as f64;
    // The digits example reaches about 97%; a stale or corrupted file falls far below.
    assert!(
        firmware_accuracy >= 0.95,
        "firmware accuracy {firmware_accuracy} on {} held-out images",
        test.images.len()
    );
    let net = loaded();
    let std_accuracy = accuracy(
        &net,
        &mut DigitsNetTape::<BATCH>::new(),
        &test.images,
        &test.labels,
    )
    .unwrap();
    assert_eq!(firmware_accuracy, std_accuracy);
}
