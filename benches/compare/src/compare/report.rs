//! Statistics and tables of a `compare` run: medians, ranges, the hakmem
//! ratios and the floor ratios per case and entrant, rendered as a text
//! table (stdout), markdown (`compare.md`) and CSV (`compare.csv` for the
//! summary, `compare-runs.csv` for every child run).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use super::runner::RunResult;
use super::{svg, Build, Case, Entrant};
use crate::dispatch::Alloc;

/// Facts about the run, printed above the tables.
#[derive(Debug, Clone)]
pub struct Meta {
    /// `--quick` was given.
    pub quick: bool,
    /// Runs per case and entrant.
    pub runs: usize,
    /// The cases that run more often, e.g. ` (service: 6)`, or empty.
    pub runs_note: String,
    /// Total wall time.
    pub wall: Duration,
    /// `/proc/loadavg` (1-minute) before and after.
    pub load_before: String,
    /// See `load_before`.
    pub load_after: String,
    /// The arguments `compare` was given.
    pub command: String,
    /// How the children ran (see `runner::Launch::describe`).
    pub launch: String,
    /// The builds measured, in the order they are quoted.
    pub builds: Vec<Build>,
}

/// Every child result, by case and entrant.
pub struct Results {
    cases: Vec<Case>,
    entrants: Vec<Entrant>,
    /// `runs[case][entrant]`: (run index, result).
    runs: Vec<Vec<Vec<(usize, RunResult)>>>,
}

impl Results {
    /// Empty results for `cases` x `entrants`.
    pub fn new(cases: &[Case], entrants: &[Entrant]) -> Results {
        Results {
            cases: cases.to_vec(),
            entrants: entrants.to_vec(),
            runs: vec![vec![Vec::new(); entrants.len()]; cases.len()],
        }
    }

    /// Stores one child result.
    pub fn record(&mut self, case: usize, entrant: Entrant, run: usize, r: RunResult) {
        let e = self.entrants.iter().position(|&x| x == entrant).expect("known entrant");
        self.runs[case][e].push((run, r));
    }

    /// Number of failed child runs.
    pub fn failures(&self) -> usize {
        self.runs.iter().flatten().flatten().filter(|(_, r)| r.error.is_some()).count()
    }

    /// Medians and ratios.
    pub fn summarise(&self) -> Summary {
        let mut rows = Vec::new();
        for (ci, case) in self.cases.iter().enumerate() {
            let stat = |e: usize| -> Option<Stat> {
                let runs = &self.runs[ci][e];
                (!runs.is_empty()).then(|| Stat::of(runs))
            };
            let index_of = |x: Entrant| self.entrants.iter().position(|&e| e == x);
            let hakmem_i = index_of(Entrant::Alloc(Alloc::Hakmem));
            let floor_i = index_of(Entrant::Floor);
            for (ei, &entrant) in self.entrants.iter().enumerate() {
                let Some(s) = stat(ei) else { continue };
                let compared = entrant.is_peer() || entrant.is_variant();
                let (hakmem_over, rss_over) = match hakmem_i {
                    Some(h) if compared => {
                        (self.paired(ci, h, ei, |r| r.ops_per_sec), self.paired(ci, h, ei, |r| r.peak_rss_kib as f64))
                    }
                    _ => (None, None),
                };
                let over_floor = match (floor_i, entrant) {
                    (Some(f), e) if e != Entrant::Floor => self.paired(ci, ei, f, |r| r.ops_per_sec),
                    _ => None,
                };
                rows.push(Row { case: case.clone(), entrant, stat: s, hakmem_over, rss_over, over_floor });
            }
        }
        Summary { rows }
    }
}

impl Results {
    /// Median over rounds of `a`'s figure (`ops/s`, peak RSS) divided by
    /// `b`'s in the same round (rounds where both succeeded). A round runs
    /// every entrant back to back, so a pairwise ratio compares them under
    /// the same machine conditions; slow drift (load, a noisy neighbour)
    /// cancels out.
    fn paired(&self, case: usize, a: usize, b: usize, figure: impl Fn(&RunResult) -> f64) -> Option<f64> {
        let ok = |e: usize, run: usize| {
            self.runs[case][e].iter().find(|(r, res)| *r == run && res.error.is_none()).map(|(_, res)| figure(res))
        };
        let ratios: Vec<f64> = self.runs[case][a]
            .iter()
            .filter_map(|&(run, _)| match (ok(a, run), ok(b, run)) {
                (Some(x), Some(y)) if y > 0.0 => Some(x / y),
                _ => None,
            })
            .collect();
        median(ratios)
    }
}

