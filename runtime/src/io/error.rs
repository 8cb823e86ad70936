//! The error of a weights file or checkpoint: which file, which tensor or field, what was
//! expected and what was found.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use core::fmt;

use crate::Error;

/// What kind of problem a [`WeightsError`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WeightsErrorKind {
    /// The bytes are not a well-formed safetensors file (truncated, corrupt header, offsets
    /// that do not match the data).
    Format,
    /// The network has a tensor that the file lacks (strict loading).
    Missing,
    /// The file has a tensor that the network lacks (strict loading).
    Unexpected,
    /// The file names a tensor twice (directly, or through both Weight Norm spellings).
    Duplicate,
    /// A tensor's element type is not one that loads into the network.
    Dtype,
    /// A tensor's shape differs from the network's.
    Shape,
    /// A tensor's data has another byte length than its shape and dtype imply.
    ByteLength,
    /// A tensor holds NaN or an infinity (or a value out of range once converted).
    NonFinite,
    /// A counter (`num_batches_tracked`, a step) is negative or out of range.
    Counter,
    /// A checkpoint's metadata is missing, malformed, or belongs to another configuration.
    Metadata,
    /// Reading or writing the file failed.
    Io,
}

impl WeightsErrorKind {
    fn describe(self) -> &'static str {
        match self {
            WeightsErrorKind::Format => "malformed safetensors data",
            WeightsErrorKind::Missing => "missing from the file",
            WeightsErrorKind::Unexpected => "not a tensor of this network",
            WeightsErrorKind::Duplicate => "appears more than once",
            WeightsErrorKind::Dtype => "unsupported dtype",
            WeightsErrorKind::Shape => "wrong shape",
            WeightsErrorKind::ByteLength => "wrong byte length",
            WeightsErrorKind::NonFinite => "value is not finite",
            WeightsErrorKind::Counter => "invalid counter",
            WeightsErrorKind::Metadata => "checkpoint metadata does not match",
            WeightsErrorKind::Io => "I/O error",
        }
    }
}

/// A weights file or checkpoint could not be read or written.
///
/// Displays as `file: tensor `name`: problem: expected ..., found ...` (the file and the tensor
/// when known).
#[derive(Clone, Debug, PartialEq)]
pub struct WeightsError {
    /// The kind of problem.
    pub kind: WeightsErrorKind,
    /// The file, when the data came from or went to one.
    pub file: Option<String>,
    /// The tensor, or the metadata field (`__metadata__.NAME`), concerned.
    pub tensor: Option<String>,
    /// What the network (or the format) expects.
    pub expected: String,
    /// What the file holds.
    pub found: String,
}

impl WeightsError {
    /// An error about `tensor` (a name in the file or the network).
    pub fn tensor(
        kind: WeightsErrorKind,
        tensor: &str,
        expected: impl ToString,
        found: impl ToString,
    ) -> Self {
        WeightsError {
            kind,
            file: None,
            tensor: Some(tensor.to_string()),
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }

    /// An error about the data as a whole.
    pub fn whole(kind: WeightsErrorKind, expected: impl ToString, found: impl ToString) -> Self {
        WeightsError {
            kind,
            file: None,
            tensor: None,
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }

    /// The same error, naming `file`.
    pub fn in_file(mut self, file: impl ToString) -> Self {
        self.file = Some(file.to_string());
        self
    }
}

impl fmt::Display for WeightsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}: ")?;
        }
        if let Some(tensor) = &self.tensor {
            write!(f, "tensor `{tensor}`: ")?;
        }
        write!(
            f,
            "{}: expected {}, found {}",
            self.kind.describe(),
            self.expected,
            self.found
        )
    }
}

impl From<WeightsError> for Error {
    fn from(e: WeightsError) -> Self {
        Error::Weights(Box::new(e))
    }
}

/// Adds the file name to a [`Error::Weights`] (other errors pass through).
#[cfg(feature = "std")]
pub(crate) fn with_file(e: Error, file: &str) -> Error {
    match e {
        Error::Weights(mut w) => {
            w.file = Some(file.to_string());
            Error::Weights(w)
        }
        other => other,
    }
}
