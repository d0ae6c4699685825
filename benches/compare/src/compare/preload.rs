//! The C cases of `compare`: C programs run under `LD_PRELOAD` for every
//! allocator — glibc's malloc (no preload), the mimalloc and jemalloc shared
//! libraries of the distribution, and hakmem's `libhakmem.so` (package
//! `hakmem-capi`, built by `cargo build --release -p hakmem-capi`).
//!
//! This module owns the C case list, compiling the C programs of
//! `benches/compare/c` (gcc -O2 -pthread, into `TARGET/bench-c/`), finding
//! the libraries, running one child with its library preloaded (its own
//! `RESULT` line or the wall time, and `wait4`'s peak RSS), checking that the
//! preload took effect, and the report section with time and RSS ratios.
//! The driver calls it through a few one-line hooks (`cases`, `prepare`,
//! `skip`, `run`, `describe`, `append_report`); an allocator whose library is
//! missing is left out of the C cases with a line in the report, not failed.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::report::{fmt_mib, median};
use super::runner::{spawn_with_timeout, Finished, RunResult};
use super::{Case, Entrant};
use crate::dispatch::Alloc;
use crate::measure::parse_result_line;

/// The header every C program includes.
const BENCH_H: &str = include_str!("../../c/bench.h");
/// The C programs: (name, source).
const C_SOURCES: [(&str, &str); 4] = [
    ("xmalloc-test", include_str!("../../c/xmalloc-test.c")),
    ("cache-scratch", include_str!("../../c/cache-scratch.c")),
    ("larson", include_str!("../../c/larson.c")),
    ("malloc-large", include_str!("../../c/malloc-large.c")),
];
/// The launcher every C case runs under (see its header comment).
const LAUNCH_C: &str = include_str!("../../c/launch.c");
/// The python3 case's script.
const PY_SCRIPT: &str = include_str!("../../c/alloc_heavy.py");

/// What a C case runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Program {
    /// One of [`C_SOURCES`], which prints its own `RESULT` line.
    C(&'static str),
    /// `python3 alloc_heavy.py RECORDS` (`PYTHONMALLOC=malloc`), wall time.
    Python,
    /// `sqlite3 :memory: .read FILE` on a script of ROWS rows, wall time.
    Sqlite,
}

/// One C case: its id (also its workload name in the tables), program and
/// arguments at full and `--quick` size.
#[derive(Debug)]
struct Spec {
    id: &'static str,
    program: Program,
    full: &'static str,
    quick: &'static str,
}

/// Every C case, in report order.
const SPECS: [Spec; 7] = [
    Spec {
        id: "c_xmalloc",
        program: Program::C("xmalloc-test"),
        full: "--threads 1 --iters 2000000",
        quick: "--threads 1 --iters 500000",
    },
    Spec {
        id: "c_cache_scratch",
        program: Program::C("cache-scratch"),
        full: "--threads 2 --iters 2000000 --size 8 --reps 10",
        quick: "--threads 2 --iters 500000 --size 8 --reps 10",
    },
    Spec {
        id: "c_cache_thrash",
        program: Program::C("cache-scratch"),
        full: "--threads 2 --iters 2000000 --size 8 --reps 10 --active 1",
        quick: "--threads 2 --iters 500000 --size 8 --reps 10 --active 1",
    },
    Spec {
        id: "c_larson",
        program: Program::C("larson"),
        full: "--threads 2 --ws 1000 --rounds 40 --iters 100000",
        quick: "--threads 2 --ws 1000 --rounds 10 --iters 100000",
    },
    Spec { id: "c_malloc_large", program: Program::C("malloc-large"), full: "--iters 2000", quick: "--iters 500" },
    Spec { id: "py_json", program: Program::Python, full: "16000", quick: "3000" },
    Spec { id: "sqlite", program: Program::Sqlite, full: "200000", quick: "50000" },
];

fn spec_of(case: &Case) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.id == case.id && s.id == case.workload)
}

/// The C cases at full or `--quick` size (the driver appends them to its
/// plan; `--only c_larson` etc. selects them like any case).
pub fn cases(quick: bool) -> Vec<Case> {
    SPECS.iter().map(|s| Case::new(s.id, s.id, if quick { s.quick } else { s.full }, false)).collect()
}

/// Where each allocator's library comes from, found by [`prepare`].
#[derive(Debug, Clone, PartialEq)]
enum Lib {
    /// No preload: glibc's own malloc.
    None,
    /// `LD_PRELOAD=path`.
    Preload(PathBuf),
    /// Not available; the reason (shown in the report).
    Missing(String),
}

/// Everything [`prepare`] found, used by the hooks.
#[derive(Debug, Default)]
struct Setup {
    /// The compiled `launch` program.
    launch: PathBuf,
    libs: Vec<(Alloc, Lib)>,
    /// Case id → full command line (program first).
    argv: HashMap<&'static str, Vec<String>>,
    /// Lines for the report (what was used, what was skipped and why).
    notes: Vec<String>,
}

