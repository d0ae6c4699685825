//! Memory goes back to the OS: after a 400 MiB burst of small objects is
//! freed, the process's resident set returns near where it started. Its own
//! test binary, so no other test's memory blurs the figure.
#![cfg(not(any(feature = "loom", feature = "shuttle")))]

use hakmem_alloc::platform::resident_bytes;
use hakmem_alloc::HakMem;
use std::alloc::{alloc, dealloc, Layout};

#[global_allocator]
static GLOBAL: HakMem = HakMem;

#[test]
fn rss_returns_near_start_after_400mib_burst() {
    const BURST: u64 = 400 << 20;
    let before = resident_bytes();
    assert!(before > 0, "cannot read /proc/self/statm");
    for size in [64usize, 1000] {
        let l = Layout::from_size_align(size, 8).unwrap();
        let n = (BURST / size as u64) as usize;
        let mut ptrs: Vec<*mut u8> = Vec::with_capacity(n);
        for _ in 0..n {
            // SAFETY: non-zero size.
            let p = unsafe { alloc(l) };
            assert!(!p.is_null());
            // SAFETY: fresh block: touch it so it is resident.
            unsafe { p.write_bytes(0x5A, size) };
            ptrs.push(p);
        }
        let peak = resident_bytes();
        assert!(peak >= before + BURST / 2, "burst not resident? before {before} peak {peak}");
        for p in ptrs {
            // SAFETY: allocated above with `l`.
            unsafe { dealloc(p, l) };
        }
        let after = resident_bytes();
        let stats = HakMem::stats();
        eprintln!(
            "size {size}: rss before {} MiB, peak {} MiB, after {} MiB; {:?}",
            before >> 20,
            peak >> 20,
            after >> 20,
            stats.pool
        );
        assert!(
            after < before + (48 << 20),
            "rss did not come back: before {} MiB after {} MiB",
            before >> 20,
            after >> 20
        );
        // The purge delay passes and the process makes one slow-path call
        // (a large block): retained SuperSlabs are purged without `trim`.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let big = Layout::from_size_align(1 << 20, 8).unwrap();
        // SAFETY: non-zero size; freed right away.
        unsafe { dealloc(std::hint::black_box(alloc(big)), big) };
        let quiet = resident_bytes();
        HakMem::flush_thread_cache();
        HakMem::trim();
        let trimmed = resident_bytes();
        eprintln!(
            "size {size}: after the purge delay {} KiB, after flush+trim {} KiB (start {} KiB); {:?}",
            quiet >> 10,
            trimmed >> 10,
            before >> 10,
            HakMem::stats().pool
        );
        assert!(quiet < before + (16 << 20), "retained memory not purged after the delay: {} KiB", quiet >> 10);
        assert!(trimmed < before + (10 << 20), "rss after trim {} KiB, start {} KiB", trimmed >> 10, before >> 10);
    }
}
