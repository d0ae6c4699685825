//! Heap misuse, one category per case: each case re-runs this test binary as
//! a child (`HAKMEM_MISUSE_CASE=<name>`) with hakmem as the global allocator
//! and checks how the child ended: killed by SIGABRT after one line
//! `hakmem: <what> at 0x...` on stderr (detected), never a crash by another
//! signal, a hang, or a silent exit. Runs in the default build and with
//! `--features secure` (which adds the overflow, class and guard-page cases).
//!
//! After the misuse each case goes on as a program would: it allocates
//! (where the default build notices a block that is on a free list twice,
//! before handing it out again) and, for invalid small frees, flushes its
//! thread cache (where the default build looks the pointers up; the
//! `secure` build reports them at the `free`).
//!
//! Controls: `valid_use` runs the same kinds of operations correctly (user
//! data in the link word, cross-thread frees, realloc) and must exit
//! cleanly, so the checks do not fire on valid use; and with the checks'
//! trigger removed (`*_control` cases) the same code paths exit cleanly.
#![cfg(not(any(feature = "loom", feature = "shuttle")))]

use hakmem_alloc::HakMem;
use std::alloc::{alloc, dealloc, realloc, Layout};
use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: HakMem = HakMem;

const ENV: &str = "HAKMEM_MISUSE_CASE";
const SIGABRT: i32 = 6;
const SIGSEGV: i32 = 11;

/// How a child ended: its signal (None: exited), exit code, and stderr.
struct Outcome {
    signal: Option<i32>,
    code: Option<i32>,
    stderr: String,
}

