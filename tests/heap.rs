//! `Heap<MockPages>` driven directly: the seed's drain-driven Stage 1 traffic,
//! cross-thread frees through separate caches, abandonment and adoption,
//! out-of-memory, and multi-thread churn with SuperSlabs retired throughout
//! (the checking page source panics if any retired SuperSlab is touched).
#![cfg(not(any(feature = "loom", feature = "shuttle")))]

mod common;

use common::{check, fill, Rng};
use hakmem_alloc::{Heap, MockPages, Options, ThreadCache};
use std::alloc::Layout;
use std::sync::Arc;

fn heap(drain: u32, retain_mb: usize) -> Heap<MockPages> {
    Heap::with_options(MockPages::new(), Options::DEFAULT.with_drain_interval(drain).with_retain_bytes(retain_mb << 20))
}

/// The seed's `bench_fixed_size` loop on a heap value.
fn fixed(h: &Heap<MockPages>, tc: &mut ThreadCache, iters: usize, size: usize, ws: usize) {
    let l = Layout::from_size_align(size, 8).unwrap();
    let mut v = vec![std::ptr::null_mut(); ws];
    for it in 0..iters {
        for p in v.iter_mut() {
            *p = unsafe { h.alloc(tc, l) };
            assert!(!p.is_null());
            // SAFETY: fresh block of `size` bytes.
            unsafe { fill(*p, size, it as u8) };
        }
        for p in &v {
            // SAFETY: allocated above with `l`.
            unsafe {
                check(*p, size, it as u8);
                h.dealloc(tc, *p, l);
            }
        }
    }
}

#[test]
fn seed_workset_drains_release_slabs_and_stage1_reuses_them() {
    // A working set spanning several slabs, drained often: slabs empty, go
    // back to the pool, and come back through Stage 1.
    let h = heap(64, 0);
    let mut a = ThreadCache::new();
    let mut b = ThreadCache::new();
    for round in 0..20 {
        fixed(&h, &mut a, 3, 1024, 200);
        fixed(&h, &mut b, 3, 16, 9000);
        if round % 5 == 4 {
            unsafe { h.thread_exit(&mut a) };
        }
    }
    unsafe { h.thread_exit(&mut a) };
    unsafe { h.thread_exit(&mut b) };
    let s = h.pool().stats();
    assert!(s.stage1 > 0, "drains must feed Stage 1: {s:?}");
    assert_eq!(s.live_superslabs, 0, "everything returned after both caches flushed: {s:?}");
    assert_eq!(h.abandoned_slabs(), 0);
}

#[test]
fn cross_thread_frees_return_to_the_owner_slab() {
    let h = heap(32, 16);
    let mut owner = ThreadCache::new();
    let mut other = ThreadCache::new();
    let l = Layout::from_size_align(48, 8).unwrap();
    let blocks: Vec<_> = (0..10_000).map(|_| unsafe { h.alloc(&mut owner, l) }).collect();
    for &p in &blocks {
        // SAFETY: live block of `l`; freed through a cache that does not own its slab.
        unsafe { h.dealloc(&mut other, p, l) };
    }
    unsafe { h.thread_exit(&mut other) }; // pushes the rest onto the owner's remote lists
                                          // The owner gets the blocks back (remote lists collected on refill), so
                                          // allocating the same amount again maps nothing new.
    let mapped = h.pages().mapped_bytes();
    let again: Vec<_> = (0..10_000).map(|_| unsafe { h.alloc(&mut owner, l) }).collect();
    assert_eq!(h.pages().mapped_bytes(), mapped, "remote frees were not reused");
    for p in again {
        // SAFETY: live blocks of `l`.
        unsafe { h.dealloc(&mut owner, p, l) };
    }
    unsafe { h.thread_exit(&mut owner) };
    assert_eq!(h.pool().stats().live_superslabs, 0);
}

