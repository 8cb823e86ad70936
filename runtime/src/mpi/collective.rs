//! [`MpiCollective`]: the [`Collective`] of the ranks of an MPI communicator.

use std::time::Duration;

use ::mpi::collective::SystemOperation;
use ::mpi::datatype::Equivalence;
use ::mpi::topology::SimpleCommunicator;
use ::mpi::traits::{Communicator, CommunicatorCollectives, Root};

use super::watchdog::Watchdog;
use super::Operation;
use crate::{Collective, Error, Result, Scalar};

/// The ranks of an MPI communicator as the participants of a data-parallel step: an
/// element-wise sum is one `MPI_Allreduce`.
///
/// Every call is watched: one that has not completed after the timeout (a peer rank died or
/// hangs) aborts the whole job with a message naming the rank, the operation and the step (see
/// the [module docs](super)); it never returns an error for a missing peer, because an MPI
/// collective cannot be cancelled.
///
/// rsmpi has no `MPI_IN_PLACE`, so [`all_reduce_sum`](Collective::all_reduce_sum) copies the
/// values into a send buffer held here and lets `MPI_Allreduce` write their sum back into the
/// caller's slice: the slice is reduced in place at the cost of one copy, and nothing is
/// allocated once the buffer has reached the longest length asked for (the first step).
pub struct MpiCollective<'c, T> {
    communicator: &'c SimpleCommunicator,
    rank: usize,
    size: usize,
    send: Vec<T>,
    watchdog: Watchdog,
    operation: Operation,
    step: u64,
}

impl<'c, T: Scalar + Equivalence> MpiCollective<'c, T> {
    /// The ranks of `communicator`; a collective running longer than `timeout` aborts the job.
    ///
    /// # Errors
    /// [`Error::Collective`] if the watchdog thread cannot be started.
    pub fn new(communicator: &'c SimpleCommunicator, timeout: Duration) -> Result<Self> {
        let rank = usize::try_from(communicator.rank()).unwrap_or(0);
        let size = usize::try_from(communicator.size()).unwrap_or(1);
        let watchdog = Watchdog::start(timeout, rank, size).map_err(|_| Error::Collective {
            operation: "starting the MPI watchdog thread",
            reason: "the operating system refused a new thread",
            peer: None,
        })?;
        Ok(MpiCollective {
            communicator,
            rank,
            size,
            send: Vec::new(),
            watchdog,
            operation: Operation::Sum,
            step: 0,
        })
    }

    /// This process's rank in the communicator (0 is the root).
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of ranks.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The communicator.
    pub fn communicator(&self) -> &'c SimpleCommunicator {
        self.communicator
    }

    /// Names the calls that follow in the watchdog's message: `operation` at training step
    /// `step` (the generated BatchNorm layers call [`all_reduce_sum`](Collective::all_reduce_sum)
    /// without knowing where they are).
    pub fn set_context(&mut self, operation: Operation, step: u64) {
        self.operation = operation;
        self.step = step;
    }

    /// Makes room for sums of up to `len` values, so that no later call allocates.
    pub fn reserve(&mut self, len: usize) {
        if self.send.len() < len {
            self.send.resize(len, T::from_f64(0.0));
        }
    }

    /// `recv <- sum over ranks of send`, watched as `operation`.
    pub(crate) fn sum_into(
        &mut self,
        send: &[T],
        recv: &mut [T],
        operation: Operation,
    ) -> Result<()> {
        check_count(send.len(), operation)?;
        crate::error::check_len("MPI all-reduce: receive buffer", send.len(), recv.len())?;
        self.watchdog.watch.arm(operation, self.step);
        self.communicator
            .all_reduce_into(send, recv, SystemOperation::sum());
        self.watchdog.watch.disarm();
        Ok(())
    }

    /// Replaces `values` on every rank by those of rank 0, watched as `operation`.
    pub fn broadcast_from_root<U: Equivalence>(
        &mut self,
        values: &mut [U],
        operation: Operation,
    ) -> Result<()> {
        check_count(values.len(), operation)?;
        self.watchdog.watch.arm(operation, self.step);
        self.communicator.process_at_rank(0).broadcast_into(values);
        self.watchdog.watch.disarm();
        Ok(())
    }

    /// Waits until every rank has arrived, watched as `operation`.
    pub fn barrier(&mut self, operation: Operation) {
        self.watchdog.watch.arm(operation, self.step);
        self.communicator.barrier();
        self.watchdog.watch.disarm();
    }
}

impl<T: Scalar + Equivalence> Collective<T> for MpiCollective<'_, T> {
    fn participants(&self) -> usize {
        self.size
    }

    fn all_reduce_sum(&mut self, values: &mut [T]) -> Result<()> {
        self.reserve(values.len());
        let mut send = core::mem::take(&mut self.send);
        send[..values.len()].copy_from_slice(values);
        let result = self.sum_into(&send[..values.len()], values, self.operation);
        self.send = send;
        result
    }
}

/// MPI counts are C `int`s: longer buffers cannot be sent in one call.
fn check_count(len: usize, operation: Operation) -> Result<()> {
    if i32::try_from(len).is_ok() {
        Ok(())
    } else {
        Err(Error::Collective {
            operation: operation.describe(),
            reason: "more than 2^31 - 1 values in one MPI call (MPI counts are C ints)",
            peer: None,
        })
    }
}
