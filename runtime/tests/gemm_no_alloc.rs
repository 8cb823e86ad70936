//! The packed GEMM entry points never touch the heap: a counting global allocator sees zero
//! allocations in W1-sized products (784 -> 256 -> 128 -> 10 at batch 32 and 64, all three
//! orientations) once the operands and the scratch exist; nor do the entry points without
//! scratch (the unpacked loops).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use monograd_runtime::kernels::gemm::{
    gemm_pack_len, gemm_packed, matmul_a_b_pack_len, matmul_a_b_packed, matmul_a_bt_pack_len,
    matmul_a_bt_packed, matmul_at_b_pack_len, matmul_at_b_packed, Transpose,
};
use monograd_runtime::ops::linear::{
    linear_backward_input, linear_backward_input_packed, linear_backward_params,
    linear_backward_params_packed, linear_forward, linear_forward_packed, linear_pack_len,
};
use monograd_runtime::Store;

/// The system allocator, counting the allocations of the current thread (the test harness's
/// other threads do not disturb the count).
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds `GlobalAlloc`'s contract;
// the counter is a const-initialized thread-local `Cell`, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// A boxed `[[f32; C]; R]` of small values, built on the heap (outside the counted calls).
fn matrix<const R: usize, const C: usize>(seed: usize) -> Box<[[f32; C]; R]> {
    let rows: Vec<[f32; C]> = (0..R)
        .map(|r| core::array::from_fn(|c| ((r * C + c + seed) % 17) as f32 / 16.0 - 0.5))
        .collect();
    rows.into_boxed_slice().try_into().unwrap()
}

/// One dense layer `IN -> OUT` at batch `B`: the raw GEMM, the typed wrappers and the dense
/// ops, each with scratch of the length its `*_pack_len` gives.
fn layer<const B: usize, const IN: usize, const OUT: usize>() {
    let x = matrix::<B, IN>(1);
    let w = matrix::<OUT, IN>(2);
    let dy = matrix::<B, OUT>(3);
    let mut y = matrix::<B, OUT>(4);
    let mut dx = matrix::<B, IN>(5);
    let mut dw = matrix::<OUT, IN>(6);
    let mut db = [0.0f32; OUT];
    let mut pack = vec![0.0f32; linear_pack_len::<f32>(B, IN, OUT)];
    let what = format!("{B} x {IN} -> {OUT}");
    assert!(!pack.is_empty(), "{what}: a product large enough to pack");

    // Without scratch (the unpacked loops) nothing allocates either.
    let n = allocations(|| {
        linear_forward(&x, &w, Some(&db), &mut y);
        linear_backward_input(&dy, &w, &mut dx, Store::Accumulate);
        linear_backward_params(&x, &dy, &mut dw, Some(&mut db), Store::Overwrite);
    });
    assert_eq!(n, 0, "{what}: dense ops without scratch");

    let n = allocations(|| {
        linear_forward_packed(&x, &w, Some(&db), &mut y, &mut pack);
        linear_backward_input_packed(&dy, &w, &mut dx, Store::Overwrite, &mut pack);
        linear_backward_params_packed(
            &x,
            &dy,
            &mut dw,
            Some(&mut db),
            Store::Accumulate,
            &mut pack,
        );
    });
    assert_eq!(n, 0, "{what}: dense ops");

    let mut typed = vec![
        0.0f32;
        matmul_a_bt_pack_len::<f32>(B, IN, OUT)
            .max(matmul_a_b_pack_len::<f32>(B, OUT, IN))
            .max(matmul_at_b_pack_len::<f32>(OUT, B, IN))
    ];
    let n = allocations(|| {
        matmul_a_bt_packed(&x, &w, &mut y, Store::Overwrite, &mut typed);
        matmul_a_b_packed(&dy, &w, &mut dx, Store::Accumulate, &mut typed);
        matmul_at_b_packed(&dy, &x, &mut dw, Store::Overwrite, &mut typed);
    });
    assert_eq!(n, 0, "{what}: typed wrappers");

    use Transpose::{No, Yes};
    let products = [
        ((No, Yes), (B, OUT, IN)),
        ((No, No), (B, IN, OUT)),
        ((Yes, No), (OUT, IN, B)),
        ((Yes, Yes), (IN, B, OUT)),
    ];
    for ((ta, tb), (m, n, k)) in products {
        let mut raw = vec![0.0f32; gemm_pack_len::<f32>(ta, tb, m, n, k)];
        let a = vec![0.5f32; m * k];
        let b = vec![0.25f32; k * n];
        let mut c = vec![0.0f32; m * n];
        let (lda, ldb) = (if ta == No { k } else { m }, if tb == No { n } else { k });
        let count = allocations(|| {
            gemm_packed(
                ta, tb, m, n, k, 1.0, &a, lda, &b, ldb, 0.0, &mut c, n, &mut raw,
            )
            .unwrap();
        });
        assert_eq!(count, 0, "{what}: gemm_packed {ta:?}/{tb:?} {m}x{k}->{n}");
        assert_eq!(c[0], 0.125 * k as f32, "{what}: the product ran");
    }
}

#[test]
fn packed_gemm_never_allocates() {
    // The counter works: a Vec allocates.
    assert_eq!(allocations(|| drop(vec![1u8; 10])), 1);
    layer::<64, 784, 256>();
    layer::<64, 256, 128>();
    layer::<64, 128, 10>();
    layer::<32, 784, 256>();
    layer::<32, 256, 128>();
}