/// A bin never holds more than the drain interval, whatever the mix of own
/// and foreign frees (the limit adapts down and back up).
#[test]
fn bins_stay_bounded_while_the_limit_adapts() {
    let drain = 256;
    let h = heap(drain, 16);
    let mut owner = ThreadCache::new();
    let mut other = ThreadCache::new();
    let l = Layout::from_size_align(64, 8).unwrap();
    let c = hakmem_alloc::size_class::class_of(64 + hakmem_alloc::mitigations::CANARY as usize, 8).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut mine = Vec::new();
    for round in 0..200 {
        let foreign_share = [0, 30, 70, 100][round % 4];
        let theirs: Vec<_> = (0..300).map(|_| unsafe { h.alloc(&mut owner, l) }).collect();
        for p in theirs {
            if rng.next() % 100 < foreign_share {
                // SAFETY: live block of `l`, freed once, by the non-owner.
                unsafe { h.dealloc(&mut other, p, l) };
            } else {
                mine.push(unsafe { h.alloc(&mut other, l) });
                // SAFETY: live block of `l`, freed once.
                unsafe { h.dealloc(&mut owner, p, l) };
            }
            assert!(other.cached(c) <= drain, "round {round}: bin holds {}", other.cached(c));
            assert!(owner.cached(c) <= drain, "round {round}: owner bin holds {}", owner.cached(c));
        }
        for p in mine.drain(..) {
            // SAFETY: allocated by `other` above, freed once by it.
            unsafe { h.dealloc(&mut other, p, l) };
            assert!(other.cached(c) <= drain);
        }
    }
    unsafe { h.thread_exit(&mut other) };
    unsafe { h.thread_exit(&mut owner) };
    assert_eq!(h.pool().stats().live_superslabs, 0);
}

/// A thread that only frees other threads' blocks (xmalloc's consumer):
/// the first one freed into its empty bin goes home at once (it would be
/// handed out next: passive false sharing), but from the second on the bin
/// keeps them and sends them home in batches, at the smallest bin limit,
/// instead of one slow-path trip and one CAS per free.
#[test]
fn a_consumer_thread_sends_foreign_blocks_home_in_batches() {
    let h = heap(2048, 16);
    let mut owner = ThreadCache::new();
    let mut consumer = ThreadCache::new();
    let l = Layout::from_size_align(64, 8).unwrap();
    let c = hakmem_alloc::size_class::class_of(64 + hakmem_alloc::mitigations::CANARY as usize, 8).unwrap();
    let blocks: Vec<_> = (0..1000).map(|_| unsafe { h.alloc(&mut owner, l) }).collect();
    let mut most = 0;
    for (i, &p) in blocks.iter().enumerate() {
        // SAFETY: live block of `l`, freed once, by a cache that does not own it.
        unsafe { h.dealloc(&mut consumer, p, l) };
        match i {
            0 => assert_eq!(consumer.cached(c), 0, "the first foreign block must go home at once"),
            1 => assert_eq!(consumer.cached(c), 1, "the second foreign block must stay in the bin"),
            _ => assert!(consumer.cached(c) >= 1, "free {i}: the bin emptied: blocks went home one by one"),
        }
        most = most.max(consumer.cached(c));
    }
    // The smallest bin limit (64), not the full one (2048 for 64-byte blocks).
    assert!(most <= 64, "a consumer's bin held {most} foreign blocks");
    // Everything but the bin went home: the owner reuses it without mapping.
    let mapped = h.pages().mapped_bytes();
    let again: Vec<_> = (0..1000 - consumer.cached(c) as usize).map(|_| unsafe { h.alloc(&mut owner, l) }).collect();
    assert_eq!(h.pages().mapped_bytes(), mapped, "foreign frees did not reach the owner");
    for p in again {
        // SAFETY: live blocks of `l`, freed once.
        unsafe { h.dealloc(&mut owner, p, l) };
    }
    unsafe { h.thread_exit(&mut consumer) };
    unsafe { h.thread_exit(&mut owner) };
    assert_eq!(h.pool().stats().live_superslabs, 0);
}

/// Found by `fuzz/heap_ops` (`fuzz/regressions/heap_ops/refill-count-overflow`):
/// `thread_exit` left each bin's room at its old limit while zeroing the limit,
/// so a cache used again counted minus that many blocks; a consumer bin that
/// kept foreign blocks then overflowed the count at its next refill.
#[test]
fn a_cache_used_again_after_thread_exit_counts_from_zero() {
    let h = heap(2048, 16);
    let mut owner = ThreadCache::new();
    let mut other = ThreadCache::new();
    let l = Layout::from_size_align(64, 8).unwrap();
    let c = hakmem_alloc::size_class::class_of(64 + hakmem_alloc::mitigations::CANARY as usize, 8).unwrap();
    fixed(&h, &mut other, 2, 64, 100);
    assert!(other.cached(c) > 0);
    unsafe { h.thread_exit(&mut other) };
    for k in 0..hakmem_alloc::size_class::NUM_CLASSES {
        assert_eq!(other.cached(k), 0, "class {k}: an exited cache must hold nothing");
    }
    // Used again: as a consumer of the owner's blocks, then for its own.
    let blocks: Vec<_> = (0..10).map(|_| unsafe { h.alloc(&mut owner, l) }).collect();
    for (i, &p) in blocks.iter().enumerate() {
        // SAFETY: live block of `l`, freed once, by a cache that does not own it.
        unsafe { h.dealloc(&mut other, p, l) };
        assert_eq!(other.cached(c), i as u32, "free {i}: the first goes home, the rest stay");
    }
    fixed(&h, &mut other, 2, 64, 100);
    assert!(other.cached(c) <= 2048, "bin count {} after reuse", other.cached(c));
    unsafe { h.thread_exit(&mut other) };
    unsafe { h.thread_exit(&mut owner) };
    assert_eq!(h.pool().stats().live_superslabs, 0);
}

