//! The [`Collective`] of the worker threads of one process: a barrier and shared reduction
//! buffers.
//!
//! `all_reduce_sum` of `L` values over `W` threads, in `W` chunks of about `L / W` values:
//! 1. each thread copies every chunk of its values but its own (chunk `k` for thread `k`) into
//!    its own slot (one of two, used by alternate calls);
//! 2. barrier;
//! 3. thread `k` sums chunk `k` of every thread's values, in worker order, taking its own from
//!    its values where they are: the reduction is split across the threads, none sums
//!    everything. Thread 0 sums in place (its values come first); thread `k > 0` into its own
//!    sum buffer;
//! 4. barrier;
//! 5. each thread copies the other chunks' sums into its values.
//!
//! When only thread 0 wants the sum (`reduce_mean_to_first_with`: a data-parallel step's
//! gradient), the others skip step 5 for the values, and thread 0 never copies its own chunk:
//! of the `L` values, each thread writes `L (W - 1) / W` in step 1, and thread 0 copies
//! `L (W - 1) / W` back in step 5.
//!
//! A short sum (BatchNorm's per-channel sums, at most [`SMALL`] values) stops after step 2:
//! every thread adds up every slot itself, which costs less than a second barrier.
//!
//! Every thread adds in the same order, so the result is bitwise the same on all of them (the
//! running statistics of a synchronised BatchNorm stay identical across workers). No further
//! barrier is needed: a thread rewrites its sum buffer (step 3) only after the next call's step
//! 2, which every thread reaches only after reading this call's sums, and it rewrites a slot
//! (step 1) two calls later, after the next call's step 2, when every thread has finished
//! reading this call's slots.
//!
//! The buffers hold `capacity` values each from the start, so a sum of at most that many
//! values allocates nothing; a longer one grows them once.
//!
//! A thread that panics, or one that does not arrive at a barrier within the timeout, aborts
//! the group: every waiting and later call returns [`Error::Collective`] instead of blocking.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::kernels::lend::poll_for;
use crate::optim::GradientScan;
use crate::{Collective, Error, Result, Scalar};

/// How long a thread waits at a barrier for the others before giving up; the wait is the
/// imbalance between the workers' shares of a step, not a whole step.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

const OPERATION: &str = "all-reduce across worker threads";

/// Sums of at most this many values are added up whole by every thread (one barrier); longer
/// ones are split in chunks (two barriers).
const SMALL: usize = 1024;

/// How long a thread arriving at a barrier polls for the others before it sleeps: the workers
/// of a step arrive within microseconds of each other when each has a core, and waking a
/// sleeping thread costs tens of microseconds; a thread that has no core to itself sleeps soon.
const SPIN: Duration = Duration::from_micros(20);

/// A reusable barrier for a fixed number of threads, which can be aborted and times out.
#[derive(Debug)]
pub(crate) struct Rendezvous {
    state: Mutex<RendezvousState>,
    arrived: Condvar,
    /// `state.generation`, readable without the lock, for the polling phase.
    generation: AtomicU64,
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
            generation: AtomicU64::new(0),
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
            self.generation.store(state.generation, Ordering::Release);
            self.arrived.notify_all();
            return Ok(());
        }
        let generation = state.generation;
        // Poll without the lock for a short while, then sleep on the condition variable (which
        // re-checks under the lock, so no wake-up is lost).
        drop(state);
        let polling = Instant::now();
        let passed = || (self.generation.load(Ordering::Acquire) != generation).then_some(());
        if poll_for(SPIN, passed).is_some() {
            return Ok(());
        }
        let mut state = self.state.lock().map_err(|_| Self::aborted_error(None))?;
        let deadline = polling + self.timeout;
        loop {
            if state.generation != generation {
                return Ok(());
            }
            if let Some(peer) = state.aborted {
                return Err(Self::aborted_error(peer));
            }
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
    /// Each thread's values (step 1), two buffers used in turn by successive calls.
    slots: Vec<[RwLock<Vec<T>>; 2]>,
    /// Each thread's chunk of the sum (step 3).
    sums: Vec<RwLock<Vec<T>>>,
    /// Each thread's scan of its chunk of the sum, when asked for (step 3).
    scans: Vec<RwLock<GradientScan>>,
}

