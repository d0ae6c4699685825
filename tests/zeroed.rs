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

/// Pages of `[p, p + len)` that are resident (`mincore`); `p` need not be page aligned.
fn resident_pages(p: *mut u8, len: usize) -> usize {
    let start = p as usize & !4095;
    let pages = (p as usize + len - start).div_ceil(4096);
    let mut v = vec![0u8; pages];
    // SAFETY: the pages lie inside a live mapping of the heap; `v` has one byte per page.
    assert_eq!(unsafe { libc::mincore(start as *mut libc::c_void, pages * 4096, v.as_mut_ptr()) }, 0);
    v.iter().filter(|&&b| b & 1 != 0).count()
}

/// `HAKMEM_POPULATE` (issue 17, the `calloc` case): a never-used zeroed block
/// of a fresh slab is handed out with its pages already mapped in (one
/// `madvise(MADV_POPULATE_WRITE)` instead of a zero-page fault on the first
/// read and a copy fault on the first write), and still reads as zero,
/// fresh or recycled. Without the option the same block's pages are not
/// resident (the control: residency comes from the populate, not from the
/// allocator writing the block).
#[test]
fn populated_zeroed_blocks_are_resident_and_zero() {
    use hakmem_alloc::platform::{populate_write, Populated};
    use hakmem_alloc::{Heap, Options, OsPages, PageSource, ThreadCache};
    // Residency is what the kernel does: check it where the kernel has the
    // advice (Linux 5.14+) and does not back untouched pages with huge pages.
    let probe = OsPages.map(4096, 4096);
    // SAFETY: one whole page of a live mapping of ours.
    let supported = unsafe { populate_write(probe, 4096) } == Populated::Done;
    // SAFETY: the mapping made above.
    unsafe { OsPages.unmap(probe, 4096) };
    let thp_always =
        std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").is_ok_and(|s| s.contains("[always]"));
    let checkable = supported && !thp_always;
    let mut populated_checked = 0;
    for populate in [true, false] {
        let h = Heap::with_options(OsPages, Options::DEFAULT.with_retain_bytes(0).with_populate_zeroed(populate));
        let mut tc = ThreadCache::new();
        let mut live = Vec::new();
        let mut seen = Vec::new();
        for size in [1024, 4000, 16 << 10, 1024, 9000] {
            let l = Layout::from_size_align(size, 8).unwrap();
            for i in 0..40 {
                // SAFETY: non-zero size; `tc` is only used with `h`.
                let p = unsafe { h.alloc_zeroed(&mut tc, l) };
                assert!(!p.is_null());
                let resident = resident_pages(p, size);
                // SAFETY: a live block of `size` bytes.
                let bytes = unsafe { std::slice::from_raw_parts_mut(p, size) };
                if let Some(at) = bytes.iter().position(|&b| b != 0) {
                    panic!("populate {populate}: alloc_zeroed({size}) #{i} byte {at} is {:#x}", bytes[at]);
                }
                if i == 0 && !seen.contains(&size) {
                    // The first block of a class is the first of a fresh slab.
                    seen.push(size);
                    let pages = (p as usize + size - (p as usize & !4095)).div_ceil(4096);
                    if !checkable {
                        eprintln!("residency not checked: MADV_POPULATE_WRITE unsupported or THP always on");
                    } else if h.pool().advised_huge_pages(p) {
                        // Past the zeroed floor the slab is on a huge-page
                        // SuperSlab, which is never pre-faulted (its first
                        // touch, of an earlier block, may have mapped 2 MiB).
                        assert!(seen.len() > 1, "alloc_zeroed({size}): the first zeroed slab is below the floor");
                    } else if populate {
                        assert_eq!(resident, pages, "alloc_zeroed({size}): populated block not resident");
                        populated_checked += 1;
                    } else if !cfg!(feature = "secure") {
                        // (The secure build writes a canary byte after the block.)
                        assert_eq!(resident, 0, "alloc_zeroed({size}): untouched block resident without populate");
                    }
                }
                bytes.fill(0xAA);
                live.push((p, l));
            }
        }
        // Recycled blocks (cleared with a memset) are zero as well.
        for (p, l) in live.drain(..) {
            // SAFETY: allocated above with `l`, freed once.
            unsafe { h.dealloc(&mut tc, p, l) };
        }
        for size in [1024, 16 << 10] {
            let l = Layout::from_size_align(size, 8).unwrap();
            for _ in 0..40 {
                // SAFETY: as above.
                let p = unsafe { h.alloc_zeroed(&mut tc, l) };
                // SAFETY: a live block of `size` bytes.
                assert!(unsafe { std::slice::from_raw_parts(p, size) }.iter().all(|&b| b == 0));
                live.push((p, l));
            }
        }
        for (p, l) in live {
            // SAFETY: allocated above with `l`, freed once.
            unsafe { h.dealloc(&mut tc, p, l) };
        }
        // SAFETY: `tc` is done with.
        unsafe { h.thread_exit(&mut tc) };
    }
    if checkable {
        assert!(populated_checked >= 3, "only {populated_checked} classes' first blocks were checked resident");
    }
}

/// The pre-faulted part of a slab follows its use: one zeroed 1 KiB block
/// populates one page (not the whole 64 KiB slab: a thread that callocs
/// once per class stays small), and carving on populates at most twice what
/// was carved, plus a page per slab, never beyond the slab.
#[test]
fn populate_stays_within_twice_what_was_carved() {
    use hakmem_alloc::size_class::{class_of_size, class_size};
    use hakmem_alloc::{Heap, MockPages, Options, ThreadCache};
    // The block each request gets (the secure build adds a canary byte).
    let block = |size: usize| class_size(class_of_size(size + cfg!(feature = "secure") as usize));
    for (size, n) in
        [(1024usize, 1usize), (1024, 5), (1024, 64), (4000, 3), (16 << 10, 1), (16 << 10, 2), (16 << 10, 4)]
    {
        for populate in [true, false] {
            let h = Heap::with_options(MockPages::new(), Options::DEFAULT.with_populate_zeroed(populate));
            let mut tc = ThreadCache::new();
            let l = Layout::from_size_align(size, 8).unwrap();
            // SAFETY: non-zero size; `tc` is only used with `h`.
            let blocks: Vec<_> = (0..n).map(|_| unsafe { h.alloc_zeroed(&mut tc, l) }).collect();
            let got = h.pages().prefaulted_bytes();
            if !populate {
                assert_eq!(got, 0);
            } else {
                let carved = n * block(size);
                let slabs = carved.div_ceil(64 << 10);
                assert!(got >= carved, "{n} x {size}: {got} bytes populated, less than the {carved} carved");
                assert!(
                    got <= 2 * carved + 4096 * slabs,
                    "{n} x {size}: {got} bytes populated, more than twice the {carved} carved"
                );
            }
            if populate && n == 1 {
                assert_eq!(got, block(size).next_multiple_of(4096), "one block populates only its own pages");
            }
            for p in blocks {
                // SAFETY: allocated above with `l`, freed once.
                unsafe { h.dealloc(&mut tc, p, l) };
            }
            // SAFETY: `tc` is done with.
            unsafe { h.thread_exit(&mut tc) };
        }
    }
}
