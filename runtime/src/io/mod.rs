//! Weights in and out: safetensors files with PyTorch `state_dict` names and layouts, and
//! training checkpoints that resume bit-identically.
//!
//! ## Weights
//! A network's file holds every parameter and every piece of persistent state under the names of
//! its `TensorInfo` tables (`fc1.weight`, `bn1.running_mean`, ...) in the network's element type,
//! plus one int64 scalar per BatchNorm, `X.num_batches_tracked`, as PyTorch writes it. Loading
//! behaves like `load_state_dict`:
//!
//! - strict by default ([`LoadOptions`]): a tensor missing from the file, or one the network
//!   lacks, is an error; non-strict loading skips both and lists them in the [`LoadReport`];
//! - F32, F64, F16 and BF16 tensors load into `f32` and `f64` networks (converted with
//!   round-to-nearest); other dtypes are an error;
//! - Weight Norm layers are written under the names of
//!   `torch.nn.utils.parametrizations.weight_norm` (`X.parametrizations.weight.original0` for
//!   `g`, `original1` for `v`); the legacy names `X.weight_g` / `X.weight_v` are accepted too
//!   ([`canonical_name`]);
//! - NaN and infinite values are an error unless [`LoadOptions::allow_non_finite`];
//! - every error is an [`Error::Weights`] naming the file and tensor,
//!   with what was expected and what was found;
//! - the load is two-phase: the whole file is parsed and checked against the network before any
//!   element is written, so a failed load leaves the network exactly as it was. Nothing is
//!   allocated in proportion to a size the file declares: data converts straight from the
//!   input bytes into the network's buffers.
//!
//! The functions work on raw parts ([`Tensors`], [`Counters`]) so they are usable without the
//! macro; a generated network implements [`Persistent`] and has inherent methods
//! (`to_safetensors`, `from_safetensors`, `load_safetensors`, `save`, `load`, `save_checkpoint`,
//! `load_checkpoint`) that call them.
//!
//! ## Checkpoints
//! See [`checkpoint`]: one safetensors file with the network, the optimizer's buffers and step
//! counter, the learning rate, the epoch and step counters and the data shuffler's state.
//!
//! ## Files
//! With feature `std`, saves are atomic ([`write_atomic`]): the bytes go to a temporary file in
//! the same directory, which is flushed, synced and renamed over the target, so a failed save
//! leaves the previous file intact.

pub mod checkpoint;
mod error;
#[cfg(feature = "std")]
mod file;
mod format;
mod narrow;

use alloc::borrow::Cow;
use alloc::vec::Vec;

pub use checkpoint::{Progress, ShufflerState};
pub use error::{WeightsError, WeightsErrorKind};
#[cfg(feature = "std")]
pub use file::{read_file, write_atomic, write_atomic_with};
pub use format::{canonical_name, LoadOptions, LoadReport};
/// File paths (re-exported so generated code in a `no_std` crate can name them when the
/// runtime has `std`).
#[cfg(feature = "std")]
pub use std::path::Path;

use crate::{Error, Result, Scalar, TensorInfo};
use format::{Dest, Source, SourceData, Target};

/// Tensors laid out in one flat buffer, as a network's `PARAM_TENSORS` or `STATE_TENSORS`
/// describe its `params` or `state`.
#[derive(Clone, Copy, Debug)]
pub struct Tensors<'a, T> {
    /// Name, offset and shape of each tensor, by increasing offset.
    pub tensors: &'static [TensorInfo],
    /// The flat buffer.
    pub data: &'a [T],
}

/// [`Tensors`] to load into.
#[derive(Debug)]
pub struct TensorsMut<'a, T> {
    /// Name, offset and shape of each tensor, by increasing offset.
    pub tensors: &'static [TensorInfo],
    /// The flat buffer.
    pub data: &'a mut [T],
}

/// Named int64 scalars (PyTorch's `num_batches_tracked`).
#[derive(Clone, Copy, Debug)]
pub struct Counters<'a> {
    /// One name per value.
    pub names: &'static [&'static str],
    /// The values.
    pub values: &'a [u64],
}

/// [`Counters`] to load into.
#[derive(Debug)]
pub struct CountersMut<'a> {
    /// One name per value.
    pub names: &'static [&'static str],
    /// The values.
    pub values: &'a mut [u64],
}

