//! The firmware's inference checked on the host: it agrees with the same network run through the
//! std API (heap-allocated tape, batched) with the same parameters, and the stored parameters
//! classify digits they were not trained on.

mod common;

use firmware_example::{classify, logits, Digits, DigitsTape, CLASSES, PARAMS};
use monograd::runtime::ops::loss::argmax;
use monograd::runtime::train::accuracy;

/// Batch of the std-side evaluation: a different code path from the firmware's batch of 1.
const BATCH: usize = 32;

#[test]
fn firmware_inference_matches_the_std_api() {
    let (train, test) = common::split().unwrap();
    let net = Digits::from_params(&PARAMS).unwrap();
    let mut tape = DigitsTape::<BATCH>::new();
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
    // src/params.rs records 96.94%; a stale or corrupted file falls far below.
    assert!(
        firmware_accuracy >= 0.95,
        "firmware accuracy {firmware_accuracy} on {} held-out images",
        test.images.len()
    );
    let net = Digits::from_params(&PARAMS).unwrap();
    let std_accuracy = accuracy(
        &net,
        &mut DigitsTape::<BATCH>::new(),
        &test.images,
        &test.labels,
    )
    .unwrap();
    assert_eq!(firmware_accuracy, std_accuracy);
}
