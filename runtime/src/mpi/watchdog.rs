//! A thread that aborts the MPI job when a collective operation does not complete in time.
//!
//! An MPI collective cannot be cancelled, and after a peer has died the library's state is
//! undefined (MPI before fault-tolerance extensions), so a rank blocked in a collective whose
//! peer will never arrive cannot return an error: it would block forever. The watchdog turns that
//! hang into a clear failure. Every collective arms it (one atomic store of the start time, the
//! operation and the step) and disarms it when the call returns; the watchdog thread wakes up a
//! few times per timeout, and when one call has been running for longer than the timeout it
//! prints which rank, operation and step, then calls `MPI_Abort` on `MPI_COMM_WORLD` with exit
//! code [`WATCHDOG_EXIT_CODE`], which ends every process of the job (`mpirun` then exits with
//! that code, or non-zero).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ::mpi::topology::SimpleCommunicator;
use ::mpi::traits::Communicator;

use super::Operation;

/// The exit code of a job the watchdog aborts (that of coreutils' `timeout`).
pub const WATCHDOG_EXIT_CODE: i32 = 124;

/// What the watchdog watches: the collective in progress, if any.
#[derive(Debug)]
pub(crate) struct Watch {
    /// Milliseconds since `epoch` at which the current collective started, plus one; 0 when idle.
    started_ms: AtomicU64,
    /// The [`Operation`] in progress, as its index.
    operation: AtomicUsize,
    /// The training step it belongs to.
    step: AtomicU64,
    stop: AtomicBool,
    epoch: Instant,
}

impl Watch {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1
    }

    /// Marks the start of `operation` at `step`.
    pub(crate) fn arm(&self, operation: Operation, step: u64) {
        self.operation.store(operation as usize, Ordering::Relaxed);
        self.step.store(step, Ordering::Relaxed);
        self.started_ms.store(self.now_ms(), Ordering::Release);
    }

    /// Marks the end of the collective in progress.
    pub(crate) fn disarm(&self) {
        self.started_ms.store(0, Ordering::Release);
    }

    /// `(operation, step, seconds running)` when the collective in progress has run for longer
    /// than `timeout`.
    fn overdue(&self, timeout: Duration) -> Option<(Operation, u64, f64)> {
        let started = self.started_ms.load(Ordering::Acquire);
        if started == 0 {
            return None;
        }
        let running = self.now_ms().saturating_sub(started);
        if u128::from(running) <= timeout.as_millis() {
            return None;
        }
        let operation = Operation::from_index(self.operation.load(Ordering::Relaxed));
        let step = self.step.load(Ordering::Relaxed);
        Some((operation, step, running as f64 / 1000.0))
    }
}

/// The watchdog thread and what it watches; stops the thread when dropped.
#[derive(Debug)]
pub(crate) struct Watchdog {
    pub(crate) watch: Arc<Watch>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts a watchdog for rank `rank` of `size` that aborts the job when a collective runs
    /// longer than `timeout`.
    pub(crate) fn start(timeout: Duration, rank: usize, size: usize) -> std::io::Result<Self> {
        let watch = Arc::new(Watch {
            started_ms: AtomicU64::new(0),
            operation: AtomicUsize::new(0),
            step: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            epoch: Instant::now(),
        });
        // Several looks per timeout, so that the abort comes at most ~10% late; never busier
        // than every 10 ms nor idler than every second.
        let poll = (timeout / 10).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let watched = Arc::clone(&watch);
        let (ready, wait_ready) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("monograd-mpi-watchdog".into())
            .spawn(move || {
                // The thread's own set-up (its handle, which parking uses) allocates: done
                // before `start` returns, so that training steps allocate nothing afterwards.
                let _ = std::thread::current();
                let _ = ready.send(());
                drop(ready);
                while !watched.stop.load(Ordering::Acquire) {
                    std::thread::park_timeout(poll);
                    if let Some((operation, step, seconds)) = watched.overdue(timeout) {
                        eprintln!(
                            "{}",
                            overdue_message(rank, size, operation, step, seconds, timeout)
                        );
                        SimpleCommunicator::world().abort(WATCHDOG_EXIT_CODE);
                    }
                }
            })?;
        let _ = wait_ready.recv();
        Ok(Watchdog {
            watch,
            thread: Some(thread),
        })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.watch.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// What the watchdog prints before aborting the job.
pub(crate) fn overdue_message(
    rank: usize,
    size: usize,
    operation: Operation,
    step: u64,
    seconds: f64,
    timeout: Duration,
) -> String {
    format!(
        "monograd mpi: rank {rank} of {size}: {} at step {step} did not complete within the \
         timeout of {} s (running for {seconds:.1} s): a peer rank died or hangs; aborting the \
         job (MPI_Abort, exit code {WATCHDOG_EXIT_CODE})",
        operation.describe(),
        timeout.as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch() -> Watch {
        Watch {
            started_ms: AtomicU64::new(0),
            operation: AtomicUsize::new(0),
            step: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            epoch: Instant::now(),
        }
    }

    #[test]
    fn an_idle_watch_is_never_overdue() {
        let watch = watch();
        assert_eq!(watch.overdue(Duration::ZERO), None);
        watch.arm(Operation::GradientAllReduce, 3);
        watch.disarm();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(watch.overdue(Duration::ZERO), None);
    }

    #[test]
    fn an_armed_watch_is_overdue_after_the_timeout_only() {
        let watch = watch();
        watch.arm(Operation::GradientAllReduce, 7);
        assert_eq!(watch.overdue(Duration::from_secs(60)), None);
        std::thread::sleep(Duration::from_millis(5));
        let (operation, step, seconds) = watch.overdue(Duration::from_millis(1)).unwrap();
        assert_eq!(operation, Operation::GradientAllReduce);
        assert_eq!(step, 7);
        assert!(seconds >= 0.004, "{seconds}");
    }

    #[test]
    fn the_message_names_rank_operation_step_and_timeout() {
        let message = overdue_message(
            1,
            2,
            Operation::GradientAllReduce,
            42,
            5.3,
            Duration::from_secs(5),
        );
        assert_eq!(
            message,
            "monograd mpi: rank 1 of 2: all-reduce of the parameter gradient and step status at \
             step 42 did not complete within the timeout of 5 s (running for 5.3 s): a peer rank \
             died or hangs; aborting the job (MPI_Abort, exit code 124)"
        );
    }
}
