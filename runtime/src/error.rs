//! The crate's error type for the fallible parts of the API.
//!
//! Shapes known at compile time never produce an error: they are types. What remains fallible is
//! what arrives at run time: slice lengths in the slice-based entry points, class labels,
//! hyper-parameters, and numbers that turn out NaN or infinite.

use core::fmt;

/// What went wrong, and where.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A slice handed to a slice-based function has the wrong length.
    Length {
        /// Which argument, e.g. `"gemm: C"`.
        what: &'static str,
        /// The length the other arguments imply.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// A class label is not below the number of classes.
    LabelOutOfRange {
        /// Which loss or function saw it.
        what: &'static str,
        /// Index of the sample in the batch.
        sample: usize,
        /// The label given.
        label: usize,
        /// The number of classes (labels must be `< classes`).
        classes: usize,
    },
    /// A target value is outside what the loss accepts (e.g. a binary label that is not 0 or 1).
    InvalidTarget {
        /// Which loss saw it.
        what: &'static str,
        /// Flat index of the offending value in the batch of targets.
        index: usize,
        /// The value given.
        value: f64,
        /// What the loss accepts, e.g. `"0 or 1"`.
        expected: &'static str,
    },
    /// A loss, gradient or statistic is NaN or infinite.
    NonFinite {
        /// What was computed, e.g. `"loss"`.
        what: &'static str,
        /// The value found (NaN or +-inf).
        value: f64,
    },
    /// A value of a training step (a gradient, a parameter after its update, an optimizer or
    /// normalization state value) is NaN or infinite; the step that found it changed nothing.
    NonFiniteValue {
        /// What the value is, e.g. `"gradient"` or `"Adam: exp_avg_sq"`.
        what: &'static str,
        /// The parameter or state tensor it belongs to (its state-dict name), or `""` when the
        /// caller only knows a flat index (a bare optimizer; see [`Error::in_tensors`]).
        tensor: &'static str,
        /// Index in `tensor` (row-major), or in the whole flat buffer when `tensor` is `""`.
        index: usize,
        /// The value found (NaN or +-inf).
        value: f64,
    },
    /// A hyper-parameter or configuration value is out of its valid range.
    InvalidParameter {
        /// The parameter, e.g. `"Adam: lr"`.
        name: &'static str,
        /// The value given.
        value: f64,
        /// The valid range, e.g. `">= 0"`.
        expected: &'static str,
    },
    /// An operation cannot run in the current configuration, e.g. batch statistics of one sample.
    Unsupported {
        /// The operation.
        what: &'static str,
        /// Why, and what to do instead.
        reason: &'static str,
    },
    /// A collective operation of a data-parallel step (an all-reduce across threads or MPI
    /// ranks) could not complete; the step that called it changed nothing.
    Collective {
        /// The operation, e.g. `"all-reduce of the parameter gradient"`.
        operation: &'static str,
        /// Why, e.g. `"a peer did not arrive within the timeout"`.
        reason: &'static str,
        /// The worker or rank concerned, when known.
        peer: Option<usize>,
    },
    /// A weights file or checkpoint could not be read or written: names the file (when there is
    /// one) and the tensor or field, and says what was expected and what was found.
    #[cfg(feature = "alloc")]
    Weights(alloc::boxed::Box<crate::io::WeightsError>),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Length {
                what,
                expected,
                found,
            } => write!(
                f,
                "{what}: expected a slice of length {expected}, found length {found}"
            ),
            Error::LabelOutOfRange {
                what,
                sample,
                label,
                classes,
            } => write!(
                f,
                "{what}: label {label} of sample {sample} is out of range for {classes} classes \
                 (labels must be 0..{classes})"
            ),
            Error::InvalidTarget {
                what,
                index,
                value,
                expected,
            } => write!(
                f,
                "{what}: target value {value} at index {index} is invalid (expected {expected})"
            ),
            Error::NonFinite { what, value } => write!(
                f,
                "{what} is not finite ({value}); lower the learning rate, check the inputs for \
                 NaN/Inf, or clip gradients"
            ),
            Error::NonFiniteValue {
                what,
                tensor,
                index,
                value,
            } => {
                if tensor.is_empty() {
                    write!(f, "{what} at flat index {index} would be {value}")?;
                } else {
                    write!(f, "{what} of `{tensor}` at index {index} would be {value}")?;
                }
                write!(
                    f,
                    "; the step was rejected and nothing changed (lower the learning rate, check \
                     the inputs for NaN/Inf, or clip gradients)"
                )
            }
            Error::InvalidParameter {
                name,
                value,
                expected,
            } => write!(f, "{name} = {value} is invalid (expected {expected})"),
            Error::Unsupported { what, reason } => write!(f, "{what}: {reason}"),
            Error::Collective {
                operation,
                reason,
                peer,
            } => match peer {
                Some(peer) => write!(f, "{operation} failed: {reason} (peer {peer})"),
                None => write!(f, "{operation} failed: {reason}"),
            },
            #[cfg(feature = "alloc")]
            Error::Weights(e) => write!(f, "{e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

impl Error {
    /// Names the tensor of a [`Error::NonFiniteValue`] that only has a flat index, given the
    /// layout of the flat buffer it indexes (a network's `PARAM_TENSORS`); other errors pass
    /// through unchanged.
    pub fn in_tensors(self, tensors: &[crate::TensorInfo]) -> Self {
        match self {
            Error::NonFiniteValue {
                what,
                tensor: "",
                index,
                value,
            } => match tensors
                .iter()
                .find(|t| (t.offset..t.offset + t.len()).contains(&index))
            {
                Some(t) => Error::NonFiniteValue {
                    what,
                    tensor: t.name,
                    index: index - t.offset,
                    value,
                },
                None => Error::NonFiniteValue {
                    what,
                    tensor: "",
                    index,
                    value,
                },
            },
            other => other,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Returns [`Error::Length`] unless `found == expected`.
#[inline]
pub fn check_len(what: &'static str, expected: usize, found: usize) -> Result<()> {
    if expected == found {
        Ok(())
    } else {
        Err(Error::Length {
            what,
            expected,
            found,
        })
    }
}

/// Returns [`Error::NonFinite`] unless `value` is finite; passes the value through.
#[inline]
pub fn check_finite<T: crate::Scalar>(what: &'static str, value: T) -> Result<T> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::NonFinite {
            what,
            value: value.to_f64(),
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn messages_say_what_and_where() {
        let e = Error::LabelOutOfRange {
            what: "softmax_cross_entropy",
            sample: 3,
            label: 12,
            classes: 10,
        };
        assert_eq!(
            e.to_string(),
            "softmax_cross_entropy: label 12 of sample 3 is out of range for 10 classes \
             (labels must be 0..10)"
        );
        assert_eq!(
            check_len("gemm: C", 6, 5).unwrap_err().to_string(),
            "gemm: C: expected a slice of length 6, found length 5"
        );
        assert!(check_finite("loss", f32::NAN).is_err());
        assert_eq!(check_finite("loss", 1.5f64), Ok(1.5));
    }
}
