//! The [`Collective`] of the worker threads of one process: a barrier and shared reduction
//! buffers.
//!
//! `all_reduce_sum` of `L` values over `W` threads:
//! 1. each thread copies its values into its own slot;
//! 2. barrier;
//! 3. thread `k` sums chunk `k` (about `L / W` values) of every slot, in worker order, into
//!    its own sum buffer: the reduction is split across the threads, none sums everything;
//! 4. barrier;
//! 5. each thread copies every chunk's sum into its values.
//!
//! Every thread reads the same sums, so the result is bitwise the same on all of them (the
//! running statistics of a synchronised BatchNorm stay identical across workers). No third
//! barrier is needed: a thread can only start the next call's step 3 (rewriting its sum) after
//! the next call's step 2, which every thread reaches only after finishing this call's step 5,
//! and it can only rewrite its slot (step 1) after this call's step 4, when every thread has
//! finished reading the slots.
//!
//! The buffers hold `capacity` values each from the start, so a sum of at most that many
//! values allocates nothing; a longer one grows them once.
//!
//! A thread that panics, or one that does not arrive at a barrier within the timeout, aborts
//! the group: every waiting and later call returns [`Error::Collective`] instead of blocking.

use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::{Collective, Error, Result, Scalar};

/// How long a thread waits at a barrier for the others before giving up; the wait is the
/// imbalance between the workers' shares of a step, not a whole step.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

const OPERATION: &str = "all-reduce across worker threads";

/// A reusable barrier for a fixed number of threads, which can be aborted and times out.
#[derive(Debug)]
pub(crate) struct Rendezvous {
    state: Mutex<RendezvousState>,
    arrived: Condvar,
    participants: usize,
    timeout: Duration,
}

#[derive(Debug)]
struct RendezvousState {
    waiting: usize,
    generation: u64,
    /// Set once for good: the peer that panicked or did not arrive in time (`None`: unknown).
    aborted: Option<Option<usize>>,
}

impl Rendezvous {
    pub(crate) fn new(participants: usize, timeout: Duration) -> Self {
        Rendezvous {
            state: Mutex::new(RendezvousState {
                waiting: 0,
                generation: 0,
                aborted: None,
            }),
            arrived: Condvar::new(),
            participants,
            timeout,
        }
    }

    fn aborted_error(peer: Option<usize>) -> Error {
        Error::Collective {
            operation: OPERATION,
            reason: "a worker thread panicked or did not arrive within the timeout",
            peer,
        }
    }

    /// Blocks until all participants have called `wait` (as many times as this one).
    pub(crate) fn wait(&self) -> Result<()> {
        let mut state = self.state.lock().map_err(|_| Self::aborted_error(None))?;
        if let Some(peer) = state.aborted {
            return Err(Self::aborted_error(peer));
        }
        state.waiting += 1;
        if state.waiting == self.participants {
            state.waiting = 0;
            state.generation = state.generation.wrapping_add(1);
            self.arrived.notify_all();
            return Ok(());
        }
        let generation = state.generation;
        let deadline = Instant::now() + self.timeout;
        loop {
            let now = Instant::now();
            if now >= deadline {
                state.aborted = Some(None);
                self.arrived.notify_all();
                return Err(Error::Collective {
                    operation: OPERATION,
                    reason: "a worker thread did not arrive within the timeout",
                    peer: None,
                });
            }
            state = self
                .arrived
                .wait_timeout(state, deadline - now)
                .map_err(|_| Self::aborted_error(None))?
                .0;
            if state.generation != generation {
                return Ok(());
            }
            if let Some(peer) = state.aborted {
                return Err(Self::aborted_error(peer));
            }
        }
    }

    /// Makes every current and future `wait` fail, naming `peer`.
    pub(crate) fn abort(&self, peer: Option<usize>) {
        let mut state = match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        state.aborted.get_or_insert(peer);
        self.arrived.notify_all();
    }
}

/// What the threads of one group share.
#[derive(Debug)]
pub(crate) struct Group<T> {
    pub(crate) barrier: Rendezvous,
    /// Each thread's values (step 1).
    slots: Vec<RwLock<Vec<T>>>,
    /// Each thread's chunk of the sum (step 3).
    sums: Vec<RwLock<Vec<T>>>,
}