#[test]
fn exited_threads_slabs_are_abandoned_then_adopted() {
    let h = heap(2048, 16);
    let l = Layout::from_size_align(100, 8).unwrap();
    let mut t1 = ThreadCache::new();
    let keep: Vec<_> = (0..1000).map(|_| unsafe { h.alloc(&mut t1, l) }).collect();
    unsafe { h.thread_exit(&mut t1) };
    assert!(h.abandoned_slabs() > 0, "live blocks keep their slab: it is abandoned");
    let mut t2 = ThreadCache::new();
    let p = unsafe { h.alloc(&mut t2, l) };
    assert!(!p.is_null());
    assert_eq!(h.abandoned_slabs(), 0, "the next thread adopts it");
    // SAFETY: live blocks of `l`.
    unsafe {
        h.dealloc(&mut t2, p, l);
        for q in keep {
            h.dealloc(&mut t2, q, l);
        }
    }
    unsafe { h.thread_exit(&mut t2) };
    assert_eq!(h.pool().stats().live_superslabs, 0);
}

#[test]
fn out_of_memory_returns_null_and_recovers() {
    let h = heap(2048, 0);
    let mut tc = ThreadCache::new();
    h.pages().fail_after(0);
    assert!(unsafe { h.alloc(&mut tc, Layout::from_size_align(64, 8).unwrap()) }.is_null());
    assert!(unsafe { h.alloc(&mut tc, Layout::from_size_align(1 << 20, 8).unwrap()) }.is_null());
    h.pages().fail_after(1 << 40);
    let l = Layout::from_size_align(64, 8).unwrap();
    let p = unsafe { h.alloc(&mut tc, l) };
    assert!(!p.is_null());
    // SAFETY: live block of `l`.
    unsafe { h.dealloc(&mut tc, p, l) };
    unsafe { h.thread_exit(&mut tc) };
}

#[test]
fn threads_churn_with_retirement_never_touch_a_retired_superslab() {
    // retain 0: every retired SuperSlab is unmapped at once, so any stale use
    // panics in the checking page source. Small drains: lots of Stage 1 traffic.
    let h = Arc::new(heap(16, 0));
    // Whether a thread pops an entry whose SuperSlab another retired meanwhile
    // is up to the scheduler (about 1 run in 200 has none): go on, up to five
    // times, until the race has happened at least once.
    for attempt in 0..5 {
        let hs: Vec<_> = (0..4)
            .map(|t| {
                let h = h.clone();
                std::thread::spawn(move || {
                    let mut rng = Rng(77 + t + 4 * attempt);
                    // One cache for all rounds: used again after each thread_exit.
                    let mut tc = ThreadCache::new();
                    for _round in 0..30 {
                        let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
                        for i in 0..3000 {
                            let r = rng.next();
                            if live.len() < 500 && r % 3 != 0 {
                                let size = [16, 64, 256, 1024, 4000, 40000][(r >> 8) as usize % 6];
                                let l = Layout::from_size_align(size, 8).unwrap();
                                let p = unsafe { h.alloc(&mut tc, l) };
                                assert!(!p.is_null());
                                // SAFETY: fresh block.
                                unsafe { fill(p, size.min(64), i as u8) };
                                live.push((p, l, i as u8));
                            } else if !live.is_empty() {
                                let (p, l, s) = live.swap_remove((r >> 16) as usize % live.len());
                                // SAFETY: our live block.
                                unsafe {
                                    check(p, l.size().min(64), s);
                                    h.dealloc(&mut tc, p, l);
                                }
                            }
                        }
                        for (p, l, s) in live {
                            // SAFETY: our live blocks.
                            unsafe {
                                check(p, l.size().min(64), s);
                                h.dealloc(&mut tc, p, l);
                            }
                        }
                        unsafe { h.thread_exit(&mut tc) };
                    }
                })
            })
            .collect();
        for t in hs {
            t.join().unwrap();
        }
        if h.pool().stats().stale_dropped > 0 {
            break;
        }
    }
    let s = h.pool().stats();
    assert!(s.retired >= 2 && s.stage1 > 0 && s.stale_dropped > 0, "{s:?}");
    assert_eq!(s.live_superslabs, 0, "{s:?}");
}

