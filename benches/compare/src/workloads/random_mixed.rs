//! `random_mixed`: the seed's `bench_random_mixed`. A working set of WS
//! slots; each iteration picks a random slot, frees its block (if any) and
//! puts a new block there: 16..=1024 bytes, or 1025..=32768 bytes one time in
//! 32. Two bytes of each block are written. ops = allocations + frees,
//! including the final drain.

use std::hint::black_box;

use super::{alloc_block, free_block, positive, touch, Workload};
use crate::cli::Args;
use crate::measure::{run_threads, Outcome};
use crate::rng::Rng;

/// The workload entry.
pub const WORKLOAD: Workload = Workload {
    name: "random_mixed",
    usage: "[ITER=1000000] [--ws 256] [--seed 42] [--threads 1]",
    about: "random slot replacement, sizes 16..=1024 (1 in 32: up to 32 KiB)",
    run,
    uses_allocator: true,
};

/// Smallest and largest small size, and the largest occasional size.
const SMALL: (usize, usize) = (16, 1024);
const LARGE_MAX: usize = 32 * 1024;

/// One thread's run; returns its op count.
#[inline(never)]
pub fn random_mixed_loop(iters: usize, ws: usize, rng: &mut Rng) -> u64 {
    let mut slots: Vec<(*mut u8, usize)> = vec![(std::ptr::null_mut(), 0); ws];
    let mut ops = 0u64;
    for _ in 0..iters {
        let slot = &mut slots[rng.below(ws)];
        let size =
            if rng.next_u64() & 31 == 0 { rng.range(SMALL.1 + 1, LARGE_MAX) } else { rng.range(SMALL.0, SMALL.1) };
        if !slot.0.is_null() {
            // SAFETY: the slot holds a live block of `slot.1` bytes.
            unsafe { free_block(slot.0, slot.1) };
            ops += 1;
        }
        // SAFETY: stored in the slot, freed later with the same size.
        let p = black_box(unsafe { alloc_block(size) });
        // SAFETY: `p` is a live block of `size >= 16` bytes.
        unsafe {
            touch(p, size as u8);
            touch(p.add(size - 1), 0x5a);
        }
        *slot = (p, size);
        ops += 1;
    }
    for &(p, size) in &slots {
        if !p.is_null() {
            // SAFETY: each non-null slot holds a live block, freed once.
            unsafe { free_block(p, size) };
            ops += 1;
        }
    }
    ops
}

fn run(mut args: Args) -> Result<Outcome, String> {
    let iters: usize = args.positional_or("ITER", 1_000_000)?;
    let ws = positive("--ws", args.take_or("ws", 256)?)?;
    let seed: u64 = args.take_or("seed", 42)?;
    let threads = positive("--threads", args.take_or("threads", 1)?)?;
    args.finish()?;
    Ok(run_threads(threads, |t| random_mixed_loop(iters, ws, &mut Rng::new(seed, t as u64))))
}
