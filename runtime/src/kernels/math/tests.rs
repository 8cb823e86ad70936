//! Accuracy of the vectorizable functions against libm evaluated in `f64`.
//!
//! `f32`: the error of a result is `|got - want| / ulp(want)` with `want` the `f64` libm value (an
//! `f32`-ulp error of libm's `f64` result is ~1e-9, so this is the error against the exact value),
//! checked on a dense sample of every binade here and on all 2^32 inputs in the `#[ignore]`d
//! `exhaustive_f32_*` tests (run in release: `cargo test --release -p monograd-runtime --lib
//! exhaustive -- --ignored --nocapture --test-threads 1`).
//! `f64`: the distance in ulps to libm's result (itself within 1 ulp of the exact value) over
//! random arguments.

extern crate std;

use super::*;
use crate::Rng;

/// The `f32` ulp at magnitude `|v|`: `2^(e - 23)` for `|v|` in `[2^e, 2^(e + 1))`, and `2^-149`
/// among the subnormals. From the bits of `v`, since the exhaustive test calls it 2^32 times.
fn ulp32(v: f64) -> f64 {
    let exponent = ((v.to_bits() >> 52) & 0x7ff) as i64 - 1023;
    let ulp_exponent = exponent.max(-126) - 23;
    f64::from_bits(((ulp_exponent + 1023) as u64) << 52)
}

/// The `f64` ulp at magnitude `|v|`.
fn ulp64(v: f64) -> f64 {
    let v = v.abs().max(f64::MIN_POSITIVE);
    let bits = v.to_bits() & 0x7ff0_0000_0000_0000;
    f64::from_bits(bits) * f64::EPSILON
}

/// The error of `got` against `want` in `f32` ulps: 0 when both are the same infinity or both
/// NaN, infinite when only one is.
fn error32(got: f32, want: f64) -> f64 {
    let got = f64::from(got);
    if got.is_nan() || want.is_nan() {
        return if got.is_nan() && want.is_nan() {
            0.0
        } else {
            f64::INFINITY
        };
    }
    // A reference beyond f32's range rounds to the infinity.
    let want_rounded = f64::from(want as f32);
    if got.is_infinite() || want_rounded.is_infinite() {
        return if got == want_rounded {
            0.0
        } else {
            f64::INFINITY
        };
    }
    (got - want).abs() / ulp32(want)
}

/// The distance of `got` to `want` in `f64` ulps of `want`.
fn error64(got: f64, want: f64) -> f64 {
    if got.is_nan() || want.is_nan() {
        return if got.is_nan() && want.is_nan() {
            0.0
        } else {
            f64::INFINITY
        };
    }
    if got.is_infinite() || want.is_infinite() {
        return if got == want { 0.0 } else { f64::INFINITY };
    }
    (got - want).abs() / ulp64(want)
}

/// `sigmoid` in `f64`, the overflow-free way (the reference for the `f32` function).
fn sigmoid_reference(x: f64) -> f64 {
    let e = libm::exp(-x.abs());
    if x < 0.0 {
        e / (1.0 + e)
    } else {
        1.0 / (1.0 + e)
    }
}

