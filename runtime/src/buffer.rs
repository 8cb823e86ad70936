//! Fixed-size buffers that are never built on the stack.
//!
//! A 235k-parameter network's Adam state is ~2 MB: constructing `[f32; N]` by value and then
//! moving it into a `Box` would overflow a thread's stack in a debug build. [`Buffer`] owns a
//! zero-initialised array allocated directly on the heap (feature `alloc`, on with `std`), or
//! held inline where there is no heap, so that the same generated code compiles in both worlds.
//! A firmware build without a heap keeps its large arrays in `static`s and calls the functions
//! that take `&[T; N]` directly.

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