impl Setup {
    fn lib(&self, alloc: Alloc) -> Lib {
        self.libs
            .iter()
            .find(|(a, _)| *a == alloc)
            .map_or_else(|| Lib::Missing("not prepared".into()), |(_, l)| l.clone())
    }
}

static SETUP: OnceLock<Setup> = OnceLock::new();

/// Environment variable overriding where `alloc`'s library is
/// (`HAKMEM_BENCH_SO_MIMALLOC=/path/libmimalloc.so`).
fn override_var(alloc: Alloc) -> String {
    format!("HAKMEM_BENCH_SO_{}", alloc.name().to_ascii_uppercase())
}

/// Library file names tried for a peer, in order.
fn lib_names(alloc: Alloc) -> &'static [&'static str] {
    match alloc {
        Alloc::Mimalloc => &["libmimalloc.so.2", "libmimalloc.so"],
        Alloc::Jemalloc => &["libjemalloc.so.2", "libjemalloc.so"],
        Alloc::Hakmem => &["libhakmem.so"],
        Alloc::System => &[],
    }
}

const LIB_DIRS: [&str; 6] = [
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
    "/lib/x86_64-linux-gnu",
];

/// The distribution library of a peer, or why there is none.
fn find_peer(alloc: Alloc) -> Lib {
    if let Some(p) = std::env::var_os(override_var(alloc)) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Lib::Preload(p)
        } else {
            Lib::Missing(format!("{} names {}, which is not a file", override_var(alloc), p.display()))
        };
    }
    for dir in LIB_DIRS {
        for name in lib_names(alloc) {
            let p = Path::new(dir).join(name);
            if p.is_file() {
                return Lib::Preload(p);
            }
        }
    }
    let pkg = if alloc == Alloc::Mimalloc { "libmimalloc2.0" } else { "libjemalloc2" };
    Lib::Missing(format!("{} not found (apt-get install {pkg}, or set {})", lib_names(alloc)[0], override_var(alloc)))
}

/// Why `cargo build -p hakmem-capi` failed, from its stderr.
fn capi_failure(stderr: &str) -> String {
    if stderr.contains("did not match any packages") || stderr.contains("package(s) `hakmem-capi` not found") {
        "package hakmem-capi is not in this workspace (no libhakmem.so to preload)".into()
    } else {
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
        format!("`cargo build --release -p hakmem-capi` failed: {last}")
    }
}

/// hakmem's `libhakmem.so`: built with `cargo build --release -p
/// hakmem-capi` into `target` when the driver runs under cargo, else taken
/// from `target/release/` if it is there.
fn find_hakmem(target: &Path) -> Lib {
    if let Some(p) = std::env::var_os(override_var(Alloc::Hakmem)) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Lib::Preload(p)
        } else {
            Lib::Missing(format!("{} names {}, which is not a file", override_var(Alloc::Hakmem), p.display()))
        };
    }
    let so = target.join("release").join("libhakmem.so");
    if let Some(cargo) = std::env::var_os("CARGO") {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
        eprintln!("compare: building libhakmem.so (cargo build --release -p hakmem-capi) ...");
        let out = Command::new(cargo)
            .args(["build", "--release", "--quiet", "-p", "hakmem-capi", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(target)
            .stdin(Stdio::null())
            .output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => return Lib::Missing(capi_failure(&String::from_utf8_lossy(&o.stderr))),
            Err(e) => return Lib::Missing(format!("cannot run cargo: {e}")),
        }
    }
    if so.is_file() {
        Lib::Preload(so)
    } else {
        Lib::Missing(format!("{} not built (cargo build --release -p hakmem-capi)", so.display()))
    }
}

/// Writes `body` to `path` unless it already holds exactly that.
fn write_if_changed(path: &Path, body: &str) -> Result<(), String> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == body) {
        return Ok(());
    }
    std::fs::write(path, body).map_err(|e| format!("write {}: {e}", path.display()))
}

