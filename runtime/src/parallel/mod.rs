//! Data-parallel training on every core of one machine (feature `std`).
//!
//! A [`Parallel<Net, P, W, PB>`](Parallel) trainer splits each batch of `B = W * PB` samples
//! into `W` shares of `PB`, one per worker thread, and takes one optimizer step on the mean of
//! their gradients, which is the gradient of the mean loss over the whole batch:
//!
//! ```text
//! worker w (threads 1..W created once; worker 0 is the caller's thread):
//!     forward_train_with(share w)      BatchNorm statistics summed over all workers
//!     backward_with(share w)           BatchNorm gradient sums summed over all workers
//!     all-reduce the flat gradient     chunked: worker k sums chunk k of every gradient and
//!       with [failed?, loss]           scans it for the optimizer's check (max |g|, max |w|,
//!                                      finite?); every worker learns whether any failed
//! worker 0: the optimizer's check      from the workers' scans, before anything is written
//! every worker: its chunk of the       P >= SPLIT_WRITES_FROM: chunk k of the parameters and
//!     optimizer's writes               of every state buffer (below: worker 0 writes all)
//! ```
//!
//! **Why the mean of the workers' gradients is the batch's.** Each worker's loss is the mean
//! over its `PB` samples, and the batch's mean loss is the mean of the `W` workers' losses; the
//! gradient of a mean is the mean of the gradients. A synchronised BatchNorm (the default)
//! normalizes with the statistics of the whole batch and, in its backward pass, uses the sums
//! of `dy` and `dy * x_hat` over the whole batch, so each worker's gradient is exactly its share
//! of the gradient of the batch's loss (see [`Network::backward_with`]): the result equals a
//! single-threaded [`train_step`](Network::train_step) on the whole batch up to the order of
//! floating-point additions (tested at `1e-5` relative in `f32`, `1e-12` in `f64`).
//!
//! **BatchNorm statistics.** [`BatchNormStatistics::Global`] (the default) is PyTorch's
//! `SyncBatchNorm`: batch statistics and running statistics of the whole batch, identical on
//! every worker. [`BatchNormStatistics::PerWorker`] is what `DataParallel` or
//! `DistributedDataParallel` without synchronisation do: each worker normalizes its share with
//! the share's own statistics (no communication in the forward and backward passes, but
//! statistics over `PB` samples instead of `B`), and the running statistics kept are worker 0's
//! (as DDP keeps rank 0's buffers).
//!
//! **A step is a transaction**, as [`Network::train_step`]: every worker reports whether its
//! forward and backward passes succeeded, and all of them agree (an all-reduce of the failure
//! flags) before anything is applied, so on `Err` (NaN in one worker's share, a label out of
//! range) the parameters, the running statistics, the batch counters and the optimizer are as
//! before the call. The error returned is that of the lowest-numbered failing worker.
//!
//! **Nothing allocates per step.** The worker threads, their tapes (`Net::Tape<PB>`, sized at
//! compile time), their copies of the network and the reduction buffers are created with the
//! trainer or at its first step; a step then only copies the parameters and state into the
//! workers' networks, each worker's share of the batch, and synchronises with mutexes and
//! condition variables (futex-based on Linux, no allocation), each waiter polling for a few
//! tens of microseconds before it sleeps.
//!
//! **What a step copies.** With `W` workers and `P` parameters: the parameters into each of
//! the `W - 1` workers' networks (the generated code reads a network's parameters from the
//! network itself, so a worker cannot read the caller's in place), `P (W - 1) / W` gradient
//! values published by each worker for the others to sum, and `P (W - 1) / W` sums copied back
//! by worker 0 (each worker's own chunk is summed where it lies). On 2 threads: 2.5 copies of
//! `P` values per step.
//!
//! **The optimizer's writes are split across the workers** from [`SPLIT_WRITES_FROM`]
//! parameters on (below, worker 0 writes everything: such an update takes a few microseconds,
//! about what handing out its chunks costs, a lock per chunk and perhaps a wake-up; the
//! threshold is a choice, not a measurement). Its check phase (the scan of the gradient and
//! the parameters that proves the update finite, see [`Optimizer::step_scanned`]) is split
//! across the workers and fused with the sum; worker 0 then decides, from the combined scans, whether the update is applied,
//! before anything is written ([`Optimizer::step_split`]). Only then does it lend the update's
//! chunks to the workers: chunk `k` of the parameters, of the gradient and of every state
//! buffer, the step's constants computed once, each worker starting with the chunk of its own
//! index. The parameters and the optimizer's state are the caller's (`&mut Net`, `&mut O`),
//! and the workers are threads created once, which outlive that borrow: the lending is the
//! small `unsafe` primitive of `kernels::lend` (disjoint chunks taken once each; the caller
//! does not return before every chunk a worker took has been applied, even when one panics).
//! The updates are element-wise, so the result is the same bits as on one thread. A worker
//! that failed or is late takes no chunk, and worker 0 applies what is left. The workers'
//! copies of the network still get the updated parameters at the next step's start (the
//! parameter copy of "What a step copies").
//!
//! **Failure.** A worker thread that panics aborts the group and every other worker's next
//! synchronisation returns [`Error::Collective`]; so does a worker that does not reach a
//! synchronisation point within the timeout ([`DEFAULT_TIMEOUT`], or
//! [`Parallel::with_timeout`]). The trainer is then unusable: each later step returns the
//! error at once.
//!
//! **Limits.** Workers' networks get the parameters, the running statistics and the settings
//! ([`Network::copy_settings_from`]: Batch Renorm's `renorm_limits`) of the network at every
//! step; the dropout generator is copied once, at the first step. Dropout masks therefore
//! differ from a single-threaded run (each worker draws from its own copy of the generator, all
//! starting from the same state).

