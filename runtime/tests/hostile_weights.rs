//! Property test over seeded mutations of valid weights files: bit flips, truncations, splices
//! and header edits. Every load must return (no panic), leave the network unchanged when it
//! fails, and make no allocation larger than the file (checked with a counting allocator).
//!
//! Files in `tests/data/hostile/` are a regression corpus, checked first: hand-made hostile
//! files (duplicate names, lying offsets, huge sizes, ...) and every mutant that ever broke one
//! of these properties (`mutant-CASE-WHY`: the `parser-buffering` ones made the safetensors
//! parser allocate more than the file's size before the header limits of `io` existed).
//! Checkpoints get the same treatment (a smaller number of cases). `MONOGRAD_FUZZ_CASES=N` runs
//! more cases.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use monograd_runtime::io::{self, LoadOptions, Persistent, Progress};
use monograd_runtime::optim::{Adam, AdamConfig, Optimizer};
use monograd_runtime::train::MiniBatches;
use monograd_runtime::{Rng, Scalar, TensorInfo};

/// The system allocator, recording the largest single request on this thread while armed.
struct Counting;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn record(size: usize) {
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
        }
    });
}

// SAFETY: every call forwards to `System` with the same arguments; the bookkeeping touches only
// `const`-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The largest single allocation made by `f` on this thread.
fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.with(|l| l.set(0));
    ARMED.with(|a| a.set(true));
    let result = f();
    ARMED.with(|a| a.set(false));
    (result, LARGEST.with(Cell::get))
}

const PARAMS: &[TensorInfo] = &[
    TensorInfo {
        name: "conv.weight",
        offset: 0,
        shape: &[2, 1, 3, 3],
    },
    TensorInfo {
        name: "conv.bias",
        offset: 18,
        shape: &[2],
    },
    TensorInfo {
        name: "fc.parametrizations.weight.original0",
        offset: 20,
        shape: &[3, 1],
    },
    TensorInfo {
        name: "fc.parametrizations.weight.original1",
        offset: 23,
        shape: &[3, 4],
    },
];
const P: usize = 35;
const STATE: &[TensorInfo] = &[
    TensorInfo {
        name: "bn.running_mean",
        offset: 0,
        shape: &[2],
    },
    TensorInfo {
        name: "bn.running_var",
        offset: 2,
        shape: &[2],
    },
];

#[derive(Clone, Debug, PartialEq)]
struct Net<T> {
    params: Vec<T>,
    state: Vec<T>,
    counters: [u64; 1],
}

impl<T: Scalar> Persistent for Net<T> {
    type Element = T;
    const PARAM_TENSORS: &'static [TensorInfo] = PARAMS;
    const STATE_TENSORS: &'static [TensorInfo] = STATE;
    const COUNTER_NAMES: &'static [&'static str] = &["bn.num_batches_tracked"];
    fn zeroed_network() -> Self {
        Net {
            params: vec![T::from_f64(0.0); P],
            state: vec![T::from_f64(0.0); 4],
            counters: [0],
        }
    }
    fn persistent_parts(&self) -> (&[T], &[T], &[u64]) {
        (&self.params, &self.state, &self.counters)
    }
    fn persistent_parts_mut(&mut self) -> (&mut [T], &mut [T], &mut [u64]) {
        (&mut self.params, &mut self.state, &mut self.counters)
    }
}

fn net<T: Scalar>(seed: u64) -> Net<T> {
    let mut rng = Rng::new(seed);
    Net {
        params: (0..P).map(|_| rng.normal()).collect(),
        state: (0..4).map(|_| rng.uniform(0.5, 2.0)).collect(),
        counters: [seed],
    }
}

/// Valid files to mutate: f32 and f64 networks.
fn seeds() -> Vec<Vec<u8>> {
    vec![
        io::network_to_safetensors(&net::<f32>(1)).unwrap(),
        io::network_to_safetensors(&net::<f64>(2)).unwrap(),
    ]
}

