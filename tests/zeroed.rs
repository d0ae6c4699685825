//! `alloc_zeroed` through `HakMem` while slabs cycle through release, Stage 2
//! and retirement (issue 13: a Stage 2 claim that lost a race with a
//! claim-use-release of the same slot handed out a used slab as "zeroed",
//! and `alloc_zeroed` skipped the memset).
//!
//! Threads allocate zeroed blocks of 1 to 32 KiB, check every byte is zero,
//! dirty every byte, free them and flush their caches (the slabs go back to
//! the pool, SuperSlabs retire); one thread also trims, so Stage 3 maps new
//! (zeroed) SuperSlabs whose UNUSED slots Stage 2 then claims. The test
//! asserts from `HakMem::stats` that Stage 2 and retirements happened.
#![cfg(not(any(feature = "loom", feature = "shuttle")))]

use hakmem_alloc::HakMem;
use std::alloc::{GlobalAlloc, Layout};

const THREADS: usize = 4;
const ROUNDS: usize = 150;
const BLOCKS: usize = 48;

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn worker(seed: u64) {
    let mut rng = seed | 1;
    let mut held: Vec<(*mut u8, Layout)> = Vec::with_capacity(BLOCKS);
    for round in 0..ROUNDS {
        for _ in 0..BLOCKS {
            let size = 1 + (xorshift(&mut rng) % (32 << 10)) as usize;
            let l = Layout::from_size_align(size, 8).unwrap();
            // SAFETY: size > 0.
            let p = unsafe { HakMem.alloc_zeroed(l) };
            assert!(!p.is_null(), "alloc_zeroed({size}) failed");
            // SAFETY: a live block of `size` bytes.
            let bytes = unsafe { std::slice::from_raw_parts_mut(p, size) };
            if let Some(i) = bytes.iter().position(|&b| b != 0) {
                panic!("alloc_zeroed({size}) = {p:p}: byte {i} reads {:#x} (round {round})", bytes[i]);
            }
            bytes.fill(0xAA);
            held.push((p, l));
        }
        for (p, l) in held.drain(..) {
            // SAFETY: allocated above with `l`, freed once.
            unsafe { HakMem.dealloc(p, l) };
        }
        // Hand the now-empty slabs back to the pool (they retire with their
        // SuperSlab once every slot is released).
        HakMem::flush_thread_cache();
        if seed == 1 && round % 8 == 0 {
            // Unmap cached SuperSlabs: the next Stage 3 maps a zeroed one.
            HakMem::trim();
        }
    }
}

#[test]
fn alloc_zeroed_threads_through_release_and_stage2() {
    HakMem::flush_thread_cache();
    let before = HakMem::stats().pool;
    let threads: Vec<_> = (0..THREADS as u64).map(|t| std::thread::spawn(move || worker(t + 1))).collect();
    for t in threads {
        t.join().unwrap();
    }
    let after = HakMem::stats().pool;
    let (stage2, retired, mapped) =
        (after.stage2 - before.stage2, after.retired - before.retired, after.mapped - before.mapped);
    eprintln!("pool counters over the test: stage2 {stage2} retired {retired} mapped {mapped}: {after:?}");
    assert!(stage2 > 0, "Stage 2 never claimed a slot: {after:?}");
    assert!(retired > 0, "no SuperSlab retired: {after:?}");
    assert!(mapped > 1, "no SuperSlab mapped after a trim: {after:?}");
}
