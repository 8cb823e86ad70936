//! Property test over seeded mutations of valid weights files: bit flips, truncations, splices
//! and header edits. Every load must return (no panic), leave the network unchanged when it
//! fails, and make no allocation larger than the file (checked with a counting allocator).
//!
//! Files in `tests/data/hostile/` are a regression corpus: every mutant that ever broke one of
//! these properties is kept there and checked first. `MONOGRAD_FUZZ_CASES=N` runs more cases.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use monograd_runtime::io::{self, LoadOptions, Persistent};
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
