//! The C API's rules through `libhakmem.so`, in child processes: a C
//! program (`tests/capi/semantics.c`, compiled here with `cc`) runs one rule
//! per test under `LD_PRELOAD`. Each rule's first check is that `malloc` and
//! friends resolve to libhakmem (so a run without the library fails).
//!
//! The library is `$HAKMEM_SO` if set (CI passes the release build), else it
//! is built here with the `capi-test` profile (no LTO) into
//! `target/capi-so/`.
#![cfg(all(target_os = "linux", not(any(feature = "loom", feature = "shuttle"))))]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

struct Setup {
    so: PathBuf,
    prog: PathBuf,
    alloclib: PathBuf,
}

fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let so = match std::env::var_os("HAKMEM_SO") {
            Some(p) => PathBuf::from(p),
            None => {
                let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
                let target = root.join("target/capi-so");
                let st = Command::new(cargo)
                    .current_dir(root)
                    .args(["build", "--profile", "capi-test", "-p", "hakmem-capi", "--target-dir"])
                    .arg(&target)
                    .status()
                    .expect("run cargo");
                assert!(st.success(), "building libhakmem.so failed");
                target.join("capi-test/libhakmem.so")
            }
        };
        assert!(so.exists(), "{} missing", so.display());
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let prog = tmp.join("capi-semantics");
        let alloclib = tmp.join("capi-alloclib.so");
        let cc = |args: &[&str], src: &str, out: &Path| {
            let st = Command::new("cc")
                .args(args)
                .arg(root.join(src))
                .arg("-o")
                .arg(out)
                .args(["-lpthread", "-ldl"])
                .status()
                .expect("run cc");
            assert!(st.success(), "cc {src} failed");
        };
        // -fno-builtin: the compiler must not fold malloc/free pairs away.
        cc(
            &["-O0", "-fno-builtin", "-Wall", "-Wno-alloc-size-larger-than", "-Wno-free-nonheap-object"],
            "tests/capi/semantics.c",
            &prog,
        );
        cc(&["-O1", "-shared", "-fPIC"], "tests/capi/alloclib.c", &alloclib);
        Setup { so, prog, alloclib }
    })
}

fn run_rule(rule: &str, env: &[(&str, &str)]) -> Output {
    let s = setup();
    let mut c = Command::new(&s.prog);
    c.arg(rule).env("LD_PRELOAD", &s.so).env("ALLOCLIB", &s.alloclib);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run the C program")
}

fn holds(rule: &str) {
    let o = run_rule(rule, &[]);
    assert!(o.status.success(), "rule {rule} broken ({}): {}", o.status, String::from_utf8_lossy(&o.stderr));
}

/// The rule's program must abort with one line `hakmem: <what> at 0x...`.
fn aborts_with(rule: &str, what: &[&str]) {
    use std::os::unix::process::ExitStatusExt;
    let o = run_rule(rule, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.signal(), Some(libc::SIGABRT), "rule {rule}: expected an abort, got {} ({err})", o.status);
    let line = err.lines().next().unwrap_or("");
    assert!(
        what.iter().any(|w| line.starts_with(&format!("hakmem: {w} at 0x"))),
        "rule {rule}: unexpected message {err:?}"
    );
}

macro_rules! rules {
    ($($name:ident),* $(,)?) => {
        $(#[test] fn $name() { holds(stringify!($name)); })*
    };
}

rules!(
    loaded,
    libc_names,
    malloc_zero_unique,
    free_null,
    alignment_16,
    calloc_zeroes,
    calloc_overflow,
    impossible_enomem,
    realloc_null_is_malloc,
    realloc_zero_frees,
    realloc_keeps_prefix,
    realloc_failure_keeps_block,
    posix_memalign_einval,
    posix_memalign_aligns,
    aligned_alloc,
    memalign_valloc_pvalloc,
    usable_size,
    free_sized,
    trim_mallopt_mallinfo2,
    thread_exit,
    threads_never_allocate,
    dlopen_dlclose,
    fork,
);

/// `free_sized` with a size the block cannot hold (the C23 rule is "the
/// size it was allocated with").
#[test]
fn free_sized_too_large() {
    aborts_with("free_sized_too_large", &["free_sized with a size larger than the block"]);
}

/// A stack address. With the stack's random placement, `buf + 16` is
/// page-aligned about once in 256 runs; the pointer is then checked as a
/// large block, and the large manager's header check rejects it with its
/// own message (as in `invalid_free_no_header`).
#[test]
fn invalid_free_stack() {
    aborts_with("invalid_free_stack", &["invalid free", "free of a pointer that is not an allocation"]);
}

#[test]
fn invalid_free_interior() {
    aborts_with("invalid_free_interior", &["invalid free"]);
}

#[test]
fn invalid_free_mmap() {
    aborts_with("invalid_free_mmap", &["invalid free"]);
}

/// A page-aligned pointer whose previous page is mapped: the large-block
/// header check rejects it (its message is the large manager's).
#[test]
fn invalid_free_no_header() {
    aborts_with("invalid_free_no_header", &["invalid free", "free of a pointer that is not an allocation"]);
}

/// Stale pointers through the C API once their slab was released and taken
/// again for another size class (`tests/capi/semantics.c`, "stale
/// pointers"): the program prints `reused` once the setup happened; then the
/// free must abort with the one line, or (a pointer that is a live block of
/// the new class) free it as one. The released case guards the class table's
/// clear at release: without it the stale class byte would accept the
/// pointer as a small block of its old class.
fn stale(rule: &str, aborts: bool) {
    use std::os::unix::process::ExitStatusExt;
    let o = run_rule(rule, &[]);
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("reused"), "rule {rule}: setup not reached ({}): {err}", o.status);
    if aborts {
        assert_eq!(o.status.signal(), Some(libc::SIGABRT), "rule {rule}: expected an abort, got {} ({err})", o.status);
        let lines: Vec<&str> = err.lines().collect();
        assert!(
            lines.len() == 1 && lines[0].starts_with("hakmem: invalid free at 0x"),
            "rule {rule}: want one line `hakmem: invalid free at`: {err:?}"
        );
    } else {
        assert!(o.status.success(), "rule {rule} broken ({}): {err}", o.status);
    }
}

#[test]
fn stale_free_after_slab_released() {
    stale("stale_free_released", true);
}

#[test]
fn stale_free_after_slab_reused_for_another_class() {
    stale("stale_free_other_class", true);
}

#[test]
fn stale_interior_free_after_slab_reused() {
    stale("stale_free_interior", true);
}

#[test]
fn stale_pointer_that_is_a_live_block_of_the_new_class_frees() {
    stale("stale_free_live_block", false);
}

/// Negative control for the rules: without the library, the program's first
/// check (malloc is libhakmem's) fails, so the rules above ran against it.
#[test]
fn rules_fail_without_the_library() {
    let s = setup();
    let o = Command::new(&s.prog).arg("loaded").output().unwrap();
    assert!(!o.status.success(), "the C program passed without libhakmem");
}
