//! Timing, thread fan-out, peak RSS and the result lines every bench program
//! prints (`Throughput: ...` for people, `RESULT ...` for `compare`).

use std::sync::{Barrier, Mutex};
use std::time::Instant;

use crate::dispatch::Alloc;

/// What one workload run measured.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// Operations performed (allocations + frees unless the workload says
    /// otherwise), summed over threads.
    pub ops: u64,
    /// Wall-clock seconds of the timed part.
    pub secs: f64,
}

impl Outcome {
    /// Operations per second (0 when nothing was timed).
    pub fn ops_per_sec(&self) -> f64 {
        if self.secs > 0.0 {
            self.ops as f64 / self.secs
        } else {
            0.0
        }
    }
}

/// Runs `body(thread_index)` on `threads` threads started together and times
/// from the common start to the last join; each body returns its op count.
/// One thread runs on the calling thread, with no spawn at all.
pub fn run_threads<F>(threads: usize, body: F) -> Outcome
where
    F: Fn(usize) -> u64 + Sync,
{
    if threads <= 1 {
        let start = Instant::now();
        let ops = body(0);
        return Outcome { ops, secs: start.elapsed().as_secs_f64() };
    }
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (barrier, body) = (&barrier, &body);
                s.spawn(move || {
                    barrier.wait();
                    body(t)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let ops = handles.into_iter().map(|h| h.join().expect("bench thread panicked")).sum();
        Outcome { ops, secs: start.elapsed().as_secs_f64() }
    })
}

/// Peak resident set size of this program so far, in KiB: `VmHWM` of
/// `/proc/self/status`, the high-water mark of this process's own address
/// space, which starts afresh at `exec`. `getrusage`'s `ru_maxrss` (the
/// fallback where `/proc` cannot be read) also keeps the high-water mark
/// of the address space the process had before `exec`: a child forked
/// from the `compare` driver reported at least the driver's 3-4 MiB.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status").ok().and_then(|s| parse_vm_hwm(&s)).unwrap_or_else(ru_maxrss_kib)
}

/// The `VmHWM:` figure (KiB) of a `/proc/PID/status` text.
fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    let value = line.trim().strip_suffix("kB")?;
    value.trim().parse().ok()
}

/// `getrusage(RUSAGE_SELF)`'s `ru_maxrss`, in KiB (0 on error); it
/// includes the high-water mark of the address space before `exec`.
pub fn ru_maxrss_kib() -> u64 {
    // SAFETY: `rusage` is plain old data, so all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage`.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc == 0 {
        u64::try_from(usage.ru_maxrss).unwrap_or(0)
    } else {
        0
    }
}

/// Resident set size of this process now, in KiB (`/proc/self/statm`), or 0.
pub fn current_rss_kib() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else { return 0 };
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    // SAFETY: `sysconf` has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap_or(4096) / 1024
}

/// Extra figures of the current run (a macro case's latency, phase times,
/// RSS growth), printed on the `RESULT` line as `x.NAME=VALUE`.
static EXTRAS: Mutex<Vec<(&'static str, f64)>> = Mutex::new(Vec::new());

/// Records an extra figure for the `RESULT` line (`x.NAME=VALUE`); a second
/// value for the same name replaces the first.
pub fn extra(name: &'static str, value: f64) {
    let mut v = EXTRAS.lock().unwrap_or_else(|e| e.into_inner());
    v.retain(|(n, _)| *n != name);
    v.push((name, value));
}

/// Prints the human line and the machine-readable `RESULT` line.
pub fn report(workload: &str, alloc: Option<Alloc>, outcome: Outcome) {
    let ops_s = outcome.ops_per_sec();
    let who = alloc.map_or("floor", Alloc::name);
    let extras: String =
        EXTRAS.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|(n, v)| format!(" x.{n}={v:.6}")).collect();
    println!("{workload} [{who}]: {} ops in {:.4} s", outcome.ops, outcome.secs);
    println!("Throughput: {ops_s:.0} ops/s ({:.2} M ops/s)", ops_s / 1e6);
    println!(
        "RESULT ops_per_sec={ops_s:.1} secs={:.6} ops={} alloc={who} peak_rss_kib={}{extras}",
        outcome.secs,
        outcome.ops,
        peak_rss_kib()
    );
}

/// Everything a `RESULT` line carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultLine {
    /// Throughput.
    pub ops_per_sec: f64,
    /// Timed seconds.
    pub secs: f64,
    /// The process's own peak RSS when it printed the line, if given.
    pub peak_rss_kib: Option<u64>,
    /// `x.NAME=VALUE` fields.
    pub extras: Vec<(String, f64)>,
}

/// Parses a `RESULT` line with its extra fields.
pub fn parse_result_full(line: &str) -> Option<ResultLine> {
    let rest = line.strip_prefix("RESULT ")?;
    let mut ops = None;
    let mut secs = None;
    let mut out = ResultLine::default();
    for field in rest.split_whitespace() {
        match field.split_once('=') {
            Some(("ops_per_sec", v)) => ops = v.parse().ok(),
            Some(("secs", v)) => secs = v.parse().ok(),
            Some(("peak_rss_kib", v)) => out.peak_rss_kib = v.parse().ok(),
            Some((k, v)) => {
                if let (Some(name), Ok(x)) = (k.strip_prefix("x."), v.parse()) {
                    out.extras.push((name.to_string(), x));
                }
            }
            None => {}
        }
    }
    out.ops_per_sec = ops?;
    out.secs = secs?;
    Some(out)
}

/// Parses a `RESULT` line: returns (ops_per_sec, secs).
pub fn parse_result_line(line: &str) -> Option<(f64, f64)> {
    let rest = line.strip_prefix("RESULT ")?;
    let mut ops = None;
    let mut secs = None;
    for field in rest.split_whitespace() {
        match field.split_once('=') {
            Some(("ops_per_sec", v)) => ops = v.parse().ok(),
            Some(("secs", v)) => secs = v.parse().ok(),
            _ => {}
        }
    }
    Some((ops?, secs?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_line_round_trip() {
        let line = "RESULT ops_per_sec=1234.5 secs=0.5 ops=617 alloc=system peak_rss_kib=1";
        assert_eq!(parse_result_line(line), Some((1234.5, 0.5)));
        assert_eq!(parse_result_line("Throughput: 5 ops/s"), None);
        let full = parse_result_full("RESULT ops_per_sec=2.0 secs=1.5 ops=3 alloc=hakmem peak_rss_kib=77 x.p99_ms=2.5")
            .expect("parses");
        assert_eq!(full.peak_rss_kib, Some(77));
        assert_eq!(full.extras, vec![("p99_ms".to_string(), 2.5)]);
        assert_eq!(parse_result_full("RESULT secs=1"), None);
    }

    #[test]
    fn rss_is_read() {
        assert!(current_rss_kib() > 0);
        let peak = peak_rss_kib();
        assert!(peak >= current_rss_kib() / 2 && peak > 0, "{peak}");
    }

    #[test]
    fn vm_hwm_is_parsed() {
        let status = "Name:\tchild_hakmem\nVmPeak:\t  20000 kB\nVmHWM:\t    1532 kB\nVmRSS:\t    1500 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(1532));
        assert_eq!(parse_vm_hwm("VmRSS:\t 1 kB\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\t x kB\n"), None);
    }

    #[test]
    fn threads_sum_ops() {
        let out = run_threads(3, |t| t as u64 + 1);
        assert_eq!(out.ops, 6);
        assert!(out.secs >= 0.0);
    }
}