/// The functions under test, their `f64` references and their `f32` error bounds in ulps (the
/// exhaustive maxima are 0.76, 0.500000, 0.500001 and 1.09; tanh and sigmoid are computed in
/// `f64` and rounded once).
type Case = (&'static str, fn(f32) -> f32, fn(f64) -> f64, f64);
const CASES: [Case; 4] = [
    ("exp", exp::<f32>, libm::exp, 1.0),
    ("tanh", tanh::<f32>, libm::tanh, 0.501),
    ("sigmoid", sigmoid::<f32>, sigmoid_reference, 0.501),
    ("erf", erf_f32, libm::erf, 1.25),
];

/// The ordered position of an `f32` among all `f32`s (adjacent values differ by 1, `±0` are 0).
fn ordinal(v: f32) -> i64 {
    let bits = i64::from(v.to_bits() & 0x7fff_ffff);
    if v.is_sign_negative() {
        -bits
    } else {
        bits
    }
}

/// The worst case over some inputs: the largest error against the exact value (ulps) and the
/// largest distance to the correctly rounded value (whole ulps), each with its input.
#[derive(Clone, Copy, Debug, Default)]
struct Worst {
    error: f64,
    error_at: f32,
    distance: i64,
    distance_at: f32,
    /// How many results are not the correctly rounded value.
    misrounded: u64,
}

impl Worst {
    fn merge(self, other: Worst) -> Worst {
        let (error, error_at) = if other.error > self.error {
            (other.error, other.error_at)
        } else {
            (self.error, self.error_at)
        };
        let (distance, distance_at) = if other.distance > self.distance {
            (other.distance, other.distance_at)
        } else {
            (self.distance, self.distance_at)
        };
        Worst {
            error,
            error_at,
            distance,
            distance_at,
            misrounded: self.misrounded + other.misrounded,
        }
    }
}

/// The worst errors of `f` over `inputs`. The correctly rounded value is libm's `f64` result
/// rounded to `f32` (off by one only where that result is within ~1e-9 ulp of a midpoint).
fn worst32(
    f: fn(f32) -> f32,
    reference: fn(f64) -> f64,
    inputs: impl Iterator<Item = f32>,
) -> Worst {
    inputs
        .map(|x| {
            let (got, want) = (f(x), reference(f64::from(x)));
            let distance = if got.is_nan() && want.is_nan() {
                0
            } else if got.is_nan() || want.is_nan() {
                i64::MAX
            } else {
                (ordinal(got) - ordinal(want as f32)).abs()
            };
            Worst {
                error: error32(got, want),
                error_at: x,
                distance,
                distance_at: x,
                misrounded: u64::from(distance != 0),
            }
        })
        .fold(Worst::default(), Worst::merge)
}

/// The worst errors of `case`'s function over `inputs`, printed, and checked against the case's
/// bound and at most `max_distance` ulps from the correctly rounded value.
fn check_case(case: Case, inputs: impl Iterator<Item = f32>, max_distance: i64) {
    let (name, f, reference, bound) = case;
    let worst = worst32(f, reference, inputs);
    std::println!("{name}: {worst:?}");
    assert!(
        worst.error <= bound && worst.distance <= max_distance,
        "{name}: {worst:?}, bound {bound}"
    );
}

/// Every 4099th bit pattern (about a million inputs of both signs, 256 per binade) and the
/// 2000 inputs around each point where an algorithm switches or a result saturates.
fn dense_sample() -> impl Iterator<Item = f32> {
    let strided = (0..=u32::MAX / 4099).map(|i| f32::from_bits(i * 4099));
    let switches: [f32; 12] = [
        0.0,
        ERF_SMALL,
        ERF_SATURATED,
        TANH_SMALL as f32,
        0.5 * core::f32::consts::LN_2,
        9.010_913,   // tanh rounds to 1
        17.328_68,   // sigmoid rounds to 1
        88.722_84,   // exp overflows
        -87.336_54,  // exp leaves the normals
        -103.972_08, // exp rounds to 0
        F32.exp_min,
        F32.exp_max,
    ];
    let around = switches.into_iter().flat_map(|s| {
        let bits = s.to_bits() as i64;
        (-1000..=1000).flat_map(move |d| {
            let b = (bits + d).clamp(0, i64::from(u32::MAX)) as u32;
            [f32::from_bits(b), -f32::from_bits(b)]
        })
    });
    strided.chain(around)
}

#[test]
fn f32_accuracy_on_a_dense_sample() {
    for case in CASES {
        check_case(case, dense_sample(), 1);
    }
}

/// `f32` tanh and sigmoid (computed in `f64`, rounded once) are the correctly rounded values on
/// the whole dense sample: over every input, 44 and 23 of the 2^32 results are not (each 1 ulp
/// away, its exact value very near a midpoint).
#[test]
fn f32_tanh_and_sigmoid_are_correctly_rounded_on_a_dense_sample() {
    let cases = CASES
        .into_iter()
        .filter(|c| c.0 == "tanh" || c.0 == "sigmoid");
    for (name, f, reference, _) in cases {
        let worst = worst32(f, reference, dense_sample());
        assert_eq!(worst.misrounded, 0, "{name}: {worst:?}");
    }
}

/// The compensated `f32` forms that targets without `f64` hardware run ([`F32_VIA_F64`]),
/// tested here on the host: their exhaustive maxima were 0.85 and 1.15 ulp, within 1 of the
/// correctly rounded value.
#[test]
fn f32_compensated_tanh_and_sigmoid_on_a_dense_sample() {
    let cases: [Case; 2] = [
        ("tanh compensated", tanh_compensated::<f32>, libm::tanh, 1.0),
        (
            "sigmoid compensated",
            sigmoid_compensated::<f32>,
            sigmoid_reference,
            1.25,
        ),
    ];
    for case in cases {
        check_case(case, dense_sample(), 1);
    }
}

#[test]
fn f64_accuracy_on_random_arguments() {
    let mut rng = Rng::new(0x6d61_7468);
    // (name, function, reference, bound in ulps, argument range)
    type Case64 = (&'static str, fn(f64) -> f64, fn(f64) -> f64, f64, f64);
    let cases: [Case64; 3] = [
        ("exp", exp::<f64>, libm::exp, 1.5, 750.0),
        ("tanh", tanh::<f64>, libm::tanh, 2.0, 25.0),
        ("sigmoid", sigmoid::<f64>, sigmoid_reference, 3.0, 750.0),
    ];
    for (name, f, reference, bound, range) in cases {
        let mut worst = (0.0, 0.0);
        for i in 0..200_000 {
            // Half uniform over the interesting range, half log-uniform in magnitude down to 1e-12.
            let x = if i % 2 == 0 {
                rng.uniform(-range, range)
            } else {
                let magnitude = libm::exp(rng.uniform(-27.6, libm::log(range)));
                if rng.next_u64() & 1 == 0 {
                    magnitude
                } else {
                    -magnitude
                }
            };
            let error = error64(f(x), reference(x));
            if error > worst.0 {
                worst = (error, x);
            }
        }
        std::println!("{name}: {} ulp at {:e}", worst.0, worst.1);
        assert!(
            worst.0 <= bound,
            "{name}: {} ulp at {:e}, bound {bound}",
            worst.0,
            worst.1
        );
    }
}

#[test]
fn special_values() {
    fn check<T: Scalar>() {
        let (zero, one, inf, nan) = (T::zero(), T::one(), T::infinity(), T::nan());
        let big = T::from_f64(1e30);
        for x in [nan, -nan] {
            assert!(
                exp(x).is_nan() && tanh(x).is_nan() && sigmoid(x).is_nan(),
                "{}",
                T::NAME
            );
        }
        assert_eq!(exp(zero), one);
        assert_eq!(exp(-zero), one);
        assert_eq!(exp(inf), inf);
        assert_eq!(exp(big), inf);
        assert_eq!(exp(-inf), zero);
        assert_eq!(exp(-big), zero);
        assert_eq!(exp(T::min_value()), zero);
        assert_eq!(exp(T::max_value()), inf);
        // tanh keeps the sign of zero.
        assert!(tanh(zero) == zero && tanh(zero).is_sign_positive());
        assert!(tanh(-zero) == zero && tanh(-zero).is_sign_negative());
        assert_eq!(tanh(inf), one);
        assert_eq!(tanh(-inf), -one);
        assert_eq!(tanh(big), one);
        assert_eq!(tanh(-big), -one);
        assert_eq!(tanh(T::from_f64(40.0)), one);
        let tiny = T::min_positive_value();
        assert_eq!(tanh(tiny), tiny);
        assert_eq!(tanh(-tiny), -tiny);
        let half = T::from_f64(0.5);
        assert_eq!(sigmoid(zero), half);
        assert_eq!(sigmoid(-zero), half);
        assert_eq!(sigmoid(inf), one);
        assert_eq!(sigmoid(-inf), zero);
        assert_eq!(sigmoid(big), one);
        assert_eq!(sigmoid(-big), zero);
        assert_eq!(sigmoid(T::from_f64(1e4)), one);
        assert_eq!(sigmoid(T::from_f64(-1e4)), zero);
    }
    check::<f32>();
    check::<f64>();

    assert!(erf_f32(f32::NAN).is_nan());
    assert!(erf_f32(0.0) == 0.0 && erf_f32(0.0).is_sign_positive());
    assert!(erf_f32(-0.0) == 0.0 && erf_f32(-0.0).is_sign_negative());
    assert_eq!(erf_f32(f32::INFINITY), 1.0);
    assert_eq!(erf_f32(f32::NEG_INFINITY), -1.0);
    assert_eq!(erf_f32(10.0), 1.0);
    assert_eq!(erf_f32(-1e30), -1.0);
}

/// The fast functions of streaming inference, their references and their `f32` error bounds in
/// ulps (the exhaustive maxima are in the functions' docs). `sigmoid_fast` is measured where it
/// does not flush to zero (`x >= -fast_exp_cap`; `fast_functions_flush_and_saturate` checks
/// the rest).
/// Each with multiply-adds rounded twice ([`Unfused`]) and once ([`Fused`], here the library's
/// `fma`: the same results as the instruction's).
const FAST_CASES: [Case; 6] = [
    ("tanh_fast", tanh_fast::<f32, Unfused>, libm::tanh, 2.5),
    (
        "sigmoid_fast",
        sigmoid_fast::<f32, Unfused>,
        sigmoid_reference,
        2.5,
    ),
    ("tanh_fast fused", tanh_fast::<f32, Fused>, libm::tanh, 2.5),
    (
        "sigmoid_fast fused",
        sigmoid_fast::<f32, Fused>,
        sigmoid_reference,
        2.5,
    ),
    (
        "tanh_fast_parts",
        tanh_parts_quotient::<f32, Unfused>,
        libm::tanh,
        2.5,
    ),
    (
        "tanh_fast_parts fused",
        tanh_parts_quotient::<f32, Fused>,
        libm::tanh,
        2.5,
    ),
];

/// [`tanh_fast_parts`]'s quotient, as its users divide it.
fn tanh_parts_quotient<T: Scalar, M: MulAdd>(x: T) -> T {
    let (n, d) = tanh_fast_parts::<T, M>(x);
    n / d
}

/// Whether `FAST_CASES` measures `x` (see there).
fn fast_measured(x: f32) -> bool {
    x >= -F32.fast_exp_cap || x.is_nan()
}

/// Where the fast functions' `exp` switches: its cap, and the arguments whose `e^-|x|` is the
/// smallest normal number, rounds `1 + e` to 1, or sits at a rounding boundary of `n`.
const FAST_SWITCHES: [f32; 6] = [
    87.33,
    87.336_54,
    16.635_532, // e^-x < 2^-24: sigmoid rounds to 1
    9.010_913,  // tanh rounds to 1
    0.5 * core::f32::consts::LN_2,
    1.5 * core::f32::consts::LN_2,
];

#[test]
fn fast_f32_accuracy_on_a_dense_sample() {
    let around = FAST_SWITCHES.into_iter().flat_map(|s| {
        let bits = s.to_bits();
        (bits - 1000..=bits + 1000).flat_map(|b| [f32::from_bits(b), -f32::from_bits(b)])
    });
    for case in FAST_CASES {
        let inputs = dense_sample()
            .chain(around.clone())
            .filter(|&x| fast_measured(x));
        check_case(case, inputs, 3);
    }
}

/// Every `f32` in `[-20, 20]` (about 2.2 billion inputs skipped to one in 61, so 36 million):
/// the range a network's gate pre-activations live in, where both functions do their work. One
/// test per case of [`FAST_CASES`], by its name, so that the test harness runs them side by side
/// (each is tens of seconds in a debug build).
fn fast_f32_accuracy_on_the_working_range(name: &str) {
    let case = FAST_CASES
        .into_iter()
        .find(|case| case.0 == name)
        .unwrap_or_else(|| panic!("no fast case named {name}"));
    let end = 20.0f32.to_bits();
    let inputs = (0..=end)
        .step_by(61)
        .flat_map(|b| [f32::from_bits(b), -f32::from_bits(b)]);
    check_case(case, inputs, 3);
}

#[test]
fn fast_f32_accuracy_on_the_working_range_tanh() {
    fast_f32_accuracy_on_the_working_range("tanh_fast");
}

#[test]
fn fast_f32_accuracy_on_the_working_range_sigmoid() {
    fast_f32_accuracy_on_the_working_range("sigmoid_fast");
}

#[test]
fn fast_f32_accuracy_on_the_working_range_tanh_fused() {
    fast_f32_accuracy_on_the_working_range("tanh_fast fused");
}

#[test]
fn fast_f32_accuracy_on_the_working_range_sigmoid_fused() {
    fast_f32_accuracy_on_the_working_range("sigmoid_fast fused");
}

#[test]
fn fast_f32_accuracy_on_the_working_range_tanh_parts() {
    fast_f32_accuracy_on_the_working_range("tanh_fast_parts");
}

#[test]
fn fast_f32_accuracy_on_the_working_range_tanh_parts_fused() {
    fast_f32_accuracy_on_the_working_range("tanh_fast_parts fused");
}

#[test]
fn fast_f64_accuracy_on_random_arguments() {
    let mut rng = Rng::new(0x6661_7374);
    type Case64 = (&'static str, fn(f64) -> f64, fn(f64) -> f64, f64);
    let cases: [Case64; 6] = [
        ("tanh_fast", tanh_fast::<f64, Unfused>, libm::tanh, 3.0),
        (
            "tanh_fast_parts",
            tanh_parts_quotient::<f64, Unfused>,
            libm::tanh,
            3.0,
        ),
        (
            "tanh_fast_parts fused",
            tanh_parts_quotient::<f64, Fused>,
            libm::tanh,
            3.0,
        ),
        (
            "sigmoid_fast",
            sigmoid_fast::<f64, Unfused>,
            sigmoid_reference,
            3.5,
        ),
        ("tanh_fast fused", tanh_fast::<f64, Fused>, libm::tanh, 3.0),
        (
            "sigmoid_fast fused",
            sigmoid_fast::<f64, Fused>,
            sigmoid_reference,
            3.5,
        ),
    ];
    for (name, f, reference, bound) in cases {
        let mut worst = (0.0, 0.0);
        for i in 0..200_000 {
            let x = if i % 2 == 0 {
                rng.uniform(-700.0, 700.0)
            } else {
                let magnitude = libm::exp(rng.uniform(-27.6, libm::log(700.0)));
                if rng.next_u64() & 1 == 0 {
                    magnitude
                } else {
                    -magnitude
                }
            };
            let error = error64(f(x), reference(x));
            if error > worst.0 {
                worst = (error, x);
            }
        }
        std::println!("{name}: {} ulp at {:e}", worst.0, worst.1);
        assert!(
            worst.0 <= bound,
            "{name}: {} ulp at {:e}, bound {bound}",
            worst.0,
            worst.1
        );
    }
}

#[test]
fn fast_functions_flush_and_saturate() {
    fn check<T: Scalar, M: MulAdd>() {
        let (zero, one, inf, nan) = (T::zero(), T::one(), T::infinity(), T::nan());
        let big = T::from_f64(1e30);
        let tanh = tanh_fast::<T, M>;
        let sigmoid = sigmoid_fast::<T, M>;
        for x in [nan, -nan] {
            assert!(tanh(x).is_nan() && sigmoid(x).is_nan(), "{}", T::NAME);
        }
        assert!(tanh(zero) == zero && tanh(zero).is_sign_positive());
        assert!(tanh(-zero) == zero && tanh(-zero).is_sign_negative());
        let tiny = T::min_positive_value();
        assert_eq!(tanh(tiny), tiny);
        assert_eq!(tanh(-tiny), -tiny);
        for (x, want) in [(inf, one), (big, one), (T::from_f64(40.0), one)] {
            assert_eq!(tanh(x), want, "{}", T::NAME);
            assert_eq!(tanh(-x), -want, "{}", T::NAME);
        }
        let half = T::from_f64(0.5);
        assert_eq!(sigmoid(zero), half);
        assert_eq!(sigmoid(-zero), half);
        for (x, want) in [
            (inf, one),
            (-inf, zero),
            (big, one),
            (-big, zero),
            (T::from_f64(1e4), one),
            (T::from_f64(-1e4), zero),
            (T::max_value(), one),
            (T::min_value(), zero),
        ] {
            assert_eq!(sigmoid(x), want, "{} at {x}", T::NAME);
        }
        // Past the cap the exact value is below the smallest normal number: flushed to 0.
        let cap = T::MATH.fast_exp_cap;
        assert!(sigmoid(-cap) >= T::min_positive_value());
        assert_eq!(sigmoid(-cap - T::from_f64(0.01)), zero);
    }
    check::<f32, Unfused>();
    check::<f64, Unfused>();
    check::<f32, Fused>();
    check::<f64, Fused>();

    // f32: every input below the cap flushes, and its exact value is below 1.2e-38.
    let cap = F32.fast_exp_cap;
    for b in (cap.to_bits() + 1..=f32::INFINITY.to_bits()).step_by(97) {
        let x = -f32::from_bits(b);
        assert_eq!(sigmoid_fast::<f32, Unfused>(x), 0.0, "{x}");
        assert_eq!(sigmoid_fast::<f32, Fused>(x), 0.0, "{x}");
        assert!(sigmoid_reference(f64::from(x)) < 1.2e-38, "{x}");
    }
    // and results just above the cap are normal numbers.
    for b in cap.to_bits() - 1000..=cap.to_bits() {
        let x = -f32::from_bits(b);
        assert!(sigmoid_fast::<f32, Unfused>(x).is_normal(), "{x}");
        assert!(sigmoid_fast::<f32, Fused>(x).is_normal(), "{x}");
    }
}

/// The worst error of `CASES[case]` over every `f32` input (2^32 of them), printed, and checked
/// against its bound. A few minutes per function in release on two threads (exp and sigmoid
/// spend most of it on inputs whose results are subnormal: the x86 slow path).
#[cfg(feature = "std")]
fn exhaustive(case: usize) {
    exhaustive_of(CASES[case], |_| true, 1);
}

/// The worst error of `case` over every `f32` input that `measured` accepts, checked against
/// its bound and at most `max_distance` ulps from the correctly rounded value.
#[cfg(feature = "std")]
fn exhaustive_of(case: Case, measured: fn(f32) -> bool, max_distance: i64) {
    use std::println;
    let (name, f, reference, bound) = case;
    let halves = [0u32, 1u32 << 31].map(|start| {
        std::thread::spawn(move || {
            let inputs = (start..=start + ((1u32 << 31) - 1))
                .map(f32::from_bits)
                .filter(move |&x| measured(x));
            worst32(f, reference, inputs)
        })
    });
    let [a, b] = halves.map(|h| h.join().expect("worker panicked"));
    let worst = a.merge(b);
    println!(
        "{name}: max error {:.6} ulp at {:e} ({:#x}); max distance to the correctly rounded value {} ulp at {:e} ({:#x}); {} results not correctly rounded",
        worst.error,
        worst.error_at,
        worst.error_at.to_bits(),
        worst.distance,
        worst.distance_at,
        worst.distance_at.to_bits(),
        worst.misrounded
    );
    assert!(
        worst.error <= bound && worst.distance <= max_distance,
        "{name}: {worst:?}, bound {bound}"
    );
}

// Run by hand: cargo test --release -p monograd-runtime --lib exhaustive -- --ignored --nocapture
#[cfg(feature = "std")]
#[test]
#[ignore = "slow: run in release with --ignored --nocapture"]
fn exhaustive_f32_exp() {
    exhaustive(0);
}

#[cfg(feature = "std")]
#[test]
#[ignore = "slow: run in release with --ignored --nocapture"]
fn exhaustive_f32_tanh() {
    exhaustive(1);
}

#[cfg(feature = "std")]
#[test]
#[ignore = "slow: run in release with --ignored --nocapture"]
fn exhaustive_f32_sigmoid() {
    exhaustive(2);
}

#[cfg(feature = "std")]
#[test]
#[ignore = "slow: run in release with --ignored --nocapture"]
fn exhaustive_f32_erf() {
    exhaustive(3);
}

#[cfg(feature = "std")]
#[test]
#[ignore = "slow: run in release with --ignored --nocapture"]
fn exhaustive_f32_tanh_fast() {
    exhaustive_of(FAST_CASES[0], fast_measured, 3);
}

#[cfg(feature = "std")]
#[test]
#[ignore = "slow: run in release with --ignored --nocapture"]
fn exhaustive_f32_sigmoid_fast() {
    exhaustive_of(FAST_CASES[1], fast_measured, 3);
}

#[cfg(feature = "std")]
#[test]
#[ignore = "slow: run in release with --ignored --nocapture"]
fn exhaustive_f32_tanh_fast_fused() {
    exhaustive_of(FAST_CASES[2], fast_measured, 3);
}

#[cfg(feature = "std")]
#[test]
#[ignore = "slow: run in release with --ignored --nocapture"]
fn exhaustive_f32_sigmoid_fast_fused() {
    exhaustive_of(FAST_CASES[3], fast_measured, 3);
}

#[cfg(feature = "std")]
#[test]
#[ignore = "slow: run in release with --ignored --nocapture"]
fn exhaustive_f32_tanh_fast_parts() {
    exhaustive_of(FAST_CASES[4], fast_measured, 3);
}

#[cfg(feature = "std")]
#[test]
#[ignore = "slow: run in release with --ignored --nocapture"]
fn exhaustive_f32_tanh_fast_parts_fused() {
    exhaustive_of(FAST_CASES[5], fast_measured, 3);
}
