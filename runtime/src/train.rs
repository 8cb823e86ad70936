//! Mini-batch training with per-epoch shuffling, and batched evaluation, for any [`Network`].
//!
//! A network's batch size `B` is a compile-time constant, so every step sees exactly `B`
//! samples. Each epoch visits the training set in a fresh random order; when the set size is not
//! a multiple of `B`, the last batch is completed with the first samples of the same epoch's order
//! (so every sample is seen at least once per epoch and no batch is smaller than `B`).
//! Evaluation pads its last batch the same way and ignores the padding.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use crate::ops::loss::argmax;
use crate::optim::Optimizer;
use crate::{Error, Network, Result, Rng, Scalar};

/// Loss and counts of one training epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochReport {
    /// Mean over the epoch's batches of the mean batch loss.
    pub mean_loss: f64,
    /// Number of optimizer steps taken.
    pub steps: usize,
}

/// Owns the shuffled order and the batch buffers of mini-batch training, so that epochs allocate
/// nothing.
pub struct MiniBatches<X: Copy, Y: Copy, const B: usize> {
    order: Vec<usize>,
    inputs: Box<[X; B]>,
    targets: Box<[Y; B]>,
    rng: Rng,
}

impl<X: Copy, Y: Copy, const B: usize> MiniBatches<X, Y, B> {
    /// Batches over `inputs`/`targets` (which must have equal, non-zero length), shuffled by a
    /// generator seeded with `seed`.
    ///
    /// # Errors
    /// [`Error::Length`] when the lengths differ or the set is empty; [`Error::Unsupported`] when
    /// `B == 0`.
    pub fn new(inputs: &[X], targets: &[Y], seed: u64) -> Result<Self> {
        check_dataset(inputs.len(), targets.len())?;
        if B == 0 {
            return Err(Error::Unsupported {
                what: "MiniBatches",
                reason: "the batch size B must be at least 1",
            });
        }
        Ok(MiniBatches {
            order: (0..inputs.len()).collect(),
            inputs: filled(inputs[0]),
            targets: filled(targets[0]),
            rng: Rng::new(seed),
        })
    }

    /// Number of batches per epoch: `ceil(samples / B)`.
    pub fn batches_per_epoch(&self) -> usize {
        self.order.len().div_ceil(B)
    }

    /// One epoch: shuffle, then one `train_step` per batch. Stops at the first error (a bad
    /// target, a non-finite loss), leaving the parameters as the last good step left them.
    ///
    /// # Errors
    /// [`Error::Length`] when `inputs`/`targets` do not have the length given to `new`, and any
    /// error of `train_step`.
    pub fn train_epoch<const P: usize, N, O>(
        &mut self,
        net: &mut N,
        tape: &mut N::Tape<B>,
        optimizer: &mut O,
        inputs: &[X],
        targets: &[Y],
    ) -> Result<EpochReport>
    where
        N: Network<P, Input = X, Target = Y>,
        O: Optimizer<N::Element, P>,
    {
        self.train_epoch_with(inputs, targets, |x, y| {
            net.train_step(tape, x, y, optimizer)
        })
    }

    /// One epoch with any training step: shuffle, then `step(batch, targets)` per batch,
    /// which returns the batch's mean loss. A data-parallel trainer uses it so:
    /// `batches.train_epoch_with(&x, &y, |x, y| trainer.train_step(&mut net, x, y, &mut opt))`.
    /// Stops at the first error.
    ///
    /// # Errors
    /// [`Error::Length`] when `inputs`/`targets` do not have the length given to `new`, and any
    /// error of `step`.
    pub fn train_epoch_with<T: Scalar>(
        &mut self,
        inputs: &[X],
        targets: &[Y],
        mut step: impl FnMut(&[X; B], &[Y; B]) -> Result<T>,
    ) -> Result<EpochReport> {
        crate::error::check_len("train_epoch: inputs", self.order.len(), inputs.len())?;
        crate::error::check_len("train_epoch: targets", self.order.len(), targets.len())?;
        self.rng.shuffle(&mut self.order);
        let mut total = 0.0;
        let batches = self.batches_per_epoch();
        for batch in 0..batches {
            gather(
                &self.order,
                batch * B,
                (inputs, targets),
                (&mut self.inputs, &mut self.targets),
            );
            let loss = step(&self.inputs, &self.targets)?;
            total += loss.to_f64();
        }
        Ok(EpochReport {
            mean_loss: total / batches as f64,
            steps: batches,
        })
    }
}

/// The shuffler's position, for checkpoints: the generator and the current order (which carries
/// over from epoch to epoch: each epoch shuffles the previous order).
impl<X: Copy, Y: Copy, const B: usize> MiniBatches<X, Y, B> {
    /// The generator and the current order of the samples.
    pub fn shuffler_state(&self) -> (&Rng, &[usize]) {
        (&self.rng, &self.order)
    }

    /// Restores a position saved with [`shuffler_state`](Self::shuffler_state).
    ///
    /// # Errors
    /// [`Error::Length`] if `order` does not have one entry per sample, [`Error::InvalidParameter`]
    /// if it is not a permutation of `0..samples`; nothing changes then.
    pub fn restore_shuffler(&mut self, rng: Rng, order: &[usize]) -> Result<()> {
        check_permutation(order, self.order.len())?;
        self.order.copy_from_slice(order);
        self.rng = rng;
        Ok(())
    }