mod threads;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, TryLockError};
use std::thread::JoinHandle;
use std::time::Duration;

pub use threads::{ThreadCollective, DEFAULT_TIMEOUT};

use crate::kernels::lend::{poll_for, Crew, MAX_PARTS};
use crate::network::{apply_gradient_by, restore_after_forward};
use crate::optim::{GradientScan, Optimizer, Workers};
use num_traits::{Float, One, Zero};

use crate::{Error, Network, Result, Scalar, Solo};

/// Where BatchNorm and Batch Renorm layers take their batch statistics from when a batch is
/// split across workers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BatchNormStatistics {
    /// The whole batch's, summed across the workers (PyTorch's `SyncBatchNorm`): the same
    /// result as on one thread.
    #[default]
    Global,
    /// Each worker's share's own (`DataParallel` without synchronisation); the running
    /// statistics kept are worker 0's.
    PerWorker,
}

/// A data-parallel trainer of `Net` (with `P` parameters) on `W` threads, each training on
/// `PB` samples of every batch of `B = W * PB` (see the [module docs](self)).
///
/// ```
/// use monograd_runtime::optim::{Sgd, SgdConfig};
/// # use monograd_runtime::Network;
/// # fn demo<Net>(net: &mut Net, x: &[[f32; 4]; 8], y: &[usize; 8]) -> monograd_runtime::Result<()>
/// # where Net: Network<10, Element = f32, Input = [f32; 4], Target = usize> + Clone + Send + 'static {
/// use monograd_runtime::parallel::Parallel;
/// // Two workers of 4 samples each: batches of 8 (`_`: the parameter count, inferred).
/// let mut trainer = Parallel::<Net, _, 2, 4>::new()?;
/// let mut sgd = Sgd::new(SgdConfig::default())?;
/// let loss = trainer.train_step(net, x, y, &mut sgd)?;
/// # let _ = loss; Ok(()) }
/// ```
///
/// A batch that is not `W * PB` samples does not compile (a post-monomorphization error of
/// [`train_step`](Self::train_step), reported by `cargo build`).
pub struct Parallel<Net: Network<P>, const P: usize, const W: usize, const PB: usize> {
    shared: Arc<Shared<Net, P, PB>>,
    /// Worker 0's tape (worker 0 is the calling thread).
    tape: Net::Tape<PB>,
    collective: ThreadCollective<Net::Element>,
    helpers: Vec<JoinHandle<()>>,
    statistics: BatchNormStatistics,
    /// The generation of the step the workers were last started for (`Start::generation`):
    /// the round of the optimizer's split writes.
    generation: u64,
}

