//! Sums across the participants of a data-parallel training step.
//!
//! In data-parallel training every participant (a worker thread, or an MPI rank) runs the same
//! network on its own share of the global batch. Two things must then be summed over all of
//! them: the flat parameter gradient, once per step, and, for BatchNorm layers whose statistics
//! are those of the whole batch (PyTorch's `SyncBatchNorm`), the per-channel sums in the forward
//! and backward passes. A [`Collective`] is that one operation, so that the generated forward
//! and backward passes are written once and serve a single thread ([`Solo`], which does nothing),
//! the threads of one machine and the ranks of an MPI job alike.

use crate::{Result, Scalar};

/// An element-wise sum over every participant of a data-parallel step.
///
/// Every participant must call [`all_reduce_sum`](Self::all_reduce_sum) the same number of
/// times, in the same order, with slices of the same length (the generated code does: the
/// calls are straight-line). An implementation that cannot complete (a peer died or hung)
/// returns [`Error::Collective`](crate::Error::Collective) instead of blocking forever.
pub trait Collective<T: Scalar> {
    /// How many participants share the global batch (1 for a single thread).
    fn participants(&self) -> usize;

    /// Replaces `values`, on every participant, by their element-wise sum over all participants.
    ///
    /// # Errors
    /// [`Error::Collective`](crate::Error::Collective) when a peer does not take part.
    fn all_reduce_sum(&mut self, values: &mut [T]) -> Result<()>;
}

/// The only participant: every sum is the value itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct Solo;

impl<T: Scalar> Collective<T> for Solo {
    #[inline(always)]
    fn participants(&self) -> usize {
        1
    }

    #[inline(always)]
    fn all_reduce_sum(&mut self, _values: &mut [T]) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solo_leaves_values_unchanged() {
        let mut values = [1.0f32, -2.0, 3.5];
        let mut solo = Solo;
        assert_eq!(Collective::<f32>::participants(&solo), 1);
        solo.all_reduce_sum(&mut values).unwrap();
        assert_eq!(values, [1.0, -2.0, 3.5]);
    }
}