/// Serializes tensor groups and counters to safetensors bytes (no `__metadata__`).
///
/// # Errors
/// [`Error::Length`] if a table does not fit its buffer or the counters' names and values
/// differ in number; [`Error::Weights`] if two tensors share a name.
pub fn to_safetensors<T: Scalar>(
    groups: &[Tensors<'_, T>],
    counters: Counters<'_>,
) -> Result<Vec<u8>> {
    let sources = sources(groups, counters)?;
    format::write(&sources, Vec::new())
}

/// Loads safetensors `bytes` into tensor groups and counters (see the [module docs](self) for
/// the rules). Either everything named in the report is loaded, or nothing changes.
///
/// # Errors
/// [`Error::Weights`] for any problem with the file (naming the tensor); [`Error::Length`] if a
/// table does not fit its buffer.
pub fn load_safetensors<T: Scalar>(
    bytes: &[u8],
    groups: &mut [TensorsMut<'_, T>],
    counters: CountersMut<'_>,
    options: LoadOptions,
) -> Result<LoadReport> {
    let mut targets = targets(groups, counters)?;
    let checked = format::check(bytes, &targets, options)?;
    Ok(checked.apply(&mut targets))
}

pub(crate) fn sources<'a, T: Scalar>(
    groups: &[Tensors<'a, T>],
    counters: Counters<'a>,
) -> Result<Vec<Source<'a, T>>> {
    let mut out = Vec::new();
    for group in groups {
        check_table(group.tensors, group.data.len())?;
        for info in group.tensors {
            out.push(Source {
                name: Cow::Borrowed(info.name),
                shape: Cow::Borrowed(info.shape),
                data: SourceData::Float(&group.data[info.offset..info.offset + info.len()]),
            });
        }
    }
    crate::error::check_len(
        "counters: values",
        counters.names.len(),
        counters.values.len(),
    )?;
    for (&name, &value) in counters.names.iter().zip(counters.values) {
        out.push(Source {
            name: Cow::Borrowed(name),
            shape: Cow::Borrowed(&[]),
            data: SourceData::Counter(value),
        });
    }
    Ok(out)
}

pub(crate) fn targets<'a, T: Scalar>(
    groups: &'a mut [TensorsMut<'_, T>],
    counters: CountersMut<'a>,
) -> Result<Vec<Target<'a, T>>> {
    let mut out = Vec::new();
    for group in groups.iter_mut() {
        float_targets(group.tensors, &mut *group.data, Cow::Borrowed, &mut out)?;
    }
    crate::error::check_len(
        "counters: values",
        counters.names.len(),
        counters.values.len(),
    )?;
    for (&name, value) in counters.names.iter().zip(counters.values.iter_mut()) {
        out.push(Target {
            name: Cow::Borrowed(name),
            shape: Cow::Borrowed(&[]),
            dest: Dest::Counter(value),
        });
    }
    Ok(out)
}

/// One target per tensor of `tensors` in `data`, named by `name`.
pub(crate) fn float_targets<'a, T>(
    tensors: &'static [TensorInfo],
    data: &'a mut [T],
    name: impl Fn(&'static str) -> Cow<'static, str>,
    out: &mut Vec<Target<'a, T>>,
) -> Result<()> {
    check_table(tensors, data.len())?;
    let mut rest = data;
    let mut position = 0;
    for info in tensors {
        let (_, tail) = core::mem::take(&mut rest).split_at_mut(info.offset - position);
        let (slice, tail) = tail.split_at_mut(info.len());
        rest = tail;
        position = info.offset + info.len();
        out.push(Target {
            name: name(info.name),
            shape: Cow::Borrowed(info.shape),
            dest: Dest::Float(slice),
        });
    }
    Ok(())
}

/// `Ok` if the tensors are in increasing, non-overlapping order inside a buffer of `len`.
fn check_table(tensors: &[TensorInfo], len: usize) -> Result<()> {
    let mut end = 0;
    for info in tensors {
        if info.offset < end || info.offset + info.len() > len {
            return Err(Error::Length {
                what: "tensor table: a tensor overlaps another or its buffer's end",
                expected: len,
                found: info.offset + info.len(),
            });
        }
        end = info.offset + info.len();
    }
    Ok(())
}

