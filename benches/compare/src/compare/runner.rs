//! Runs one case on one entrant as a child process and collects its
//! throughput (from the `RESULT` line), its peak RSS (from `wait4`'s
//! rusage) and how it failed, if it did (exit status, signal, time limit).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::{Case, Entrant};
use crate::dispatch::{self, Alloc};
use crate::measure::parse_result_line;

/// What one child run produced.
#[derive(Debug, Clone, Default)]
pub struct RunResult {
    /// Throughput from the `RESULT` line (0 on failure).
    pub ops_per_sec: f64,
    /// Timed seconds from the `RESULT` line.
    pub secs: f64,
    /// Peak resident set size of the child, KiB (`ru_maxrss`).
    pub peak_rss_kib: u64,
    /// Why the run does not count, if it does not.
    pub error: Option<String>,
}

/// The child's exit as `wait4` reported it.
struct Exit {
    status: libc::c_int,
    rusage: libc::rusage,
}

/// Blocks in `wait4` until `pid` ends.
fn wait_for(pid: libc::pid_t) -> Result<Exit, String> {
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain old data, so all-zero is a valid value.
    let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `status` and `rusage` are valid for writes; `pid` is our
        // own unreaped child.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut rusage) };
        if rc == pid {
            return Ok(Exit { status, rusage });
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("wait4: {err}"));
        }
    }
}

fn signal_name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGKILL => "SIGKILL",
        libc::SIGFPE => "SIGFPE",
        _ => "signal",
    }
}

/// Reads a pipe to its end on a helper thread.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut p) = pipe {
            let mut bytes = Vec::new();
            let _ = p.read_to_end(&mut bytes);
            s = String::from_utf8_lossy(&bytes).into_owned();
        }
        s
    })
}

/// How the driver starts its children.
#[derive(Debug, Clone)]
pub enum Launch {
    /// `DIR/child_NAME WORKLOAD args`: one binary per allocator, each with
    /// its allocator installed statically (what the report measures).
    /// `aligned`: built with [`CHILD_RUSTFLAGS`].
    Static { dir: PathBuf, aligned: bool },
    /// `EXE --child WORKLOAD args --alloc NAME`: the driver itself, through
    /// the runtime switch (a fallback when the child binaries are missing).
    Dispatch(PathBuf),
}

/// Extra `rustc` flags of the child binaries built by [`Launch::prepare`].
/// Every loop starts on a 64-byte boundary, so that a workload's own loop
/// runs the same in every child: `cache-scratch` spends nearly all its time
/// in its byte-write loop, and where that loop happened to fall in each
/// binary moved its result by up to 1.6x between otherwise equal builds.
pub const CHILD_RUSTFLAGS: &str = "-C llvm-args=-align-loops=64";

/// The child binary of `alloc` in `dir`.
fn child_binary(dir: &Path, alloc: Alloc) -> PathBuf {
    dir.join(format!("child_{}", alloc.name()))
}

fn has_children(dir: &Path) -> bool {
    Alloc::ALL.iter().all(|&a| child_binary(dir, a).is_file())
}

impl Launch {
    /// Finds the `child_*` binaries. When the driver runs under `cargo run`
    /// (`CARGO` and `CARGO_MANIFEST_DIR` set), builds them first with the
    /// driver's own profile plus [`CHILD_RUSTFLAGS`], in a target directory
    /// of their own (`bench-children` beside the profile directories, so the
    /// flags never force a rebuild of the driver's), and uses those.
    /// Otherwise it takes the ones next to `exe`.
    pub fn prepare(exe: &Path) -> Launch {
        let Some(dir) = exe.parent() else { return Launch::Dispatch(exe.to_path_buf()) };
        if let (Some(cargo), Some(manifest)) = (std::env::var_os("CARGO"), std::env::var_os("CARGO_MANIFEST_DIR")) {
            let profile = dir.file_name().and_then(|n| n.to_str()).unwrap_or("debug");
            let target = dir.parent().unwrap_or(dir).join("bench-children");
            let mut cmd = Command::new(cargo);
            cmd.arg("build").arg("--quiet").arg("--bins").arg("--manifest-path");
            cmd.arg(Path::new(&manifest).join("Cargo.toml"));
            cmd.arg("--target-dir").arg(&target);
            match profile {
                "debug" => {}
                "release" => {
                    cmd.arg("--release");
                }
                p => {
                    cmd.arg("--profile").arg(p);
                }
            }
            // The caller's flags first (cargo prefers the encoded form).
            let mut flags = match std::env::var("CARGO_ENCODED_RUSTFLAGS") {
                Ok(enc) => enc.split('\x1f').collect::<Vec<_>>().join(" "),
                Err(_) => std::env::var("RUSTFLAGS").unwrap_or_default(),
            };
            flags.push(' ');
            flags.push_str(CHILD_RUSTFLAGS);
            cmd.env_remove("CARGO_ENCODED_RUSTFLAGS").env("RUSTFLAGS", flags.trim());
            eprintln!("compare: building the child binaries ({profile}, {CHILD_RUSTFLAGS}) ...");
            match cmd.status() {
                Ok(st) if st.success() => {
                    let built = target.join(profile);
                    if has_children(&built) {
                        return Launch::Static { dir: built, aligned: true };
                    }
                    eprintln!("compare: the child binaries are not in {}", built.display());
                }
                Ok(st) => eprintln!("compare: building the child binaries failed ({st})"),
                Err(e) => eprintln!("compare: cannot run cargo: {e}"),
            }
        }
        if has_children(dir) {
            Launch::Static { dir: dir.to_path_buf(), aligned: false }
        } else {
            eprintln!(
                "compare: child_* binaries not found next to {}; measuring through the runtime switch \
                 (build them with `cargo build --release -p hakmem-bench`)",
                exe.display()
            );
            Launch::Dispatch(exe.to_path_buf())
        }
    }

