//! The `compare` driver: runs every workload case on every allocator as a
//! child process (`compare --child WORKLOAD ... --alloc NAME`, i.e. this same
//! executable), interleaving allocators run by run, and writes the report
//! (`report`), the CSV files and the SVG chart (`svg`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::cli::Args;
use crate::dispatch::Alloc;

pub mod preload;
pub mod report;
pub mod runner;
pub mod svg;

/// How the child binaries were built: the two ways users build a Rust
/// service, or whatever sits next to the driver when it is run directly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Build {
    /// Cargo's default `release` profile: no LTO, 16 codegen units. Most
    /// services ship this; the figures quoted first.
    NoLto,
    /// Fat LTO and one codegen unit (this workspace's `release` profile):
    /// hakmem's Rust fast path inlines into the caller.
    Lto,
    /// The `child_*` binaries found next to the driver (run directly, not
    /// under `cargo run`): built however the user built them.
    AsBuilt,
}

impl Build {
    /// Short name (CSV, `--builds`, directory names).
    pub fn id(self) -> &'static str {
        match self {
            Build::NoLto => "nolto",
            Build::Lto => "lto",
            Build::AsBuilt => "as-built",
        }
    }

    /// Heading text.
    pub fn label(self) -> &'static str {
        match self {
            Build::NoLto => "cargo's default release profile (no LTO, 16 codegen units)",
            Build::Lto => "fat LTO, 1 codegen unit",
            Build::AsBuilt => "child binaries as found next to compare",
        }
    }

    fn from_id(s: &str) -> Option<Build> {
        match s {
            "nolto" => Some(Build::NoLto),
            "lto" => Some(Build::Lto),
            _ => None,
        }
    }

    /// Cargo profile overrides (environment) that make `--release` this build.
    pub fn cargo_env(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Build::NoLto => &[
                ("CARGO_PROFILE_RELEASE_LTO", "false"),
                ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"),
                ("CARGO_PROFILE_RELEASE_DEBUG", "0"),
            ],
            Build::Lto => &[
                ("CARGO_PROFILE_RELEASE_LTO", "fat"),
                ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1"),
                ("CARGO_PROFILE_RELEASE_DEBUG", "0"),
            ],
            Build::AsBuilt => &[],
        }
    }
}

/// A hakmem column run with extra environment (e.g. `HAKMEM_THP=0`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct EnvVariant {
    /// Column name: `hakmem HAKMEM_THP=0`.
    pub label: String,
    /// The variables set for the child.
    pub vars: Vec<(String, String)>,
}

/// Who runs a case: an allocator, a hakmem variant, or the `floor` free list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Entrant {
    /// A real allocator.
    Alloc(Alloc),
    /// hakmem built with its `secure` feature (`child_hakmem_secure`).
    Secure,
    /// hakmem with extra environment (`--hakmem-env`).
    HakmemEnv(&'static EnvVariant),
    /// The `floor` workload (fixed-size cases only).
    Floor,
}

impl Entrant {
    /// Name in tables and progress lines.
    pub fn name(self) -> &'static str {
        match self {
            Entrant::Alloc(a) => a.name(),
            Entrant::Secure => "hakmem-secure",
            Entrant::HakmemEnv(v) => &v.label,
            Entrant::Floor => "floor",
        }
    }

    /// A hakmem build or setting other than the plain one.
    pub fn is_variant(self) -> bool {
        matches!(self, Entrant::Secure | Entrant::HakmemEnv(_))
    }

    /// A peer allocator (not hakmem, not the floor).
    pub fn is_peer(self) -> bool {
        matches!(self, Entrant::Alloc(a) if a != Alloc::Hakmem)
    }
}

/// An extra figure a macro case reports (`x.KEY=` on its `RESULT` line).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric {
    /// Key on the `RESULT` line.
    pub key: &'static str,
    /// Row label.
    pub label: &'static str,
    /// Unit after conversion (`ms`, `s`, `MiB`).
    pub unit: &'static str,
    /// Multiplier from the raw value to `unit` (KiB -> MiB: 1/1024).
    pub scale: f64,
}