/// One worker thread's handle on a group of `participants` threads summing through shared
/// buffers. Made by [`ThreadCollective::group`]; each handle goes to its own thread.
///
/// A sum of `L` values: each thread copies the chunks of its values other than its own (about
/// `L / W` values each) into its slot; barrier; thread `k` adds up chunk `k` of every thread's
/// values, in worker order, so that no thread sums everything; barrier; each thread copies the
/// other chunks' sums. A short sum (at most 1024
/// values, BatchNorm's) is added up whole by every thread after the first barrier. Every
/// thread adds in the same order: the result is bitwise the same on all of them. A thread that
/// panics or does not arrive within the timeout aborts the group, and every call then returns
/// [`Error::Collective`] instead of blocking.
#[derive(Debug)]
pub struct ThreadCollective<T> {
    group: Arc<Group<T>>,
    index: usize,
    /// Calls so far: their parity picks the slot buffer (see the module docs).
    calls: usize,
}

/// Which threads of the group get the sum of `values` back (every thread gets `extra`'s).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Receivers {
    /// Every thread.
    All,
    /// Thread 0 only: the others' `values` are left unspecified.
    First,
}

impl Receivers {
    fn includes(self, index: usize) -> bool {
        self == Receivers::All || index == 0
    }
}

/// `values` followed by `extra`, read as one vector.
fn concat_range<'a, T>(
    values: &'a [T],
    extra: &'a [T],
    range: core::ops::Range<usize>,
) -> (&'a [T], &'a [T]) {
    let v = values.len();
    (
        &values[range.start.min(v)..range.end.min(v)],
        &extra[range.start.max(v) - v..range.end.max(v) - v],
    )
}

/// Mutable counterpart of [`concat_range`].
fn concat_range_mut<'a, T>(
    values: &'a mut [T],
    extra: &'a mut [T],
    range: core::ops::Range<usize>,
) -> (&'a mut [T], &'a mut [T]) {
    let v = values.len();
    (
        &mut values[range.start.min(v)..range.end.min(v)],
        &mut extra[range.start.max(v) - v..range.end.max(v) - v],
    )
}