/// From this many parameters on, a step's optimizer writes are split across the workers
/// ([`Optimizer::step_split`]); below, worker 0 applies the whole update, which then takes
/// about as long as handing chunks to other threads would (a few microseconds).
pub const SPLIT_WRITES_FROM: usize = 16 * 1024;

/// What the calling thread and the worker threads share.
struct Shared<Net: Network<P>, const P: usize, const PB: usize> {
    start: Mutex<Start>,
    started: Condvar,
    /// Worker `w`'s copy of the network and its share of the batch (unused for worker 0).
    jobs: Vec<Mutex<Option<Job<Net, P, PB>>>>,
    /// Each worker's error of the current step.
    errors: Vec<Mutex<Option<Error>>>,
    /// The workers that apply the chunks of the optimizer's update.
    crew: Crew,
}

struct Start {
    generation: u64,
    statistics: BatchNormStatistics,
    shutdown: bool,
}

struct Job<Net: Network<P>, const P: usize, const PB: usize> {
    net: Net,
    x: Box<[Net::Input; PB]>,
    targets: Box<[Net::Target; PB]>,
}

fn lock<T>(mutex: &Mutex<T>) -> Result<MutexGuard<'_, T>> {
    mutex.lock().map_err(|_| Error::Collective {
        operation: "training step across worker threads",
        reason: "a worker thread panicked",
        peer: None,
    })
}

/// How long a woken worker polls for its job before it sleeps until the job is unlocked: about
/// the time the trainer takes to copy a few hundred thousand parameters into it. A worker
/// arriving later than that finds its job ready; one that sleeps costs a wake-up.
const JOB_SPIN: Duration = Duration::from_micros(50);

/// [`lock`] that polls for up to [`JOB_SPIN`] before sleeping: the trainer holds a worker's
/// job while it copies the parameters into it, which is about as long as waking the worker.
fn lock_soon<T>(mutex: &Mutex<T>) -> Result<MutexGuard<'_, T>> {
    poll_for(JOB_SPIN, || match mutex.try_lock() {
        Ok(guard) => Some(Ok(guard)),
        Err(TryLockError::WouldBlock) => None,
        Err(TryLockError::Poisoned(_)) => Some(lock(mutex)),
    })
    .unwrap_or_else(|| lock(mutex))
}

