//! Fork safety of `HakMem` as a Rust program's global allocator.
//!
//! A multi-threaded program forks while its threads allocate (small and
//! large blocks, and threads that keep being created and exiting); each
//! child allocates small and large blocks, frees blocks inherited from the
//! parent, spawns threads that allocate, frees, and execs `/bin/true`. The
//! parent waits for each child with a timeout: a child that does not finish
//! in time is a hang (killed and counted).
//!
//! Negative control: the same program with the heap's `pthread_atfork`
//! handlers switched off (`HAKMEM_NO_ATFORK=1`, the design before the fix)
//! must hang at least once.
//!
//! `HAKMEM_FORK_RUNS` sets the number of forks (default 200; CI runs more).
#![cfg(all(unix, not(any(feature = "loom", feature = "shuttle"))))]

use hakmem_alloc::HakMem;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: HakMem = HakMem;

/// Allocation churn: small blocks of many classes and large blocks (which go
/// through the large-block cache lock), freed in a different order.
fn churn(seed: usize, rounds: usize) {
    let mut keep: Vec<Vec<u8>> = Vec::with_capacity(64);
    for i in 0..rounds {
        let k = seed.wrapping_mul(31).wrapping_add(i);
        let size = match k % 16 {
            0 => 64 << 10,
            1 => 300 << 10,
            2 if k % 64 == 2 => 3 << 20,
            _ => 16 + (k * 97) % 4000,
        };
        let v = vec![k as u8; size];
        keep.push(black_box(v));
        if keep.len() == 64 {
            keep.drain(..48);
        }
    }
}

/// A child thread's body: churn with the seed passed as the argument.
extern "C" fn child_thread(seed: *mut libc::c_void) -> *mut libc::c_void {
    churn(seed as usize, 40);
    core::ptr::null_mut()
}

/// What a child does after the fork; its exit status is 0 only if every
/// step ran. Execs `/bin/true` at the end (never returns).
///
/// The child's threads are raw pthreads, not `std::thread`: std's thread
/// start takes a process-wide mutex (the stack-overflow handler's thread
/// info, Rust 1.95) that a parent thread may hold at the fork, so a
/// `std::thread::spawn` in the child can hang whatever the allocator does
/// (seen: 2 of 200 children under load, all threads in
/// `stack_overflow::thread_info::set_current_info`).
fn child(inherited: Vec<Box<[u8]>>) -> ! {
    // Free blocks the parent allocated before the fork.
    drop(inherited);
    churn(7, 40);
    let mut ids = [0 as libc::pthread_t; 3];
    for (t, id) in ids.iter_mut().enumerate() {
        // SAFETY: valid out-pointer, default attributes, a C-ABI body that
        // does not unwind (churn only allocates and frees).
        if unsafe { libc::pthread_create(id, core::ptr::null(), child_thread, t as *mut libc::c_void) } != 0 {
            // SAFETY: terminating the child without running the parent's atexit hooks.
            unsafe { libc::_exit(2) };
        }
    }
    for id in ids {
        // SAFETY: a joinable thread created above, joined once.
        if unsafe { libc::pthread_join(id, core::ptr::null_mut()) } != 0 {
            // SAFETY: as above.
            unsafe { libc::_exit(2) };
        }
    }
    let big = vec![1u8; 5 << 20];
    black_box(&big);
    drop(big);
    // SAFETY: NUL-terminated strings; argv ends with a null pointer.
    unsafe {
        let path = c"/bin/true".as_ptr();
        let argv = [path, core::ptr::null()];
        libc::execv(path, argv.as_ptr());
        libc::_exit(3)
    }
}

/// Wait for `pid` up to `timeout`. `Some(status)` if it exited, `None` if it
/// hung (it is then killed and reaped).
fn wait_for(pid: libc::pid_t, timeout: Duration) -> Option<i32> {
    let start = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: a child of ours; valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return Some(status);
        }
        if start.elapsed() > timeout {
            // SAFETY: killing and reaping our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Fork `runs` times while background threads allocate; returns (hangs, failed exits).
fn fork_runs(runs: usize, timeout: Duration, stop_at_first_hang: bool) -> (usize, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let mut bg = Vec::new();
    for t in 0..3 {
        let stop = stop.clone();
        bg.push(std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                churn(t * 1000 + i, 50);
                i += 1;
            }
        }));
    }
    // Thread churn: threads that allocate a little and exit (thread-exit
    // flushes take the abandoned-slab lock and release slabs to the pool).
    {
        let stop = stop.clone();
        bg.push(std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let h = std::thread::spawn(move || churn(i, 20));
                let _ = h.join();
                i += 1;
            }
        }));
    }
    let (mut hangs, mut failed) = (0, 0);
    for r in 0..runs {
        let inherited: Vec<Box<[u8]>> = (0..8).map(|i| vec![i as u8; 24 + i * 200 + (r % 3) * 70_000].into()).collect();
        // SAFETY: the child only allocates, spawns threads and execs; it never returns here.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            child(inherited);
        }
        drop(inherited);
        match wait_for(pid, timeout) {
            None => {
                hangs += 1;
                if stop_at_first_hang {
                    break;
                }
            }
            Some(s) if !(libc::WIFEXITED(s) && libc::WEXITSTATUS(s) == 0) => failed += 1,
            Some(_) => {}
        }
    }
    stop.store(true, Ordering::Relaxed);
    for h in bg {
        h.join().unwrap();
    }
    (hangs, failed)
}

#[test]
fn fork_while_threads_allocate_never_hangs() {
    let runs = std::env::var("HAKMEM_FORK_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let (hangs, failed) = fork_runs(runs, Duration::from_secs(30), false);
    assert_eq!((hangs, failed), (0, 0), "{runs} forks: {hangs} children hung, {failed} exited with an error");
}

/// Worker for the negative control (run by it in a child process).
#[test]
#[ignore = "run by negative_control_without_atfork_handlers_hangs"]
fn worker_without_handlers() {
    let (hangs, failed) = fork_runs(1500, Duration::from_secs(2), true);
    println!("HANGS {hangs} FAILED {failed}");
}

#[test]
fn negative_control_without_atfork_handlers_hangs() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "worker_without_handlers", "--nocapture", "--test-threads=1"])
        .env("HAKMEM_NO_ATFORK", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let hangs: usize = text
        .lines()
        .find_map(|l| l.split_once("HANGS ").map(|(_, rest)| rest))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("worker printed no result: {text}"));
    assert!(hangs > 0, "without the atfork handlers no child hung in 1500 forks: the test cannot see the bug");
}
