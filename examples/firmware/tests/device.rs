//! The host side of the device check: the `firmware` binary runs [`evaluate_test_set`] on a
//! (simulated) Cortex-M4F and exits with a failure status unless the result equals
//! [`EXPECTED`]; these tests hold the host build of the same code to the same values, so the
//! device's predictions equal the host's on every test image. They also check that the embedded
//! test set is the held-out part of the split, and the checksum itself.

mod common;

use firmware_example::testset::{TEST_IMAGES, TEST_LABELS, TEST_LEN};
use firmware_example::{evaluate_test_set, fnv1a, pixels, Expected, EXPECTED, FNV1A_OFFSET};

#[test]
fn host_evaluation_equals_what_the_firmware_expects() {
    let evaluation = evaluate_test_set();
    eprintln!("host evaluation: {evaluation:?}");
    let host = Expected {
        images: evaluation.images,
        correct: evaluation.correct,
        predictions_fnv1a: evaluation.predictions_fnv1a,
    };
    assert_eq!(host, EXPECTED);
    assert!(evaluation.matches(&EXPECTED));
}

#[test]
fn embedded_test_set_is_the_held_out_split() {
    let (_, test) = common::split().unwrap();
    assert_eq!(test.len(), TEST_LEN);
    for (index, (image, &label)) in TEST_IMAGES.iter().zip(&TEST_LABELS).enumerate() {
        assert_eq!(pixels(image), test.images[index], "test image {index}");
        assert_eq!(
            usize::from(label),
            test.labels[index],
            "label of test image {index}"
        );
    }
}

#[test]
fn fnv1a_reference_values() {
    // The 32-bit FNV-1a test vectors of the algorithm's authors.
    assert_eq!(fnv1a(FNV1A_OFFSET, b""), 0x811c_9dc5);
    assert_eq!(fnv1a(FNV1A_OFFSET, b"a"), 0xe40c_292c);
    assert_eq!(fnv1a(FNV1A_OFFSET, b"foobar"), 0xbf9c_f968);
    // Hashing in pieces equals hashing at once, as the evaluation does image by image.
    assert_eq!(fnv1a(fnv1a(FNV1A_OFFSET, b"foo"), b"bar"), 0xbf9c_f968);
}

#[test]
fn evaluation_mismatch_is_detected() {
    let evaluation = evaluate_test_set();
    for wrong in [
        Expected {
            correct: EXPECTED.correct - 1,
            ..EXPECTED
        },
        Expected {
            predictions_fnv1a: EXPECTED.predictions_fnv1a ^ 1,
            ..EXPECTED
        },
        Expected {
            images: EXPECTED.images + 1,
            ..EXPECTED
        },
    ] {
        assert!(!evaluation.matches(&wrong), "{wrong:?}");
    }
}
