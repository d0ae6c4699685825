//! `HakMem` as the global allocator of this test binary: every size and
//! alignment, zeroing, realloc, threads with cross-thread frees, thread churn,
//! and the seed's reproduction cases.
#![cfg(not(any(feature = "loom", feature = "shuttle")))]

mod common;

use common::{check, fill, fixed_size, Rng};
use hakmem_alloc::size_class::CLASS_SIZES;
use hakmem_alloc::HakMem;
use std::alloc::{alloc, alloc_zeroed, dealloc, realloc, GlobalAlloc, Layout};
use std::sync::mpsc;

#[global_allocator]
static GLOBAL: HakMem = HakMem;

fn roundtrip(size: usize, align: usize) {
    let l = Layout::from_size_align(size, align).unwrap();
    // SAFETY: size > 0 for every caller.
    unsafe {
        let p = alloc(l);
        assert!(!p.is_null(), "alloc({size}, {align}) failed");
        assert_eq!(p as usize % align, 0, "alloc({size}, {align}) misaligned: {p:p}");
        fill(p, size, size as u8);
        check(p, size, size as u8);
        dealloc(p, l);
    }
}

#[test]
fn every_class_boundary_plus_minus_one_up_to_8mib() {
    let mut sizes: Vec<usize> = CLASS_SIZES.iter().map(|&s| s as usize).collect();
    let mut p = 1usize;
    while p <= 8 << 20 {
        sizes.push(p);
        p <<= 1;
    }
    for &s in &sizes {
        for size in [s.saturating_sub(1).max(1), s, s + 1] {
            roundtrip(size, 8);
        }
    }
}

#[test]
fn alignments_1_to_2mib() {
    let mut align = 1;
    while align <= 2 << 20 {
        for size in [1, 8, 24, 100, 1000, 4096, 5000, 40000, 300_000] {
            roundtrip(size, align);
        }
        align <<= 1;
    }
}

#[test]
fn alloc_zeroed_is_zero_after_reuse() {
    for size in [8, 16, 100, 1024, 4000, 32768, 40000, 1 << 20] {
        let l = Layout::from_size_align(size, 8).unwrap();
        for round in 0..50 {
            // SAFETY: non-zero size.
            unsafe {
                let p = alloc_zeroed(l);
                assert!(!p.is_null());
                for i in 0..size {
                    assert_eq!(*p.add(i), 0, "size {size} round {round} byte {i} not zero");
                }
                p.write_bytes(0xEE, size);
                dealloc(p, l);
            }
        }
    }
}

#[test]
fn realloc_keeps_prefix_across_class_and_large_boundaries() {
    let mut sizes =
        vec![1usize, 7, 8, 9, 16, 100, 128, 129, 1024, 1025, 32767, 32768, 32769, 65536, 1 << 20, 3 << 20, 8 << 20];
    let down: Vec<usize> = sizes.iter().rev().skip(1).copied().collect();
    sizes.extend(down);
    for align in [8, 64, 4096] {
        let mut l = Layout::from_size_align(sizes[0], align).unwrap();
        // SAFETY: non-zero size; each realloc result checked.
        unsafe {
            let mut p = alloc(l);
            fill(p, l.size(), 3);
            for &ns in &sizes[1..] {
                let q = realloc(p, l, ns);
                assert!(!q.is_null());
                assert_eq!(q as usize % align, 0);
                let keep = l.size().min(ns);
                check(q, keep, 3);
                fill(q, ns, 3);
                p = q;
                l = Layout::from_size_align(ns, align).unwrap();
            }
            dealloc(p, l);
        }
    }
}

#[test]
fn impossible_requests_return_null_without_panicking() {
    // SAFETY: GlobalAlloc contract: valid layouts; we only check for null.
    unsafe {
        let l = Layout::from_size_align(isize::MAX as usize - 4095, 4096).unwrap();
        assert!(HakMem.alloc(l).is_null());
        assert!(HakMem.alloc_zeroed(l).is_null());
        let l = Layout::from_size_align(1 << 62, 8).unwrap();
        assert!(HakMem.alloc(l).is_null());
        assert!(HakMem.alloc_zeroed(l).is_null());
        let small = Layout::from_size_align(64, 8).unwrap();
        let p = HakMem.alloc(small);
        assert!(HakMem.realloc(p, small, isize::MAX as usize - 8192).is_null(), "failed realloc returns null");
        // The old block is still valid.
        p.write_bytes(1, 64);
        HakMem.dealloc(p, small);
    }
}

