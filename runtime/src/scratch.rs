//! Where inference keeps its buffers: on the stack for small batches and firmware, in buffers
//! allocated once per thread for everything else.
//!
//! A network's `infer` puts every activation on the stack: no heap, what firmware needs, and
//! the fastest for a few samples. It is limited to [`INFER_STACK_LIMIT`] bytes, checked at
//! compile time, because a thread's stack is small (2 MiB for a spawned thread) and overflowing
//! it aborts the process. `forward` and `predict` use the stack only up to
//! [`FORWARD_STACK_LIMIT`]; above that they run on heap buffers that [`with_cached`] keeps, one
//! per thread and buffer type, so that they allocate only on their first call.

/// The most stack, in bytes, that a network's `infer::<B>` may use for its buffers
/// (`Net::infer_bytes(B)`); a larger batch is a compile error that points to `forward` /
/// `forward_eval`, which use the heap.
pub const INFER_STACK_LIMIT: usize = 256 * 1024;

/// Up to this many bytes of buffers (`Net::infer_bytes(B)`), `forward` and `predict` run on the
/// stack; above it, on heap buffers kept per thread ([`with_cached`]). Without `std` (no
/// thread-locals: firmware, with or without a heap) they always use the stack, as `infer` does
/// but without its limit, so that they never allocate.
pub const FORWARD_STACK_LIMIT: usize = 32 * 1024;

/// Whether [`with_cached`] keeps values per thread (feature `std`), so that `forward` can run
/// large batches on heap buffers without allocating on every call.
pub const CACHED: bool = cfg!(feature = "std");

/// Runs `f` on a value of type `S` kept for this thread: the first call (per type, per thread)
/// creates it with `make`, later calls reuse it, so only the first call allocates. A nested
/// call for the same type while `f` runs gets a fresh value.
///
/// Without `std` there are no thread-locals: every call makes a new value (callers avoid this
/// path then, see [`CACHED`]).
pub fn with_cached<S: 'static, R>(make: impl FnOnce() -> S, f: impl FnOnce(&mut S) -> R) -> R {
    #[cfg(feature = "std")]
    {
        cache::with(make, f)
    }
    #[cfg(not(feature = "std"))]
    {
        f(&mut make())
    }
}

#[cfg(feature = "std")]
mod cache {
    use std::any::{Any, TypeId};
    use std::boxed::Box;
    use std::cell::RefCell;
    use std::vec::Vec;

    std::thread_local! {
        /// Values by type. A value is taken out while in use, so a nested call for the same type
        /// cannot alias it; putting it back reuses the vector's capacity (no allocation).
        static VALUES: RefCell<Vec<(TypeId, Box<dyn Any>)>> = const { RefCell::new(Vec::new()) };
    }

    pub(super) fn with<S: 'static, R>(make: impl FnOnce() -> S, f: impl FnOnce(&mut S) -> R) -> R {
        let id = TypeId::of::<S>();
        let taken = VALUES.with(|values| {
            let mut values = values.borrow_mut();
            let position = values.iter().position(|(t, _)| *t == id)?;
            Some(values.swap_remove(position).1)
        });
        let mut boxed: Box<S> = match taken.and_then(|b| b.downcast::<S>().ok()) {
            Some(b) => b,
            None => Box::new(make()),
        };
        let result = f(&mut boxed);
        VALUES.with(|values| values.borrow_mut().push((id, boxed as Box<dyn Any>)));
        result
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_made_once_per_thread_and_type() {
        let mut made = 0;
        for expected in 1..=3u32 {
            let value = with_cached(
                || {
                    made += 1;
                    [0u32; 4]
                },
                |v: &mut [u32; 4]| {
                    v[0] += 1;
                    v[0]
                },
            );
            assert_eq!(value, expected);
        }
        assert_eq!(made, 1);
        // Another type gets its own value; a nested call of the same type a fresh one.
        let nested = with_cached(
            || [7u64; 2],
            |outer: &mut [u64; 2]| {
                with_cached(|| [9u64; 2], |inner: &mut [u64; 2]| inner[0] + outer[0])
            },
        );
        assert_eq!(nested, 16);
        std::thread::spawn(|| {
            assert_eq!(with_cached(|| [5u32; 4], |v: &mut [u32; 4]| v[0]), 5);
        })
        .join()
        .unwrap();
    }
}
