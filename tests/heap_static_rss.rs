//! The global heap is built in place, in a zeroed static: starting it
//! writes its fields but not the page map's 64 KiB top level, which gets
//! resident only where SuperSlabs are registered, and nothing heap-sized
//! passes through the stack (a heap built by value and moved into the
//! static cost a process about 180 KiB: the whole static plus two copies on
//! the main thread's stack). Likewise the pool registry's records, which
//! are resident only once used. Its own test binary, so the heap starts here.
#![cfg(all(target_os = "linux", not(any(feature = "loom", feature = "shuttle"))))]

use hakmem_alloc::{global_heap, Heap, OsPages, ThreadCache};
use std::alloc::Layout;

const PAGE: usize = 4096;

/// Whole pages inside `[start, start + len)`, and how many are resident.
fn resident_pages(start: usize, len: usize) -> (usize, usize) {
    let first = start.next_multiple_of(PAGE);
    let last = (start + len) & !(PAGE - 1);
    let pages = (last - first) / PAGE;
    let mut v = vec![0u8; pages];
    // SAFETY: the range lies inside the test binary's static data (mapped);
    // `v` has one byte per page.
    assert_eq!(unsafe { libc::mincore(first as *mut libc::c_void, last - first, v.as_mut_ptr()) }, 0);
    (pages, v.iter().filter(|&&b| b & 1 != 0).count())
}

/// The global heap, used a little: one block allocated, written and freed
/// through a cache of this thread's, so one SuperSlab is registered.
fn used_global_heap() -> &'static Heap<OsPages> {
    let h = global_heap();
    let mut tc = ThreadCache::new();
    let l = Layout::from_size_align(64, 8).unwrap();
    // SAFETY: `tc` is used only with the global heap; the block is freed once.
    unsafe {
        let p = h.alloc(&mut tc, l);
        assert!(!p.is_null());
        p.write_bytes(1, 64);
        h.dealloc(&mut tc, p, l);
        h.thread_exit(&mut tc);
    }
    h
}

#[test]
fn starting_the_global_heap_leaves_most_of_its_static_untouched() {
    let h = used_global_heap();
    let len = core::mem::size_of::<Heap<OsPages>>();
    assert!(len >= 64 << 10, "the heap is {len} bytes: the page map's top level is no longer inline");
    let (pages, resident) = resident_pages(h as *const Heap<OsPages> as usize, len);
    assert!(resident <= 4, "{resident} of the global heap's {pages} whole pages are resident after it started");
}

#[test]
fn the_pool_registry_is_resident_only_where_records_are_used() {
    let h = used_global_heap();
    // The registry's first chunk holds 16 records (a page-aligned mapping
    // starting at record 0): one SuperSlab is in use, so one record is.
    let first = h.pool().meta(0) as *const _ as usize;
    let size = core::mem::size_of_val(h.pool().meta(0));
    assert!(size > PAGE, "a record is {size} bytes");
    let (pages, resident) = resident_pages(first, 8 * size);
    assert!(pages >= 8);
    assert!(
        resident <= 3,
        "{resident} of the first 8 records' {pages} whole pages are resident with {} record(s) in use",
        h.pool().records()
    );
}