/// Median of `v` (mean of the middle two for an even count); `None` if empty.
pub(super) fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// Statistics of one case on one entrant, over its successful runs.
#[derive(Debug, Clone)]
pub struct Stat {
    /// Successful runs.
    pub ok: usize,
    /// All runs.
    pub total: usize,
    /// Median ops/s.
    pub median: Option<f64>,
    /// Slowest run.
    pub min: Option<f64>,
    /// Fastest run.
    pub max: Option<f64>,
    /// Median peak RSS, KiB.
    pub rss_kib: Option<f64>,
    /// Distinct failure reasons.
    pub errors: Vec<String>,
    /// Median of each `x.NAME` figure over the successful runs.
    pub extras: Vec<(String, f64)>,
}

impl Stat {
    fn of(runs: &[(usize, RunResult)]) -> Stat {
        let ok: Vec<&RunResult> = runs.iter().map(|(_, r)| r).filter(|r| r.error.is_none()).collect();
        let ops: Vec<f64> = ok.iter().map(|r| r.ops_per_sec).collect();
        let mut errors: Vec<String> = runs.iter().filter_map(|(_, r)| r.error.clone()).collect();
        errors.sort();
        errors.dedup();
        let mut keys: Vec<&String> = ok.iter().flat_map(|r| r.extras.iter().map(|(k, _)| k)).collect();
        keys.sort();
        keys.dedup();
        let extras = keys
            .into_iter()
            .filter_map(|k| {
                let vals = ok.iter().filter_map(|r| r.extras.iter().find(|(n, _)| n == k).map(|&(_, v)| v)).collect();
                median(vals).map(|m| (k.clone(), m))
            })
            .collect();
        Stat {
            extras,
            ok: ok.len(),
            total: runs.len(),
            median: median(ops.clone()),
            min: ops.iter().copied().reduce(f64::min),
            max: ops.iter().copied().reduce(f64::max),
            rss_kib: median(ok.iter().map(|r| r.peak_rss_kib as f64).collect()),
            errors,
        }
    }
}

/// One report row.
#[derive(Debug, Clone)]
pub struct Row {
    /// The case.
    pub case: Case,
    /// Who ran it.
    pub entrant: Entrant,
    /// Its statistics.
    pub stat: Stat,
    /// hakmem / this throughput, paired by round (> 1: hakmem faster);
    /// peers and hakmem variants only.
    pub hakmem_over: Option<f64>,
    /// hakmem / this peak RSS, paired by round (< 1: hakmem smaller);
    /// peers and hakmem variants only.
    pub rss_over: Option<f64>,
    /// This median / floor median; fixed-size cases only.
    pub over_floor: Option<f64>,
}

/// All rows, case-major.
pub struct Summary {
    /// The rows.
    pub rows: Vec<Row>,
}

impl Stat {
    /// The median of extra figure `key`.
    pub fn extra(&self, key: &str) -> Option<f64> {
        self.extras.iter().find(|(k, _)| k == key).map(|&(_, v)| v)
    }
}

impl Summary {
    /// The rows of one build.
    pub fn for_build(&self, build: Build) -> Summary {
        Summary { rows: self.rows.iter().filter(|r| r.case.build == build).cloned().collect() }
    }

    /// The row of `entrant` on case `id`.
    pub fn row(&self, id: &str, entrant: Entrant) -> Option<&Row> {
        self.rows.iter().find(|r| r.case.id == id && r.entrant == entrant)
    }

    /// The median of `entrant` on case `id`.
    pub fn median(&self, id: &str, entrant: Entrant) -> Option<f64> {
        self.row(id, entrant).and_then(|r| r.stat.median)
    }

    /// Case ids in order.
    pub fn case_ids(&self) -> Vec<&'static str> {
        let mut ids: Vec<&'static str> = Vec::new();
        for r in &self.rows {
            if !ids.contains(&r.case.id) {
                ids.push(r.case.id);
            }
        }
        ids
    }
}

