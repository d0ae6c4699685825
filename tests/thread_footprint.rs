//! Per-thread footprint: a thread that allocates one block of every size
//! class (and writes all of it) adds at most mimalloc's 2.6 MiB to the
//! resident set (issue 17; it was 4.9 MiB, 3.8 MiB without huge pages).
//! Bins start small, so the first refill of a class carves about 8 KiB (or
//! one block) of its slab, and untouched pages stay untouched. Its own test
//! binary, so no other test's memory blurs the figure.
#![cfg(not(any(feature = "loom", feature = "shuttle")))]

use hakmem_alloc::platform::resident_bytes;
use hakmem_alloc::size_class::{class_size, NUM_CLASSES};
use hakmem_alloc::HakMem;
use std::alloc::{alloc, dealloc, Layout};

#[global_allocator]
static GLOBAL: HakMem = HakMem;

#[test]
fn a_thread_touching_every_class_once_costs_at_most_mimallocs_footprint() {
    // Warm up the process-wide structures (registry, page map) on the main thread.
    let warm: Vec<Box<[u8; 64]>> = (0..100).map(|_| Box::new([1u8; 64])).collect();
    drop(warm);
    let (before, after) = std::thread::spawn(|| {
        let before = resident_bytes();
        let blocks: Vec<(*mut u8, Layout)> = (0..NUM_CLASSES)
            .map(|c| {
                let l = Layout::from_size_align(class_size(c), 8).unwrap();
                // SAFETY: non-zero size.
                let p = unsafe { alloc(l) };
                assert!(!p.is_null());
                // SAFETY: a live block of l.size() bytes.
                unsafe { p.write_bytes(0x5A, l.size()) };
                (p, l)
            })
            .collect();
        let after = resident_bytes();
        for (p, l) in blocks {
            // SAFETY: allocated above with `l`.
            unsafe { dealloc(p, l) };
        }
        (before, after)
    })
    .join()
    .unwrap();
    let grew = after.saturating_sub(before);
    let touched: usize = (0..NUM_CLASSES).map(class_size).sum();
    eprintln!(
        "one block of each of {NUM_CLASSES} classes ({} KiB of blocks): rss {} -> {} KiB, +{} KiB; {:?}",
        touched >> 10,
        before >> 10,
        after >> 10,
        grew >> 10,
        HakMem::stats().pool
    );
    assert!(grew <= 2600 << 10, "a thread touching every class once added {} KiB", grew >> 10);
}