impl<Net, const P: usize, const W: usize, const PB: usize> Parallel<Net, P, W, PB>
where
    Net: Network<P> + Clone + Send + 'static,
    Net::Element: Send + Sync,
    Net::Input: Send,
    Net::Target: Send,
{
    /// A trainer with `W - 1` new worker threads (the calling thread is worker 0), each with
    /// its tape; BatchNorm statistics are global ([`BatchNormStatistics::Global`]).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `W` or `PB` is 0, [`Error::Collective`] when the
    /// operating system does not start a thread.
    pub fn new() -> Result<Self> {
        Self::with_timeout(DEFAULT_TIMEOUT)
    }

    /// As [`new`](Self::new), with workers giving up (and the step failing with
    /// [`Error::Collective`]) when a peer has not reached a synchronisation point after
    /// `timeout`.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_timeout(timeout: Duration) -> Result<Self> {
        if W == 0 || PB == 0 {
            return Err(Error::InvalidParameter {
                name: "Parallel: workers W and per-worker batch PB",
                value: 0.0,
                expected: ">= 1",
            });
        }
        // The gradient and the two values of the agreement are summed in one call.
        let mut collectives = ThreadCollective::group(W, P + 2, timeout)?.into_iter();
        let collective = collectives.next().ok_or(Error::InvalidParameter {
            name: "Parallel: workers W",
            value: 0.0,
            expected: ">= 1",
        })?;
        let shared = Arc::new(Shared {
            start: Mutex::new(Start {
                generation: 0,
                statistics: BatchNormStatistics::Global,
                shutdown: false,
            }),
            started: Condvar::new(),
            jobs: (0..W).map(|_| Mutex::new(None)).collect(),
            errors: (0..W).map(|_| Mutex::new(None)).collect(),
            crew: Crew::new(),
        });
        let mut trainer = Parallel {
            shared,
            tape: Net::new_tape::<PB>(),
            collective,
            helpers: Vec::with_capacity(W),
            statistics: BatchNormStatistics::Global,
            generation: 0,
        };
        for (index, collective) in (1..W).zip(collectives) {
            let shared = Arc::clone(&trainer.shared);
            let helper = std::thread::Builder::new()
                .name(format!("monograd-worker-{index}"))
                .spawn(move || worker_loop::<Net, P, W, PB>(&shared, collective, index))
                .map_err(|_| Error::Collective {
                    operation: "starting worker threads",
                    reason: "the operating system did not start a thread",
                    peer: Some(index),
                })?;
            trainer.helpers.push(helper);
        }
        Ok(trainer)
    }

    /// Selects where BatchNorm takes its batch statistics from (global by default).
    pub fn with_batch_norm(mut self, statistics: BatchNormStatistics) -> Self {
        self.statistics = statistics;
        self
    }

    /// Where BatchNorm takes its batch statistics from.
    pub fn batch_norm(&self) -> BatchNormStatistics {
        self.statistics
    }

    /// One training step of `net` on a batch of `B = W * PB` samples split across the workers:
    /// forward and backward passes on every worker's share, the gradients summed and divided
    /// by `W`, one `optimizer` update of `net`'s parameters. Returns the mean loss over the
    /// batch before the update.
    ///
    /// A step is a transaction, as [`Network::train_step`]: on `Err` the parameters, the
    /// running statistics, the batch counters and the optimizer are as before the call.
    ///
    /// # Errors
    /// Those of [`Network::train_step`] on any worker's share (the lowest-numbered failing
    /// worker's), and [`Error::Collective`] when a worker thread panicked or timed out.
    pub fn train_step<const B: usize, O: Optimizer<Net::Element, P>>(
        &mut self,
        net: &mut Net,
        x: &[Net::Input; B],
        targets: &[Net::Target; B],
        optimizer: &mut O,
    ) -> Result<Net::Element> {
        #[allow(clippy::let_unit_value)]
        let () = Shares::<B, W, PB>::BATCH_IS_W_TIMES_PB;
        let (x_shares, _) = x.as_chunks::<PB>();
        let (target_shares, _) = targets.as_chunks::<PB>();
        self.publish(net, x_shares, target_shares)?;
        // Workers whose step succeeded wait for this round of split writes: it ends when this
        // function returns, whatever happens before.
        let round = SplitWrites::<W, P>::ON.then(|| EndRound {
            crew: &self.shared.crew,
            round: self.generation,
            parts: W.min(MAX_PARTS),
        });
        let (Some(x0), Some(targets0)) = (x_shares.first(), target_shares.first()) else {
            return Err(Error::InvalidParameter {
                name: "Parallel: batch",
                value: 0.0,
                expected: "W * PB samples",
            });
        };
        let summed = work(
            net,
            &mut self.tape,
            (x0, targets0),
            &mut self.collective,
            self.statistics,
            &self.shared.errors[0],
        );
        match summed {
            Ok(Some((loss_sum, scan))) => {
                // The tape holds the mean gradient already, and the workers have scanned it.
                let scale = Net::Element::from_usize(W).recip();
                let step = |params: &mut [Net::Element; P], grads: &[Net::Element; P]| match (
                    scan, &round,
                ) {
                    (Some(scan), Some(round)) => optimizer.step_split(params, grads, &scan, round),
                    (Some(scan), None) => optimizer.step_scanned(params, grads, &scan),
                    (None, _) => optimizer.step(params, grads),
                };
                match apply_gradient_by(net, &mut self.tape, step) {
                    Ok(()) => Ok(loss_sum * scale),
                    Err(error) => {
                        restore_after_forward(net, &self.tape);
                        Err(error)
                    }
                }
            }
            Ok(None) => {
                // The lowest-numbered worker's error; every slot is emptied for the next step.
                let mut first = None;
                for slot in &self.shared.errors {
                    let error = lock(slot)?.take();
                    first = first.or(error);
                }
                Err(first.unwrap_or(Error::Collective {
                    operation: "training step across worker threads",
                    reason: "a worker reported a failure but no error",
                    peer: None,
                }))
            }
            Err(error) => Err(error),
        }
    }

    /// Copies the parameters, the state and each worker's share of the batch where the
    /// workers find them (the first step also gives each worker its copy of `net`), then
    /// starts them.
    fn publish(
        &mut self,
        net: &Net,
        x_shares: &[[Net::Input; PB]],
        target_shares: &[[Net::Target; PB]],
    ) -> Result<()> {
        if W == 1 {
            // Worker 0 trains `net` itself.
            return Ok(());
        }
        let shared = &*self.shared;
        // Every worker's job is locked before the workers are woken, so that none starts on
        // the parameters of the previous step; the copies below then overlap the workers'
        // wake-up (tens of microseconds for a sleeping core), which they would otherwise add
        // to the step. The first step makes each worker's copy of the network before waking.
        let mut jobs: [Option<MutexGuard<'_, Option<Job<Net, P, PB>>>>; W] =
            core::array::from_fn(|_| None);
        for (guard, job) in jobs.iter_mut().zip(&shared.jobs).skip(1) {
            *guard = Some(lock(job)?);
        }
        let ready = jobs.iter().flatten().all(|job| job.is_some());
        if ready {
            self.generation = self.start_workers()?;
        }
        for (((job, x), targets), index) in jobs
            .iter_mut()
            .zip(x_shares)
            .zip(target_shares)
            .zip(0..)
            .skip(1)
        {
            let Some(job) = job else { continue };
            match &mut **job {
                Some(job) => {
                    // Straight into the worker's copy: one copy of the parameters on the
                    // step's critical path, where a snapshot read by the worker made two.
                    job.net.params_mut().copy_from_slice(net.params());
                    job.net.state_mut().copy_from_slice(net.state());
                    job.net.copy_settings_from(net);
                    job.x.copy_from_slice(x);
                    job.targets.copy_from_slice(targets);
                }
                None => {
                    **job = Some(Job {
                        net: net.clone(),
                        x: boxed(x, index)?,
                        targets: boxed(targets, index)?,
                    });
                }
            }
        }
        drop(jobs);
        if !ready {
            self.generation = self.start_workers()?;
        }
        Ok(())
    }

    /// Wakes the workers for a new step; returns the step's generation.
    fn start_workers(&self) -> Result<u64> {
        let mut start = lock(&self.shared.start)?;
        start.generation += 1;
        start.statistics = self.statistics;
        self.shared.started.notify_all();
        Ok(start.generation)
    }
}