/// `alloc_zeroed` skips the memset only for never-used memory of slabs that
/// came zeroed from the OS; blocks on dirty memory (a cached, unpurged
/// SuperSlab) and recycled blocks are cleared. Every block is zero and
/// distinct from every other live block.
#[test]
fn alloc_zeroed_is_zero_on_fresh_dirty_and_recycled_memory() {
    for retain_mb in [0, 16] {
        let h = heap(2048, retain_mb);
        let l = Layout::from_size_align(4000, 8).unwrap();
        let zero = |p: *mut u8| {
            // SAFETY: live block of 4000 bytes.
            unsafe { (0..4000).all(|i| *p.add(i) == 0) }
        };
        // Fresh heap: slabs come from new SuperSlabs (Stage 3 and Stage 2).
        let mut tc = ThreadCache::new();
        let fresh: Vec<_> = (0..2000).map(|_| unsafe { h.alloc_zeroed(&mut tc, l) }).collect();
        for (i, &p) in fresh.iter().enumerate() {
            assert!(zero(p), "fresh block {i} not zero");
            // SAFETY: live block of 4000 bytes.
            unsafe { fill(p, 4000, 0xAB) };
        }
        // Interleave frees, plain allocations and zeroed ones (recycled blocks).
        let mut live = Vec::new();
        for (i, p) in fresh.into_iter().enumerate() {
            if i % 3 == 0 {
                // SAFETY: live block of `l`, freed once.
                unsafe { h.dealloc(&mut tc, p, l) };
                let q = if i % 2 == 0 { unsafe { h.alloc_zeroed(&mut tc, l) } } else { unsafe { h.alloc(&mut tc, l) } };
                if i % 2 == 0 {
                    assert!(zero(q), "recycled block not zero");
                }
                // SAFETY: live block of 4000 bytes.
                unsafe { fill(q, 4000, 0xAB) };
                live.push(q);
            } else {
                live.push(p);
            }
        }
        for &p in &live {
            // SAFETY: every live block still holds its own pattern: none was handed out twice.
            unsafe { check(p, 4000, 0xAB) };
        }
        for p in live {
            // SAFETY: live block of `l`, freed once.
            unsafe { h.dealloc(&mut tc, p, l) };
        }
        unsafe { h.thread_exit(&mut tc) };
        // Dirty memory now: with retain, the retired SuperSlabs are cached
        // unpurged (the mock clock does not move) and come back dirty.
        let mut tc = ThreadCache::new();
        let again: Vec<_> = (0..2000).map(|_| unsafe { h.alloc_zeroed(&mut tc, l) }).collect();
        for (i, &p) in again.iter().enumerate() {
            assert!(zero(p), "retain {retain_mb}: block {i} on reused memory not zero");
        }
        for p in again {
            // SAFETY: live block of `l`, freed once.
            unsafe { h.dealloc(&mut tc, p, l) };
        }
        unsafe { h.thread_exit(&mut tc) };
        assert_eq!(h.pool().stats().live_superslabs, 0);
    }
}

#[test]
fn realloc_and_zeroed_on_heap_value() {
    let h = heap(2048, 16);
    let mut tc = ThreadCache::new();
    let l = Layout::from_size_align(10, 8).unwrap();
    let mut p = unsafe { h.alloc_zeroed(&mut tc, l) };
    // SAFETY: live blocks; sizes tracked in `cur`.
    unsafe {
        assert!((0..10).all(|i| *p.add(i) == 0), "alloc_zeroed not zero");
        fill(p, 10, 9);
        let mut cur = 10;
        for ns in [20, 100, 5000, 40000, 3 << 20, 64, 8] {
            let q = h.realloc(&mut tc, p, Layout::from_size_align(cur, 8).unwrap(), ns);
            assert!(!q.is_null());
            check(q, cur.min(ns).min(10), 9);
            p = q;
            cur = ns;
        }
        h.dealloc(&mut tc, p, Layout::from_size_align(cur, 8).unwrap());
    }
    unsafe { h.thread_exit(&mut tc) };
}

