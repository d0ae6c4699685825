//! `heap_ops`: the op language on a fresh `Heap<MockPages>` per input.
//!
//! "Another thread" is a second [`ThreadCache`] used on the same OS thread:
//! a block freed through it is drained onto its slab's remote list, exactly
//! the cross-thread path, and the run stays deterministic (libFuzzer needs
//! that to minimise). Real threads are exercised by `global_ops`.
//!
//! Per op, on top of the shadow checks of [`crate::driver`]: the heap's
//! `large_live_bytes` equals the shadow's live large bytes, and the large
//! mappings stay within twice the live large mappings plus the large cache.
//!
//! At the end (every block freed): both caches flushed, slabs abandoned with
//! all blocks freed remotely adopted and released; then no SuperSlab may
//! stay live, `trim` must leave no SuperSlab and no large mapping, only
//! metadata may remain mapped, and a fresh cache can allocate again.

use crate::driver::{run as drive, OtherReq, Target};
use crate::ops::{Config, Input};
use core::alloc::Layout;
use hakmem_alloc::config::{MAX_SMALL, PAGE_SIZE};
use hakmem_alloc::size_class::{class_size, NUM_CLASSES};
use hakmem_alloc::{Heap, MockPages, ThreadCache};

/// Largest number of bytes of metadata (registry, freelist nodes, page-map
/// leaves) the mock may still have mapped at the end of a run.
pub const META_BOUND: usize = 16 << 20;
/// `fail_after` count that means "never fail again".
const HEAL: u64 = 1 << 62;
/// Bytes the large-block cache may keep (see `src/large.rs`).
const LARGE_CACHE_BYTES: u64 = 64 << 20;

/// The heap under test and its two caches.
pub struct HeapTarget {
    heap: Heap<MockPages>,
    main: ThreadCache,
    other: ThreadCache,
}

impl HeapTarget {
    /// A fresh heap with `cfg`'s options.
    pub fn new(cfg: Config) -> Self {
        crate::tune_malloc();
        HeapTarget {
            heap: Heap::with_options(MockPages::new(), cfg.options()),
            main: ThreadCache::new(),
            other: ThreadCache::new(),
        }
    }

    /// The heap.
    pub fn heap(&self) -> &Heap<MockPages> {
        &self.heap
    }
}

fn large_mapping_len(size: usize, align: usize) -> u64 {
    let off = align.max(PAGE_SIZE);
    ((off + size).next_multiple_of(PAGE_SIZE)) as u64
}

impl Target for HeapTarget {
    const MIN_SIZE: usize = 0;

    fn alloc(&mut self, layout: Layout, zeroed: bool) -> *mut u8 {
        if zeroed {
            unsafe { self.heap.alloc_zeroed(&mut self.main, layout) }
        } else {
            unsafe { self.heap.alloc(&mut self.main, layout) }
        }
    }

    unsafe fn dealloc(&mut self, p: *mut u8, layout: Layout) {
        // SAFETY: forwarded caller contract; `main` is only used with this heap.
        unsafe { self.heap.dealloc(&mut self.main, p, layout) }
    }

    unsafe fn realloc(&mut self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded caller contract; sizes are at most ~1 MiB.
        unsafe { self.heap.realloc(&mut self.main, p, layout, new_size) }
    }

    unsafe fn other(&mut self, batch: &mut [OtherReq]) {
        for r in batch {
            match r {
                // SAFETY: caller contract: a live block of this heap, given up.
                OtherReq::Free { p, layout } => unsafe { self.heap.dealloc(&mut self.other, *p, *layout) },
                OtherReq::Alloc { layout, zeroed, out } => {
                    *out = if *zeroed {
                        unsafe { self.heap.alloc_zeroed(&mut self.other, *layout) }
                    } else {
                        unsafe { self.heap.alloc(&mut self.other, *layout) }
                    };
                }
            }
        }
    }

    fn flush_other(&mut self) {
        unsafe { self.heap.thread_exit(&mut self.other) };
    }

    fn exit_thread(&mut self) {
        unsafe { self.heap.thread_exit(&mut self.main) };
    }

    fn trim(&mut self) {
        self.heap.trim();
        let st = self.heap.stats();
        assert_eq!(st.pool.cached_superslabs, 0, "trim left cached SuperSlabs: {:?}", st.pool);
    }

    fn advance_clock(&mut self, ms: u8) {
        self.heap.pages().advance_clock(u64::from(ms) * 1_000_000);
        if ms & 1 == 1 {
            self.heap.pool().purge_expired();
        }
    }