fn child(case: &str) -> Outcome {
    let exe = std::env::current_exe().unwrap();
    let mut c = Command::new(exe)
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(ENV, case)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A hang is a failure, not a stuck test run.
    let start = Instant::now();
    let status = loop {
        if let Some(s) = c.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = c.kill();
            panic!("case {case}: hang (killed after 20 s)");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(c.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    let signal = std::os::unix::process::ExitStatusExt::signal(&status);
    Outcome { signal, code: status.code(), stderr }
}

/// The child must abort with the one-line message `hakmem: <what> at 0x..`.
fn detected(case: &str, what: &str) {
    let o = child(case);
    assert_eq!(o.signal, Some(SIGABRT), "case {case}: not aborted; stderr: {}", o.stderr);
    let want = format!("hakmem: {what} at 0x");
    let lines: Vec<&str> = o.stderr.lines().filter(|l| l.starts_with("hakmem:")).collect();
    assert_eq!(lines.len(), 1, "case {case}: want one hakmem line; stderr: {}", o.stderr);
    assert!(lines[0].starts_with(&want), "case {case}: want {want:?}; stderr: {}", o.stderr);
}

/// The child must exit cleanly.
fn clean(case: &str) {
    let o = child(case);
    assert_eq!((o.signal, o.code), (None, Some(0)), "case {case}: stderr: {}", o.stderr);
}

const SMALL: Layout = match Layout::from_size_align(64, 8) {
    Ok(l) => l,
    Err(_) => panic!(),
};
const TINY: Layout = match Layout::from_size_align(8, 8) {
    Ok(l) => l,
    Err(_) => panic!(),
};
const LARGE: Layout = match Layout::from_size_align(1 << 20, 8) {
    Ok(l) => l,
    Err(_) => panic!(),
};
/// Above the large-block cache's per-block limit: unmapped when freed.
const HUGE: Layout = match Layout::from_size_align(32 << 20, 8) {
    Ok(l) => l,
    Err(_) => panic!(),
};

/// A few live blocks of `l`, so the bin under test is not empty (which
/// would route the free to the slow path and test less).
fn warm(l: Layout) -> Vec<*mut u8> {
    // SAFETY: plain allocations, freed by `cool`.
    (0..4).map(|_| unsafe { black_box(alloc(l)) }).collect()
}

fn cool(v: Vec<*mut u8>, l: Layout) {
    for p in v {
        // SAFETY: blocks from `warm`.
        unsafe { dealloc(p, l) };
    }
}

/// Carry on after the misuse: allocate (and keep) blocks of `l`.
fn carry_on(l: Layout) {
    for _ in 0..8 {
        // SAFETY: plain allocations, leaked on purpose.
        black_box(unsafe { alloc(l) });
    }
}

/// The misuse cases. black_box keeps an optimised build from eliding the
/// unused alloc/free pairs (and so from never misusing anything).
#[test]
fn child_entry() {
    let Ok(case) = std::env::var(ENV) else { return };
    let w = warm(SMALL);
    let wt = warm(TINY);
    // SAFETY: deliberately misusing the allocator to observe the abort.
    unsafe {
        match case.as_str() {
            "double_free_immediate" => {
                let p = black_box(alloc(SMALL));
                dealloc(p, SMALL);
                dealloc(black_box(p), SMALL);
            }
            "double_free_delayed" => {
                let a = black_box(alloc(SMALL));
                let b = black_box(alloc(SMALL));
                dealloc(a, SMALL);
                dealloc(b, SMALL);
                dealloc(black_box(a), SMALL);
                // Without detection the bin is now a cycle a -> b -> a.
                let x = black_box(alloc(SMALL));
                let y = black_box(alloc(SMALL));
                let z = black_box(alloc(SMALL));
                assert!(x != z && y != z, "same block handed out twice");
                carry_on(SMALL);
            }
            "double_free_delayed_tiny" => {
                let a = black_box(alloc(TINY));
                let b = black_box(alloc(TINY));
                dealloc(a, TINY);
                dealloc(b, TINY);
                dealloc(black_box(a), TINY);
                carry_on(TINY);
            }
            "double_free_cross_thread" => {
                let p = black_box(alloc(SMALL)) as usize;
                std::thread::spawn(move || dealloc(p as *mut u8, SMALL)).join().unwrap();
                std::thread::spawn(move || dealloc(black_box(p as *mut u8), SMALL)).join().unwrap();
                let v: Vec<*mut u8> = (0..20000).map(|_| black_box(alloc(SMALL))).collect();
                cool(v, SMALL);
            }
            "double_free_cross_thread_remote" => {
                // Freed twice by other threads after their caches flushed: the
                // block is on its slab's remote list when freed again.
                let p = black_box(alloc(SMALL)) as usize;
                for _ in 0..2 {
                    std::thread::spawn(move || {
                        dealloc(black_box(p as *mut u8), SMALL);
                        HakMem::flush_thread_cache();
                    })
                    .join()
                    .unwrap();
                }
                // The owner collects the remote list.
                let v: Vec<*mut u8> = (0..20000).map(|_| black_box(alloc(SMALL))).collect();
                cool(v, SMALL);
            }
            "double_free_after_reuse" => {
                let p = black_box(alloc(SMALL));
                dealloc(p, SMALL);
                // Others reuse the block, and free it in turn.
                let v: Vec<*mut u8> = (0..1000).map(|_| black_box(alloc(SMALL))).collect();
                assert!(v.contains(&p));
                cool(v, SMALL);
                dealloc(black_box(p), SMALL);
                let v: Vec<*mut u8> = (0..2000).map(|_| black_box(alloc(SMALL))).collect();
                cool(v, SMALL);
            }
            "double_free_large" => {
                let p = black_box(alloc(LARGE));
                dealloc(p, LARGE);
                dealloc(black_box(p), LARGE);
            }
            "double_free_huge" => {
                let p = black_box(alloc(HUGE));
                dealloc(p, HUGE);
                dealloc(black_box(p), HUGE);
            }
            "free_stack" => {
                let mut x = [0u64; 8];
                dealloc(black_box(x.as_mut_ptr().cast()), SMALL);
                HakMem::flush_thread_cache();
            }
            "free_static" => {
                static mut S: [u64; 8] = [0; 8];
                dealloc(black_box(core::ptr::addr_of_mut!(S).cast()), SMALL);
                HakMem::flush_thread_cache();
            }
            "free_interior_small" => {
                let p = black_box(alloc(SMALL));
                dealloc(p.add(16), SMALL);
                HakMem::flush_thread_cache();
            }
            "free_unaligned_small" => {
                let p = black_box(alloc(SMALL));
                dealloc(p.add(1), SMALL);
                HakMem::flush_thread_cache();
            }
            "free_interior_large" => {
                let p = black_box(alloc(LARGE));
                dealloc(p.add(4096), LARGE);
            }
            "free_unaligned_large" => {
                let p = black_box(alloc(LARGE));
                dealloc(p.add(1), LARGE);
            }
            "free_stack_large" => {
                let mut x = [0u64; 8];
                dealloc(black_box(x.as_mut_ptr().cast()), LARGE);
            }
            "realloc_freed" => {
                let p = black_box(alloc(SMALL));
                dealloc(p, SMALL);
                let q = realloc(black_box(p), SMALL, 60);
                black_box(q);
                carry_on(SMALL);
            }
            "realloc_freed_large" => {
                let p = black_box(alloc(LARGE));
                dealloc(p, LARGE);
                let q = realloc(black_box(p), LARGE, 2 << 20);
                black_box(q);
            }
            "write_after_free" | "write_after_free_zero" => {
                let a = black_box(alloc(SMALL));
                let b = black_box(alloc(SMALL));
                dealloc(b, SMALL);
                dealloc(a, SMALL);
                // `a` is the bin's head; its first word is its link.
                let v: u64 = if case == "write_after_free" { 0x4141_4141_4141_4141 } else { 0 };
                a.cast::<u64>().write_volatile(v);
                carry_on(SMALL);
            }
            "overflow_one_byte" => {
                let p = black_box(alloc(SMALL));
                p.add(SMALL.size()).write_volatile(0x41);
                dealloc(p, SMALL);
            }
            "wrong_class" => {
                let p = black_box(alloc(SMALL));
                dealloc(p, Layout::from_size_align(256, 8).unwrap());
            }
            "large_guard" => {
                let l = Layout::from_size_align(16 * 4096, 8).unwrap();
                let p = black_box(alloc(l));
                p.add(l.size()).write_volatile(1);
                dealloc(p, l);
            }
            "valid_use" => valid_use(),
            _ => panic!("unknown case {case}"),
        }
    }
    cool(w, SMALL);
    cool(wt, TINY);
}

/// Correct use that exercises what the checks look at: link-like user data
/// in the first word, blocks freed on other threads and sent home, realloc
/// in and across classes, large blocks.
fn valid_use() {
    let words: [u64; 6] = [0, 1, u64::MAX, 0x8000_0000_0000_0000, 0x4141_4141_4141_4141, 0x7fff_0000_1000];
    let mut v: Vec<Box<[u64; 8]>> = Vec::new();
    for i in 0..50_000usize {
        let mut b = Box::new([0u64; 8]);
        b[0] = words[i % words.len()];
        // A live block holding a pointer to another block.
        if i % 7 == 0 {
            if let Some(prev) = v.last() {
                b[0] = &**prev as *const _ as u64;
            }
        }
        v.push(b);
        if i % 3 == 0 {
            v.swap_remove(i % v.len());
        }
    }
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let mine: Vec<Box<[u64; 8]>> = v.drain(..v.len().min(5000)).collect();
            std::thread::spawn(move || {
                drop(mine);
                let x: Vec<Vec<u8>> = (0..2000).map(|i| vec![i as u8; 1 + i % 300]).collect();
                x
            })
        })
        .collect();
    let back: Vec<Vec<Vec<u8>>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    drop(back);
    let mut s = Vec::new();
    for i in 0..100_000u32 {
        s.push(i); // realloc growth, small then large
    }
    let t: Vec<u8> = vec![7; 3 << 20];
    black_box((&s, &t));
}