#[test]
fn retained_superslabs_are_purged_on_a_slow_path_after_the_delay() {
    // Retain up to 16 MiB; delay 10 ms of the mock clock.
    let h = heap(2048, 16);
    let l = Layout::from_size_align(1000, 8).unwrap();
    let mut tc = ThreadCache::new();
    let ptrs: Vec<_> = (0..4000).map(|_| unsafe { h.alloc(&mut tc, l) }).collect();
    // SAFETY: live blocks of `l`.
    unsafe {
        for p in ptrs {
            h.dealloc(&mut tc, p, l);
        }
    }
    unsafe { h.thread_exit(&mut tc) };
    let s = h.pool().stats();
    assert!(s.cached_superslabs > 0 && s.cached_dirty_bytes > 0, "nothing retained: {s:?}");
    // A slow path before the delay purges nothing.
    let big = Layout::from_size_align(1 << 20, 8).unwrap();
    let p = unsafe { h.alloc(&mut tc, big) };
    assert_eq!(h.pool().stats().cached_dirty_bytes, s.cached_dirty_bytes);
    h.pages().advance_clock(Options::DEFAULT.purge_delay_ns);
    // The process goes quiet; its next slow path (a large free, no Stage 3
    // and no retirement) purges what has waited past the delay.
    // SAFETY: live large block of `big`.
    unsafe { h.dealloc(&mut tc, p, big) };
    let after = h.pool().stats();
    assert_eq!(after.cached_dirty_bytes, 0, "retained memory not purged: {after:?}");
    assert_eq!(after.cached_superslabs, s.cached_superslabs);
    // The large mapping cached by that free is unmapped once it has waited too.
    assert!(h.stats().large_mapped_bytes > 0);
    h.pages().advance_clock(Options::DEFAULT.purge_delay_ns);
    let q = unsafe { h.alloc(&mut tc, l) };
    // SAFETY: live block of `l`.
    unsafe { h.dealloc(&mut tc, q, l) };
    unsafe { h.thread_exit(&mut tc) };
    assert_eq!(h.stats().large_mapped_bytes, 0, "idle large mapping kept");
}

#[test]
fn an_abandoned_slab_is_released_by_whoever_frees_its_last_block() {
    let h = heap(2048, 16);
    let l = Layout::from_size_align(1000, 8).unwrap();
    let mut t1 = ThreadCache::new();
    let keep: Vec<_> = (0..3000).map(|_| unsafe { h.alloc(&mut t1, l) }).collect();
    unsafe { h.thread_exit(&mut t1) };
    // Exhausted slabs were orphaned as the thread filled them (see
    // `heap_reclaim`), the last one abandoned at its exit.
    let ownerless = h.abandoned_slabs() + h.orphaned_slabs();
    assert!(ownerless > 40, "{} abandoned, {} orphaned", h.abandoned_slabs(), h.orphaned_slabs());
    // Another thread frees every block and allocates nothing of that class:
    // no refill ever adopts the slabs; the frees themselves must release them.
    let mut t2 = ThreadCache::new();
    let other = Layout::from_size_align(64, 8).unwrap();
    let p = unsafe { h.alloc(&mut t2, other) };
    // SAFETY: live blocks of `l` / `other`.
    unsafe {
        for q in keep {
            h.dealloc(&mut t2, q, l);
        }
        h.dealloc(&mut t2, p, other);
    }
    unsafe { h.thread_exit(&mut t2) };
    assert_eq!(h.abandoned_slabs(), 0, "abandoned slabs left after all their blocks came back");
    assert_eq!(h.orphaned_slabs(), 0, "orphaned slabs left after all their blocks came back");
    assert_eq!(h.pool().stats().live_superslabs, 0);
}