/// Fails to compile unless a batch of `B` splits into `W` shares of `PB` samples. A named
/// associated const rather than an inline `const` block, so that the compiler's error names it
/// (`Shares::<8, 3, 2>::BATCH_IS_W_TIMES_PB`) instead of an anonymous `{constant#N}`.
struct Shares<const B: usize, const W: usize, const PB: usize>;

impl<const B: usize, const W: usize, const PB: usize> Shares<B, W, PB> {
    const BATCH_IS_W_TIMES_PB: () = assert!(
        W > 0 && PB > 0 && B == W * PB,
        "Parallel::<Net, P, W, PB>::train_step: the batch B must be W workers times PB samples \
         each (W must divide B)"
    );
}

/// Whether a step of `W` workers over `P` parameters splits its optimizer writes across them.
struct SplitWrites<const W: usize, const P: usize>;

impl<const W: usize, const P: usize> SplitWrites<W, P> {
    const ON: bool = W > 1 && P >= SPLIT_WRITES_FROM;
}

/// The optimizer's split writes of one step ([`Workers`] for [`Optimizer::step_split`]): the
/// chunks go to the crew's round, and the round ends when this is dropped, so that workers
/// waiting for it go on when the step applies nothing (an error, or an optimizer that does not
/// split its writes).
struct EndRound<'a> {
    crew: &'a Crew,
    round: u64,
    /// One chunk per worker.
    parts: usize,
}

