//! Data-parallel training across processes and machines over MPI (feature `mpi`).
//!
//! Every rank of an MPI job holds the whole network and trains on its shard of each global
//! batch; the ranks stay identical because they start identical and apply the same update:
//!
//! 1. **Start**: [`Distributed::sync_from_root`] broadcasts rank 0's parameters, running
//!    statistics, BatchNorm counters and optimizer (step counter, learning rate, state buffers)
//!    to every rank.
//! 2. **Step** ([`Distributed::train_step`]): each rank runs the forward and backward pass on its
//!    `B` samples, then one `MPI_Allreduce` sums `[gradient | loss | one failure flag per rank]`
//!    (`PARAMS + 1 + ranks` values). Each rank's gradient is that of its shard's mean loss, so
//!    the sum divided by the number of ranks is the gradient of the global batch's mean loss
//!    (as PyTorch's `DistributedDataParallel`); every rank then takes the same optimizer step.
//!    The step is a transaction on every rank: the failure flags arrive with the gradient, so
//!    before anything is applied every rank knows whether every rank succeeded, and either all
//!    step or none does (a failed step restores the running statistics everywhere; the error
//!    names the first rank that failed). The optimizer step itself fails alike on every rank,
//!    since it runs on the same values.
//! 3. **Data** ([`ShardedBatches`]): one global shuffled order, the same on every rank (same
//!    seed, nothing communicated); global batch `j` is `order[j G .. (j + 1) G]` with
//!    `G = B × ranks`, and rank `r` takes its `B` samples at `r B`. A single process with batch
//!    `G` sees the same batches, so `ranks` processes reach its parameters up to rounding (the
//!    gradient's sum is associated differently), which `tests/mpi_equivalence.rs` checks.
//! 4. **Checkpoints**: [`Distributed::save_checkpoint`] writes on rank 0 only, atomically (the
//!    checkpoint save of [`io`](crate::io) writes a temporary file and renames it), and tells
//!    every rank whether it succeeded. [`Distributed::load_checkpoint`] reads the file on rank 0
//!    and broadcasts its bytes, so the other ranks need no shared file system. The shuffler's
//!    generator and order, the epoch and the step are global, so a run resumes with any number
//!    of ranks: with `p'` ranks of `B'` samples where `p' B' = G`, the same global batches follow.
//!
//! **Local SGD** (`DistributedConfig { average_every: k, .. }`, `k > 1`): each rank steps on
//! its own shard's gradient with its own optimizer (a step is then a transaction on that rank
//! alone), and every `k` steps the parameters and running statistics are averaged over the ranks
//! (one all-reduce of `PARAMS + STATE` values); optimizer state (momentum, Adam's moments) stays
//! per rank. It divides the communication by `k` at the cost of ranks drifting apart between
//! averages; it is not equivalent to a single process. Every rank must still call `train_step`
//! alike, including after an error of its own step.
//!
//! **BatchNorm** (and Batch Renorm) layers normalize with the statistics of the global batch,
//! as PyTorch's `SyncBatchNorm`: [`Distributed::train_step`] runs the generated
//! `forward_train_with` / `backward_with` with [`MpiCollective`], which sums each layer's
//! per-channel sums over the ranks (one or two small all-reduces per layer and pass). The
//! running statistics are then the same on every rank, and equal to one process's (checked by
//! `tests/mpi_equivalence.rs`). With local SGD each rank normalizes with its own shard's
//! statistics, and the running statistics are averaged with the parameters.
//!
//! # Failure behaviour
//!
//! A rank that dies or hangs never leaves the others blocked silently:
//!
//! - **A rank exits or is killed**: `mpirun` (Open MPI) notices the process ended without
//!   `MPI_Finalize` and kills every other rank of the job, printing which rank ended and how
//!   (e.g. `mpirun noticed that process rank 1 with PID 123 on node n exited on signal 9
//!   (Killed)`); `mpirun` exits non-zero. Launchers that do not do so leave the survivors
//!   blocked in their next collective, which the watchdog below ends.
//! - **A rank hangs** (stopped, deadlocked, a lost network link): every collective (the
//!   gradient all-reduce, BatchNorm's sums, broadcasts, averaging) is watched by a thread of
//!   [`MpiCollective`]. When one has not completed within [`DistributedConfig::timeout`]
//!   (default 60 s; the watchdog looks ten times per timeout, so it fires between 1× and 1.1×
//!   the timeout), the rank prints
//!   `monograd mpi: rank 0 of 2: all-reduce of the parameter gradient and step status at step
//!   37 did not complete within the timeout of 5 s (running for 5.1 s): a peer rank died or
//!   hangs; aborting the job (MPI_Abort, exit code 124)` and calls `MPI_Abort`, which ends every
//!   process of the job; `mpirun` exits non-zero. The timeout must exceed the longest compute
//!   between two collectives of the slowest rank (and a checkpoint save on rank 0).
//!
//! An MPI collective cannot be cancelled and MPI's state after a peer's death is undefined, so
//! a missing peer ends the job rather than returning an error that could not be recovered from;
//! restart from the last checkpoint. `MPI_Abort` comes from the watchdog thread: initialize MPI
//! with [`initialize`], which asks for `MPI_THREAD_MULTIPLE`.
//!
//! `.ci/run` tests both: it stops one of two ranks (`SIGSTOP`) and checks that the other prints
//! the message and the job exits non-zero within the timeout, then kills one (`SIGKILL`).