/// A thread that frees a block into an abandoned slab, and only frees, puts
/// it back in place: the slab stays abandoned, and the next thread that
/// needs that class adopts it instead of taking a new slab from the pool.
/// (When the freeing thread took the slab over, a main thread that frees
/// what its short-lived workers hand it held their slabs partly used where
/// no worker could adopt them: thread churn's RSS growth 1.44x glibc's.)
#[test]
fn a_thread_that_only_frees_leaves_an_abandoned_slab_adoptable() {
    let h = heap(2048, 16);
    let l = Layout::from_size_align(1000, 8).unwrap();
    let slab = |p: *mut u8| p as usize >> hakmem_alloc::config::SLAB_SHIFT;
    let mut t1 = ThreadCache::new();
    let blocks: Vec<_> = (0..8).map(|_| unsafe { h.alloc(&mut t1, l) }).collect();
    assert!(blocks.iter().all(|&p| slab(p) == slab(blocks[0])));
    unsafe { h.thread_exit(&mut t1) };
    assert_eq!(h.abandoned_slabs(), 1);
    // Another thread frees one of them and stays alive.
    let mut t2 = ThreadCache::new();
    // SAFETY: a live block of `l`, freed once.
    unsafe { h.dealloc(&mut t2, blocks[0], l) };
    assert_eq!(h.abandoned_slabs(), 1, "the freeing thread took the abandoned slab over");
    // A third thread needs the class: it adopts the slab.
    let acquired = |h: &Heap<MockPages>| {
        let s = h.pool().stats();
        s.stage1 + s.stage2 + s.stage3
    };
    let before = acquired(&h);
    let mut t3 = ThreadCache::new();
    let p = unsafe { h.alloc(&mut t3, l) };
    assert_eq!(acquired(&h), before, "a new slab was taken from the pool");
    assert_eq!(slab(p), slab(blocks[0]), "the block does not come from the abandoned slab");
    assert_eq!(h.abandoned_slabs(), 0);
    // The freed block is back on the slab: the adopter can hand it out.
    let mut more = vec![p];
    more.extend((0..64).map(|_| unsafe { h.alloc(&mut t3, l) }));
    assert!(more.contains(&blocks[0]), "the block freed in place was lost");
    // SAFETY: live blocks of `l`, each freed once.
    unsafe {
        for q in more.into_iter().chain(blocks[1..].iter().copied()) {
            h.dealloc(&mut t3, q, l);
        }
        h.thread_exit(&mut t2);
        h.thread_exit(&mut t3);
    }
    assert_eq!(h.abandoned_slabs(), 0);
    assert_eq!(h.pool().stats().live_superslabs, 0);
}

/// One owner fills 3000 blocks (about 48 slabs) and stays alive without
/// allocating again; another thread frees them all. With exhausted slabs
/// orphaned, the frees take the slabs over and release them: only the
/// owner's current slab stays. With `orphan_full_slabs` off (the behaviour
/// before), the freed blocks wait on the remote lists of slabs the idle owner
/// still holds, and nothing is released.
fn idle_owner_live_superslabs(orphan: bool) -> (u64, usize) {
    let h = Heap::with_options(
        MockPages::new(),
        Options::DEFAULT.with_drain_interval(2048).with_retain_bytes(0).with_orphan_full_slabs(orphan),
    );
    let l = Layout::from_size_align(1000, 8).unwrap();
    let mut owner = ThreadCache::new();
    let keep: Vec<_> = (0..3000).map(|_| unsafe { h.alloc(&mut owner, l) }).collect();
    let mut freer = ThreadCache::new();
    // SAFETY: live blocks of `l`, freed once.
    unsafe {
        for q in keep {
            h.dealloc(&mut freer, q, l);
        }
        h.flush(&mut freer);
    }
    h.trim();
    let left = (h.pool().stats().live_superslabs, h.orphaned_slabs());
    unsafe { h.thread_exit(&mut owner) };
    h.trim();
    assert_eq!(h.pool().stats().live_superslabs, 0, "everything goes once the owner exits");
    left
}

#[test]
fn blocks_freed_while_their_owner_is_idle_release_their_slabs() {
    let (live, orphaned) = idle_owner_live_superslabs(true);
    assert_eq!((live, orphaned), (1, 0), "live SuperSlabs and orphaned slabs left while the owner idles");
    let (live_before, _) = idle_owner_live_superslabs(false);
    assert!(live_before > 1, "without orphaning the idle owner keeps its slabs: {live_before} SuperSlabs");
}

/// An owner that frees the blocks of a slab it gave up takes the slab back
/// (claim), and the free of its last block releases it.
#[test]
fn an_owner_takes_back_its_orphaned_slab() {
    let h = heap(2048, 0);
    let l = Layout::from_size_align(4096, 8).unwrap();
    let mut tc = ThreadCache::new();
    // 16 blocks per slab: 40 blocks exhaust two slabs.
    let v: Vec<_> = (0..40).map(|_| unsafe { h.alloc(&mut tc, l) }).collect();
    assert!(h.orphaned_slabs() >= 1, "exhausted slabs are orphaned");
    // SAFETY: live blocks of `l`, freed once.
    unsafe {
        for p in v {
            h.dealloc(&mut tc, p, l);
        }
        h.flush(&mut tc);
    }
    assert_eq!((h.orphaned_slabs(), h.abandoned_slabs()), (0, 0));
    assert_eq!(h.pool().stats().live_superslabs, 0);
}

