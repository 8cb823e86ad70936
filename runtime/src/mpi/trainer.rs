//! [`Distributed`]: the data-parallel training step over the ranks of an MPI communicator.

use std::time::Duration;

use ::mpi::datatype::Equivalence;
use ::mpi::topology::SimpleCommunicator;

use super::collective::MpiCollective;
use super::Operation;
use crate::io::{Persistent, Progress, ShufflerState};
use crate::network::{apply_gradient, restore_after_forward};
use crate::optim::{Describe, Optimizer};
use crate::{Error, Network, Result, Scalar};

/// How a [`Distributed`] trainer synchronises its ranks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DistributedConfig {
    /// How long one collective may wait for the other ranks before the job is aborted with a
    /// message naming the operation and step (default 60 s). It must cover the slowest rank's
    /// compute between two collectives, and a checkpoint save on rank 0.
    pub timeout: Duration,
    /// 1 (default): every step all-reduces the gradient, and the ranks step together on the
    /// gradient of the global batch. `k > 1`: local SGD; each rank steps on its own shard's
    /// gradient, and every `k`-th step the parameters and running statistics are averaged over
    /// the ranks (see the [module docs](super)).
    pub average_every: usize,
}

impl Default for DistributedConfig {
    fn default() -> Self {
        DistributedConfig {
            timeout: Duration::from_secs(60),
            average_every: 1,
        }
    }
}

/// Data-parallel training over the ranks of an MPI communicator: every rank holds the whole
/// network and trains on its shard of each global batch (see the [module docs](super)).
///
/// ```no_run
/// # use monograd_runtime::mpi::Distributed;
/// # fn main() -> Result<(), monograd_runtime::Error> {
/// let universe = monograd_runtime::mpi::initialize()?;
/// let world = universe.world();
/// let mut distributed = Distributed::<f32>::new(&world)?;
/// // distributed.sync_from_root(&mut net, &mut optimizer)?;
/// // loop { distributed.train_step(&mut net, &mut tape, &x_shard, &targets_shard, &mut optimizer)?; }
/// # Ok(())
/// # }
/// ```
pub struct Distributed<'c, T> {
    collective: MpiCollective<'c, T>,
    average_every: usize,
    steps: u64,
    send: Vec<T>,
    recv: Vec<T>,
}

impl<'c, T: Scalar + Equivalence> Distributed<'c, T> {
    /// A trainer over the ranks of `communicator` with the default [`DistributedConfig`].
    ///
    /// # Errors
    /// As [`with_config`](Self::with_config).
    pub fn new(communicator: &'c SimpleCommunicator) -> Result<Self> {
        Self::with_config(communicator, DistributedConfig::default())
    }

    /// A trainer over the ranks of `communicator`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `average_every == 0`; [`Error::Collective`] if the
    /// watchdog thread cannot start.
    pub fn with_config(
        communicator: &'c SimpleCommunicator,
        config: DistributedConfig,
    ) -> Result<Self> {
        if config.average_every == 0 {
            return Err(Error::InvalidParameter {
                name: "DistributedConfig: average_every",
                value: 0.0,
                expected: ">= 1 (1: all-reduce the gradient every step)",
            });
        }
        Ok(Distributed {
            collective: MpiCollective::new(communicator, config.timeout)?,
            average_every: config.average_every,
            steps: 0,
            send: Vec::new(),
            recv: Vec::new(),
        })
    }

    /// This process's rank (0 is the root, which writes checkpoints and prints progress).
    pub fn rank(&self) -> usize {
        self.collective.rank()
    }

    /// The number of ranks.
    pub fn ranks(&self) -> usize {
        self.collective.size()
    }

    /// `true` on rank 0.
    pub fn is_root(&self) -> bool {
        self.rank() == 0
    }