#[test]
fn valid_use_runs_clean() {
    clean("valid_use");
}

macro_rules! detects {
    ($($name:ident: $case:literal => $what:literal,)*) => {$(
        #[test]
        fn $name() {
            detected($case, $what);
        }
    )*};
}

detects! {
    double_free_immediate: "double_free_immediate" => "double free detected",
    double_free_delayed_aba: "double_free_delayed" => "double free detected",
    double_free_delayed_8_byte_class: "double_free_delayed_tiny" => "double free detected",
    double_free_across_threads: "double_free_cross_thread" => "double free detected",
    double_free_across_threads_via_remote_list: "double_free_cross_thread_remote" => "double free detected",
    double_free_after_reuse: "double_free_after_reuse" => "double free detected",
    double_free_of_large_block: "double_free_large" => "double free detected",
    double_free_of_unmapped_large_block: "double_free_huge" => "double free detected",
    invalid_free_of_stack_address: "free_stack" => "free of a pointer not allocated by hakmem",
    invalid_free_of_static: "free_static" => "free of a pointer not allocated by hakmem",
    invalid_free_of_interior_small_pointer: "free_interior_small" => "free of a pointer that is not a block",
    invalid_free_of_unaligned_small_pointer: "free_unaligned_small" => "free of a pointer that is not a block",
    invalid_free_of_interior_large_pointer: "free_interior_large" => "free of a pointer that is not an allocation",
    invalid_free_of_unaligned_large_pointer: "free_unaligned_large" => "free of a pointer that is not an allocation",
    invalid_free_of_stack_address_as_large: "free_stack_large" => "free of a pointer that is not an allocation",
    realloc_of_freed_small_block: "realloc_freed" => "realloc of a freed block detected",
    realloc_of_freed_large_block: "realloc_freed_large" => "realloc of a freed block detected",
    write_after_free_into_link: "write_after_free" => "corrupted free list (write after free?) detected",
    write_after_free_of_zero_into_link: "write_after_free_zero" => "corrupted free list (write after free?) detected",
}

