//! `malloc-large`: large blocks (64 KiB..=4 MiB, random) in a working set of
//! WS slots; each iteration frees a random slot's block and allocates a new
//! one, writing one byte per 4 KiB page of it, as a program that uses its
//! buffers would. Rewards allocators that reuse large blocks instead of
//! mapping and faulting in fresh memory every time. ops = allocations +
//! frees.

use super::{positive, size_range, Slots, Workload};
use crate::cli::Args;
use crate::measure::{run_threads, Outcome};
use crate::rng::Rng;

/// The workload entry.
pub const WORKLOAD: Workload = Workload {
    name: "malloc-large",
    usage: "[--iters 2000] [--ws 20] [--min 65536] [--max 4194304] [--page 4096 (0: no writes)] [--seed 42]",
    about: "random 64 KiB..4 MiB blocks in a working set of 20, one write per page",
    run,
    uses_allocator: true,
};

fn run(mut args: Args) -> Result<Outcome, String> {
    let iters: usize = args.take_or("iters", 2000)?;
    let ws = positive("--ws", args.take_or("ws", 20)?)?;
    let (min, max) = size_range(&mut args, 64 * 1024, 4 * 1024 * 1024)?;
    let page: usize = args.take_or("page", 4096)?;
    let seed: u64 = args.take_or("seed", 42)?;
    args.finish()?;
    Ok(run_threads(1, |_| {
        let mut rng = Rng::new(seed, 0);
        let mut slots = Slots::new(ws);
        let mut ops = 0u64;
        for _ in 0..iters {
            ops += slots.replace(&mut rng, min, max, page);
        }
        ops += slots.free_all();
        ops
    }))
}