#[test]
fn four_threads_cross_thread_frees_every_byte_checked() {
    const PRODUCERS: usize = 4;
    const PER: usize = 50_000;
    let (tx, rx) = mpsc::sync_channel::<(usize, usize, u8)>(1024);
    let consumers: Vec<_> = {
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        (0..2)
            .map(|_| {
                let rx = rx.clone();
                std::thread::spawn(move || {
                    let mut n = 0usize;
                    loop {
                        let msg = rx.lock().unwrap().recv();
                        let Ok((addr, size, seed)) = msg else { break };
                        let p = addr as *mut u8;
                        // SAFETY: the producer handed us ownership of this block.
                        unsafe {
                            check(p, size, seed);
                            dealloc(p, Layout::from_size_align(size, 8).unwrap());
                        }
                        n += 1;
                    }
                    n
                })
            })
            .collect()
    };
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|t| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut rng = Rng(0x1234_5678 + t as u64);
                let mut mine = Vec::new();
                for i in 0..PER {
                    let size = 1 + (rng.next() % 2048) as usize;
                    let l = Layout::from_size_align(size, 8).unwrap();
                    // SAFETY: non-zero size.
                    let p = unsafe { alloc(l) };
                    assert!(!p.is_null());
                    let seed = (i ^ t) as u8;
                    // SAFETY: fresh block of `size` bytes.
                    unsafe { fill(p, size, seed) };
                    if i % 4 == 0 {
                        mine.push((p as usize, size, seed));
                    } else {
                        tx.send((p as usize, size, seed)).unwrap();
                    }
                }
                for (p, size, seed) in mine {
                    // SAFETY: our own blocks.
                    unsafe {
                        check(p as *const u8, size, seed);
                        dealloc(p as *mut u8, Layout::from_size_align(size, 8).unwrap());
                    }
                }
            })
        })
        .collect();
    drop(tx);
    for p in producers {
        p.join().unwrap();
    }
    let freed: usize = consumers.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(freed, PRODUCERS * PER * 3 / 4);
}

#[test]
fn thread_churn_does_not_grow_memory_without_bound() {
    let run = |rounds: usize| {
        for _ in 0..rounds {
            let hs: Vec<_> = (0..8)
                .map(|t| {
                    std::thread::spawn(move || {
                        let mut v: Vec<Vec<u8>> = Vec::new();
                        for i in 0..200 {
                            v.push(vec![t as u8; 16 + (i * 13) % 3000]);
                        }
                        // Keep a few alive past the thread's exit (freed by main).
                        v.split_off(190)
                    })
                })
                .collect();
            let survivors: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
            drop(survivors);
        }
    };
    run(50);
    let before = HakMem::stats().mapped_bytes;
    run(200); // 1600 more short-lived threads
    let after = HakMem::stats().mapped_bytes;
    assert!(after <= before + (32 << 20), "mapped grew from {before} to {after} over 1600 threads");
}

/// Hoard's passive false sharing (`cache-scratch`): a thread frees a block it
/// was handed by another thread, then allocates the same size. The block
/// must go home, not come straight back: the new block lies in the freeing
/// thread's own memory, away from the owner's neighbouring blocks.
#[test]
fn a_foreign_block_freed_into_an_empty_bin_goes_home() {
    // Sizes std does not allocate on a new thread, so the bins start empty.
    for size in [3000usize, 12_000] {
        let l = Layout::from_size_align(size, 8).unwrap();
        // SAFETY: non-zero size; every block is freed once below.
        let given: Vec<usize> = (0..4).map(|_| unsafe { alloc(l) } as usize).collect();
        let handed = given[1];
        let got = std::thread::spawn(move || {
            // SAFETY: `handed` is a live block of layout `l`, freed once.
            unsafe { dealloc(handed as *mut u8, l) };
            let mut mine = Vec::new();
            for _ in 0..3 {
                // SAFETY: non-zero size.
                let p = unsafe { alloc(l) };
                assert!(!p.is_null());
                mine.push(p as usize);
            }
            for &p in &mine {
                // SAFETY: allocated above with `l`.
                unsafe { dealloc(p as *mut u8, l) };
            }
            mine
        })
        .join()
        .unwrap();
        for p in &got {
            assert_ne!(*p, handed, "size {size}: the foreign block was handed out again by the freeing thread");
            // Not in the owner's slab (64 KiB) either.
            assert_ne!(p >> 16, handed >> 16, "size {size}: block {p:#x} shares the owner's slab");
        }
        for (i, &g) in given.iter().enumerate() {
            if i != 1 {
                // SAFETY: allocated above with `l`, freed once.
                unsafe { dealloc(g as *mut u8, l) };
            }
        }
    }
}

// The seed's reproduction cases (bench_fixed_size ITER SIZE WORKSET): each
// must complete with no crash and no hang.
#[test]
fn seed_fixed_size_2150_16_64() {
    fixed_size(2150, 16, 64);
}

#[test]
fn seed_fixed_size_10000_16_64() {
    fixed_size(10000, 16, 64);
}

#[test]
fn seed_fixed_size_10000_16_128() {
    fixed_size(10000, 16, 128);
}

#[test]
fn seed_fixed_size_10000_256_128_and_1024_128() {
    fixed_size(10000, 256, 128);
    fixed_size(10000, 1024, 128);
}

#[test]
fn seed_stress_100000_iterations_worksets_32_to_256() {
    for size in [16, 256, 1024] {
        for ws in [32, 64, 96, 128, 192, 256] {
            fixed_size(100_000, size, ws);
        }
    }
}

#[cfg(feature = "stats")]
#[test]
fn stats_feature_counts_per_class() {
    use hakmem_alloc::size_class::class_of;
    let c = class_of(3000, 8).unwrap();
    let l = Layout::from_size_align(3000, 8).unwrap();
    HakMem::flush_thread_cache();
    let before = HakMem::stats();
    for _ in 0..10_000 {
        // SAFETY: non-zero size; freed at once.
        unsafe { dealloc(alloc(l), l) };
    }
    HakMem::flush_thread_cache();
    let after = HakMem::stats();
    assert!(after.class_allocs[c] >= before.class_allocs[c] + 10_000, "{:?}", after.class_allocs[c]);
    assert!(after.class_frees[c] >= before.class_frees[c] + 10_000);
}