/// Where chunk `range` of the vector sits in the slot of the thread that owns chunk `owner`:
/// a slot holds the vector without its owner's chunk, which its owner sums in place.
fn in_slot(
    range: core::ops::Range<usize>,
    owner: &core::ops::Range<usize>,
) -> core::ops::Range<usize> {
    if range.start >= owner.end {
        range.start - owner.len()..range.end - owner.len()
    } else {
        range
    }
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
            slots: (0..participants)
                .map(|_| [buffer(capacity), buffer(capacity)])
                .collect(),
            sums: (0..participants).map(|_| buffer(chunk_len)).collect(),
            scans: (0..participants)
                .map(|_| RwLock::new(GradientScan::EMPTY))
                .collect(),
        });
        Ok((0..participants)
            .map(|index| ThreadCollective {
                group: Arc::clone(&group),
                index,
                calls: 0,
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

    /// [`all_reduce_sum`](Collective::all_reduce_sum) of `values` followed by `extra`, as one
    /// vector, in one call (a data-parallel step sums the gradient and its failure flag and
    /// loss together).
    ///
    /// # Errors
    /// As `all_reduce_sum`.
    pub fn all_reduce_sum_with(&mut self, values: &mut [T], extra: &mut [T]) -> Result<()> {
        self.sum_with(values, extra, Receivers::All, None)
    }

    /// As [`all_reduce_sum_with`](Self::all_reduce_sum_with), but only thread 0 gets `values`,
    /// and their mean over the threads (their sum divided by the participants, in the same
    /// order on every run) rather than their sum; the other threads' `values` are left
    /// unspecified. Every thread gets the sum of `extra`. A data-parallel step needs the mean
    /// gradient on worker 0 only, and the division then runs in parallel with the sums.
    ///
    /// # Errors
    /// As `all_reduce_sum`.
    pub fn reduce_mean_to_first_with(&mut self, values: &mut [T], extra: &mut [T]) -> Result<()> {
        let scale = T::from_usize(self.group.slots.len()).recip();
        self.sum_with(values, extra, Receivers::First, Some(scale))
    }

    /// As [`reduce_mean_to_first_with`](Self::reduce_mean_to_first_with), and the check phase
    /// of the optimizer step that follows: each thread scans the chunk of the mean it computed
    /// with the same chunk of `params` (every thread's `params` must be equal), and thread 0
    /// gets the [`GradientScan`] of the whole mean and `params` (the other threads `None`).
    ///
    /// # Errors
    /// As `all_reduce_sum`.
    pub fn reduce_mean_to_first_scanned(
        &mut self,
        values: &mut [T],
        params: &[T],
        extra: &mut [T],
    ) -> Result<Option<GradientScan>> {
        if params.len() != values.len() {
            self.abort();
            return Err(different_lengths(self.index));
        }
        let parts = self.group.slots.len();
        let scale = T::from_usize(parts).recip();
        let len = values.len() + extra.len();
        if parts == 1 || len <= SMALL {
            // Thread 0 has the whole mean: it scans it alone.
            self.sum_with(values, extra, Receivers::First, Some(scale))?;
            return Ok((self.index == 0).then(|| GradientScan::of(params, values)));
        }
        let result =
            self.reduce_chunked(values, extra, Receivers::First, Some(scale), Some(params));
        if result.is_err() {
            self.abort();
        }
        result?;
        if self.index != 0 {
            return Ok(None);
        }
        let mut whole = GradientScan::EMPTY;
        for (peer, scan) in self.group.scans.iter().enumerate() {
            whole = whole.combine(*scan.read().map_err(|_| poisoned(peer))?);
        }
        Ok(Some(whole))
    }

    /// The sum of `values` (times `scale`) to `receivers`, of `extra` to every thread.
    fn sum_with(
        &mut self,
        values: &mut [T],
        extra: &mut [T],
        receivers: Receivers,
        scale: Option<T>,
    ) -> Result<()> {
        if self.group.slots.len() == 1 {
            return Ok(());
        }
        let result = self.reduce(values, extra, receivers, scale);
        if result.is_err() {
            self.abort();
        }
        result
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
        // A peer still waiting for this thread after an error must not wait for nothing:
        // `all_reduce_sum_with` aborts the group then.
        self.all_reduce_sum_with(values, &mut [])
    }
}

impl<T: Scalar + Send + Sync> ThreadCollective<T> {
    /// Sums `values` followed by `extra` (one vector) over the group; see the module docs.
    fn reduce(
        &mut self,
        values: &mut [T],
        extra: &mut [T],
        receivers: Receivers,
        scale: Option<T>,
    ) -> Result<()> {
        let len = values.len() + extra.len();
        if len <= SMALL {
            return self.reduce_small(values, extra, scale);
        }
        self.reduce_chunked(values, extra, receivers, scale, None)
    }

    /// The chunked sum (more than [`SMALL`] values), each thread scanning its chunk of the sum
    /// of `values` with the same chunk of `params` when given.
    fn reduce_chunked(
        &mut self,
        values: &mut [T],
        extra: &mut [T],
        receivers: Receivers,
        scale: Option<T>,
        params: Option<&[T]>,
    ) -> Result<()> {
        let len = values.len() + extra.len();
        let group = &*self.group;
        let parts = group.slots.len();
        let values_len = values.len();
        let parity = self.calls % 2;
        self.calls = self.calls.wrapping_add(1);
        let me = self.index;
        let mine = chunk(len, parts, me);
        {
            // Every chunk but this thread's own, which it sums from `values` in place.
            let mut slot = group.slots[me][parity].write().map_err(|_| poisoned(me))?;
            slot.clear();
            for range in [0..mine.start, mine.end..len] {
                let (head, tail) = concat_range(values, extra, range);
                slot.extend_from_slice(head);
                slot.extend_from_slice(tail);
            }
        }
        group.barrier.wait()?;
        // Chunk `me`, summed in worker order. Thread 0's own values come first: it sums in place
        // and copies its chunk out only if a peer needs it. Every other thread sums into its
        // sum buffer, which the peers read.
        let peer_needs_chunk_0 = receivers == Receivers::All || mine.end > values_len;
        {
            let mut sum = group.sums[me].write().map_err(|_| poisoned(me))?;
            sum.clear();
            for (peer, slot) in group.slots.iter().enumerate() {
                let slot = slot[parity].read().map_err(|_| poisoned(peer))?;
                let theirs = chunk(len, parts, peer);
                if slot.len() != len - theirs.len() {
                    return Err(different_lengths(peer));
                }
                let (own_values, own_extra) = concat_range_mut(values, extra, mine.clone());
                if peer == me {
                    if peer != 0 {
                        add_to(&mut sum, own_values, own_extra);
                    }
                    continue;
                }
                let terms = &slot[in_slot(mine.clone(), &theirs)];
                if me == 0 {
                    let (to_values, to_extra) = terms.split_at(own_values.len());
                    add_assign(own_values, to_values);
                    add_assign(own_extra, to_extra);
                } else if peer == 0 {
                    sum.extend_from_slice(terms);
                } else {
                    let (to_values, to_extra) = sum.split_at_mut(own_values.len());
                    let (terms_values, terms_extra) = terms.split_at(to_values.len());
                    add_assign(to_values, terms_values);
                    add_assign(to_extra, terms_extra);
                }
            }
            // The part of this chunk that belongs to `values`.
            let in_values = values_len.saturating_sub(mine.start).min(mine.len());
            let sum_of_values = if me == 0 {
                let (own_values, own_extra) = concat_range_mut(values, extra, mine.clone());
                if let Some(scale) = scale {
                    for v in own_values.iter_mut() {
                        *v *= scale;
                    }
                }
                if peer_needs_chunk_0 {
                    sum.extend_from_slice(own_values);
                    sum.extend_from_slice(own_extra);
                }
                &*own_values
            } else {
                if let Some(scale) = scale {
                    for v in &mut sum[..in_values] {
                        *v *= scale;
                    }
                }
                &sum[..in_values]
            };
            if let Some(params) = params {
                let at = mine.start.min(values_len);
                let scan = GradientScan::of(&params[at..at + in_values], sum_of_values);
                *group.scans[me].write().map_err(|_| poisoned(me))? = scan;
            }
        }
        group.barrier.wait()?;
        let want_values = receivers.includes(me);
        for (peer, sum) in group.sums.iter().enumerate() {
            let range = chunk(len, parts, peer);
            let reaches_extra = range.end > values_len;
            if (peer == 0 && me == 0) || !(want_values || reaches_extra) {
                continue;
            }
            if peer == 0 && !peer_needs_chunk_0 {
                continue;
            }
            let sum = sum.read().map_err(|_| poisoned(peer))?;
            if range.len() != sum.len() {
                return Err(different_lengths(peer));
            }
            // The chunk may straddle `values` and `extra`.
            let (to_values, to_extra) = concat_range_mut(values, extra, range);
            let (in_values, in_extra) = sum.split_at(to_values.len());
            if want_values {
                to_values.copy_from_slice(in_values);
            }
            to_extra.copy_from_slice(in_extra);
        }
        Ok(())
    }

    /// A short sum (at most [`SMALL`] values): every thread adds up every slot, in worker
    /// order, which costs one barrier instead of two.
    fn reduce_small(&mut self, values: &mut [T], extra: &mut [T], scale: Option<T>) -> Result<()> {
        let group = &*self.group;
        let len = values.len() + extra.len();
        let parity = self.calls % 2;
        self.calls = self.calls.wrapping_add(1);
        {
            let mut slot = group.slots[self.index][parity]
                .write()
                .map_err(|_| poisoned(self.index))?;
            slot.clear();
            slot.extend_from_slice(values);
            slot.extend_from_slice(extra);
        }
        group.barrier.wait()?;
        for (peer, slot) in group.slots.iter().enumerate() {
            let slot = slot[parity].read().map_err(|_| poisoned(peer))?;
            if slot.len() != len {
                return Err(different_lengths(peer));
            }
            let (head, tail) = slot.split_at(values.len());
            let targets = values.iter_mut().chain(extra.iter_mut());
            if peer == 0 {
                for (out, &v) in targets.zip(head.iter().chain(tail)) {
                    *out = v;
                }
            } else {
                for (out, &v) in targets.zip(head.iter().chain(tail)) {
                    *out += v;
                }
            }
        }
        if let Some(scale) = scale {
            for v in values.iter_mut() {
                *v *= scale;
            }
        }
        Ok(())
    }
}

/// `sum += terms`, element-wise.
fn add_assign<T: Scalar>(sum: &mut [T], terms: &[T]) {
    for (total, &v) in sum.iter_mut().zip(terms) {
        *total += v;
    }
}

/// `sum += values ++ extra`, element-wise.
fn add_to<T: Scalar>(sum: &mut [T], values: &[T], extra: &[T]) {
    let (to_values, to_extra) = sum.split_at_mut(values.len());
    add_assign(to_values, values);
    add_assign(to_extra, extra);
}
