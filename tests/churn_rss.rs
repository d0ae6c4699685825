//! Thread churn (issue 17): 4000 short-lived threads each allocate 1000
//! small blocks and hand 10 to the main thread, which frees them later. The
//! slabs those 10 blocks pin are abandoned at thread exit and released by
//! the main thread's frees (which take the slabs over), so the resident set
//! grows by little more than the live blocks need; it grew 43 MiB before
//! (glibc: 22 MiB). Its own test binary, so no other test's memory blurs the
//! figure.
#![cfg(not(any(feature = "loom", feature = "shuttle")))]

use hakmem_alloc::platform::resident_bytes;
use hakmem_alloc::HakMem;

#[global_allocator]
static GLOBAL: HakMem = HakMem;

#[test]
fn thread_churn_does_not_pin_memory() {
    const THREADS: usize = 4000;
    let before = resident_bytes();
    let mut kept: Vec<Box<[u8]>> = Vec::with_capacity(THREADS * 10);
    for t in 0..THREADS {
        let mine = std::thread::spawn(move || {
            let v: Vec<Box<[u8]>> = (0..1000).map(|i| vec![t as u8; 16 + (i * 37) % 480].into_boxed_slice()).collect();
            v.into_iter().step_by(100).collect::<Vec<_>>()
        })
        .join()
        .unwrap();
        kept.extend(mine);
    }
    let during = resident_bytes();
    drop(kept);
    HakMem::flush_thread_cache();
    HakMem::trim();
    let after = resident_bytes();
    eprintln!(
        "thread churn: rss before {} KiB, with the kept blocks {} KiB (+{} KiB), after freeing them {} KiB; {:?}",
        before >> 10,
        during >> 10,
        during.saturating_sub(before) >> 10,
        after >> 10,
        HakMem::stats().pool
    );
    assert!(during < before + (22 << 20), "thread churn grew rss by {} KiB", (during - before) >> 10);
    assert!(after < before + (10 << 20), "rss after the churn: {} KiB over the start", (after - before) >> 10);
}