/// One seeded mutation of `file` (`other` supplies splices).
fn mutate(rng: &mut Rng, file: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = file.to_vec();
    let header_end = 8 + u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    for _ in 0..1 + rng.below(3) {
        if out.is_empty() {
            break;
        }
        match rng.below(6) {
            // Flip one to four bits anywhere.
            0 => {
                for _ in 0..1 + rng.below(4) {
                    let i = rng.below(out.len());
                    out[i] ^= 1 << rng.below(8);
                }
            }
            // Truncate.
            1 => {
                let cut = rng.below(out.len());
                out.truncate(cut);
            }
            // Splice a range of the other file in (replacing a range of this one).
            2 => {
                let a = rng.below(other.len());
                let b = a + rng.below(other.len() - a + 1);
                let at = rng.below(out.len());
                let end = (at + rng.below(out.len() - at + 1)).min(out.len());
                out.splice(at..end, other[a..b].iter().copied());
            }
            // Header edits: a digit replaced by another (offsets, shapes, sizes) ...
            3 => {
                let end = header_end.min(out.len());
                let digits: Vec<usize> = (8..end).filter(|&i| out[i].is_ascii_digit()).collect();
                if let Some(&i) = digits.get(rng.below(digits.len().max(1))) {
                    out[i] = b"0123456789"[rng.below(10)];
                    if rng.below(4) == 0 {
                        // ... or a long run of them: a huge declared size.
                        out.splice(i..i, b"99999999999".iter().copied());
                    }
                }
            }
            // ... a structural character replaced, or a name edited.
            4 => {
                let end = header_end.min(out.len());
                if end > 8 {
                    let i = 8 + rng.below(end - 8);
                    out[i] = b"{}[],:\" .0aF_"[rng.below(13)];
                }
            }
            // The header length field changed.
            _ => {
                if out.len() >= 8 {
                    let n = u64::from_le_bytes(out[..8].try_into().unwrap());
                    let delta = rng.below(17) as i64 - 8;
                    let n = if rng.below(8) == 0 {
                        rng.next_u64()
                    } else {
                        n.wrapping_add(delta as u64)
                    };
                    out[..8].copy_from_slice(&n.to_le_bytes());
                }
            }
        }
    }
    out
}

/// The largest single allocation allowed, per byte of file. The safetensors parser buffers the
/// header's JSON values (64 bytes per top-level entry, in a vector that doubles); the header
/// limits of `io` (at least 48 bytes per entry, shapes of at most 8 dimensions) keep that
/// under about 2.7 bytes per header byte. Nothing is allocated from a size the file declares.
const ALLOWED_RATIO: usize = 3;

/// Loads `file` into f32 and f64 networks, strict and not; checks the three properties.
fn check(file: &[u8]) -> Result<(), String> {
    fn one<T: Scalar>(file: &[u8], options: LoadOptions) -> Result<(), String> {
        let mut target = net::<T>(99);
        let before = target.clone();
        let (outcome, largest) = largest_allocation(|| {
            catch_unwind(AssertUnwindSafe(|| {
                io::network_load_safetensors(&mut target, file, options)
            }))
        });
        match outcome {
            Err(_) => return Err(format!("panicked ({} {options:?})", T::NAME)),
            Ok(Err(_)) if target != before => {
                return Err(format!("failed but changed the network ({})", T::NAME))
            }
            Ok(_) => {}
        }
        // The floor is the bookkeeping the network itself needs (one entry per tensor it
        // expects), measured on an empty file: it does not depend on the file.
        let limit = (ALLOWED_RATIO * file.len()).max(bookkeeping::<T>(options));
        if largest > limit {
            return Err(format!(
                "allocated {largest} bytes at once for a {}-byte file",
                file.len()
            ));
        }
        Ok(())
    }
    one::<f32>(file, LoadOptions::default())?;
    one::<f64>(file, LoadOptions::non_strict())
}

/// The largest allocation of a load of the smallest valid file (no tensors).
fn bookkeeping<T: Scalar>(options: LoadOptions) -> usize {
    let empty = [&2u64.to_le_bytes()[..], b"{}"].concat();
    let mut target = net::<T>(1);
    largest_allocation(|| io::network_load_safetensors(&mut target, &empty, options)).1
}

fn corpus_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/hostile"))
}

#[test]
fn the_regression_corpus_loads_without_panic_or_partial_load() {
    eprintln!(
        "bookkeeping: {} bytes (f32, strict), {} bytes (f64, non-strict)",
        bookkeeping::<f32>(LoadOptions::default()),
        bookkeeping::<f64>(LoadOptions::non_strict())
    );
    let mut checked = 0;
    for entry in std::fs::read_dir(corpus_dir()).unwrap() {
        let path = entry.unwrap().path();
        let file = std::fs::read(&path).unwrap();
        if let Err(problem) = check(&file) {
            panic!("{}: {problem}", path.display());
        }
        checked += 1;
    }
    assert!(checked > 0, "the corpus is empty");
}