/// One worker thread's handle on a group of `participants` threads summing through shared
/// buffers (see the [module docs](self)). Made by [`ThreadCollective::group`]; each handle goes
/// to its own thread.
#[derive(Debug)]
pub struct ThreadCollective<T> {
    group: Arc<Group<T>>,
    index: usize,
}

/// The range of chunk `k` of `len` values split in `parts` nearly equal chunks.
fn chunk(len: usize, parts: usize, k: usize) -> core::ops::Range<usize> {
    (k * len / parts)..((k + 1) * len / parts)
}

fn different_lengths(peer: usize) -> Error {
    Error::Collective {
        operation: OPERATION,
        reason: "the participants passed slices of different lengths",
        peer: Some(peer),
    }
}

fn poisoned(peer: usize) -> Error {
    Error::Collective {
        operation: OPERATION,
        reason: "a worker thread panicked while holding a reduction buffer",
        peer: Some(peer),
    }
}

impl<T: Scalar + Send + Sync> ThreadCollective<T> {
    /// `participants` handles (index `0..participants`) sharing one group, whose buffers hold
    /// `capacity` values without growing; a barrier gives up after `timeout`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `participants` is 0.
    pub fn group(participants: usize, capacity: usize, timeout: Duration) -> Result<Vec<Self>> {
        if participants == 0 {
            return Err(Error::InvalidParameter {
                name: "ThreadCollective::group: participants",
                value: 0.0,
                expected: ">= 1",
            });
        }
        let buffer = |len: usize| RwLock::new(Vec::with_capacity(len));
        let chunk_len = capacity.div_ceil(participants) + 1;
        let group = Arc::new(Group {
            barrier: Rendezvous::new(participants, timeout),
            slots: (0..participants).map(|_| buffer(capacity)).collect(),
            sums: (0..participants).map(|_| buffer(chunk_len)).collect(),
        });
        Ok((0..participants)
            .map(|index| ThreadCollective {
                group: Arc::clone(&group),
                index,
            })
            .collect())
    }

    /// This thread's index in the group.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Makes every current and later call of every handle of the group fail with
    /// [`Error::Collective`] naming this thread (a worker that cannot go on calls it, so that
    /// no peer waits for it).
    pub fn abort(&self) {
        self.group.barrier.abort(Some(self.index));
    }

    /// Blocks until every thread of the group has called `barrier` as many times.
    ///
    /// # Errors
    /// [`Error::Collective`] when the group was aborted or a peer did not arrive in time.
    pub fn barrier(&self) -> Result<()> {
        self.group.barrier.wait()
    }
}

impl<T: Scalar + Send + Sync> Collective<T> for ThreadCollective<T> {
    fn participants(&self) -> usize {
        self.group.slots.len()
    }

    fn all_reduce_sum(&mut self, values: &mut [T]) -> Result<()> {
        let result = self.reduce(values);
        if result.is_err() {
            // Peers still waiting for this thread must not wait for nothing.
            self.abort();
        }
        result
    }
}

impl<T: Scalar + Send + Sync> ThreadCollective<T> {
    fn reduce(&mut self, values: &mut [T]) -> Result<()> {
        let group = &*self.group;
        let parts = group.slots.len();
        let len = values.len();
        {
            let mut slot = group.slots[self.index]
                .write()
                .map_err(|_| poisoned(self.index))?;
            slot.clear();
            slot.extend_from_slice(values);
        }
        group.barrier.wait()?;
        {
            let mine = chunk(len, parts, self.index);
            let mut sum = group.sums[self.index]
                .write()
                .map_err(|_| poisoned(self.index))?;
            sum.clear();
            for (peer, slot) in group.slots.iter().enumerate() {
                let slot = slot.read().map_err(|_| poisoned(peer))?;
                let values = match slot.get(mine.clone()) {
                    Some(values) if slot.len() == len => values,
                    _ => return Err(different_lengths(peer)),
                };
                if peer == 0 {
                    sum.extend_from_slice(values);
                } else {
                    for (total, &v) in sum.iter_mut().zip(values) {
                        *total += v;
                    }
                }
            }
        }
        group.barrier.wait()?;
        for (peer, sum) in group.sums.iter().enumerate() {
            let sum = sum.read().map_err(|_| poisoned(peer))?;
            match values.get_mut(chunk(len, parts, peer)) {
                Some(out) if out.len() == sum.len() => out.copy_from_slice(&sum),
                _ => return Err(different_lengths(peer)),
            }
        }
        Ok(())
    }
}
