//! Fixed-size buffers that are never built on the stack.
//!
//! A 235k-parameter network's Adam state is ~2 MB: constructing `[f32; N]` by value and then
//! moving it into a `Box` would overflow a thread's stack in a debug build. [`Buffer`] owns a
//! zero-initialised array allocated directly on the heap (feature `alloc`, on with `std`), or
//! held inline where there is no heap, so that the same generated code compiles in both worlds.
//! A firmware build without a heap keeps its large arrays in `static`s: there every buffer type
//! here has a `const` zeroed value (`Buffer::ZEROED`, `ScratchBuffer::EMPTY`), so a
//! network, its tape and an optimizer can be built at compile time, into `.bss` or `.data`,
//! never on the stack.

#[cfg(feature = "alloc")]
use alloc::{boxed::Box, vec};
use core::fmt;
use core::ops::{Deref, DerefMut};

use crate::Scalar;

/// Arrays of a [`Scalar`] that a [`Buffer`] can hold: `[T; N]` and `[[T; N]; M]`.
pub trait ScalarArray: Sized {
    /// The element type.
    type Elem: Scalar;
    /// All elements in memory order.
    fn as_flat(&self) -> &[Self::Elem];
    /// All elements in memory order, mutably.
    fn as_flat_mut(&mut self) -> &mut [Self::Elem];
    /// The all-zero value, built in place (inline storage).
    fn zeroed() -> Self;
    /// The all-zero value as a constant: what a `static` (or a `const fn`) is initialised from.
    const ZEROED: Self;
    /// The all-zero value, allocated directly on the heap without a stack temporary of `Self`.
    #[cfg(feature = "alloc")]
    fn boxed_zeroed() -> Box<Self>;
}

impl<T: Scalar, const N: usize> ScalarArray for [T; N] {
    type Elem = T;
    #[inline(always)]
    fn as_flat(&self) -> &[T] {
        self
    }
    #[inline(always)]
    fn as_flat_mut(&mut self) -> &mut [T] {
        self
    }

    #[inline]
    fn zeroed() -> Self {
        [T::zero(); N]
    }

    const ZEROED: Self = [T::ZERO; N];

    #[cfg(feature = "alloc")]
    fn boxed_zeroed() -> Box<Self> {
        let boxed = vec![T::zero(); N].into_boxed_slice();
        match boxed.try_into() {
            Ok(array) => array,
            Err(_) => unreachable!("a vec of length N converts to [T; N]"),
        }
    }
}

impl<T: Scalar, const N: usize, const M: usize> ScalarArray for [[T; N]; M] {
    type Elem = T;
    #[inline(always)]
    fn as_flat(&self) -> &[T] {
        self.as_flattened()
    }
    #[inline(always)]
    fn as_flat_mut(&mut self) -> &mut [T] {
        self.as_flattened_mut()
    }

    #[inline]
    fn zeroed() -> Self {
        [[T::zero(); N]; M]
    }

    const ZEROED: Self = [[T::ZERO; N]; M];

    #[cfg(feature = "alloc")]
    fn boxed_zeroed() -> Box<Self> {
        // Only one row (`N` elements) passes through the stack.
        let boxed = vec![[T::zero(); N]; M].into_boxed_slice();
        match boxed.try_into() {
            Ok(array) => array,
            Err(_) => unreachable!("a vec of length M converts to [[T; N]; M]"),
        }
    }
}

/// An owned, zero-initialised, fixed-size array: heap-allocated with feature `alloc`, inline
/// without it. Dereferences to the array.
///
/// ```
/// use monograd_runtime::Buffer;
/// let mut weights: Buffer<[f32; 1 << 20]> = Buffer::zeroed(); // 4 MB, never on the stack
/// weights[7] = 1.0;
/// assert_eq!(weights.iter().sum::<f32>(), 1.0);
/// ```
pub struct Buffer<A: ScalarArray> {
    #[cfg(feature = "alloc")]
    data: Box<A>,
    #[cfg(not(feature = "alloc"))]
    data: A,
}