    /// One line for the report.
    pub fn describe(&self) -> &'static str {
        match self {
            Launch::Static { aligned: true, .. } => {
                "one binary per allocator, installed statically, loops aligned to 64 bytes"
            }
            Launch::Static { aligned: false, .. } => "one binary per allocator, installed statically",
            Launch::Dispatch(_) => "all allocators through the runtime switch (child binaries missing)",
        }
    }

    fn command(&self, workload: &str, args: &[String], alloc: Alloc) -> Command {
        match self {
            Launch::Static { dir, .. } => {
                let mut c = Command::new(child_binary(dir, alloc));
                c.arg(workload).args(args);
                c
            }
            Launch::Dispatch(exe) => {
                let mut c = Command::new(exe);
                c.arg("--child")
                    .arg(workload)
                    .args(args)
                    .arg("--alloc")
                    .arg(alloc.name())
                    .env(dispatch::ENV_VAR, alloc.name())
                    .env_remove("HAKMEM_BENCH_REEXEC");
                c
            }
        }
    }
}

/// Runs `case` on `entrant` as a child process (see [`Launch`]), killing it
/// after `timeout`.
pub fn run_child(launch: &Launch, case: &Case, entrant: Entrant, timeout: Duration) -> RunResult {
    if let Some(r) = super::preload::run(case, entrant, timeout) {
        return r;
    }
    let (workload, alloc) = match entrant {
        Entrant::Alloc(a) => (case.workload, a),
        // The floor never calls the allocator; the system one runs the rest.
        Entrant::Floor => ("floor", Alloc::System),
    };
    let spawned = launch
        .command(workload, &case.args, alloc)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            return RunResult { error: Some(format!("spawn {workload} on {alloc}: {e}")), ..RunResult::default() }
        }
    };
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(wait_for(pid));
    });
    let mut timed_out = false;
    let exit = match rx.recv_timeout(timeout) {
        Ok(e) => e,
        Err(_) => {
            timed_out = true;
            // SAFETY: `pid` is our child and not reaped yet (the waiter has
            // not reported), so the id cannot belong to another process.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            rx.recv().unwrap_or_else(|_| Err("waiter thread vanished".into()))
        }
    };
    // `wait4` reaped the child; `Child` has no destructor that waits.
    drop(child);
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let exit = match exit {
        Ok(e) => e,
        Err(e) => return RunResult { error: Some(e), ..RunResult::default() },
    };
    let mut result =
        RunResult { peak_rss_kib: u64::try_from(exit.rusage.ru_maxrss).unwrap_or(0), ..RunResult::default() };
    let st = exit.status;
    let last_err = stderr.lines().last().unwrap_or("").trim().to_string();
    result.error = if timed_out {
        Some(format!("timeout after {} s", timeout.as_secs()))
    } else if libc::WIFSIGNALED(st) {
        let sig = libc::WTERMSIG(st);
        Some(format!("{} ({sig}) {last_err}", signal_name(sig)).trim().to_string())
    } else if libc::WEXITSTATUS(st) != 0 {
        Some(format!("exit {}: {last_err}", libc::WEXITSTATUS(st)))
    } else {
        match stdout.lines().find_map(parse_result_line) {
            Some((ops, secs)) => {
                result.ops_per_sec = ops;
                result.secs = secs;
                None
            }
            None => Some("no RESULT line in output".into()),
        }
    };
    result
}
