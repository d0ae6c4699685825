//! `calloc`: rounds of zeroed allocations. Each round allocates COUNT
//! blocks of random size in MIN..=MAX through `alloc_zeroed`, checks that
//! each one reads zero at its first and last byte, writes one byte per 4 KiB
//! page of it as a program filling a buffer would, then frees them all. The
//! first round gets memory fresh from the OS, the later ones reuse dirty
//! blocks, so it rewards allocators that skip the memset where memory is
//! known zero and clear only what they reuse. ops = allocations + frees.

use std::alloc::{alloc_zeroed, handle_alloc_error};

use super::{free_block, layout, positive, size_range, touch, Workload};
use crate::cli::Args;
use crate::measure::{run_threads, Outcome};
use crate::rng::Rng;

/// The workload entry.
pub const WORKLOAD: Workload = Workload {
    name: "calloc",
    usage: "[--rounds 20] [--count 4096] [--min 1024] [--max 16384] [--seed 42]",
    about: "rounds of 4096 zeroed 1..16 KiB blocks, checked, one write per page, all freed",
    run,
    uses_allocator: true,
};

fn run(mut args: Args) -> Result<Outcome, String> {
    let rounds = positive("--rounds", args.take_or("rounds", 20)?)?;
    let count = positive("--count", args.take_or("count", 4096)?)?;
    let (min, max) = size_range(&mut args, 1024, 16 * 1024)?;
    let seed: u64 = args.take_or("seed", 42)?;
    args.finish()?;
    Ok(run_threads(1, |_| {
        let mut rng = Rng::new(seed, 0);
        let mut blocks: Vec<(*mut u8, usize)> = Vec::with_capacity(count);
        let mut ops = 0u64;
        for _ in 0..rounds {
            for _ in 0..count {
                let size = rng.range(min, max);
                let l = layout(size);
                // SAFETY: `l` has a non-zero size; freed below with `size`.
                let p = unsafe { alloc_zeroed(l) };
                if p.is_null() {
                    handle_alloc_error(l);
                }
                // SAFETY: `p` is a live block of `size` bytes.
                let (first, last) = unsafe { (p.read_volatile(), p.add(size - 1).read_volatile()) };
                assert!(first == 0 && last == 0, "alloc_zeroed({size}) returned a non-zero block at {p:p}");
                for off in (0..size).step_by(4096) {
                    // SAFETY: `off < size`, inside the live block.
                    unsafe { touch(p.add(off), 1) };
                }
                blocks.push((p, size));
                ops += 1;
            }
            for (p, size) in blocks.drain(..) {
                // SAFETY: each block is live and freed once, with its size.
                unsafe { free_block(p, size) };
                ops += 1;
            }
        }
        ops
    }))
}
