//! Runs one case on one entrant as a child process and collects its
//! throughput (from the `RESULT` line), its peak RSS (from `wait4`'s
//! rusage) and how it failed, if it did (exit status, signal, time limit).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{Build, Case, Entrant};
use crate::dispatch::{self, Alloc};
use crate::measure::parse_result_full;

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
    /// The `x.NAME=VALUE` figures of the `RESULT` line.
    pub extras: Vec<(String, f64)>,
}

/// The child's exit as `wait4` reported it.
pub(super) struct Exit {
    /// Wait status.
    pub status: libc::c_int,
    /// Resource usage (peak RSS in `ru_maxrss`).
    pub rusage: libc::rusage,
}

/// What a child run with [`spawn_with_timeout`] left behind.
pub(super) struct Finished {
    /// How it ended, or why waiting for it failed.
    pub exit: Result<Exit, String>,
    /// Whether it ran past the time limit and was killed.
    pub timed_out: bool,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

/// Spawns `cmd` with stdin closed and stdout/stderr captured, waits for it
/// and kills it with SIGKILL if it runs past `timeout`.
pub(super) fn spawn_with_timeout(cmd: &mut Command, timeout: Duration) -> std::io::Result<Finished> {
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
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
    Ok(Finished { exit, timed_out, stdout, stderr })
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
    /// its allocator installed statically (what the report measures), one
    /// directory per build. `aligned`: built with [`CHILD_RUSTFLAGS`];
    /// `secure`: `child_hakmem_secure` is there too.
    Static { dirs: Vec<(Build, PathBuf)>, aligned: bool, secure: bool },
    /// `EXE --child WORKLOAD args --alloc NAME`: the driver itself, through
    /// the runtime switch (only with `--allow-fallback`).
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

const SECURE_CHILD: &str = "child_hakmem_secure";

fn has_children(dir: &Path) -> bool {
    Alloc::ALL.iter().all(|&a| child_binary(dir, a).is_file())
}

/// Runs one cargo build of the children, with progress on stderr (cargo's
/// own `Compiling ...` lines, then how long it took).
fn cargo_build(step: &str, mut cmd: Command) -> Result<(), String> {
    let started = Instant::now();
    eprintln!("compare: {step} ...");
    let st = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !st.success() {
        return Err(format!("{step}: cargo failed ({st})"));
    }
    eprintln!("compare: {step}: done in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

impl Launch {
    /// Builds (under `cargo run`) or finds the `child_*` binaries.
    ///
    /// Under `cargo run` (`CARGO` and `CARGO_MANIFEST_DIR` set) it builds
    /// them for each of `builds`, `--release` with that build's profile
    /// overrides plus [`CHILD_RUSTFLAGS`] and the `macro` feature, into
    /// `target/bench-children/BUILD/` (so they never force a rebuild of the
    /// driver), and `child_hakmem_secure` (feature `secure`) when `secure`.
    /// A failed build is an error, unless `allow_fallback`: then it measures
    /// through the runtime switch. Run directly, it takes the children next
    /// to `exe` (one build, [`Build::AsBuilt`]).
    pub fn prepare(exe: &Path, builds: &[Build], secure: bool, allow_fallback: bool) -> Result<Launch, String> {
        let Some(dir) = exe.parent() else { return Ok(Launch::Dispatch(exe.to_path_buf())) };
        let failure = match (std::env::var_os("CARGO"), std::env::var_os("CARGO_MANIFEST_DIR")) {
            (Some(cargo), Some(manifest)) => match Self::build_all(&cargo, Path::new(&manifest), dir, builds, secure) {
                Ok(l) => return Ok(l),
                Err(e) => e,
            },
            _ if has_children(dir) => {
                let secure = dir.join(SECURE_CHILD).is_file();
                return Ok(Launch::Static { dirs: vec![(Build::AsBuilt, dir.to_path_buf())], aligned: false, secure });
            }
            _ => format!(
                "child_* binaries not found next to {} (run `cargo run --release -p hakmem-bench --bin compare`, \
                 which builds them)",
                exe.display()
            ),
        };
        if allow_fallback {
            eprintln!(
                "compare: {failure}\ncompare: --allow-fallback: measuring every allocator through the runtime \
                 switch (results move by up to 2x; macro cases need the `macro` feature in this binary)"
            );
            Ok(Launch::Dispatch(exe.to_path_buf()))
        } else {
            Err(format!("{failure}\n(--allow-fallback measures through the runtime switch instead)"))
        }
    }

    fn build_all(
        cargo: &std::ffi::OsStr,
        manifest: &Path,
        profile_dir: &Path,
        builds: &[Build],
        secure: bool,
    ) -> Result<Launch, String> {
        let target = profile_dir.parent().unwrap_or(profile_dir).join("bench-children");
        // The caller's flags first (cargo prefers the encoded form).
        let mut flags = match std::env::var("CARGO_ENCODED_RUSTFLAGS") {
            Ok(enc) => enc.split('\x1f').collect::<Vec<_>>().join(" "),
            Err(_) => std::env::var("RUSTFLAGS").unwrap_or_default(),
        };
        flags.push(' ');
        flags.push_str(CHILD_RUSTFLAGS);
        let steps = builds.len() * if secure { 2 } else { 1 };
        let mut step = 0;
        let mut dirs = Vec::new();
        for &build in builds {
            let target_dir = target.join(build.id());
            let base = || {
                let mut cmd = Command::new(cargo);
                cmd.arg("build").arg("--release").arg("--manifest-path").arg(manifest.join("Cargo.toml"));
                cmd.arg("--target-dir").arg(&target_dir);
                for (k, v) in build.cargo_env() {
                    cmd.env(k, v);
                }
                cmd.env_remove("CARGO_ENCODED_RUSTFLAGS").env("RUSTFLAGS", flags.trim());
                cmd
            };
            let mut cmd = base();
            cmd.arg("--features").arg("macro");
            for a in Alloc::ALL {
                cmd.arg("--bin").arg(format!("child_{}", a.name()));
            }
            step += 1;
            cargo_build(
                &format!(
                    "[{step}/{steps}] building the child binaries, {} ({CHILD_RUSTFLAGS}) into {} \
                     (first time: several minutes on 2 cores)",
                    build.label(),
                    target_dir.display()
                ),
                cmd,
            )?;
            if secure {
                let mut cmd = base();
                cmd.arg("--features").arg("macro,secure").arg("--bin").arg(SECURE_CHILD);
                step += 1;
                cargo_build(
                    &format!(
                        "[{step}/{steps}] building {SECURE_CHILD} (hakmem-alloc's `secure` feature), {}",
                        build.label()
                    ),
                    cmd,
                )?;
            }
            let built = target_dir.join("release");
            if !has_children(&built) || (secure && !built.join(SECURE_CHILD).is_file()) {
                return Err(format!("the child binaries are not in {}", built.display()));
            }
            dirs.push((build, built));
        }
        Ok(Launch::Static { dirs, aligned: true, secure })
    }

    /// One line for the report.
    pub fn describe(&self) -> String {
        match self {
            Launch::Static { dirs, aligned, .. } => format!(
                "one binary per allocator, installed statically{}; builds: {}",
                if *aligned { ", loops aligned to 64 bytes" } else { "" },
                dirs.iter().map(|(b, _)| b.label()).collect::<Vec<_>>().join("; ")
            ),
            Launch::Dispatch(_) => {
                "all allocators through the runtime switch (--allow-fallback: the child binaries did not build)".into()
            }
        }
    }

    fn command(&self, workload: &str, args: &[String], entrant: Entrant, build: Build) -> Result<Command, String> {
        let alloc = match entrant {
            Entrant::Alloc(a) => a,
            // The floor never calls the allocator; the system one runs the rest.
            Entrant::Floor => Alloc::System,
            Entrant::Secure | Entrant::HakmemEnv(_) => Alloc::Hakmem,
        };
        let mut c = match self {
            Launch::Static { dirs, .. } => {
                let dir = dirs
                    .iter()
                    .find(|(b, _)| *b == build)
                    .map(|(_, d)| d)
                    .ok_or(format!("no children for build {}", build.id()))?;
                let bin = match entrant {
                    Entrant::Secure => dir.join(SECURE_CHILD),
                    _ => child_binary(dir, alloc),
                };
                let mut c = Command::new(bin);
                c.arg(workload).args(args);
                c
            }
            Launch::Dispatch(exe) => {
                if entrant == Entrant::Secure {
                    return Err("hakmem-secure needs its child binary".into());
                }
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
        };
        if let Entrant::HakmemEnv(v) = entrant {
            for (k, val) in &v.vars {
                c.env(k, val);
            }
        }
        Ok(c)
    }
}

/// Runs `case` on `entrant` as a child process (see [`Launch`]), killing it
/// after `timeout`.
pub fn run_child(launch: &Launch, case: &Case, entrant: Entrant, timeout: Duration) -> RunResult {
    if let Some(r) = super::preload::run(case, entrant, timeout) {
        return r;
    }
    let workload = if entrant == Entrant::Floor { "floor" } else { case.workload };
    let mut cmd = match launch.command(workload, &case.args, entrant, case.build) {
        Ok(c) => c,
        Err(e) => return RunResult { error: Some(e), ..RunResult::default() },
    };
    let Finished { exit, timed_out, stdout, stderr } = match spawn_with_timeout(&mut cmd, timeout) {
        Ok(f) => f,
        Err(e) => {
            return RunResult {
                error: Some(format!("spawn {workload} on {}: {e}", entrant.name())),
                ..RunResult::default()
            }
        }
    };
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
        match stdout.lines().find_map(parse_result_full) {
            Some(line) => {
                result.ops_per_sec = line.ops_per_sec;
                result.secs = line.secs;
                // The child's own figure: the service case forks its load
                // generator, whose RSS `wait4` would fold in.
                if let Some(kib) = line.peak_rss_kib {
                    result.peak_rss_kib = kib;
                }
                result.extras = line.extras;
                None
            }
            None => Some("no RESULT line in output".into()),
        }
    };
    result
}
