//! `global_ops`: the op language through [`HakMem`], which must be the
//! `#[global_allocator]` of the process (the fuzz target and
//! `tests/replay_global.rs` declare it; [`GlobalTarget::new`] checks).
//!
//! Unlike `heap_ops`, the "other thread" is a real thread, one per batch of
//! consecutive other-thread ops, joined before the batch's results are
//! checked; its exit runs the allocator's thread-exit hook, so blocks it
//! allocated end up on abandoned slabs that later frees and refills must
//! handle. The heap is process-wide and persists across inputs, which is what
//! a global allocator sees; `MockPages` failure injection and the mock clock
//! do not exist here (those ops are no-ops).
//!
//! Per op: the global heap's `large_live_bytes` equals the value at the start
//! of the input plus the shadow's live large bytes (the harness's own Rust
//! allocations are all small). At the end: the thread cache is flushed, large
//! bytes are back to the start value, the heap's mapped bytes stay bounded,
//! and every used class can be allocated again.

use crate::driver::{run as drive, OtherReq, Target};
use crate::ops::Input;
use crate::shadow::Shadow;
use core::alloc::{GlobalAlloc, Layout};
use hakmem_alloc::config::MAX_SMALL;
use hakmem_alloc::size_class::{class_size, NUM_CLASSES};
use hakmem_alloc::HakMem;

/// Bound on the global heap's mapped bytes after an input: retained
/// SuperSlabs (16 MiB by default) and cached large mappings (64 MiB), the
/// harness's own memory, and slack for slabs pinned by other threads' caches.
pub const MAPPED_BOUND: u64 = 512 << 20;

/// `HakMem` under test.
pub struct GlobalTarget {
    large_base: u64,
}

impl GlobalTarget {
    /// Check that `HakMem` is the global allocator and record the baseline.
    pub fn new() -> Self {
        let probe = Box::new([0u64; 4]);
        assert!(
            hakmem_alloc::global_heap().owns_small(&*probe as *const [u64; 4] as *const u8),
            "global_ops needs `#[global_allocator] static A: HakMem = HakMem;` in the binary"
        );
        drop(probe);
        GlobalTarget { large_base: HakMem::stats().large_live_bytes }
    }
}

impl Default for GlobalTarget {
    fn default() -> Self {
        Self::new()
    }
}

/// A batch handed to the other thread.
struct Batch<'a>(&'a mut [OtherReq]);

// SAFETY: the blocks named by the batch are given up by the calling thread for
// the duration of the batch (it waits for the join), and HakMem is Sync.
unsafe impl Send for Batch<'_> {}

impl Batch<'_> {
    fn run(self) {
        for r in self.0.iter_mut() {
            match r {
                // SAFETY: a live block of the global heap that the caller gave up.
                OtherReq::Free { p, layout } => unsafe { HakMem.dealloc(*p, *layout) },
                OtherReq::Alloc { layout, zeroed, out } => {
                    // SAFETY: layouts have a non-zero size (MIN_SIZE).
                    *out = unsafe {
                        if *zeroed {
                            HakMem.alloc_zeroed(*layout)
                        } else {
                            HakMem.alloc(*layout)
                        }
                    };
                }
            }
        }
    }
}

impl Target for GlobalTarget {
    const MIN_SIZE: usize = 1;

    fn alloc(&mut self, layout: Layout, zeroed: bool) -> *mut u8 {
        // SAFETY: layout.size() >= MIN_SIZE = 1.
        unsafe {
            if zeroed {
                HakMem.alloc_zeroed(layout)
            } else {
                HakMem.alloc(layout)
            }
        }
    }

    unsafe fn dealloc(&mut self, p: *mut u8, layout: Layout) {
        // SAFETY: forwarded caller contract.
        unsafe { HakMem.dealloc(p, layout) }
    }

    unsafe fn realloc(&mut self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded caller contract; new_size >= 1 and small enough.
        unsafe { HakMem.realloc(p, layout, new_size) }
    }

    unsafe fn other(&mut self, batch: &mut [OtherReq]) {
        let b = Batch(batch);
        std::thread::scope(|s| {
            // `join` (unlike the scope's implicit wait) returns only after the
            // thread has terminated, i.e. after its cache was flushed.
            s.spawn(move || b.run()).join().expect("other thread panicked");
        });
    }

    fn flush_other(&mut self) {}

    fn exit_thread(&mut self) {
        HakMem::flush_thread_cache();
    }

    fn trim(&mut self) {
        HakMem::trim();
    }

    fn advance_clock(&mut self, _ms: u8) {}

    fn fail_after(&mut self, _n: Option<u64>) -> bool {
        false
    }

    fn after_op(&mut self, shadow: &Shadow) {
        let live = HakMem::stats().large_live_bytes;
        assert_eq!(
            live,
            self.large_base + shadow.large_bytes() as u64,
            "large_live_bytes disagrees with the live large blocks"
        );
    }

    fn finish(&mut self, classes: &[bool; NUM_CLASSES]) {
        HakMem::flush_thread_cache();
        let st = HakMem::stats();
        assert_eq!(st.large_live_bytes, self.large_base, "large blocks leaked");
        assert!(
            st.mapped_bytes <= MAPPED_BOUND,
            "global heap keeps {} bytes mapped after the input: {:?}",
            st.mapped_bytes,
            st.pool
        );
        let mut blocks = Vec::with_capacity(NUM_CLASSES + 1);
        for c in (0..NUM_CLASSES).filter(|&c| classes[c]).chain([0]) {
            blocks.push(Layout::from_size_align(class_size(c), 8).unwrap());
        }
        blocks.push(Layout::from_size_align(MAX_SMALL + 1, 8).unwrap());
        let ptrs: Vec<*mut u8> = blocks
            .iter()
            .map(|l| {
                // SAFETY: non-zero sizes.
                let p = unsafe { HakMem.alloc(*l) };
                assert!(!p.is_null(), "{} bytes cannot be allocated again after the input", l.size());
                // SAFETY: fresh block of l.size() bytes.
                unsafe { p.write_bytes(0x5a, l.size()) };
                p
            })
            .collect();
        for (p, l) in ptrs.into_iter().zip(&blocks) {
            // SAFETY: allocated just above with `l`, freed once.
            unsafe { HakMem.dealloc(p, *l) };
        }
    }
}

/// Run one `global_ops` input (`HakMem` must be the global allocator).
pub fn run(input: &Input) {
    let mut t = GlobalTarget::new();
    drive(&mut t, &input.ops);
}

/// Run one `global_ops` input from raw bytes.
pub fn run_bytes(data: &[u8]) {
    run(&Input::decode(data));
}
