//! Memory freed by other threads goes back while its owner is alive but
//! idle: a thread allocates 256 MiB of 1 KiB blocks, hands them to the main
//! thread and then waits, allocating nothing; the main thread frees them
//! all and flushes its cache; once the purge delay has passed and a slow
//! path ran, and again after `trim`, the resident set is within 10 MiB of
//! where it started. Before the owner gave up its exhausted
//! slabs (`heap_reclaim`'s orphaned slabs), the freed blocks waited on the
//! remote lists of slabs the idle thread still owned, and RSS stayed at
//! about 259 MiB until that thread allocated again. Its own test binary, so
//! no other test's memory blurs the figure.
#![cfg(not(any(feature = "loom", feature = "shuttle")))]

mod common;

use hakmem_alloc::platform::resident_bytes;
use hakmem_alloc::HakMem;
use std::alloc::{alloc, dealloc, Layout};
use std::sync::mpsc::channel;

#[global_allocator]
static GLOBAL: HakMem = HakMem;

use common::Ptrs;

#[test]
fn blocks_of_an_idle_thread_freed_elsewhere_go_back_to_the_os() {
    const BYTES: usize = 256 << 20;
    const SIZE: usize = 1024;
    let l = Layout::from_size_align(SIZE, 8).unwrap();
    let ptrs: Vec<*mut u8> = Vec::with_capacity(BYTES / SIZE);
    let before = common::settled_rss();
    let (to_main, from_owner) = channel::<Ptrs>();
    let (to_owner, from_main) = channel::<()>();
    let moved = Ptrs(ptrs);
    let owner = std::thread::spawn(move || {
        let mut v = { moved }.0;
        common::alloc_touched(&mut v, BYTES / SIZE, l);
        to_main.send(Ptrs(v)).unwrap();
        // Idle: alive, no allocator call until main has measured.
        from_main.recv().unwrap();
    });
    let Ptrs(ptrs) = from_owner.recv().unwrap();
    let peak = resident_bytes();
    for p in ptrs {
        // SAFETY: allocated above with `l`, freed once.
        unsafe { dealloc(p, l) };
    }
    HakMem::flush_thread_cache();
    // Without `trim`: the purge delay (10 ms) passes, then any slow path
    // (here a large block) purges the retained SuperSlabs.
    std::thread::sleep(std::time::Duration::from_millis(30));
    let big = Layout::from_size_align(1 << 20, 8).unwrap();
    // SAFETY: non-zero size; freed at once (black_box: the pair must not be
    // optimised away).
    unsafe { dealloc(std::hint::black_box(alloc(big)), big) };
    let after_delay = resident_bytes();
    HakMem::trim();
    let after = resident_bytes();
    let s = HakMem::stats();
    to_owner.send(()).unwrap();
    owner.join().unwrap();
    eprintln!(
        "rss before {} MiB, peak {} MiB, after flush + purge delay {} MiB, after trim {} MiB (owner alive, idle); live SuperSlabs {}",
        before >> 20,
        peak >> 20,
        after_delay >> 20,
        after >> 20,
        s.pool.live_superslabs
    );
    assert!(peak >= before + (BYTES as u64) / 2, "the blocks were not resident");
    assert!(
        after_delay < before + (10 << 20),
        "rss did not come back after the purge delay while the owner was idle: before {} MiB after {} MiB",
        before >> 20,
        after_delay >> 20
    );
    assert!(
        after < before + (10 << 20),
        "rss did not come back while the owner was idle: before {} MiB after {} MiB ({:?})",
        before >> 20,
        after >> 20,
        s.pool
    );
}