/// A network that can be saved and loaded: implemented by every type `network!` generates.
///
/// The generic functions [`network_to_safetensors`] and [`network_load_safetensors`] and the
/// checkpoint functions work through it.
pub trait Persistent: Sized {
    /// Element type of every tensor.
    type Element: Scalar;
    /// The parameters' names, offsets and shapes.
    const PARAM_TENSORS: &'static [TensorInfo];
    /// The persistent state's names, offsets and shapes.
    const STATE_TENSORS: &'static [TensorInfo];
    /// Names of the int64 counters (`X.num_batches_tracked`).
    const COUNTER_NAMES: &'static [&'static str];
    /// A network with every tensor zero (what a file is loaded into).
    fn zeroed_network() -> Self;
    /// Parameters, state and counters, flat.
    fn persistent_parts(&self) -> (&[Self::Element], &[Self::Element], &[u64]);
    /// Parameters, state and counters, flat, mutably.
    fn persistent_parts_mut(&mut self) -> (&mut [Self::Element], &mut [Self::Element], &mut [u64]);
    /// The generator of the network's dropout masks, when it has one (saved by checkpoints).
    fn dropout_rng(&self) -> Option<&crate::Rng> {
        None
    }
    /// The generator of the network's dropout masks, mutably.
    fn dropout_rng_mut(&mut self) -> Option<&mut crate::Rng> {
        None
    }
}

/// Every tensor and counter of `net` as safetensors bytes.
///
/// # Errors
/// Only for a network whose tables do not fit its buffers (a bug).
pub fn network_to_safetensors<N: Persistent>(net: &N) -> Result<Vec<u8>> {
    let (params, state, counters) = net.persistent_parts();
    to_safetensors(
        &[
            Tensors {
                tensors: N::PARAM_TENSORS,
                data: params,
            },
            Tensors {
                tensors: N::STATE_TENSORS,
                data: state,
            },
        ],
        Counters {
            names: N::COUNTER_NAMES,
            values: counters,
        },
    )
}

/// Owned bytes of a file (a name generated code can use without `extern crate alloc`).
pub type Bytes = Vec<u8>;

/// [`network_to_safetensors`] for a network whose tables are known to fit (generated code:
/// the macro computes the tables and the buffers from the same layout).
///
/// # Panics
/// Only if the tables do not fit the buffers, a bug in the caller.
pub fn network_bytes<N: Persistent>(net: &N) -> Bytes {
    match network_to_safetensors(net) {
        Ok(bytes) => bytes,
        Err(e) => panic!("monograd: a network's tensor tables do not fit its buffers (bug): {e}"),
    }
}

/// Loads safetensors `bytes` into `net`; on error `net` is unchanged.
///
/// # Errors
/// [`Error::Weights`], naming the tensor, for any problem with the file.
pub fn network_load_safetensors<N: Persistent>(
    net: &mut N,
    bytes: &[u8],
    options: LoadOptions,
) -> Result<LoadReport> {
    let (params, state, counters) = net.persistent_parts_mut();
    load_safetensors(
        bytes,
        &mut [
            TensorsMut {
                tensors: N::PARAM_TENSORS,
                data: params,
            },
            TensorsMut {
                tensors: N::STATE_TENSORS,
                data: state,
            },
        ],
        CountersMut {
            names: N::COUNTER_NAMES,
            values: counters,
        },
        options,
    )
}

/// A new network from safetensors `bytes` (strict).
///
/// # Errors
/// As [`network_load_safetensors`].
pub fn network_from_safetensors<N: Persistent>(bytes: &[u8]) -> Result<N> {
    let mut net = N::zeroed_network();
    network_load_safetensors(&mut net, bytes, LoadOptions::default())?;
    Ok(net)
}

/// Saves `net` to `path` atomically.
///
/// # Errors
/// [`Error::Weights`] naming the file if it cannot be written; the previous file is intact.
#[cfg(feature = "std")]
pub fn save_network<N: Persistent>(net: &N, path: impl AsRef<std::path::Path>) -> Result<()> {
    write_atomic(path.as_ref(), &network_to_safetensors(net)?)
}

/// A new network from the safetensors file at `path` (strict).
///
/// # Errors
/// [`Error::Weights`] naming the file and the tensor.
#[cfg(feature = "std")]
pub fn load_network<N: Persistent>(path: impl AsRef<std::path::Path>) -> Result<N> {
    let path = path.as_ref();
    let bytes = read_file(path)?;
    network_from_safetensors(&bytes).map_err(|e| error::with_file(e, &path.display().to_string()))
}

#[cfg(test)]
mod tests;
