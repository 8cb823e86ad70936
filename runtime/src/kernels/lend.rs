//! Lending disjoint chunks of borrowed buffers to threads that outlive the borrow (feature
//! `std`): the parallel analogue of `split_at_mut` for threads created once.
//!
//! A data-parallel step splits the optimizer's writes across its worker threads, but the
//! parameters and the optimizer's state are the caller's (`&mut`), and the worker threads live
//! longer than that borrow (threads created per step would allocate). Two pieces make the
//! lending sound without allocating:
//!
//! - [`Chunks`] splits one `&'a mut [T]` into `parts` disjoint chunks, each of which can be
//!   taken exactly once, from any thread, through a shared reference (an atomic bit per chunk
//!   says whether it was taken; a second take panics). Chunk `k` of every buffer of the same
//!   length covers the same indices ([`chunk_range`]), so one index `k` names matching chunks
//!   of the parameters, the gradient and each state buffer.
//! - [`Crew`] lends a job `&(dyn Fn(usize) + Sync)` (not `'static`) to threads that wait on it.
//!   [`Crew::run`] publishes the job for one round, runs chunks itself, then withdraws the job
//!   and waits, without a timeout, until every chunk a worker claimed has returned: the job (and
//!   every borrow in it) outlives each of its calls on the other threads. A worker claims chunks
//!   only while the job is published, and each call runs under `catch_unwind`, so a panicking
//!   chunk still reports that it is done (the panic is then resumed on the caller's thread). A
//!   worker that never comes claims nothing: the caller runs the chunks left over, so no worker
//!   can make the caller wait for it other than with arithmetic it has started.
//!
//! The jobs lent are pure arithmetic on disjoint slices (an optimizer's update), so waiting for
//! them without a timeout cannot hang on anything but that arithmetic.

use core::marker::PhantomData;
use core::ops::Range;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};
use std::any::Any;
use std::boxed::Box;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long a worker polls for its round before it sleeps: about the time between the end of
/// a data-parallel step's gradient sum and its optimizer step on the caller's thread (copying
/// back the sums, the check), shorter than waking a sleeping thread would cost.
const POLL: Duration = Duration::from_micros(50);

/// The most chunks a buffer can be split in (one bit each in a `u64`).
pub const MAX_PARTS: usize = 64;

/// Chunk boundaries are multiples of this many elements (a 64-byte cache line of `f32`), so
/// that two threads never write the same cache line of an `f32` or `f64` buffer.
pub const ALIGN: usize = 16;

/// The indices of chunk `k` of `len` elements split in `parts` nearly equal chunks, whose
/// boundaries are multiples of [`ALIGN`] (the last chunk ends at `len`; chunks may be empty
/// when `len` is small). The chunks of `0..parts` cover `0..len` in order, without overlap.
pub fn chunk_range(len: usize, parts: usize, k: usize) -> Range<usize> {
    let parts = parts.max(1);
    let boundary = |i: usize| {
        if i >= parts {
            len
        } else {
            // `i * len / parts` rounded down to a multiple of ALIGN, computed without overflow.
            let at = (len / parts) * i + (len % parts) * i / parts;
            (at / ALIGN * ALIGN).min(len)
        }
    };
    boundary(k)..boundary(k + 1)
}

/// Calls `attempt` in a spin loop for up to `limit` and returns its first `Some`, or `None`
/// when the time is up: the polling phase of a wait that then sleeps (on a condition variable
/// or a lock), because a thread that has a core to itself is usually woken sooner by watching
/// than by the kernel. The clock is read once every 64 attempts.
pub(crate) fn poll_for<R>(limit: Duration, mut attempt: impl FnMut() -> Option<R>) -> Option<R> {
    let polling = Instant::now();
    while polling.elapsed() < limit {
        for _ in 0..64 {
            if let Some(done) = attempt() {
                return Some(done);
            }
            std::hint::spin_loop();
        }
    }
    None
}

/// One exclusively borrowed buffer split in `parts` disjoint chunks ([`chunk_range`]), each of
/// which [`take`](Self::take) hands out once, for the whole borrow `'a`, to any thread.
pub struct Chunks<'a, T> {
    start: NonNull<T>,
    len: usize,
    parts: usize,
    /// Bit `k` is set once chunk `k` was taken.
    taken: AtomicU64,
    _borrow: PhantomData<&'a mut [T]>,
}

// SAFETY: `Chunks` only hands out disjoint `&'a mut [T]` (each chunk once, see `take`), which
// may go to other threads when `T: Send`, exactly as the chunks of `chunks_mut` may.
unsafe impl<T: Send> Sync for Chunks<'_, T> {}
// SAFETY: as for `Sync`: moving `Chunks` to another thread moves the right to take chunks of a
// `&'a mut [T]`, which is `Send` when `T` is.
unsafe impl<T: Send> Send for Chunks<'_, T> {}

