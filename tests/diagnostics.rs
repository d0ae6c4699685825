//! What users see on stderr: misuse aborts with one line naming the error and
//! the address; `HAKMEM_SS_ACQUIRE_DEBUG=1` traces the pool's stages.
//! Each case re-runs this test binary as a child with `HAKMEM_DIAG_CASE` set.
#![cfg(not(any(feature = "loom", feature = "shuttle")))]

use hakmem_alloc::HakMem;
use std::alloc::{alloc, dealloc, GlobalAlloc, Layout};
use std::hint::black_box;
use std::process::Command;

#[global_allocator]
static GLOBAL: HakMem = HakMem;

fn child(case: &str, extra_env: &[(&str, &str)]) -> (Option<i32>, String) {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", "child_entry", "--nocapture", "--test-threads=1"]).env("HAKMEM_DIAG_CASE", case);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    #[cfg(unix)]
    let sig = std::os::unix::process::ExitStatusExt::signal(&out.status);
    #[cfg(not(unix))]
    let sig = None;
    (sig, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn child_entry() {
    let Ok(case) = std::env::var("HAKMEM_DIAG_CASE") else { return };
    let l = Layout::from_size_align(64, 8).unwrap();
    // SAFETY: deliberately misusing the allocator to observe the abort.
    unsafe {
        match case.as_str() {
            "double_free_small" => {
                // black_box: an optimised build would otherwise elide the
                // unused alloc/dealloc pairs (and never free twice).
                let p = black_box(alloc(l));
                dealloc(p, l);
                dealloc(black_box(p), l);
            }
            "double_free_large" => {
                let big = Layout::from_size_align(1 << 20, 8).unwrap();
                let p = black_box(alloc(big));
                dealloc(p, big);
                dealloc(black_box(p), big);
            }
            "foreign_pointer" => {
                // Distinct foreign blocks, enough to force a drain, which looks
                // each one up and finds no SuperSlab.
                static mut FOREIGN: [u64; 8 * 3000] = [0; 8 * 3000];
                let base = core::ptr::addr_of_mut!(FOREIGN).cast::<u8>();
                for i in 0..3000 {
                    HakMem.dealloc(base.add(i * 64), l);
                }
            }
            "trace" => {
                let v: Vec<Box<[u8; 100]>> = (0..2000).map(|_| Box::new([1u8; 100])).collect();
                drop(v);
            }
            _ => {}
        }
    }
}

#[cfg(unix)]
const SIGABRT: i32 = 6;

#[test]
fn double_free_of_small_block_aborts_with_address() {
    let (sig, err) = child("double_free_small", &[]);
    assert_eq!(sig, Some(SIGABRT), "stderr: {err}");
    assert!(err.contains("hakmem: double free detected at 0x"), "stderr: {err}");
}

#[test]
fn double_free_of_large_block_aborts_with_address() {
    let (sig, err) = child("double_free_large", &[]);
    assert_eq!(sig, Some(SIGABRT), "stderr: {err}");
    assert!(err.contains("hakmem: double free detected at 0x"), "stderr: {err}");
}

#[test]
fn foreign_pointer_aborts_with_address() {
    let (sig, err) = child("foreign_pointer", &[]);
    assert_eq!(sig, Some(SIGABRT), "stderr: {err}");
    assert!(err.contains("hakmem: free of a pointer not allocated by hakmem at 0x"), "stderr: {err}");
}

#[test]
fn stats_env_prints_report_at_exit() {
    let (sig, err) = child("trace", &[("HAKMEM_STATS", "1")]);
    assert_eq!(sig, None, "stderr: {err}");
    assert!(err.contains("hakmem stats: mapped "), "stderr: {err}");
    assert!(err.contains("hakmem stats: pool stage1 "), "stderr: {err}");
}

#[test]
fn acquire_debug_traces_pool_stages() {
    let (sig, err) = child("trace", &[("HAKMEM_SS_ACQUIRE_DEBUG", "1")]);
    assert_eq!(sig, None, "stderr: {err}");
    assert!(err.contains("[SP_ACQUIRE_STAGE3] class="), "stderr: {err}");
    assert!(err.contains("[SP_ACQUIRE_STAGE2_LOCKFREE] class="), "stderr: {err}");
    let (_, quiet) = child("trace", &[]);
    assert!(!quiet.contains("[SP_ACQUIRE"), "trace must be off by default");
}