const SERVICE_METRICS: &[Metric] = &[
    Metric { key: "p99_ms", label: "p99 latency", unit: "ms", scale: 1.0 },
    Metric { key: "p50_ms", label: "p50 latency", unit: "ms", scale: 1.0 },
];
const BATCH_METRICS: &[Metric] = &[
    Metric { key: "total_s", label: "total time", unit: "s", scale: 1.0 },
    Metric { key: "gen_s", label: "gen phase", unit: "s", scale: 1.0 },
    Metric { key: "parse_s", label: "parse phase", unit: "s", scale: 1.0 },
    Metric { key: "aggregate_s", label: "aggregate phase", unit: "s", scale: 1.0 },
    Metric { key: "sort_s", label: "sort phase", unit: "s", scale: 1.0 },
    Metric { key: "serialize_s", label: "serialize phase", unit: "s", scale: 1.0 },
    Metric { key: "rayon_s", label: "rayon phase", unit: "s", scale: 1.0 },
    Metric { key: "free_s", label: "free phase", unit: "s", scale: 1.0 },
];
const CHURN_METRICS: &[Metric] = &[
    Metric { key: "rss_growth_kib", label: "RSS growth (after late frees)", unit: "MiB", scale: 1.0 / 1024.0 },
    Metric { key: "rss_held_kib", label: "RSS after churn (kept blocks live)", unit: "MiB", scale: 1.0 / 1024.0 },
];

/// One row group of the report: a workload with fixed arguments, on one build.
#[derive(Debug, Clone)]
pub struct Case {
    /// Short identifier (table rows, CSV, chart).
    pub id: &'static str,
    /// The workload run by the child.
    pub workload: &'static str,
    /// The workload's arguments.
    pub args: Vec<String>,
    /// Whether the `floor` runs the same arguments as a reference.
    pub floor: bool,
    /// How the children running it were built.
    pub build: Build,
    /// Extra figures (macro cases); empty for the microbenchmarks.
    pub metrics: &'static [Metric],
    /// What the throughput counts, for the macro table (`req/s`).
    pub rate_label: &'static str,
    /// Where the workload comes from, when it re-implements a classic one.
    pub origin: Option<&'static str>,
    /// Runs of this case per `--runs` (1 for most; the quick service runs
    /// twice as many, half as long: see [`plan`]).
    pub runs_scale: usize,
}

impl Case {
    pub(crate) fn new(id: &'static str, workload: &'static str, args: &str, floor: bool) -> Case {
        Case {
            id,
            workload,
            args: args.split_whitespace().map(String::from).collect(),
            floor,
            build: Build::NoLto,
            metrics: &[],
            rate_label: "ops/s",
            origin: None,
            runs_scale: 1,
        }
    }

    fn runs_scale(mut self, k: usize) -> Case {
        self.runs_scale = k.max(1);
        self
    }

    /// Runs of this case and entrant when `--runs` is `runs`.
    pub fn runs(&self, runs: usize) -> usize {
        runs * self.runs_scale
    }

    fn macro_case(mut self, metrics: &'static [Metric], rate_label: &'static str) -> Case {
        self.metrics = metrics;
        self.rate_label = rate_label;
        self
    }

    fn origin(mut self, note: &'static str) -> Case {
        self.origin = Some(note);
        self
    }

    /// A macro case (service, batch, thread churn), reported with its
    /// extra figures.
    pub fn is_macro(&self) -> bool {
        !self.metrics.is_empty()
    }

    /// The equivalent single-program command line (for the report); `NAME`
    /// stands for the allocator (`child_hakmem`, `child_mimalloc`, ...).
    pub fn command(&self) -> String {
        if let Some(c) = preload::describe(self) {
            return c;
        }
        format!("child_NAME {} {}", self.workload, self.args.join(" "))
    }

    /// The seed program this case reproduces, if any.
    pub fn seed_program(&self) -> Option<&'static str> {
        match self.workload {
            "fixed" => Some("bench_fixed_size"),
            "random_mixed" => Some("bench_random_mixed"),
            _ => None,
        }
    }
}

/// Said of the cases that re-implement a classic benchmark.
const OWN_REIMPL: &str = "our own Rust re-implementation with its own parameters, not mimalloc-bench's program";

