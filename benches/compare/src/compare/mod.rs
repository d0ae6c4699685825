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

/// Who runs a case: an allocator, or the `floor` free list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Entrant {
    /// A real allocator.
    Alloc(Alloc),
    /// The `floor` workload (fixed-size cases only).
    Floor,
}

impl Entrant {
    /// Name in tables and progress lines.
    pub fn name(self) -> &'static str {
        match self {
            Entrant::Alloc(a) => a.name(),
            Entrant::Floor => "floor",
        }
    }
}

/// One row group of the report: a workload with fixed arguments.
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
}

impl Case {
    pub(crate) fn new(id: &'static str, workload: &'static str, args: &str, floor: bool) -> Case {
        Case { id, workload, args: args.split_whitespace().map(String::from).collect(), floor }
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

/// The cases, sized for a full run or for `--quick` (about a minute in all
/// on two cores).
pub fn plan(quick: bool) -> Vec<Case> {
    let q = |full: &'static str, quick_args: &'static str| if quick { quick_args } else { full };
    vec![
        // The seed's headline case and its 16-byte twin, verbatim.
        Case::new("fixed_256", "fixed", "10000 256 128", true),
        Case::new("fixed_16", "fixed", "10000 16 64", true),
        Case::new("random_mixed_t1", "random_mixed", q("20000000 --threads 1", "5000000 --threads 1"), false),
        Case::new("random_mixed_t2", "random_mixed", q("20000000 --threads 2", "5000000 --threads 2"), false),
        Case::new("xmalloc", "xmalloc", q("--iters 4000000 --threads 1", "--iters 1000000 --threads 1"), false),
        Case::new(
            "larson",
            "larson",
            q("--threads 2 --ws 1000 --rounds 40 --iters 200000", "--threads 2 --ws 1000 --rounds 20 --iters 100000"),
            false,
        ),
        Case::new(
            "cache_scratch",
            "cache-scratch",
            q("--threads 2 --iters 4000000 --size 8 --reps 10", "--threads 2 --iters 1000000 --size 8 --reps 10"),
            false,
        ),
        Case::new("malloc_large", "malloc-large", q("--iters 4000", "--iters 1000"), false),
        Case::new("realloc_growth", "realloc-growth", q("--mb 100 --repeats 5", "--mb 100 --repeats 2"), false),
        Case::new("calloc", "calloc", q("--rounds 20", "--rounds 5"), false),
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
    /// Case ids (or workload names) to keep; all when empty.
    pub only: Vec<String>,
    /// Per-child time limit.
    pub timeout: Duration,
}

const USAGE: &str = "\
usage: compare [--quick] [--runs N] [--out DIR] [--only CASE,...] [--allocs A,...] [--timeout SECS]
       compare --child WORKLOAD [workload args] [--alloc A]
  --quick     3 runs and smaller sizes (about a minute on 2 cores)
  --runs N    runs per case and allocator (default 7, quick 3)
  --out DIR   where compare.md, compare.csv, compare-runs.csv, compare.svg go (default bench-results)
  --only      comma-separated case ids or workload names (default: all)
  --allocs    comma-separated allocators (default hakmem,system,mimalloc,jemalloc)
  --timeout   seconds before a child is killed and counted as failed (default 120, quick 60)";

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
        let only = args.take("only").map(|l| l.split(',').map(|s| s.trim().to_string()).collect()).unwrap_or_default();
        let timeout = Duration::from_secs(args.take_or("timeout", if quick { 60 } else { 120 })?);
        Ok(Config { runs, quick, out, allocs, only, timeout })
    }
}

/// One scheduled child run.
struct Job<'a> {
    case: &'a Case,
    case_index: usize,
    entrant: Entrant,
    run: usize,
}

/// The interleaved schedule: run by run, case by case, every entrant, with
/// the allocator order rotated each run so no allocator always goes first.
fn schedule<'a>(cases: &'a [Case], cfg: &Config) -> Vec<Job<'a>> {
    let mut jobs = Vec::new();
    for run in 0..cfg.runs {
        for (case_index, case) in cases.iter().enumerate() {
            let n = cfg.allocs.len();
            let mut entrants: Vec<Entrant> = (0..n).map(|i| Entrant::Alloc(cfg.allocs[(i + run) % n])).collect();
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
    let cfg = Config::parse(&mut args)?;
    args.finish().map_err(|e| format!("{e}\n{USAGE}"))?;
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
    let launch = runner::Launch::prepare(&exe);
    let entrants: Vec<Entrant> =
        cfg.allocs.iter().map(|&a| Entrant::Alloc(a)).chain(std::iter::once(Entrant::Floor)).collect();
    let mut results = report::Results::new(&cases, &entrants);
    let jobs = schedule(&cases, &cfg);
    let load_before = report::loadavg();
    let started = Instant::now();
    eprintln!(
        "compare: {} cases x {} allocators x {} runs = {} child runs{}",
        cases.len(),
        cfg.allocs.len(),
        cfg.runs,
        jobs.len(),
        if cfg.quick { " (quick)" } else { "" }
    );
    for (i, job) in jobs.iter().enumerate() {
        eprint!(
            "[{}/{}] {} {} run {}/{} ... ",
            i + 1,
            jobs.len(),
            job.case.id,
            job.entrant.name(),
            job.run + 1,
            cfg.runs
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
        wall: started.elapsed(),
        load_before,
        load_after: report::loadavg(),
        command: std::env::args().skip(1).collect::<Vec<_>>().join(" "),
        launch: launch.describe().to_string(),
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