fn mtime(p: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// The gcc command line that builds C program `name` in `dir`.
fn gcc_args(dir: &Path, name: &str) -> Vec<String> {
    let d = dir.display();
    vec!["-O2".into(), "-pthread".into(), "-o".into(), format!("{d}/{name}"), format!("{d}/{name}.c"), "-ldl".into()]
}

/// Compiles C program `name` into `dir` (skipped when the binary is newer
/// than its sources); returns the binary.
fn compile(dir: &Path, name: &str, src: &str) -> Result<PathBuf, String> {
    write_if_changed(&dir.join("bench.h"), BENCH_H)?;
    let c = dir.join(format!("{name}.c"));
    write_if_changed(&c, src)?;
    let bin = dir.join(name);
    let fresh = match (mtime(&bin), mtime(&c), mtime(&dir.join("bench.h"))) {
        (Some(b), Some(s), Some(h)) => b > s && b > h,
        _ => false,
    };
    if fresh {
        return Ok(bin);
    }
    let out = Command::new("gcc")
        .args(gcc_args(dir, name))
        .output()
        .map_err(|e| format!("cannot run gcc: {e} (apt-get install gcc)"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("gcc {name}.c failed: {}", err.lines().next().unwrap_or("")));
    }
    Ok(bin)
}

/// The sqlite3 script of the `sqlite` case: an in-memory database of `rows`
/// rows (insert, index, group, sort, distinct, update, delete). Its output
/// is the same under every allocator.
fn sqlite_script(rows: u64) -> String {
    format!(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, name TEXT, payload BLOB);\n\
         WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {rows})\n\
         INSERT INTO t SELECT x, (x * 7919) % 1000, 'name-' || hex((x * 2654435761) % 4294967296), \
         zeroblob(x % 200) FROM c;\n\
         CREATE INDEX t_k ON t(k, name);\n\
         SELECT k, count(*), sum(length(payload)), max(name) FROM t GROUP BY k ORDER BY 2 DESC, 1 LIMIT 3;\n\
         SELECT count(DISTINCT name) FROM t;\n\
         SELECT name FROM t ORDER BY name DESC LIMIT 1 OFFSET 100;\n\
         UPDATE t SET name = name || '-x' WHERE k % 3 = 0;\n\
         DELETE FROM t WHERE k % 5 = 0;\n\
         SELECT count(*), sum(k), sum(length(name)) FROM t;\n"
    )
}

/// The path of `program` on PATH, if any.
fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(program)).find(|p| p.is_file())
}

/// The real python3 executable (not a pyenv or asdf shim, which is a shell
/// script that the preload would measure too), and its version.
fn find_python() -> Result<(String, String), String> {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable); print(sys.version.split()[0])"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("python3 not runnable: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    match (lines.next(), lines.next()) {
        (Some(exe), Some(ver)) if out.status.success() && Path::new(exe).is_file() => {
            Ok((exe.to_string(), ver.to_string()))
        }
        _ => Err("python3 did not report its executable".into()),
    }
}

/// The full command line of `spec` at `args`, writing what it needs into
/// `dir` (C binary, script); or why it cannot run here.
fn command_line(spec: &Spec, args: &[String], dir: &Path, notes: &mut Vec<String>) -> Result<Vec<String>, String> {
    match spec.program {
        Program::C(name) => {
            let src = C_SOURCES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s).ok_or("unknown C program")?;
            let bin = compile(dir, name, src)?;
            Ok(std::iter::once(bin.display().to_string()).chain(args.iter().cloned()).collect())
        }
        Program::Python => {
            let (exe, ver) = find_python()?;
            let script = dir.join("alloc_heavy.py");
            write_if_changed(&script, PY_SCRIPT)?;
            push_once(notes, format!("`py_json`: Python {ver} (`{exe}`), `PYTHONMALLOC=malloc`"));
            Ok([exe, script.display().to_string()].into_iter().chain(args.iter().cloned()).collect())
        }
        Program::Sqlite => {
            let sqlite = on_path("sqlite3").ok_or("sqlite3 not installed (apt-get install sqlite3)")?;
            let rows: u64 = args.first().and_then(|r| r.parse().ok()).ok_or("sqlite: rows not a number")?;
            let script = dir.join(format!("sqlite-{rows}.sql"));
            write_if_changed(&script, &sqlite_script(rows))?;
            if let Ok(o) = Command::new(&sqlite).arg("--version").stdin(Stdio::null()).output() {
                let v = String::from_utf8_lossy(&o.stdout);
                let v = v.split_whitespace().next().unwrap_or("?");
                push_once(notes, format!("`sqlite`: SQLite {v} (`{}`)", sqlite.display()));
            }
            Ok(vec![sqlite.display().to_string(), ":memory:".into(), format!(".read {}", script.display())])
        }
    }
}

fn push_once(notes: &mut Vec<String>, line: String) {
    if !notes.contains(&line) {
        notes.push(line);
    }
}