/// The cases, sized for a full run or for `--quick` (about a minute in all
/// on two cores per build), each for the default build (the caller copies
/// them per build).
pub fn plan(quick: bool) -> Vec<Case> {
    let q = |full: &'static str, quick_args: &'static str| if quick { quick_args } else { full };
    vec![
        // Macro cases first: real programs' behaviour decides defaults.
        // Quick: twice the runs, each half as long (0.25 s + 0.75 s instead
        // of 0.5 s + 1.5 s). On a shared 2-core machine one service run
        // lands at about 55k or about 75k req/s for every allocator alike
        // (the process, not the allocator, picks the mode), so the median of
        // 3 runs was a coin toss between modes; 6 runs cost about the same
        // time and give a steadier median.
        Case::new(
            "service",
            "service",
            q("--conns 64 --secs 4 --warmup 1", "--conns 64 --secs 0.75 --warmup 0.25"),
            false,
        )
        .macro_case(SERVICE_METRICS, "req/s")
        .runs_scale(if quick { 2 } else { 1 }),
        Case::new("batch", "batch", q("--records 200000", "--records 50000"), false)
            .macro_case(BATCH_METRICS, "records/s"),
        Case::new("thread_churn", "thread-churn", q("--threads 4000", "--threads 1000"), false)
            .macro_case(CHURN_METRICS, "ops/s"),
        // The seed's headline case and its 16-byte twin, verbatim.
        Case::new("fixed_256", "fixed", "10000 256 128", true),
        Case::new("fixed_16", "fixed", "10000 16 64", true),
        Case::new("random_mixed_t1", "random_mixed", q("20000000 --threads 1", "5000000 --threads 1"), false),
        Case::new("random_mixed_t2", "random_mixed", q("20000000 --threads 2", "5000000 --threads 2"), false),
        Case::new("xmalloc", "xmalloc", q("--iters 4000000 --threads 1", "--iters 1000000 --threads 1"), false)
            .origin(OWN_REIMPL),
        Case::new(
            "larson",
            "larson",
            q("--threads 2 --ws 1000 --rounds 40 --iters 200000", "--threads 2 --ws 1000 --rounds 20 --iters 100000"),
            false,
        )
        .origin(OWN_REIMPL),
        Case::new(
            "cache_scratch",
            "cache-scratch",
            q("--threads 2 --iters 4000000 --size 8 --reps 10", "--threads 2 --iters 1000000 --size 8 --reps 10"),
            false,
        )
        .origin(OWN_REIMPL),
        Case::new("malloc_large", "malloc-large", q("--iters 4000", "--iters 1000"), false),
        Case::new("medium", "medium", q("--iters 20000", "--iters 5000"), false),
        Case::new("realloc_growth", "realloc-growth", q("--mb 100 --repeats 5", "--mb 100 --repeats 2"), false),
        // Three times the runs: one run takes about 0.1 s, and its rate
        // swings 3x from run to run for every allocator alike (how fast this
        // virtual machine backs fresh pages and clears them), so the median
        // ratio over mimalloc read anywhere from 0.89x to 1.91x in runs of 7
        // to 20 pairs; 40 pairs read 0.92x (no LTO) and 1.02x (fat LTO).
        Case::new("calloc", "calloc", q("--rounds 20", "--rounds 5"), false).runs_scale(3),
    ]
}

/// Settings of one `compare` invocation.
#[derive(Debug, Clone)]
pub struct Config {
    /// Runs per case and entrant.
    pub runs: usize,
    /// Smaller sizes and 3 runs.
    pub quick: bool,
    /// Output folder.
    pub out: PathBuf,
    /// Allocators, in report order.
    pub allocs: Vec<Alloc>,
    /// Whether the `hakmem-secure` column runs.
    pub secure: bool,
    /// hakmem columns with extra environment.
    pub env_variants: Vec<&'static EnvVariant>,
    /// Builds of the children, quoted in this order.
    pub builds: Vec<Build>,
    /// Case ids (or workload names) to keep; all when empty.
    pub only: Vec<String>,
    /// Per-child time limit.
    pub timeout: Duration,
    /// Measure through the runtime switch when the children do not build.
    pub allow_fallback: bool,
}

