//! `fixed`: the seed's `bench_fixed_size ITER SIZE WORKSET`. Each iteration
//! allocates WORKSET blocks of SIZE bytes (writing a byte into each), then
//! frees them all in allocation order. ops = 2 * ITER * WORKSET per thread.
//! The loop is generic over [`Blocks`] so that `floor` runs the identical
//! pattern on its free list.

use std::hint::black_box;

use super::{alloc_block, free_block, positive, touch, Workload};
use crate::cli::Args;
use crate::measure::{run_threads, Outcome};

/// The workload entry.
pub const WORKLOAD: Workload = Workload {
    name: "fixed",
    usage: "[ITER=10000] [SIZE=256] [WORKSET=128] [--threads 1]",
    about: "seed bench_fixed_size: WORKSET allocs of SIZE bytes then WORKSET frees, ITER times",
    run,
    uses_allocator: true,
};

/// A source of equally sized blocks.
pub trait Blocks {
    /// Gets a block of `size` bytes.
    ///
    /// # Safety
    /// The block must be returned with [`Blocks::put`] and the same `size`,
    /// on the thread that got it.
    unsafe fn get(size: usize) -> *mut u8;
    /// Returns a block.
    ///
    /// # Safety
    /// `p` must come from `get(size)` of the same implementation and thread.
    unsafe fn put(p: *mut u8, size: usize);
}

/// Blocks from the global allocator.
pub struct Heap;

impl Blocks for Heap {
    #[inline(always)]
    unsafe fn get(size: usize) -> *mut u8 {
        // SAFETY: forwarded contract: freed by `put` with the same size.
        unsafe { alloc_block(size) }
    }
    #[inline(always)]
    unsafe fn put(p: *mut u8, size: usize) {
        // SAFETY: forwarded contract: `p` came from `get(size)`.
        unsafe { free_block(p, size) }
    }
}

/// Parameters of the fixed-size pattern.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// Iterations.
    pub iters: usize,
    /// Block size in bytes.
    pub size: usize,
    /// Blocks live at once.
    pub workset: usize,
    /// Independent threads.
    pub threads: usize,
}

impl Params {
    /// Reads `ITER SIZE WORKSET [--threads N]`, with the given defaults for
    /// SIZE and WORKSET.
    pub fn parse(args: &mut Args, size: usize, workset: usize) -> Result<Params, String> {
        let p = Params {
            iters: args.positional_or("ITER", 10_000)?,
            size: positive("SIZE", args.positional_or("SIZE", size)?)?,
            workset: positive("WORKSET", args.positional_or("WORKSET", workset)?)?,
            threads: positive("--threads", args.take_or("threads", 1)?)?,
        };
        Ok(p)
    }
}

/// The pattern on one thread; returns its op count.
#[inline(never)]
pub fn fixed_loop<B: Blocks>(iters: usize, size: usize, workset: usize) -> u64 {
    let mut slots = vec![std::ptr::null_mut::<u8>(); workset];
    for it in 0..iters {
        for (i, slot) in slots.iter_mut().enumerate() {
            // SAFETY: freed below with the same size, on this thread.
            let p = black_box(unsafe { B::get(size) });
            // SAFETY: `p` is a live block of `size >= 1` bytes.
            unsafe { touch(p, (i ^ it) as u8) };
            *slot = p;
        }
        for &p in &slots {
            // SAFETY: `p` came from `B::get(size)` above and is freed once.
            unsafe { B::put(p, size) };
        }
    }
    2 * (iters as u64) * (workset as u64)
}

/// Runs the pattern on `p.threads` threads with block source `B`.
pub fn run_with<B: Blocks>(p: Params) -> Outcome {
    run_threads(p.threads, |_| fixed_loop::<B>(p.iters, p.size, p.workset))
}

fn run(mut args: Args) -> Result<Outcome, String> {
    let p = Params::parse(&mut args, 256, 128)?;
    args.finish()?;
    Ok(run_with::<Heap>(p))
}