/// Hook after the case list is final: compiles the C programs of the chosen
/// C cases, finds the libraries (building `libhakmem.so`), drops C cases
/// whose program cannot run here (with a note), and remembers all of it.
/// `exe` is the driver (`TARGET/PROFILE/compare`). Does nothing when no C
/// case was chosen.
pub fn prepare(cases: &mut Vec<Case>, allocs: &[Alloc], exe: &Path) {
    if !cases.iter().any(|c| spec_of(c).is_some()) {
        return;
    }
    let target = exe.parent().and_then(Path::parent).unwrap_or(Path::new("target")).to_path_buf();
    let dir = target.join("bench-c");
    let mut setup = Setup::default();
    setup.notes.push(
        "The C programs are this project's own C re-implementations of the classic benchmarks, with the \
         parameters listed under Cases (`benches/compare/c/`), not mimalloc-bench's files; compiled with \
         `gcc -O2 -pthread` into `target/bench-c/`."
            .into(),
    );
    for &alloc in allocs {
        let lib = match alloc {
            Alloc::System => Lib::None,
            Alloc::Hakmem => find_hakmem(&target),
            peer => find_peer(peer),
        };
        let line = match &lib {
            Lib::None => format!("{alloc}: glibc malloc, no preload"),
            Lib::Preload(p) => {
                let real = std::fs::canonicalize(p).map(|r| r.display().to_string()).unwrap_or_default();
                format!("{alloc}: `LD_PRELOAD={}` ({real})", p.display())
            }
            Lib::Missing(why) => format!("{alloc}: SKIPPED in the C cases: {why}"),
        };
        eprintln!("compare: C cases: {line}");
        setup.notes.push(line);
        setup.libs.push((alloc, lib));
    }
    if let Err(e) = std::fs::create_dir_all(&dir) {
        setup.notes.push(format!("cannot create {}: {e}", dir.display()));
    }
    match compile(&dir, "launch", LAUNCH_C) {
        Ok(l) => setup.launch = l,
        Err(why) => {
            eprintln!("compare: C cases SKIPPED: {why}");
            setup.notes.push(format!("every C case SKIPPED: {why}"));
            cases.retain(|c| spec_of(c).is_none());
            let _ = SETUP.set(setup);
            return;
        }
    }
    let mut notes = Vec::new();
    cases.retain(|case| {
        let Some(spec) = spec_of(case) else { return true };
        match command_line(spec, &case.args, &dir, &mut notes) {
            Ok(argv) => {
                setup.argv.insert(spec.id, argv);
                true
            }
            Err(why) => {
                let line = format!("`{}` SKIPPED: {why}", spec.id);
                eprintln!("compare: {line}");
                notes.push(line);
                false
            }
        }
    });
    setup.notes.extend(notes);
    let _ = SETUP.set(setup);
}

/// Whether `case` is one of the C cases.
pub fn is_c(case: &Case) -> bool {
    spec_of(case).is_some()
}

/// Hook in the schedule: whether `entrant` sits out C case `case` (its
/// library is missing). False for every other case.
pub fn skip(case: &Case, entrant: Entrant) -> bool {
    match (spec_of(case), entrant, SETUP.get()) {
        (Some(_), Entrant::Alloc(a), Some(s)) => matches!(s.lib(a), Lib::Missing(_)),
        // The floor has no allocator; the secure and extra-environment
        // hakmem columns are Rust-child variants.
        (Some(_), Entrant::Floor | Entrant::Secure | Entrant::HakmemEnv(_), _) => true,
        _ => false,
    }
}

/// Hook in the report's case list: the command line of a C case
/// (`LD_PRELOAD=LIB program args`; no preload for the system allocator).
pub fn describe(case: &Case) -> Option<String> {
    let spec = spec_of(case)?;
    let argv = SETUP.get().and_then(|s| s.argv.get(spec.id));
    Some(match argv {
        Some(v) => format!("LD_PRELOAD=LIB {}", v.join(" ")),
        None => format!("LD_PRELOAD=LIB {:?} {}", spec.program, case.args.join(" ")),
    })
}

/// How a case's figures are taken (report notes).
fn how(program: Program) -> &'static str {
    match program {
        Program::C(_) => "ops/s and time as the program reports them (its timed part)",
        Program::Python => {
            "PYTHONMALLOC=malloc (every object through malloc); ops = records, time = whole process wall time"
        }
        Program::Sqlite => "in-memory database; ops = rows, time = whole process wall time",
    }
}

/// What a finished child left behind.
#[derive(Debug, Default)]
struct Exit {
    status: libc::c_int,
    peak_rss_kib: u64,
    wall: f64,
    timed_out: bool,
    stdout: String,
    stderr: String,
}

/// The launcher's command line for `argv` under `lib`.
fn launch_args(launch: &Path, lib: &Lib, argv: &[String]) -> Vec<String> {
    let mut v = vec![launch.display().to_string()];
    if let Lib::Preload(p) = lib {
        v.push("--preload".into());
        v.push(p.display().to_string());
    }
    v.push("--".into());
    v.extend(argv.iter().cloned());
    v
}

/// Splits the launcher's `LAUNCH status=.. maxrss_kib=.. wall=..` line off
/// the program's output: (status, peak RSS KiB, wall seconds, the rest).
fn parse_launch(stdout: &str) -> Option<(libc::c_int, u64, f64, String)> {
    let (at, line) = stdout.match_indices("LAUNCH ").filter(|(i, _)| *i == 0 || stdout[..*i].ends_with('\n')).last()?;
    let line = stdout[at + line.len()..].lines().next()?;
    let (mut status, mut rss, mut wall) = (None, None, None);
    for field in line.split_whitespace() {
        match field.split_once('=') {
            Some(("status", v)) => status = v.parse().ok(),
            Some(("maxrss_kib", v)) => rss = v.parse().ok(),
            Some(("wall", v)) => wall = v.parse().ok(),
            _ => {}
        }
    }
    Some((status?, rss?, wall?, stdout[..at].to_string()))
}