const USAGE: &str = "\
usage: compare [--quick] [--runs N] [--out DIR] [--only CASE,...] [--allocs A,...] [--builds B,...]
               [--hakmem-env VAR=VAL[+VAR=VAL],...] [--no-secure] [--timeout SECS] [--allow-fallback] [--list]
       compare --child WORKLOAD [workload args] [--alloc A]
  --quick     3 runs and smaller sizes; builds only the no-LTO children unless --builds says otherwise
  --runs N    runs per case and allocator (default 7, quick 3)
  --out DIR   where compare.md, compare.csv, compare-runs.csv, compare.svg go (default bench-results)
  --only      comma-separated case ids or workload names (default: all)
  --allocs    comma-separated allocators (default hakmem,system,mimalloc,jemalloc)
  --builds    nolto,lto (default both; quick: nolto): how the child binaries are built
  --hakmem-env  extra hakmem columns, each with its environment, e.g. HAKMEM_THP=0,HAKMEM_THP=1
  --no-secure   leave out the hakmem-secure column (hakmem built with its `secure` feature)
  --timeout   seconds before a child is killed and counted as failed (default 120, quick 60)
  --allow-fallback  if the child binaries cannot be built, measure through the runtime switch
                    (moves results by up to 2x) instead of failing
  --list      print the cases and exit";

impl Config {
    fn parse(args: &mut Args) -> Result<Config, String> {
        let quick = args.take_switch("--quick");
        let runs = args.take_or("runs", if quick { 3 } else { 7 })?;
        if runs == 0 {
            return Err("--runs must be > 0".into());
        }
        let out = PathBuf::from(args.take("out").unwrap_or_else(|| "bench-results".into()));
        let allocs = match args.take("allocs") {
            None => Alloc::ALL.to_vec(),
            Some(list) => list
                .split(',')
                .map(|n| Alloc::from_name(n.trim().as_bytes()).ok_or(format!("--allocs: unknown {n:?}")))
                .collect::<Result<Vec<_>, _>>()?,
        };
        if allocs.is_empty() {
            return Err("--allocs: empty".into());
        }
        let builds = match args.take("builds") {
            None if quick => vec![Build::NoLto],
            None => vec![Build::NoLto, Build::Lto],
            Some(list) => list
                .split(',')
                .map(|b| Build::from_id(b.trim()).ok_or(format!("--builds: unknown {b:?} (nolto, lto)")))
                .collect::<Result<Vec<_>, _>>()?,
        };
        if builds.is_empty() {
            return Err("--builds: empty".into());
        }
        let env_variants = match args.take("hakmem-env") {
            None => Vec::new(),
            Some(list) => list.split(',').map(parse_env_variant).collect::<Result<Vec<_>, _>>()?,
        };
        let secure = !args.take_switch("--no-secure") && allocs.contains(&Alloc::Hakmem);
        let only = args.take("only").map(|l| l.split(',').map(|s| s.trim().to_string()).collect()).unwrap_or_default();
        let timeout = Duration::from_secs(args.take_or("timeout", if quick { 60 } else { 120 })?);
        let allow_fallback = args.take_switch("--allow-fallback");
        Ok(Config { runs, quick, out, allocs, secure, env_variants, builds, only, timeout, allow_fallback })
    }

    /// Every entrant measured on allocator cases, in report order.
    fn entrants(&self) -> Vec<Entrant> {
        let mut v: Vec<Entrant> = self.allocs.iter().map(|&a| Entrant::Alloc(a)).collect();
        if self.secure {
            v.push(Entrant::Secure);
        }
        v.extend(self.env_variants.iter().map(|&e| Entrant::HakmemEnv(e)));
        v
    }
}

