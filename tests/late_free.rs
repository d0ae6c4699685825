//! Frees made by a thread's TLS destructors after the allocator's own exit
//! hook has run for the last time (the last of the destructor rounds) are not
//! kept in a cache nobody will flush: every SuperSlab they touched is given
//! back. Its own test binary: it counts the process's live SuperSlabs.
#![cfg(not(any(feature = "loom", feature = "shuttle")))]

use hakmem_alloc::HakMem;
use std::alloc::{alloc, dealloc, Layout};

#[global_allocator]
static GLOBAL: HakMem = HakMem;

const SIZE: usize = 3000;
const N: usize = 4000;

fn layout() -> Layout {
    Layout::from_size_align(SIZE, 8).unwrap()
}

struct Late {
    ptrs: Vec<*mut u8>,
    round: u32,
}

static mut KEY: libc::pthread_key_t = 0;

/// A pthread key destructor that re-arms itself until the last round glibc
/// runs (PTHREAD_DESTRUCTOR_ITERATIONS = 4), then frees every block and
/// allocates and frees some more: after the allocator's hook has run for
/// the last time.
unsafe extern "C" fn late_destructor(v: *mut libc::c_void) {
    // SAFETY: the value is the Box<Late> set below, owned by this destructor.
    let late = unsafe { &mut *v.cast::<Late>() };
    late.round += 1;
    if late.round < 4 {
        // SAFETY: re-arm the key with the same value (allowed in a destructor).
        unsafe { libc::pthread_setspecific(KEY, v) };
        return;
    }
    // SAFETY: the value was made by Box::into_raw below.
    let late = unsafe { Box::from_raw(v.cast::<Late>()) };
    for &p in &late.ptrs {
        // SAFETY: allocated with layout() by this thread, freed once.
        unsafe { dealloc(p, layout()) };
    }
    for _ in 0..100 {
        // SAFETY: non-zero size; freed right away.
        unsafe {
            let p = std::hint::black_box(alloc(layout()));
            dealloc(p, layout());
        }
    }
}

#[test]
fn frees_after_the_last_thread_exit_hook_are_not_stranded() {
    // Warm up so the allocator's exit key exists before ours (glibc runs the
    // lower key first in each round) and the main thread's slabs are settled.
    let warm: Vec<Box<[u8; 64]>> = (0..100).map(|_| Box::new([1u8; 64])).collect();
    drop(warm);
    HakMem::flush_thread_cache();
    HakMem::trim();
    let before = HakMem::stats().pool.live_superslabs;
    // SAFETY: a valid out-pointer and destructor.
    assert_eq!(unsafe { libc::pthread_key_create(&raw mut KEY, Some(late_destructor)) }, 0);
    std::thread::spawn(|| {
        let ptrs: Vec<*mut u8> = (0..N)
            .map(|_| {
                // SAFETY: non-zero size.
                let p = unsafe { alloc(layout()) };
                assert!(!p.is_null());
                p
            })
            .collect();
        let v = Box::into_raw(Box::new(Late { ptrs, round: 0 }));
        // SAFETY: KEY was created above.
        unsafe { libc::pthread_setspecific(KEY, v.cast()) };
    })
    .join()
    .unwrap();
    HakMem::flush_thread_cache();
    HakMem::trim();
    let after = HakMem::stats();
    eprintln!("live SuperSlabs {} -> {}; {:?}", before, after.pool.live_superslabs, after.pool);
    assert!(
        after.pool.live_superslabs <= before,
        "late frees stranded blocks: live SuperSlabs {} -> {}",
        before,
        after.pool.live_superslabs
    );
}