/// Runs `argv` under the launcher with `lib` preloaded, killing it (and so
/// the program) after `timeout`.
fn spawn_and_wait(launch: &Path, argv: &[String], lib: &Lib, timeout: Duration) -> Result<Exit, String> {
    let full = launch_args(launch, lib, argv);
    let mut cmd = Command::new(&full[0]);
    cmd.args(&full[1..]).env_remove("LD_PRELOAD").env("PYTHONMALLOC", "malloc").env("PYTHONHASHSEED", "0");
    let Finished { exit, timed_out, stdout, stderr } =
        spawn_with_timeout(&mut cmd, timeout).map_err(|e| format!("spawn {}: {e}", full[0]))?;
    let launcher_status = exit?.status;
    if timed_out {
        return Ok(Exit { timed_out, stdout, stderr, ..Exit::default() });
    }
    match parse_launch(&stdout) {
        Some((status, peak_rss_kib, wall, rest)) => {
            Ok(Exit { status, peak_rss_kib, wall, timed_out, stdout: rest, stderr })
        }
        None => {
            Err(format!("launcher failed (status {launcher_status}): {}", stderr.lines().last().unwrap_or("").trim()))
        }
    }
}

/// Whether the `MALLOC_FROM` path a C program printed is `lib`'s malloc.
fn malloc_from_matches(from: &str, lib: &Lib) -> bool {
    match lib {
        Lib::None => Path::new(from).file_name().is_some_and(|n| n.to_string_lossy().starts_with("libc.so")),
        Lib::Preload(p) => {
            Path::new(from) == p.as_path()
                || std::fs::canonicalize(from).ok().is_some_and(|a| std::fs::canonicalize(p).is_ok_and(|b| a == b))
        }
        Lib::Missing(_) => false,
    }
}

/// Turns a finished child into a result: its `RESULT` line (C programs)
/// or `ops / wall time` (real programs), after checking that it exited
/// cleanly, that the preload took effect and that malloc came from `lib`.
fn judge(program: Program, args: &[String], lib: &Lib, exit: &Exit, timeout: Duration) -> RunResult {
    let mut r = RunResult { peak_rss_kib: exit.peak_rss_kib, ..RunResult::default() };
    let last_err = exit.stderr.lines().last().unwrap_or("").trim();
    let st = exit.status;
    r.error = if exit.timed_out {
        Some(format!("timeout after {} s", timeout.as_secs()))
    } else if exit.stderr.contains("cannot be preloaded") {
        Some(format!("preload failed: {last_err}"))
    } else if libc::WIFSIGNALED(st) {
        Some(format!("signal {} {last_err}", libc::WTERMSIG(st)).trim().to_string())
    } else if libc::WEXITSTATUS(st) != 0 {
        Some(format!("exit {}: {last_err}", libc::WEXITSTATUS(st)))
    } else {
        None
    };
    if r.error.is_some() {
        return r;
    }
    match program {
        Program::C(_) => {
            let from = exit.stdout.lines().find_map(|l| l.strip_prefix("MALLOC_FROM ")).unwrap_or("?").trim();
            if !malloc_from_matches(from, lib) {
                r.error = Some(format!("malloc came from {from}, not the allocator under test"));
            } else if let Some((ops, secs)) = exit.stdout.lines().find_map(parse_result_line) {
                r.ops_per_sec = ops;
                r.secs = secs;
            } else {
                r.error = Some("no RESULT line in output".into());
            }
        }
        Program::Python | Program::Sqlite => {
            let ops: f64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(0.0);
            r.secs = exit.wall;
            r.ops_per_sec = if exit.wall > 0.0 { ops / exit.wall } else { 0.0 };
        }
    }
    r
}

/// One C-case run, kept for the report section.
#[derive(Debug, Clone)]
struct Record {
    case: &'static str,
    alloc: Alloc,
    round: usize,
    result: RunResult,
}