impl Workers for EndRound<'_> {
    fn parts(&self) -> usize {
        self.parts
    }

    fn run(&self, job: &(dyn Fn(usize) + Sync)) {
        // Every worker takes one chunk, its own index first (see `Crew::run`).
        self.crew.run(self.round, self.parts, job);
    }
}

impl Drop for EndRound<'_> {
    fn drop(&mut self) {
        self.crew.skip(self.round);
    }
}

/// A heap copy of one worker's share (no `[X; PB]` on the stack, which may be large).
fn boxed<X: Copy, const PB: usize>(share: &[X; PB], worker: usize) -> Result<Box<[X; PB]>> {
    share
        .to_vec()
        .into_boxed_slice()
        .try_into()
        .map_err(|_| Error::Collective {
            operation: "training step across worker threads",
            reason: "a share of the batch has the wrong length",
            peer: Some(worker),
        })
}

impl<Net: Network<P>, const P: usize, const W: usize, const PB: usize> Drop
    for Parallel<Net, P, W, PB>
{
    fn drop(&mut self) {
        match self.shared.start.lock() {
            Ok(mut start) => start.shutdown = true,
            Err(poisoned) => poisoned.into_inner().shutdown = true,
        }
        self.shared.started.notify_all();
        self.shared.crew.shut_down();
        for helper in self.helpers.drain(..) {
            // A worker that panicked has already aborted the group; nothing more to report.
            let _ = helper.join();
        }
    }
}

/// A worker thread: waits for each step, runs it on its copy of the network, until shutdown.
fn worker_loop<Net: Network<P>, const P: usize, const W: usize, const PB: usize>(
    shared: &Shared<Net, P, PB>,
    mut collective: ThreadCollective<Net::Element>,
    index: usize,
) where
    Net::Element: Send + Sync,
{
    let mut tape = Net::new_tape::<PB>();
    let mut seen = 0;
    loop {
        let statistics = {
            let Ok(mut start) = shared.start.lock() else {
                collective.abort();
                return;
            };
            while start.generation == seen && !start.shutdown {
                start = match shared.started.wait(start) {
                    Ok(start) => start,
                    Err(_) => {
                        collective.abort();
                        return;
                    }
                };
            }
            if start.shutdown {
                return;
            }
            seen = start.generation;
            start.statistics
        };
        let step = catch_unwind(AssertUnwindSafe(|| {
            worker_step(shared, &mut tape, &mut collective, index, statistics)
        }));
        let agreed = match step {
            Ok(Ok(agreed)) => agreed,
            _ => {
                // A panic, or a step that could not start: no peer may wait for this worker.
                collective.abort();
                return;
            }
        };
        // After a step every worker agreed on, worker 0 may split the optimizer's writes: this
        // worker takes its chunks (or finds the round over) before waiting for the next step.
        if agreed && SplitWrites::<W, P>::ON && !shared.crew.join(seen, index) {
            return;
        }
    }
}