    /// Training steps taken by this trainer (global steps: every rank counts the same).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The collective, for a forward or backward pass that synchronises BatchNorm statistics.
    pub fn collective_mut(&mut self) -> &mut MpiCollective<'c, T> {
        &mut self.collective
    }

    fn buffers(&mut self, len: usize) -> (&mut [T], &mut [T]) {
        if self.send.len() < len {
            self.send.resize(len, T::from_f64(0.0));
            self.recv.resize(len, T::from_f64(0.0));
        }
        (&mut self.send[..len], &mut self.recv[..len])
    }

    /// Makes every rank's network and optimizer those of rank 0: parameters, running
    /// statistics, BatchNorm counters, and the optimizer's step counter, learning rate and state
    /// buffers. Call it once before training (and after loading anything on rank 0 alone).
    ///
    /// # Errors
    /// [`Error::Collective`] for buffers too long for one MPI call.
    pub fn sync_from_root<const P: usize, N, O>(
        &mut self,
        net: &mut N,
        optimizer: &mut O,
    ) -> Result<()>
    where
        N: Network<P, Element = T> + Persistent<Element = T>,
        O: Optimizer<T, P>,
    {
        let operation = Operation::Broadcast;
        self.collective.set_context(operation, self.steps);
        let (params, state, counters) = net.persistent_parts_mut();
        self.collective.broadcast_from_root(params, operation)?;
        self.collective.broadcast_from_root(state, operation)?;
        self.collective.broadcast_from_root(counters, operation)?;
        let mut scalars = [
            optimizer.steps() as f64,
            optimizer.learning_rate(),
            self.steps as f64,
        ];
        self.collective
            .broadcast_from_root(&mut scalars, operation)?;
        optimizer.set_steps(scalars[0] as u64);
        optimizer.set_learning_rate(scalars[1])?;
        self.steps = scalars[2] as u64;
        for index in 0..optimizer.state_buffer_count() {
            if let Some((_, buffer)) = optimizer.state_buffer_mut(index) {
                self.collective.broadcast_from_root(buffer, operation)?;
            }
        }
        Ok(())
    }

    /// One data-parallel training step on this rank's shard `x`/`targets` of the global batch;
    /// returns the mean loss over the global batch (with local SGD, over this rank's shard).
    ///
    /// Every rank must call it the same number of times, with shards of the same size `B`. The
    /// step is a transaction on every rank: the ranks' failure flags travel with the gradient
    /// in the same all-reduce, so either every rank steps or none does, and on `Err` every
    /// parameter, running statistic and optimizer value is as before the call on every rank.
    ///
    /// # Errors
    /// This rank's error (a bad label, a non-finite loss or gradient, an update that would
    /// overflow), or [`Error::Collective`] naming the first other rank that failed. With local
    /// SGD, a failed local step is this rank's alone (see the module docs).
    pub fn train_step<const P: usize, const B: usize, N, O>(
        &mut self,
        net: &mut N,
        tape: &mut N::Tape<B>,
        x: &[N::Input; B],
        targets: &[N::Target; B],
        optimizer: &mut O,
    ) -> Result<T>
    where
        N: Network<P, Element = T>,
        O: Optimizer<T, P>,
    {
        if self.average_every > 1 {
            return self.local_step(net, tape, x, targets, optimizer);
        }
        let step = self.steps;
        // BatchNorm statistics of the global batch: the passes sum them through the collective.
        self.collective
            .set_context(Operation::ForwardStatistics, step);
        let forward = net
            .forward_train_with(tape, x, &mut self.collective)
            .map(|_| ());
        let forward_ok = forward.is_ok();
        // Even after a failed forward pass, so that the peers' BatchNorm sums get this rank's part.
        self.collective
            .set_context(Operation::BackwardStatistics, step);
        let backward = net.backward_with(tape, x, targets, &mut self.collective);
        let local = forward.and(backward);

        // [gradient | loss | one failure flag per rank]
        let ranks = self.ranks();
        let rank = self.rank();
        let len = P + 1 + ranks;
        let zero = T::from_f64(0.0);
        let (send, _) = self.buffers(len);
        send.fill(zero);
        match &local {
            Ok(loss) => {
                send[..P].copy_from_slice(N::param_grads(tape));
                send[P] = *loss;
            }
            Err(_) => send[P + 1 + rank] = T::from_f64(1.0),
        }
        self.collective
            .set_context(Operation::GradientAllReduce, step);
        let summed = self.collective.sum_into(
            &self.send[..len],
            &mut self.recv[..len],
            Operation::GradientAllReduce,
        );
        let recv = &self.recv[..len];
        let failed_peer = recv[P + 1..].iter().position(|flag| *flag != zero);

        let result = match (summed, local, failed_peer) {
            (Err(e), _, _) | (Ok(()), Err(e), _) => Err(e),
            (Ok(()), Ok(_), Some(peer)) => Err(Error::Collective {
                operation: "data-parallel training step",
                reason: "another rank's forward or backward pass failed (that rank reports its \
                         error); no rank stepped",
                peer: Some(peer),
            }),
            (Ok(()), Ok(_), None) => {
                // Each rank's gradient is that of its shard's mean loss: their mean is the
                // gradient of the global batch's mean loss (see `Network::backward_with`;
                // PyTorch's DDP divides the same way).
                let count = T::from_f64(ranks as f64);
                for (grad, sum) in N::param_grads_mut(tape).iter_mut().zip(&recv[..P]) {
                    *grad = *sum / count;
                }
                let loss = recv[P] / count;
                apply_gradient(net, tape, optimizer).map(|()| loss)
            }
        };
        if result.is_err() && forward_ok {
            restore_after_forward(net, tape);
        }
        if result.is_ok() {
            self.steps += 1;
        }
        result
    }

    /// Local SGD: this rank's own transactional step, then, every `average_every` steps, the
    /// parameters and running statistics averaged over the ranks.
    fn local_step<const P: usize, const B: usize, N, O>(
        &mut self,
        net: &mut N,
        tape: &mut N::Tape<B>,
        x: &[N::Input; B],
        targets: &[N::Target; B],
        optimizer: &mut O,
    ) -> Result<T>
    where
        N: Network<P, Element = T>,
        O: Optimizer<T, P>,
    {
        self.collective
            .set_context(Operation::ForwardStatistics, self.steps);
        let result = net.train_step(tape, x, targets, optimizer);
        // Counted whether or not this rank's step succeeded: the averaging steps must be the
        // same calls on every rank.
        self.steps += 1;
        if self.steps.is_multiple_of(self.average_every as u64) {
            self.average(net)?;
        }
        result
    }

    /// Replaces the parameters and running statistics on every rank by their mean over the
    /// ranks (local SGD's synchronisation; [`train_step`](Self::train_step) calls it every
    /// `average_every` steps).
    ///
    /// # Errors
    /// [`Error::Collective`] when the mean is not finite (a sum overflowed); every rank then
    /// keeps its own values.
    pub fn average<const P: usize, N>(&mut self, net: &mut N) -> Result<()>
    where
        N: Network<P, Element = T>,
    {
        let params = P;
        let state = net.state().len();
        let count = T::from_f64(self.ranks() as f64);
        self.collective
            .set_context(Operation::ParameterAveraging, self.steps);
        let (send, _) = self.buffers(params + state);
        send[..params].copy_from_slice(net.params());
        send[params..].copy_from_slice(net.state());
        let (send, recv) = (
            &self.send[..params + state],
            &mut self.recv[..params + state],
        );
        self.collective
            .sum_into(send, recv, Operation::ParameterAveraging)?;
        for value in recv.iter_mut() {
            *value /= count;
        }
        // Every rank sees the same sums, so every rank takes the same branch.
        if recv.iter().any(|value| !value.is_finite()) {
            return Err(Error::Collective {
                operation: Operation::ParameterAveraging.describe(),
                reason: "the mean of the ranks' parameters or running statistics is not finite; \
                         every rank keeps its own",
                peer: None,
            });
        }
        net.params_mut().copy_from_slice(&recv[..params]);
        net.state_mut().copy_from_slice(&recv[params..]);
        Ok(())
    }

    /// Saves a training checkpoint on rank 0 only, atomically (see
    /// [`io::checkpoint`](crate::io::checkpoint)); every rank returns whether it was written.
    /// With local SGD, call it right after an averaging step, when rank 0's parameters are
    /// every rank's.
    ///
    /// # Errors
    /// On rank 0, why the file could not be written (the previous checkpoint is then intact);
    /// on the others, [`Error::Collective`] saying that rank 0 failed.
    pub fn save_checkpoint<const P: usize, N, O>(
        &mut self,
        path: impl AsRef<std::path::Path>,
        net: &N,
        optimizer: &O,
        progress: Progress,
        shuffler: Option<&dyn ShufflerState>,
    ) -> Result<()>
    where
        N: Persistent<Element = T>,
        O: Optimizer<T, P> + Describe,
    {
        let saved = if self.is_root() {
            crate::io::checkpoint::save::<P, N, O>(path, net, optimizer, progress, shuffler)
        } else {
            Ok(())
        };
        let mut status = [u8::from(saved.is_err())];
        self.collective
            .set_context(Operation::CheckpointStatus, self.steps);
        self.collective
            .broadcast_from_root(&mut status, Operation::CheckpointStatus)?;
        match (saved, status[0]) {
            (Err(e), _) => Err(e),
            (Ok(()), 0) => Ok(()),
            (Ok(()), _) => Err(Error::Collective {
                operation: "checkpoint save on rank 0",
                reason: "rank 0 could not write the checkpoint (it reports why)",
                peer: Some(0),
            }),
        }
    }

    /// Loads a checkpoint on every rank from the file rank 0 reads (the other ranks need no
    /// access to it): rank 0 broadcasts the bytes, and every rank restores the network, the
    /// optimizer and the shuffler from them, so all ranks succeed or fail alike and nothing
    /// changes on failure. Returns the saved [`Progress`]; the trainer's step counter resumes
    /// from `progress.step`.
    ///
    /// # Errors
    /// As [`io::checkpoint::load`](crate::io::checkpoint::load) on every rank; rank 0 names the
    /// file when it cannot read it, and the others report [`Error::Collective`].
    pub fn load_checkpoint<const P: usize, N, O>(
        &mut self,
        path: impl AsRef<std::path::Path>,
        net: &mut N,
        optimizer: &mut O,
        shuffler: Option<&mut dyn ShufflerState>,
    ) -> Result<Progress>
    where
        N: Persistent<Element = T>,
        O: Optimizer<T, P> + Describe,
    {
        let operation = Operation::CheckpointBroadcast;
        self.collective.set_context(operation, self.steps);
        let path = path.as_ref();
        let read = if self.is_root() {
            crate::io::read_file(path).map(Some)
        } else {
            Ok(None)
        };
        let mut len = [match &read {
            Ok(Some(bytes)) => bytes.len() as u64,
            Ok(None) => 0,
            Err(_) => u64::MAX,
        }];
        self.collective.broadcast_from_root(&mut len, operation)?;
        let mut bytes = match read {
            Err(e) => return Err(e),
            Ok(Some(bytes)) => bytes,
            Ok(None) if len[0] == u64::MAX => {
                return Err(Error::Collective {
                    operation: "checkpoint load on rank 0",
                    reason: "rank 0 could not read the checkpoint (it reports why)",
                    peer: Some(0),
                })
            }
            Ok(None) => vec![0u8; usize::try_from(len[0]).unwrap_or(usize::MAX)],
        };
        // MPI counts are C ints: a large file goes in pieces.
        for chunk in bytes.chunks_mut(1 << 30) {
            self.collective.broadcast_from_root(chunk, operation)?;
        }
        let progress =
            crate::io::checkpoint::load_safetensors::<P, N, O>(&bytes, net, optimizer, shuffler)?;
        self.steps = progress.step;
        Ok(progress)
    }
}
