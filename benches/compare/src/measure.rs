//! Timing, thread fan-out, peak RSS and the result lines every bench program
//! prints (`Throughput: ...` for people, `RESULT ...` for `compare`).

use std::sync::Barrier;
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

/// Peak resident set size of this process so far, in KiB.
pub fn peak_rss_kib() -> u64 {
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

/// Prints the human line and the machine-readable `RESULT` line.
pub fn report(workload: &str, alloc: Option<Alloc>, outcome: Outcome) {
    let ops_s = outcome.ops_per_sec();
    let who = alloc.map_or("floor", Alloc::name);
    println!("{workload} [{who}]: {} ops in {:.4} s", outcome.ops, outcome.secs);
    println!("Throughput: {ops_s:.0} ops/s ({:.2} M ops/s)", ops_s / 1e6);
    println!(
        "RESULT ops_per_sec={ops_s:.1} secs={:.6} ops={} alloc={who} peak_rss_kib={}",
        outcome.secs,
        outcome.ops,
        peak_rss_kib()
    );
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
    }

    #[test]
    fn threads_sum_ops() {
        let out = run_threads(3, |t| t as u64 + 1);
        assert_eq!(out.ops, 6);
        assert!(out.secs >= 0.0);
    }
}