/// `HAKMEM_THP=0+HAKMEM_RETAIN_MB=8` -> a hakmem column with those variables.
fn parse_env_variant(spec: &str) -> Result<&'static EnvVariant, String> {
    let vars = spec
        .trim()
        .split('+')
        .map(|kv| {
            kv.split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or(format!("--hakmem-env: {kv:?} is not VAR=VALUE"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Lives for the whole run; a handful of bytes, leaked once.
    Ok(Box::leak(Box::new(EnvVariant { label: format!("hakmem {}", spec.trim().replace('+', " ")), vars })))
}

/// The case list for `--list`.
fn list(cfg: &Config) -> String {
    let mut s = format!(
        "cases ({} sizes; `--only ID,...`; each runs on every allocator, per build: {}):\n",
        if cfg.quick { "quick" } else { "full" },
        cfg.builds.iter().map(|b| b.id()).collect::<Vec<_>>().join(", ")
    );
    for c in plan(cfg.quick) {
        let about = crate::workloads::find(c.workload).map_or_else(
            || match c.workload {
                "service" => "hyper HTTP JSON server (2 tokio workers), closed-loop load generator over loopback",
                "batch" => "serde_json parse of JSON lines, HashMap/BTreeMap aggregate, sort, serialize, rayon pass",
                _ => "(a workload of the `macro` feature)",
            },
            |w| w.about,
        );
        let _ = std::fmt::Write::write_fmt(
            &mut s,
            format_args!(
                "  {:<16} {}{}{}\n      {about}{}\n",
                c.id,
                c.command(),
                if c.is_macro() { "   [macro]" } else { "" },
                if c.runs_scale > 1 { format!("   [{}x runs]", c.runs_scale) } else { String::new() },
                c.origin.map(|o| format!("\n      {o}")).unwrap_or_default()
            ),
        );
    }
    s
}

/// Says which cases run more often than `--runs` (empty if none):
/// ` (service: 6)`.
fn runs_note(cases: &[Case], runs: usize) -> String {
    let mut more: Vec<String> = Vec::new();
    for c in cases.iter().filter(|c| c.runs_scale > 1) {
        let s = format!("{}: {}", c.id, c.runs(runs));
        if !more.contains(&s) {
            more.push(s);
        }
    }
    if more.is_empty() {
        String::new()
    } else {
        format!(" ({})", more.join(", "))
    }
}

/// One scheduled child run.
struct Job<'a> {
    case: &'a Case,
    case_index: usize,
    entrant: Entrant,
    run: usize,
}

/// Row `row` of a Williams design for `n` entrants: the order of run
/// `row`. Over `n` consecutive runs (`2n` when `n` is odd), every entrant
/// goes first once per `n` runs, and runs right after every other entrant
/// equally often. A plain rotation keeps each entrant's predecessor fixed,
/// and the predecessor moves the figures: `calloc` ran 1.4x faster for
/// mimalloc after glibc than after jemalloc (jemalloc's 130 MiB exit changes
/// what the kernel hands out next), and 0.9x for hakmem.
fn williams_order(n: usize, row: usize) -> Vec<usize> {
    let period = if n.is_multiple_of(2) { n } else { 2 * n };
    let row = row % period.max(1);
    // 0, 1, n-1, 2, n-2, ...: the differences between neighbours are all
    // distinct mod n, so shifting the row by r gives every ordered pair once.
    let base = (0..n).map(|j| {
        if j == 0 {
            0
        } else if j % 2 == 1 {
            j.div_ceil(2)
        } else {
            n - j / 2
        }
    });
    let mut order: Vec<usize> = base.map(|b| (b + row % n) % n).collect();
    if row >= n {
        // Odd n: the second half of the period runs the rows reversed.
        order.reverse();
    }
    order
}

/// The interleaved schedule: run by run, case by case, every entrant, in
/// the orders of [`williams_order`] (no entrant always first, none always
/// after the same neighbour).
fn schedule<'a>(cases: &'a [Case], cfg: &Config) -> Vec<Job<'a>> {
    let mut jobs = Vec::new();
    let rounds = cases.iter().map(|c| c.runs(cfg.runs)).max().unwrap_or(0);
    for run in 0..rounds {
        for (case_index, case) in cases.iter().enumerate() {
            if run >= case.runs(cfg.runs) {
                continue;
            }
            let all = cfg.entrants();
            let n = all.len();
            let mut entrants: Vec<Entrant> = williams_order(n, run).into_iter().map(|i| all[i]).collect();
            if case.floor {
                entrants.push(Entrant::Floor);
            }
            for entrant in entrants {
                if preload::skip(case, entrant) {
                    continue;
                }
                jobs.push(Job { case, case_index, entrant, run });
            }
        }
    }
    jobs
}