/// Cached bytes per thread are bounded by the budget (plus at most two
/// blocks per class), whatever the number of classes in use; before, each
/// bin could hold 256 KiB of blocks (at least 64 blocks: 2 MiB for 32 KiB
/// ones), 33 MiB per thread over all classes.
#[test]
fn cached_bytes_per_thread_stay_within_the_budget() {
    use hakmem_alloc::size_class::{class_size, NUM_CLASSES};
    const BUDGET: usize = 1 << 20;
    let h = Heap::with_options(MockPages::new(), Options::DEFAULT.with_tcache_bytes(BUDGET));
    let mut tc = ThreadCache::new();
    for c in 0..NUM_CLASSES {
        let size = class_size(c);
        let l = Layout::from_size_align(size, 8).unwrap();
        let n = 2 * ((256 << 10) / size).clamp(64, 2048);
        for _ in 0..3 {
            let ptrs: Vec<_> = (0..n).map(|_| unsafe { h.alloc(&mut tc, l) }).collect();
            // SAFETY: live blocks of `l`, freed once.
            unsafe {
                for p in ptrs {
                    h.dealloc(&mut tc, p, l);
                }
            }
        }
    }
    let cached: usize = (0..NUM_CLASSES).map(|c| tc.cached(c) as usize * class_size(c)).sum();
    let slack: usize = (0..NUM_CLASSES).map(|c| 2 * class_size(c)).sum();
    eprintln!("cached {} KiB (budget {} KiB + slack {} KiB)", cached >> 10, BUDGET >> 10, slack >> 10);
    assert!(cached <= BUDGET + slack, "a thread caches {} KiB", cached >> 10);
    // The first classes grew well past their starting size.
    assert!(tc.cached(1) > 512, "class 1 holds {} blocks", tc.cached(1));
    unsafe { h.thread_exit(&mut tc) };
    assert_eq!(h.pool().stats().live_superslabs, 0);
}

/// The heap asks for the zeroed huge-page rule only when a zeroed
/// allocation maps the SuperSlab (`HAKMEM_THP_ZEROED_KB`): `alloc_zeroed`
/// of 4 KiB blocks past the heap size gets advised SuperSlabs, `alloc` of
/// the same blocks does not.
#[test]
fn zeroed_allocations_map_advised_superslabs_plain_ones_do_not() {
    const SS: usize = 2 << 20;
    let l = Layout::from_size_align(4096, 8).unwrap();
    let run = |zeroed: bool| {
        let h = Heap::with_options(MockPages::new(), Options::DEFAULT.with_huge_pages_after(2 * SS));
        let mut tc = ThreadCache::new();
        // 6 SuperSlabs' worth.
        let ptrs: Vec<_> = (0..6 * SS / 4096)
            .map(|_| {
                // SAFETY: `tc` is used only with `h`.
                let p = unsafe {
                    if zeroed {
                        h.alloc_zeroed(&mut tc, l)
                    } else {
                        h.alloc(&mut tc, l)
                    }
                };
                assert!(!p.is_null());
                p
            })
            .collect();
        let hinted = h.pool().pages().hinted_bytes();
        for p in ptrs {
            // SAFETY: allocated above with `l`, freed once.
            unsafe { h.dealloc(&mut tc, p, l) };
        }
        // SAFETY: `tc` was only used with `h`, and is not used afterwards.
        unsafe { h.thread_exit(&mut tc) };
        hinted
    };
    let z = run(true);
    assert!(z >= 3 * SS, "zeroed: {z} bytes advised");
    assert_eq!(run(false), 0, "plain allocations keep 4 KiB pages");
}

