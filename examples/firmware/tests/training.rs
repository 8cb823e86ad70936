//! The host side of on-device fine-tuning: the `firmware` binary runs [`fine_tune`] on the
//! device and fails unless its losses and classes are [`EXPECTED_FINE_TUNE`]'s; this runs the
//! same code on the host (heap buffers, the std kernels) and holds it to the same values.

use firmware_example::training::{
    fine_tune, start_from_compiled_weights, Batch, DigitsHead, DigitsHeadTape, FineTune,
    EXPECTED_FINE_TUNE, FINE_TUNE_BATCH, FINE_TUNE_SGD, FINE_TUNE_STEPS,
};
use firmware_example::{classify, pixels, testset::TEST_IMAGES, testset::TEST_LABELS};
use monograd::runtime::optim::Sgd;

fn run(batch: &Batch) -> FineTune {
    let mut head = DigitsHead::zeroed();
    start_from_compiled_weights(&mut head);
    let mut tape = DigitsHeadTape::<FINE_TUNE_BATCH>::new();
    let mut sgd = Sgd::new(FINE_TUNE_SGD).unwrap();
    fine_tune(&mut head, &mut tape, &mut sgd, batch, |_, step| step()).unwrap()
}

#[test]
fn host_fine_tuning_equals_what_the_firmware_expects() {
    let batch = Batch::misclassified();
    let result = run(&batch);
    eprintln!("host fine-tuning on images {:?}: {result:?}", batch.images);
    assert!(result.matches(&EXPECTED_FINE_TUNE), "{result:?}");
    assert_eq!(result.correct_before, 0);
    assert_eq!(result.correct_after, FINE_TUNE_BATCH);
    assert!(result.losses[FINE_TUNE_STEPS] < 0.01 * result.losses[0]);
    // A different result is detected.
    let mut wrong = result;
    wrong.losses[2] *= 1.01;
    assert!(!wrong.matches(&EXPECTED_FINE_TUNE));
}

#[test]
fn the_batch_is_the_first_misclassified_test_images() {
    let batch = Batch::misclassified();
    let wrong: Vec<usize> = (0..TEST_IMAGES.len())
        .filter(|&i| classify(&pixels(&TEST_IMAGES[i])) != usize::from(TEST_LABELS[i]))
        .take(FINE_TUNE_BATCH)
        .collect();
    assert_eq!(batch.images.as_slice(), wrong.as_slice());
    for (k, &index) in batch.images.iter().enumerate() {
        assert_eq!(batch.labels[k], usize::from(TEST_LABELS[index]));
    }
}

#[test]
fn the_head_starts_as_the_compiled_in_classifier() {
    // Features then head give the compiled-in network's logits (to rounding: the host's
    // products differ in order between the two paths).
    let mut head = DigitsHead::zeroed();
    start_from_compiled_weights(&mut head);
    for image in TEST_IMAGES.iter().take(20) {
        let x = pixels(image);
        let features = firmware_example::training::features(&x);
        let split = head.predict(&features);
        let whole = firmware_example::logits(&x);
        for (a, b) in split.iter().zip(&whole) {
            assert!(
                (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                "{split:?} vs {whole:?}"
            );
        }
    }
}