/// `compare` without `--child`: the whole comparison.
pub fn main(mut args: Args) -> Result<(), String> {
    if args.take_switch("--help") || args.take_switch("-h") {
        println!("{USAGE}");
        return Ok(());
    }
    let want_list = args.take_switch("--list");
    let mut cfg = Config::parse(&mut args)?;
    args.finish().map_err(|e| format!("{e}\n{USAGE}"))?;
    if want_list {
        print!("{}", list(&cfg));
        return Ok(());
    }
    let mut cases = plan(cfg.quick);
    cases.extend(preload::cases(cfg.quick));
    if !cfg.only.is_empty() {
        cases.retain(|c| cfg.only.iter().any(|o| o == c.id || o == c.workload));
        if cases.is_empty() {
            return Err(format!("--only matched no case: {}", cfg.only.join(",")));
        }
    }
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    preload::prepare(&mut cases, &cfg.allocs, &exe);
    let launch = runner::Launch::prepare(&exe, &cfg.builds, cfg.secure, cfg.allow_fallback)?;
    match &launch {
        runner::Launch::Static { dirs, secure, .. } => {
            cfg.builds = dirs.iter().map(|(b, _)| *b).collect();
            cfg.secure &= *secure;
        }
        runner::Launch::Dispatch(_) => {
            cfg.builds = vec![Build::AsBuilt];
            cfg.secure = false;
        }
    }
    // Every case once per build, the first build (no LTO) first.
    // The C cases do not depend on how the Rust children are built: once.
    let first = cfg.builds[0];
    let cases: Vec<Case> = cfg
        .builds
        .iter()
        .flat_map(|&b| cases.iter().map(move |c| Case { build: b, ..c.clone() }))
        .filter(|c| c.build == first || !preload::is_c(c))
        .collect();
    let entrants: Vec<Entrant> = cfg.entrants().into_iter().chain(std::iter::once(Entrant::Floor)).collect();
    let mut results = report::Results::new(&cases, &entrants);
    let jobs = schedule(&cases, &cfg);
    let load_before = report::loadavg();
    let started = Instant::now();
    eprintln!(
        "compare: {} cases x {} builds x {} allocators x {} runs = {} child runs{}",
        cases.len() / cfg.builds.len(),
        cfg.builds.len(),
        cfg.entrants().len(),
        cfg.runs,
        jobs.len(),
        if cfg.quick { " (quick)" } else { "" }
    );
    for (i, job) in jobs.iter().enumerate() {
        eprint!(
            "[{}/{}] {} ({}) {} run {}/{} ... ",
            i + 1,
            jobs.len(),
            job.case.id,
            job.case.build.id(),
            job.entrant.name(),
            job.run + 1,
            job.case.runs(cfg.runs)
        );
        let r = runner::run_child(&launch, job.case, job.entrant, cfg.timeout);
        match &r.error {
            None => {
                eprintln!("{} ops/s, peak RSS {}", report::fmt_rate(r.ops_per_sec), report::fmt_mib(r.peak_rss_kib))
            }
            Some(e) => eprintln!("FAILED: {e}"),
        }
        results.record(job.case_index, job.entrant, job.run, r);
    }
    let meta = report::Meta {
        quick: cfg.quick,
        runs: cfg.runs,
        runs_note: runs_note(&cases, cfg.runs),
        wall: started.elapsed(),
        load_before,
        load_after: report::loadavg(),
        command: std::env::args().skip(1).collect::<Vec<_>>().join(" "),
        launch: launch.describe(),
        builds: cfg.builds.clone(),
    };
    let summary = results.summarise();
    print!("{}", report::text(&summary, &meta));
    report::write_all(&cfg.out, &results, &summary, &meta)?;
    preload::append_report(&cfg.out)?;
    eprintln!("wrote {0}/compare.md, {0}/compare.csv, {0}/compare-runs.csv, {0}/compare.svg", cfg.out.display());
    let failed = results.failures();
    if failed > 0 {
        return Err(format!("{failed} child run(s) failed; see the table"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &str) -> Result<Config, String> {
        let mut a = Args::parse(args.split_whitespace().map(String::from))?;
        let cfg = Config::parse(&mut a)?;
        a.finish()?;
        Ok(cfg)
    }

    #[test]
    fn quick_builds_no_lto_only_full_builds_both() {
        assert_eq!(config("--quick").unwrap().builds, vec![Build::NoLto]);
        assert_eq!(config("").unwrap().builds, vec![Build::NoLto, Build::Lto]);
        assert_eq!(config("--quick --builds lto,nolto").unwrap().builds, vec![Build::Lto, Build::NoLto]);
        assert!(config("--builds fast").is_err());
        assert!(!config("").unwrap().allow_fallback);
        assert!(config("--allow-fallback").unwrap().allow_fallback);
    }

    #[test]
    fn entrants_include_secure_and_env_variants() {
        let cfg = config("--hakmem-env HAKMEM_THP=0,HAKMEM_THP=1+HAKMEM_RETAIN_MB=8").unwrap();
        let names: Vec<&str> = cfg.entrants().iter().map(|e| e.name()).collect();
        assert_eq!(
            names,
            [
                "hakmem",
                "system",
                "mimalloc",
                "jemalloc",
                "hakmem-secure",
                "hakmem HAKMEM_THP=0",
                "hakmem HAKMEM_THP=1 HAKMEM_RETAIN_MB=8"
            ]
        );
        let Entrant::HakmemEnv(v) = cfg.entrants()[6] else { panic!("not a variant") };
        assert_eq!(v.vars, [("HAKMEM_THP".into(), "1".into()), ("HAKMEM_RETAIN_MB".into(), "8".into())]);
        assert!(config("--hakmem-env THP").is_err());
        let plain = config("--no-secure --allocs system,mimalloc").unwrap();
        assert_eq!(plain.entrants().len(), 2);
    }

    #[test]
    fn plan_has_macro_cases_and_names_reimplementations() {
        for quick in [false, true] {
            let cases = plan(quick);
            for id in ["service", "batch", "thread_churn"] {
                assert!(cases.iter().any(|c| c.id == id && c.is_macro()), "{id}");
            }
            for id in ["larson", "xmalloc", "cache_scratch"] {
                let c = cases.iter().find(|c| c.id == id).unwrap();
                assert!(c.origin.is_some_and(|o| o.contains("not mimalloc-bench")), "{id}");
            }
        }
        let listed = list(&config("--quick").unwrap());
        assert!(listed.contains("thread_churn") && listed.contains("not mimalloc-bench's program"));
    }

    #[test]
    fn every_entrant_follows_every_other_equally_often() {
        for n in 1..=7usize {
            let period = if n.is_multiple_of(2) { n } else { 2 * n };
            let mut first = vec![0; n];
            let mut after = vec![vec![0; n]; n];
            for row in 0..period {
                let o = williams_order(n, row);
                let mut sorted = o.clone();
                sorted.sort();
                assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "n={n} row {row}: not a permutation: {o:?}");
                first[o[0]] += 1;
                for w in o.windows(2) {
                    after[w[0]][w[1]] += 1;
                }
            }
            assert!(first.iter().all(|&f| f == period / n), "n={n}: firsts {first:?}");
            for (a, row) in after.iter().enumerate() {
                for (b, &k) in row.iter().enumerate() {
                    let want = if a == b { 0 } else { period / n };
                    assert_eq!(k, want, "n={n}: {b} right after {a} {k} times in {period} runs");
                }
            }
        }
    }

    #[test]
    fn quick_service_runs_twice_as_often_interleaved() {
        let cfg = config("--quick --no-secure --allocs hakmem,system").unwrap();
        let cases: Vec<Case> = plan(true).into_iter().filter(|c| c.id == "service" || c.id == "batch").collect();
        let jobs = schedule(&cases, &cfg);
        let count = |id: &str| jobs.iter().filter(|j| j.case.id == id).count();
        assert_eq!((count("service"), count("batch")), (12, 6));
        // Every service round runs both allocators back to back.
        for run in 0..6 {
            assert_eq!(jobs.iter().filter(|j| j.case.id == "service" && j.run == run).count(), 2, "round {run}");
        }
        assert_eq!(runs_note(&cases, cfg.runs), " (service: 6)");
        let full: Vec<Case> = plan(false).into_iter().filter(|c| c.id == "service").collect();
        assert_eq!(schedule(&full, &config("--no-secure --allocs hakmem").unwrap()).len(), 7);
        assert_eq!(runs_note(&full, 7), "");
    }
}
