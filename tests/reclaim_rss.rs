//! Memory freed by other threads goes back once its owner has exited: a
//! thread allocates 256 MiB of 1 KiB blocks and exits, the main thread frees
//! them all, then `flush_thread_cache` and `trim`: the resident set returns
//! to within 10 MiB of where it started. Before, the 4099 abandoned slabs
//! stayed (RSS 261 MiB) until some thread refilled that class. Its own test
//! binary, so no other test's memory blurs the figure.
#![cfg(not(any(feature = "loom", feature = "shuttle")))]

mod common;

use hakmem_alloc::platform::resident_bytes;
use hakmem_alloc::HakMem;
use std::alloc::{dealloc, Layout};

#[global_allocator]
static GLOBAL: HakMem = HakMem;

use common::Ptrs;

#[test]
fn blocks_of_an_exited_thread_freed_elsewhere_go_back_to_the_os() {
    const BYTES: usize = 256 << 20;
    const SIZE: usize = 1024;
    let l = Layout::from_size_align(SIZE, 8).unwrap();
    let mut ptrs: Vec<*mut u8> = Vec::with_capacity(BYTES / SIZE);
    let before = common::settled_rss();
    let moved = Ptrs(std::mem::take(&mut ptrs));
    let Ptrs(ptrs) = std::thread::spawn(move || {
        let moved = moved;
        let mut v = moved.0;
        common::alloc_touched(&mut v, BYTES / SIZE, l);
        Ptrs(v)
    })
    .join()
    .unwrap();
    let peak = resident_bytes();
    let abandoned = HakMem::stats();
    for p in ptrs {
        // SAFETY: allocated above with `l`, freed once.
        unsafe { dealloc(p, l) };
    }
    HakMem::flush_thread_cache();
    HakMem::trim();
    let after = resident_bytes();
    let s = HakMem::stats();
    eprintln!(
        "rss before {} MiB, peak {} MiB, after flush+trim {} MiB; live SuperSlabs {} -> {}",
        before >> 20,
        peak >> 20,
        after >> 20,
        abandoned.pool.live_superslabs,
        s.pool.live_superslabs
    );
    assert!(peak >= before + (BYTES as u64) / 2, "the blocks were not resident");
    assert!(
        after < before + (10 << 20),
        "rss did not come back: before {} MiB after {} MiB ({:?})",
        before >> 20,
        after >> 20,
        s.pool
    );
}