impl<A: ScalarArray> Buffer<A> {
    /// A new all-zero buffer.
    pub fn zeroed() -> Self {
        Buffer {
            #[cfg(feature = "alloc")]
            data: A::boxed_zeroed(),
            #[cfg(not(feature = "alloc"))]
            data: A::zeroed(),
        }
    }
}

/// Without a heap a buffer is its array, so it has a value at compile time: a `static` holding a
/// network, a tape or an optimizer state is initialised from these (into `.bss` when all zero)
/// and never passes through the stack.
///
/// ```
/// # #[cfg(not(feature = "alloc"))]
/// # {
/// use monograd_runtime::Buffer;
/// static GRADIENT: Buffer<[f32; 4096]> = Buffer::ZEROED; // 16 KB in .bss
/// const ONES: Buffer<[f32; 3]> = Buffer::from_array([1.0; 3]);
/// assert_eq!(ONES.as_flat(), &[1.0, 1.0, 1.0]);
/// # }
/// ```
#[cfg(not(feature = "alloc"))]
impl<A: ScalarArray> Buffer<A> {
    /// The all-zero buffer, as a constant (only without feature `alloc`: a heap buffer cannot
    /// exist at compile time).
    pub const ZEROED: Self = Buffer { data: A::ZEROED };

    /// A buffer holding `data` (only without feature `alloc`), usable in a `const fn`: e.g.
    /// parameters compiled in from a weights file copied into a network built at compile time.
    pub const fn from_array(data: A) -> Self {
        Buffer { data }
    }
}

impl<A: ScalarArray> Deref for Buffer<A> {
    type Target = A;
    #[inline(always)]
    fn deref(&self) -> &A {
        &self.data
    }
}

impl<A: ScalarArray> DerefMut for Buffer<A> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut A {
        &mut self.data
    }
}

impl<A: ScalarArray> Buffer<A> {
    /// All elements in memory order (what optimizers, serializers and all-reduces see).
    #[inline(always)]
    pub fn as_flat(&self) -> &[A::Elem] {
        self.data.as_flat()
    }
    /// All elements in memory order, mutably.
    #[inline(always)]
    pub fn as_flat_mut(&mut self) -> &mut [A::Elem] {
        self.data.as_flat_mut()
    }
}

impl<A: ScalarArray> Clone for Buffer<A> {
    fn clone(&self) -> Self {
        let mut copy = Self::zeroed();
        copy.clone_from(self);
        copy
    }

    fn clone_from(&mut self, source: &Self) {
        // Copy into the existing allocation: no stack temporary of `A`.
        self.as_flat_mut().copy_from_slice(source.as_flat());
    }
}

impl<A: ScalarArray> fmt::Debug for Buffer<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Buffer<{}>", core::any::type_name::<A>())
    }
}

impl<A: ScalarArray> Default for Buffer<A> {
    fn default() -> Self {
        Self::zeroed()
    }
}

/// A zero-initialised buffer whose length is known only at run time: the packing scratch of the
/// GEMM (its size depends on the CPU's blocking and on the batch size, which a type cannot
/// carry on stable Rust). Allocated once with feature `alloc`; without it, always empty (the
/// kernels then take their unpacked, heap-free path).
pub struct ScratchBuffer<T> {
    #[cfg(feature = "alloc")]
    data: Box<[T]>,
    #[cfg(not(feature = "alloc"))]
    data: [T; 0],
}

impl<T: Scalar> ScratchBuffer<T> {
    /// `len` zeros (nothing without feature `alloc`).
    pub fn zeroed(len: usize) -> Self {
        #[cfg(feature = "alloc")]
        {
            ScratchBuffer {
                data: vec![T::zero(); len].into_boxed_slice(),
            }
        }
        #[cfg(not(feature = "alloc"))]
        {
            let _ = len;
            ScratchBuffer { data: [] }
        }
    }
}

impl<T> ScratchBuffer<T> {
    /// Elements that [`ScratchBuffer::zeroed`]`(len)` holds: `len` with feature `alloc`, 0
    /// without (the kernels then never pack). Byte counts such as a generated `tape_bytes` use
    /// it, so that they are exact in both builds.
    pub const fn held_len(len: usize) -> usize {
        if cfg!(feature = "alloc") {
            len
        } else {
            0
        }
    }
}