#[test]
fn seeded_mutations_never_panic_never_load_partially_never_over_allocate() {
    let cases: usize = std::env::var("MONOGRAD_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let seeds = seeds();
    for file in &seeds {
        check(file).unwrap();
    }
    let mut rng = Rng::new(0x5afe_7e45);
    let mut failures = Vec::new();
    let mut loaded = 0usize;
    for case in 0..cases {
        let pick = rng.below(seeds.len());
        let mutant = mutate(&mut rng, &seeds[pick], &seeds[1 - pick]);
        if let Err(problem) = check(&mutant) {
            failures.push((case, problem, mutant));
            if failures.len() >= 20 {
                break;
            }
        } else if io::network_from_safetensors::<Net<f32>>(&mutant).is_ok() {
            loaded += 1;
        }
    }
    for (case, problem, mutant) in &failures {
        // Kept for the regression corpus (copy into tests/data/hostile/).
        let path = std::env::temp_dir().join(format!("monograd-hostile-{case}.safetensors"));
        std::fs::write(&path, mutant).unwrap();
        eprintln!("case {case}: {problem} (saved to {})", path.display());
    }
    assert!(failures.is_empty(), "{} failing mutants", failures.len());
    // Some mutants are still valid files (a flipped mantissa bit): the test exercises both paths.
    eprintln!("{cases} mutants, {loaded} loaded in full");
}

/// A valid checkpoint: an f32 network, Adam after two steps, progress and a shuffler.
fn checkpoint_seed() -> Vec<u8> {
    let net = net::<f32>(3);
    let mut adam = Adam::<f32, P>::new(AdamConfig::default()).unwrap();
    let mut params: [f32; P] = net.params.clone().try_into().unwrap();
    let grads: [f32; P] = core::array::from_fn(|i| (i as f32 - 17.0) * 0.01);
    adam.step(&mut params, &grads).unwrap();
    adam.step(&mut params, &grads).unwrap();
    let batches = shuffler();
    io::checkpoint::to_safetensors(&net, &adam, Progress { epoch: 1, step: 2 }, Some(&batches))
        .unwrap()
}

fn shuffler() -> MiniBatches<[f32; 1], usize, 2> {
    MiniBatches::new(&[[0.0f32]; 5], &[0usize; 5], 4).unwrap()
}

/// The largest allocation of a checkpoint load of a file just long enough to be considered
/// (a valid empty header, then padding).
fn checkpoint_bookkeeping() -> usize {
    let mut file = [&2u64.to_le_bytes()[..], b"{}"].concat();
    file.resize(file.len() + 2 * P * 4, 0);
    let mut target = net::<f32>(1);
    let mut adam = Adam::<f32, P>::new(AdamConfig::default()).unwrap();
    let mut batches = shuffler();
    largest_allocation(|| {
        io::checkpoint::load_safetensors(&file, &mut target, &mut adam, Some(&mut batches))
    })
    .1
}

/// Loads `file` as a checkpoint; on failure nothing (network, optimizer, shuffler) changed.
fn check_checkpoint(file: &[u8]) -> Result<(), String> {
    let mut target = net::<f32>(99);
    let mut adam = Adam::<f32, P>::new(AdamConfig::default()).unwrap();
    let mut batches = shuffler();
    let before = target.clone();
    let order = batches.shuffler_state().1.to_vec();
    let (outcome, largest) = largest_allocation(|| {
        catch_unwind(AssertUnwindSafe(|| {
            io::checkpoint::load_safetensors(file, &mut target, &mut adam, Some(&mut batches))
        }))
    });
    match outcome {
        Err(_) => return Err("checkpoint load panicked".into()),
        Ok(Err(_)) => {
            let untouched = target == before
                && adam.steps() == 0
                && adam.state_buffer(0).unwrap().1.iter().all(|&v| v == 0.0)
                && batches.shuffler_state().1 == &order[..];
            if !untouched {
                return Err("a failed checkpoint load changed something".into());
            }
        }
        Ok(Ok(_)) => {}
    }
    // The bookkeeping is the network's and the optimizer's (one entry per tensor and buffer,
    // the staging of 2 x 35 f32): a file too short to hold the buffers is refused before any
    // of it is allocated.
    let limit = (ALLOWED_RATIO * file.len()).max(checkpoint_bookkeeping());
    if largest > limit {
        return Err(format!(
            "checkpoint: allocated {largest} bytes at once for a {}-byte file",
            file.len()
        ));
    }
    Ok(())
}

#[test]
fn seeded_mutations_of_a_checkpoint_never_panic_or_change_anything_on_failure() {
    let cases: usize = std::env::var("MONOGRAD_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(20_000, |n: usize| n / 5);
    let seed = checkpoint_seed();
    check_checkpoint(&seed).unwrap();
    let weights = io::network_to_safetensors(&net::<f32>(5)).unwrap();
    let mut rng = Rng::new(0xc4ec_4701);
    let mut failures = Vec::new();
    let mut restored = 0usize;
    for case in 0..cases {
        let mutant = mutate(&mut rng, &seed, &weights);
        match check_checkpoint(&mutant) {
            Err(problem) => {
                let path =
                    std::env::temp_dir().join(format!("monograd-hostile-ckpt-{case}.safetensors"));
                std::fs::write(&path, &mutant).unwrap();
                eprintln!("case {case}: {problem} (saved to {})", path.display());
                failures.push(case);
                if failures.len() >= 20 {
                    break;
                }
            }
            Ok(()) => {
                let mut n = net::<f32>(1);
                let mut adam = Adam::<f32, P>::new(AdamConfig::default()).unwrap();
                if io::checkpoint::load_safetensors(
                    &mutant,
                    &mut n,
                    &mut adam,
                    Some(&mut shuffler()),
                )
                .is_ok()
                {
                    restored += 1;
                }
            }
        }
    }
    eprintln!("{cases} checkpoint mutants, {restored} restored in full");
    assert!(failures.is_empty(), "failing cases {failures:?}");
}