/// `HAKMEM_POPULATE` pre-faults zeroed blocks of 4 KiB-page SuperSlabs only:
/// on one advised huge pages the first touch maps 2 MiB, so a pre-fault is
/// a wasted system call.
#[test]
fn zeroed_blocks_of_huge_page_superslabs_are_not_prefaulted() {
    let l = Layout::from_size_align(4096, 8).unwrap();
    let run = |huge: bool| {
        let opts = Options::DEFAULT.with_huge_pages(huge).with_huge_pages_zeroed_from(0).with_populate_zeroed(true);
        let h = Heap::with_options(MockPages::new(), opts);
        let mut tc = ThreadCache::new();
        let ptrs: Vec<_> = (0..64)
            .map(|_| {
                // SAFETY: `tc` is used only with `h`.
                let p = unsafe { h.alloc_zeroed(&mut tc, l) };
                assert!(!p.is_null());
                p
            })
            .collect();
        let (hinted, prefaulted) = (h.pool().pages().hinted_bytes(), h.pool().pages().prefaulted_bytes());
        for p in ptrs {
            // SAFETY: allocated above with `l`, freed once.
            unsafe { h.dealloc(&mut tc, p, l) };
        }
        // SAFETY: `tc` was only used with `h`, and is not used afterwards.
        unsafe { h.thread_exit(&mut tc) };
        (hinted, prefaulted)
    };
    let (hinted, prefaulted) = run(true);
    assert!(hinted > 0 && prefaulted == 0, "huge pages: {hinted} bytes advised, {prefaulted} pre-faulted");
    let (hinted, prefaulted) = run(false);
    assert!(hinted == 0 && prefaulted >= 64 * 4096, "4 KiB pages: {hinted} bytes advised, {prefaulted} pre-faulted");
}

/// Blocks go out in address order, lowest first: from a fresh slab's
/// untouched region, and after a drain (the bin keeps the blocks freed last,
/// lowest on top). A program that gets blocks one after another and fills
/// them then writes memory as forward streams, which the hardware
/// prefetches; on the descending order of before, the `calloc` case's
/// clears of the same addresses ran about 1.5x slower.
#[test]
fn blocks_go_out_in_ascending_address_order() {
    let h = heap(2048, 0);
    let mut tc = ThreadCache::new();
    let l = Layout::from_size_align(4096, 8).unwrap();
    let slab = |p: *mut u8| p as usize >> hakmem_alloc::config::SLAB_SHIFT;
    let first: Vec<*mut u8> = (0..256).map(|_| unsafe { h.alloc(&mut tc, l) }).collect();
    assert!(first.iter().all(|p| !p.is_null()));
    // (The secure build shuffles a slab's fresh blocks on purpose.)
    let in_order = !hakmem_alloc::mitigations::RANDOMIZE_FREE_LIST;
    let mut steps = 0;
    for w in first.windows(2) {
        if slab(w[0]) == slab(w[1]) {
            steps += 1;
            assert!(!in_order || w[1] > w[0], "fresh blocks out of address order: {:p} then {:p}", w[0], w[1]);
        }
    }
    assert!(steps >= 200, "blocks of one slab follow each other: {steps} of 255 steps");
    // Freed in the order they were handed out. A drain sends the oldest
    // half of the bin back to the slabs and turns the half it keeps upside
    // down, lowest address on top; blocks freed after it sit above them.
    for &p in &first {
        // SAFETY: live block of `l`, freed once.
        unsafe { h.dealloc(&mut tc, p, l) };
    }
    let c = hakmem_alloc::size_class::class_of(4096 + hakmem_alloc::mitigations::CANARY as usize, 8).unwrap();
    let cached = tc.cached(c) as usize;
    assert!((8..first.len()).contains(&cached), "the bin drained and kept a part: {cached}");
    let again: Vec<*mut u8> = (0..cached).map(|_| unsafe { h.alloc(&mut tc, l) }).collect();
    let freed_at: Vec<usize> =
        again.iter().map(|&p| first.iter().position(|&q| q == p).expect("a block of the first batch")).collect();
    // The bin holds the blocks freed last...
    assert!(freed_at.iter().all(|&i| i >= first.len() - cached), "a block freed early came back first: {freed_at:?}");
    // ...those freed since the last drain on top (last freed first), then
    // the kept half in the order it was freed: here, address order.
    let top = freed_at.windows(2).take_while(|w| w[1] < w[0]).count() + 1;
    assert!(cached - top >= 2, "no kept half under the newest frees: {freed_at:?}");
    assert!(freed_at[top..].windows(2).all(|w| w[1] > w[0]), "kept half out of free order: {freed_at:?}");
    for w in again[top..].windows(2) {
        assert!(!in_order || w[1] > w[0], "kept blocks out of address order: {freed_at:?}");
    }
    for p in again {
        // SAFETY: live block of `l`, freed once.
        unsafe { h.dealloc(&mut tc, p, l) };
    }
    unsafe { h.thread_exit(&mut tc) };
    assert_eq!(h.pool().stats().live_superslabs, 0);
}
