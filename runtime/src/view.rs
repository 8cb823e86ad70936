//! Typed views into flat buffers, and the description of a flat buffer's tensors.
//!
//! A network keeps all its parameters in one `[T; PARAMS]`; each layer reads its block as typed
//! arrays (`&[[T; IN]; OUT]` for a dense weight) through these functions. The offsets and lengths
//! come from the `network!` macro, which computes them from the same layouts the ops document,
//! so a view never falls outside its buffer; if one did, that would be a bug in the generated
//! code, and the functions panic rather than read out of bounds. With constant offsets (as in
//! generated code) the check compiles away.

/// The first `N` elements of `s` as an array.
///
/// # Panics
/// If `s` is shorter than `N` (a bug in the caller's layout).
#[inline(always)]
pub fn array<T, const N: usize>(s: &[T]) -> &[T; N] {
    match s.first_chunk::<N>() {
        Some(a) => a,
        None => layout_bug(N, s.len()),
    }
}

/// The first `N` elements of `s` as a mutable array.
///
/// # Panics
/// If `s` is shorter than `N` (a bug in the caller's layout).
#[inline(always)]
pub fn array_mut<T, const N: usize>(s: &mut [T]) -> &mut [T; N] {
    let len = s.len();
    match s.first_chunk_mut::<N>() {
        Some(a) => a,
        None => layout_bug(N, len),
    }
}

/// The first `R * C` elements of `s` as a row-major `R x C` matrix.
///
/// # Panics
/// If `s` is shorter than `R * C` (a bug in the caller's layout).
#[inline(always)]
pub fn matrix<T, const R: usize, const C: usize>(s: &[T]) -> &[[T; C]; R] {
    let (rows, _) = s.as_chunks::<C>();
    match rows.first_chunk::<R>() {
        Some(m) => m,
        None => layout_bug(R * C, s.len()),
    }
}

/// The first `R * C` elements of `s` as a mutable row-major `R x C` matrix.
///
/// # Panics
/// If `s` is shorter than `R * C` (a bug in the caller's layout).
#[inline(always)]
pub fn matrix_mut<T, const R: usize, const C: usize>(s: &mut [T]) -> &mut [[T; C]; R] {
    let len = s.len();
    let (rows, _) = s.as_chunks_mut::<C>();
    match rows.first_chunk_mut::<R>() {
        Some(m) => m,
        None => layout_bug(R * C, len),
    }
}

#[cold]
#[inline(never)]
fn layout_bug(needed: usize, available: usize) -> ! {
    panic!("monograd: a view of {needed} elements does not fit in the {available} left in its buffer (layout bug)")
}

/// One named tensor inside a flat buffer: PyTorch state-dict name, offset and shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// State-dict name, e.g. `"hidden.weight"`.
    pub name: &'static str,
    /// Offset of the first element in the flat buffer.
    pub offset: usize,
    /// PyTorch shape, e.g. `[out, in]` for a dense weight.
    pub shape: &'static [usize],
}

impl TensorInfo {
    /// Number of elements.
    pub const fn len(&self) -> usize {
        let mut n = 1;
        let mut i = 0;
        while i < self.shape.len() {
            n *= self.shape[i];
            i += 1;
        }
        n
    }

    /// True for a tensor with a zero dimension (never produced by the macro).
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements of this tensor in `buffer`.
    pub fn slice<'a, T>(&self, buffer: &'a [T]) -> &'a [T] {
        &buffer[self.offset..self.offset + self.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_read_the_right_elements() {
        let mut buf: [f32; 10] = core::array::from_fn(|i| i as f32);
        let m: &[[f32; 3]; 2] = matrix(&buf[1..]);
        assert_eq!(m, &[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
        let a: &[f32; 3] = array(&buf[7..]);
        assert_eq!(a, &[7.0, 8.0, 9.0]);
        let (head, tail) = buf.split_at_mut(7);
        let w: &mut [[f32; 3]; 2] = matrix_mut(&mut head[1..]);
        let b: &mut [f32; 3] = array_mut(tail);
        w[1][2] = -1.0;
        b[0] = -2.0;
        assert_eq!(buf[6], -1.0);
        assert_eq!(buf[7], -2.0);
        let info = TensorInfo {
            name: "fc.weight",
            offset: 1,
            shape: &[2, 3],
        };
        assert_eq!(info.len(), 6);
        assert_eq!(info.slice(&buf), &[1.0, 2.0, 3.0, 4.0, 5.0, -1.0]);
    }

    #[test]
    #[should_panic(expected = "layout bug")]
    fn a_view_past_the_end_panics_instead_of_reading_out_of_bounds() {
        let buf = [0.0f64; 5];
        let _: &[[f64; 3]; 2] = matrix(&buf);
    }
}