impl<'a, T> Chunks<'a, T> {
    /// `buffer` split in `parts` chunks (`parts` clamped to `1..=MAX_PARTS`).
    pub fn new(buffer: &'a mut [T], parts: usize) -> Self {
        let len = buffer.len();
        Chunks {
            start: NonNull::from(buffer).cast(),
            len,
            parts: parts.clamp(1, MAX_PARTS),
            taken: AtomicU64::new(0),
            _borrow: PhantomData,
        }
    }

    /// The number of chunks.
    pub fn parts(&self) -> usize {
        self.parts
    }

    /// The indices of chunk `k` in the buffer.
    pub fn range(&self, k: usize) -> Range<usize> {
        chunk_range(self.len, self.parts, k)
    }

    /// Chunk `k`, exclusively, for the rest of the borrow.
    ///
    /// # Panics
    /// If `k >= parts()` or chunk `k` was taken before.
    pub fn take(&self, k: usize) -> &'a mut [T] {
        assert!(k < self.parts, "Chunks::take: chunk {k} of {}", self.parts);
        let bit = 1u64 << k;
        let before = self.taken.fetch_or(bit, Ordering::AcqRel);
        assert!(before & bit == 0, "Chunks::take: chunk {k} taken twice");
        let range = self.range(k);
        // SAFETY: `start..start + len` is the buffer borrowed exclusively for `'a` (the
        // `PhantomData` keeps the borrow alive and `Chunks` never reads or writes it itself);
        // `range` lies within `0..len` and does not overlap any other chunk's (`chunk_range`),
        // and the atomic bit makes this the only reference to chunk `k` ever made, so no two
        // live references to the same element exist.
        unsafe {
            core::slice::from_raw_parts_mut(self.start.as_ptr().add(range.start), range.len())
        }
    }
}