mod collective;
mod shards;
mod trainer;
mod watchdog;

pub use collective::MpiCollective;
pub use shards::ShardedBatches;
pub use trainer::{Distributed, DistributedConfig};
pub use watchdog::WATCHDOG_EXIT_CODE;

/// The MPI bindings this module is built on (the `mpi` crate, rsmpi): communicators and their
/// traits for programs that do more than train.
pub use ::mpi as rsmpi;

/// Initializes MPI for training: with `MPI_THREAD_MULTIPLE` when the library provides it (the
/// watchdog thread may call `MPI_Abort` while the training thread is in a collective). Keep the
/// returned universe alive until the end of the program (dropping it finalizes MPI); its
/// `world()` is the communicator of every rank.
///
/// # Errors
/// [`Error::Collective`](crate::Error::Collective) when MPI was already initialized.
pub fn initialize() -> crate::Result<::mpi::environment::Universe> {
    match ::mpi::initialize_with_threading(::mpi::Threading::Multiple) {
        Some((universe, _provided)) => Ok(universe),
        None => Err(crate::Error::Collective {
            operation: "MPI initialization",
            reason: "MPI was already initialized in this process",
            peer: None,
        }),
    }
}

/// A collective operation, as the watchdog's message names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// A sum through [`Collective::all_reduce_sum`](crate::Collective::all_reduce_sum) outside a
    /// training step.
    Sum,
    /// BatchNorm statistics summed in a training forward pass.
    ForwardStatistics,
    /// BatchNorm gradient sums in a backward pass.
    BackwardStatistics,
    /// The flat gradient, the loss and the ranks' failure flags of a step.
    GradientAllReduce,
    /// Local SGD's averaging of the parameters and running statistics.
    ParameterAveraging,
    /// Rank 0's network and optimizer sent to every rank.
    Broadcast,
    /// A checkpoint's bytes sent from rank 0.
    CheckpointBroadcast,
    /// Whether rank 0 wrote a checkpoint.
    CheckpointStatus,
}

impl Operation {
    const ALL: [Operation; 8] = [
        Operation::Sum,
        Operation::ForwardStatistics,
        Operation::BackwardStatistics,
        Operation::GradientAllReduce,
        Operation::ParameterAveraging,
        Operation::Broadcast,
        Operation::CheckpointBroadcast,
        Operation::CheckpointStatus,
    ];

    fn from_index(index: usize) -> Operation {
        Self::ALL.get(index).copied().unwrap_or(Operation::Sum)
    }

    /// What the operation is, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Operation::Sum => "an all-reduce sum",
            Operation::ForwardStatistics => {
                "all-reduce of BatchNorm statistics in the forward pass"
            }
            Operation::BackwardStatistics => {
                "all-reduce of BatchNorm gradient sums in the backward pass"
            }
            Operation::GradientAllReduce => "all-reduce of the parameter gradient and step status",
            Operation::ParameterAveraging => "all-reduce of the parameters for local SGD",
            Operation::Broadcast => "broadcast of the network and optimizer from rank 0",
            Operation::CheckpointBroadcast => "broadcast of a checkpoint from rank 0",
            Operation::CheckpointStatus => "broadcast of rank 0's checkpoint save status",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Operation;

    #[test]
    fn operations_round_trip_through_their_index() {
        for (index, operation) in Operation::ALL.iter().enumerate() {
            assert_eq!(*operation as usize, index);
            assert_eq!(Operation::from_index(index), *operation);
        }
        assert_eq!(Operation::from_index(99), Operation::Sum);
    }
}
