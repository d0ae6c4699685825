//! A child's peak RSS on its `RESULT` line is its own: a parent holding
//! 64 MiB starts `child_system` (as the `compare` driver starts every Rust
//! case), and the figure the child prints stays small. Negative control:
//! the `ru_maxrss` that `wait4` reports for the same child (what the
//! children printed before, `getrusage` in the child gives the same) keeps
//! the parent's high-water mark across `exec`, so it is at least 64 MiB.

use std::process::{Command, Stdio};

use hakmem_bench::measure::parse_result_full;

#[test]
fn child_reports_its_own_peak_rss_not_the_parents() {
    // Touch 64 MiB in this (parent) process.
    let big = vec![1u8; 64 << 20];
    assert_eq!(big.iter().step_by(4096).map(|&b| usize::from(b)).sum::<usize>(), 16384);
    #[allow(clippy::zombie_processes)] // reaped by the `wait4` below
    let child = Command::new(env!("CARGO_BIN_EXE_child_system"))
        .args(["fixed", "1000", "16", "64"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn child_system");
    let pid = child.id() as libc::pid_t;
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.expect("stdout"), &mut out).expect("read stdout");
    let mut status = 0;
    // SAFETY: plain old data; all-zero is valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our unreaped child (the `Child` was consumed above
    // without waiting); both pointers are valid for writes.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(rc, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "status {status}: {out}");
    let line = out.lines().find_map(parse_result_full).expect("a RESULT line");
    let own = line.peak_rss_kib.expect("peak_rss_kib on the RESULT line");
    assert!(own > 0 && own < 32 << 10, "child printed {own} KiB: {out}");
    // Negative control: the exec-surviving figure includes this process's 64 MiB.
    assert!(ru.ru_maxrss >= 64 << 10, "wait4 reported {} KiB", ru.ru_maxrss);
    drop(big);
}
