//! `cache-scratch`: Hoard's passive false-sharing test (Berger et al.).
//! The main thread allocates one small object per thread, back to back,
//! and hands one to each thread. Each thread frees the object it was given,
//! then ITERS times allocates an object of the same size, writes every byte
//! of it REPS times and frees it. An allocator that hands the freed
//! neighbour back to the freeing thread makes threads write to one cache
//! line, which shows up as lost throughput. ops = allocations + frees.

use super::{alloc_block, free_block, positive, touch, Workload};
use crate::cli::Args;
use crate::measure::{run_threads, Outcome};

/// The workload entry.
pub const WORKLOAD: Workload = Workload {
    name: "cache-scratch",
    usage: "[--threads 2] [--iters 1000000] [--size 8] [--reps 10]",
    about: "objects allocated by one thread are freed by others, which then allocate and write their own",
    run,
    uses_allocator: true,
};

fn scratch(given: usize, iters: usize, size: usize, reps: usize) -> u64 {
    // SAFETY: `given` was allocated by the main thread with `size` and
    // handed to this thread only.
    unsafe { free_block(given as *mut u8, size) };
    for _ in 0..iters {
        // SAFETY: freed below with the same size.
        let p = unsafe { alloc_block(size) };
        for r in 0..reps {
            for k in 0..size {
                // SAFETY: `k < size`, inside the live block.
                unsafe { touch(p.add(k), (r + k) as u8) };
            }
        }
        // SAFETY: `p` is live and freed once.
        unsafe { free_block(p, size) };
    }
    1 + 2 * iters as u64
}

fn run(mut args: Args) -> Result<Outcome, String> {
    let threads = positive("--threads", args.take_or("threads", 2)?)?;
    let iters: usize = args.take_or("iters", 1_000_000)?;
    let size = positive("--size", args.take_or("size", 8)?)?;
    let reps: usize = args.take_or("reps", 10)?;
    args.finish()?;
    let given: Vec<usize> = (0..threads)
        // SAFETY: each object is freed by exactly one worker thread.
        .map(|_| unsafe { alloc_block(size) } as usize)
        .collect();
    let mut outcome = run_threads(threads, |t| scratch(given[t], iters, size, reps));
    // The main thread's allocations of the handed-out objects count too.
    outcome.ops += threads as u64;
    Ok(outcome)
}
