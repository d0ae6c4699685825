//! `thread-churn`: many short-lived threads. THREADS threads run, CONCURRENT
//! at a time; each allocates BLOCKS blocks of MIN..=MAX bytes (one byte
//! written in each), frees all but KEEP of them and hands those KEEP to the
//! main thread, then exits. When every thread is gone the main thread frees
//! the kept blocks. What it measures is memory: the resident set after the
//! churn (and after the late frees) minus the resident set before it, as a
//! service that spawns a thread per task would see it. Throughput is
//! threads' operations per second (allocations + frees, the main thread's
//! late frees included).
//!
//! Extra figures: `rss_before_kib`, `rss_held_kib` (after the churn, kept
//! blocks still live), `rss_after_kib` (after the main thread freed them)
//! and `rss_growth_kib` (= after - before).

use std::sync::mpsc;

use super::{alloc_block, free_block, positive, size_range, touch, Workload};
use crate::cli::Args;
use crate::measure::{current_rss_kib, extra, Outcome};
use crate::rng::Rng;

/// The workload entry.
pub const WORKLOAD: Workload = Workload {
    name: "thread-churn",
    usage: "[--threads 4000] [--concurrent 4] [--blocks 1000] [--keep 10] [--min 16] [--max 256] [--seed 42]",
    about: "short-lived threads allocate, keep a few blocks for main, exit; RSS growth after main frees them",
    run,
    uses_allocator: true,
};

/// Blocks as (address, size), so they can cross threads.
type Kept = Vec<(usize, usize)>;

fn worker(index: usize, blocks: usize, keep: usize, min: usize, max: usize, seed: u64) -> Kept {
    let mut rng = Rng::new(seed, index as u64);
    let mut live: Vec<(usize, usize)> = Vec::with_capacity(blocks);
    for _ in 0..blocks {
        let size = rng.range(min, max);
        // SAFETY: freed below or by the main thread, with the same size.
        let p = unsafe { alloc_block(size) };
        // SAFETY: `p` is a live block of `size >= 1` bytes.
        unsafe { touch(p, index as u8) };
        live.push((p as usize, size));
    }
    let kept: Kept = live.drain(..keep).collect();
    for (p, size) in live {
        // SAFETY: each block is live, allocated above with `size`, freed once.
        unsafe { free_block(p as *mut u8, size) };
    }
    kept
}

fn run(mut args: Args) -> Result<Outcome, String> {
    let threads = positive("--threads", args.take_or("threads", 4000)?)?;
    let concurrent = positive("--concurrent", args.take_or("concurrent", 4)?)?;
    let blocks = positive("--blocks", args.take_or("blocks", 1000)?)?;
    let keep: usize = args.take_or("keep", 10)?;
    if keep > blocks {
        return Err("--keep must be <= --blocks".into());
    }
    let (min, max) = size_range(&mut args, 16, 256)?;
    let seed: u64 = args.take_or("seed", 42)?;
    args.finish()?;

    let mut kept: Kept = Vec::with_capacity(threads * keep);
    let before = current_rss_kib();
    let start = std::time::Instant::now();
    {
        let (tx, rx) = mpsc::channel::<Kept>();
        let mut started = 0;
        while started < threads {
            let wave = concurrent.min(threads - started);
            let handles: Vec<_> = (started..started + wave)
                .map(|i| {
                    let tx = tx.clone();
                    std::thread::spawn(move || {
                        let k = worker(i, blocks, keep, min, max, seed);
                        // The receiver lives until every thread has joined.
                        let _ = tx.send(k);
                    })
                })
                .collect();
            for h in handles {
                h.join().expect("churn thread panicked");
            }
            started += wave;
            kept.extend(rx.try_iter().flatten());
        }
    }
    let churn_secs = start.elapsed().as_secs_f64();
    let held = current_rss_kib();
    let late = std::time::Instant::now();
    for (p, size) in kept.drain(..) {
        // SAFETY: every kept block is live, from `alloc_block(size)` on a
        // thread that has exited; freed exactly once here.
        unsafe { free_block(p as *mut u8, size) };
    }
    let late_secs = late.elapsed().as_secs_f64();
    let after = current_rss_kib();
    extra("rss_before_kib", before as f64);
    extra("rss_held_kib", held as f64);
    extra("rss_after_kib", after as f64);
    extra("rss_growth_kib", after as f64 - before as f64);
    // ops (2 per block) count the main thread's late frees of kept blocks.
    Ok(Outcome { ops: (threads * blocks * 2) as u64, secs: churn_secs + late_secs })
}