/// One-byte overflow: the `secure` build's canary catches it on free; the
/// default build has no canary (the byte lands in the next block's slack or
/// link), and must at least not crash.
#[test]
fn one_byte_overflow() {
    if cfg!(feature = "secure") {
        detected("overflow_one_byte", "buffer overflow detected (canary) on free");
    } else {
        let o = child("overflow_one_byte");
        assert!(o.signal.is_none() || o.signal == Some(SIGABRT), "crashed: {:?} {}", o.signal, o.stderr);
    }
}

/// `dealloc` with the layout of another size class: detected by the `secure`
/// build's page-map class check.
#[test]
#[cfg_attr(not(feature = "secure"), ignore = "the class check is in the `secure` build")]
fn dealloc_with_wrong_size_class() {
    detected("wrong_class", "dealloc with a layout of another size class");
}

/// A write just past a page-multiple large block hits the `secure` build's
/// guard page (SIGSEGV at the write, not inside the allocator).
#[test]
#[cfg_attr(not(feature = "secure"), ignore = "guard pages are in the `secure` build")]
fn large_block_guard_page() {
    let o = child("large_guard");
    assert_eq!(o.signal, Some(SIGSEGV), "stderr: {}", o.stderr);
}

/// The `secure` build's in-process checks, on a heap of its own.
#[cfg(feature = "secure")]
mod secure {
    use hakmem_alloc::{Heap, MockPages, Options, ThreadCache};
    use std::alloc::Layout;

    fn heap() -> Heap<MockPages> {
        Heap::with_options(MockPages::new(), Options::DEFAULT)
    }

    /// Freed blocks are filled with the poison byte past their link word.
    #[test]
    fn freed_memory_is_poisoned() {
        let h = heap();
        let mut tc = ThreadCache::new();
        let l = Layout::from_size_align(64, 8).unwrap();
        let keep = unsafe { h.alloc(&mut tc, l) };
        let p = unsafe { h.alloc(&mut tc, l) };
        // SAFETY: a live block of 64 bytes, freed once; read back while it
        // sits in this cache's bin (its memory stays mapped).
        unsafe {
            core::ptr::write_bytes(p, 0x11, 64);
            h.dealloc(&mut tc, p, l);
            for i in 8..64 {
                assert_eq!(*p.add(i), hakmem_alloc::mitigations::POISON_BYTE, "byte {i}");
            }
            h.dealloc(&mut tc, keep, l);
        }
        unsafe { h.thread_exit(&mut tc) };
    }

    /// Fresh blocks are not handed out in address order (the default build
    /// carves a slab front to back; a shuffled one goes both ways).
    #[test]
    fn fresh_blocks_come_in_random_order() {
        let h = heap();
        let mut tc = ThreadCache::new();
        let l = Layout::from_size_align(64, 8).unwrap();
        let v: Vec<*mut u8> = (0..256).map(|_| unsafe { h.alloc(&mut tc, l) }).collect();
        let down = v.windows(2).filter(|w| w[1] < w[0]).count();
        let up = v.len() - 1 - down;
        assert!(down > 30 && up > 30, "order not shuffled: {up} up, {down} down");
        for p in v {
            // SAFETY: live blocks of `l`, freed once.
            unsafe { h.dealloc(&mut tc, p, l) };
        }
        unsafe { h.thread_exit(&mut tc) };
    }
}

/// Control for `secure::fresh_blocks_come_in_random_order`: the default
/// build carves in one direction, which the same measure tells apart.
#[cfg(not(feature = "secure"))]
#[test]
fn fresh_blocks_come_in_carving_order_by_default() {
    use hakmem_alloc::{Heap, MockPages, Options, ThreadCache};
    let h = Heap::with_options(MockPages::new(), Options::DEFAULT);
    let mut tc = ThreadCache::new();
    let l = Layout::from_size_align(64, 8).unwrap();
    let v: Vec<*mut u8> = (0..256).map(|_| unsafe { h.alloc(&mut tc, l) }).collect();
    let down = v.windows(2).filter(|w| w[1] < w[0]).count();
    let up = v.len() - 1 - down;
    assert!(down <= 30 || up <= 30, "order looks shuffled: {up} up, {down} down");
    for p in v {
        // SAFETY: live blocks of `l`, freed once.
        unsafe { h.dealloc(&mut tc, p, l) };
    }
    unsafe { h.thread_exit(&mut tc) };
}