/// A job whose lifetime was erased to be published to the crew: valid only while published
/// (see [`Crew::run`]).
#[derive(Clone, Copy)]
struct Erased(*const (dyn Fn(usize) + Sync + 'static));

// SAFETY: the pointee is `Sync` (shared across threads by reference is what the job is for),
// and the pointer is dereferenced only while `Crew::run` keeps the job alive.
unsafe impl Send for Erased {}

struct CrewState {
    /// The last round published or skipped.
    round: u64,
    job: Option<Erased>,
    parts: usize,
    /// Bit `k` is set once chunk `k` was claimed.
    claimed: u64,
    /// Chunks claimed by workers and not finished yet.
    running: usize,
    /// The first panic of a worker's chunk of the current job.
    panic: Option<Box<dyn Any + Send>>,
    shutdown: bool,
}

/// Threads that wait for jobs lent by one caller ([`run`](Self::run)), round after round (see
/// the module docs).
pub struct Crew {
    state: Mutex<CrewState>,
    changed: Condvar,
    /// `state.round`, readable without the lock, for the polling of `join`.
    round: AtomicU64,
}

impl Default for Crew {
    fn default() -> Self {
        Self::new()
    }
}

/// Withdraws the published job and waits for the chunks claimed by workers, also when the
/// caller's own chunk unwinds.
struct Withdraw<'a>(&'a Crew);

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.job = None;
        while state.running > 0 {
            state = self
                .0
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl Crew {
    /// A crew with no job published (round 0 done).
    pub fn new() -> Self {
        Crew {
            state: Mutex::new(CrewState {
                round: 0,
                job: None,
                parts: 0,
                claimed: 0,
                running: 0,
                panic: None,
                shutdown: false,
            }),
            changed: Condvar::new(),
            round: AtomicU64::new(0),
        }
    }

    /// The state, whatever panicked while holding it: the lock guards nothing that a panic
    /// can leave half-written (every field is set in one statement).
    fn lock(&self) -> MutexGuard<'_, CrewState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Calls `job(k)` once for every `k < parts`, on this thread and on the workers that
    /// [`join`](Self::join) round `round`, and returns when every call has returned. Each
    /// participant starts with the chunk of its own index (this thread's is 0), so that a
    /// thread keeps the same chunk of a buffer from round to round (in its cache), then takes
    /// any chunk left.
    ///
    /// # Panics
    /// With the first panic of a call of `job`, once every call that started has returned
    /// (a panic on this thread stops it claiming chunks: those left are then not run), if
    /// `parts` exceeds [`MAX_PARTS`], or if a job is already published (two callers on one
    /// crew).
    pub fn run(&self, round: u64, parts: usize, job: &(dyn Fn(usize) + Sync)) {
        assert!(parts <= MAX_PARTS, "Crew::run: {parts} chunks");
        // SAFETY: only the lifetime bound changes (the layout of the fat pointer does not).
        // The erased pointer is dereferenced only by a worker that claimed a chunk while it
        // was published, and `Withdraw` (dropped before this function returns, also when it
        // unwinds) unpublishes it and waits until every such call has returned: `job` outlives
        // every use of the pointer.
        let erased = Erased(unsafe {
            core::mem::transmute::<
                *const (dyn Fn(usize) + Sync + '_),
                *const (dyn Fn(usize) + Sync + 'static),
            >(job)
        });
        {
            let mut state = self.lock();
            assert!(state.job.is_none(), "Crew::run: a job is already published");
            state.round = state.round.max(round);
            self.round.store(state.round, Ordering::Release);
            state.job = Some(erased);
            state.parts = parts;
            state.claimed = 0;
            state.panic = None;
        }
        self.changed.notify_all();
        let withdraw = Withdraw(self);
        while let Some((k, _)) = self.claim(round, 0, false) {
            job(k);
        }
        drop(withdraw);
        if let Some(panic) = self.lock().panic.take() {
            resume_unwind(panic);
        }
    }

    /// Marks round `round` done without a job: workers waiting for it return.
    pub fn skip(&self, round: u64) {
        let mut state = self.lock();
        state.round = state.round.max(round);
        self.round.store(state.round, Ordering::Release);
        drop(state);
        self.changed.notify_all();
    }

    /// Makes every current and later [`join`](Self::join) return `false`.
    pub fn shut_down(&self) {
        self.lock().shutdown = true;
        self.changed.notify_all();
    }

    /// An unclaimed chunk of round `round`'s job (`preferred` if it is one) and the job, if it
    /// is published; counted as running when claimed by a worker. One lock: the chunk and the
    /// job go together.
    fn claim(&self, round: u64, preferred: usize, worker: bool) -> Option<(usize, Erased)> {
        let mut state = self.lock();
        let job = state.job?;
        let free = |k: usize| k < state.parts && state.claimed & (1 << k) == 0;
        let k = if free(preferred) {
            preferred
        } else {
            (!state.claimed).trailing_zeros() as usize
        };
        if state.round != round || !free(k) {
            return None;
        }
        state.claimed |= 1 << k;
        if worker {
            state.running += 1;
        }
        Some((k, job))
    }

    /// Worker `index`'s part of round `round`: waits until the round is published or skipped,
    /// then runs chunks of its job (chunk `index` first, if there is one) until none is left.
    /// Returns `false` if the crew was shut down before the round came.
    pub fn join(&self, round: u64, index: usize) -> bool {
        poll_for(POLL, || {
            (self.round.load(Ordering::Acquire) >= round).then_some(())
        });
        {
            let mut state = self.lock();
            while state.round < round && !state.shutdown {
                state = self
                    .changed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if state.round < round {
                return false; // shut down
            }
        }
        while let Some((k, job)) = self.claim(round, index, true) {
            // SAFETY: chunk `k` was claimed while `job` was published for this round and is
            // counted in `running`, so `Crew::run` has not returned (its `Withdraw` waits for
            // `running` to reach 0): the job behind the pointer is alive until the decrement
            // below.
            let outcome = catch_unwind(AssertUnwindSafe(|| unsafe { (*job.0)(k) }));
            let mut state = self.lock();
            state.running -= 1;
            if let Err(panic) = outcome {
                state.panic.get_or_insert(panic);
            }
            drop(state);
            self.changed.notify_all();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    use std::vec::Vec;

    #[test]
    fn chunks_cover_the_buffer_in_order_on_aligned_boundaries() {
        for len in [0, 1, 15, 16, 17, 100, 1000, 235_146] {
            for parts in [1, 2, 3, 7, 16, 64] {
                let mut at = 0;
                for k in 0..parts {
                    let range = chunk_range(len, parts, k);
                    assert_eq!(range.start, at, "len {len}, {parts} parts, chunk {k}");
                    assert!(range.start <= range.end && range.end <= len);
                    assert!(range.end == len || range.end.is_multiple_of(ALIGN));
                    at = range.end;
                }
                assert_eq!(at, len, "len {len}, {parts} parts");
            }
        }
        // Large buffers split nearly evenly.
        let sizes: Vec<usize> = (0..4).map(|k| chunk_range(4000, 4, k).len()).collect();
        assert!(
            sizes.iter().all(|&s| (992..=1008).contains(&s)),
            "{sizes:?}"
        );
    }

    #[test]
    fn chunks_taken_on_several_threads_write_disjoint_parts() {
        let mut buffer = std::vec![0u32; 1001];
        {
            let chunks = Chunks::new(&mut buffer, 5);
            std::thread::scope(|scope| {
                for k in (0..5).rev() {
                    let chunks = &chunks;
                    scope.spawn(move || {
                        let range = chunks.range(k);
                        for (i, x) in range.zip(chunks.take(k).iter_mut()) {
                            *x += u32::try_from(i).unwrap() + 1;
                        }
                    });
                }
            });
        }
        assert!(buffer.iter().zip(1..).all(|(&x, i)| x == i));
    }

    #[test]
    #[should_panic(expected = "taken twice")]
    fn a_chunk_is_taken_once() {
        let mut buffer = [0.0f32; 64];
        let chunks = Chunks::new(&mut buffer, 2);
        let _first = chunks.take(1);
        let _again = chunks.take(1);
    }

    #[test]
    #[should_panic(expected = "chunk 3 of 3")]
    fn a_chunk_past_the_end_is_refused() {
        let mut buffer = [0.0f32; 64];
        let _ = Chunks::new(&mut buffer, 3).take(3);
    }

    #[test]
    fn more_parts_than_the_bits_are_clamped() {
        let mut buffer = [0.0f64; 10];
        assert_eq!(Chunks::new(&mut buffer, 1000).parts(), MAX_PARTS);
        assert_eq!(Chunks::new(&mut buffer, 0).parts(), 1);
    }

    /// A crew of `workers` threads joining rounds `1..=rounds`, stopped when dropped.
    struct Team {
        crew: Arc<Crew>,
        threads: Vec<std::thread::JoinHandle<u64>>,
    }

    impl Team {
        fn new(workers: usize) -> Self {
            let crew = Arc::new(Crew::new());
            let threads = (1..=workers)
                .map(|index| {
                    let crew = Arc::clone(&crew);
                    std::thread::spawn(move || {
                        let mut round = 0;
                        while crew.join(round + 1, index) {
                            round += 1;
                        }
                        round
                    })
                })
                .collect();
            Team { crew, threads }
        }

        fn stop(self) -> Vec<u64> {
            self.crew.shut_down();
            self.threads
                .into_iter()
                .map(|t| t.join().unwrap())
                .collect()
        }
    }

    #[test]
    fn a_round_runs_every_chunk_once_and_returns_after_all() {
        let team = Team::new(3);
        for round in 1..=50u64 {
            if round % 7 == 0 {
                team.crew.skip(round);
                continue;
            }
            // Borrowed from this stack frame: every write must be done when `run` returns.
            let mut out = [0u64; 8 * ALIGN];
            let calls = AtomicUsize::new(0);
            {
                let chunks = Chunks::new(&mut out, 8);
                team.crew.run(round, 8, &|k| {
                    calls.fetch_add(1, Ordering::Relaxed);
                    for x in chunks.take(k).iter_mut() {
                        *x = round;
                    }
                });
            }
            assert_eq!(calls.load(Ordering::Relaxed), 8);
            assert!(out.iter().all(|&x| x == round), "round {round}");
        }
        assert_eq!(team.stop(), [50, 50, 50]);
    }

    #[test]
    fn the_caller_runs_what_no_worker_claims() {
        // No worker ever joins: the caller runs every chunk itself and does not wait.
        let crew = Crew::new();
        let calls = AtomicUsize::new(0);
        crew.run(1, 5, &|_| {
            calls.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(calls.load(Ordering::Relaxed), 5);
        // A late worker finds the round withdrawn.
        assert!(crew.join(1, 1));
        assert_eq!(calls.load(Ordering::Relaxed), 5);
    }

    #[test]
    fn a_panicking_chunk_is_resumed_on_the_caller_after_every_claimed_chunk_returned() {
        let team = Team::new(2);
        let (started, done) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            team.crew.run(1, 16, &|k| {
                started.fetch_add(1, Ordering::SeqCst);
                assert!(k != 3, "chunk 3 fails");
                std::thread::sleep(std::time::Duration::from_millis(1));
                done.fetch_add(1, Ordering::SeqCst);
            });
        }));
        assert!(outcome.is_err());
        // Every chunk that started has returned, but for the one that panicked (chunks not
        // claimed yet when the panic stopped the caller are not run), and none starts later.
        let started_then = started.load(Ordering::SeqCst);
        assert_eq!(done.load(Ordering::SeqCst) + 1, started_then);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(started.load(Ordering::SeqCst), started_then);
        // The crew goes on.
        let calls = AtomicUsize::new(0);
        team.crew.run(2, 4, &|_| {
            calls.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(calls.load(Ordering::Relaxed), 4);
        assert_eq!(team.stop(), [2, 2]);
    }
}