/// Formats a rate: `12.35M`, `850.2k`, `950`.
pub fn fmt_rate(x: f64) -> String {
    if x >= 1e9 {
        format!("{:.2}G", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// Formats KiB as MiB.
pub fn fmt_mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "—".to_string(), f)
}

fn fmt_ratio(r: f64) -> String {
    format!("{r:.2}x")
}

const DETAIL_HEADERS: [&str; 10] = [
    "case",
    "allocator",
    "median ops/s",
    "min–max ops/s",
    "hakmem/this",
    "this/floor",
    "peak RSS",
    "hakmem/this RSS",
    "extra figures (medians)",
    "runs ok",
];

fn detail_rows(s: &Summary) -> Vec<Vec<String>> {
    s.rows
        .iter()
        .map(|r| {
            let st = &r.stat;
            let range = match (st.min, st.max) {
                (Some(a), Some(b)) => format!("{}–{}", fmt_rate(a), fmt_rate(b)),
                _ => "—".into(),
            };
            let mut runs = format!("{}/{}", st.ok, st.total);
            if let Some(e) = st.errors.first() {
                runs.push_str(&format!(" FAIL: {e}"));
            }
            let extras = st.extras.iter().map(|(k, v)| format!("{k}={v:.3}")).collect::<Vec<_>>().join(" ");
            vec![
                r.case.id.to_string(),
                r.entrant.name().to_string(),
                opt(st.median, fmt_rate),
                range,
                opt(r.hakmem_over, fmt_ratio),
                opt(r.over_floor, fmt_ratio),
                opt(st.rss_kib, |k| fmt_mib(k as u64)),
                opt(r.rss_over, fmt_ratio),
                if extras.is_empty() { "—".into() } else { extras },
                runs,
            ]
        })
        .collect()
}

fn entrants_where(s: &Summary, keep: impl Fn(Entrant) -> bool) -> Vec<Entrant> {
    let mut v = Vec::new();
    for r in &s.rows {
        if keep(r.entrant) && !v.contains(&r.entrant) {
            v.push(r.entrant);
        }
    }
    v
}

/// The per-case summary: hakmem's median, its speed ratio to every peer,
/// its peak-RSS ratio to every peer, each hakmem variant's speed relative
/// to plain hakmem, and the floor ratio.
fn headline(s: &Summary) -> (Vec<String>, Vec<Vec<String>>) {
    let peers = entrants_where(s, Entrant::is_peer);
    let variants = entrants_where(s, Entrant::is_variant);
    let mut headers = vec!["case".to_string(), "hakmem rate".to_string()];
    headers.extend(peers.iter().map(|p| format!("vs {}", p.name())));
    headers.extend(peers.iter().map(|p| format!("RSS vs {}", p.name())));
    headers.extend(variants.iter().map(|v| format!("{}/hakmem", v.name())));
    headers.push("vs floor".into());
    let rows = s
        .case_ids()
        .into_iter()
        .map(|id| {
            let h = s.median(id, Entrant::Alloc(Alloc::Hakmem));
            let unit = s.rows.iter().find(|r| r.case.id == id).map_or("ops/s", |r| r.case.rate_label);
            let mut row = vec![id.to_string(), opt(h, |x| format!("{} {unit}", fmt_rate(x)))];
            for &p in &peers {
                row.push(opt(s.row(id, p).and_then(|r| r.hakmem_over), fmt_ratio));
            }
            for &p in &peers {
                row.push(opt(s.row(id, p).and_then(|r| r.rss_over), fmt_ratio));
            }
            for &v in &variants {
                row.push(opt(s.row(id, v).and_then(|r| r.hakmem_over).map(|x| 1.0 / x), fmt_ratio));
            }
            let hakmem_row = s.row(id, Entrant::Alloc(Alloc::Hakmem));
            row.push(opt(hakmem_row.and_then(|r| r.over_floor), fmt_ratio));
            row
        })
        .collect();
    (headers, rows)
}

/// The macro cases: one row per case and figure, one column per entrant
/// (medians), then hakmem's figure over the best peer's.
fn macro_table(s: &Summary) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let entrants = entrants_where(s, |e| e != Entrant::Floor);
    let mut headers = vec!["case".to_string(), "figure".to_string()];
    headers.extend(entrants.iter().map(|e| e.name().to_string()));
    headers.push("hakmem / best peer".into());
    let mut rows = Vec::new();
    for id in s.case_ids() {
        let Some(case) = s.rows.iter().find(|r| r.case.id == id).map(|r| r.case.clone()) else { continue };
        if !case.is_macro() {
            continue;
        }
        // (label, value of a row, higher is better, formatter)
        type Fig<'a> = (String, Box<dyn Fn(&Row) -> Option<f64> + 'a>, bool, Box<dyn Fn(f64) -> String + 'a>);
        let mut figs: Vec<Fig> =
            vec![(case.rate_label.to_string(), Box::new(|r: &Row| r.stat.median), true, Box::new(fmt_rate))];
        for m in case.metrics {
            let m = *m;
            figs.push((
                format!("{} ({})", m.label, m.unit),
                Box::new(move |r: &Row| r.stat.extra(m.key).map(|v| v * m.scale)),
                false,
                Box::new(|v: f64| format!("{v:.2}")),
            ));
        }
        figs.push((
            "peak RSS (MiB)".into(),
            Box::new(|r: &Row| r.stat.rss_kib.map(|k| k / 1024.0)),
            false,
            Box::new(|v: f64| format!("{v:.1}")),
        ));
        for (label, value, higher_better, fmt) in &figs {
            let mut row = vec![id.to_string(), label.clone()];
            for &e in &entrants {
                row.push(opt(s.row(id, e).and_then(value), fmt));
            }
            let h = s.row(id, Entrant::Alloc(Alloc::Hakmem)).and_then(value);
            let peer_vals: Vec<f64> =
                entrants.iter().filter(|e| e.is_peer()).filter_map(|&e| s.row(id, e).and_then(value)).collect();
            let best = if *higher_better {
                peer_vals.iter().copied().reduce(f64::max)
            } else {
                peer_vals.iter().copied().reduce(f64::min)
            };
            row.push(match (h, best) {
                (Some(h), Some(b)) if b.abs() > 1e-12 => fmt_ratio(h / b),
                _ => "—".into(),
            });
            rows.push(row);
        }
    }
    (!rows.is_empty()).then_some((headers, rows))
}