    /// The generator and the order, mutably, for a checkpoint load that has checked the new
    /// order with [`check_permutation`].
    pub(crate) fn shuffler_parts_mut(&mut self) -> (&mut Rng, &mut [usize]) {
        (&mut self.rng, &mut self.order)
    }
}

/// `Ok` if `order` is a permutation of `0..samples`.
pub(crate) fn check_permutation(order: &[usize], samples: usize) -> Result<()> {
    crate::error::check_len("MiniBatches: order", samples, order.len())?;
    let mut seen = vec![false; samples];
    for &i in order {
        if i >= samples || core::mem::replace(&mut seen[i], true) {
            return Err(Error::InvalidParameter {
                name: "MiniBatches: order",
                value: i as f64,
                expected: "a permutation of 0..samples",
            });
        }
    }
    Ok(())
}

/// Copies the samples at positions `start..start + B` of `order` into a batch; positions past
/// the end wrap around, so that the last batch of an epoch is completed from the start of the
/// epoch's order.
pub(crate) fn gather<X: Copy, Y: Copy, const B: usize>(
    order: &[usize],
    start: usize,
    (inputs, targets): (&[X], &[Y]),
    (batch_inputs, batch_targets): (&mut [X; B], &mut [Y; B]),
) {
    for (k, (x, y)) in batch_inputs
        .iter_mut()
        .zip(batch_targets.iter_mut())
        .enumerate()
    {
        let i = order[(start + k) % order.len()];
        *x = inputs[i];
        *y = targets[i];
    }
}

/// Checks that a data set has one target per input and at least one sample.
pub(crate) fn check_dataset(inputs: usize, targets: usize) -> Result<()> {
    crate::error::check_len("dataset: targets (one per input)", inputs, targets)?;
    if inputs == 0 {
        return Err(Error::Length {
            what: "dataset: inputs (at least one sample)",
            expected: 1,
            found: 0,
        });
    }
    Ok(())
}

/// A heap batch of `B` copies of `value` (never a stack temporary of the whole batch).
pub(crate) fn filled<X: Copy, const B: usize>(value: X) -> Box<[X; B]> {
    match vec![value; B].into_boxed_slice().try_into() {
        Ok(array) => array,
        Err(_) => unreachable!("a vec of length B converts to [X; B]"),
    }
}

/// Mean loss of `net` in evaluation mode over a whole data set, in batches of `B` (the last one
/// padded with copies of its first sample, whose losses are subtracted again).
///
/// # Errors
/// [`Error::Length`] for mismatched or empty data, and any error of the loss.
pub fn evaluate_loss<const P: usize, const B: usize, N: Network<P>>(
    net: &N,
    tape: &mut N::Tape<B>,
    inputs: &[N::Input],
    targets: &[N::Target],
) -> Result<f64> {
    check_dataset(inputs.len(), targets.len())?;
    let mut x = filled::<_, B>(inputs[0]);
    let mut y = filled::<_, B>(targets[0]);
    let mut sum = 0.0f64;
    for start in (0..inputs.len()).step_by(B) {
        let valid = B.min(inputs.len() - start);
        for k in 0..B {
            let i = if k < valid { start + k } else { start };
            x[k] = inputs[i];
            y[k] = targets[i];
        }
        // Evaluation-mode losses are per sample, so the batch mean is the mean of the valid
        // samples' losses and `B - valid` copies of the first one's.
        sum += net.loss(tape, &x, &y)?.to_f64() * B as f64;
        if valid < B {
            x.fill(inputs[start]);
            y.fill(targets[start]);
            sum -= net.loss(tape, &x, &y)?.to_f64() * (B - valid) as f64;
        }
    }
    Ok(sum / inputs.len() as f64)
}

/// Fraction of samples whose largest output is their class label, in evaluation mode, in
/// batches of `B`. It rejects what training rejects: a label that is not a class of the
/// network, and a non-finite output (which `argmax` alone would count as some class).
///
/// # Errors
/// [`Error::Length`] for mismatched or empty data, [`Error::LabelOutOfRange`] for a label
/// `>= ` the number of outputs, [`Error::NonFinite`] when the network outputs NaN or infinity
/// for a sample.
pub fn accuracy<const P: usize, const B: usize, N: Network<P, Target = usize>>(
    net: &N,
    tape: &mut N::Tape<B>,
    inputs: &[N::Input],
    labels: &[usize],
) -> Result<f64>
where
    N::Output: AsRef<[N::Element]>,
{
    check_dataset(inputs.len(), labels.len())?;
    let mut x = filled::<_, B>(inputs[0]);
    let mut correct = 0usize;
    for start in (0..inputs.len()).step_by(B) {
        let valid = B.min(inputs.len() - start);
        for (k, slot) in x.iter_mut().enumerate() {
            *slot = inputs[if k < valid { start + k } else { start }];
        }
        let outputs = net.forward_with(tape, &x);
        for (k, output) in outputs[..valid].iter().enumerate() {
            let (sample, output) = (start + k, output.as_ref());
            if labels[sample] >= output.len() {
                return Err(Error::LabelOutOfRange {
                    what: "accuracy",
                    sample,
                    label: labels[sample],
                    classes: output.len(),
                });
            }
            if let Some(&bad) = output.iter().find(|v| !num_traits::Float::is_finite(**v)) {
                return Err(Error::NonFinite {
                    what: "accuracy: a network output",
                    value: bad.to_f64(),
                });
            }
            correct += usize::from(argmax(output) == labels[sample]);
        }
    }
    Ok(correct as f64 / inputs.len() as f64)
}
