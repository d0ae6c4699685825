//! Empty slabs inside SuperSlabs that still hold live slabs go back to the
//! OS on `trim`: 128 MiB of 1 KiB blocks are allocated, all freed but one
//! block per 2 MiB SuperSlab, then `flush_thread_cache` and `trim`: the
//! resident set returns to within 10 MiB of where it started (the 64 live
//! slabs, 64 KiB each, stay). Before, `trim` only unmapped retired
//! SuperSlabs, and the empty slabs of the 64 live ones stayed resident
//! (about 130 MiB). Its own test binary, so no other test's memory blurs
//! the figure.
#![cfg(not(any(feature = "loom", feature = "shuttle")))]

mod common;

use hakmem_alloc::platform::resident_bytes;
use hakmem_alloc::HakMem;
use std::alloc::{dealloc, Layout};
use std::collections::HashSet;

#[global_allocator]
static GLOBAL: HakMem = HakMem;

#[test]
fn trim_purges_empty_slabs_of_live_superslabs() {
    const BYTES: usize = 128 << 20;
    const SIZE: usize = 1024;
    const SUPERSLAB: usize = 2 << 20;
    let l = Layout::from_size_align(SIZE, 8).unwrap();
    let mut ptrs: Vec<*mut u8> = Vec::with_capacity(BYTES / SIZE);
    let mut seen: HashSet<usize> = HashSet::with_capacity(4096);
    let mut kept: Vec<*mut u8> = Vec::with_capacity(4096);
    let before = common::settled_rss();
    common::alloc_touched(&mut ptrs, BYTES / SIZE, l);
    let peak = resident_bytes();
    for p in ptrs {
        if seen.insert(p as usize / SUPERSLAB) {
            kept.push(p);
        } else {
            // SAFETY: allocated above with `l`, freed once.
            unsafe { dealloc(p, l) };
        }
    }
    HakMem::flush_thread_cache();
    HakMem::trim();
    let after = resident_bytes();
    let s = HakMem::stats();
    eprintln!(
        "rss before {} MiB, peak {} MiB, after freeing all but {} blocks and flush+trim {} MiB; live SuperSlabs {}",
        before >> 20,
        peak >> 20,
        kept.len(),
        after >> 20,
        s.pool.live_superslabs
    );
    for p in kept {
        // SAFETY: allocated above with `l`, freed once.
        unsafe { dealloc(p, l) };
    }
    assert!(peak >= before + (BYTES as u64) / 2, "the blocks were not resident");
    assert!(
        after < before + (10 << 20),
        "empty slabs of live SuperSlabs stayed resident: before {} MiB after {} MiB ({:?})",
        before >> 20,
        after >> 20,
        s.pool
    );
}
