//! Large `alloc_zeroed` stays lazy after a large block has been freed: the
//! freed mapping is cached and reused (grown with `mremap`), and only its old
//! length may be dirty, so only that is cleared. Before, the whole request was
//! cleared: a zeroed 1 GiB block made 1 GiB resident and took ~0.4 s. Its own
//! test binary, so no other test's memory blurs the RSS figure.
#![cfg(not(any(feature = "loom", feature = "shuttle")))]

use hakmem_alloc::platform::resident_bytes;
use hakmem_alloc::HakMem;
use std::alloc::{alloc, alloc_zeroed, dealloc, Layout};
use std::time::Instant;

#[global_allocator]
static GLOBAL: HakMem = HakMem;

#[test]
fn zeroed_gib_after_a_large_free_stays_lazy_and_is_zero_where_it_was_dirty() {
    const DIRTY: usize = 8 << 20;
    const BIG: usize = 1 << 30;
    // A large block, written all over, then freed: its mapping goes to the cache.
    let l = Layout::from_size_align(DIRTY, 8).unwrap();
    // SAFETY: non-zero size.
    // black_box: an alloc/write/dealloc with no read is otherwise elided.
    let p = std::hint::black_box(unsafe { alloc(l) });
    assert!(!p.is_null());
    // SAFETY: fresh block of DIRTY bytes.
    unsafe { p.write_bytes(0xAB, DIRTY) };
    std::hint::black_box(p);
    // SAFETY: allocated above with `l`.
    unsafe { dealloc(p, l) };
    let st = HakMem::stats();
    assert!(st.large_mapped_bytes >= DIRTY as u64, "the freed mapping should be cached: {st:?}");

    let before = resident_bytes();
    assert!(before > 0, "cannot read /proc/self/statm");
    assert!(before >= DIRTY as u64, "the dirty block was not made resident");
    let big = Layout::from_size_align(BIG, 8).unwrap();
    let t = Instant::now();
    // SAFETY: non-zero size.
    let q = unsafe { alloc_zeroed(big) };
    let took = t.elapsed();
    assert!(!q.is_null());
    let after = resident_bytes();
    eprintln!(
        "zeroed 1 GiB after freeing 8 MiB: {:.2} ms, rss {} -> {} MiB",
        took.as_secs_f64() * 1e3,
        before >> 20,
        after >> 20
    );
    // Content: zero where the reused mapping was dirty (every byte), and at
    // a sample of the rest (reads of untouched pages map the zero page).
    // SAFETY: q is a live block of BIG bytes.
    let s = unsafe { std::slice::from_raw_parts(q, BIG) };
    assert!(s[..2 * DIRTY].iter().all(|&b| b == 0), "zeroed block holds old data");
    assert!((0..BIG).step_by(1 << 20).all(|i| s[i] == 0 && s[i + 4095] == 0));
    assert!(
        after < before + (64 << 20),
        "alloc_zeroed made the block resident: rss {} -> {} MiB",
        before >> 20,
        after >> 20
    );
    // Generous: the eager clear took ~400 ms; the lazy one clears 8 MiB.
    assert!(took.as_millis() < 300, "alloc_zeroed of 1 GiB took {took:?}");
    // SAFETY: allocated above with `big`.
    unsafe { dealloc(q, big) };
}
