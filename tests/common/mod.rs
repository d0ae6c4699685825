//! Helpers shared by the integration tests: the seed's benchmark loop and a PRNG.
#![allow(dead_code)]

use std::alloc::{alloc, dealloc, Layout};

/// The seed's `bench_fixed_size ITER SIZE WORKSET`: each iteration allocates
/// WORKSET blocks of SIZE bytes (writing each), then frees them all.
pub fn fixed_size(iters: usize, size: usize, workset: usize) {
    let layout = Layout::from_size_align(size, 8).unwrap();
    let mut ptrs = vec![std::ptr::null_mut::<u8>(); workset];
    for it in 0..iters {
        for (j, p) in ptrs.iter_mut().enumerate() {
            // SAFETY: non-zero size layout.
            let q = unsafe { alloc(layout) };
            assert!(!q.is_null());
            // SAFETY: q is a fresh block of `size` bytes.
            unsafe {
                *q = (it ^ j) as u8;
                *q.add(size - 1) = (it ^ j) as u8;
            }
            *p = q;
        }
        for (j, p) in ptrs.iter().enumerate() {
            // SAFETY: allocated above with `layout`, written at both ends.
            unsafe {
                assert_eq!(**p, (it ^ j) as u8);
                assert_eq!(*p.add(size - 1), (it ^ j) as u8);
                dealloc(*p, layout);
            }
        }
    }
}

/// xorshift64.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Fill `len` bytes at `p` with a pattern derived from `seed`.
///
/// # Safety
/// `p` is valid for `len` bytes of writes.
pub unsafe fn fill(p: *mut u8, len: usize, seed: u8) {
    for i in 0..len {
        // SAFETY: caller contract.
        unsafe { *p.add(i) = seed.wrapping_add(i as u8 ^ (i >> 8) as u8) };
    }
}

/// Check the pattern written by [`fill`].
///
/// # Safety
/// `p` is valid for `len` bytes of reads.
pub unsafe fn check(p: *const u8, len: usize, seed: u8) {
    for i in 0..len {
        // SAFETY: caller contract.
        let v = unsafe { *p.add(i) };
        assert_eq!(v, seed.wrapping_add(i as u8 ^ (i >> 8) as u8), "byte {i} of {p:p} (len {len}) corrupted");
    }
}

/// Pointers moved to or from another thread (plain allocations).
pub struct Ptrs(pub Vec<*mut u8>);
// SAFETY: the pointers are plain allocations handed to another thread.
unsafe impl Send for Ptrs {}

/// Flush this thread's cache and trim, then read the resident set (bytes).
pub fn settled_rss() -> u64 {
    hakmem_alloc::HakMem::flush_thread_cache();
    hakmem_alloc::HakMem::trim();
    let rss = hakmem_alloc::platform::resident_bytes();
    assert!(rss > 0, "cannot read /proc/self/statm");
    rss
}

/// Allocate `n` blocks of `layout`, touch every byte (so they are resident),
/// and append them to `v`.
pub fn alloc_touched(v: &mut Vec<*mut u8>, n: usize, layout: Layout) {
    for _ in 0..n {
        // SAFETY: callers pass layouts of non-zero size.
        let p = unsafe { alloc(layout) };
        assert!(!p.is_null());
        // SAFETY: fresh block of `layout.size()` bytes.
        unsafe { p.write_bytes(0x5A, layout.size()) };
        v.push(p);
    }
}