/// Without a heap a scratch buffer is always empty: see [`ScratchBuffer::EMPTY`].
#[cfg(not(feature = "alloc"))]
impl<T> ScratchBuffer<T> {
    /// The empty scratch buffer, as a constant (only without feature `alloc`).
    pub const EMPTY: Self = ScratchBuffer { data: [] };
}

/// Expands to its input when the runtime has no heap (no feature `alloc`), to nothing otherwise:
/// lets code generated in a user's crate provide `const` constructors (`Tape::new_static`),
/// which need `Buffer::ZEROED`, exactly when the runtime has them.
#[cfg(not(feature = "alloc"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __without_alloc {
    ($($items:tt)*) => { $($items)* };
}

/// See the variant without `alloc`.
#[cfg(feature = "alloc")]
#[doc(hidden)]
#[macro_export]
macro_rules! __without_alloc {
    ($($items:tt)*) => {};
}

impl<T> Deref for ScratchBuffer<T> {
    type Target = [T];
    #[inline(always)]
    fn deref(&self) -> &[T] {
        &self.data
    }
}

impl<T> DerefMut for ScratchBuffer<T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.data
    }
}

impl<T> fmt::Debug for ScratchBuffer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ScratchBuffer<{}>[{}]",
            core::any::type_name::<T>(),
            self.data.len()
        )
    }
}

/// The largest of `lengths` (0 for none): sizes one scratch buffer for several layers.
pub const fn max_len(lengths: &[usize]) -> usize {
    let mut max = 0;
    let mut i = 0;
    while i < lengths.len() {
        if lengths[i] > max {
            max = lengths[i];
        }
        i += 1;
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn const_zeroed_arrays_are_positive_zeros() {
        // The same bits as the run-time `zeroed` (a -0.0 would differ in checksums).
        assert!(<[f32; 5] as ScalarArray>::ZEROED
            .iter()
            .zip(<[f32; 5]>::zeroed())
            .all(|(a, b)| a.to_bits() == 0 && b.to_bits() == 0));
        let matrix = <[[f64; 3]; 2] as ScalarArray>::ZEROED;
        assert!(matrix.as_flattened().iter().all(|x| x.to_bits() == 0));
    }

    #[test]
    fn scratch_held_len_is_what_zeroed_holds() {
        for len in [0, 1, 37] {
            assert_eq!(
                ScratchBuffer::<f32>::zeroed(len).len(),
                ScratchBuffer::<f32>::held_len(len)
            );
        }
    }

    #[cfg(not(feature = "alloc"))]
    #[test]
    fn const_buffers_without_a_heap() {
        const ZERO: Buffer<[[f32; 4]; 3]> = Buffer::ZEROED;
        assert!(ZERO.as_flat().iter().all(|&x| x == 0.0));
        const VALUES: Buffer<[f64; 3]> = Buffer::from_array([1.0, -2.0, 0.5]);
        assert_eq!(VALUES.as_flat(), &[1.0, -2.0, 0.5]);
        assert!(ScratchBuffer::<f32>::EMPTY.is_empty());
        // Inline: a buffer is exactly its array.
        assert_eq!(
            core::mem::size_of::<Buffer<[f32; 100]>>(),
            core::mem::size_of::<[f32; 100]>()
        );
        assert_eq!(core::mem::size_of::<ScratchBuffer<f32>>(), 0);
    }

    // Without a heap these buffers would live on the test thread's stack.
    #[cfg(feature = "alloc")]
    #[test]
    fn large_buffers_are_zero_and_writable() {
        // 8 MB: would overflow a 2 MB test thread stack if built by value.
        let mut flat: Buffer<[f64; 1 << 20]> = Buffer::zeroed();
        assert!(flat.iter().all(|&x| x == 0.0));
        flat[(1 << 20) - 1] = 2.0;
        let copy = flat.clone();
        assert_eq!(copy[(1 << 20) - 1], 2.0);

        let mut batch: Buffer<[[f32; 1000]; 512]> = Buffer::zeroed();
        batch[511][999] = 3.0;
        assert_eq!(batch.as_flattened().iter().sum::<f32>(), 3.0);
    }
}
