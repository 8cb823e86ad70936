//! Training checkpoints: everything needed to resume training bit-identically, in one
//! safetensors file.
//!
//! | content | where |
//! |---|---|
//! | parameters, persistent state, `X.num_batches_tracked` | tensors, as in a weights file |
//! | optimizer buffers | tensors `optimizer.<buffer>.<parameter tensor>` (PyTorch's buffer names, e.g. `optimizer.exp_avg.fc.weight`), one per parameter tensor, with its shape |
//! | optimizer kind and hyper-parameters | `__metadata__`: `optimizer`, `optimizer.<name>` (see [`Describe`]) |
//! | optimizer step counter, learning rate | `__metadata__`: `optimizer.steps`, `optimizer.lr` |
//! | epoch and step counters | `__metadata__`: `epoch`, `step` ([`Progress`]) |
//! | data shuffler | `__metadata__`: `shuffler.rng` (four u64); tensor `shuffler.order` (int64) |
//! | the network's dropout generator, if it has one | `__metadata__`: `network.dropout_rng` (four u64) |
//! | format | `__metadata__`: `format` = `monograd.checkpoint`, `version` = `1`, `element` |
//!
//! Numbers in the metadata are decimal strings; `f64` values use Rust's shortest round-trip
//! form, so they restore bit-exactly. Learning-rate schedules hold no state (they are functions
//! of the optimizer's step counter or the epoch), so the counters are the schedule's position.
//!
//! Loading checks everything first (the network's tensors, the optimizer's kind and each
//! hyper-parameter, naming the first that differs; the buffers; the counters; the shuffler's
//! order, which must be a permutation) and only then writes: a failed load changes nothing.

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use super::error::{WeightsError, WeightsErrorKind as Kind};
use super::format::{self as fmt, Dest, Source, SourceData, Target};
use super::{float_targets, sources, targets, Counters, CountersMut, LoadOptions, Persistent};
use super::{Tensors, TensorsMut};
use crate::optim::{Describe, Optimizer};
use crate::train::MiniBatches;
use crate::{Result, Rng, Scalar};

const FORMAT: &str = "monograd.checkpoint";
const VERSION: &str = "1";

/// Where training stands, besides the network and the optimizer: the caller's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Completed epochs (the position of a per-epoch schedule).
    pub epoch: u64,
    /// Completed steps, as the training loop counts them.
    pub step: u64,
}

/// A data shuffler whose position a checkpoint saves: [`MiniBatches`] implements it.
pub trait ShufflerState {
    /// The generator and the current order of the samples.
    fn shuffler_state(&self) -> (&Rng, &[usize]);
    /// Restores both; `order` has been checked to be a permutation of the right length.
    fn restore_checked(&mut self, rng: Rng, order: &[usize]);
}

impl<X: Copy, Y: Copy, const B: usize> ShufflerState for MiniBatches<X, Y, B> {
    fn shuffler_state(&self) -> (&Rng, &[usize]) {
        MiniBatches::shuffler_state(self)
    }
    fn restore_checked(&mut self, rng: Rng, order: &[usize]) {
        let (self_rng, self_order) = self.shuffler_parts_mut();
        *self_rng = rng;
        self_order.copy_from_slice(order);
    }
}

fn optimizer_name(buffer: &str, tensor: &str) -> Cow<'static, str> {
    Cow::Owned(format!("optimizer.{buffer}.{tensor}"))
}

/// A checkpoint of `net`, `optimizer`, `progress` and (optionally) the shuffler, as bytes.
///
/// # Errors
/// [`crate::Error::Length`] if the network's parameter count is not the optimizer's `P`.
pub fn to_safetensors<const P: usize, N, O>(
    net: &N,
    optimizer: &O,
    progress: Progress,
    shuffler: Option<&dyn ShufflerState>,
) -> Result<Vec<u8>>
where
    N: Persistent,
    O: Optimizer<N::Element, P> + Describe,
{
    let (params, state, counters) = net.persistent_parts();
    crate::error::check_len("checkpoint: network parameters", P, params.len())?;
    let mut sources = sources(
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
    )?;
    for index in 0..optimizer.state_buffer_count() {
        let Some((buffer, values)) = optimizer.state_buffer(index) else {
            continue;
        };
        for info in N::PARAM_TENSORS {
            sources.push(Source {
                name: optimizer_name(buffer, info.name),
                shape: Cow::Borrowed(info.shape),
                data: SourceData::Float(info.slice(values)),
            });
        }
    }

    let mut metadata: Vec<(String, String)> = vec![
        ("format".into(), FORMAT.into()),
        ("version".into(), VERSION.into()),
        ("element".into(), N::Element::NAME.into()),
        ("optimizer".into(), optimizer.kind().into()),
        ("optimizer.steps".into(), optimizer.steps().to_string()),
        ("optimizer.lr".into(), optimizer.learning_rate().to_string()),
        ("epoch".into(), progress.epoch.to_string()),
        ("step".into(), progress.step.to_string()),
    ];
    optimizer.hyper_parameters(&mut |name, value| {
        metadata.push((format!("optimizer.{name}"), value.to_string()));
    });
    if let Some(rng) = net.dropout_rng() {
        let [a, b, c, d] = rng.state();
        metadata.push(("network.dropout_rng".into(), format!("{a},{b},{c},{d}")));
    }
    if let Some(shuffler) = shuffler {
        let (rng, order) = shuffler.shuffler_state();
        let [a, b, c, d] = rng.state();
        metadata.push(("shuffler.rng".into(), format!("{a},{b},{c},{d}")));
        sources.push(Source {
            name: Cow::Borrowed("shuffler.order"),
            shape: Cow::Owned(vec![order.len()]),
            data: SourceData::Indices(order),
        });
    }
    fmt::write(&sources, metadata)
}