static RECORDS: Mutex<Vec<Record>> = Mutex::new(Vec::new());
/// Case id → (allocator, stdout) of the first successful real-program run:
/// every later run must print the same.
static OUTPUTS: Mutex<Vec<(&'static str, Alloc, String)>> = Mutex::new(Vec::new());

/// Hook at the top of the runner: runs C case `case` on `entrant` under its
/// library and returns the result; `None` for every other case.
pub fn run(case: &Case, entrant: Entrant, timeout: Duration) -> Option<RunResult> {
    let spec = spec_of(case)?;
    let fail = |e: String| RunResult { error: Some(e), ..RunResult::default() };
    let Entrant::Alloc(alloc) = entrant else { return Some(fail("no floor for C cases".into())) };
    let Some(setup) = SETUP.get() else { return Some(fail("C cases not prepared".into())) };
    let lib = setup.lib(alloc);
    let result = match (&lib, setup.argv.get(spec.id)) {
        (Lib::Missing(why), _) => fail(why.clone()),
        (_, None) => fail("program not available".into()),
        (_, Some(argv)) => match spawn_and_wait(&setup.launch, argv, &lib, timeout) {
            Err(e) => fail(e),
            Ok(exit) => {
                let mut r = judge(spec.program, &case.args, &lib, &exit, timeout);
                if r.error.is_none() && !matches!(spec.program, Program::C(_)) {
                    r.error = same_output(spec.id, alloc, &exit.stdout);
                }
                r
            }
        },
    };
    let mut records = RECORDS.lock().unwrap_or_else(|e| e.into_inner());
    let round = records.iter().filter(|r| r.case == spec.id && r.alloc == alloc).count();
    records.push(Record { case: spec.id, alloc, round, result: result.clone() });
    Some(result)
}

/// `None` if `stdout` is what the first successful run of `case` printed.
fn same_output(case: &'static str, alloc: Alloc, stdout: &str) -> Option<String> {
    let mut seen = OUTPUTS.lock().unwrap_or_else(|e| e.into_inner());
    match seen.iter().find(|(c, _, _)| *c == case) {
        None => {
            seen.push((case, alloc, stdout.to_string()));
            None
        }
        Some((_, first, out)) if out != stdout => {
            Some(format!("output differs from {first}'s: {:?}", stdout.lines().next().unwrap_or("")))
        }
        Some(_) => None,
    }
}

/// Median over rounds of `f(a's run) / f(b's run)` on `case`, over rounds
/// where both succeeded.
fn paired(records: &[Record], case: &str, a: Alloc, b: Alloc, f: impl Fn(&RunResult) -> f64) -> Option<f64> {
    let ok = |alloc: Alloc, round: usize| {
        records.iter().find(|r| r.case == case && r.alloc == alloc && r.round == round && r.result.error.is_none())
    };
    let ratios = records
        .iter()
        .filter(|r| r.case == case && r.alloc == a)
        .filter_map(|r| match (ok(a, r.round), ok(b, r.round)) {
            (Some(x), Some(y)) if f(&y.result) > 0.0 => Some(f(&x.result) / f(&y.result)),
            _ => None,
        })
        .collect();
    median(ratios)
}

/// The time and RSS table of the C cases, as markdown.
fn section(records: &[Record], notes: &[String]) -> String {
    let mut md = String::from("\n## C programs under LD_PRELOAD\n\n");
    for n in notes {
        let _ = writeln!(md, "- {n}");
    }
    for spec in SPECS.iter().filter(|s| records.iter().any(|r| r.case == s.id)) {
        let _ = writeln!(md, "- `{}`: {}", spec.id, how(spec.program));
    }
    md.push_str(
        "\nTime is the program's own timed part (C programs) or the whole process's wall time (python3, \
         sqlite3); peak RSS is the child's `ru_maxrss`. Ratios are medians of per-round ratios; \
         `÷ system` < 1 means less time or memory than glibc, `hakmem ÷ this` < 1 means hakmem needs \
         less than this allocator.\n\n\
         | case | allocator | median time | peak RSS | time ÷ system | RSS ÷ system | hakmem time ÷ this | \
         hakmem RSS ÷ this | runs ok |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    let r2 = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |x| format!("{x:.2}x"));
    for spec in &SPECS {
        for alloc in Alloc::ALL {
            let runs: Vec<&Record> = records.iter().filter(|r| r.case == spec.id && r.alloc == alloc).collect();
            if runs.is_empty() {
                continue;
            }
            let ok: Vec<&RunResult> = runs.iter().map(|r| &r.result).filter(|r| r.error.is_none()).collect();
            let secs = median(ok.iter().map(|r| r.secs).collect());
            let rss = median(ok.iter().map(|r| r.peak_rss_kib as f64).collect());
            let time = |r: &RunResult| r.secs;
            let mem = |r: &RunResult| r.peak_rss_kib as f64;
            let (vs_sys_t, vs_sys_m) = if alloc == Alloc::System {
                (None, None)
            } else {
                (
                    paired(records, spec.id, alloc, Alloc::System, time),
                    paired(records, spec.id, alloc, Alloc::System, mem),
                )
            };
            let (hk_t, hk_m) = if alloc == Alloc::Hakmem {
                (None, None)
            } else {
                (
                    paired(records, spec.id, Alloc::Hakmem, alloc, time),
                    paired(records, spec.id, Alloc::Hakmem, alloc, mem),
                )
            };
            let mut runs_ok = format!("{}/{}", ok.len(), runs.len());
            if let Some(e) = runs.iter().find_map(|r| r.result.error.as_deref()) {
                let _ = write!(runs_ok, " FAIL: {e}");
            }
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                spec.id,
                alloc,
                secs.map_or_else(|| "—".into(), |s| format!("{s:.3} s")),
                rss.map_or_else(|| "—".into(), |k| fmt_mib(k as u64)),
                r2(vs_sys_t),
                r2(vs_sys_m),
                r2(hk_t),
                r2(hk_m),
                runs_ok,
            );
        }
    }
    md
}

/// Hook after the report is written: appends the C section (libraries,
/// skipped allocators, time and RSS ratios) to `compare.md` and prints it.
/// The C cases' ops/s, hakmem/this and peak RSS are already in the main
/// tables, CSV files and chart like every other case.
pub fn append_report(out: &Path) -> Result<(), String> {
    let Some(setup) = SETUP.get() else { return Ok(()) };
    let records = RECORDS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let md = section(&records, &setup.notes);
    print!("{md}");
    let path = out.join("compare.md");
    let mut body = std::fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
    body.push_str(&md);
    std::fs::write(&path, body).map_err(|e| format!("write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit_ok(stdout: &str) -> Exit {
        Exit { wall: 2.0, stdout: stdout.into(), ..Exit::default() }
    }

    #[test]
    fn every_c_case_has_a_spec_and_no_floor() {
        for quick in [false, true] {
            let cs = cases(quick);
            assert_eq!(cs.len(), SPECS.len());
            assert!(cs.iter().all(|c| spec_of(c).is_some() && !c.floor));
        }
        // A Rust case of the same workload name is not a C case.
        assert!(spec_of(&Case::new("larson", "larson", "", false)).is_none());
    }

    #[test]
    fn c_program_result_is_parsed_and_its_malloc_checked() {
        let lib = Lib::None;
        let good = "MALLOC_FROM /lib/x86_64-linux-gnu/libc.so.6\nRESULT ops_per_sec=1000.0 secs=0.5 ops=500\n";
        let r = judge(Program::C("larson"), &[], &lib, &exit_ok(good), Duration::from_secs(1));
        assert_eq!((r.error, r.ops_per_sec, r.secs), (None, 1000.0, 0.5));
        // The preload silently did not happen: malloc came from libc.
        let lib = Lib::Preload(PathBuf::from("/nonexistent/libmimalloc.so.2"));
        let r = judge(Program::C("larson"), &[], &lib, &exit_ok(good), Duration::from_secs(1));
        assert!(r.error.as_deref().is_some_and(|e| e.contains("malloc came from")), "{:?}", r.error);
        let from_lib = "MALLOC_FROM /nonexistent/libmimalloc.so.2\nRESULT ops_per_sec=7.0 secs=1.0\n";
        let r = judge(Program::C("larson"), &[], &lib, &exit_ok(from_lib), Duration::from_secs(1));
        assert_eq!(r.error, None);
        let no_result = "MALLOC_FROM /nonexistent/libmimalloc.so.2\n";
        let r = judge(Program::C("larson"), &[], &lib, &exit_ok(no_result), Duration::from_secs(1));
        assert_eq!(r.error.as_deref(), Some("no RESULT line in output"));
    }

    #[test]
    fn real_programs_use_wall_time_and_failures_are_named() {
        let args = vec!["3000".to_string()];
        let r = judge(Program::Python, &args, &Lib::None, &exit_ok("digest x\n"), Duration::from_secs(1));
        assert_eq!((r.error, r.ops_per_sec, r.secs), (None, 1500.0, 2.0));
        let preload_err = Exit {
            stderr: "ERROR: ld.so: object '/x.so' from LD_PRELOAD cannot be preloaded: ignored.\n".into(),
            ..exit_ok("")
        };
        let r = judge(Program::Sqlite, &args, &Lib::None, &preload_err, Duration::from_secs(1));
        assert!(r.error.as_deref().is_some_and(|e| e.starts_with("preload failed")), "{:?}", r.error);
        let crashed = Exit { status: libc::SIGSEGV, ..exit_ok("") };
        let r = judge(Program::Sqlite, &args, &Lib::None, &crashed, Duration::from_secs(1));
        assert_eq!(r.error.as_deref(), Some("signal 11"));
        let failed = Exit { status: 3 << 8, stderr: "oops\n".into(), ..exit_ok("") };
        let r = judge(Program::Sqlite, &args, &Lib::None, &failed, Duration::from_secs(1));
        assert_eq!(r.error.as_deref(), Some("exit 3: oops"));
        let hung = Exit { timed_out: true, status: libc::SIGKILL, ..exit_ok("") };
        let r = judge(Program::Sqlite, &args, &Lib::None, &hung, Duration::from_secs(9));
        assert_eq!(r.error.as_deref(), Some("timeout after 9 s"));
    }

    #[test]
    fn launcher_line_is_split_off() {
        let out = "digest 1\nLAUNCH status=256 maxrss_kib=1500 wall=0.25\n";
        assert_eq!(parse_launch(out), Some((256, 1500, 0.25, "digest 1\n".to_string())));
        assert_eq!(parse_launch("digest 1\n"), None);
        // A program line merely containing the word is not the launcher's.
        assert_eq!(parse_launch("xLAUNCH status=0 maxrss_kib=1 wall=1\n"), None);
        let lib = Lib::Preload(PathBuf::from("/l/libjemalloc.so.2"));
        let args = launch_args(Path::new("/t/launch"), &lib, &["prog".into(), "-x".into()]);
        assert_eq!(args.join(" "), "/t/launch --preload /l/libjemalloc.so.2 -- prog -x");
        assert_eq!(launch_args(Path::new("/t/launch"), &Lib::None, &["p".into()]).join(" "), "/t/launch -- p");
    }

    /// End to end through gcc, the launcher and a C program (skipped where
    /// gcc is missing). The driver here holds 64 MiB; a program started
    /// straight from it reports that as its peak RSS (the negative control:
    /// the reason the launcher exists), one started by the launcher its own.
    #[test]
    fn launcher_reports_the_programs_own_peak_rss() {
        if Command::new("gcc").arg("--version").output().is_err() {
            eprintln!("gcc missing: skipped");
            return;
        }
        let dir = std::env::temp_dir().join(format!("hakmem-bench-preload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let launch = compile(&dir, "launch", LAUNCH_C).unwrap();
        let prog = compile(&dir, "xmalloc-test", C_SOURCES[0].1).unwrap();
        let big = vec![1u8; 64 << 20];
        assert_eq!(big.iter().step_by(4096).map(|&b| b as usize).sum::<usize>(), 16384);
        let argv = vec![prog.display().to_string(), "--iters".into(), "20000".into()];
        let exit = spawn_and_wait(&launch, &argv, &Lib::None, Duration::from_secs(60)).unwrap();
        let r = judge(Program::C("xmalloc-test"), &[], &Lib::None, &exit, Duration::from_secs(60));
        assert_eq!(r.error, None, "{exit:?}");
        assert!(r.ops_per_sec > 0.0 && r.peak_rss_kib > 0);
        assert!(r.peak_rss_kib < 32 << 10, "launcher reported {} KiB", r.peak_rss_kib);
        // Negative control: the same program spawned directly.
        #[allow(clippy::zombie_processes)] // reaped by the `wait4` below
        let child = Command::new(&prog).args(["--iters", "20000"]).stdout(Stdio::null()).spawn().unwrap();
        let mut status = 0;
        // SAFETY: plain old data; all-zero is valid.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: our unreaped child; both pointers valid for writes.
        let rc = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut ru) };
        assert_eq!(rc, child.id() as libc::pid_t);
        assert!(ru.ru_maxrss >= 64 << 10, "direct spawn reported {} KiB", ru.ru_maxrss);
        drop(big);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn capi_build_failures_are_told_apart() {
        let missing = "error: package ID specification `hakmem-capi` did not match any packages\n";
        assert!(capi_failure(missing).contains("not in this workspace"));
        let broken = "   Compiling hakmem-capi v0.1.0\nerror: could not compile `hakmem-capi`\n\n";
        assert_eq!(
            capi_failure(broken),
            "`cargo build --release -p hakmem-capi` failed: error: could not compile `hakmem-capi`"
        );
    }

    #[test]
    fn gcc_and_sqlite_arguments() {
        let args = gcc_args(Path::new("/t/bench-c"), "larson");
        assert_eq!(args.join(" "), "-O2 -pthread -o /t/bench-c/larson /t/bench-c/larson.c -ldl");
        let sql = sqlite_script(123);
        assert!(sql.contains("WHERE x < 123)"));
        assert_eq!(sql.matches(';').count(), 9);
    }

    #[test]
    fn peers_are_skipped_only_in_c_cases() {
        // Before `prepare` nothing is skipped except the floor of a C case.
        let c = &cases(true)[0];
        assert!(skip(c, Entrant::Floor));
        assert!(!skip(&Case::new("fixed_16", "fixed", "1 16 64", true), Entrant::Floor));
    }

    #[test]
    fn section_pairs_rounds_and_names_failures() {
        let ok = |secs: f64, rss: u64| RunResult {
            secs,
            peak_rss_kib: rss,
            ops_per_sec: 1.0,
            error: None,
            ..RunResult::default()
        };
        let rec = |alloc, round, result| Record { case: "c_larson", alloc, round, result };
        let records = vec![
            rec(Alloc::System, 0, ok(2.0, 100)),
            rec(Alloc::Mimalloc, 0, ok(1.0, 150)),
            rec(Alloc::System, 1, ok(4.0, 100)),
            rec(Alloc::Mimalloc, 1, ok(2.0, 150)),
            rec(Alloc::System, 2, ok(3.0, 100)),
            rec(Alloc::Mimalloc, 2, RunResult { error: Some("signal 11".into()), ..RunResult::default() }),
        ];
        assert_eq!(paired(&records, "c_larson", Alloc::Mimalloc, Alloc::System, |r| r.secs), Some(0.5));
        assert_eq!(paired(&records, "c_larson", Alloc::Hakmem, Alloc::System, |r| r.secs), None);
        let md = section(&records, &["hakmem: SKIPPED in the C cases: no library".into()]);
        assert!(md.contains("- hakmem: SKIPPED"));
        assert!(
            md.contains("| c_larson | mimalloc | 1.500 s | 0.1 MiB | 0.50x | 1.50x | — | — | 2/3 FAIL: signal 11 |"),
            "{md}"
        );
        assert!(md.contains("| c_larson | system | 3.000 s |"), "{md}");
    }
}