fn text_table(headers: &[String], rows: &[Vec<String>]) -> String {
    let width = |i: usize| {
        rows.iter().map(|r| r[i].chars().count()).chain(std::iter::once(headers[i].chars().count())).max().unwrap_or(0)
    };
    let widths: Vec<usize> = (0..headers.len()).map(width).collect();
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            if i < 2 {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            }
            s.push_str("  ");
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(headers);
    out.push_str(&line(&widths.iter().map(|&w| "-".repeat(w)).collect::<Vec<_>>()));
    let mut last_case = String::new();
    for r in rows {
        if !last_case.is_empty() && r[0] != last_case && rows.len() > 12 {
            out.push('\n');
        }
        last_case = r[0].clone();
        out.push_str(&line(r));
    }
    out
}

fn md_table(headers: &[String], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n", headers.join(" | "));
    let aligns: Vec<&str> = (0..headers.len()).map(|i| if i < 2 { "---" } else { "---:" }).collect();
    out.push_str(&format!("| {} |\n", aligns.join(" | ")));
    for r in rows {
        out.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    out
}

fn owned(h: &[&str]) -> Vec<String> {
    h.iter().map(|s| s.to_string()).collect()
}

const HOW_TO_READ: &str = "Speed ratios (`vs PEER`, `hakmem/this`): hakmem's throughput over the peer's, > 1 means \
hakmem is faster. RSS ratios (`RSS vs PEER`, `hakmem/this RSS`): hakmem's peak RSS over the peer's, < 1 means hakmem \
uses less memory. `VARIANT/hakmem`: a hakmem variant's throughput over plain hakmem's. Every ratio is the median of \
per-round ratios (each round runs every allocator back to back). `hakmem / best peer` in the macro table: hakmem's \
median figure over the best peer median (for times, latencies and RSS < 1 is better; for rates > 1 is better).";

/// The stdout report.
pub fn text(s: &Summary, meta: &Meta) -> String {
    let mut out = format!(
        "\n{} runs per cell{}{}, {:.0} s, load {} -> {}; {}.\n{HOW_TO_READ}\n",
        meta.runs,
        meta.runs_note,
        if meta.quick { " (quick)" } else { "" },
        meta.wall.as_secs_f64(),
        meta.load_before,
        meta.load_after,
        meta.launch,
    );
    for &b in &meta.builds {
        let sb = s.for_build(b);
        let (hh, hr) = headline(&sb);
        let _ = write!(out, "\n== Summary: {} ==\n{}", b.label(), text_table(&hh, &hr));
        if let Some((mh, mr)) = macro_table(&sb) {
            let _ = write!(out, "\n== Macro cases: {} ==\n{}", b.label(), text_table(&mh, &mr));
        }
    }
    for &b in &meta.builds {
        let _ = write!(
            out,
            "\n== Detail: {} ==\n{}",
            b.label(),
            text_table(&owned(&DETAIL_HEADERS), &detail_rows(&s.for_build(b)))
        );
    }
    out
}

/// The chart file of `build` (the first build gets `compare.svg`).
fn chart_name(meta: &Meta, build: Build) -> String {
    if meta.builds.first() == Some(&build) {
        "compare.svg".into()
    } else {
        format!("compare-{}.svg", build.id())
    }
}

/// The markdown report.
fn markdown(s: &Summary, meta: &Meta) -> String {
    let mut md = String::from("# hakmem vs peers\n\n");
    let _ = writeln!(
        md,
        "`compare {}` — {} runs per cell{}{}, interleaved; {:.0} s wall; {} CPUs; \
         load average {} before, {} after; {}; written {}.\n",
        meta.command,
        meta.runs,
        meta.runs_note,
        if meta.quick { " (quick sizes)" } else { "" },
        meta.wall.as_secs_f64(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        meta.load_before,
        meta.load_after,
        meta.launch,
        utc_now(),
    );
    md.push_str(
        "Throughput is a rate (ops/s, or req/s and records/s for the macro cases; higher is better), median \
         over runs. Peak RSS is the child's own peak resident set size. The builds are the two ways users \
         build: cargo's default release profile (no LTO; quoted first) and fat LTO.\n\n",
    );
    md.push_str(HOW_TO_READ);
    md.push('\n');
    for &b in &meta.builds {
        let sb = s.for_build(b);
        let (hh, hr) = headline(&sb);
        let _ = write!(md, "\n## Summary: {}\n\n{}", b.label(), md_table(&hh, &hr));
        if let Some((mh, mr)) = macro_table(&sb) {
            let _ = write!(md, "\n### Macro cases: {}\n\n{}", b.label(), md_table(&mh, &mr));
        }
        let _ =
            writeln!(md, "\n![throughput and peak RSS normalised to system, {}]({})", b.label(), chart_name(meta, b));
    }
    for &b in &meta.builds {
        let _ = write!(
            md,
            "\n## Detail: {}\n\n{}",
            b.label(),
            md_table(&owned(&DETAIL_HEADERS), &detail_rows(&s.for_build(b)))
        );
    }
    md.push_str("\n## Cases\n\n");
    for id in s.case_ids() {
        if let Some(r) = s.rows.iter().find(|r| r.case.id == id) {
            let seed = r.case.seed_program().map(|p| format!(" (the seed's `{p}`)")).unwrap_or_default();
            let origin = r.case.origin.map(|o| format!(" — {o}")).unwrap_or_default();
            let kind = if r.case.is_macro() { " [macro case]" } else { "" };
            let _ = writeln!(md, "- `{id}`: `{}`{seed}{kind}{origin}", r.case.command());
        }
    }
    md
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn num(v: Option<f64>) -> String {
    v.map_or(String::new(), |x| format!("{x:.4}"))
}

fn summary_csv(s: &Summary) -> String {
    let mut out = String::from(
        "build,case,workload,args,allocator,runs_ok,runs,median_ops_per_sec,min_ops_per_sec,\
         max_ops_per_sec,hakmem_over_this,this_over_floor,median_peak_rss_kib,hakmem_over_this_rss,extras,errors\n",
    );
    for r in &s.rows {
        let st = &r.stat;
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.case.build.id(),
            r.case.id,
            r.case.workload,
            csv_field(&r.case.args.join(" ")),
            r.entrant.name(),
            st.ok,
            st.total,
            num(st.median),
            num(st.min),
            num(st.max),
            num(r.hakmem_over),
            num(r.over_floor),
            num(st.rss_kib),
            num(r.rss_over),
            csv_field(&st.extras.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")),
            csv_field(&st.errors.join("; ")),
        );
    }
    out
}

fn runs_csv(res: &Results) -> String {
    let mut out = String::from("build,case,allocator,run,ops_per_sec,secs,peak_rss_kib,extras,error\n");
    for (ci, case) in res.cases.iter().enumerate() {
        for (ei, e) in res.entrants.iter().enumerate() {
            for (run, r) in &res.runs[ci][ei] {
                let _ = writeln!(
                    out,
                    "{},{},{},{},{:.1},{:.6},{},{},{}",
                    case.build.id(),
                    case.id,
                    e.name(),
                    run + 1,
                    r.ops_per_sec,
                    r.secs,
                    r.peak_rss_kib,
                    csv_field(&r.extras.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")),
                    csv_field(r.error.as_deref().unwrap_or("")),
                );
            }
        }
    }
    out
}

/// Writes compare.md, compare.csv, compare-runs.csv and compare.svg.
pub fn write_all(dir: &Path, res: &Results, s: &Summary, meta: &Meta) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let mut files = vec![
        ("compare.md".to_string(), markdown(s, meta)),
        ("compare.csv".to_string(), summary_csv(s)),
        ("compare-runs.csv".to_string(), runs_csv(res)),
    ];
    for &b in &meta.builds {
        files.push((chart_name(meta, b), svg::chart(&s.for_build(b), meta, b)));
    }
    for (name, body) in files {
        let path = dir.join(&name);
        std::fs::write(&path, body).map_err(|e| format!("write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// The 1-minute load average, or `?`.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "?".into())
}

/// The current UTC time as `YYYY-MM-DD HH:MM UTC`.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", rem / 3600, (rem % 3600) / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }

    #[test]
    fn rates_format() {
        assert_eq!(fmt_rate(12_345_678.0), "12.35M");
        assert_eq!(fmt_rate(850_200.0), "850.2k");
        assert_eq!(fmt_rate(950.0), "950");
    }

    #[test]
    fn ratios_pair_runs_of_the_same_round() {
        let case = Case::new("c", "fixed", "1 2 3", true);
        let h = Entrant::Alloc(Alloc::Hakmem);
        let m = Entrant::Alloc(Alloc::Mimalloc);
        let mut res = Results::new(std::slice::from_ref(&case), &[h, m, Entrant::Floor]);
        let ok = |ops: f64| RunResult { ops_per_sec: ops, peak_rss_kib: ops as u64, ..RunResult::default() };
        // The machine is twice as fast in round 1: per round, hakmem is 1.25x
        // mimalloc and half the floor, whatever the medians say.
        for (run, (a, b, f)) in
            [(100.0, 80.0, 200.0), (200.0, 160.0, 400.0), (120.0, 96.0, 240.0)].into_iter().enumerate()
        {
            res.record(0, h, run, ok(a));
            res.record(0, m, run, ok(b));
            res.record(0, Entrant::Floor, run, ok(f));
        }
        // A failed round is left out of the pairs.
        res.record(0, h, 3, ok(1000.0));
        res.record(0, m, 3, RunResult { error: Some("crash".into()), ..RunResult::default() });
        let s = res.summarise();
        let mi = s.row("c", m).unwrap();
        assert!((mi.hakmem_over.unwrap() - 1.25).abs() < 1e-9, "{:?}", mi.hakmem_over);
        // RSS (here equal to the rate) is paired the same way.
        assert!((mi.rss_over.unwrap() - 1.25).abs() < 1e-9, "{:?}", mi.rss_over);
        let hk = s.row("c", h).unwrap();
        assert!((hk.over_floor.unwrap() - 0.5).abs() < 1e-9, "{:?}", hk.over_floor);
        assert_eq!(hk.stat.ok, 4);
        assert_eq!(mi.stat.ok, 3);
    }

    #[test]
    fn macro_table_takes_extras_and_the_best_peer() {
        let case = Case::new("svc", "service", "", false).macro_case(super::super::SERVICE_METRICS, "req/s");
        let h = Entrant::Alloc(Alloc::Hakmem);
        let (m, j) = (Entrant::Alloc(Alloc::Mimalloc), Entrant::Alloc(Alloc::Jemalloc));
        let mut res = Results::new(std::slice::from_ref(&case), &[h, m, j]);
        let run = |rate: f64, p99: f64| RunResult {
            ops_per_sec: rate,
            peak_rss_kib: 1024,
            extras: vec![("p99_ms".into(), p99)],
            ..RunResult::default()
        };
        res.record(0, h, 0, run(100.0, 2.0));
        res.record(0, m, 0, run(80.0, 4.0));
        res.record(0, j, 0, run(50.0, 2.5));
        let (headers, rows) = macro_table(&res.summarise()).expect("a macro case");
        assert_eq!(headers.last().unwrap(), "hakmem / best peer");
        let p99 = rows.iter().find(|r| r[1].starts_with("p99")).unwrap();
        assert_eq!(p99[2..], ["2.00", "4.00", "2.50", "0.80x"]);
        let rate = rows.iter().find(|r| r[1] == "req/s").unwrap();
        assert_eq!(rate.last().unwrap(), "1.25x");
    }

    #[test]
    fn csv_quotes() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