/// Restores a checkpoint into `net`, `optimizer` and (if given) the shuffler, and returns the
/// saved [`Progress`]. Strict: the file must hold exactly the tensors this network, optimizer
/// and shuffler have. On error nothing changes.
///
/// # Errors
/// [`crate::Error::Weights`]: a malformed file, a tensor problem (named), another optimizer
/// kind or a different hyper-parameter (named, with both values), a missing or malformed
/// metadata field, a shuffler order that is not a permutation of the data set.
pub fn load_safetensors<const P: usize, N, O>(
    bytes: &[u8],
    net: &mut N,
    optimizer: &mut O,
    shuffler: Option<&mut dyn ShufflerState>,
) -> Result<Progress>
where
    N: Persistent,
    O: Optimizer<N::Element, P> + Describe,
{
    let buffers = optimizer.state_buffer_count();
    let element_bytes = N::Element::BYTES;
    // A checkpoint holds its optimizer buffers in the element type: a shorter input cannot be
    // one, and refusing it here keeps the staging buffer no larger than the input.
    if bytes.len() < buffers * P * element_bytes {
        return Err(WeightsError::whole(
            Kind::Format,
            format!(
                "a checkpoint of at least {} bytes ({buffers} optimizer buffers of {P} x {})",
                buffers * P * element_bytes,
                N::Element::NAME
            ),
            format!("{} bytes", bytes.len()),
        )
        .into());
    }
    let names: Vec<&'static str> = (0..buffers)
        .filter_map(|i| optimizer.state_buffer(i).map(|(name, _)| name))
        .collect();
    let mut staging = vec![N::Element::from_f64(0.0); buffers * P];
    let samples = shuffler.as_ref().map(|s| s.shuffler_state().1.len());
    let mut order = vec![0usize; samples.unwrap_or(0)];

    let expected_kind = optimizer.kind();
    let mut expected_hyper: Vec<(&'static str, f64)> = Vec::new();
    optimizer.hyper_parameters(&mut |name, value| expected_hyper.push((name, value)));

    let has_dropout = net.dropout_rng().is_some();
    let (params, state, counters) = net.persistent_parts_mut();
    crate::error::check_len("checkpoint: network parameters", P, params.len())?;
    let mut groups = [
        TensorsMut {
            tensors: N::PARAM_TENSORS,
            data: params,
        },
        TensorsMut {
            tensors: N::STATE_TENSORS,
            data: state,
        },
    ];
    let mut all = targets(
        &mut groups,
        CountersMut {
            names: N::COUNTER_NAMES,
            values: counters,
        },
    )?;
    for (name, chunk) in names.iter().zip(staging.chunks_exact_mut(P.max(1))) {
        float_targets(
            N::PARAM_TENSORS,
            chunk,
            |tensor| optimizer_name(name, tensor),
            &mut all,
        )?;
    }
    if let Some(samples) = samples {
        all.push(Target {
            name: Cow::Borrowed("shuffler.order"),
            shape: Cow::Owned(vec![samples]),
            dest: Dest::Indices(&mut order, samples),
        });
    }

    // Phase 1: check the metadata (first, so that another optimizer is named as such rather
    // than by the buffers it lacks), then every tensor.
    let header = fmt::read_header(bytes)?;
    let field = |key: &str| -> Result<&str> {
        fmt::metadata_entry(&header, key).ok_or_else(|| {
            WeightsError::tensor(
                Kind::Metadata,
                &format!("__metadata__.{key}"),
                "a value (is this a monograd checkpoint?)",
                "nothing",
            )
            .into()
        })
    };
    let expect = |key: &str, expected: &str| -> Result<()> {
        let found = field(key)?;
        if found == expected {
            Ok(())
        } else {
            Err(WeightsError::tensor(
                Kind::Metadata,
                &format!("__metadata__.{key}"),
                expected,
                found,
            )
            .into())
        }
    };
    expect("format", FORMAT)?;
    expect("version", VERSION)?;
    expect("optimizer", expected_kind)?;
    for &(name, value) in &expected_hyper {
        let key = format!("optimizer.{name}");
        let found: f64 = parse(&key, field(&key)?)?;
        if found.to_bits() != value.to_bits() {
            return Err(WeightsError::tensor(
                Kind::Metadata,
                &format!("__metadata__.{key}"),
                format!("{value} (this optimizer's configuration)"),
                found,
            )
            .into());
        }
    }
    let steps: u64 = parse("optimizer.steps", field("optimizer.steps")?)?;
    let lr: f64 = parse("optimizer.lr", field("optimizer.lr")?)?;
    if !(lr.is_finite() && lr >= 0.0) {
        return Err(WeightsError::tensor(
            Kind::Metadata,
            "__metadata__.optimizer.lr",
            "a finite learning rate >= 0",
            lr,
        )
        .into());
    }
    let progress = Progress {
        epoch: parse("epoch", field("epoch")?)?,
        step: parse("step", field("step")?)?,
    };
    let rng = match samples {
        None => None,
        Some(_) => Some(parse_rng("shuffler.rng", field("shuffler.rng")?)?),
    };
    let dropout_rng = match has_dropout {
        false => None,
        true => Some(parse_rng(
            "network.dropout_rng",
            field("network.dropout_rng")?,
        )?),
    };

    let checked = fmt::check(bytes, &all, LoadOptions::default())?;

    // Phase 2: write (the shuffler's order is staged in `order`, checked to be a permutation).
    drop(checked.apply(&mut all));
    drop(all);
    // Nothing below can fail: lengths match and the learning rate was checked.
    let _ = optimizer.load_state(steps, &staging);
    let _ = optimizer.set_learning_rate(lr);
    if let (Some(shuffler), Some(rng)) = (shuffler, rng) {
        shuffler.restore_checked(rng, &order);
    }
    if let (Some(slot), Some(rng)) = (net.dropout_rng_mut(), dropout_rng) {
        *slot = rng;
    }
    Ok(progress)
}

/// A generator's state written as four comma-separated u64 (metadata `key`).
fn parse_rng(key: &str, text: &str) -> Result<Rng> {
    let mut words = [0u64; 4];
    let mut parts = text.split(',');
    for word in &mut words {
        *word = parse(key, parts.next().unwrap_or(""))?;
    }
    if parts.next().is_some() {
        return Err(bad(key, "four comma-separated u64", text));
    }
    Rng::from_state(words).map_err(|_| bad(key, "a state not all zero", text))
}

fn bad(key: &str, expected: &str, found: &str) -> crate::Error {
    WeightsError::tensor(
        Kind::Metadata,
        &format!("__metadata__.{key}"),
        expected,
        found,
    )
    .into()
}

fn parse<V: core::str::FromStr>(key: &str, text: &str) -> Result<V> {
    text.parse()
        .map_err(|_| bad(key, core::any::type_name::<V>(), text))
}

/// Saves a checkpoint to `path` atomically (see [`to_safetensors`]).
///
/// # Errors
/// As [`to_safetensors`], and [`crate::Error::Weights`] naming the file if it cannot be written
/// (the previous checkpoint is then intact).
#[cfg(feature = "std")]
pub fn save<const P: usize, N, O>(
    path: impl AsRef<std::path::Path>,
    net: &N,
    optimizer: &O,
    progress: Progress,
    shuffler: Option<&dyn ShufflerState>,
) -> Result<()>
where
    N: Persistent,
    O: Optimizer<N::Element, P> + Describe,
{
    let bytes = to_safetensors(net, optimizer, progress, shuffler)?;
    super::write_atomic(path.as_ref(), &bytes)
}

/// Restores the checkpoint at `path` (see [`load_safetensors`]); on error nothing changes.
///
/// # Errors
/// As [`load_safetensors`], naming the file.
#[cfg(feature = "std")]
pub fn load<const P: usize, N, O>(
    path: impl AsRef<std::path::Path>,
    net: &mut N,
    optimizer: &mut O,
    shuffler: Option<&mut dyn ShufflerState>,
) -> Result<Progress>
where
    N: Persistent,
    O: Optimizer<N::Element, P> + Describe,
{
    let path = path.as_ref();
    let bytes = super::read_file(path)?;
    load_safetensors(&bytes, net, optimizer, shuffler)
        .map_err(|e| super::error::with_file(e, &path.display().to_string()))
}