/// One step of worker `index` (not 0) on its copy of the network: whether every worker's
/// forward and backward passes succeeded.
fn worker_step<Net: Network<P>, const P: usize, const PB: usize>(
    shared: &Shared<Net, P, PB>,
    tape: &mut Net::Tape<PB>,
    collective: &mut ThreadCollective<Net::Element>,
    index: usize,
    statistics: BatchNormStatistics,
) -> Result<bool>
where
    Net::Element: Send + Sync,
{
    let mut job = lock_soon(&shared.jobs[index])?;
    let Some(job) = &mut *job else {
        return Err(Error::Collective {
            operation: "training step across worker threads",
            reason: "a worker started without its share of the batch",
            peer: Some(index),
        });
    };
    let Job { net, x, targets } = job;
    // The outcome (and any error) reaches worker 0 through the all-reduces and the error slot.
    work(
        net,
        tape,
        (x, targets),
        collective,
        statistics,
        &shared.errors[index],
    )
    .map(|summed| summed.is_some())
}

/// The sum of the workers' losses and, on worker 0, the check phase's scan of the mean
/// gradient and the parameters.
type Summed<T> = (T, Option<GradientScan>);

/// Forward and backward passes of one worker on its share, the agreement on failure and the
/// gradient sum: `Ok(Some((sum of the workers' losses, scan)))` with the mean gradient in worker
/// 0's `tape`,
/// `Ok(None)` when a worker failed (this one's error is then in `error`), and on `Err` a
/// failure of the group itself. Unless it returns `Ok(Some(_))`, the network's state and batch
/// counters are as before.
fn work<Net: Network<P>, const P: usize, const PB: usize>(
    net: &mut Net,
    tape: &mut Net::Tape<PB>,
    (x, targets): (&[Net::Input; PB], &[Net::Target; PB]),
    collective: &mut ThreadCollective<Net::Element>,
    statistics: BatchNormStatistics,
    error: &Mutex<Option<Error>>,
) -> Result<Option<Summed<Net::Element>>>
where
    Net::Element: Send + Sync,
{
    let (forward, loss) = match statistics {
        BatchNormStatistics::Global => {
            let forward = net.forward_train_with(tape, x, collective).map(|_| ());
            // Even after a failed forward pass, so that the peers' sums get this worker's part.
            (forward, net.backward_with(tape, x, targets, collective))
        }
        BatchNormStatistics::PerWorker => {
            let forward = net.forward_train_with(tape, x, &mut Solo).map(|_| ());
            (forward, net.backward_with(tape, x, targets, &mut Solo))
        }
    };
    let forward_ok = forward.is_ok();
    let summed =
        agree_and_sum::<Net, P, PB>(tape, net.params(), forward.and(loss), collective, error);
    if forward_ok && !matches!(summed, Ok(Some(_))) {
        restore_after_forward(net, tape);
    }
    summed
}

fn agree_and_sum<Net: Network<P>, const P: usize, const PB: usize>(
    tape: &mut Net::Tape<PB>,
    params: &[Net::Element; P],
    local: Result<Net::Element>,
    collective: &mut ThreadCollective<Net::Element>,
    error: &Mutex<Option<Error>>,
) -> Result<Option<Summed<Net::Element>>>
where
    Net::Element: Send + Sync,
{
    let zero = Net::Element::zero();
    let mut agreement = match local {
        Ok(loss) => [zero, loss],
        Err(Error::Collective {
            operation,
            reason,
            peer,
        }) => {
            return Err(Error::Collective {
                operation,
                reason,
                peer,
            })
        }
        Err(failure) => {
            *lock(error)? = Some(failure);
            [Net::Element::one(), zero]
        }
    };
    // One call for the agreement and the mean gradient (which only worker 0 needs), each
    // worker scanning the chunk it sums for the optimizer's check: a failed worker's gradient
    // may be garbage, but then nothing is applied. Every worker's parameters are the network's
    // (copied at the start of the step), so each scans its chunk in its own copy.
    let scan = collective.reduce_mean_to_first_scanned(
        Net::param_grads_mut(tape),
        params,
        &mut agreement,
    )?;
    if agreement[0] != zero {
        return Ok(None);
    }
    Ok(Some((agreement[1], scan)))
}

#[cfg(test)]
mod tests;
