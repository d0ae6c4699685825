//! The seed's first crash: pool metadata grown with `realloc()` re-entered the
//! allocator and recursed forever. Here the registry grows from its first
//! chunk (16 records) to 10,000 live SuperSlabs while a counting global
//! allocator in this test binary proves the pool never called it. Only the
//! test's own thread is counted: the harness's other threads may allocate
//! meanwhile (that made this test flaky once).
#![cfg(not(any(feature = "loom", feature = "shuttle")))]

use hakmem_alloc::config::SLOTS;
use hakmem_alloc::{Options, OsPages, Pool};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;
thread_local! {
    /// Whether this thread's allocator calls are counted (const-initialised,
    /// no destructor: safe to read inside the global allocator).
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}
static CALLS: AtomicU64 = AtomicU64::new(0);

fn counting() -> bool {
    COUNTING.with(|c| c.get())
}

// SAFETY: forwards to System; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if counting() {
            CALLS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded contract.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        if counting() {
            CALLS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if counting() {
            CALLS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded contract.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn registry_grows_to_10000_superslabs_without_touching_the_global_allocator() {
    const SUPERSLABS: usize = 10_000;
    // OsPages: untouched MAP_NORESERVE mappings, so 20 GiB of SuperSlabs cost
    // address space only. Pre-size the result buffer before counting starts.
    let pool = Pool::new(OsPages, Options::DEFAULT.with_retain_bytes(0));
    let mut held = Vec::with_capacity(SUPERSLABS * SLOTS);
    COUNTING.with(|c| c.set(true));
    for _ in 0..SUPERSLABS * SLOTS {
        let a = pool.acquire(0).expect("out of address space");
        held.push(a);
    }
    let grown = pool.records();
    for a in &held {
        unsafe { pool.release(a.meta, a.slot, 0) };
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(CALLS.load(Ordering::SeqCst), 0, "the pool called the global allocator");
    assert!(grown as usize >= SUPERSLABS, "registry holds {grown} records");
    let s = pool.stats();
    assert_eq!(s.stage3 as usize, SUPERSLABS);
    assert_eq!(s.retired as usize, SUPERSLABS);
    assert_eq!(s.live_superslabs, 0);
}
