//! The 16-bit float formats of weights files, IEEE 754 binary16 (`F16`) and bfloat16 (`BF16`),
//! decoded to `f64` at expansion, exactly. The runtime's loader has the same functions
//! (`runtime/src/io/narrow.rs`): a proc-macro crate cannot share them without a third crate, so
//! both are held to the `half` crate on all 65,536 bit patterns in their tests instead (`half`
//! is a dev-dependency only: with its `zerocopy` derive it took about a third of a clean build).

/// The value of the binary16 number with bits `bits` (1 sign, 5 exponent, 10 fraction bits).
pub fn f16_to_f64(bits: u16) -> f64 {
    let magnitude = match (bits >> 10) & 0x1f {
        // Zero and subnormals: fraction * 2^-24.
        0 => f64::from(bits & 0x3ff) * pow2(-24),
        0x1f if bits & 0x3ff == 0 => f64::INFINITY,
        0x1f => f64::NAN,
        // Normal numbers: (1024 + fraction) * 2^(exponent - 15 - 10).
        exponent => f64::from(0x400 | (bits & 0x3ff)) * pow2(i32::from(exponent) - 25),
    };
    if bits & 0x8000 == 0 {
        magnitude
    } else {
        -magnitude
    }
}

/// The value of the bfloat16 number with bits `bits`: the upper half of an `f32`.
pub fn bf16_to_f64(bits: u16) -> f64 {
    f64::from(f32::from_bits(u32::from(bits) << 16))
}

/// `2^e` for the exponents a binary16 needs (`-24..=5`), built from its bits.
fn pow2(e: i32) -> f64 {
    f64::from_bits(((1023 + e) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    #[test]
    fn f16_matches_half_on_every_bit_pattern() {
        for bits in 0..=u16::MAX {
            let expected = half::f16::from_bits(bits).to_f64();
            assert!(
                same(f16_to_f64(bits), expected),
                "{bits:#06x}: {} vs {expected}",
                f16_to_f64(bits)
            );
        }
    }

    #[test]
    fn bf16_matches_half_on_every_bit_pattern() {
        for bits in 0..=u16::MAX {
            let expected = half::bf16::from_bits(bits).to_f64();
            assert!(same(bf16_to_f64(bits), expected), "{bits:#06x}");
        }
    }

    #[test]
    fn known_values() {
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(f16_to_f64(0x7bff), 65504.0);
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
        assert_eq!(f16_to_f64(0x8000).to_bits(), (-0.0f64).to_bits());
        assert_eq!(f16_to_f64(0xfc00), f64::NEG_INFINITY);
        assert!(f16_to_f64(0x7e00).is_nan());
        assert_eq!(bf16_to_f64(0x3f80), 1.0);
        assert_eq!(bf16_to_f64(0xc040), -3.0);
    }
}