    fn fail_after(&mut self, n: Option<u64>) -> bool {
        self.heap.pages().fail_after(n.unwrap_or(HEAL));
        true
    }

    unsafe fn usable_size(&self, p: *mut u8, layout: Layout) -> Option<usize> {
        // SAFETY: forwarded caller contract.
        Some(unsafe { self.heap.usable_size(p, layout) })
    }

    fn after_op(&mut self, shadow: &crate::shadow::Shadow) {
        let st = self.heap.stats();
        assert_eq!(
            st.large_live_bytes,
            shadow.large_bytes() as u64,
            "large_live_bytes disagrees with the live large blocks"
        );
        let live_maps: u64 =
            shadow.blocks().iter().filter(|b| b.is_large()).map(|b| large_mapping_len(b.size, b.align)).sum();
        assert!(
            st.large_mapped_bytes <= 2 * live_maps + LARGE_CACHE_BYTES,
            "large mappings {} exceed twice the live large mappings ({live_maps}) plus the cache",
            st.large_mapped_bytes
        );
    }

    fn finish(&mut self, classes: &[bool; NUM_CLASSES]) {
        let h = &self.heap;
        h.pages().fail_after(HEAL);
        unsafe { h.thread_exit(&mut self.other) };
        unsafe { h.thread_exit(&mut self.main) };
        // Slabs abandoned while some of their blocks sat in another cache got
        // those blocks back through their remote lists: adopting them must
        // find them empty, and flushing must release them.
        let mut tc = ThreadCache::new();
        let used: Vec<usize> = (0..NUM_CLASSES).filter(|&c| classes[c]).collect();
        while h.abandoned_slabs() > 0 {
            let before = h.abandoned_slabs();
            for &c in &used {
                let l = Layout::from_size_align(class_size(c), 8).unwrap();
                let p = unsafe { h.alloc(&mut tc, l) };
                assert!(!p.is_null(), "allocation of class {c} failed while reclaiming abandoned slabs");
                // SAFETY: fresh block of `tc`, given straight back.
                unsafe { h.dealloc(&mut tc, p, l) };
            }
            unsafe { h.thread_exit(&mut tc) };
            assert!(
                h.abandoned_slabs() < before,
                "abandoned slabs stay abandoned: not adopted, or some of their blocks never came back (classes used: {used:?})"
            );
        }
        let st = h.stats();
        assert_eq!(
            st.pool.live_superslabs, 0,
            "SuperSlabs stay live after every block was freed and every cache flushed: {:?}",
            st.pool
        );
        assert_eq!(st.large_live_bytes, 0);
        h.trim();
        let st = h.stats();
        assert_eq!(st.superslab_mapped_bytes, 0, "trim kept SuperSlabs: {:?}", st.pool);
        assert_eq!(st.large_mapped_bytes, 0, "trim kept large mappings");
        let meta = h.pages().mapped_bytes();
        assert!(meta <= META_BOUND, "{meta} bytes still mapped after everything was freed and trimmed");
        // The memory is reusable: the smallest and largest class used (a
        // refill carves up to half a bin, so not every class: that would
        // dominate the run), class 0, and a large block.
        let mut blocks = Vec::new();
        for &c in used.first().iter().chain(used.last().iter()).copied().chain(&[0]) {
            let l = Layout::from_size_align(class_size(c), 8).unwrap();
            let p = unsafe { h.alloc(&mut tc, l) };
            assert!(!p.is_null(), "class {c} cannot be allocated again after the run");
            // SAFETY: fresh block of l.size() bytes.
            unsafe { p.write_bytes(0xa5, l.size()) };
            blocks.push((p, l));
        }
        let l = Layout::from_size_align(MAX_SMALL + 1, 8).unwrap();
        let p = unsafe { h.alloc(&mut tc, l) };
        assert!(!p.is_null(), "a large block cannot be allocated again after the run");
        blocks.push((p, l));
        for (p, l) in blocks {
            // SAFETY: blocks allocated just above, freed once.
            unsafe { h.dealloc(&mut tc, p, l) };
        }
        unsafe { h.thread_exit(&mut tc) };
        assert_eq!(h.pool().stats().live_superslabs, 0, "SuperSlabs stay live after the reuse check");
        assert_eq!(h.abandoned_slabs(), 0);
    }
}

/// Run one `heap_ops` input.
pub fn run(input: &Input) {
    let mut t = HeapTarget::new(input.config);
    drive(&mut t, &input.ops);
}

/// Run one `heap_ops` input from raw bytes.
pub fn run_bytes(data: &[u8]) {
    run(&Input::decode(data));
}
